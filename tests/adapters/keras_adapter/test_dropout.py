"""Keras's and TensorFlow's dropout: the parameter mapping, values by hand, seeding, planted faults."""

import keras
import numpy as np
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter import KerasAdapter
from trainspec.adapters.keras_adapter.dropout import (
    dropout_arguments,
    keras_dropout,
    mc_model,
    run_dropout,
    run_mc_dropout,
    run_tf_nn_dropout,
)
from trainspec.conformance import stats
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.dropout import DropoutCase, LinearDropoutCase
from trainspec.conformance.runner import check_row


def test_dropout_arguments_pass_the_rate_as_rate_a_drop_probability():
    assert dropout_arguments(0.25) == {"rate": 0.25}
    ones = tf.ones(100_000, dtype="float64")
    for y in (
        keras.layers.Dropout(seed=0, **dropout_arguments(0.25))(ones, training=True),
        tf.nn.dropout(ones, seed=0, **dropout_arguments(0.25)),
    ):
        kept = int(np.sum(np.asarray(y) != 0))
        assert stats.binomial_pvalue(kept, 100_000, 0.75) > stats.ALPHA  # q = 1 - rate
        assert stats.binomial_pvalue(kept, 100_000, 0.25) < stats.ALPHA


def test_the_layer_computes_in_the_dtype_under_test():
    x = np.full(64, 1.0 + 2.0**-40)  # not representable in float32
    out = run_dropout(DropoutCase(x, 0.5, 1, 2), "float64", "cpu")
    assert np.all((out["train"] == 0) | (out["train"] == 2 * x))
    np.testing.assert_array_equal(out["test"], x)


def test_dropouts_by_hand_and_reproducible():
    case = DropoutCase(np.array([1.0, -2.0, 4.0, 0.5] * 64), 0.5, 3, 4)
    for run in (run_dropout, run_tf_nn_dropout):
        out = run(case, "float32", "cpu")
        np.testing.assert_array_equal(out["test"], case.x)
        train = out["train"]
        assert train.shape == (4, 256)
        assert np.all((train == 0) | (train == 2 * case.x))
        assert not np.array_equal(train[0], train[1])  # a fresh mask per call
        np.testing.assert_array_equal(train, run(case, "float32", "cpu")["train"])


def test_a_dropped_infinity_is_selected_away():
    """Keras and tf.nn.dropout select (masking=select): a dropped inf or nan becomes 0."""
    case = DropoutCase(np.array([np.inf, np.nan] * 32), 0.5, 0, 2)
    for run in (run_dropout, run_tf_nn_dropout):
        train = run(case, "float32", "cpu")["train"]
        kept = ~np.isnan(train[:, 1::2])
        assert set(np.unique(train[:, ::2])) == {0.0, np.inf}
        assert kept.any() and (~kept).any() and np.all(train[:, 1::2][kept] == 0)


def test_mc_model_by_hand():
    x = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
    w = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0]])
    b = np.array([0.25, -0.5])
    case = LinearDropoutCase(x, w, b, 0.5, 0, 3)
    np.testing.assert_allclose(mc_model(case, "float64")(x, training=False), x @ w + b, rtol=1e-15)
    out = run_mc_dropout(case, "float64", "cpu")
    np.testing.assert_allclose(out["test"], x @ w + b, rtol=1e-15)
    assert out["train"].shape == (3, 2, 2)


def test_declares_its_rows():
    names = {(i.spec_id, i.name) for i in KerasAdapter().implementations()}
    assert {
        ("drop.inverted", "keras.layers.Dropout"),
        ("drop.inverted", "tf.nn.dropout"),
        ("drop.mc", "keras.Sequential(Dropout, Dense)(training=True)"),
    } <= names


# --- the kit measures the meaning of rate; planted faults diverge -----------------------------


def _scaled(factor):
    """``keras.layers.Dropout`` whose training output is multiplied by ``factor(rate)``."""

    def layer(case, dtype):
        drop = keras_dropout(case, dtype)
        return lambda x, training: (
            drop(x, training=training) * (factor(case.rate) if training else 1.0)
        )

    return lambda case, dtype, device: run_dropout(case, dtype, device, layer=layer)


def test_a_keep_probability_passed_as_rate_is_reported_as_the_keep_variant():
    def layer(case, dtype):
        return keras.layers.Dropout(rate=1.0 - case.rate, seed=case.seed, dtype=dtype)

    impl = Implementation(
        "drop.inverted",
        "rate=1-rate",
        lambda c, d, dev: run_dropout(c, d, dev, layer=layer),
        devices=("cpu",),
    )
    row = check_row(
        reference.get("drop.inverted"), impl, "tensorflow", "float32", "cpu", profile="quick"
    )
    assert row.verdict == "variant" and row.variant == "rate_meaning=keep, masking=select", row


def test_planted_fault_not_rescaled(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "tensorflow", "drop.inverted", "not rescaled", _scaled(lambda rate: 1.0 - rate)
    )
    assert "kept values" in row.message


def test_planted_fault_rescaled_by_p(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "tensorflow", "drop.inverted", "rescaled by p", _scaled(lambda rate: (1.0 - rate) * rate)
    )


def test_planted_fault_mc_passes_not_rescaled(assert_planted_fault_diverges):
    def model(case, dtype):
        net, q, b = mc_model(case, dtype), 1.0 - case.rate, case.bias.astype(dtype)
        return lambda x, training: (net(x, training=True) - b) * q + b if training else net(x)

    row = assert_planted_fault_diverges(
        "tensorflow",
        "drop.mc",
        "MC passes not rescaled",
        lambda c, d, dev: run_mc_dropout(c, d, dev, model=model),
    )
    assert "mc_" in row.message
