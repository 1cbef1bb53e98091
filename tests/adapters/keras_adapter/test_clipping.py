"""TensorFlow's and Keras's gradient clipping: conversions, hand-checked cases, planted fault."""

import numpy as np
import pytest
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter.clipping import (
    clipped_from_sgd_step,
    implementations,
    run_keras_clipping,
    run_tf_clipping,
)
from trainspec.conformance.kinds.clipping import ClippingCase
from trainspec.conformance.runner import check_row

CASE = ClippingCase({"a": np.array([3.0, 4.0]), "b": np.array([[0.0, 12.0]])}, {"threshold": 6.5})


def test_clipped_from_sgd_step():
    np.testing.assert_array_equal(
        clipped_from_sgd_step(np.zeros(2), np.array([-1.5, 2.0])), [1.5, -2.0]
    )


def test_by_hand():
    out = run_keras_clipping("global_clipnorm", CASE, "float64", "cpu")  # global norm 13
    np.testing.assert_allclose(out["a"], [1.5, 2.0], rtol=1e-15)
    out = run_keras_clipping("clipnorm", CASE, "float64", "cpu")  # norms 5 and 12
    np.testing.assert_allclose(out["b"], [[0.0, 6.5]], rtol=1e-15)
    np.testing.assert_allclose(out["a"], [3.0, 4.0], rtol=1e-15)
    out = run_keras_clipping("clipvalue", CASE, "float32", "cpu")
    np.testing.assert_array_equal(out["b"], [[0.0, 6.5]])


def test_tf_global_norm_makes_everything_nan_on_a_nonfinite_norm():
    bad = ClippingCase({"a": np.array([np.inf, 1.0]), "b": np.array([1.0])}, {"threshold": 1.0})
    out = run_tf_clipping(lambda gs, k: tf.clip_by_global_norm(gs, k)[0], bad, "float32", "cpu")
    assert all(np.all(np.isnan(v)) for v in out.values())


@pytest.mark.parametrize(
    ("name", "variant"),
    [("SGD(global_clipnorm) step", "nonfinite=all_nan"), ("tf.clip_by_norm", "default")],
)
def test_rows_follow_their_variants(name, variant):
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(
        reference.get(impl.spec_id), impl, "tensorflow", "float64", "cpu", profile="quick"
    )
    assert row.verdict in ("conforms", "variant") and row.variant == variant, row


def test_planted_fault_global_norm_per_tensor_diverges(assert_planted_fault_diverges):
    """tf.clip_by_norm on each tensor, registered as the global norm."""

    def run(case, dtype, device):
        return run_tf_clipping(
            lambda gs, k: [tf.clip_by_norm(g, k) for g in gs], case, dtype, device
        )

    row = assert_planted_fault_diverges("tensorflow", "clip.global_norm", "per tensor", run)
    assert len(row.counterexample["grads"]) >= 2


def test_clipping_and_loss_rows_declare_float16():
    from trainspec.adapters.keras_adapter import clipping, losses

    for module in (clipping, losses):
        assert all("float16" in i.dtypes for i in module.implementations())
