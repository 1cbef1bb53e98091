r"""Decay schedules of the step, one card each: ``sched.linear``, ``sched.power``,
``opt.legacy_decay``, ``sched.exponential`` and ``sched.annealing``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.schedules.common import *

__all__ = [
    "annealing",
    "exponential_decay",
    "inverse_time_decay",
    "legacy_decay",
    "linear_decay",
    "per_step_factor",
]

# ---------------------------------------------------------------------------------------------
# sched.linear


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

    The entry also cites Goodfellow et al. (2016).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    eta_tau = check_number("final_learning_rate", final_learning_rate, low=0.0)
    tau = check_whole("transition_steps", transition_steps, low=1)

    def schedule(step: int) -> Any:
        k = check_step("step", step)
        if k >= tau:
            return eta_tau
        a = k / tau
        return either_order((1.0 - a) * eta0 + a * eta_tau, (eta0 - eta_tau) * (1.0 - a) + eta_tau)

    return schedule


def _linear_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    eta0, eta_tau, tau = hp["learning_rate"], hp["final_learning_rate"], hp["transition_steps"]
    d = eta_tau - eta0

    def ratio(t: int) -> Any:
        if t > float(tau):
            return None
        return 1.0 + d / (tau * eta0 + (t - 1) * d)

    return ratio


register(SpecEntry(
    id="sched.linear", title="Linear decay to a final learning rate", tier="core", kind="schedules",
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
        HyperParameter("transition_steps", r"\tau", "steps of the decay (integer >= 1)", 1.0,
                       None, sample_low=1.0, sample_high=1000.0, log_scale=True,
                       special=(1.0, 10.0)),
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
))


# ---------------------------------------------------------------------------------------------
# sched.power


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

    The entry also cites Géron (2017).

    .. warning:: Keras's ``InverseTimeDecay`` writes $\eta_0 / (1 + k\,t/s_K)$, i.e. $c = 1$ and
       $s = s_K/k$; its ``staircase=True`` floors $t/s_K$ (the ``staircase`` variant). The legacy
       Keras ``decay=`` argument is this schedule with $c = 1$, $s = 1/\text{decay}$
       (:func:`legacy_decay`).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    s = check_steps_length("decay_steps", decay_steps)
    c = check_number("power", power, low=0.0)
    mode = check_choice("staircase", staircase, STAIRCASE)

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        p = floor_div(t, s) if mode == "staircase" else t / s
        if float(c) == 1.0:
            return eta0 / (1.0 + p)
        return eta0 / (1.0 + p) ** float(c)

    return schedule


register(SpecEntry(
    id="sched.power", title="Power scheduling (inverse-time decay)", tier="core", kind="schedules",
    formula=r"\eta(t) = \eta_0\,(1 + t/s)^{-c}",
    citations=(
        C.at(C.ZHENG, "Learning rate scheduling (power scheduling)"),
        C.at(C.PADILLA_MONTANI, "Learning Rate Scheduling (power scheduling)"),
        C.GERON_2017,
    ),
    variant_axes=(STAIRCASE_AXIS,),
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
))


# ---------------------------------------------------------------------------------------------
# opt.legacy_decay


def legacy_decay(learning_rate: Any, decay: Any) -> Schedule:
    r"""The ``decay=`` argument of the Keras 2 optimizers, ``opt.legacy_decay``.

    Symbols: $\eta_0$ = ``learning_rate``, $d$ = ``decay``, $t$ = the number of steps taken.

    .. math:: \eta_t = \frac{\eta_0}{1 + d\,t}

    Vitay, *Neurocomputing: Modern neural networks* (the code ``Adam(lr=0.01, decay=1e-6)``).
    It is :func:`inverse_time_decay` with $c = 1$ and $s = 1/d$.

    The entry also cites Géron (2019).

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


register(SpecEntry(
    id="opt.legacy_decay",
    title="The legacy Keras optimizer argument decay= (inverse-time decay per step)", tier="doc",
    kind="schedules",
    formula=r"\eta_t = \eta_0 / (1 + d\,t)",
    citations=(
        C.at(C.VITAY, "Take-home messages (Adam(lr=0.01, decay=1e-6))"),
        C.GERON_2019,
    ),
    hyperparameters=(
        ETA0,
        HyperParameter("decay", "d", "decay per step", 0.0, None, sample_low=1e-6,
                       sample_high=1.0, log_scale=True),
    ),
    notes="Equal to sched.power with c = 1 and s = 1/decay. Keras 3 optimizers ignore decay= "
    "with a warning; keras.optimizers.schedules.InverseTimeDecay(eta0, 1, decay) is the same "
    "schedule.",
    model=ScheduleModel(build=lambda o, hp: legacy_decay(hp["learning_rate"], hp["decay"])),
))


# ---------------------------------------------------------------------------------------------
# sched.exponential


def per_step_factor(decay_rate: Any, decay_steps: Any) -> Any:
    r"""The per-step factor $\gamma = r^{1/s}$ of an exponential decay: $\eta_0 r^{t/s} = \eta_0\gamma^t$."""
    r = check_number("decay_rate", decay_rate, low=0.0, low_closed=False)
    s = check_steps_length("decay_steps", decay_steps)
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

    The entry also cites Géron (2017).

    .. warning:: PyTorch's ``ExponentialLR(gamma)`` is the per-step factor form ($s = 1$, or
       $\gamma = r^{1/s}$, :func:`per_step_factor`) and its ``StepLR(step_size, gamma)`` is the
       staircase form; Keras's ``ExponentialDecay`` and optax's ``exponential_decay`` offer both
       (``staircase=True``). The reference's rounding bound covers $\eta_0 e^{(t/s)\ln r}$ and
       $\eta_0\gamma^t$.
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    r = check_number("decay_rate", decay_rate, low=0.0, low_closed=False)
    s = check_steps_length("decay_steps", decay_steps)
    mode = check_choice("staircase", staircase, STAIRCASE)
    gamma = per_step_factor(r, s)

    def schedule(step: int) -> Any:
        t = check_step("step", step)
        if mode == "staircase":
            return eta0 * r ** floor_div(t, s)
        if t == 0:
            return eta0
        return either_order(eta0 * np.exp((t / s) * np.log(r)), eta0 * gamma**t)

    return schedule


def _exponential_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    r, s = hp["decay_rate"], hp["decay_steps"]
    if o["staircase"] == "staircase":
        return lambda t: r if floor_div(t, s) > floor_div(t - 1, s) else None
    gamma = per_step_factor(r, s)
    return lambda t: gamma


register(SpecEntry(
    id="sched.exponential", title="Exponential scheduling", tier="core", kind="schedules",
    formula=r"\eta(t) = \eta_0\, r^{t/s} = \eta_0\gamma^t,\ \gamma = r^{1/s}",
    citations=(
        C.at(C.ZHENG, "Learning rate scheduling (exponential scheduling)"),
        C.at(C.PADILLA_MONTANI, "Implementation in TensorFlow (Exponential Scheduling)"),
        C.GERON_2017,
    ),
    variant_axes=(STAIRCASE_AXIS,),
    hyperparameters=(
        ETA0,
        HyperParameter("decay_rate", "r", "factor per s steps", 0.0, None, False, True, 0.01,
                       1.0, special=(0.1, 0.5)),
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
))


# ---------------------------------------------------------------------------------------------
# sched.annealing


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

    The entry also cites Goodfellow et al. (2016).
    """
    eta0 = check_number("learning_rate", learning_rate, low=0.0)
    beta = check_number("decay_rate", decay_rate, low=0.0, high=1.0, high_closed=False)

    def schedule(epoch: int) -> Any:
        k = check_step("epoch", epoch)
        if k == 0:
            return eta0
        return eta0 * (1.0 - beta) ** k

    return schedule


def _annealing_ratio(o: dict[str, str], hp: dict[str, Any]) -> Callable[[int], Any]:
    factor = 1.0 - hp["decay_rate"]
    return lambda k: factor


register(SpecEntry(
    id="sched.annealing", title="Hyperparameter annealing: eta <- (1 - beta) eta after each epoch",
    tier="core", kind="schedules",
    formula=r"\eta \leftarrow (1-\beta)\,\eta\ \text{per epoch}:\ \eta_k = (1-\beta)^k\eta_0",
    citations=(C.at(C.VITAY, "Hyperparameters annealing"), C.at(C.GOODFELLOW, "§8.3.1")),
    hyperparameters=(
        ETA0,
        HyperParameter("decay_rate", r"\beta", "decay per epoch", 0.0, 1.0, True, False, 1e-7,
                       0.5, log_scale=True, special=(1e-6,)),
    ),
    notes="The step of the schedule is the epoch. Equal to sched.exponential with r = 1 - beta, "
    "s = 1.",
    model=ScheduleModel(
        build=lambda o, hp: annealing(hp["learning_rate"], hp["decay_rate"]),
        ratio=_annealing_ratio,
    ),
))
