r"""What a row's plot needs, measured while the row is checked (``Row.plot``; optional).

The runner calls :func:`plot_payload` once per checked row, on the worst example of the reported
variant (for ``diverges``: of the variant that came closest). It returns a JSON-able dict, or None
where the kind has no plot, and never raises: a plot is an aid, never part of a verdict.

``{"type": "curve", ...}``
    schedules: the learning rate the framework returns at each step of the example, and the
    reference's values at the same steps for every variant of the entry.
``{"type": "trajectory", ...}``
    diverging optimizer rows: the parameter element with the largest error after the last step,
    after each step $k = 1, \dots, n$ of the example, on the framework and on the reference
    (the variant that came closest, and the default form).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_payload"]


def _num(x: Any) -> float:
    """``x`` as a float of 6 significant digits (NaN and infinities kept)."""
    f = float(x)
    return f if not math.isfinite(f) else float(f"{f:.6g}")


def _schedule_curve(
    entry: Any, impl: Any, case: Any, dtype: str, device: str, variants: Sequence[Any]
) -> dict[str, Any]:
    from dataclasses import replace

    from trainspec.conformance.kinds.schedules import reference_values

    fixed = dict(getattr(impl, "options", {}).get("fixed", {}))
    if fixed:
        case = replace(case, hyperparameters={**case.hyperparameters, **fixed})
    actual = np.asarray(impl.run(case, dtype, device), dtype=np.float64).ravel()
    plateau = bool(getattr(case, "metrics", None))
    x = list(range(len(actual))) if plateau else [int(t) for t in case.steps]
    return {
        "type": "curve",
        "xlabel": "metric seen" if plateau else "step",
        "ylabel": "learning rate",
        "x": x,
        "framework": [_num(v) for v in actual],
        "reference": {
            v.name: [_num(y) for y in reference_values(entry, v, case, dtype).value]
            for v in variants
        },
        "check": getattr(case, "check", ""),
    }


def _optimizer_trajectory(
    entry: Any, impl: Any, case: Any, dtype: str, device: str, variants: Sequence[Any]
) -> dict[str, Any]:
    from trainspec.conformance.kinds.optimizers import OptimizerCase
    from trainspec.conformance.kinds.optimizers import reference_optimizer_run as reference_run

    n = len(case.grads)
    framework: list[np.ndarray] = []
    reference: dict[str, list[np.ndarray]] = {v.name: [] for v in variants}
    for k in range(1, n + 1):
        sub = OptimizerCase(
            case.params, case.grads[:k], case.learning_rates[:k], case.hyperparameters, case.state
        )
        actual = impl.run(sub, dtype, device)
        framework.append(np.concatenate([np.ravel(np.asarray(actual[p])) for p in case.params]))
        for v in variants:
            ref = reference_run(entry.model, v, sub, dtype)
            reference[v.name].append(np.concatenate([np.ravel(ref[p].value) for p in case.params]))
    closest = reference[variants[0].name][-1]
    with np.errstate(invalid="ignore"):
        diff = np.abs(framework[-1] - closest)
    i = int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))) if diff.size else 0
    names = [f"{p}[{j}]" for p in case.params for j in range(np.asarray(case.params[p]).size)]
    return {
        "type": "trajectory",
        "xlabel": "step",
        "ylabel": f"parameter {names[i] if i < len(names) else i}",
        "x": list(range(1, n + 1)),
        "framework": [_num(f[i]) for f in framework],
        "reference": {name: [_num(r[i]) for r in rs] for name, rs in reference.items()},
        "check": "one step from a state" if case.state is not None else "trajectory",
    }


def plot_payload(
    entry: Any,
    impl: Any,
    case: Any,
    dtype: str,
    device: str,
    variants: Sequence[Any],
    *,
    verdict: str,
    reported: str | None,
) -> dict[str, Any] | None:
    r"""The plot data of one row (see the module docstring), or None; never raises.

    ``case`` is the example to plot (the worst one seen for the reported variant), ``variants``
    the entry's variants and ``reported`` the name of the variant the row reports.
    """
    if case is None:
        return None
    kind = str(entry.kind)
    try:
        if kind in ("schedule", "schedules"):
            return _schedule_curve(entry, impl, case, dtype, device, variants)
        if kind in ("optimizer", "optimizers") and verdict == "diverges":
            chosen = [v for v in variants if v.name == reported]
            default = [v for v in variants if v.is_default and v.name != reported]
            return _optimizer_trajectory(entry, impl, case, dtype, device, chosen + default)
    except Exception as exc:  # a plot never fails a row
        return {"type": "none", "why": f"{type(exc).__name__}: {exc}"[:300]}
    return None
