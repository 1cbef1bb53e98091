r"""What the optimizer cards share: the canonical state and the model the kit drives, the units
that the optimizers chain (learning rate, momentum buffers, weight decay), the moving average,
and the variant options of the momentum forms.

Each unit is a factory that fixes and checks its hyperparameters and returns a pure
:class:`~trainspec.reference.base.GradientTransformation`; an optimizer is a chain of units, as in
optax. Updates carry their sign: apply them with :func:`~trainspec.reference.base.apply_updates`.

Steps are counted from 1: a state's ``count`` is the number of steps already taken, so the step
being taken is $t = \text{count} + 1$. The learning-rate schedule is evaluated at ``count`` (step
$t$ uses ``learning_rate(t - 1)``).

The formulas use Python operators and the NumPy ufuncs that the tolerance policy tracks
(:mod:`trainspec.conformance.tolerance`): ``+ - * /``, ``x ** 2``, ``np.sqrt``, ``np.maximum``
and ``abs``. Coefficients derived from hyperparameters and the step count are Python floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference.base import (
    ChainState,
    GradientTransformation,
    Schedule,
    Tree,
    as_schedule,
    build_by_name,
    chain,
    check_choice,
    check_eps,
    check_number,
    check_same_structure,
    check_step,
    check_tree,
    either_order,
    moving_average,
    tree_map,
)
from trainspec.reference.optimizers.hyperparameters import (
    BETA1,
    BETA2,
    EPS,
    LEARNING_RATE,
    MOMENTUM,
    MOMENTUM_POSITIVE,
    RHO,
    WEIGHT_DECAY,
)
from trainspec.reference.registry import (
    Erratum,
    ErratumEvidence,
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

# A card imports ``*`` from here: its own toolkit (below) and the names it needs of base, the
# registry and the shared hyperparameters, listed once.
__all__ = [
    "BETA1",
    "BETA2",
    "EPS",
    "FORM_OPTIONS",
    "LEARNING_RATE",
    "MOMENTUM",
    "MOMENTUM_FORMS",
    "MOMENTUM_POSITIVE",
    "NONNEGATIVE_BUFFERS",
    "RHO",
    "WEIGHT_DECAY",
    "CanonicalState",
    "ChainState",
    "Erratum",
    "ErratumEvidence",
    "GradientTransformation",
    "HyperParameter",
    "OptimizerModel",
    "ScaleByLearningRateState",
    "Schedule",
    "SpecEntry",
    "TraceState",
    "Tree",
    "VariantAxis",
    "VariantOption",
    "VelocityState",
    "WeightDecayState",
    "add_l2_gradient",
    "as_schedule",
    "buffer",
    "build_by_name",
    "chain",
    "check_beta",
    "check_choice",
    "check_eps",
    "check_number",
    "check_same_structure",
    "check_step",
    "check_tree",
    "decoupled_weight_decay",
    "either_order",
    "held_in_float32",
    "momentum_family_state",
    "moving_average",
    "register",
    "scale_by_learning_rate",
    "trace",
    "tree_map",
    "velocity",
    "zeros_like",
]

MOMENTUM_FORMS = ("eta_inside", "eta_outside", "exponential_average")
FIRST_STEPS = ("from_zero", "buffer_is_gradient")

#: Canonical buffers whose values are >= 0 in every reachable state (second moments,
#: accumulators, infinity norms): strategies must draw them non-negative.
NONNEGATIVE_BUFFERS = frozenset({"accumulator", "square_avg", "v", "v_max", "u", "acc_delta"})


# ---------------------------------------------------------------------------------------------
# the optimizer model the conformance kit drives


class CanonicalState(NamedTuple):
    r"""The state of an optimizer in the spec's own convention, handed to every variant and adapter.

    For the momentum family ``buffers["trace"]`` is the buffer $b$ of form (c): the
    learning-rate-free running sum with $\theta \leftarrow \theta - \eta b$. ``count`` is the number
    of steps already taken.
    """

    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count
    buffers: dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class OptimizerModel:
    r"""What the kit needs of an optimizer spec: build a variant, and load a canonical state into it.

    ``build(options, hyperparameters)`` returns the reference transformation of one variant;
    ``hyperparameters["learning_rate"]`` is a schedule. ``load_state(options, hyperparameters,
    canonical, params)`` returns that variant's state equivalent to the canonical one.
    ``buffers`` names the canonical buffers (each a tree shaped like ``params``; each card
    says what they hold in its ``BUFFERS``);
    ``nonnegative_buffers`` those that only hold values ``>= 0`` (second moments, accumulators).
    ``elementwise`` says that each element's update depends only on that element's parameter,
    gradient and state (no norm over elements), so that the reference may be evaluated on the
    concatenation of all tensors at once. ``square_dominates`` lists pairs ``(s, a)`` of
    canonical buffers with $s \ge a^2$ element by element in every reachable state (RMSprop's
    running averages of $g^2$ and of $g$, by Jensen's inequality:
    $\rho s + (1-\rho) g^2 - (\rho a + (1-\rho) g)^2 = \rho(s - a^2) + \rho(1-\rho)(g-a)^2$);
    a strategy must draw states that satisfy it exactly in the dtype under test.
    """

    build: Callable[[Mapping[str, str], Mapping[str, Any]], GradientTransformation]
    load_state: Callable[[Mapping[str, str], Mapping[str, Any], CanonicalState, Tree], Any]
    buffers: tuple[str, ...]
    nonnegative_buffers: frozenset[str] = frozenset()
    elementwise: bool = True
    square_dominates: tuple[tuple[str, str], ...] = ()


def buffer(canonical: CanonicalState, name: str) -> dict[str, Any]:
    """The canonical buffer ``name`` (a copy of its dict); a missing one is named in the error."""
    try:
        return dict(canonical.buffers[name])
    except KeyError:
        raise ValueError(
            f"canonical.buffers: missing buffer {name!r}; has {sorted(canonical.buffers)}"
        ) from None


# ---------------------------------------------------------------------------------------------
# argument checks and the moving average


def check_beta(name: str, value: Any) -> float:
    """A decay rate $\\beta \\in [0, 1)$."""
    return check_number(name, value, low=0.0, high=1.0, high_closed=False)


def held_in_float32(x: Any) -> Any:
    r"""``x`` as a float32 tensor holds it: the value $x$, with a bound that also admits its rounding
    to float32, $x(1 \pm 2^{-24})$ (:func:`~trainspec.reference.base.either_order`; a plain number
    is returned unchanged)."""
    return either_order(x, x * (1.0 + 2.0**-24), x * (1.0 - 2.0**-24))


def zeros_like(params: Tree) -> dict[str, Any]:
    """A tree of float64 zeros shaped like ``params``."""
    return tree_map(lambda p: np.zeros(p.shape), params)


# ---------------------------------------------------------------------------------------------
# units: the learning rate, the momentum buffers, weight decay


class ScaleByLearningRateState(NamedTuple):
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count


def scale_by_learning_rate(learning_rate: float | Schedule) -> GradientTransformation:
    r"""Multiply the updates by $-\eta_t$.

    Symbols: $\eta_t$ = ``learning_rate`` (a number, or a schedule evaluated at the step count
    $t$, starting at 0).

    .. math:: u \leftarrow -\eta_t\, u
    """
    lr = as_schedule("learning_rate", learning_rate)

    def init(params: Tree) -> ScaleByLearningRateState:
        check_tree("params", params)
        return ScaleByLearningRateState(count=0)

    def update(updates: Tree, state: ScaleByLearningRateState, params: Tree | None = None):
        check_tree("updates", updates)
        t = check_step("state.count", state.count)
        eta = lr(t)
        return tree_map(lambda u: -eta * u, updates), ScaleByLearningRateState(t + 1)

    return GradientTransformation(init, update)


class TraceState(NamedTuple):
    trace: dict[str, Any]
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count


def trace(
    momentum: float,
    *,
    dampening: float = 0.0,
    nesterov: bool = False,
    first_step: str = "from_zero",
) -> GradientTransformation:
    r"""Heavy-ball momentum buffer with the learning rate *outside* (form (c) of :func:`~trainspec.reference.optimizers.momentum.momentum`).

    Symbols: $\mu$ = ``momentum``, $d$ = ``dampening``, $b$ = the buffer (``state.trace``),
    $g$ = the incoming updates (gradients).

    .. math::
        b \leftarrow \mu b + (1 - d)\, g, \qquad
        u = \begin{cases} g + \mu b & \text{nesterov} \\ b & \text{otherwise} \end{cases}

    ``first_step="buffer_is_gradient"`` sets $b_1 = g_1$ on the first step instead of
    $\mu\cdot 0 + (1-d)g_1$; the two differ only when $d \neq 0$.

    .. warning:: PyTorch's ``SGD`` uses ``buffer_is_gradient``; optax's ``ema`` starts from zero.
       Form (b) of the inventory (Vitay's exponential average) is this unit with $d = \mu$.
    """
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)
    d = check_number("dampening", dampening, low=0.0, high=1.0)
    first = check_choice("first_step", first_step, FIRST_STEPS)

    def init(params: Tree) -> TraceState:
        check_tree("params", params)
        return TraceState(trace=tree_map(lambda p: np.zeros(p.shape), params), count=0)

    def update(updates: Tree, state: TraceState, params: Tree | None = None):
        check_same_structure("state.trace", state.trace, "updates", updates)
        t = check_step("state.count", state.count)
        if t == 0 and first == "buffer_is_gradient":
            new = tree_map(lambda g: g + 0.0, updates)
        else:
            new = tree_map(lambda g, b: mu * b + (1.0 - d) * g, updates, state.trace)
        out = tree_map(lambda g, b: g + mu * b, updates, new) if nesterov else new
        return out, TraceState(trace=new, count=t + 1)

    return GradientTransformation(init, update)


class VelocityState(NamedTuple):
    velocity: dict[str, Any]
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count


def velocity(
    learning_rate: float | Schedule, momentum: float, *, nesterov: bool = False
) -> GradientTransformation:
    r"""Momentum with the learning rate *inside* the velocity (form (a) of :func:`~trainspec.reference.optimizers.momentum.momentum`).

    Symbols: $\eta_t$ = ``learning_rate`` at step $t$, $\mu$ = ``momentum``, $v$ = the velocity
    (``state.velocity``). The output is the change of the parameters.

    .. math::
        v \leftarrow \mu v - \eta_t g, \qquad
        u = \begin{cases} -\mu v_\text{prev} + (1 + \mu)\, v & \text{nesterov (rewritten form)} \\
                          v & \text{otherwise} \end{cases}

    Solberg, *INF 5860 Lecture 9* ("Gradient descent with momentum", "Implementing Nesterov";
    the printed $(1-\mu)$ is an erratum, see ``opt.nesterov``); Sutskever et al. (2013).

    .. warning:: With a changing learning rate this is *not* the same as :func:`trace` followed
       by :func:`scale_by_learning_rate`: here past gradients keep the learning rate of their
       own step; there every past gradient is rescaled by the current one. Keras uses this form;
       PyTorch and optax use the other.
    """
    lr = as_schedule("learning_rate", learning_rate)
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)

    def init(params: Tree) -> VelocityState:
        check_tree("params", params)
        return VelocityState(velocity=tree_map(lambda p: np.zeros(p.shape), params), count=0)

    def update(updates: Tree, state: VelocityState, params: Tree | None = None):
        check_same_structure("state.velocity", state.velocity, "updates", updates)
        t = check_step("state.count", state.count)
        eta = lr(t)
        new = tree_map(lambda g, v: mu * v - eta * g, updates, state.velocity)
        if nesterov:
            out = tree_map(lambda v_prev, v: -mu * v_prev + (1.0 + mu) * v, state.velocity, new)
        else:
            out = new
        return out, VelocityState(velocity=new, count=t + 1)

    return GradientTransformation(init, update)


class WeightDecayState(NamedTuple):
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count


def add_l2_gradient(
    weight_decay: float, *, convention: str = "l2_gradient"
) -> GradientTransformation:
    r"""Add the gradient of an L2 penalty to the incoming gradient (weight decay *through the gradient*).

    Symbols: $\lambda$ = ``weight_decay``, $\theta$ = ``params``.

    .. math::
        g \leftarrow g + \lambda\theta \quad (\texttt{l2\_gradient};\ \text{penalty } \tfrac{\lambda}{2}\lVert\theta\rVert^2)
        \qquad
        g \leftarrow g + 2\lambda\theta \quad (\texttt{l2\_gradient\_2lambda};\ \text{penalty } \lambda\lVert\theta\rVert^2)

    Solberg writes $g + \lambda\theta$; Vitay derives $g + 2\lambda\theta$ from $\lambda\lVert\theta\rVert^2$.
    Placed before a momentum unit, the penalty's gradient enters the momentum buffer.
    """
    lam = check_number("weight_decay", weight_decay, low=0.0)
    conv = check_choice("convention", convention, ("l2_gradient", "l2_gradient_2lambda"))
    factor = 1.0 if conv == "l2_gradient" else 2.0

    def init(params: Tree) -> WeightDecayState:
        check_tree("params", params)
        return WeightDecayState(0)

    def update(updates: Tree, state: WeightDecayState, params: Tree | None = None):
        if params is None:
            raise ValueError("params: add_l2_gradient needs the parameters (got None)")
        check_same_structure("updates", updates, "params", params)
        return tree_map(lambda g, p: g + (factor * lam) * p, updates, params), WeightDecayState(
            state.count + 1
        )

    return GradientTransformation(init, update)


def decoupled_weight_decay(
    weight_decay: float, *, learning_rate: float | Schedule | None = None
) -> GradientTransformation:
    r"""Decoupled weight decay: subtract $\eta_t\lambda\theta$ from the final update (the one
    decoupled decay of the spec: ``opt.weight_decay``'s ``decoupled`` forms and ``opt.adamw``).

    Symbols: $\lambda$ = ``weight_decay``, $\eta_t$ = ``learning_rate`` at step $t$ (``None``: the
    decay is not multiplied by the learning rate, $\eta_t\lambda$ is replaced by $\lambda$),
    $u$ = the incoming update (the learning-rate-scaled step), $\theta$ = ``params``.

    .. math::
        \theta + u - \eta_t\lambda\theta \;=\; \theta(1 - \eta_t\lambda) + u
        \;=\; (\theta - \theta\lambda\eta_t) + u

    Place it *after* the unit that applies the learning rate, so that the decay does not pass
    through a momentum buffer or a moment. The frameworks' evaluation orders are all written
    (:func:`~trainspec.reference.base.either_order`): optax adds
    $\lambda\theta$ to the step before the learning rate (``add_decayed_weights``), PyTorch
    multiplies first (``param.mul_(1 - lr * weight_decay)``, ``torch/optim/adam.py``) and Keras
    subtracts first (``variable.assign(variable - variable * wd * lr)``,
    ``keras/src/optimizers/base_optimizer.py``, ``_apply_weight_decay``); the last two round
    $\theta$'s own magnitude once more before the step is added. Loshchilov & Hutter (2019).
    """
    lam = check_number("weight_decay", weight_decay, low=0.0)
    lr = None if learning_rate is None else as_schedule("learning_rate", learning_rate)

    def init(params: Tree) -> WeightDecayState:
        check_tree("params", params)
        return WeightDecayState(0)

    def update(updates: Tree, state: WeightDecayState, params: Tree | None = None):
        if params is None:
            raise ValueError("params: decoupled_weight_decay needs the parameters (got None)")
        check_same_structure("updates", updates, "params", params)
        t = check_step("state.count", state.count)
        eta = 1.0 if lr is None else lr(t)
        scale = lam if lr is None else eta * lam

        def one(u: Any, p: Any) -> Any:
            # each order as the change of the parameters: (the framework's new theta) - theta
            return either_order(
                u - scale * p, (p * (1.0 - scale) + u) - p, ((p - p * lam * eta) + u) - p
            )

        return tree_map(one, updates, params), WeightDecayState(t + 1)

    return GradientTransformation(init, update)


# ---------------------------------------------------------------------------------------------
# the momentum family (opt.momentum, opt.nesterov, opt.weight_decay): options and state


FORM_OPTIONS = (
    VariantOption("eta_inside",
                  "learning rate inside the velocity: past gradients keep the learning rate of "
                  "their step",
                  r"v \leftarrow \mu v - \eta_t g;\ \theta \leftarrow \theta + v",
                  ("Solberg", "Neural network architectures", "Padilla Montani")),
    VariantOption("eta_outside",
                  "learning rate outside the buffer: the current learning rate scales the whole "
                  "buffer",
                  r"b \leftarrow \mu b + g;\ \theta \leftarrow \theta - \eta_t b",
                  ("PyTorch SGD", "optax.sgd")),
    VariantOption("exponential_average",
                  "exponential average of gradients (dampened buffer), learning rate outside",
                  r"v \leftarrow \alpha v - (1-\alpha) g;\ \theta \leftarrow \theta + \eta_t v",
                  ("Vitay",)),
)


def momentum_family_state(
    mform: str,
    hp: Mapping[str, Any],
    canonical: CanonicalState,
    params: Tree,
    *,
    decay: str | None = None,
) -> Any:
    """Load the canonical trace ``b`` into a chain built by :func:`sgd` / :func:`momentum` / :func:`nesterov`."""
    t = canonical.count
    b = canonical.buffers["trace"]
    eta = hp["learning_rate"](t)
    units: list[Any] = []
    if decay in ("l2_gradient", "l2_gradient_2lambda"):
        units.append(WeightDecayState(t))
    if mform == "eta_inside":
        # v = -eta * b: the velocity that the same history leaves at a constant learning rate.
        units.append(VelocityState(velocity=tree_map(lambda x: -eta * x, b), count=t))
    else:
        units.append(TraceState(trace=dict(b), count=t))
        units.append(ScaleByLearningRateState(t))
    if decay in ("decoupled", "decoupled_unscaled"):
        units.append(WeightDecayState(t))
    return ChainState(tuple(units))
