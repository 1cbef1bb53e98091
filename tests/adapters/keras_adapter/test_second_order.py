"""TensorFlow second derivatives (opt.second_order): by hand, both code paths, planted fault."""

import numpy as np
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter.second_order import (
    implementations,
    loss_function,
    run_forward_over_reverse,
    run_nested_tapes,
)
from trainspec.conformance.runner import check_row
from trainspec.reference.second_order import loss


def test_quadratic_by_hand_on_both_paths(quadratic_case_by_hand):
    case, expected = quadratic_case_by_hand
    for run in (run_nested_tapes, run_forward_over_reverse):
        out = run(case, "float64", "cpu")
        if run is run_nested_tapes:
            np.testing.assert_array_equal(out["hessian"], expected["hessian"])
        else:
            assert set(out) == {"grad", "hvp"}
        np.testing.assert_array_equal(out["grad"], expected["grad"])
        np.testing.assert_array_equal(out["hvp"], expected["hvp"])


def test_loss_function_is_the_reference_loss():
    rng = np.random.default_rng(0)
    data = {"X": rng.standard_normal((5, 3)), "t": rng.uniform(-1, 1, 5)}
    w = rng.standard_normal(3)
    f = loss_function("tanh_neuron", {k: tf.constant(v) for k, v in data.items()})
    np.testing.assert_allclose(float(f(tf.constant(w))), loss("tanh_neuron", w, data), rtol=1e-14)


def test_rows_conform():
    # one dtype per code path here (each ForwardAccumulator example retraces, ~0.3 s); the
    # registry-driven suite runs every row in both dtypes
    for impl, dtype in zip(implementations(), ("float32", "float64"), strict=True):
        row = check_row(
            reference.get(impl.spec_id), impl, "tensorflow", dtype, "cpu", profile="quick"
        )
        assert row.verdict == "conforms", row


def test_planted_fault_inner_gradient_not_recorded_diverges(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_nested_tapes(case, dtype, device, detach_inner=True)

    assert_planted_fault_diverges("tensorflow", "opt.second_order", "inner tape unrecorded", run)
