"""JAX second derivatives (opt.second_order): by hand, both compositions, planted fault."""

import jax.numpy as jnp
import numpy as np

from trainspec import reference
from trainspec.adapters.jax_adapter.second_order import (
    implementations,
    loss_function,
    run_forward_over_reverse,
    run_reverse_over_reverse,
)
from trainspec.conformance.runner import check_row
from trainspec.reference.second_order import loss


def test_quadratic_by_hand_on_both_compositions(quadratic_case_by_hand):
    case, expected = quadratic_case_by_hand
    for run in (run_forward_over_reverse, run_reverse_over_reverse):
        out = run(case, "float64", "cpu")
        np.testing.assert_array_equal(out["hessian"], expected["hessian"])
        np.testing.assert_array_equal(out["grad"], expected["grad"])
        np.testing.assert_array_equal(out["hvp"], expected["hvp"])


def test_loss_function_is_the_reference_loss():
    rng = np.random.default_rng(0)
    data = {"X": rng.standard_normal((5, 3)), "y": rng.integers(0, 2, 5).astype(float)}
    w = rng.standard_normal(3)
    f = loss_function("logistic_regression", {k: jnp.asarray(v) for k, v in data.items()})
    np.testing.assert_allclose(
        float(f(jnp.asarray(w))), loss("logistic_regression", w, data), rtol=1e-14
    )


def test_rows_conform():
    # one dtype per composition here (each example compiles); the registry-driven suite runs
    # every row in both dtypes
    for impl, dtype in zip(implementations(), ("float32", "float64"), strict=True):
        row = check_row(reference.get(impl.spec_id), impl, "jax", dtype, "cpu", profile="quick")
        assert row.verdict == "conforms", row


def test_planted_fault_tangent_is_the_point_diverges(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_forward_over_reverse(case, dtype, device, tangent_is_point=True)

    row = assert_planted_fault_diverges("jax", "opt.second_order", "jvp pushes x, not v", run)
    assert "hvp" in row.message
