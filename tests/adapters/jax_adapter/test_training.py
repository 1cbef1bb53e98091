"""flax's EarlyStopping and jax.grad of an MLP: by hand, rows, planted faults."""

import jax
import jax.numpy as jnp
import numpy as np

from trainspec import reference
from trainspec.adapters.jax_adapter.training import (
    ACTIVATIONS,
    implementations,
    run_backprop,
    run_early_stopping,
)
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.kinds.training.early_stopping import EarlyStoppingCase
from trainspec.conformance.runner import check_row

ES = reference.get("train.early_stopping")


def _impl(spec_id):
    (impl,) = [i for i in implementations() if i.spec_id == spec_id]
    return impl


def test_flax_docstring_example():
    # flax's docstring: losses [4, 3, 3, 3, 2, 2, 2, 2, 1, 1], patience 2 -> "breaking at epoch 7"
    case = EarlyStoppingCase((4.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0), 2, 2.0**-7)
    out = run_early_stopping(case, "float32", "cpu")
    assert out == {"stop_epoch": 7, "restored_epoch": 4}


def test_patience_counts_one_check_more_than_keras():
    # patience 1: Keras stops at the first check without improvement (epoch 2), flax at the second
    losses = (3.0, 2.0, 2.5, 2.5, 1.0)
    assert (
        run_early_stopping(EarlyStoppingCase(losses, 1, 0.0), "float64", "cpu")["stop_epoch"] == 3
    )
    assert (
        run_early_stopping(EarlyStoppingCase(losses, 0, 0.0), "float64", "cpu")["stop_epoch"] == 2
    )


def test_min_delta_sized_improvement_is_not_an_improvement():
    """flax's code is strict (best - metric > min_delta), although its docstring of
    ``has_improved`` says "greater or equal to the min_delta"."""
    case = EarlyStoppingCase((1.0, 0.75, 0.5), 0, 0.25)
    assert run_early_stopping(case, "float64", "cpu") == {"stop_epoch": 1, "restored_epoch": 0}


def test_early_stopping_rows_follow_the_plus_one_rule():
    for dtype in ("float32", "float64"):
        row = check_row(ES, _impl("train.early_stopping"), "jax", dtype, "cpu", profile="quick")
        assert (row.verdict, row.variant) == ("variant", "stop_rule=wait_exceeds_patience"), row


def test_planted_fault_patience_counted_from_the_wrong_check(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_early_stopping(case, dtype, device, patience_offset=1)

    assert_planted_fault_diverges("jax", "train.early_stopping", "patience + 1 in flax", run)


def test_backprop_by_hand():
    case = BackpropCase(
        {"W1": np.array([[0.5, -1.0]]), "b1": np.array([0.25])},
        np.array([[2.0, 1.0]]),
        np.array([[1.0]]),
        ("identity",),
        "half_sse",
    )
    out = run_backprop(case, "float64", "cpu")
    np.testing.assert_array_equal(out["W1"], [[-1.5, -0.75]])
    np.testing.assert_array_equal(out["b1"], [-0.75])


def test_backprop_rows_conform():
    # float32 here (each example compiles); the registry-driven suite runs float64 too
    impl = _impl("train.backprop")
    row = check_row(reference.get(impl.spec_id), impl, "jax", "float32", "cpu", profile="quick")
    assert row.verdict == "conforms", row


@jax.custom_jvp
def _tanh_at_output(z):
    return jnp.tanh(z)


@_tanh_at_output.defjvp
def _tanh_at_output_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    h = jnp.tanh(z)
    return h, (1 - jnp.tanh(h) ** 2) * dz  # derivative at h, not at z


def test_planted_fault_derivative_at_the_wrong_point_diverges(assert_planted_fault_diverges):
    act = {**ACTIVATIONS, "tanh": _tanh_at_output}

    def run(case, dtype, device):
        return run_backprop(case, dtype, device, act)

    row = assert_planted_fault_diverges("jax", "train.backprop", "tanh' at the output", run)
    assert "tanh" in row.counterexample["activations"]
