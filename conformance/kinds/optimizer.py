"""The optimizer kind: one step from an arbitrary state, then trajectories with a schedule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainspec.conformance.checks import Comparison, evaluate_example
from trainspec.conformance.kinds import Kind, register_kind
from trainspec.conformance.strategies import draw_optimizer_case


def _evaluate(
    entry: Any, impl: Any, case: Any, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    return evaluate_example(entry, impl, case, dtype, device, variants).per_variant


OPTIMIZER = register_kind(
    Kind(
        "optimizer",
        ("one_step", "trajectory"),
        draw_optimizer_case,
        _evaluate,
        "parameters after one step from a generated state, and after trajectories of 2-12 steps "
        "with a changing learning rate, element by element within the tolerance policy",
    )
)
