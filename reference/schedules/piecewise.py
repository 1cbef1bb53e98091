r"""``sched.piecewise_constant``: a learning rate constant between boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trainspec.reference import citations as C
from trainspec.reference.schedules.common import *

__all__ = ["BOUNDARY_SIDES", "piecewise_constant"]

BOUNDARY_SIDES = ("new_at_boundary", "old_at_boundary")


def piecewise_constant(
    boundaries: Sequence[int], values: Sequence[Any], *, boundary: str = "new_at_boundary"
) -> Schedule:
    r"""Piecewise constant scheduling, ``sched.piecewise_constant``.

    Symbols: $b_1 < \dots < b_n$ = ``boundaries`` (steps), $\eta^{(0)}, \dots, \eta^{(n)}$ =
    ``values`` (one more than boundaries).

    .. math::
        \eta(t) = \eta^{(i)}, \quad i = \begin{cases} \#\{j : b_j \le t\} & \texttt{new\_at\_boundary}
        \\ \#\{j : b_j < t\} & \texttt{old\_at\_boundary} \end{cases}

    Zheng, *CS286 Lecture 6* ("Piecewise constant scheduling"); Padilla Montani, *Neural
    Networks Tricks-Of-The-Trade* ("Predetermined piecewise constant").

    The entry also cites Géron (2017).

    .. warning:: Which side of a boundary gets the new value differs: PyTorch's ``MultiStepLR``
       and optax's ``piecewise_constant_schedule`` switch *at* step $b_j$ (``new_at_boundary``);
       Keras's ``PiecewiseConstantDecay`` keeps the old value at $b_j$ and switches at $b_j + 1$
       (``old_at_boundary``).
    """
    side = check_choice("boundary", boundary, BOUNDARY_SIDES)
    bs = [check_step(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
    for i in range(1, len(bs)):
        if bs[i] <= bs[i - 1]:
            raise ValueError(
                f"boundaries[{i}]={bs[i]}: boundaries must be strictly increasing "
                f"(boundaries[{i - 1}]={bs[i - 1]})"
            )
    if len(values) != len(bs) + 1:
        raise ValueError(
            f"values: must hold len(boundaries) + 1 = {len(bs) + 1} values, got {len(values)}"
        )
    vals = [check_number(f"values[{i}]", v, low=0.0) for i, v in enumerate(values)]

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        if side == "new_at_boundary":
            i = sum(1 for b in bs if b <= t)
        else:
            i = sum(1 for b in bs if b < t)
        return vals[i]

    return schedule


def _piecewise_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    sched = piecewise_constant(hp["boundaries"], hp["values"], boundary=o["boundary"])

    def ratio(t: int) -> Any:
        a, b = sched(t - 1), sched(t)
        return None if a is b else b / a

    return ratio


register(SpecEntry(
    id="sched.piecewise_constant", title="Piecewise constant scheduling", tier="core",
    kind="schedules",
    formula=r"\eta(t) = \eta^{(i)}\ \text{for}\ b_i \le t < b_{i+1}",
    citations=(
        C.at(C.ZHENG, "Learning rate scheduling (piecewise constant scheduling)"),
        C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (predetermined piecewise constant)"),
        C.GERON_2017,
    ),
    variant_axes=(
        VariantAxis("boundary", (
            VariantOption("new_at_boundary", "the new value starts at the boundary step",
                          r"\eta(b_i) = \eta^{(i)}",
                          ("PyTorch MultiStepLR", "optax piecewise_constant_schedule")),
            VariantOption("old_at_boundary",
                          "the boundary step keeps the old value; the new one starts at "
                          "b_i + 1",
                          r"\eta(b_i) = \eta^{(i-1)}",
                          ("Keras PiecewiseConstantDecay",)),
        )),
    ),
    hyperparameters=(ETA0,),
    notes="The kit draws geometric values eta0 * gamma^i (what PyTorch's MultiStepLR can "
    "express); the reference accepts any values.",
    model=ScheduleModel(
        build=lambda o, hp: piecewise_constant(
            hp["boundaries"], hp["values"], boundary=o["boundary"]
        ),
        ratio=_piecewise_ratio,
    ),
))
