r"""What the schedule cards share: the model the kit drives, the evaluation orders of a running
product, the argument checks of step counts, and the hyperparameters used by several schedules.

A schedule is a pure ``step -> value`` callable (:data:`~trainspec.reference.base.Schedule`): a
factory checks its hyperparameters when it is built (errors name the argument and the rule) and
returns the function; steps are integers $t \ge 0$ counted from the first optimizer step. The
schedules plug into every optimizer of the spec through
:func:`~trainspec.reference.base.as_schedule`.

Every formula is written with the operations of the conformance kit's error-tracking arrays
(:mod:`trainspec.conformance.tolerance`): hyperparameters may be tracked scalars, steps are exact
integers, and every branch is taken on exact inputs (steps, boundaries, metrics) only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from trainspec.reference.base import (
    Schedule,
    build_by_name,
    check_choice,
    check_integer,
    check_number,
    check_step,
    either_order,
)
from trainspec.reference.optimizers.hyperparameters import LEARNING_RATE
from trainspec.reference.registry import (
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

# A card imports ``*`` from here: the shared pieces below and the names it needs of base and the
# registry, listed once.
__all__ = [
    "DECAY_STEPS",
    "ETA0",
    "STAIRCASE",
    "STAIRCASE_AXIS",
    "HyperParameter",
    "Schedule",
    "ScheduleModel",
    "SpecEntry",
    "VariantAxis",
    "VariantOption",
    "build_by_name",
    "check_choice",
    "check_number",
    "check_step",
    "check_steps_length",
    "check_whole",
    "either_order",
    "floor_div",
    "register",
    "running_products",
    "schedule_values",
]

STAIRCASE = ("continuous", "staircase")


def check_whole(name: str, value: Any, *, low: int) -> Any:
    """An integer ``>= low``; a tracked scalar with an integral value is returned unchanged, so that
    quotients such as $k/\tau$ carry the rounding bound of the dtype that computes them."""
    if hasattr(value, "err") and hasattr(value, "value") and np.ndim(value.value) == 0:
        v = float(value.value)
        if not (math.isfinite(v) and v == int(v) and v >= low):
            raise ValueError(f"{name}={v!r}: must be an integer >= {low}")
        return value
    return check_integer(name, value, low=low)


def check_steps_length(name: str, value: Any, *, low: float = 0.0) -> Any:
    """A positive number of steps (a real number ``> low``)."""
    return check_number(name, value, low=low, low_closed=False)


def floor_div(t: int, s: Any) -> int:
    r"""$\lfloor t / s\rfloor$ exactly (``s`` is an exact input, possibly a tracked scalar)."""
    v = float(s)
    if v == int(v):
        return t // int(v)
    return math.floor(Fraction(t) / Fraction(v))


def schedule_values(schedule: Schedule, steps: Sequence[int]) -> list[Any]:
    """``[schedule(t) for t in steps]``, every step checked."""
    return [schedule(check_step(f"steps[{i}]", t)) for i, t in enumerate(steps)]


@dataclass(frozen=True)
class ScheduleModel:
    r"""The reference side of a schedule entry, for the ``schedule`` kind.

    ``build(options, hp)`` returns the schedule of one variant (``options``: axis -> option) for
    the hyperparameters ``hp`` (numbers or tracked scalars; steps and boundaries as integers),
    or, for ``plateau=True``, a :class:`Plateau`. ``ratio(options, hp)`` is the *running-product*
    evaluation order: ``t -> eta_t / eta_{t-1}`` (``None`` where the value does not change), the
    form in which chainable schedulers (PyTorch's ``LRScheduler``) update the learning rate step
    by step; the kit bounds the rounding of both orders (:func:`running_products`).
    """

    build: Callable[[dict[str, str], dict[str, Any]], Any]
    ratio: Callable[[dict[str, str], dict[str, Any]], Callable[[int], Any]] | None = None
    plateau: bool = False


def running_products(
    schedule: Schedule, ratio: Callable[[int], Any], steps: Sequence[int]
) -> list[Any]:
    r"""``schedule`` at ``steps`` in both evaluation orders: the closed form, and the running product
    $\eta_t = \eta_{t-1}\rho_t$ from $\eta_0$ (``ratio(t)`` $= \rho_t$, ``None`` for 1); on tracked
    values the bound covers each order (:func:`~trainspec.reference.base.either_order`)."""
    wanted = sorted({check_step(f"steps[{i}]", t) for i, t in enumerate(steps)})
    out: dict[int, Any] = {}
    running = schedule(0)
    j = 0
    for t in range(wanted[-1] + 1 if wanted else 0):
        if t > 0:
            rho = ratio(t)
            if rho is not None:
                running = running * rho
        if t == wanted[j]:
            out[t] = either_order(schedule(t), running)
            j += 1
    return [out[t] for t in steps]


# registry entries

#: the optimizers' learning rate as a schedule's starting value (its range and sampling)
ETA0 = replace(LEARNING_RATE, symbol=r"\eta_0", description="initial learning rate", special=(0.1, 0.01))
DECAY_STEPS = HyperParameter("decay_steps", r"s",
                             "steps over which the learning rate drops by one decay factor",
                             low=0.0, high=None, low_closed=False, sample_low=1.0,
                             sample_high=1000.0, log_scale=True, special=(1.0, 10.0))
STAIRCASE_AXIS = VariantAxis("staircase", (
    VariantOption("continuous", "the exponent grows with every step", r"p = t/s",
                  ("Zheng", "Padilla Montani")),
    VariantOption("staircase", "the exponent grows once every s steps (a step function of t)",
                  r"p = \lfloor t/s\rfloor",
                  ("TensorFlow/Keras staircase=True", "optax staircase=True", "PyTorch StepLR")),
))
