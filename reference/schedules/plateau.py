r"""``sched.plateau``: performance scheduling, reduce the learning rate when a metric stops
improving; a pure state machine over measured metrics, not a function of the step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.schedules.common import *

__all__ = ["COOLDOWN_COUNTS", "MODES", "PATIENCE_COUNTS", "THRESHOLD_MODES", "Plateau"]
__all__ += ["PlateauState", "plateau_learning_rates", "reduce_on_plateau"]

_PATIENCE_COUNT = VariantAxis("patience_count", (
    VariantOption("reaches",
                  "reduce when the number of checks without improvement reaches the patience",
                  r"n \ge \max(P, 1)",
                  ("Keras ReduceLROnPlateau (wait >= patience)", "optax reduce_on_plateau")),
    VariantOption("exceeds",
                  "reduce when the number of checks without improvement exceeds the patience",
                  r"n > P", ("PyTorch ReduceLROnPlateau (num_bad_epochs > patience)",)),
))
_COOLDOWN_COUNT = VariantAxis("cooldown_count", (
    VariantOption("full", "the C checks after a reduction are ignored",
                  r"n = 0\ \text{for the } C \text{ checks after a reduction}",
                  ("PyTorch", "optax")),
    VariantOption("one_less",
                  "the counter is decremented before it is tested: C - 1 checks are ignored",
                  r"n = 0\ \text{for the } C - 1 \text{ checks after a reduction}",
                  ("Keras ReduceLROnPlateau",)),
))
_THRESHOLD_MODE = VariantAxis("threshold_mode", (
    VariantOption("relative", "an improvement must beat the best by a fraction epsilon of it",
                  r"m < m^\ast(1-\epsilon)",
                  ("PyTorch threshold_mode='rel' (default)", "optax rtol")),
    VariantOption("absolute", "an improvement must beat the best by epsilon",
                  r"m < m^\ast - \epsilon",
                  ("PyTorch threshold_mode='abs'", "Keras min_delta", "optax atol")),
))
_MODE = VariantAxis("mode", (
    VariantOption("min", "the metric should decrease (an error)", r"m < \dots", ("all",)),
    VariantOption("max", "the metric should increase (an accuracy)", r"m > \dots",
                  ("PyTorch", "Keras")),
))
PATIENCE_COUNTS, COOLDOWN_COUNTS = _PATIENCE_COUNT.names, _COOLDOWN_COUNT.names
THRESHOLD_MODES, MODES = _THRESHOLD_MODE.names, _MODE.names


class PlateauState(NamedTuple):
    """The state of :func:`reduce_on_plateau` after the checks seen so far."""

    learning_rate: Any  # the learning rate in effect after these checks
    scale: Any  # learning_rate / eta0, kept as frameworks that scale the updates do (optax)
    best: float | None  # the best metric so far (None before the first check)
    num_bad: int  # checks without improvement since the last improvement or reduction
    cooldown_left: int  # checks still to ignore after the last reduction
    count: int  # type: ignore[assignment]  # checks seen (optax's field name; shadows tuple.count)


class Plateau(NamedTuple):
    """A pure state machine: ``init() -> state``, ``update(metric, state) -> state``."""

    init: Callable[[], PlateauState]
    update: Callable[[float, PlateauState], PlateauState]


def reduce_on_plateau(learning_rate: Any, factor: Any, patience: int, *, threshold: Any = 0.0,
                      cooldown: int = 0, min_learning_rate: Any = 0.0, mode: str = "min",
                      threshold_mode: str = "relative", patience_count: str = "reaches",
                      cooldown_count: str = "full",
                      min_decrease: float = 0.0) -> Plateau:
    r"""Performance scheduling (reduce on plateau), ``sched.plateau``, as a pure state machine.

    Symbols: $\eta_0$ = ``learning_rate``, $\lambda$ = ``factor``, $P$ = ``patience``, $\epsilon$ =
    ``threshold``, $C$ = ``cooldown``, $\eta_\min$ = ``min_learning_rate``, $m_k$ = the $k$-th
    metric, $m^\ast$ the best so far, $n$ the checks without improvement.

    .. math::
        n \leftarrow 0 \text{ if } m_k \text{ improves on } m^\ast \text{ else } n + 1;\
        n \text{ reaches } P \Rightarrow \eta \leftarrow \max(\lambda\eta, \eta_\min),\ n \leftarrow 0,\
        \text{cooldown } C

    where $m_k$ improves on $m^\ast$ when $m_k < m^\ast(1-\epsilon)$, and the cooldown ignores the
    $C$ checks after a reduction.

    ``mode="max"`` flips the test; ``threshold_mode="absolute"`` uses $m^\ast - \epsilon$.
    Zheng, *CS286 Lecture 6* ("Performance scheduling"); Padilla Montani ("reduce LR by a factor
    of $\lambda$ when the error is stuck"); Géron (2017). The frameworks' counts of patience and
    cooldown, and the improvement test, are the entry's variant axes; ``min_decrease`` is PyTorch's
    ``eps`` (a smaller reduction is skipped; 0 here, $10^{-8}$ in PyTorch).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0, low_closed=False)
    lam = check_number("factor", factor, low=0.0, high=1.0, low_closed=False, high_closed=False)
    pat = check_step("patience", patience)
    cool = check_step("cooldown", cooldown)
    eta_min = check_number("min_learning_rate", min_learning_rate, low=0.0)
    m = check_choice("mode", mode, MODES)
    tm = check_choice("threshold_mode", threshold_mode, THRESHOLD_MODES)
    if tm == "relative":
        eps = check_number("threshold", threshold, low=0.0, high=1.0, high_closed=False)
    else:
        eps = check_number("threshold", threshold, low=0.0)
    pc = check_choice("patience_count", patience_count, PATIENCE_COUNTS)
    cc = check_choice("cooldown_count", cooldown_count, COOLDOWN_COUNTS)
    dmin = float(check_number("min_decrease", min_decrease, low=0.0))
    e = float(eps)
    min_scale = eta_min / eta0

    def improves(metric: float, best: float | None) -> bool:
        if best is None:
            return True
        if m == "min":
            return metric < (best * (1.0 - e) if tm == "relative" else best - e)
        return metric > (best * (1.0 + e) if tm == "relative" else best + e)

    def due(num_bad: int) -> bool:
        return num_bad > pat if pc == "exceeds" else num_bad >= max(pat, 1)

    def reduce(state: PlateauState) -> PlateauState:
        # the minimum applies to the learning rate (PyTorch, Keras) or to the scale (optax)
        new_lr = either_order(
            np.maximum(state.learning_rate * lam, eta_min),
            eta0 * np.maximum(state.scale * lam, min_scale),
        )
        if not float(state.learning_rate) - float(new_lr) > dmin:
            return state
        return state._replace(learning_rate=new_lr, scale=np.maximum(state.scale * lam, min_scale))

    def init() -> PlateauState:
        return PlateauState(eta0, 1.0, None, 0, 0, 0)

    def update(metric: float, state: PlateauState) -> PlateauState:
        if not isinstance(state, PlateauState):
            raise TypeError(f"state: must be a PlateauState, got {type(state).__name__}")
        x = float(check_number("metric", metric))
        best, num_bad, left = state.best, state.num_bad, state.cooldown_left
        if cc == "full":
            if improves(x, best):
                best, num_bad = x, 0
            else:
                num_bad += 1
            if left > 0:
                left, num_bad = left - 1, 0
            state = state._replace(best=best, num_bad=num_bad, cooldown_left=left)
            if due(num_bad):
                state = reduce(state)._replace(num_bad=0, cooldown_left=cool)
        else:
            if left > 0:
                left, num_bad = left - 1, 0
            if improves(x, best):
                best, num_bad = x, 0
            elif left == 0:
                num_bad += 1
            state = state._replace(best=best, num_bad=num_bad, cooldown_left=left)
            if left == 0 and num_bad > 0 and due(num_bad):
                state = reduce(state)._replace(num_bad=0, cooldown_left=cool)
        return state._replace(count=state.count + 1)

    return Plateau(init, update)


def plateau_learning_rates(plateau: Plateau, metrics: Sequence[float]) -> list[Any]:
    """The learning rate in effect after each check: ``[eta after m_0, eta after m_1, ...]``."""
    state = plateau.init()
    out: list[Any] = []
    for x in metrics:
        state = plateau.update(x, state)
        out.append(state.learning_rate)
    return out


register(SpecEntry(
    id="sched.plateau", title="Performance scheduling (reduce the learning rate on a plateau)",
    tier="core", kind="schedules",
    formula=r"n \leftarrow 0 \text{ if } m_k \text{ improves on } m^\ast \text{ else } n + 1;\ "
    r"n \text{ reaches } P \Rightarrow \eta \leftarrow \max(\lambda\eta, \eta_\min),\ n \leftarrow 0,\ \text{cooldown } C",
    citations=(C.at(C.ZHENG, "Learning rate scheduling (performance scheduling)"),
               C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (performance scheduling)"),
               C.GERON_2017),
    variant_axes=(_PATIENCE_COUNT, _COOLDOWN_COUNT, _THRESHOLD_MODE, _MODE),
    hyperparameters=(
        ETA0,
        HyperParameter("factor", r"\lambda", "reduction factor", 0.0, 1.0, False, False),
        HyperParameter("patience", "P", "checks without improvement tolerated", 0.0, None),
        HyperParameter("threshold", r"\epsilon", "improvement threshold", 0.0, None),
        HyperParameter("cooldown", "C", "checks ignored after a reduction", 0.0, None),
        HyperParameter("min_learning_rate", r"\eta_\min", "lower bound", 0.0, None),
    ),
    notes="The learning rate reported for check k is the one in effect after metric k has "
    "been seen (what the next optimizer step uses).",
    model=ScheduleModel(build=build_by_name(reduce_on_plateau), plateau=True),
))
