r"""Learning-rate schedules, performance scheduling and random search (pure NumPy, float64).

A schedule is a pure ``step -> value`` callable (:data:`~trainspec.reference.base.Schedule`): a
factory checks its hyperparameters when it is built (errors name the argument and the rule) and
returns the function; steps are integers $t \ge 0$ counted from the first optimizer step. The
schedules plug into every optimizer of the spec through
:func:`~trainspec.reference.base.as_schedule`.

Performance scheduling (``sched.plateau``) depends on measured metrics, so it is not a function of
the step: :func:`reduce_on_plateau` returns a pure state machine, ``init() -> state`` and
``update(metric, state) -> state`` with a NamedTuple state, and :func:`plateau_learning_rates`
runs it over a metric sequence.

Every formula is written with the operations of the conformance kit's error-tracking arrays
(:mod:`trainspec.conformance.tolerance`): hyperparameters may be tracked scalars, steps are exact
integers, and every branch is taken on exact inputs (steps, boundaries, metrics) only.

The spec entries ``sched.linear``, ``sched.power``, ``sched.exponential``,
``sched.piecewise_constant``, ``sched.annealing``, ``sched.plateau``, ``sched.lr_range``,
``sched.log_uniform`` and ``opt.legacy_decay`` are registered at the bottom of this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import Schedule, check_choice, check_number, check_step, either_order
from trainspec.reference.registry import (
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "BOUNDARY_SIDES",
    "COOLDOWN_COUNTS",
    "PATIENCE_COUNTS",
    "STAIRCASE",
    "THRESHOLD_MODES",
    "Plateau",
    "PlateauState",
    "ScheduleModel",
    "annealing",
    "exponential_decay",
    "inverse_time_decay",
    "legacy_decay",
    "linear_decay",
    "log_uniform",
    "lr_range_test",
    "per_step_factor",
    "piecewise_constant",
    "plateau_learning_rates",
    "reduce_on_plateau",
    "running_products",
    "schedule_values",
]

STAIRCASE = ("continuous", "staircase")
BOUNDARY_SIDES = ("new_at_boundary", "old_at_boundary")
PATIENCE_COUNTS = ("reaches", "exceeds")
COOLDOWN_COUNTS = ("full", "one_less")
THRESHOLD_MODES = ("relative", "absolute")
MODES = ("min", "max")
LOG_BASES = ("10", "e")


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_whole(name: str, value: Any, *, low: int) -> Any:
    """An integer ``>= low``; a tracked scalar with an integral value is returned unchanged, so that
    quotients such as $k/\tau$ carry the rounding bound of the dtype that computes them."""
    if hasattr(value, "err") and hasattr(value, "value") and np.ndim(value.value) == 0:
        v = float(value.value)
        if not (math.isfinite(v) and v == int(v) and v >= low):
            raise ValueError(f"{name}={v!r}: must be an integer >= {low}")
        return value
    n = check_step(name, value)
    if n < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return n


def _check_steps_length(name: str, value: Any, *, low: float = 0.0) -> Any:
    """A positive number of steps (a real number ``> low``)."""
    return check_number(name, value, low=low, low_closed=False)


def _floor_div(t: int, s: Any) -> int:
    r"""$\lfloor t / s\rfloor$ exactly (``s`` is an exact input, possibly a tracked scalar)."""
    v = float(s)
    if v == int(v):
        return t // int(v)
    return math.floor(Fraction(t) / Fraction(v))


def schedule_values(schedule: Schedule, steps: Sequence[int]) -> list[Any]:
    """``[schedule(t) for t in steps]``, every step checked."""
    return [schedule(check_step(f"steps[{i}]", t)) for i, t in enumerate(steps)]


# ---------------------------------------------------------------------------------------------
# schedules of the step


def linear_decay(learning_rate: Any, final_learning_rate: Any, transition_steps: int) -> Schedule:
    r"""Linear decay to $\eta_\tau$ at step $\tau$, then constant, ``sched.linear``.

    Symbols: $\eta_0$ = ``learning_rate``, $\eta_\tau$ = ``final_learning_rate``,
    $\tau$ = ``transition_steps`` (an integer $\ge 1$), $k$ = the step.

    .. math::
        \eta_k = \begin{cases} (1 - \alpha)\,\eta_0 + \alpha\,\eta_\tau, \quad \alpha = k/\tau
        & k \le \tau \\ \eta_\tau & k > \tau \end{cases}

    Solberg, *INF 5860 Lecture 9* ("Learning with minibatch gradient descent"). $\eta_\tau >
    \eta_0$ (a linear warm-up) is allowed.

    .. note:: Frameworks evaluate the same line as $(\eta_0 - \eta_\tau)(1 - k/\tau) + \eta_\tau$
       (Keras ``PolynomialDecay``, optax ``polynomial_schedule``); the reference's rounding bound
       covers both orders (:func:`~trainspec.reference.base.either_order`).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    eta_tau = check_number("final_learning_rate", final_learning_rate, low=0.0)
    tau = _check_whole("transition_steps", transition_steps, low=1)

    def schedule(step: int) -> Any:
        k = check_step("step", step)
        if k >= tau:
            return eta_tau
        a = k / tau
        return either_order((1.0 - a) * eta0 + a * eta_tau, (eta0 - eta_tau) * (1.0 - a) + eta_tau)

    return schedule


def inverse_time_decay(
    learning_rate: Any, decay_steps: Any, power: Any = 1.0, *, staircase: str = "continuous"
) -> Schedule:
    r"""Power scheduling (inverse-time decay), ``sched.power``.

    Symbols: $\eta_0$ = ``learning_rate``, $s$ = ``decay_steps``, $c$ = ``power``, $t$ = step.

    .. math::
        \eta(t) = \eta_0\,(1 + p)^{-c}, \qquad
        p = \begin{cases} t/s & \texttt{continuous} \\ \lfloor t/s\rfloor & \texttt{staircase}\end{cases}

    Zheng, *CS286 Lecture 6* ("Learning rate scheduling": $\eta_0/(1+t/s)^c$, "$c$ is typically
    set to 1"); Padilla Montani, *Neural Networks Tricks-Of-The-Trade* ("Learning Rate
    Scheduling": $\eta_0(1+t/r)^{-c}$).

    .. warning:: Keras's ``InverseTimeDecay`` writes $\eta_0 / (1 + k\,t/s_K)$, i.e. $c = 1$ and
       $s = s_K/k$; its ``staircase=True`` floors $t/s_K$ (the ``staircase`` variant). The legacy
       Keras ``decay=`` argument is this schedule with $c = 1$, $s = 1/\text{decay}$
       (:func:`legacy_decay`).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    s = _check_steps_length("decay_steps", decay_steps)
    c = check_number("power", power, low=0.0)
    mode = check_choice("staircase", staircase, STAIRCASE)

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        p = _floor_div(t, s) if mode == "staircase" else t / s
        if float(c) == 1.0:
            return eta0 / (1.0 + p)
        return eta0 / (1.0 + p) ** float(c)

    return schedule


def legacy_decay(learning_rate: Any, decay: Any) -> Schedule:
    r"""The ``decay=`` argument of the Keras 2 optimizers, ``opt.legacy_decay``.

    Symbols: $\eta_0$ = ``learning_rate``, $d$ = ``decay``, $t$ = the number of steps taken.

    .. math:: \eta_t = \frac{\eta_0}{1 + d\,t}

    Vitay, *Neurocomputing: Modern neural networks* (the code ``Adam(lr=0.01, decay=1e-6)``).
    It is :func:`inverse_time_decay` with $c = 1$ and $s = 1/d$.

    .. warning:: Keras 3 no longer implements it: ``keras.optimizers.SGD(decay=...)`` warns
       "Argument `decay` is no longer supported and will be ignored" and keeps $\eta_0$; the same
       schedule is ``keras.optimizers.schedules.InverseTimeDecay(eta0, 1, decay)``.
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    d = check_number("decay", decay, low=0.0)

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        return eta0 / (1.0 + d * t)

    return schedule


def per_step_factor(decay_rate: Any, decay_steps: Any) -> Any:
    r"""The per-step factor $\gamma = r^{1/s}$ of an exponential decay: $\eta_0 r^{t/s} = \eta_0\gamma^t$."""
    r = check_number("decay_rate", decay_rate, low=0.0, low_closed=False)
    s = _check_steps_length("decay_steps", decay_steps)
    return np.exp(np.log(r) / s)


def exponential_decay(
    learning_rate: Any, decay_rate: Any, decay_steps: Any, *, staircase: str = "continuous"
) -> Schedule:
    r"""Exponential scheduling, ``sched.exponential``.

    Symbols: $\eta_0$ = ``learning_rate``, $r$ = ``decay_rate`` (the factor per $s$ steps),
    $s$ = ``decay_steps``, $t$ = step.

    .. math::
        \eta(t) = \eta_0\, r^{p}, \qquad
        p = \begin{cases} t/s & \texttt{continuous} \\ \lfloor t/s\rfloor & \texttt{staircase}\end{cases}
        \qquad (\text{continuous: } \eta(t) = \eta_0\gamma^t,\ \gamma = r^{1/s})

    Zheng, *CS286 Lecture 6* ($\eta_0 (1/10)^{t/s}$); Padilla Montani, *Neural Networks
    Tricks-Of-The-Trade* ($\eta_0 10^{-t/r}$, and TensorFlow's
    ``exponential_decay(eta0, global_step, decay_steps, decay_rate)``).

    .. warning:: PyTorch's ``ExponentialLR(gamma)`` is the per-step factor form ($s = 1$, or
       $\gamma = r^{1/s}$, :func:`per_step_factor`) and its ``StepLR(step_size, gamma)`` is the
       staircase form; Keras's ``ExponentialDecay`` and optax's ``exponential_decay`` offer both
       (``staircase=True``). The reference's rounding bound covers $\eta_0 e^{(t/s)\ln r}$ and
       $\eta_0\gamma^t$.
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    r = check_number("decay_rate", decay_rate, low=0.0, low_closed=False)
    s = _check_steps_length("decay_steps", decay_steps)
    mode = check_choice("staircase", staircase, STAIRCASE)
    gamma = per_step_factor(r, s)

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        if mode == "staircase":
            return eta0 * r ** _floor_div(t, s)
        if t == 0:
            return eta0
        return either_order(eta0 * np.exp((t / s) * np.log(r)), eta0 * gamma**t)

    return schedule


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


def annealing(learning_rate: Any, decay_rate: Any) -> Schedule:
    r"""Hyperparameter annealing, ``sched.annealing``: $\eta \leftarrow (1-\beta)\eta$ after each epoch.

    Symbols: $\eta_0$ = ``learning_rate``, $\beta$ = ``decay_rate`` ("usually very small
    ($10^{-6}$)"), $k$ = the number of epochs completed.

    .. math:: \eta_k = (1 - \beta)^k\, \eta_0

    Vitay, *Neurocomputing: Modern neural networks* ("Hyperparameters annealing").

    .. note:: It is :func:`exponential_decay` with $r = 1-\beta$ and $s = 1$ over epochs. Vitay's
       code example uses the Keras ``decay=`` argument with the same value $10^{-6}$, which is the
       inverse-time decay $\eta_0 / (1 + \beta t)$ per *step* (:func:`legacy_decay`); the two
       agree to first order in $\beta t$ only.
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    beta = check_number("decay_rate", decay_rate, low=0.0, high=1.0, high_closed=False)

    def schedule(epoch: int) -> Any:
        k = check_step("epoch", epoch)
        if k == 0:
            return eta0
        return eta0 * (1.0 - beta) ** k

    return schedule


def lr_range_test(min_learning_rate: Any, max_learning_rate: Any, num_steps: int) -> Schedule:
    r"""The learning-rate range test, ``sched.lr_range``: exponential growth per minibatch.

    Symbols: $\eta_\min$ = ``min_learning_rate``, $\eta_\max$ = ``max_learning_rate``,
    $N$ = ``num_steps`` ($\ge 2$), $k = 0, \dots, N-1$ the minibatch.

    .. math:: \eta_k = \eta_\min \left(\frac{\eta_\max}{\eta_\min}\right)^{k/(N-1)}

    so that $\eta_0 = \eta_\min$, $\eta_{N-1} = \eta_\max$ and $\eta_{k+1}/\eta_k$ is constant.
    Vitay, *Neurocomputing* ("Finding a good range for the learning rate"); Smith (2017).
    A step past the test's $N$ minibatches is an error.
    """
    lo = check_number("min_learning_rate", min_learning_rate, low=0.0, low_closed=False)
    hi = check_number("max_learning_rate", max_learning_rate, low=0.0, low_closed=False)
    if not float(hi) > float(lo):
        raise ValueError(
            f"max_learning_rate={max_learning_rate!r}: must be > min_learning_rate={min_learning_rate!r}"
        )
    n = check_step("num_steps", num_steps)
    if n < 2:
        raise ValueError(f"num_steps={num_steps!r}: must be an integer >= 2")

    def schedule(step: int) -> Any:
        k = check_step("step", step)
        if k >= n:
            raise ValueError(f"step={step}: the range test has only num_steps={n} steps")
        if k == 0:
            return lo
        if k == n - 1:
            return hi
        return lo * np.exp((k / (n - 1)) * np.log(hi / lo))

    return schedule


def log_uniform(
    low: float,
    high: float,
    rng: np.random.Generator,
    size: int | tuple[int, ...] = (),
    *,
    base: str = "10",
) -> np.ndarray:
    r"""Random search on a log scale, ``sched.log_uniform``: $b^{U}$, $U \sim \mathcal U(a, c)$.

    Symbols: $a$ = ``low``, $c$ = ``high`` (exponents, $a < c$), $b$ = ``base`` (``"10"`` or
    ``"e"``), ``rng`` = an explicit :class:`numpy.random.Generator`.

    .. math:: x = b^{U},\quad U\sim\mathcal U(a, c)
        \quad\Longleftrightarrow\quad \log_b x \sim \mathcal U(a, c)

    Solberg, *INF 5860 Lecture 9* ("Search strategy": "parameters like learning rate are
    multiplicative, search in log-space", ``lr = 10**uniform(-3, -6)``); Bergstra & Bengio
    (2012).

    .. warning:: Vitay's hyperopt example ``hp.loguniform('eta', -6, -1)`` is base $e$
       ($e^{U(-6,-1)} \in [0.0025, 0.37]$), not base 10: the ``base`` variant. Solberg writes the
       bounds in decreasing order, ``uniform(-3, -6)``, which NumPy documents as undefined; here
       ``low < high`` is required.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    a = check_number("low", low)
    c = check_number("high", high)
    if not c > a:
        raise ValueError(f"high={high!r}: must be > low={low!r}")
    b = check_choice("base", base, LOG_BASES)
    u = rng.uniform(a, c, size)
    return np.power(10.0, u) if b == "10" else np.exp(u)


# ---------------------------------------------------------------------------------------------
# performance scheduling


class PlateauState(NamedTuple):
    """The state of :func:`reduce_on_plateau` after the checks seen so far."""

    learning_rate: Any  # the learning rate in effect after these checks
    scale: Any  # learning_rate / eta0, kept as frameworks that scale the updates do (optax)
    best: float | None  # the best metric so far (None before the first check)
    num_bad: int  # checks without improvement since the last improvement or reduction
    cooldown_left: int  # checks still to ignore after the last reduction
    count: int  # checks seen


class Plateau(NamedTuple):
    """A pure state machine: ``init() -> state``, ``update(metric, state) -> state``."""

    init: Callable[[], PlateauState]
    update: Callable[[float, PlateauState], PlateauState]


def reduce_on_plateau(
    learning_rate: Any,
    factor: Any,
    patience: int,
    *,
    threshold: Any = 0.0,
    cooldown: int = 0,
    min_learning_rate: Any = 0.0,
    mode: str = "min",
    threshold_mode: str = "relative",
    patience_count: str = "reaches",
    cooldown_count: str = "full",
    min_decrease: float = 0.0,
) -> Plateau:
    r"""Performance scheduling (reduce on plateau), ``sched.plateau``, as a pure state machine.

    Symbols: $\eta_0$ = ``learning_rate``, $\lambda$ = ``factor`` ($0 < \lambda < 1$),
    $P$ = ``patience``, $\epsilon$ = ``threshold``, $C$ = ``cooldown``, $\eta_\min$ =
    ``min_learning_rate``, $m_k$ = the $k$-th metric (a validation error measured every $N$ steps).

    A check *improves* when (``mode``/``threshold_mode``)

    .. math::
        \text{min/relative: } m_k < m^\ast (1-\epsilon),\quad
        \text{min/absolute: } m_k < m^\ast - \epsilon,\quad
        \text{max/relative: } m_k > m^\ast (1+\epsilon),\quad
        \text{max/absolute: } m_k > m^\ast + \epsilon

    with $m^\ast$ the best metric so far (the first check always improves). An improvement sets
    $m^\ast = m_k$ and the bad count $n = 0$; otherwise $n \leftarrow n + 1$. When $n$ reaches
    the patience the learning rate drops and a cooldown starts:

    .. math:: \eta \leftarrow \max(\lambda\eta,\ \eta_\min), \qquad n \leftarrow 0

    Zheng, *CS286 Lecture 6* ("Performance scheduling: measure the validation error every N
    steps and reduce the learning rate by a factor when the error stops dropping"); Padilla
    Montani ("reduce LR by a factor of $\lambda$ when the error is stuck").

    .. warning:: Frameworks count differently (each is a variant axis):
       ``patience_count``: ``reaches`` reduces at $n \ge P$ (Keras ``wait >= patience``, optax
       ``plateau_count == patience``; $P = 0$ acts as 1), ``exceeds`` at $n > P$ (PyTorch
       ``num_bad_epochs > patience``). ``cooldown_count``: ``full`` ignores the $C$ checks after
       a reduction (PyTorch, optax), ``one_less`` only $C - 1$ (Keras decrements its counter
       *before* testing it). ``threshold_mode`` and ``mode`` are PyTorch's ``threshold_mode``
       (``rel``/``abs``) and ``mode``; Keras's ``min_delta`` is absolute, optax's ``rtol``/``atol``
       relative/absolute. ``min_decrease`` is PyTorch's ``eps``: a reduction smaller than it is
       skipped (0 here; PyTorch's default is $10^{-8}$).
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


# ---------------------------------------------------------------------------------------------
# what the conformance kit needs of each entry


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


def _linear_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    eta0, eta_tau, tau = hp["learning_rate"], hp["final_learning_rate"], hp["transition_steps"]
    d = eta_tau - eta0

    def ratio(t: int) -> Any:
        if t > float(tau):
            return None
        return 1.0 + d / (tau * eta0 + (t - 1) * d)

    return ratio


def _exponential_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    r, s = hp["decay_rate"], hp["decay_steps"]
    if o["staircase"] == "staircase":
        return lambda t: r if _floor_div(t, s) > _floor_div(t - 1, s) else None
    gamma = per_step_factor(r, s)
    return lambda t: gamma


def _piecewise_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    sched = piecewise_constant(hp["boundaries"], hp["values"], boundary=o["boundary"])

    def ratio(t: int) -> Any:
        a, b = sched(t - 1), sched(t)
        return None if a is b else b / a

    return ratio


def _annealing_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    factor = 1.0 - hp["decay_rate"]
    return lambda k: factor


# ---------------------------------------------------------------------------------------------
# registry entries

ETA0 = HyperParameter(
    "learning_rate",
    r"\eta_0",
    "initial learning rate",
    low=0.0,
    high=None,
    sample_low=1e-4,
    sample_high=1.0,
    log_scale=True,
    special=(0.1, 0.01),
)
DECAY_STEPS = HyperParameter(
    "decay_steps",
    r"s",
    "steps over which the learning rate drops by one decay factor",
    low=0.0,
    high=None,
    low_closed=False,
    sample_low=1.0,
    sample_high=1000.0,
    log_scale=True,
    special=(1.0, 10.0),
)
_STAIRCASE_AXIS = VariantAxis(
    "staircase",
    (
        VariantOption(
            "continuous",
            "the exponent grows with every step",
            r"p = t/s",
            ("Zheng (003)", "Padilla Montani (004)"),
        ),
        VariantOption(
            "staircase",
            "the exponent grows once every s steps (a step function of t)",
            r"p = \lfloor t/s\rfloor",
            ("TensorFlow/Keras staircase=True", "optax staircase=True", "PyTorch StepLR"),
        ),
    ),
)

register(
    SpecEntry(
        id="sched.linear",
        title="Linear decay to a final learning rate",
        tier="core",
        kind="schedules",
        formula=r"\eta_k = (1-\alpha)\eta_0 + \alpha\eta_\tau,\ \alpha = k/\tau\ (k \le \tau);\quad \eta_k = \eta_\tau\ (k > \tau)",
        citations=(
            C.at(C.SOLBERG, "Learning with minibatch gradient descent"),
            C.at(C.GOODFELLOW, "§8.3.1"),
        ),
        hyperparameters=(
            ETA0,
            HyperParameter(
                "final_learning_rate", r"\eta_\tau", "learning rate from step tau on", 0.0, None
            ),
            HyperParameter(
                "transition_steps",
                r"\tau",
                "steps of the decay (integer >= 1)",
                1.0,
                None,
                sample_low=1.0,
                sample_high=1000.0,
                log_scale=True,
                special=(1.0, 10.0),
            ),
        ),
        notes="Keras PolynomialDecay(power=1) and optax linear_schedule/polynomial_schedule(power=1) "
        "are this schedule; PyTorch's LinearLR expresses it through start and end factors of a "
        "base learning rate.",
        model=ScheduleModel(
            build=lambda o, hp: linear_decay(
                hp["learning_rate"], hp["final_learning_rate"], hp["transition_steps"]
            ),
            ratio=_linear_ratio,
        ),
    )
)

register(
    SpecEntry(
        id="sched.power",
        title="Power scheduling (inverse-time decay)",
        tier="core",
        kind="schedules",
        formula=r"\eta(t) = \eta_0\,(1 + t/s)^{-c}",
        citations=(
            C.at(C.ZHENG, "Learning rate scheduling (power scheduling)"),
            C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (power scheduling)"),
            C.GERON_2017,
        ),
        variant_axes=(_STAIRCASE_AXIS,),
        hyperparameters=(
            ETA0,
            DECAY_STEPS,
            HyperParameter(
                "power", "c", "exponent (typically 1)", 0.0, None, sample_high=3.0, special=(1.0,)
            ),
        ),
        notes="Keras InverseTimeDecay is c = 1 only (eta0 / (1 + k t / s_K), s = s_K / k).",
        model=ScheduleModel(
            build=lambda o, hp: inverse_time_decay(
                hp["learning_rate"], hp["decay_steps"], hp["power"], staircase=o["staircase"]
            ),
        ),
    )
)

register(
    SpecEntry(
        id="opt.legacy_decay",
        title="The legacy Keras optimizer argument decay= (inverse-time decay per step)",
        tier="doc",
        kind="schedules",
        formula=r"\eta_t = \eta_0 / (1 + d\,t)",
        citations=(
            C.at(C.VITAY, "Take-home messages (Adam(lr=0.01, decay=1e-6))"),
            C.GERON_2019,
        ),
        hyperparameters=(
            ETA0,
            HyperParameter(
                "decay",
                "d",
                "decay per step",
                0.0,
                None,
                sample_low=1e-6,
                sample_high=1.0,
                log_scale=True,
            ),
        ),
        notes="Equal to sched.power with c = 1 and s = 1/decay. Keras 3 optimizers ignore decay= "
        "with a warning; keras.optimizers.schedules.InverseTimeDecay(eta0, 1, decay) is the same "
        "schedule.",
        model=ScheduleModel(build=lambda o, hp: legacy_decay(hp["learning_rate"], hp["decay"])),
    )
)

register(
    SpecEntry(
        id="sched.exponential",
        title="Exponential scheduling",
        tier="core",
        kind="schedules",
        formula=r"\eta(t) = \eta_0\, r^{t/s} = \eta_0\gamma^t,\ \gamma = r^{1/s}",
        citations=(
            C.at(C.ZHENG, "Learning rate scheduling (exponential scheduling)"),
            C.at(C.PADILLA_MONTANI, "Implementation in TensorFlow (Exponential Scheduling)"),
            C.GERON_2017,
        ),
        variant_axes=(_STAIRCASE_AXIS,),
        hyperparameters=(
            ETA0,
            HyperParameter(
                "decay_rate",
                "r",
                "factor per s steps",
                0.0,
                None,
                False,
                True,
                0.01,
                1.0,
                special=(0.1, 0.5),
            ),
            DECAY_STEPS,
        ),
        notes="PyTorch ExponentialLR(gamma) is the per-step factor form (gamma = r^(1/s)); "
        "StepLR(step_size=s, gamma=r) is the staircase form.",
        model=ScheduleModel(
            build=lambda o, hp: exponential_decay(
                hp["learning_rate"], hp["decay_rate"], hp["decay_steps"], staircase=o["staircase"]
            ),
            ratio=_exponential_ratio,
        ),
    )
)

register(
    SpecEntry(
        id="sched.piecewise_constant",
        title="Piecewise constant scheduling",
        tier="core",
        kind="schedules",
        formula=r"\eta(t) = \eta^{(i)}\ \text{for}\ b_i \le t < b_{i+1}",
        citations=(
            C.at(C.ZHENG, "Learning rate scheduling (piecewise constant scheduling)"),
            C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (predetermined piecewise constant)"),
            C.GERON_2017,
        ),
        variant_axes=(
            VariantAxis(
                "boundary",
                (
                    VariantOption(
                        "new_at_boundary",
                        "the new value starts at the boundary step",
                        r"\eta(b_i) = \eta^{(i)}",
                        ("PyTorch MultiStepLR", "optax piecewise_constant_schedule"),
                    ),
                    VariantOption(
                        "old_at_boundary",
                        "the boundary step keeps the old value; the new one starts at b_i + 1",
                        r"\eta(b_i) = \eta^{(i-1)}",
                        ("Keras PiecewiseConstantDecay",),
                    ),
                ),
            ),
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
    )
)

register(
    SpecEntry(
        id="sched.annealing",
        title="Hyperparameter annealing: eta <- (1 - beta) eta after each epoch",
        tier="core",
        kind="schedules",
        formula=r"\eta \leftarrow (1-\beta)\,\eta\ \text{per epoch}:\ \eta_k = (1-\beta)^k\eta_0",
        citations=(C.at(C.VITAY, "Hyperparameters annealing"), C.at(C.GOODFELLOW, "§8.3.1")),
        hyperparameters=(
            ETA0,
            HyperParameter(
                "decay_rate",
                r"\beta",
                "decay per epoch",
                0.0,
                1.0,
                True,
                False,
                1e-7,
                0.5,
                log_scale=True,
                special=(1e-6,),
            ),
        ),
        notes="The step of the schedule is the epoch. Equal to sched.exponential with r = 1 - beta, "
        "s = 1.",
        model=ScheduleModel(
            build=lambda o, hp: annealing(hp["learning_rate"], hp["decay_rate"]),
            ratio=_annealing_ratio,
        ),
    )
)

_PLATEAU_AXES = (
    VariantAxis(
        "patience_count",
        (
            VariantOption(
                "reaches",
                "reduce when the number of checks without improvement reaches the patience",
                r"n \ge \max(P, 1)",
                ("Keras ReduceLROnPlateau (wait >= patience)", "optax reduce_on_plateau"),
            ),
            VariantOption(
                "exceeds",
                "reduce when the number of checks without improvement exceeds the patience",
                r"n > P",
                ("PyTorch ReduceLROnPlateau (num_bad_epochs > patience)",),
            ),
        ),
    ),
    VariantAxis(
        "cooldown_count",
        (
            VariantOption(
                "full",
                "the C checks after a reduction are ignored",
                r"n = 0\ \text{for the } C \text{ checks after a reduction}",
                ("PyTorch", "optax"),
            ),
            VariantOption(
                "one_less",
                "the counter is decremented before it is tested: C - 1 checks are ignored",
                r"n = 0\ \text{for the } C - 1 \text{ checks after a reduction}",
                ("Keras ReduceLROnPlateau",),
            ),
        ),
    ),
    VariantAxis(
        "threshold_mode",
        (
            VariantOption(
                "relative",
                "an improvement must beat the best by a fraction epsilon of it",
                r"m < m^\ast(1-\epsilon)",
                ("PyTorch threshold_mode='rel' (default)", "optax rtol"),
            ),
            VariantOption(
                "absolute",
                "an improvement must beat the best by epsilon",
                r"m < m^\ast - \epsilon",
                ("PyTorch threshold_mode='abs'", "Keras min_delta", "optax atol"),
            ),
        ),
    ),
    VariantAxis(
        "mode",
        (
            VariantOption("min", "the metric should decrease (an error)", r"m < \dots", ("all",)),
            VariantOption(
                "max",
                "the metric should increase (an accuracy)",
                r"m > \dots",
                ("PyTorch", "Keras"),
            ),
        ),
    ),
)

register(
    SpecEntry(
        id="sched.plateau",
        title="Performance scheduling (reduce the learning rate on a plateau)",
        tier="core",
        kind="schedules",
        formula=r"n \leftarrow 0 \text{ if } m_k \text{ improves on } m^\ast \text{ else } n + 1;\ "
        r"n \text{ reaches } P \Rightarrow \eta \leftarrow \max(\lambda\eta, \eta_\min),\ n \leftarrow 0,\ \text{cooldown } C",
        citations=(
            C.at(C.ZHENG, "Learning rate scheduling (performance scheduling)"),
            C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (performance scheduling)"),
            C.GERON_2017,
        ),
        variant_axes=_PLATEAU_AXES,
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
        model=ScheduleModel(
            build=lambda o, hp: reduce_on_plateau(
                hp["learning_rate"],
                hp["factor"],
                hp["patience"],
                threshold=hp["threshold"],
                cooldown=hp["cooldown"],
                min_learning_rate=hp["min_learning_rate"],
                mode=o["mode"],
                threshold_mode=o["threshold_mode"],
                patience_count=o["patience_count"],
                cooldown_count=o["cooldown_count"],
            ),
            plateau=True,
        ),
    )
)

register(
    SpecEntry(
        id="sched.lr_range",
        title="Learning-rate range test (exponential growth per minibatch)",
        tier="doc",
        kind="reference",
        formula=r"\eta_k = \eta_\min (\eta_\max/\eta_\min)^{k/(N-1)},\ k = 0,\dots,N-1",
        citations=(C.at(C.VITAY, "Finding a good range for the learning rate"), C.SMITH_CLR),
        hyperparameters=(
            HyperParameter("min_learning_rate", r"\eta_\min", "first learning rate", 0.0, None),
            HyperParameter("max_learning_rate", r"\eta_\max", "last learning rate", 0.0, None),
        ),
        notes="Reference only: no framework ships the range test as a schedule.",
        model=ScheduleModel(
            build=lambda o, hp: lr_range_test(
                hp["min_learning_rate"], hp["max_learning_rate"], hp["num_steps"]
            )
        ),
    )
)

register(
    SpecEntry(
        id="sched.log_uniform",
        title="Random search on a log scale: value = 10^U(a, b)",
        tier="doc",
        kind="reference",
        formula=r"x = 10^{U},\ U \sim \mathcal U(a, b)",
        citations=(
            C.at(C.SOLBERG, "Search strategy: coarse-to-fine; Consider a random grid"),
            C.at(C.VITAY, "Bayesian hyperparameter optimization (hp.loguniform)"),
            C.BERGSTRA_BENGIO,
        ),
        variant_axes=(
            VariantAxis(
                "base",
                (
                    VariantOption("10", "decimal exponent", r"10^{U}", ("Solberg (001)",)),
                    VariantOption(
                        "e", "natural exponent", r"e^{U}", ("Vitay (000), hyperopt hp.loguniform",)
                    ),
                ),
            ),
        ),
        notes="Reference only, checked statistically (Kolmogorov-Smirnov on log_b x) in "
        "tests/reference/test_schedules.py. Solberg's uniform(-3, -6) swaps the bounds.",
    )
)
