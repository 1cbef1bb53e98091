"""What the adapter tests share: the hand-checked momentum and second-order cases and the
planted-fault check."""

import numpy as np
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.kinds.second_order import SecondOrderCase
from trainspec.conformance.runner import check_row
from trainspec.reference.optimizers.common import CanonicalState


@pytest.fixture
def momentum_case_by_hand():
    """One momentum step from a state: b = 0.5*[2, 2] + [0.5, -1] = [1.5, 0]; theta = [1, 2] - 0.5*b = [0.25, 2]."""
    case = OptimizerCase(
        params={"w": np.array([1.0, 2.0])},
        grads=[{"w": np.array([0.5, -1.0])}],
        learning_rates=[0.5],
        hyperparameters={"momentum": 0.5},
        state=CanonicalState(3, {"trace": {"w": np.array([2.0, 2.0])}}),
    )
    return case, [0.25, 2.0]


@pytest.fixture
def quadratic_case_by_hand():
    """0.5 x^T A x + b^T x at x = [1, 2], v = [1, 0]: H = (A + A^T)/2 = [[2, 2], [2, 4]],
    grad = H x + b = [6.5, 10], Hv = [2, 2]."""
    case = SecondOrderCase(
        "quadratic",
        np.array([1.0, 2.0]),
        {"A": np.array([[2.0, 1.0], [3.0, 4.0]]), "b": np.array([0.5, 0.0])},
        np.array([1.0, 0.0]),
    )
    return case, {"hessian": [[2.0, 2.0], [2.0, 4.0]], "grad": [6.5, 10.0], "hvp": [2.0, 2.0]}


@pytest.fixture
def assert_planted_fault_diverges():
    """Run a deliberately wrong implementation through the kit; it must be reported as diverges."""

    def check(backend, spec_id, fault, run):
        impl = Implementation(spec_id, f"planted: {fault}", run, devices=("cpu",))
        row = check_row(reference.get(spec_id), impl, backend, "float32", "cpu", profile="quick")
        assert row.verdict == "diverges", row
        assert row.counterexample and row.repro
        return row

    return check
