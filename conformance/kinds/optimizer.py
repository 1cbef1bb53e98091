"""The optimizer kind: one step from an arbitrary state, then trajectories with a schedule.

A generated state satisfies every invariant its entry's model declares: buffers named in
``nonnegative_buffers`` are drawn ``>= 0`` (:func:`~trainspec.conformance.strategies.draw_canonical_state`),
and for each pair ``(s, a)`` in ``square_dominates`` (RMSprop's centered moments) ``a`` is
clipped so that ``a**2 <= s`` holds exactly in the dtype under test (:func:`clip_to_root`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trainspec.conformance.adapter import OptimizerCase
from trainspec.conformance.checks import Comparison, evaluate_example
from trainspec.conformance.kinds import Kind, register_kind
from trainspec.conformance.strategies import draw_optimizer_case
from trainspec.conformance.tolerance import round_to, unit_roundoff
from trainspec.reference.optimizers import CanonicalState

__all__ = ["OPTIMIZER", "clip_to_root"]


def clip_to_root(a: np.ndarray, s: np.ndarray, dtype: str) -> np.ndarray:
    r"""``a`` with every element of magnitude above $r = \mathrm{fl}(\sqrt{s}\,(1 - 4u))$ replaced
    by $\pm r$, so that $a^2 \le s$ exactly (``s >= 0``, both representable in ``dtype``).

    $r < \sqrt{s}$ exactly: the square root and the product round by at most $u_{64}$ each and the
    rounding to ``dtype`` by at most $u$, so $r \le \sqrt{s}(1-4u)(1+u)(1+u_{64})^2 < \sqrt{s}$
    ($r$ is normal or zero for the strategies' magnitudes). Elements already within $r$ keep
    their value; where $s = 0$, $a$ becomes 0. The clipped elements have $s - a^2 \approx 8us$,
    the hard region of the centered variance estimate $s - a^2$.
    """
    u = unit_roundoff(dtype)
    root = round_to(np.sqrt(s) * (1.0 - 4.0 * u), dtype)
    return np.where(np.abs(a) <= root, a, np.copysign(root, a))


def _satisfy_invariants(entry: Any, case: OptimizerCase, dtype: str) -> OptimizerCase:
    pairs = getattr(entry.model, "square_dominates", ())
    if case.state is None or not pairs:
        return case
    buffers = dict(case.state.buffers)
    for s_name, a_name in pairs:
        s, a = buffers[s_name], buffers[a_name]
        buffers[a_name] = {k: clip_to_root(a[k], s[k], dtype) for k in a}
    return OptimizerCase(
        case.params,
        case.grads,
        case.learning_rates,
        case.hyperparameters,
        CanonicalState(case.state.count, buffers),
    )


def _draw(data: Any, entry: Any, dtype: str, check: str) -> OptimizerCase:
    return _satisfy_invariants(entry, draw_optimizer_case(data, entry, dtype, check), dtype)


def _evaluate(
    entry: Any, impl: Any, case: Any, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    return evaluate_example(entry, impl, case, dtype, device, variants).per_variant


OPTIMIZER = register_kind(
    Kind(
        "optimizer",
        ("one_step", "trajectory"),
        _draw,
        _evaluate,
        "parameters after one step from a generated state, and after trajectories of 2-12 steps "
        "with a changing learning rate, element by element within the tolerance policy",
    )
)
