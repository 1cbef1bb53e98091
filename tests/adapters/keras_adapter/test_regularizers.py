"""Keras's regularisers and MaxNorm: the layout conversion, hand-checked values, planted faults."""

import keras
import numpy as np

from trainspec import reference
from trainspec.adapters.keras_adapter.regularizers import (
    MAX_NORM_AXIS,
    implementations,
    kernel_from_units,
    run_max_norm,
    run_penalty,
    units_from_kernel,
)
from trainspec.conformance.kinds.regularizers import RegularizerCase
from trainspec.conformance.runner import check_row

W = np.array([[3.0, 4.0, 0.0], [0.0, 0.3, 0.4]])  # 2 units, 3 inputs; row norms 5 and 0.5


def test_layout_conversion():
    k = kernel_from_units(W)
    assert k.shape == (3, 2)  # Dense kernel (in, out)
    np.testing.assert_array_equal(units_from_kernel(k), W)
    assert MAX_NORM_AXIS == 0  # the kernel's incoming weights are columns


def test_by_hand():
    case = RegularizerCase(W, {"l2": 0.5})
    out = run_penalty(lambda c: keras.regularizers.L2(0.5), case, "float64", "cpu")
    assert out["value"] == 0.5 * (25 + 0.25)
    np.testing.assert_allclose(out["grad"], 2 * 0.5 * W, rtol=1e-15)  # 2 lambda theta
    out = run_max_norm(RegularizerCase(W, {"max_value": 1.0}), "float64", "cpu")["weights"]
    np.testing.assert_allclose(out[0], W[0] / (5 + 1e-7), rtol=1e-15)
    np.testing.assert_allclose(out[1], W[1] * 0.5 / (0.5 + 1e-7), rtol=1e-15)  # shrinks too


def test_rows():
    expected = {
        "reg.l2": ("conforms", "default"),
        "reg.l1": ("conforms", "default"),
        "reg.max_norm": ("variant", "norm_eps=1e-7_always"),
    }
    for impl in implementations():
        row = check_row(
            reference.get(impl.spec_id), impl, "tensorflow", "float64", "cpu", profile="quick"
        )
        assert (row.verdict, row.variant) == expected[impl.spec_id], row


def test_planted_fault_max_norm_on_the_wrong_axis_diverges(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_max_norm(case, dtype, device, axis=1)

    assert_planted_fault_diverges("tensorflow", "reg.max_norm", "MaxNorm(axis=1)", run)


def test_planted_fault_l2_gradient_without_its_factor_2(assert_planted_fault_diverges):
    """Keras's L2 value with a hand-written gradient lambda*theta (the factor 2 dropped)."""

    def run(case, dtype, device):
        out = run_penalty(
            lambda c: keras.regularizers.L2(c.hyperparameters["l2"]), case, dtype, device
        )
        lam = (
            np.float32(case.hyperparameters["l2"])
            if dtype == "float32"
            else case.hyperparameters["l2"]
        )
        w = case.weights.astype(dtype)
        return {"value": out["value"], "grad": (lam * w).astype(np.float64)}

    assert_planted_fault_diverges("tensorflow", "reg.l2", "gradient without factor 2", run)
