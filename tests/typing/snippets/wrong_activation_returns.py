"""Should fail: activation implementations whose ``run`` returns the wrong thing.

Every line marked ``# error: CODE`` must get exactly that mypy error; no other line may get one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.conformance import ActivationCase, ActivationResult, Implementation


def run_nested(case: ActivationCase, dtype: str, device: str) -> dict[str, dict[str, Any]]:
    """The defaults kind's shape of result, not an activation's."""
    return {"y": {"value": case.z}}


def run_bare_array(case: ActivationCase, dtype: str, device: str) -> np.ndarray:
    """f(z) without the ``{'y': ...}`` mapping around it."""
    return np.asarray(case.z, dtype=np.float64)


def run_wrong_key(case: ActivationCase, dtype: str, device: str) -> ActivationResult:
    """A key the activation kind does not know."""
    return {"out": np.asarray(case.z, dtype=np.float64)}  # error: typeddict-unknown-key


def run_float(case: ActivationCase, dtype: str, device: str) -> ActivationResult:
    """A Python float where an array is expected."""
    return {"y": float(case.z.sum())}  # error: typeddict-item


def implementations() -> list[Implementation[ActivationCase, ActivationResult]]:
    return [
        Implementation("act.relu", "nested", run_nested),  # error: arg-type
        Implementation("act.relu", "bare array", run_bare_array),  # error: arg-type
        Implementation("act.relu", "wrong key", run_wrong_key),
        Implementation("act.relu", "float", run_float),
    ]
