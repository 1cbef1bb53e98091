"""torch second derivatives (opt.second_order): by hand, both code paths, planted fault."""

import numpy as np
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.second_order import (
    implementations,
    loss_function,
    run_autograd_functional,
    run_torch_func,
)
from trainspec.conformance.runner import check_row


def test_quadratic_by_hand_on_both_paths(quadratic_case_by_hand):
    case, expected = quadratic_case_by_hand
    for run in (run_autograd_functional, run_torch_func):
        out = run(case, "float64", "cpu")
        np.testing.assert_array_equal(out["hessian"], expected["hessian"])
        np.testing.assert_array_equal(out["grad"], expected["grad"])
        np.testing.assert_array_equal(out["hvp"], expected["hvp"])


def test_loss_function_is_the_reference_loss():
    from trainspec.reference.second_order import loss

    rng = np.random.default_rng(0)
    data = {"X": rng.standard_normal((5, 3)), "y": rng.integers(0, 2, 5).astype(float)}
    w = rng.standard_normal(3)
    f = loss_function("logistic_regression", {k: torch.tensor(v) for k, v in data.items()})
    np.testing.assert_allclose(
        float(f(torch.tensor(w))), loss("logistic_regression", w, data), rtol=1e-14
    )


def test_rows_conform():
    impls = implementations()
    assert len(impls) == 2
    for impl in impls:
        for dtype in ("float32", "float64"):
            row = check_row(
                reference.get(impl.spec_id), impl, "torch", dtype, "cpu", profile="quick"
            )
            assert row.verdict == "conforms", row


def test_planted_fault_hvp_arguments_swapped_diverges(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_autograd_functional(case, dtype, device, swap_hvp_arguments=True)

    row = assert_planted_fault_diverges("torch", "opt.second_order", "hvp(f, v, x)", run)
    assert row.message and "hvp" in row.message
