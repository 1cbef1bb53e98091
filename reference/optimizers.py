r"""Gradient descent, momentum, Nesterov momentum and weight decay (pure NumPy, float64).

Each unit is a factory that fixes and checks its hyperparameters and returns a pure
:class:`~trainspec.reference.base.GradientTransformation`; the optimizers (:func:`gd`,
:func:`momentum`, :func:`nesterov`, :func:`sgd`) are chains of these units, as in optax.
Updates carry their sign: apply them with :func:`~trainspec.reference.base.apply_updates`.

The spec entries ``opt.gd``, ``opt.momentum``, ``opt.nesterov`` and ``opt.weight_decay`` are
registered at the bottom of this module, with their variants and errata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import (
    ChainState,
    GradientTransformation,
    Schedule,
    Tree,
    as_schedule,
    chain,
    check_choice,
    check_number,
    check_same_structure,
    check_tree,
    tree_map,
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

__all__ = [
    "CanonicalState",
    "OptimizerModel",
    "ScaleByLearningRateState",
    "TraceState",
    "VelocityState",
    "add_decoupled_weight_decay",
    "add_l2_gradient",
    "gd",
    "momentum",
    "nesterov",
    "nesterov_lookahead_run",
    "nesterov_rewritten_run",
    "scale_by_learning_rate",
    "sgd",
    "trace",
    "velocity",
]

MOMENTUM_FORMS = ("eta_inside", "eta_outside", "exponential_average")
FIRST_STEPS = ("from_zero", "buffer_is_gradient")
DECAY_FORMS = ("l2_gradient", "l2_gradient_2lambda", "decoupled", "decoupled_unscaled")


def _check_count(name: str, count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"{name}={count!r}: must be an integer >= 0 (the number of steps taken)")
    return int(count)


# ---------------------------------------------------------------------------------------------
# units


class ScaleByLearningRateState(NamedTuple):
    count: int


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
        t = _check_count("state.count", state.count)
        eta = lr(t)
        return tree_map(lambda u: -eta * u, updates), ScaleByLearningRateState(t + 1)

    return GradientTransformation(init, update)


class TraceState(NamedTuple):
    trace: dict[str, Any]
    count: int


def trace(
    momentum: float,
    *,
    dampening: float = 0.0,
    nesterov: bool = False,
    first_step: str = "from_zero",
) -> GradientTransformation:
    r"""Heavy-ball momentum buffer with the learning rate *outside* (form (c) of ``opt.momentum``).

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
        t = _check_count("state.count", state.count)
        if t == 0 and first == "buffer_is_gradient":
            new = tree_map(lambda g: g + 0.0, updates)
        else:
            new = tree_map(lambda g, b: mu * b + (1.0 - d) * g, updates, state.trace)
        out = tree_map(lambda g, b: g + mu * b, updates, new) if nesterov else new
        return out, TraceState(trace=new, count=t + 1)

    return GradientTransformation(init, update)


class VelocityState(NamedTuple):
    velocity: dict[str, Any]
    count: int


def velocity(
    learning_rate: float | Schedule, momentum: float, *, nesterov: bool = False
) -> GradientTransformation:
    r"""Momentum with the learning rate *inside* the velocity (form (a) of ``opt.momentum``).

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
        t = _check_count("state.count", state.count)
        eta = lr(t)
        new = tree_map(lambda g, v: mu * v - eta * g, updates, state.velocity)
        if nesterov:
            out = tree_map(lambda v_prev, v: -mu * v_prev + (1.0 + mu) * v, state.velocity, new)
        else:
            out = new
        return out, VelocityState(velocity=new, count=t + 1)

    return GradientTransformation(init, update)


class WeightDecayState(NamedTuple):
    count: int


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


def add_decoupled_weight_decay(
    weight_decay: float, *, learning_rate: float | Schedule | None = None
) -> GradientTransformation:
    r"""Decoupled weight decay: subtract $\eta_t\lambda\theta$ from the final update.

    Symbols: $\lambda$ = ``weight_decay``, $\eta_t$ = ``learning_rate`` at step $t$ (``None``: the
    decay is not multiplied by the learning rate).

    .. math:: u \leftarrow u - \eta_t \lambda \theta \qquad (\text{or } u - \lambda\theta)

    Loshchilov & Hutter (2019). Place it *after* the unit that applies the learning rate, so that
    the decay does not pass through the momentum buffer.

    .. warning:: Whether $\eta_t$ multiplies the decay differs between frameworks and papers
       (Loshchilov & Hutter multiply by a schedule multiplier only); both are variants.
    """
    lam = check_number("weight_decay", weight_decay, low=0.0)
    lr = None if learning_rate is None else as_schedule("learning_rate", learning_rate)

    def init(params: Tree) -> WeightDecayState:
        check_tree("params", params)
        return WeightDecayState(0)

    def update(updates: Tree, state: WeightDecayState, params: Tree | None = None):
        if params is None:
            raise ValueError("params: add_decoupled_weight_decay needs the parameters (got None)")
        check_same_structure("updates", updates, "params", params)
        t = _check_count("state.count", state.count)
        scale = lam if lr is None else lr(t) * lam
        return tree_map(lambda u, p: u - scale * p, updates, params), WeightDecayState(t + 1)

    return GradientTransformation(init, update)


# ---------------------------------------------------------------------------------------------
# optimizers


def gd(learning_rate: float | Schedule) -> GradientTransformation:
    r"""Gradient descent, ``opt.gd``.

    Symbols: $\theta$ = ``params``, $g$ = the gradient of the loss at $\theta$,
    $\eta$ = ``learning_rate`` (a number or a ``step -> value`` schedule).

    .. math:: \theta \leftarrow \theta - \eta\, g

    Batch, online (stochastic) and minibatch gradient descent share this update; they differ only
    in the loss whose gradient $g$ is (the mean over all $N$ samples, one sample, or $K$ samples).

    Vitay, *Neurocomputing: Modern neural networks*; the unattributed *Neural network
    architectures, part one*; Zheng, *CS286 Lecture 6*; Padilla Montani, *Neural Networks
    Tricks-Of-The-Trade*; Robbins & Monro (1951).
    """
    return chain(scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate: float | Schedule,
    momentum: float,
    *,
    form: str = "eta_inside",
    first_step: str = "from_zero",
) -> GradientTransformation:
    r"""Heavy-ball momentum, ``opt.momentum``, in the three forms of the inventory.

    Symbols: $\eta_t$ = ``learning_rate`` at step $t$, $\mu$ (or $\alpha$) = ``momentum``,
    $g$ = gradient.

    .. math::
        \text{(a) eta\_inside:}\quad & v \leftarrow \mu v - \eta_t g, & \theta \leftarrow \theta + v \\
        \text{(b) exponential\_average:}\quad & v \leftarrow \alpha v - (1-\alpha) g, & \theta \leftarrow \theta + \eta_t v \\
        \text{(c) eta\_outside:}\quad & b \leftarrow \mu b + g, & \theta \leftarrow \theta - \eta_t b

    (a): Solberg, *INF 5860 Lecture 9*; the same with the sign folded in
    ($m \leftarrow \beta m + \eta g$, $\theta \leftarrow \theta - m$) in *Neural network architectures,
    part one* and Padilla Montani. (b): Vitay, *Neurocomputing*. (c): PyTorch, optax.
    Polyak (1964); Sutskever et al. (2013).

    .. warning:: (a) and (c) agree only while $\eta$ is constant. With a schedule they differ, and
       frameworks pick different ones: Keras follows (a), PyTorch and optax follow (c).
       (b) is (c) with PyTorch's ``dampening`` $= \alpha$; ``first_step`` says whether the first
       step starts the buffer from zero (the notes) or sets it to the gradient (PyTorch).
    """
    f = check_choice("form", form, MOMENTUM_FORMS)
    if f == "eta_inside":
        return chain(velocity(learning_rate, momentum))
    damp = momentum if f == "exponential_average" else 0.0
    return chain(
        trace(momentum, dampening=damp, first_step=first_step),
        scale_by_learning_rate(learning_rate),
    )


def nesterov(
    learning_rate: float | Schedule, momentum: float, *, form: str = "eta_inside"
) -> GradientTransformation:
    r"""Nesterov momentum, ``opt.nesterov``, in its rewritten form (one gradient per step).

    Symbols: $\eta_t$ = ``learning_rate``, $\mu$ = ``momentum``. The look-ahead form
    (:func:`nesterov_lookahead_run`) evaluates the gradient at $\theta + \mu v$:

    .. math:: v \leftarrow \mu v - \eta\nabla L(\theta + \mu v), \qquad \theta \leftarrow \theta + v

    The rewritten forms keep $\tilde\theta = \theta + \mu v$ instead, so that the gradient is taken
    at the stored parameters:

    .. math::
        \text{eta\_inside:}\quad & v_\text{prev} \leftarrow v;\ v \leftarrow \mu v - \eta_t g;\
            \tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v \\
        \text{eta\_outside:}\quad & b \leftarrow \mu b + g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (g + \mu b) \\
        \text{exponential\_average:}\quad & b \leftarrow \alpha b + (1-\alpha) g;\
            \tilde\theta \leftarrow \tilde\theta - \eta_t (\alpha b + (1-\alpha) g)

    Solberg, *INF 5860 Lecture 9* ("Nesterov momentum", "Implementing Nesterov"); Zheng,
    *CS286 Lecture 6*; Padilla Montani; Vitay (exponential-average form); Nesterov (1983);
    Sutskever et al. (2013).

    .. warning:: Solberg prints $(1-\mu)v$ for $(1+\mu)v$: an erratum (the look-ahead and the
       rewritten forms agree only with $1+\mu$). Keras uses ``eta_inside``; PyTorch and optax use
       ``eta_outside``; they differ once the learning rate changes.
    """
    f = check_choice("form", form, MOMENTUM_FORMS)
    if f == "eta_inside":
        return chain(velocity(learning_rate, momentum, nesterov=True))
    damp = momentum if f == "exponential_average" else 0.0
    return chain(
        trace(momentum, dampening=damp, nesterov=True), scale_by_learning_rate(learning_rate)
    )


def sgd(
    learning_rate: float | Schedule,
    momentum: float = 0.0,
    *,
    nesterov: bool = False,
    momentum_form: str = "eta_inside",
    weight_decay: float = 0.0,
    decay: str = "l2_gradient",
) -> GradientTransformation:
    r"""Stochastic gradient descent with optional momentum and weight decay, ``opt.weight_decay``.

    Symbols: $\lambda$ = ``weight_decay``; the rest as in :func:`momentum` and :func:`nesterov`.

    .. math::
        \texttt{l2\_gradient:}\ g \leftarrow g + \lambda\theta; \quad
        \texttt{l2\_gradient\_2lambda:}\ g \leftarrow g + 2\lambda\theta; \quad
        \texttt{decoupled:}\ \theta \leftarrow \theta + u - \eta_t\lambda\theta; \quad
        \texttt{decoupled\_unscaled:}\ \theta \leftarrow \theta + u - \lambda\theta

    where $u$ is the momentum (or plain) step of the (modified) gradient. Solberg writes
    $g + \lambda\theta$; Vitay $g + 2\lambda\theta$ (from the penalty $\lambda\lVert\theta\rVert^2$);
    Loshchilov & Hutter (2019) decouple the decay from the gradient; Krogh & Hertz (1992).

    .. warning:: PyTorch's ``SGD(weight_decay=)`` is ``l2_gradient`` (through the momentum buffer);
       Keras's ``SGD(weight_decay=)`` is ``decoupled`` (scaled by the learning rate). The same
       number therefore means different things in the two frameworks.
    """
    dform = check_choice("decay", decay, DECAY_FORMS)
    check_number("weight_decay", weight_decay, low=0.0)
    mform = check_choice("momentum_form", momentum_form, MOMENTUM_FORMS)
    units: list[GradientTransformation] = []
    if dform in ("l2_gradient", "l2_gradient_2lambda"):
        units.append(add_l2_gradient(weight_decay, convention=dform))
    if mform == "eta_inside":
        units.append(velocity(learning_rate, momentum, nesterov=nesterov))
    else:
        damp = momentum if mform == "exponential_average" else 0.0
        units.append(trace(momentum, dampening=damp, nesterov=nesterov))
        units.append(scale_by_learning_rate(learning_rate))
    if dform == "decoupled":
        units.append(add_decoupled_weight_decay(weight_decay, learning_rate=learning_rate))
    elif dform == "decoupled_unscaled":
        units.append(add_decoupled_weight_decay(weight_decay))
    return chain(*units)


# ---------------------------------------------------------------------------------------------
# Nesterov: the look-ahead form and the rewritten form, for the erratum checks


def nesterov_lookahead_run(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    params: np.ndarray,
    velocity: np.ndarray,
    *,
    learning_rates: Sequence[float],
    momentum: float,
    form: str = "eta_inside",
    lookahead_scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run the look-ahead (defining) form of Nesterov momentum for ``len(learning_rates)`` steps.

    ``eta_inside`` (Solberg): $x = \theta + \mu v$; $v \leftarrow \mu v - \eta\nabla L(x)$;
    $\theta \leftarrow \theta + v$.
    ``exponential_average`` (Vitay): $x = \theta + \eta\alpha v$;
    $v \leftarrow \alpha v - (1-\alpha)\nabla L(x)$; $\theta \leftarrow \theta + \eta v$.
    ``lookahead_scale`` overrides the factor of $v$ in $x$ (to evaluate a printed erratum).
    """
    f = check_choice("form", form, ("eta_inside", "exponential_average"))
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)
    theta = np.array(params, dtype=np.float64)
    v = np.array(velocity, dtype=np.float64)
    for i, eta in enumerate(learning_rates):
        eta = check_number(f"learning_rates[{i}]", eta, low=0.0)
        if f == "eta_inside":
            scale = mu if lookahead_scale is None else lookahead_scale
            v = mu * v - eta * grad_fn(theta + scale * v)
            theta = theta + v
        else:
            scale = eta * mu if lookahead_scale is None else lookahead_scale
            v = mu * v - (1.0 - mu) * grad_fn(theta + scale * v)
            theta = theta + eta * v
    return theta, v


def nesterov_rewritten_run(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    params: np.ndarray,
    velocity: np.ndarray,
    *,
    learning_rates: Sequence[float],
    momentum: float,
    form: str = "eta_inside",
    coefficient: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run the rewritten form on $\tilde\theta$ (``params``): one gradient per step, at $\tilde\theta$.

    ``eta_inside``: $v_\text{prev} = v$; $v \leftarrow \mu v - \eta\nabla L(\tilde\theta)$;
    $\tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + c\, v$ with $c = 1 + \mu$.
    ``exponential_average``: $v \leftarrow \alpha v - (1-\alpha)\nabla L(\tilde\theta)$;
    $\tilde\theta \leftarrow \tilde\theta + \eta(-\alpha v_\text{prev} + c\, v)$ with $c = 1 + \alpha$.
    ``coefficient`` overrides $c$ (Solberg prints $1 - \mu$).
    """
    f = check_choice("form", form, ("eta_inside", "exponential_average"))
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)
    c = 1.0 + mu if coefficient is None else coefficient
    theta = np.array(params, dtype=np.float64)
    v = np.array(velocity, dtype=np.float64)
    for i, eta in enumerate(learning_rates):
        eta = check_number(f"learning_rates[{i}]", eta, low=0.0)
        v_prev = v
        if f == "eta_inside":
            v = mu * v - eta * grad_fn(theta)
            theta = theta - mu * v_prev + c * v
        else:
            v = mu * v - (1.0 - mu) * grad_fn(theta)
            theta = theta + eta * (-mu * v_prev + c * v)
    return theta, v


def _witness_quadratic() -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """A fixed, ill-conditioned quadratic $L = \\frac12 (\\theta-c)^T A (\\theta-c)$ and a start point."""
    rng = np.random.default_rng(20170324)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = q @ np.diag([0.5, 1.0, 2.0, 10.0]) @ q.T
    c = rng.standard_normal(4)
    theta0 = rng.standard_normal(4)
    v0 = 0.1 * rng.standard_normal(4)
    return (lambda th: a @ (th - c)), theta0, v0


def _solberg_nesterov_check() -> ErratumEvidence:
    grad_fn, theta0, v0 = _witness_quadratic()
    mu, lrs = 0.9, [0.05] * 20
    theta, v = nesterov_lookahead_run(grad_fn, theta0, v0, learning_rates=lrs, momentum=mu)
    expected = theta + mu * v  # the look-ahead point of the final state
    tilde0 = theta0 + mu * v0
    right, _ = nesterov_rewritten_run(grad_fn, tilde0, v0, learning_rates=lrs, momentum=mu)
    printed, _ = nesterov_rewritten_run(
        grad_fn, tilde0, v0, learning_rates=lrs, momentum=mu, coefficient=1 - mu
    )
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - expected))),
        corrected_error=float(np.max(np.abs(right - expected))),
        detail="20 steps, mu=0.9, eta=0.05, on a 4-D quadratic with condition number 20: the rewritten "
        "form on theta+mu*v tracks the look-ahead form only with (1+mu)",
    )


def _vitay_nesterov_check() -> ErratumEvidence:
    grad_fn, theta0, v0 = _witness_quadratic()
    alpha, eta = 0.9, 0.5
    lrs = [eta] * 20
    kw = dict(learning_rates=lrs, momentum=alpha, form="exponential_average")
    # The rewritten form (one gradient per step) is the look-ahead form in the variable
    # theta + eta*alpha*v: the point the velocity really carries the parameters to.
    tilde0 = theta0 + eta * alpha * v0
    rewritten, _ = nesterov_rewritten_run(grad_fn, tilde0, v0, **kw)
    theta_c, v_c = nesterov_lookahead_run(grad_fn, theta0, v0, **kw)
    theta_p, v_p = nesterov_lookahead_run(grad_fn, theta0, v0, lookahead_scale=alpha, **kw)
    return ErratumEvidence(
        printed_error=float(np.max(np.abs((theta_p + eta * alpha * v_p) - rewritten))),
        corrected_error=float(np.max(np.abs((theta_c + eta * alpha * v_c) - rewritten))),
        detail="20 steps, alpha=0.9, eta=0.5: with the printed look-ahead point theta+alpha*v the "
        "method is no longer the momentum method in shifted variables; with theta+eta*alpha*v it is",
    )


# ---------------------------------------------------------------------------------------------
# the optimizer model the conformance kit drives


class CanonicalState(NamedTuple):
    r"""The state of an optimizer in the spec's own convention, handed to every variant and adapter.

    For the momentum family ``buffers["trace"]`` is the buffer $b$ of form (c): the
    learning-rate-free running sum with $\theta \leftarrow \theta - \eta b$. ``count`` is the number
    of steps already taken.
    """

    count: int
    buffers: dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class OptimizerModel:
    """What the kit needs of an optimizer spec: build a variant, and load a canonical state into it.

    ``build(options, hyperparameters)`` returns the reference transformation of one variant;
    ``hyperparameters["learning_rate"]`` is a schedule. ``load_state(options, hyperparameters,
    canonical, params)`` returns that variant's state equivalent to the canonical one.
    ``buffers`` names the canonical buffers (each a tree shaped like ``params``);
    ``nonnegative_buffers`` those that only hold values ``>= 0`` (second moments, accumulators).
    ``elementwise`` says that each element's update depends only on that element's parameter,
    gradient and state (no norm over elements), so that the reference may be evaluated on the
    concatenation of all tensors at once.
    """

    build: Callable[[Mapping[str, str], Mapping[str, Any]], GradientTransformation]
    load_state: Callable[[Mapping[str, str], Mapping[str, Any], CanonicalState, Tree], Any]
    buffers: tuple[str, ...]
    nonnegative_buffers: frozenset[str] = frozenset()
    elementwise: bool = True


def _momentum_family_state(
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


# ---------------------------------------------------------------------------------------------
# the spec entries

LEARNING_RATE = HyperParameter(
    "learning_rate",
    r"\eta",
    "step size; a schedule (one value per step) in trajectories",
    low=0.0,
    high=None,
    sample_low=1e-4,
    sample_high=1.0,
    log_scale=True,
    special=(0.01, 0.001),
)
MOMENTUM = HyperParameter(
    "momentum",
    r"\mu",
    "momentum (friction) coefficient",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.999,
    special=(0.0, 0.5, 0.9, 0.99),
)
MOMENTUM_POSITIVE = HyperParameter(
    "momentum",
    r"\mu",
    "momentum coefficient (0 is plain gradient descent, covered by opt.gd)",
    low=0.0,
    high=1.0,
    low_closed=False,
    high_closed=False,
    sample_low=0.01,
    sample_high=0.999,
    special=(0.5, 0.9, 0.99),
)
WEIGHT_DECAY = HyperParameter(
    "weight_decay",
    r"\lambda",
    "weight-decay coefficient",
    low=0.0,
    high=None,
    sample_low=1e-4,
    sample_high=0.5,
    log_scale=True,
    special=(1e-4, 0.01),
)

_FORM_OPTIONS = (
    VariantOption(
        "eta_inside",
        "learning rate inside the velocity: past gradients keep the learning rate of their step",
        r"v \leftarrow \mu v - \eta_t g;\ \theta \leftarrow \theta + v",
        ("Solberg", "Neural network architectures", "Padilla Montani"),
    ),
    VariantOption(
        "eta_outside",
        "learning rate outside the buffer: the current learning rate scales the whole buffer",
        r"b \leftarrow \mu b + g;\ \theta \leftarrow \theta - \eta_t b",
        ("PyTorch SGD", "optax.sgd"),
    ),
    VariantOption(
        "exponential_average",
        "exponential average of gradients (dampened buffer), learning rate outside",
        r"v \leftarrow \alpha v - (1-\alpha) g;\ \theta \leftarrow \theta + \eta_t v",
        ("Vitay",),
    ),
)


def _build_momentum(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return momentum(hp["learning_rate"], hp["momentum"], form=o["form"], first_step=o["first_step"])


def _build_nesterov(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return nesterov(hp["learning_rate"], hp["momentum"], form=o["form"])


def _build_weight_decay(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return sgd(
        hp["learning_rate"],
        hp["momentum"],
        momentum_form=o["momentum_form"],
        weight_decay=hp["weight_decay"],
        decay=o["decay"],
    )


register(
    SpecEntry(
        id="opt.gd",
        title="Gradient descent (batch, online, minibatch)",
        tier="core",
        kind="optimizers",
        formula=r"\theta \leftarrow \theta - \eta\, g,\quad g = \nabla_\theta \frac{1}{K}\sum_{i=1}^{K} \ell_i(\theta)\ (K = N,\ 1,\ \text{or a minibatch})",
        citations=(
            C.at(C.VITAY, "Stochastic gradient descent"),
            C.at(C.ARCHITECTURES, "Gradient Descent optimization"),
            C.at(C.ZHENG, "Training a neural network"),
            C.at(C.PADILLA_MONTANI, "Momentum Optimization (regular gradient descent)"),
            C.ROBBINS_MONRO,
        ),
        hyperparameters=(LEARNING_RATE,),
        notes="Batch, online and minibatch gradient descent differ only in the loss estimate.",
        model=OptimizerModel(
            build=lambda o, hp: gd(hp["learning_rate"]),
            load_state=lambda o, hp, cs, p: (
                gd(hp["learning_rate"])
                .init(p)
                ._replace(inner=(ScaleByLearningRateState(cs.count),))
            ),
            buffers=(),
        ),
    )
)

register(
    SpecEntry(
        id="opt.momentum",
        title="Heavy-ball momentum",
        tier="core",
        kind="optimizers",
        formula=r"v \leftarrow \mu v - \eta g,\quad \theta \leftarrow \theta + v",
        citations=(
            C.at(C.SOLBERG, "Gradient descent with momentum"),
            C.at(C.VITAY, "SGD with momentum"),
            C.at(C.ARCHITECTURES, "momentum"),
            C.at(C.PADILLA_MONTANI, "Momentum Optimization"),
            C.POLYAK,
            C.SUTSKEVER,
        ),
        variant_axes=(
            VariantAxis("form", _FORM_OPTIONS),
            VariantAxis(
                "first_step",
                (
                    VariantOption(
                        "from_zero",
                        "the buffer starts at zero and the first step applies the usual update",
                        r"b_1 = \mu\cdot 0 + (1-d) g_1",
                        ("Vitay", "Solberg", "optax.ema"),
                    ),
                    VariantOption(
                        "buffer_is_gradient",
                        "the first step sets the buffer to the gradient, skipping the dampening",
                        r"b_1 = g_1",
                        ("PyTorch SGD",),
                    ),
                ),
            ),
        ),
        hyperparameters=(LEARNING_RATE, MOMENTUM_POSITIVE),
        notes="(a) and (c) agree only while the learning rate is constant; (b) is (c) with dampening alpha. "
        "first_step matters only for the dampened form (b). mu is typically 0.5 to 0.99 and may be ramped (Solberg).",
        model=OptimizerModel(
            build=_build_momentum,
            load_state=lambda o, hp, cs, p: _momentum_family_state(o["form"], hp, cs, p),
            buffers=("trace",),
        ),
    )
)

register(
    SpecEntry(
        id="opt.nesterov",
        title="Nesterov momentum (look-ahead and rewritten forms)",
        tier="core",
        kind="optimizers",
        formula=r"v \leftarrow \mu v - \eta\nabla L(\theta + \mu v),\ \theta \leftarrow \theta + v"
        r"\ \Longleftrightarrow\ v_\text{prev} \leftarrow v;\ v \leftarrow \mu v - \eta g;\ "
        r"\tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v,\ \tilde\theta = \theta + \mu v",
        citations=(
            C.at(C.SOLBERG, "Nesterov momentum; Implementing Nesterov"),
            C.at(C.VITAY, "SGD with Nesterov momentum"),
            C.at(C.ZHENG, "Faster optimizers (Nesterov Accelerated Gradient)"),
            C.at(C.PADILLA_MONTANI, "Momentum Optimization (use_nesterov)"),
            C.NESTEROV,
            C.SUTSKEVER,
        ),
        variant_axes=(
            VariantAxis(
                "form",
                (
                    VariantOption(
                        "eta_inside",
                        "rewritten form with the learning rate inside the velocity",
                        r"v \leftarrow \mu v - \eta_t g;\ \tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v",
                        ("Solberg, corrected",),
                    ),
                    VariantOption(
                        "eta_outside",
                        "rewritten form with the learning rate outside the buffer",
                        r"b \leftarrow \mu b + g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (g + \mu b)",
                        ("PyTorch SGD(nesterov=True)", "optax.sgd(nesterov=True)"),
                    ),
                    VariantOption(
                        "exponential_average",
                        "rewritten form of Vitay's exponential-average Nesterov",
                        r"b \leftarrow \alpha b + (1-\alpha) g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (\alpha b + (1-\alpha) g)",
                        ("Vitay, corrected",),
                    ),
                ),
            ),
        ),
        errata=(
            Erratum(
                source=C.at(C.SOLBERG, "Implementing Nesterov"),
                printed=r"x \mathrel{+}= -\mu v_\text{prev} + (1-\mu) v",
                correct=r"x \mathrel{+}= -\mu v_\text{prev} + (1+\mu) v",
                explanation="With x = theta + mu*v, x_new - x = v_new + mu*v_new - mu*v_prev; the printed (1-mu) "
                "drops 2*mu*v_new every step.",
                check=_solberg_nesterov_check,
            ),
            Erratum(
                source=C.at(C.VITAY, "SGD with Nesterov momentum"),
                printed=r"\nabla_\theta L(\theta + \alpha v)",
                correct=r"\nabla_\theta L(\theta + \eta\alpha v)",
                explanation="With the update theta += eta*v, the momentum carries theta to theta + eta*alpha*v; "
                "the printed look-ahead point omits eta (right only when eta = 1).",
                check=_vitay_nesterov_check,
            ),
        ),
        hyperparameters=(LEARNING_RATE, MOMENTUM_POSITIVE),
        notes="Frameworks store theta~ = theta + mu*v and use a rewritten form; each uses its own.",
        model=OptimizerModel(
            build=_build_nesterov,
            load_state=lambda o, hp, cs, p: _momentum_family_state(o["form"], hp, cs, p),
            buffers=("trace",),
        ),
    )
)

register(
    SpecEntry(
        id="opt.weight_decay",
        title="Weight decay: L2 through the gradient, or decoupled",
        tier="core",
        kind="optimizers",
        formula=r"g \leftarrow g + \lambda\theta\ \ \text{(L2 through the gradient)};\qquad "
        r"\theta \leftarrow \theta - \eta\lambda\theta\ \ \text{(decoupled)}",
        citations=(
            C.at(C.SOLBERG, "Repetition: Batch gradient descent (L2 term)"),
            C.at(C.VITAY, "L2 Regularization"),
            C.KROGH_HERTZ,
            C.LOSHCHILOV_HUTTER,
        ),
        variant_axes=(
            VariantAxis(
                "decay",
                (
                    VariantOption(
                        "l2_gradient",
                        "L2 through the gradient, coefficient lambda (penalty lambda/2 ||theta||^2)",
                        r"g \leftarrow g + \lambda\theta",
                        (
                            "Solberg",
                            "PyTorch SGD(weight_decay=)",
                            "optax.add_decayed_weights before sgd",
                        ),
                    ),
                    VariantOption(
                        "l2_gradient_2lambda",
                        "L2 through the gradient from the penalty lambda ||theta||^2",
                        r"g \leftarrow g + 2\lambda\theta",
                        ("Vitay",),
                    ),
                    VariantOption(
                        "decoupled",
                        "decoupled decay, multiplied by the current learning rate",
                        r"\theta \leftarrow \theta + u - \eta_t\lambda\theta",
                        ("Loshchilov & Hutter (2019)", "Keras SGD(weight_decay=)"),
                    ),
                    VariantOption(
                        "decoupled_unscaled",
                        "decoupled decay, not multiplied by the learning rate",
                        r"\theta \leftarrow \theta + u - \lambda\theta",
                        ("Loshchilov & Hutter (2019) with schedule multiplier 1",),
                    ),
                ),
            ),
            VariantAxis("momentum_form", _FORM_OPTIONS[:2]),
        ),
        hyperparameters=(LEARNING_RATE, MOMENTUM, WEIGHT_DECAY),
        notes="The coefficient convention (lambda vs 2*lambda vs lambda/2) and whether eta multiplies the "
        "decoupled term are variants. A momentum step taken before an L2 term that bypasses the buffer is "
        "exactly the decoupled form.",
        model=OptimizerModel(
            build=_build_weight_decay,
            load_state=lambda o, hp, cs, p: _momentum_family_state(
                o["momentum_form"], hp, cs, p, decay=o["decay"]
            ),
            buffers=("trace",),
        ),
    )
)
