r"""The schedule kind: learning-rate schedules and performance scheduling.

Checks
------
``values``
    the schedule's value at each step of a long range (up to a few thousand steps) that always
    contains the places where schedules split: step 0, the boundaries themselves and their
    neighbours ($\tau$, multiples of $s$, piecewise boundaries), and the last step. The framework
    returns one value per step (a float64 array).
``through_optimizer``
    the learning rate the framework's *optimizer* actually applies at steps $0, \dots, n-1$ when
    the scheduler drives it as its documentation says (plain SGD, parameter reset to 0 and
    gradient 1 before each step, so the parameter change is $-\eta_t$ rounded to the dtype). This
    catches off-by-one conventions between a schedule and its optimizer.

For ``sched.plateau`` a case is a drawn metric sequence (plateaus, rises, falls, and ties exactly
at the threshold); both checks return the learning rate in effect after each metric has been
seen: read from the scheduler (``values``), or applied by the next optimizer step
(``through_optimizer``).

Rounding
--------
Hyperparameters are drawn exactly representable in float32 and passed to the reference as tracked
scalars (:func:`~trainspec.conformance.tolerance.track_scalar`): powers, exponentials, quotients
$t/s$ and the per-step factor $\gamma = r^{1/s}$ carry their bounds. Where a reference entry gives
its running-product form (``ScheduleModel.ratio``: chainable schedulers such as PyTorch's multiply
the previous learning rate at every step), the bound covers that evaluation order too
(:func:`~trainspec.reference.schedules.common.running_products`). Metrics and thresholds of plateau
cases are dyadic numbers of few bits, so every comparison a framework makes (``m < m*(1-eps)``,
``m + eps < m*``) is exact in float32 and float64 alike: ties are ties in every framework.

Fixed hyperparameters
---------------------
An implementation that cannot vary a hyperparameter (Keras's ``InverseTimeDecay`` has no power
$c$) declares it in ``Implementation.options["fixed"]`` (``{"power": 1.0}``): the kit replaces the
drawn value by the fixed one before running the framework and the reference, so the row checks
the schedule on the implementation's whole domain and nothing else. (A counterexample printed
for such a row shows the drawn value; the fixed one is in the row's description.)

Rounded hyperparameters
-----------------------
An implementation whose formula computes with a hyperparameter in a narrower dtype than the row's
(optax divides its int32 step count by ``transition_steps`` in float32 even in a float64 row)
declares it in ``Implementation.options["rounded"]`` (``{"decay_steps": "float32"}``): that
hyperparameter enters the reference as a tracked scalar of that dtype, so the quotient $t/s$ and
everything computed from it carry that dtype's rounding bound. This models the framework's formula
as its own variant, instead of a finding that would mask every other fault of the row.

Underflow
---------
A value below ``LR_FLOOR`` $= 10^{-20}$ is not a learning rate anyone trains with, and a long
exponential decay in float32 reaches the subnormal range, where XLA on CPU flushes to zero: a case
keeps only the steps before its (default-variant) schedule falls below the floor.

Families
--------
How hyperparameters, steps and metrics are drawn depends on the entry: :data:`FAMILIES` maps a
spec ID to its :class:`ScheduleFamily` (a new schedule entry adds one with
:func:`register_family`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import ArrayOf, CaseField, KindContract, OptionKey
from trainspec.conformance.kinds import Kind, register_kind
from trainspec.conformance.tolerance import SAFETY, Comparison, compare_element, floor
from trainspec.conformance.tracked import Tracked, round_to, track_scalar
from trainspec.reference.schedules.common import running_products, schedule_values
from trainspec.reference.schedules.plateau import plateau_learning_rates

__all__ = [
    "CONTRACT",
    "FAMILIES",
    "KIND",
    "ScheduleCase",
    "ScheduleFamily",
    "ScheduleResult",
    "draw_schedule_case",
    "reference_values",
    "register_family",
]

CHECKS = ("values", "through_optimizer")
#: the longest step range of a ``values`` case, and of a ``through_optimizer`` case
MAX_VALUES_STEP = 3000
MAX_OPTIMIZER_STEPS = 12
#: steps where a decaying schedule has fallen below this are not drawn: no learning rate lives
#: there, and float32 reaches its subnormal range (1.2e-38), which frameworks may flush to zero
#: (XLA on CPU does): that is a property of the dtype, not of the schedule
LR_FLOOR = 1e-20
#: the longest metric sequence of a plateau case, per check
MAX_METRICS = {"values": 30, "through_optimizer": 12}


@dataclass(frozen=True)
class ScheduleCase:
    r"""One example: hyperparameters, the steps to read, and (plateau) the metric sequence.

    ``steps`` are sorted and distinct; for ``through_optimizer`` they are $0, \dots, n-1$. For a
    plateau case ``steps[k] = k`` indexes ``metrics``. Integer hyperparameters (step counts,
    boundaries, patience) are Python ints; the others are floats representable in float32.
    """

    spec_id: str
    check: str
    hyperparameters: Mapping[str, Any]
    steps: tuple[int, ...]
    metrics: tuple[float, ...] = ()

    def summary(self) -> dict[str, Any]:
        steps: Any = list(self.steps)
        if len(steps) > 40:
            steps = {"count": len(steps), "first": steps[:12], "last": steps[-6:]}
        out: dict[str, Any] = {
            "spec_id": self.spec_id,
            "check": self.check,
            "hyperparameters": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparameters.items()
            },
            "steps": steps,
        }
        if self.metrics:
            out["metrics"] = list(self.metrics)
        return out


#: What ``run`` returns for a :class:`ScheduleCase`: one learning rate per element of ``steps``.
ScheduleResult: TypeAlias = FloatArray


@dataclass(frozen=True)
class ScheduleFamily:
    """How one entry's cases are drawn and handed to the reference.

    ``draw(data, horizon)`` draws the hyperparameters for steps up to ``horizon``;
    ``special_steps(hp)`` lists the steps where the schedule splits (boundaries and neighbours);
    ``to_reference(hp, dtype)`` gives the reference's hyperparameters (tracked scalars).
    ``plateau`` families draw a metric sequence instead of steps.
    """

    draw: Callable[[Any, int], dict[str, Any]]
    special_steps: Callable[[Mapping[str, Any]], list[int]] = lambda hp: []
    to_reference: Callable[[Mapping[str, Any], str], dict[str, Any]] | None = None
    plateau: bool = False


FAMILIES: dict[str, ScheduleFamily] = {}


def register_family(spec_id: str, family: ScheduleFamily) -> ScheduleFamily:
    if spec_id in FAMILIES:
        raise ValueError(f"schedule family {spec_id!r} is already registered")
    FAMILIES[spec_id] = family
    return family


# ---------------------------------------------------------------------------------------------
# drawing helpers


def _f32(x: float) -> float:
    return float(round_to(x, "float32"))


def _log_float(lo: float, hi: float, specials: Sequence[float] = ()) -> st.SearchStrategy[float]:
    body = st.floats(np.log10(lo), np.log10(hi)).map(lambda e: _f32(10.0**e))
    if specials:
        return st.one_of(st.sampled_from([_f32(s) for s in specials]), body)
    return body


def _learning_rate(data: Any, label: str = "learning_rate") -> float:
    return float(data.draw(_log_float(1e-4, 1.0, (0.1, 0.01, 1.0)), label=label))


def reciprocal_sensitive_lengths(limit: int = 100, multiples: int = 10) -> tuple[int, ...]:
    r"""Step counts $s \le$ ``limit`` at which $\lfloor t/s
    floor$ is wrong at an exact multiple
        $t = ks$ ($k \le$ ``multiples``) when $t/s$ is evaluated in float32 as $t \cdot
        \mathrm{fl}(1/s)$ (a compiler's division by a constant): 41, 47, 55, 61, 82, 83, 94, 97.

        A staircase is a step function of $t/s$ whose boundaries are exactly these multiples, so such
        an $s$ is an explicit hard region of the schedules, like a threshold exactly at a norm.
    """
    out = []
    for s in range(2, limit + 1):
        r = np.float32(1.0) / np.float32(s)
        if any(np.floor(np.float32(k * s) * r) < k for k in range(1, multiples + 1)):
            out.append(s)
    return tuple(out)


_RECIPROCAL_SENSITIVE = reciprocal_sensitive_lengths()


def _steps_length(data: Any, horizon: int, label: str) -> int:
    """A positive step count: small ones first, then anything up to ``horizon``; or one of
    :func:`reciprocal_sensitive_lengths` (when the horizon holds a multiple of it)."""
    sensitive = [s for s in _RECIPROCAL_SENSITIVE if s <= horizon]
    options = [st.integers(1, 10), st.integers(1, max(1, horizon))]
    if sensitive:
        options.append(st.sampled_from(sensitive))
    return int(data.draw(st.one_of(*options), label=label))


def _multiples_and_neighbours(s: int, horizon: int, limit: int = 6) -> list[int]:
    out: list[int] = []
    for k in range(1, limit + 1):
        out += [k * s - 1, k * s, k * s + 1]
    return [t for t in out if 0 <= t <= horizon]


def _tracked_floats(hp: Mapping[str, Any], dtype: str, skip: Sequence[str] = ()) -> dict[str, Any]:
    return {
        k: v if k in skip or isinstance(v, tuple) else track_scalar(float(v), dtype)
        for k, v in hp.items()
    }


# ---------------------------------------------------------------------------------------------
# families of part 1 (issue 6)


def _draw_linear(data: Any, horizon: int) -> dict[str, Any]:
    eta0 = _learning_rate(data)
    kind = data.draw(st.sampled_from(["zero", "fraction", "any"]), label="final kind")
    if kind == "zero":
        eta_tau = 0.0
    elif kind == "fraction":
        eta_tau = _f32(eta0 * data.draw(st.sampled_from([0.1, 0.5, 0.01]), label="final/eta0"))
    else:
        eta_tau = _learning_rate(data, "final_learning_rate")
    return {
        "learning_rate": eta0,
        "final_learning_rate": eta_tau,
        "transition_steps": _steps_length(data, horizon, "transition_steps"),
    }


def _draw_power(data: Any, horizon: int) -> dict[str, Any]:
    power = data.draw(st.one_of(st.just(1.0), st.floats(0.25, 3.0).map(_f32)), label="power")
    return {
        "learning_rate": _learning_rate(data),
        "decay_steps": _steps_length(data, horizon, "decay_steps"),
        "power": power,
    }


def _draw_exponential(data: Any, horizon: int) -> dict[str, Any]:
    return {
        "learning_rate": _learning_rate(data),
        "decay_rate": data.draw(_log_float(0.01, 1.0, (0.1, 0.5, 0.96)), label="decay_rate"),
        "decay_steps": _steps_length(data, horizon, "decay_steps"),
    }


def _draw_piecewise(data: Any, horizon: int) -> dict[str, Any]:
    top = max(2, horizon)
    bs = data.draw(
        st.lists(st.integers(1, top), min_size=1, max_size=5, unique=True).map(
            lambda b: tuple(sorted(b))
        ),
        label="boundaries",
    )
    return {
        "learning_rate": _learning_rate(data),
        "gamma": data.draw(_log_float(0.01, 1.0, (0.1, 0.5)), label="gamma"),
        "boundaries": bs,
    }


def piecewise_values(learning_rate: Any, gamma: Any, n: int) -> list[Any]:
    r"""The geometric values $\eta_0, \eta_0\gamma, \eta_0\gamma^2, \dots$ (``n`` of them), as running
    products (what ``MultiStepLR`` and optax's ``piecewise_constant_schedule`` compute)."""
    out = [learning_rate]
    for _ in range(n - 1):
        out.append(out[-1] * gamma)
    return out


def _piecewise_reference(hp: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    eta0, gamma = track_scalar(hp["learning_rate"], dtype), track_scalar(hp["gamma"], dtype)
    bs = tuple(hp["boundaries"])
    return {"boundaries": bs, "values": piecewise_values(eta0, gamma, len(bs) + 1)}


def _draw_annealing(data: Any, horizon: int) -> dict[str, Any]:
    return {
        "learning_rate": _learning_rate(data),
        "decay_rate": data.draw(_log_float(1e-7, 0.5, (1e-6, 0.1)), label="decay_rate"),
    }


def _draw_legacy(data: Any, horizon: int) -> dict[str, Any]:
    return {
        "learning_rate": _learning_rate(data),
        "decay": data.draw(_log_float(1e-7, 1.0, (1e-6, 0.01)), label="decay"),
    }


register_family(
    "sched.linear",
    ScheduleFamily(
        _draw_linear,
        lambda hp: _multiples_and_neighbours(hp["transition_steps"], 10**9, 1),
    ),
)
register_family(
    "sched.power",
    ScheduleFamily(_draw_power, lambda hp: _multiples_and_neighbours(hp["decay_steps"], 10**9)),
)
register_family(
    "sched.exponential",
    ScheduleFamily(
        _draw_exponential, lambda hp: _multiples_and_neighbours(hp["decay_steps"], 10**9)
    ),
)
register_family(
    "sched.piecewise_constant",
    ScheduleFamily(
        _draw_piecewise,
        lambda hp: [t for b in hp["boundaries"] for t in (b - 1, b, b + 1)],
        _piecewise_reference,
    ),
)
register_family("sched.annealing", ScheduleFamily(_draw_annealing))
register_family("opt.legacy_decay", ScheduleFamily(_draw_legacy))


# --- plateau --------------------------------------------------------------------------------------

# metrics start on multiples of 1/64 below 64 and stay on multiples of 1/1024 (16 significant bits);
# thresholds are multiples of 1/16: m * (1 - eps) then needs 20 bits, exact in float32
_GRID = 64.0
_FINE = 1024.0


def _draw_plateau(data: Any, horizon: int) -> dict[str, Any]:
    eta0 = _learning_rate(data)
    factor = data.draw(st.sampled_from([0.1, 0.5, 0.2, 0.25, 0.75, 0.9]).map(_f32), label="factor")
    floor_kind = data.draw(st.sampled_from(["zero", "reachable", "any"]), label="minimum kind")
    if floor_kind == "zero":
        eta_min = 0.0
    elif floor_kind == "reachable":  # exactly a value the schedule passes through (approximately)
        eta_min = _f32(eta0 * factor * factor)
    else:
        eta_min = _f32(eta0 * data.draw(st.floats(0.001, 1.0), label="minimum/eta0"))
    return {
        "learning_rate": eta0,
        "factor": factor,
        "patience": data.draw(st.integers(0, 4), label="patience"),
        # > 0: optax needs rtol or atol > 0 (equal metrics are still ties: "plateau" moves)
        "threshold": data.draw(st.integers(1, 6), label="threshold*16") / 16.0,
        "cooldown": data.draw(st.integers(0, 3), label="cooldown"),
        "min_learning_rate": eta_min,
    }


_MOVES = (
    "plateau",
    "down",
    "up",
    "tie_rel_down",
    "tie_abs_down",
    "tie_rel_up",
    "tie_abs_up",
    "same",
)


def draw_metrics(data: Any, threshold: float, n_max: int = 30) -> tuple[float, ...]:
    r"""A metric sequence with plateaus, falls, rises and ties exactly at the threshold.

    Each metric is the previous one moved by a drawn move; a tie is the previous metric times
    $(1 \mp \epsilon)$ or plus/minus $\epsilon$, i.e. exactly the improvement threshold when the
    previous metric is the best. Every value is a multiple of 1/1024 below 64 (a move that would
    leave that grid stays put), so that thresholds computed in float32 are exact.
    """
    start = data.draw(st.integers(32, 256), label="metrics[0]*64") / _GRID
    moves = data.draw(
        st.lists(
            st.tuples(st.sampled_from(_MOVES), st.integers(1, 16)),
            min_size=4,
            max_size=max(4, n_max - 1),
        ),
        label="metric moves",
    )
    out = [start]
    for move, k in moves:
        m = out[-1]
        if move == "plateau":  # k // 2 + 1 checks without any change
            out.extend([m] * (k // 2 + 1))
            continue
        x = {
            "same": m,
            "down": m - k / _GRID,
            "up": m + k / _GRID,
            "tie_rel_down": m * (1.0 - threshold),
            "tie_abs_down": m - threshold,
            "tie_rel_up": m * (1.0 + threshold),
            "tie_abs_up": m + threshold,
        }[move]
        if not (0.0 < x < 64.0) or x * _FINE != int(x * _FINE):
            x = m
        out.append(x)
    return tuple(out[:n_max])


def _plateau_reference(hp: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    return _tracked_floats(hp, dtype, skip=("patience", "cooldown", "threshold"))


register_family(
    "sched.plateau",
    ScheduleFamily(_draw_plateau, to_reference=_plateau_reference, plateau=True),
)


# ---------------------------------------------------------------------------------------------
# draw and evaluate


def draw_schedule_case(data: Any, entry: Any, dtype: str, check: str) -> ScheduleCase:
    """One example for ``entry`` (see the module docstring)."""
    if check not in CHECKS:
        raise ValueError(f"check={check!r}: must be one of {list(CHECKS)}")
    try:
        family = FAMILIES[entry.id]
    except KeyError:
        raise KeyError(
            f"spec {entry.id!r}: the schedule kind has no family for it; add one with "
            "register_family"
        ) from None
    if family.plateau:
        hp = _in_dtype(family.draw(data, 0), dtype)
        metrics = draw_metrics(data, hp["threshold"], MAX_METRICS[check])
        return ScheduleCase(entry.id, check, hp, tuple(range(len(metrics))), metrics)
    if check == "through_optimizer":
        n = data.draw(
            st.one_of(st.integers(1, 6), st.integers(1, MAX_OPTIMIZER_STEPS)),
            label="optimizer steps",
        )
        hp = _in_dtype(family.draw(data, n), dtype)
        kept = _above_floor(entry, family, hp, range(n))
        return ScheduleCase(entry.id, check, hp, tuple(range(len(kept))))
    last = data.draw(
        st.one_of(st.integers(1, 60), st.integers(1, MAX_VALUES_STEP)), label="last step"
    )
    last = min(last, EXACT_INTEGERS.get(dtype, last))
    hp = _in_dtype(family.draw(data, last), dtype)
    extra = data.draw(st.lists(st.integers(0, last), max_size=8), label="more steps")
    steps = {0, 1, last, *extra, *family.special_steps(hp)}
    kept = _above_floor(entry, family, hp, sorted(t for t in steps if 0 <= t <= last))
    return ScheduleCase(entry.id, check, hp, tuple(kept))


#: 16-bit rows: every integer up to this one is exact in the dtype (float16: $2^{11}$,
#: bfloat16: $2^8$), so their steps and step counts stay below it
EXACT_INTEGERS = {"float16": 2**11, "bfloat16": 2**8}


def _in_dtype(hp: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    """The drawn hyperparameters, every float rounded to a 16-bit ``dtype`` (drawn exact in
    float32; a framework computing in the dtype sees them rounded): the inputs of a row are
    exact in its dtype. Integers, tuples and other dtypes' hyperparameters are unchanged."""
    if dtype not in EXACT_INTEGERS:
        return dict(hp)
    return {k: float(round_to(v, dtype)) if isinstance(v, float) else v for k, v in hp.items()}


def _above_floor(
    entry: Any, family: ScheduleFamily, hp: Mapping[str, Any], steps: Any
) -> list[int]:
    """The leading steps whose (default-variant) value is at least :data:`LR_FLOOR`; step 0 always."""
    convert = family.to_reference or _tracked_floats
    schedule = entry.model.build(entry.default_variant.options, convert(hp, "float64"))
    out: list[int] = []
    for t in steps:
        if t > 0 and float(schedule(t)) < LR_FLOOR:
            break
        out.append(t)
    return out


def reference_values(
    entry: Any,
    variant: Any,
    case: ScheduleCase,
    dtype: str,
    rounded: Mapping[str, str] | None = None,
) -> Tracked:
    """The reference's values at ``case.steps`` (or after each metric) with their rounding bounds.

    ``rounded`` maps a hyperparameter to the dtype the implementation computes with it in (see
    "Rounded hyperparameters" in the module docstring)."""
    family = FAMILIES[entry.id]
    convert = family.to_reference or _tracked_floats
    hp = convert(case.hyperparameters, dtype)
    for name, in_dtype in (rounded or {}).items():
        if name not in hp:
            raise KeyError(f"options['rounded']: {name!r} is not a hyperparameter of {entry.id}")
        hp[name] = track_scalar(float(case.hyperparameters[name]), in_dtype)
    model = entry.model
    options = variant.options
    if model.plateau:
        values = plateau_learning_rates(model.build(options, hp), case.metrics)
    else:
        schedule = model.build(options, hp)
        if model.ratio is not None:
            values = running_products(schedule, model.ratio(options, hp), case.steps)
        else:
            values = schedule_values(schedule, case.steps)
    u = track_scalar(0.0, dtype).u
    v = np.array([float(x) for x in values], dtype=np.float64)
    e = np.array(
        [float(np.asarray(x.err)) if isinstance(x, Tracked) else 0.0 for x in values],
        dtype=np.float64,
    )
    return Tracked(v, e, u)


def _worst_step(actual: np.ndarray, expected: Tracked, case: ScheduleCase, dtype: str) -> str:
    """Where the worst element is: the step (or the check of a plateau case)."""
    if actual.shape != expected.value.shape or actual.size == 0:
        return ""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        diff = np.abs(actual - expected.value)
        ratio = np.where(diff == 0, 0.0, diff / (SAFETY * expected.err + floor(dtype)))
    i = int(np.nanargmax(np.where(np.isnan(ratio), np.inf, ratio)))
    return f"{'check' if case.metrics else 'step'} {case.steps[i]}"


def _evaluate(
    entry: Any, impl: Any, case: ScheduleCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    fixed = dict(getattr(impl, "options", {}).get("fixed", {}))
    if fixed:  # hyperparameters the implementation cannot vary (see the module docstring)
        case = replace(case, hyperparameters={**case.hyperparameters, **fixed})
    actual = np.asarray(impl.run(case, dtype, device), dtype=np.float64)
    rounded = dict(getattr(impl, "options", {}).get("rounded", {}))
    out: dict[Any, Comparison] = {}
    for v in variants:
        expected = reference_values(entry, v, case, dtype, rounded)
        err, tol, ratio, _, a, e = compare_element(actual, expected, dtype)
        where = _worst_step(actual, expected, case, dtype)
        out[v] = Comparison(err, tol, ratio, where, actual=a, expected=e)
    return out


def _as_run_receives(impl: Any, case: ScheduleCase) -> ScheduleCase:
    """The case with the implementation's fixed hyperparameters (``options["fixed"]``)."""
    fixed = dict(getattr(impl, "options", {}).get("fixed", {}))
    return replace(case, hyperparameters={**case.hyperparameters, **fixed}) if fixed else case


def _expected(entry: Any, impl: Any, case: ScheduleCase, dtype: str, check: str) -> Any:
    return ArrayOf((len(case.steps),))


CONTRACT = KindContract(
    case_types=(ScheduleCase,),
    result_type=ScheduleResult,
    result_name="ScheduleResult",
    fields=(
        CaseField("spec_id", "str", "the entry the case is for"),
        CaseField(
            "check",
            "str",
            "'values': read the schedule's value at each step; 'through_optimizer': the learning "
            "rate the framework's optimizer applies at steps 0..n-1 when the scheduler drives it "
            "(plain SGD, parameter reset to 0 and gradient 1 before each step)",
        ),
        CaseField(
            "hyperparameters",
            "Mapping[str, Any]",
            "the schedule's hyperparameters by the spec's names (ints for step counts, "
            "boundaries and patience; floats representable in float32)",
        ),
        CaseField("steps", "tuple[int, ...]", "the sorted, distinct steps to read"),
        CaseField(
            "metrics",
            "tuple[float, ...]",
            "sched.plateau: the metric sequence (steps[k] = k indexes it); empty otherwise",
        ),
    ),
    returns="a float array with one learning rate per element of steps (sched.plateau: the "
    "learning rate in effect after each metric has been seen)",
    expected=_expected,
    options=(
        OptionKey(
            "rounded",
            "Mapping[str, str]",
            "hyperparameters the framework computes with in a lower precision than the dtype "
            "(optax's t/s in float32: {'decay_steps': 'float32'}); the reference rounds them so",
        ),
        OptionKey(
            "fixed",
            "Mapping[str, float]",
            "hyperparameters the implementation cannot vary (Keras InverseTimeDecay: "
            "{'power': 1.0}); the kit replaces the drawn values before running both sides",
        ),
    ),
    prepare=_as_run_receives,
)


KIND = register_kind(
    Kind(
        "schedules",
        CHECKS,
        draw_schedule_case,
        _evaluate,
        "the schedule's value over a long step range that includes every boundary and its "
        "neighbours, and the learning rate an optimizer driven by the scheduler applies at each "
        "step; for performance scheduling, the learning rate after each metric of a drawn "
        "sequence with plateaus and ties at the threshold",
        # Keras runs a schedule and an optimizer step eagerly (about 10 ms per call), and every
        # through_optimizer example takes up to 12 steps: half the profile's examples per check
        # keep a backend's schedule rows within the CI budget
        example_scale=0.5,
        contract=CONTRACT,
    )
)
