"""Keras's and TensorFlow's losses: the dtype conversion, hand-checked values, planted fault."""

import keras
import numpy as np
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter.losses import implementations, keras_loss, run_loss
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.losses import LossCase
from trainspec.conformance.runner import check_row


def test_keras_loss_computes_in_the_dtype():
    assert keras_loss(keras.losses.MeanSquaredError, "float64").dtype == "float64"
    assert keras.losses.MeanSquaredError().dtype == "float32"  # why the conversion exists


def test_by_hand():
    case = LossCase(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0]]), "real")
    out = run_loss(lambda t, y, d: tf.nn.l2_loss(y - t), case, "float64", "cpu")
    assert out["value"] == 4.0  # (0 + 4 + 0 + 4) / 2
    np.testing.assert_array_equal(out["grad"], [[0.0, 2.0], [0.0, -2.0]])
    ce = LossCase(np.array([[0.0, 0.0]]), np.array([1]), "labels")
    out = run_loss(
        lambda t, y, d: keras_loss(keras.losses.SparseCategoricalCrossentropy, d, from_logits=True)(
            t, y
        ),
        ce,
        "float64",
        "cpu",
    )
    np.testing.assert_allclose(out["value"], np.log(2.0), rtol=1e-15)
    np.testing.assert_allclose(out["grad"], [[0.5, -0.5]], rtol=1e-15)


def test_rows():
    expected = {
        "loss.mse": "reduction=mean_over_elements",
        "loss.half_sse": "default",
        "loss.softmax_ce": "default",
        "loss.logistic": "reduction=mean_over_elements",
    }
    for impl in implementations():
        row = check_row(
            reference.get(impl.spec_id), impl, "tensorflow", "float32", "cpu", profile="quick"
        )
        assert row.verdict in ("conforms", "variant") and row.variant == expected[impl.spec_id], row


def test_planted_fault_float64_loss_computed_in_float32():
    """A Keras loss built without dtype= silently computes float64 inputs in float32: the row
    reads ``precision=float32_internal`` (the precision variant), not a nearest float64 form."""

    def run(case, dtype, device):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # float32
        return run_loss(lambda t, y, d: loss(t, y), case, "float64", device)

    impl = Implementation("loss.softmax_ce", "planted", run, devices=("cpu",))
    row = check_row(
        reference.get("loss.softmax_ce"), impl, "tensorflow", "float64", "cpu", profile="quick"
    )
    # named for what it does: every float64 variant fails, float32's rounding matches
    assert row.verdict == "variant" and row.variant == "precision=float32_internal", row
