r"""The property checks: run an implementation on one example and compare it with every variant.

For an optimizer spec the property is: the framework's parameters after the example's steps
equal, within the tolerance policy, those of the reference variant. Each example is evaluated
once on the framework and once per reference variant; the result says which variants are still
within tolerance (see :mod:`trainspec.conformance.runner` for how that becomes a verdict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.conformance.adapter import Implementation, OptimizerCase
from trainspec.conformance.tolerance import Tracked, compare, track_scalar, track_tree
from trainspec.reference.base import apply_updates, piecewise_schedule
from trainspec.reference.optimizers import CanonicalState, OptimizerModel
from trainspec.reference.registry import SpecEntry, Variant

__all__ = ["Comparison", "ExampleResult", "evaluate_example", "reference_optimizer_run"]


@dataclass(frozen=True)
class Comparison:
    """The worst element of one example against one variant."""

    max_error: float
    tolerance: float
    ratio: float  # max over elements of error / tolerance; <= 1 passes
    where: str  # the parameter name of the worst element

    @property
    def passes(self) -> bool:
        return self.ratio <= 1.0


@dataclass(frozen=True)
class ExampleResult:
    per_variant: dict[Variant, Comparison]


def reference_optimizer_run(
    model: OptimizerModel, variant: Variant, case: OptimizerCase, dtype: str
) -> dict[str, Tracked]:
    """The reference parameters after ``case``'s steps, with their tracked error bounds.

    For an elementwise optimizer the tensors are concatenated and the reference runs once on the
    whole vector (the same numbers, far fewer NumPy calls), then the result is split back.
    """
    if model.elementwise and len(case.params) > 1:
        flat = _run(model, variant, _flatten_case(case), dtype)["flat"]
        return _unflatten(flat, case.params)
    return _run(model, variant, case, dtype)


def _flat(tree: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"flat": np.concatenate([np.ravel(v) for v in tree.values()])}


def _flatten_case(case: OptimizerCase) -> OptimizerCase:
    state = None
    if case.state is not None:
        state = CanonicalState(
            case.state.count, {b: _flat(t) for b, t in case.state.buffers.items()}
        )
    return OptimizerCase(
        _flat(case.params),
        [_flat(g) for g in case.grads],
        case.learning_rates,
        case.hyperparameters,
        state,
    )


def _unflatten(flat: Tracked, like: Mapping[str, np.ndarray]) -> dict[str, Tracked]:
    out: dict[str, Tracked] = {}
    i = 0
    for k, v in like.items():
        n = v.size
        out[k] = Tracked(
            flat.value[i : i + n].reshape(v.shape), flat.err[i : i + n].reshape(v.shape), flat.u
        )
        i += n
    return out


def _run(
    model: OptimizerModel, variant: Variant, case: OptimizerCase, dtype: str
) -> dict[str, Tracked]:
    hp: dict[str, Any] = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    schedule = _shifted_schedule(case)
    hp["learning_rate"] = lambda t: track_scalar(schedule(t), dtype)
    opts = variant.options
    transform = model.build(opts, hp)
    params = track_tree(case.params, dtype)
    if case.state is None:
        state = transform.init(params)
    else:
        tracked = CanonicalState(
            count=case.state.count,
            buffers={b: track_tree(t, dtype) for b, t in case.state.buffers.items()},
        )
        state = model.load_state(opts, hp, tracked, params)
    for g in case.grads:
        updates, state = transform.update(track_tree(g, dtype), state, params)
        params = apply_updates(params, updates)
    return params


def _shifted_schedule(case: OptimizerCase) -> Any:
    """The case's learning rates as a schedule over absolute step counts (a state may start at t > 0)."""
    start = 0 if case.state is None else case.state.count
    inner = piecewise_schedule(case.learning_rates)
    return lambda t: inner(t - start)


def compare_trees(
    actual: Mapping[str, np.ndarray], expected: Mapping[str, Tracked], dtype: str
) -> Comparison:
    if set(actual) != set(expected):
        raise ValueError(
            f"the adapter returned parameters {sorted(actual)}, expected {sorted(expected)}"
        )
    worst = Comparison(0.0, 0.0, 0.0, "")
    for k in expected:
        err, tol, ratio = compare(np.asarray(actual[k]), expected[k], dtype)
        if ratio > worst.ratio or not worst.where:
            worst = Comparison(err, tol, ratio, k)
    return worst


def evaluate_example(
    entry: SpecEntry,
    impl: Implementation,
    case: OptimizerCase,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
) -> ExampleResult:
    """Run the framework once and compare with each of ``variants``."""
    actual = impl.run(case, dtype, device)
    return ExampleResult(
        {
            v: compare_trees(actual, reference_optimizer_run(entry.model, v, case, dtype), dtype)
            for v in variants
        }
    )
