r"""The early-stopping kind: a drawn sequence of validation losses; when does training stop, and
which epoch's parameters are returned?

The decisions of early stopping are discrete, so they are compared exactly: the framework's
``stop_epoch`` (``-1``: it never stopped) and ``restored_epoch`` must equal the reference
variant's (:func:`~trainspec.reference.training.run_early_stopping`). ``max_error`` is the number
of epochs the worse of the two is off, ``tolerance`` is half an epoch, so ``ratio <= 1`` means
both are equal.

Exact decisions, on a dyadic grid
---------------------------------
Every drawn loss is a multiple of a grid unit $q$ (``2**-40`` for float64 rows, ``2**-16`` for
float32 rows, ``2**-4`` for float16, ``2**-1`` for bfloat16: every multiple below $2^7$ is
exact in the dtype) below $2^6$, and ``min_delta`` is a multiple of the coarse step $c$
($2^{-7}$; float16 $2^{-2}$, bfloat16 $2$: :func:`coarse_step`). Differences and sums such
as $L^* - L$ and $L + \delta$ are then exact in the dtype, whatever order a framework evaluates
them in (Keras's $L + \delta < L^*$ or flax's $L^* - L > \delta$), so a decision never depends on
rounding and the comparison can be exact. The sequences are built from the moves where the
variants differ:

* ``tie``: exactly the best loss so far (an improvement only for ``improvement=at_least`` with
  $\delta = 0$; decides which of tied epochs is restored);
* ``by_min_delta``: exactly $L^* - \delta$ (an improvement only for ``at_least``);
* ``just_past_min_delta``: $L^* - \delta - q$, the smallest strict improvement (below float32's
  resolution in float64 rows: a tie for ``compare_in=float32``);
* ``tiny``: $L^* - q$;
* ``improve``: $L^* - \delta - kc$ for $c = 2^{-7}$, $k \in [1, 8]$;
* ``worse``: the previous loss $+ kc$; ``plateau``: the previous loss again.

Patience is drawn from $\{0, 1, 2, 3\}$ first, then $[0, 8]$ (0 and 1 coincide under
``wait_reaches_patience``); sequences have 1 to 30 epochs. Keras's ``baseline`` and
``start_from_epoch`` are not drawn (flax has neither; the reference's tests cover them).

The implementation's ``run(case, dtype, device)`` feeds ``case.losses`` one epoch at a time, as
values of ``dtype``, stops at the first epoch at which the framework says so, and returns
``{"stop_epoch": int, "restored_epoch": int}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from hypothesis import strategies as st

from trainspec.conformance.contracts import CaseField, IntValue, KindContract, MappingOf
from trainspec.conformance.kinds import Kind, register_kind
from trainspec.conformance.tolerance import Comparison
from trainspec.reference.training import run_early_stopping

__all__ = [
    "COARSE_STEP",
    "CONTRACT",
    "KIND",
    "MOVES",
    "EarlyStoppingCase",
    "EarlyStoppingResult",
    "coarse_step",
    "compare_decisions",
    "draw_early_stopping_case",
    "grid_unit",
]

#: the finest step of the losses per dtype (see the module docstring)
_GRID_UNIT = {"float64": 2.0**-40, "float32": 2.0**-16, "float16": 2.0**-4, "bfloat16": 2.0**-1}
#: the coarse step of min_delta and of ordinary moves
COARSE_STEP = 2.0**-7
#: the coarse step of the 16-bit dtypes: a few grid units, so that ``just_past_min_delta`` and
#: ``tiny`` stay finer than an ordinary move
_COARSE = {"float16": 2.0**-2, "bfloat16": 2.0}
#: losses stay below this, so that every loss, difference and sum is exact in the dtype
MAX_LOSS = 2.0**6
MOVES = ("tie", "by_min_delta", "just_past_min_delta", "tiny", "improve", "worse", "plateau")
MAX_EPOCHS = 30


def grid_unit(dtype: str) -> float:
    """The grid unit $q$ of the losses drawn for ``dtype``."""
    try:
        return _GRID_UNIT[dtype]
    except KeyError:
        raise ValueError(
            f"dtype={dtype!r}: the early-stopping kind draws exact losses for {sorted(_GRID_UNIT)}"
        ) from None


def coarse_step(dtype: str) -> float:
    """The coarse step $c$ of ``min_delta`` and of ordinary moves for ``dtype``
    (:data:`COARSE_STEP` but for the 16-bit dtypes)."""
    grid_unit(dtype)
    return _COARSE.get(dtype, COARSE_STEP)


@dataclass(frozen=True)
class EarlyStoppingCase:
    """One example: a validation loss per epoch, the patience and ``min_delta``."""

    losses: tuple[float, ...]
    patience: int
    min_delta: float

    def summary(self) -> dict[str, Any]:
        return {
            "losses": list(self.losses),
            "patience": self.patience,
            "min_delta": self.min_delta,
        }


class EarlyStoppingResult(TypedDict):
    """What ``run`` returns for an :class:`EarlyStoppingCase`: the epoch the callback stopped
    training at (``-1``: it never stopped) and the epoch whose parameters it restored."""

    stop_epoch: int
    restored_epoch: int


def draw_early_stopping_case(data: Any, entry: Any, dtype: str, check: str) -> EarlyStoppingCase:
    """One example (see the module docstring)."""
    if check != "validation_losses":
        raise ValueError(f"check={check!r}: must be 'validation_losses'")
    q, coarse = grid_unit(dtype), coarse_step(dtype)
    patience = data.draw(
        st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 8)), label="patience"
    )
    delta_steps = data.draw(st.sampled_from([0, 1, 2, 4]), label="min_delta / 2**-7")
    delta = delta_steps * coarse
    epochs = data.draw(st.integers(1, MAX_EPOCHS), label="epochs")
    first = data.draw(st.integers(64, 2048), label="first loss / 2**-7") * COARSE_STEP
    first = max(coarse, math.floor(first / coarse) * coarse)  # on the dtype's coarse grid
    losses = [first]
    best = first
    for _ in range(epochs - 1):
        move = data.draw(st.sampled_from(MOVES), label="move")
        prev = losses[-1]
        if move == "tie":
            v = best
        elif move == "by_min_delta":
            v = best - delta
        elif move == "just_past_min_delta":
            v = best - delta - q
        elif move == "tiny":
            v = best - q
        elif move == "improve":
            v = best - delta - data.draw(st.integers(1, 8), label="steps") * coarse
        elif move == "worse":
            v = prev + data.draw(st.integers(1, 8), label="steps") * coarse
        else:
            v = prev
        if not coarse <= v < MAX_LOSS:  # stay positive and on the exact grid
            v = best
        losses.append(v)
        if best - v > delta:  # the default rule's best, so that later moves aim near it
            best = v
    return EarlyStoppingCase(tuple(losses), patience, delta)


def compare_decisions(actual: dict[str, int], expected: Any) -> Comparison:
    """Exact comparison of the stop and restore decisions (tolerance: half an epoch)."""
    missing = {"stop_epoch", "restored_epoch"} - set(actual)
    if missing:
        raise ValueError(f"the adapter's result lacks {sorted(missing)}; it returned {actual}")
    errors = {
        "stop_epoch": abs(int(actual["stop_epoch"]) - expected.stop_epoch),
        "restored_epoch": abs(int(actual["restored_epoch"]) - expected.restored_epoch),
    }
    where = max(errors, key=lambda k: errors[k])
    err = float(errors[where])
    return Comparison(err, 0.5, err / 0.5, where)


def reference_decisions(case: EarlyStoppingCase, options: Mapping[str, str]) -> Any:
    """The reference's decisions on ``case`` in the variant with these ``options``."""
    return run_early_stopping(
        list(case.losses),
        case.patience,
        case.min_delta,
        restore=options["restore"],
        stop_rule=options["stop_rule"],
        improvement=options["improvement"],
        compare_in=options["compare_in"],
    )


def evaluate_early_stopping(
    entry: Any, impl: Any, case: EarlyStoppingCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once; compare its decisions with every variant's."""
    actual = impl.run(case, dtype, device)
    return {v: compare_decisions(actual, reference_decisions(case, v.options)) for v in variants}


def _expected(entry: Any, impl: Any, case: EarlyStoppingCase, dtype: str, check: str) -> Any:
    return MappingOf({"stop_epoch": IntValue(), "restored_epoch": IntValue()}, extra=True)


CONTRACT = KindContract(
    case_types=(EarlyStoppingCase,),
    result_type=EarlyStoppingResult,
    fields=(
        CaseField("losses", "tuple[float, ...]", "the validation loss of every epoch, in order"),
        CaseField("patience", "int", "the early-stopping callback's patience"),
        CaseField("min_delta", "float", "the smallest change that counts as an improvement"),
    ),
    returns="{'stop_epoch': the epoch the callback stopped training at (-1: it never stopped), "
    "'restored_epoch': the epoch whose parameters it restored} (integers; other keys "
    "are ignored); feed case.losses one epoch at a time, as values of dtype",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "training.early_stopping",
        ("validation_losses",),
        draw_early_stopping_case,
        evaluate_early_stopping,
        "the epoch at which training stops and the epoch whose parameters are returned, for "
        "drawn validation losses with plateaus, exact ties and min_delta-sized improvements "
        "(exact comparison)",
        contract=CONTRACT,
    )
)
