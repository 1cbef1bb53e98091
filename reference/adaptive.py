r"""Adaptive optimizers: AdaGrad, RMSprop, Adam, AdamW, Nadam, Adamax and Adadelta (pure NumPy, float64).

Each optimizer is a chain of a *scaling unit* (``scale_by_*``: the learning-rate-free direction,
with its state) and the learning-rate unit, as in optax; AdamW adds the decoupled weight decay
of :func:`decoupled_weight_decay` after the learning rate.
Every hyperparameter and every option is checked when a transformation is built, and each error
names the argument. Updates carry their sign: apply them with
:func:`~trainspec.reference.base.apply_updates`.

Steps are counted from 1: a state's ``count`` is the number of steps already taken, so the step
being taken is $t = \text{count} + 1$, and bias corrections use $1 - \beta^t$ with that $t$. The
learning-rate schedule is evaluated at ``count`` (step $t$ uses ``learning_rate(t - 1)``), as in
:mod:`trainspec.reference.optimizers`.

The formulas use Python operators and the NumPy ufuncs that the tolerance policy tracks
(:mod:`trainspec.conformance.tolerance`): ``+ - * /``, ``x ** 2``, ``np.sqrt``, ``np.maximum``
and ``abs``. Coefficients derived from hyperparameters and the step count ($1-\beta^t$, the Nadam
momentum schedule) are Python floats.

The spec entries ``opt.adagrad``, ``opt.rmsprop``, ``opt.adam``, ``opt.adamw``, ``opt.nadam``,
``opt.adamax`` and ``opt.adadelta`` are registered at the bottom of this module. Their canonical
buffers (the trees of :class:`~trainspec.reference.optimizers.CanonicalState`) are described in
:data:`BUFFER_MEANINGS`; those in :data:`NONNEGATIVE_BUFFERS` hold values $\ge 0$ in every
reachable state, and a strategy must draw them so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
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
    either_order,
    tree_map,
)
from trainspec.reference.optimizers import (
    LEARNING_RATE,
    MOMENTUM,
    WEIGHT_DECAY,
    CanonicalState,
    OptimizerModel,
    ScaleByLearningRateState,
    TraceState,
    VelocityState,
    WeightDecayState,
    _check_count,
    scale_by_learning_rate,
    trace,
    velocity,
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
    "BUFFER_MEANINGS",
    "NONNEGATIVE_BUFFERS",
    "AdaptiveOptimizerModel",
    "ScaleByAdadeltaState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "decoupled_weight_decay",
    "moving_average",
    "nadam",
    "nadam_decay",
    "nadam_momentum_product",
    "nadam_mu",
    "padilla_montani_adam_erratum",
    "rmsprop",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_nadam",
    "scale_by_rms",
    "scale_by_rss",
]

EPS_PLACEMENTS = ("outside", "inside")
ADAM_EPS_PLACEMENTS = ("outside", "inside", "eps_hat")
AMSGRAD_FORMS = ("off", "max_uncorrected", "max_corrected", "max_never_corrected")
RMSPROP_MOMENTUM_FORMS = ("eta_inside", "eta_outside")
NADAM_SCHEDULES = ("dozat_decay", "dozat_decay_psi1", "none")
NADAM_SCHEDULE_PRECISIONS = ("as_params", "decay_float32", "product_float32")
ADAMAX_EPS_PLACEMENTS = ("outside", "in_max")
DECAY_SCALINGS = ("lr_times_lambda", "lambda_only")

#: Canonical buffers whose values are >= 0 in every reachable state (second moments,
#: accumulators, infinity norms): strategies must draw them non-negative.
NONNEGATIVE_BUFFERS = frozenset({"accumulator", "square_avg", "v", "v_max", "u", "acc_delta"})

#: What each canonical buffer of each spec ID holds (every buffer is a tree shaped like params).
BUFFER_MEANINGS: dict[str, dict[str, str]] = {
    "opt.adagrad": {
        "accumulator": "G, the sum of squared gradients including the initial value "
        "(G = initial_accumulator_value + sum of g^2); >= 0. PyTorch state['sum'], Keras "
        "'accumulator', optax ScaleByRssState.sum_of_squares.",
    },
    "opt.rmsprop": {
        "square_avg": "s, the running average of squared gradients; >= 0. PyTorch "
        "state['square_avg'], Keras 'velocity', optax nu.",
        "grad_avg": "the running average of gradients, used only by the centered variant "
        "(reachable states have square_avg >= grad_avg^2). PyTorch state['grad_avg'], Keras "
        "'average_gradient', optax mu.",
        "momentum_buffer": "b, the learning-rate-free momentum buffer: b <- mu b + g/denom, "
        "theta <- theta - eta b (PyTorch state['momentum_buffer']). The eta_inside form (Keras "
        "'momentum', optax trace) stores eta*b; it is loaded as -eta_t*b, the velocity the same "
        "history leaves at a constant learning rate. Unused when momentum = 0.",
    },
    "opt.adam": {
        "m": "the uncorrected first moment (running average of gradients).",
        "v": "the uncorrected second moment (running average of squared gradients); >= 0.",
        "v_max": "the AMSGrad running maximum, in the variant's own scale and loaded as is: the "
        "maximum of v for amsgrad=max_uncorrected (PyTorch max_exp_avg_sq, Keras velocity_hat) "
        "and amsgrad=max_never_corrected (optax nu_max with bias_correction_nu=False), of the "
        "corrected v-hat for amsgrad=max_corrected (optax nu_max); >= 0. Unused when "
        "amsgrad=off.",
    },
    "opt.adamw": {},  # filled below: the buffers of opt.adam
    "opt.nadam": {
        "m": "the uncorrected first moment (running average of gradients).",
        "v": "the uncorrected second moment; >= 0. The product of the momentum schedule "
        "(PyTorch mu_product, Keras _u_product) is not a buffer: it follows from count, beta1 "
        "and momentum_decay (see nadam_momentum_product).",
    },
    "opt.adamax": {
        "m": "the uncorrected first moment (running average of gradients).",
        "u": "the exponentially weighted infinity norm (PyTorch exp_inf, Keras 'norm', optax nu); "
        ">= 0. In the eps=in_max variant it includes the eps added inside the maximum.",
    },
    "opt.adadelta": {
        "square_avg": "E[g^2], the running average of squared gradients; >= 0. PyTorch "
        "square_avg, Keras accumulated_grad, optax e_g.",
        "acc_delta": "E[dx^2], the running average of squared learning-rate-free steps; >= 0. "
        "PyTorch acc_delta, Keras accumulated_delta_var, optax e_x.",
    },
}
BUFFER_MEANINGS["opt.adamw"] = dict(BUFFER_MEANINGS["opt.adam"])


@dataclass(frozen=True)
class AdaptiveOptimizerModel(OptimizerModel):
    r""":class:`~trainspec.reference.optimizers.OptimizerModel` with one more invariant of reachable
    states: ``square_dominates`` lists pairs ``(s, a)`` of canonical buffers with $s \ge a^2$
    element by element (RMSprop's running averages of $g^2$ and of $g$, by Jensen's inequality:
    $\rho s + (1-\rho) g^2 - (\rho a + (1-\rho) g)^2 = \rho(s - a^2) + \rho(1-\rho)(g-a)^2$).
    A strategy must draw states that satisfy it exactly in the dtype under test."""

    square_dominates: tuple[tuple[str, str], ...] = ()


def _check_beta(name: str, value: Any) -> float:
    return check_number(name, value, low=0.0, high=1.0, high_closed=False)


def _check_eps(value: Any) -> float:
    return check_number("eps", value, low=0.0, low_closed=False)


def _zeros(params: Tree) -> dict[str, Any]:
    return tree_map(lambda p: np.zeros(p.shape), params)


def moving_average(beta: Any, average: Any, value: Any) -> Any:
    r"""The exponential moving average $\beta a + (1-\beta) x$ of every unit of this module.

    Symbols: $\beta$ = ``beta``, $a$ = ``average``, $x$ = ``value``.

    .. math:: a \leftarrow \beta a + (1-\beta) x \;=\; a + (1-\beta)(x - a)

    Both orders are written (:func:`~trainspec.reference.base.either_order`): PyTorch's
    ``exp_avg.lerp_(grad, 1 - beta1)`` (Adam, AdamW, NAdam, Adamax, and RMSprop's ``grad_avg``)
    and Keras's ``m.assign_add((g - m) * (1 - beta_1))`` (Adam, AdamW, Nadam, Adamax) use the
    interpolation $a + (1-\beta)(x - a)$, whose rounding differs from that of
    $\beta a + (1-\beta) x$ (optax's ``update_moment``, PyTorch's
    ``mul_(beta2).addcmul_(grad, grad, value=1 - beta2)``) when $\beta$ is small and $|a| \gg |x|$.
    The interpolation's bound, $u(|a| + |x|)$, is not relative to the result: with $\beta = 0$
    it admits $a + (x - a) = 0$ for $x \ll u|a|$. RMSprop's ``square_avg`` and Adadelta's two
    averages are written in the one order every framework uses, $\beta a + (1-\beta) x$.
    """
    return either_order(
        beta * average + (1.0 - beta) * value, average + (1.0 - beta) * (value - average)
    )


# ---------------------------------------------------------------------------------------------
# AdaGrad


class ScaleByRssState(NamedTuple):
    accumulator: dict[str, Any]


def scale_by_rss(
    eps: float, *, initial_accumulator_value: float = 0.0, eps_placement: str = "outside"
) -> GradientTransformation:
    r"""Divide by the root of the sum of squared gradients (AdaGrad's scaling, without $\eta$).

    Symbols: $G$ = ``state.accumulator``, $G_0$ = ``initial_accumulator_value``,
    $\epsilon$ = ``eps``, $g$ = the incoming updates.

    .. math::
        G \leftarrow G + g^2, \qquad
        u = \begin{cases} g / (\sqrt{G} + \epsilon) & \texttt{outside} \\
                          g / \sqrt{G + \epsilon} & \texttt{inside} \end{cases}

    and $G$ starts at $G_0$.
    """
    e = _check_eps(eps)
    g0 = check_number("initial_accumulator_value", initial_accumulator_value, low=0.0)
    place = check_choice("eps_placement", eps_placement, EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByRssState:
        check_tree("params", params)
        return ScaleByRssState(accumulator=tree_map(lambda p: np.zeros(p.shape) + g0, params))

    def update(updates: Tree, state: ScaleByRssState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.accumulator", state.accumulator, "updates", updates)
        acc = tree_map(lambda g, a: a + g**2, updates, state.accumulator)
        if place == "outside":
            out = tree_map(lambda g, a: g / (np.sqrt(a) + e), updates, acc)
        else:
            out = tree_map(lambda g, a: g / np.sqrt(a + e), updates, acc)
        return out, ScaleByRssState(accumulator=acc)

    return GradientTransformation(init, update)


def adagrad(
    learning_rate: float | Schedule,
    eps: float = 1e-7,
    *,
    initial_accumulator_value: float = 0.0,
    eps_placement: str = "outside",
) -> GradientTransformation:
    r"""AdaGrad, ``opt.adagrad``.

    Symbols: $\eta_t$ = ``learning_rate``, $\epsilon$ = ``eps``, $G$ = the accumulator
    (``initial_accumulator_value`` $= G_0$ at the start), $g$ = gradient.

    .. math::
        G \leftarrow G + g^2, \qquad
        \theta \leftarrow \theta - \eta_t\, \frac{g}{\sqrt{G} + \epsilon}
        \quad\text{or (inside)}\quad \theta \leftarrow \theta - \eta_t\, \frac{g}{\sqrt{G + \epsilon}}

    Solberg, *INF 5860 Lecture 9* ("AdaGrad updates (DL 8.5.1)", $\epsilon = 10^{-7}$ outside);
    *Neural network architectures, part one* ("Adaptive optimization", $\epsilon$ inside);
    Zheng, *CS286 Lecture 6*; Duchi et al. (2011) (the $\delta I$ of the diagonal form is outside
    the root); Goodfellow et al. (2016), §8.5.1.

    .. warning:: Frameworks split: PyTorch puts $\epsilon$ outside and starts $G$ at 0 (its
       ``lr_decay`` is out of scope: use 0); Keras and optax put $\epsilon$ inside and start $G$
       at 0.1. optax also returns a zero update wherever $G = 0$ (which, with $\epsilon > 0$,
       differs only where $g^2$ underflows).
    """
    return chain(
        scale_by_rss(
            eps, initial_accumulator_value=initial_accumulator_value, eps_placement=eps_placement
        ),
        scale_by_learning_rate(learning_rate),
    )


# ---------------------------------------------------------------------------------------------
# RMSprop


class ScaleByRmsState(NamedTuple):
    square_avg: dict[str, Any]
    grad_avg: dict[str, Any]


def scale_by_rms(
    rho: float, eps: float, *, centered: bool = False, eps_placement: str = "outside"
) -> GradientTransformation:
    r"""Divide by the root of the running average of squared gradients (RMSprop's scaling).

    Symbols: $\rho$ = ``rho``, $\epsilon$ = ``eps``, $s$ = ``state.square_avg``,
    $\bar g$ = ``state.grad_avg`` (centered only), $g$ = the incoming updates.

    .. math::
        s \leftarrow \rho s + (1-\rho) g^2, \quad
        \bar g \leftarrow \rho \bar g + (1-\rho) g, \quad
        d = \begin{cases} s - \bar g^2 & \text{centered} \\ s & \text{plain} \end{cases}, \quad
        u = \begin{cases} g / (\sqrt{d} + \epsilon) & \texttt{outside} \\
                          g / \sqrt{d + \epsilon} & \texttt{inside} \end{cases}

    The plain variant leaves $\bar g$ as it is.
    """
    r = check_number("rho", rho, low=0.0, high=1.0, high_closed=False)
    e = _check_eps(eps)
    if not isinstance(centered, bool):
        raise TypeError(f"centered={centered!r}: must be a bool")
    place = check_choice("eps_placement", eps_placement, EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByRmsState:
        check_tree("params", params)
        return ScaleByRmsState(square_avg=_zeros(params), grad_avg=_zeros(params))

    def update(updates: Tree, state: ScaleByRmsState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.square_avg", state.square_avg, "updates", updates)
        check_same_structure("state.grad_avg", state.grad_avg, "updates", updates)
        sq = tree_map(lambda g, s: r * s + (1.0 - r) * g**2, updates, state.square_avg)
        if centered:
            ga = tree_map(lambda g, a: moving_average(r, a, g), updates, state.grad_avg)
            d = tree_map(lambda s, a: s - a**2, sq, ga)
        else:
            ga = dict(state.grad_avg)
            d = sq
        if place == "outside":
            out = tree_map(lambda g, x: g / (np.sqrt(x) + e), updates, d)
        else:
            out = tree_map(lambda g, x: g / np.sqrt(x + e), updates, d)
        return out, ScaleByRmsState(square_avg=sq, grad_avg=ga)

    return GradientTransformation(init, update)


def rmsprop(
    learning_rate: float | Schedule,
    rho: float = 0.9,
    eps: float = 1e-7,
    momentum: float = 0.0,
    *,
    centered: bool = False,
    eps_placement: str = "outside",
    momentum_form: str = "eta_inside",
) -> GradientTransformation:
    r"""RMSprop, ``opt.rmsprop``, plain or centered, with optional momentum.

    Symbols: $\eta_t$ = ``learning_rate``, $\rho$ = ``rho``, $\epsilon$ = ``eps``,
    $\mu$ = ``momentum``, $s$ = the running average of $g^2$, $\bar g$ = that of $g$ (centered),
    $D = \sqrt{s} + \epsilon$ (``outside``) or $\sqrt{s + \epsilon}$ (``inside``), with $s$
    replaced by $s - \bar g^2$ when centered.

    .. math::
        s \leftarrow \rho s + (1-\rho) g^2, \qquad
        \theta \leftarrow \theta - \eta_t\, g / D \quad (\mu = 0)

    With momentum the learning rate sits inside or outside the buffer:

    .. math::
        \texttt{eta\_inside:}\quad & v \leftarrow \mu v - \eta_t\, g/D, & \theta \leftarrow \theta + v \\
        \texttt{eta\_outside:}\quad & b \leftarrow \mu b + g/D, & \theta \leftarrow \theta - \eta_t b

    Vitay, *Neurocomputing* ("RMSprop": $\epsilon + \sqrt{v}$; Keras defaults $\eta = 0.001$,
    $\rho = 0.9$, momentum 0, $\epsilon = 10^{-7}$); Solberg, *INF 5860 Lecture 9* ("RMSprop
    update": decay 0.9, $\epsilon = 10^{-7}$ outside); Zheng, *CS286 Lecture 6*;
    Tieleman & Hinton (2012) (no $\epsilon$); Goodfellow et al. (2016), §8.5.2.

    .. warning:: Frameworks split three ways. PyTorch: $\epsilon$ outside the root (also
       centered: $\sqrt{s - \bar g^2} + \epsilon$) and momentum ``eta_outside``. Keras: $\epsilon$
       inside the root ($\sqrt{s - \bar g^2 + \epsilon}$) and momentum ``eta_inside``. optax:
       $\epsilon$ inside by default (``eps_in_sqrt=False`` gives outside) and momentum
       ``eta_inside`` (``trace`` after ``scale_by_learning_rate``). The two momentum forms agree
       only while $\eta$ is constant.
    """
    form = check_choice("momentum_form", momentum_form, RMSPROP_MOMENTUM_FORMS)
    scale = scale_by_rms(rho, eps, centered=centered, eps_placement=eps_placement)
    if form == "eta_inside":
        return chain(scale, velocity(learning_rate, momentum))
    return chain(scale, trace(momentum), scale_by_learning_rate(learning_rate))


# ---------------------------------------------------------------------------------------------
# Adam, AMSGrad, AdamW


class ScaleByAdamState(NamedTuple):
    count: int
    m: dict[str, Any]
    v: dict[str, Any]
    v_max: dict[str, Any] | None  # None when amsgrad="off"


def scale_by_adam(
    beta1: float,
    beta2: float,
    eps: float,
    *,
    eps_placement: str = "outside",
    bias_correction: bool = True,
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""Adam's direction (without $\eta$), with every framework's $\epsilon$ and AMSGrad form.

    Symbols: $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``, $\epsilon$ = ``eps``, $m$ = ``state.m``,
    $v$ = ``state.v``, $v_\max$ = ``state.v_max``, $t$ = ``state.count`` + 1,
    $c_1 = 1 - \beta_1^t$, $c_2 = 1 - \beta_2^t$ ($c_1 = c_2 = 1$ when ``bias_correction`` is off).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2

    The second moment used, $s$ (uncorrected) or $\hat s$ (corrected), by ``amsgrad``:

    .. math::
        \texttt{off:}\ s = v; \qquad
        \texttt{max\_uncorrected:}\ v_\max \leftarrow \max(v_\max, v),\ s = v_\max; \\
        \texttt{max\_corrected:}\ v_\max \leftarrow \max(v_\max, v/c_2),\ \hat s = v_\max; \qquad
        \texttt{max\_never\_corrected:}\ v_\max \leftarrow \max(v_\max, v),\ \hat s = v_\max

    with $\hat s = s / c_2$ otherwise; then, by ``eps_placement``:

    .. math::
        \texttt{outside:}\ u = \frac{m / c_1}{\sqrt{\hat s} + \epsilon}, \qquad
        \texttt{inside:}\ u = \frac{m / c_1}{\sqrt{\hat s + \epsilon}}, \qquad
        \texttt{eps\_hat:}\ u = \frac{\sqrt{c_2}}{c_1}\, \frac{m}{\sqrt{c_2 \hat s} + \epsilon}

    (``eps_hat`` is ``outside`` with $\epsilon$ replaced by $\epsilon/\sqrt{c_2}$.) The forms are
    written in the frameworks' order: $\sqrt{s}/\sqrt{c_2}$ (PyTorch), $\sqrt{s}$ with
    $\eta\sqrt{c_2}/c_1$ (Keras).
    """
    b1 = _check_beta("beta1", beta1)
    b2 = _check_beta("beta2", beta2)
    e = _check_eps(eps)
    place = check_choice("eps_placement", eps_placement, ADAM_EPS_PLACEMENTS)
    # max_never_corrected: the maximum of the uncorrected v, itself used as v-hat (optax's
    # scale_by_amsgrad with bias_correction_nu=False: nu_eff = nu; nu_max = maximum(nu_max,
    # nu_eff); m_hat / (sqrt(nu_max + eps_root) + eps), optax/_src/transform.py)
    if not isinstance(bias_correction, bool):
        raise TypeError(f"bias_correction={bias_correction!r}: must be a bool")
    ams = check_choice("amsgrad", amsgrad, AMSGRAD_FORMS)

    def init(params: Tree) -> ScaleByAdamState:
        check_tree("params", params)
        return ScaleByAdamState(
            count=0,
            m=_zeros(params),
            v=_zeros(params),
            v_max=None if ams == "off" else _zeros(params),
        )

    def update(updates: Tree, state: ScaleByAdamState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.v", state.v, "updates", updates)
        if ams != "off":
            if state.v_max is None:
                raise ValueError(
                    f"state.v_max: amsgrad={ams!r} needs the running maximum (got None)"
                )
            check_same_structure("state.v_max", state.v_max, "updates", updates)
        count = _check_count("state.count", state.count)
        t = count + 1
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        v = tree_map(lambda g, x: moving_average(b2, x, g**2), updates, state.v)
        c1 = 1.0 - b1**t if bias_correction else 1.0
        c2 = 1.0 - b2**t if bias_correction else 1.0
        sc2 = np.sqrt(c2)
        v_max = state.v_max
        if ams in ("max_corrected", "max_never_corrected"):
            if bias_correction and ams == "max_corrected":
                v_max = tree_map(lambda x, vm: np.maximum(vm, x / c2), v, v_max)
            else:
                v_max = tree_map(lambda x, vm: np.maximum(vm, x), v, v_max)
            s_hat = v_max
            if place == "outside":
                out = tree_map(lambda mm, s: (mm / c1) / (np.sqrt(s) + e), m, s_hat)
            elif place == "inside":
                out = tree_map(lambda mm, s: (mm / c1) / np.sqrt(s + e), m, s_hat)
            else:
                out = tree_map(lambda mm, s: (sc2 / c1) * mm / (np.sqrt(s) * sc2 + e), m, s_hat)
            return out, ScaleByAdamState(count=t, m=m, v=v, v_max=v_max)
        if ams == "max_uncorrected":
            v_max = tree_map(lambda x, vm: np.maximum(vm, x), v, v_max)
            s = v_max
        else:
            s = v
        if not bias_correction:
            if place == "inside":
                out = tree_map(lambda mm, x: mm / np.sqrt(x + e), m, s)
            else:  # outside and eps_hat coincide without bias correction
                out = tree_map(lambda mm, x: mm / (np.sqrt(x) + e), m, s)
        elif place == "outside":
            out = tree_map(lambda mm, x: (mm / c1) / (np.sqrt(x) / sc2 + e), m, s)
        elif place == "inside":
            out = tree_map(lambda mm, x: (mm / c1) / np.sqrt(x / c2 + e), m, s)
        else:
            out = tree_map(lambda mm, x: (sc2 / c1) * mm / (np.sqrt(x) + e), m, s)
        return out, ScaleByAdamState(count=t, m=m, v=v, v_max=v_max)

    return GradientTransformation(init, update)


def adam(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_placement: str = "outside",
    bias_correction: bool = True,
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""Adam, ``opt.adam`` (Kingma & Ba 2015, Algorithm 1), and its framework forms.

    Symbols: $\eta_t$ = ``learning_rate``, $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``,
    $\epsilon$ = ``eps``, $t$ = the step (from 1).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \hat m = \frac{m}{1-\beta_1^t}, \quad \hat v = \frac{v}{1-\beta_2^t}, \quad
        \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}

    See :func:`scale_by_adam` for ``eps_placement`` (``outside``, ``inside``, ``eps_hat``),
    ``bias_correction`` and ``amsgrad`` (``off``, ``max_uncorrected``, ``max_corrected``).

    Vitay, *Neurocomputing* ("Adam": no bias correction, $\epsilon + \sqrt{v}$; Keras defaults
    $\epsilon = 10^{-7}$); Solberg, *INF 5860 Lecture 9* ("ADAM update", DL 8.5.3: bias
    corrected, $\delta = 10^{-8}$ outside); Zheng, *CS286 Lecture 6*; Padilla Montani, *Neural
    Networks Tricks-Of-The-Trade* ("Adam Optimization": $\sqrt{\hat s + \epsilon}$, $\epsilon =
    10^{-8}$); Kingma & Ba (2015); Reddi et al. (2018) for AMSGrad.

    .. warning:: Frameworks split on $\epsilon$: PyTorch and optax use ``outside``; Keras uses
       ``eps_hat`` ($\eta_t \sqrt{1-\beta_2^t}/(1-\beta_1^t) \cdot m/(\sqrt{v} + \hat\epsilon)$, the
       form of Kingma & Ba's §2 remark); optax's ``eps_root`` is ``inside``. On AMSGrad, PyTorch
       and Keras keep the maximum of the uncorrected $v$ (and divide its root by
       $\sqrt{1-\beta_2^t}$, or not, by their $\epsilon$ form), optax keeps the maximum of the
       corrected $\hat v$ (``max_corrected``); with ``bias_correction_nu=False`` optax keeps the
       maximum of the uncorrected $v$ and never corrects it, while still correcting $m$
       (``max_never_corrected``; ``optax/_src/transform.py``, ``scale_by_amsgrad``:
       ``nu_eff = nu``). Reddi et al. use no bias correction at all.
    """
    return chain(
        scale_by_adam(
            beta1,
            beta2,
            eps,
            eps_placement=eps_placement,
            bias_correction=bias_correction,
            amsgrad=amsgrad,
        ),
        scale_by_learning_rate(learning_rate),
    )


def decoupled_weight_decay(
    weight_decay: float, *, learning_rate: float | Schedule | None = None
) -> GradientTransformation:
    r"""AdamW's decoupled weight decay: subtract $\eta_t\lambda\theta$ from the final update.

    Symbols: $\lambda$ = ``weight_decay``, $\eta_t$ = ``learning_rate`` at step $t$ (``None``: the
    decay is not multiplied by the learning rate, $\eta_t\lambda$ is replaced by $\lambda$),
    $u$ = the incoming update (the learning-rate-scaled Adam step), $\theta$ = ``params``.

    .. math::
        \theta + u - \eta_t\lambda\theta \;=\; \theta(1 - \eta_t\lambda) + u
        \;=\; (\theta - \theta\lambda\eta_t) + u

    :func:`~trainspec.reference.optimizers.add_decoupled_weight_decay` with the frameworks'
    evaluation orders (:func:`~trainspec.reference.base.either_order`): optax adds
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
        t = _check_count("state.count", state.count)
        eta = 1.0 if lr is None else lr(t)
        scale = lam if lr is None else eta * lam

        def one(u: Any, p: Any) -> Any:
            # each order as the change of the parameters: (the framework's new theta) - theta
            return either_order(
                u - scale * p, (p * (1.0 - scale) + u) - p, ((p - p * lam * eta) + u) - p
            )

        return tree_map(one, updates, params), WeightDecayState(t + 1)

    return GradientTransformation(init, update)


def adamw(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    *,
    decay_scaling: str = "lr_times_lambda",
    eps_placement: str = "outside",
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""AdamW, ``opt.adamw``: Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Symbols: as :func:`adam`, and $\lambda$ = ``weight_decay``; $\theta$ is the parameter before
    the step.

    .. math::
        \texttt{lr\_times\_lambda:}\quad \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v}
        + \epsilon} - \eta_t \lambda \theta, \qquad
        \texttt{lambda\_only:}\quad \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v}
        + \epsilon} - \lambda \theta

    .. warning:: PyTorch (``param.mul_(1 - lr * weight_decay)``), Keras
       (``variable - variable * wd * lr``) and optax (``add_decayed_weights`` before
       ``scale_by_learning_rate``) multiply the decay by the learning rate. Loshchilov & Hutter's
       Algorithm 2 multiplies it by the schedule multiplier only, not by the base learning rate:
       ``lambda_only`` is that form with the multiplier 1.
    """
    scaling = check_choice("decay_scaling", decay_scaling, DECAY_SCALINGS)
    return chain(
        scale_by_adam(beta1, beta2, eps, eps_placement=eps_placement, amsgrad=amsgrad),
        scale_by_learning_rate(learning_rate),
        decoupled_weight_decay(
            weight_decay, learning_rate=learning_rate if scaling == "lr_times_lambda" else None
        ),
    )


# ---------------------------------------------------------------------------------------------
# Nadam


#: Dozat's decay constant of the momentum schedule, $0.96$
NADAM_DECAY = 0.96
#: the same constant as Keras uses it: ``ops.cast(0.96, var_dtype)`` goes through float32
NADAM_DECAY_FLOAT32 = float(np.float32(NADAM_DECAY))
_FLOAT32_UNIT_ROUNDOFF = 2.0**-24


def nadam_decay(schedule_precision: str = "as_params") -> float:
    """The decay constant $0.96$ of the step's momentum coefficients, as ``schedule_precision``
    holds it: exactly (``as_params``, ``product_float32``), or rounded to float32
    (``decay_float32``; the running product keeps 0.96 exactly, see :func:`scale_by_nadam`)."""
    prec = check_choice("schedule_precision", schedule_precision, NADAM_SCHEDULE_PRECISIONS)
    return NADAM_DECAY_FLOAT32 if prec == "decay_float32" else NADAM_DECAY


def nadam_mu(
    step: int,
    beta1: float,
    momentum_decay: float,
    schedule: str,
    *,
    decay: float = NADAM_DECAY,
) -> float:
    r"""The momentum coefficient $\mu_t$ of step ``step`` ($t \ge 1$).

    .. math::
        \texttt{dozat\_decay:}\ \mu_t = \beta_1\,(1 - \tfrac12\, d^{t\psi}), \qquad
        \texttt{dozat\_decay\_psi1:}\ \mu_t = \beta_1\,(1 - \tfrac12\, d^{t}), \qquad
        \texttt{none:}\ \mu_t = \beta_1

    with $\psi$ = ``momentum_decay`` and $d$ = ``decay`` ($0.96$; see :func:`nadam_decay`).
    """
    if schedule == "none":
        return beta1
    psi = momentum_decay if schedule == "dozat_decay" else 1.0
    return beta1 * (1.0 - 0.5 * decay ** (step * psi))


def nadam_momentum_product(
    count: int,
    beta1: float,
    momentum_decay: float,
    schedule: str,
    *,
    decay: float = NADAM_DECAY,
) -> float:
    r"""$\Pi_t = \prod_{i=1}^{t} \mu_i$ after ``count`` $= t$ steps (1 when ``count`` is 0)."""
    t = _check_count("count", count)
    if schedule == "none":
        return beta1**t
    prod = 1.0
    for i in range(1, t + 1):
        prod *= nadam_mu(i, beta1, momentum_decay, schedule, decay=decay)
    return prod


def _held_in_float32(x: Any) -> Any:
    r"""``x`` as a float32 tensor holds it (PyTorch's ``mu_product``): the value $x$, with a bound
    that also admits its rounding to float32, $x(1 \pm u_{32})$ (through
    :func:`~trainspec.reference.base.either_order`; a plain number is returned unchanged)."""
    return either_order(x, x * (1.0 + _FLOAT32_UNIT_ROUNDOFF), x * (1.0 - _FLOAT32_UNIT_ROUNDOFF))


class ScaleByNadamState(NamedTuple):
    count: int
    m: dict[str, Any]
    v: dict[str, Any]
    mu_product: float  # prod_{i <= count} mu_i


def scale_by_nadam(
    beta1: float,
    beta2: float,
    eps: float,
    momentum_decay: float = 0.004,
    *,
    momentum_schedule: str = "dozat_decay",
    schedule_precision: str = "as_params",
) -> GradientTransformation:
    r"""Nadam's direction (without $\eta$): Adam with Nesterov momentum (Dozat 2016, Algorithm 2).

    Symbols: $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``, $\epsilon$ = ``eps``,
    $\psi$ = ``momentum_decay``, $\mu_t$ = :func:`nadam_mu`, $\Pi_t = \prod_{i \le t}\mu_i$
    (``state.mu_product`` holds $\Pi_{t-1}$), $t$ = ``state.count`` + 1.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \hat m = \frac{\mu_{t+1}\, m}{1 - \Pi_{t+1}} + \frac{(1-\mu_t)\, g}{1 - \Pi_t}, \quad
        u = \frac{\hat m}{\sqrt{v / (1-\beta_2^t)} + \epsilon}

    With ``momentum_schedule="none"`` ($\mu_t = \beta_1$, $\Pi_t = \beta_1^t$) this is optax's
    ``nadam``: $\hat m = \beta_1 m/(1-\beta_1^{t+1}) + (1-\beta_1) g/(1-\beta_1^t)$.

    ``schedule_precision`` says in which precision the schedule is kept, when that is not the
    parameters' (two frameworks' fixed conventions, visible in float64):

    * ``as_params``: every coefficient in the parameters' precision;
    * ``decay_float32``: the constant $0.96$ rounded to float32, $d = 0.9599999785\ldots$, in
      the step's $\mu_t$ and $\mu_{t+1}$, while the running product $\Pi_t$ multiplies in
      $\mu_t$ with $0.96$ exactly (Keras: ``decay = ops.cast(0.96, var_dtype)`` in
      ``Nadam.update_step``, where the Python float becomes a float32 tensor before the cast;
      but ``ops.power(0.96, ops.cast(self.iterations + 1, dtype))`` in
      ``_backend_update_step``, which converts 0.96 to the variable's dtype directly,
      ``keras/src/optimizers/nadam.py``);
    * ``product_float32``: $\Pi_t$ held in a float32 tensor, $\mu_t$ rounded to float32 when
      multiplied in (PyTorch: ``state["mu_product"]`` is created with ``_get_scalar_dtype()``,
      float32 unless float64 is the default dtype, and updated by ``mu_product *= mu``,
      ``torch/optim/nadam.py``); the other coefficients are Python floats.
    """
    b1 = _check_beta("beta1", beta1)
    b2 = _check_beta("beta2", beta2)
    e = _check_eps(eps)
    psi = check_number("momentum_decay", momentum_decay, low=0.0)
    sched = check_choice("momentum_schedule", momentum_schedule, NADAM_SCHEDULES)
    decay = nadam_decay(schedule_precision)
    held = _held_in_float32 if schedule_precision == "product_float32" else (lambda x: x)

    def init(params: Tree) -> ScaleByNadamState:
        check_tree("params", params)
        return ScaleByNadamState(count=0, m=_zeros(params), v=_zeros(params), mu_product=1.0)

    def update(updates: Tree, state: ScaleByNadamState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.v", state.v, "updates", updates)
        count = _check_count("state.count", state.count)
        t = count + 1
        mu_t = nadam_mu(t, b1, psi, sched, decay=decay)
        mu_next = nadam_mu(t + 1, b1, psi, sched, decay=decay)
        if sched == "none":
            prod_t, prod_next = b1**t, b1 ** (t + 1)
        else:
            # the running product multiplies in mu_t with the exact 0.96 (Keras too)
            mu_t_product = mu_t if decay == NADAM_DECAY else nadam_mu(t, b1, psi, sched)
            prod_t = held(state.mu_product * held(mu_t_product))
            prod_next = prod_t * mu_next
        cm = mu_next / (1.0 - prod_next)
        cg = (1.0 - mu_t) / (1.0 - prod_t)
        c2 = 1.0 - b2**t
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        v = tree_map(lambda g, x: moving_average(b2, x, g**2), updates, state.v)
        out = tree_map(lambda g, mm, vv: (cm * mm + cg * g) / (np.sqrt(vv / c2) + e), updates, m, v)
        return out, ScaleByNadamState(count=t, m=m, v=v, mu_product=prod_t)

    return GradientTransformation(init, update)


def nadam(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    momentum_decay: float = 0.004,
    *,
    momentum_schedule: str = "dozat_decay",
    schedule_precision: str = "as_params",
) -> GradientTransformation:
    r"""Nadam, ``opt.nadam``: Adam with Nesterov momentum (Dozat 2016).

    Symbols: $\eta_t$ = ``learning_rate``; the rest as :func:`scale_by_nadam`.

    .. math::
        \theta \leftarrow \theta - \eta_t\,
        \frac{\frac{\mu_{t+1} m}{1-\Pi_{t+1}} + \frac{(1-\mu_t) g}{1-\Pi_t}}{\sqrt{v/(1-\beta_2^t)} + \epsilon},
        \qquad \mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})

    Vitay, *Neurocomputing* ("Adam": names Nadam); Zheng, *CS286 Lecture 6* ("Faster optimizers":
    Adam with the Nesterov trick); Dozat (2016), whose schedule uses $0.96^{t/250}$,
    i.e. $\psi = 0.004$.

    .. warning:: PyTorch ``NAdam`` uses ``dozat_decay`` with ``momentum_decay`` $= \psi$
       (default 0.004); Keras 3 ``Nadam`` uses ``dozat_decay_psi1`` ($0.96^t$, no $\psi$);
       optax ``nadam`` has no schedule (``none``). All keep the product $\Pi_t$ implicitly or in
       a state variable; here it follows from the step count. Keras rounds the constant $0.96$
       to float32 and PyTorch keeps $\Pi_t$ in float32 whatever the parameters' dtype
       (``schedule_precision``, see :func:`scale_by_nadam`).
    """
    return chain(
        scale_by_nadam(
            beta1,
            beta2,
            eps,
            momentum_decay,
            momentum_schedule=momentum_schedule,
            schedule_precision=schedule_precision,
        ),
        scale_by_learning_rate(learning_rate),
    )


# ---------------------------------------------------------------------------------------------
# Adamax


class ScaleByAdamaxState(NamedTuple):
    count: int
    m: dict[str, Any]
    u: dict[str, Any]


def scale_by_adamax(
    beta1: float, beta2: float, eps: float, *, eps_placement: str = "outside"
) -> GradientTransformation:
    r"""Adamax's direction (without $\eta$), Kingma & Ba (2015) §7.1.

    Symbols: $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``, $\epsilon$ = ``eps``, $m$ = ``state.m``,
    $u$ = ``state.u`` (the exponentially weighted infinity norm), $t$ = ``state.count`` + 1.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad
        \begin{cases}
        u \leftarrow \max(\beta_2 u, |g|),\ \ \Delta = \dfrac{m}{(1-\beta_1^t)(u + \epsilon)} & \texttt{outside} \\
        u \leftarrow \max(\beta_2 u, |g| + \epsilon),\ \ \Delta = \dfrac{m/(1-\beta_1^t)}{u} & \texttt{in\_max}
        \end{cases}
    """
    b1 = _check_beta("beta1", beta1)
    b2 = _check_beta("beta2", beta2)
    e = _check_eps(eps)
    place = check_choice("eps_placement", eps_placement, ADAMAX_EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByAdamaxState:
        check_tree("params", params)
        return ScaleByAdamaxState(count=0, m=_zeros(params), u=_zeros(params))

    def update(updates: Tree, state: ScaleByAdamaxState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.u", state.u, "updates", updates)
        count = _check_count("state.count", state.count)
        t = count + 1
        c1 = 1.0 - b1**t
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        if place == "outside":
            u = tree_map(lambda g, x: np.maximum(b2 * x, abs(g)), updates, state.u)
            out = tree_map(lambda mm, uu: mm / (c1 * (uu + e)), m, u)
        else:
            u = tree_map(lambda g, x: np.maximum(b2 * x, abs(g) + e), updates, state.u)
            out = tree_map(lambda mm, uu: (mm / c1) / uu, m, u)
        return out, ScaleByAdamaxState(count=t, m=m, u=u)

    return GradientTransformation(init, update)


def adamax(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_placement: str = "outside",
) -> GradientTransformation:
    r"""Adamax, ``opt.adamax``: Adam with the infinity norm (Kingma & Ba 2015, §7.1, Algorithm 2).

    Symbols: $\eta_t$ = ``learning_rate``; the rest as :func:`scale_by_adamax`.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad u \leftarrow \max(\beta_2 u, |g|), \quad
        \theta \leftarrow \theta - \frac{\eta_t}{1-\beta_1^t}\, \frac{m}{u + \epsilon}

    Vitay, *Neurocomputing* ("Adam": names AdaMax); Kingma & Ba (2015), whose Algorithm 2 has no
    $\epsilon$ (both options tend to it as $\epsilon \to 0$).

    .. warning:: Keras adds $\epsilon$ to the norm in the denominator (``outside``); PyTorch
       (``torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps))``) and optax
       (``update_infinity_moment``: ``maximum(|g| + eps, decay * t)``) add it inside the
       maximum, so that it is stored in $u$ (``in_max``).
    """
    return chain(
        scale_by_adamax(beta1, beta2, eps, eps_placement=eps_placement),
        scale_by_learning_rate(learning_rate),
    )


# ---------------------------------------------------------------------------------------------
# Adadelta


class ScaleByAdadeltaState(NamedTuple):
    square_avg: dict[str, Any]
    acc_delta: dict[str, Any]


def scale_by_adadelta(rho: float, eps: float) -> GradientTransformation:
    r"""Adadelta's step (without $\eta$), Zeiler (2012), Algorithm 1.

    Symbols: $\rho$ = ``rho``, $\epsilon$ = ``eps``, $E[g^2]$ = ``state.square_avg``,
    $E[\Delta x^2]$ = ``state.acc_delta``, $\mathrm{RMS}[y] = \sqrt{E[y^2] + \epsilon}$.

    .. math::
        E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2, \quad
        \Delta x = \frac{\mathrm{RMS}[\Delta x]_{t-1}}{\mathrm{RMS}[g]_t}\, g, \quad
        E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho) \Delta x^2, \quad u = \Delta x

    (the sign is applied by the learning-rate unit).
    """
    r = check_number("rho", rho, low=0.0, high=1.0, high_closed=False)
    e = _check_eps(eps)

    def init(params: Tree) -> ScaleByAdadeltaState:
        check_tree("params", params)
        return ScaleByAdadeltaState(square_avg=_zeros(params), acc_delta=_zeros(params))

    def update(updates: Tree, state: ScaleByAdadeltaState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.square_avg", state.square_avg, "updates", updates)
        check_same_structure("state.acc_delta", state.acc_delta, "updates", updates)
        sq = tree_map(lambda g, s: r * s + (1.0 - r) * g**2, updates, state.square_avg)
        delta = tree_map(
            lambda g, s, a: np.sqrt(a + e) / np.sqrt(s + e) * g, updates, sq, state.acc_delta
        )
        acc = tree_map(lambda d, a: r * a + (1.0 - r) * d**2, delta, state.acc_delta)
        return delta, ScaleByAdadeltaState(square_avg=sq, acc_delta=acc)

    return GradientTransformation(init, update)


def adadelta(
    learning_rate: float | Schedule = 1.0, rho: float = 0.95, eps: float = 1e-6
) -> GradientTransformation:
    r"""Adadelta, ``opt.adadelta`` (Zeiler 2012), with the frameworks' learning rate.

    Symbols: $\eta_t$ = ``learning_rate``, $\rho$ = ``rho``, $\epsilon$ = ``eps``.

    .. math::
        E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2, \quad
        \Delta x = -\frac{\sqrt{E[\Delta x^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}}\, g, \quad
        E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho) \Delta x^2, \quad
        \theta \leftarrow \theta + \eta_t \Delta x

    Vitay, *Neurocomputing* ("Adam": names Adadelta); *Neural network architectures, part one*
    ("Adaptive optimization": names Adadelta); Zeiler (2012), Algorithm 1 ($\rho = 0.95$,
    $\epsilon = 10^{-6}$).

    .. warning:: Zeiler's method has no learning rate: it is $\eta = 1$. PyTorch, Keras and
       optax multiply the step by a learning rate, but accumulate $E[\Delta x^2]$ from the step
       *without* it; all three put $\epsilon$ inside both roots, as Zeiler does.
    """
    return chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))


# ---------------------------------------------------------------------------------------------
# an erratum


def _padilla_montani_adam_check() -> ErratumEvidence:
    """With a constant gradient the bias-corrected moments equal g and g^2 at every step."""
    g = np.array([0.5, -2.0, 1e-3])
    theta0 = np.array([1.0, 1.0, 1.0])
    b1, b2, eps, eta, steps = 0.9, 0.999, 1e-8, 0.1, 10
    # exact: every step is -eta * g / sqrt(g^2 + eps) (eps inside the root, as printed)
    expected = theta0 - steps * eta * g / np.sqrt(g**2 + eps)
    # as printed: steps 3 and 4 overwrite m and s with their corrected values
    m = np.zeros(3)
    s = np.zeros(3)
    printed = theta0.copy()
    for t in range(1, steps + 1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        m = m / (1 - b1**t)
        s = s / (1 - b2**t)
        printed = printed - eta * m / np.sqrt(s + eps)
    transform = adam(eta, b1, b2, eps, eps_placement="inside")
    params = {"w": theta0}
    state = transform.init(params)
    for _ in range(steps):
        upd, state = transform.update({"w": g}, state, params)
        params = {"w": params["w"] + upd["w"]}
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - expected))),
        corrected_error=float(np.max(np.abs(params["w"] - expected))),
        detail="10 steps of a constant gradient, beta1=0.9, beta2=0.999, eps=1e-8 inside, eta=0.1: "
        "the bias-corrected moments equal g and g^2 exactly, so every step is -eta*g/sqrt(g^2+eps); "
        "overwriting m and s with their corrected values inflates m from the second step on",
    )


def padilla_montani_adam_erratum() -> Erratum:
    """An erratum of ``opt.adam``: Padilla Montani's Adam slide (the notebook's own LaTeX, with no
    hats) overwrites the moment buffers with their bias-corrected values."""
    return Erratum(
        source=C.at(C.PADILLA_MONTANI, "Adam Optimization"),
        printed=r"3.\ \mathbf{m} \leftarrow \frac{\mathbf{m}}{1-\beta_1^T};\ 4.\ \mathbf{s} \leftarrow "
        r"\frac{\mathbf{s}}{1-\beta_2^T};\ 5.\ \theta \leftarrow \theta - \eta\, \mathbf{m} \oslash \sqrt{\mathbf{s} + \epsilon}",
        correct=r"3.\ \hat{\mathbf{m}} \leftarrow \frac{\mathbf{m}}{1-\beta_1^T};\ 4.\ \hat{\mathbf{s}} \leftarrow "
        r"\frac{\mathbf{s}}{1-\beta_2^T};\ 5.\ \theta \leftarrow \theta - \eta\, \hat{\mathbf{m}} \oslash "
        r"\sqrt{\hat{\mathbf{s}} + \epsilon}",
        explanation="As printed, steps 3 and 4 overwrite the moment buffers with their bias-corrected values, "
        "so the next step's moving averages start from corrected values and the correction compounds; the "
        "corrected moments must be separate variables (Kingma & Ba's m-hat, v-hat).",
        check=_padilla_montani_adam_check,
    )


# ---------------------------------------------------------------------------------------------
# the spec entries: hyperparameters


def _hp(name: str, symbol: str, description: str, **kw: Any) -> HyperParameter:
    return HyperParameter(name, symbol, description, **kw)


BETA1 = _hp(
    "beta1",
    r"\beta_1",
    "decay rate of the first moment (running average of gradients)",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.999,
    special=(0.9, 0.0, 0.5),
)
BETA2 = _hp(
    "beta2",
    r"\beta_2",
    "decay rate of the second moment (running average of squared gradients)",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.9999,
    special=(0.999, 0.99, 0.0),
)
BETA2_INF = _hp(
    "beta2",
    r"\beta_2",
    "decay rate of the exponentially weighted infinity norm",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.9999,
    special=(0.999, 0.99, 0.0),
)
EPS = _hp(
    "eps",
    r"\epsilon",
    "small constant added to the denominator (placement is a variant)",
    low=0.0,
    high=None,
    low_closed=False,
    sample_low=1e-10,
    sample_high=1e-3,
    log_scale=True,
    special=(1e-7, 1e-8),
)
EPS_ADADELTA = _hp(
    "eps",
    r"\epsilon",
    "small constant inside both roots, RMS[y] = sqrt(E[y^2] + eps)",
    low=0.0,
    high=None,
    low_closed=False,
    sample_low=1e-10,
    sample_high=1e-3,
    log_scale=True,
    special=(1e-6, 1e-7, 1e-8),
)
RHO_RMSPROP = _hp(
    "rho",
    r"\rho",
    "decay rate of the running average of squared gradients",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.999,
    special=(0.9, 0.99),
)
RHO_ADADELTA = _hp(
    "rho",
    r"\rho",
    "decay rate of the running averages of squared gradients and squared steps",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.999,
    special=(0.95, 0.9),
)
INITIAL_ACCUMULATOR_VALUE = _hp(
    "initial_accumulator_value",
    r"G_0",
    "starting value of the sum of squared gradients",
    low=0.0,
    high=None,
    sample_low=0.0,
    sample_high=1.0,
    special=(0.0, 0.1),
)
MOMENTUM_DECAY = _hp(
    "momentum_decay",
    r"\psi",
    "exponent scale of Nadam's momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi))",
    low=0.0,
    high=None,
    sample_low=1e-4,
    sample_high=1.0,
    log_scale=True,
    special=(0.004, 1.0),
)


# ---------------------------------------------------------------------------------------------
# the spec entries: options shared by several entries


_AMSGRAD_OPTIONS = (
    VariantOption(
        "off",
        "no running maximum: Adam",
        r"\hat s = v / (1-\beta_2^t)",
        (
            "Kingma & Ba (2015)",
            "PyTorch Adam(amsgrad=False)",
            "Keras Adam(amsgrad=False)",
            "optax.adam",
        ),
    ),
    VariantOption(
        "max_uncorrected",
        "running maximum of the uncorrected second moment, corrected afterwards",
        r"v_\max \leftarrow \max(v_\max, v);\ \hat s = v_\max / (1-\beta_2^t)",
        (
            "PyTorch Adam(amsgrad=True)",
            "Keras Adam(amsgrad=True)",
            "Reddi et al. (2018), with bias_correction=off",
            "optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False), with bias_correction=off",
        ),
    ),
    VariantOption(
        "max_corrected",
        "running maximum of the bias-corrected second moment",
        r"v_\max \leftarrow \max(v_\max, v / (1-\beta_2^t));\ \hat s = v_\max",
        ("optax.amsgrad",),
    ),
    VariantOption(
        "max_never_corrected",
        "running maximum of the uncorrected second moment, never bias-corrected (the first moment is)",
        r"v_\max \leftarrow \max(v_\max, v);\ \hat s = v_\max",
        (
            "optax.amsgrad(bias_correction_nu=False): scale_by_amsgrad sets nu_eff = nu "
            "(optax/_src/transform.py)",
        ),
    ),
)

_ADAM_EPS_OPTIONS = (
    VariantOption(
        "outside",
        "epsilon added to the root of the corrected second moment",
        r"\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat s} + \epsilon)",
        (
            "Solberg",
            "Vitay",
            "Kingma & Ba (2015), Algorithm 1",
            "PyTorch Adam",
            "optax.adam",
        ),
    ),
    VariantOption(
        "inside",
        "epsilon added under the root of the corrected second moment",
        r"\theta \leftarrow \theta - \eta\, \hat m / \sqrt{\hat s + \epsilon}",
        ("Padilla Montani", "optax.adam(eps=0, eps_root=eps)"),
    ),
    VariantOption(
        "eps_hat",
        "epsilon added to the root of the uncorrected second moment, corrections folded into the step size",
        r"\eta_t = \eta \sqrt{1-\beta_2^t}/(1-\beta_1^t);\ \theta \leftarrow \theta - \eta_t\, m / (\sqrt{s} + \hat\epsilon)",
        ("Keras Adam", "Kingma & Ba (2015), end of §2"),
    ),
)

_ADAM_CITATIONS = (
    C.at(C.VITAY, "Adam"),
    C.at(C.SOLBERG, "ADAM update"),
    C.at(C.ZHENG, "Faster optimizers"),
    C.at(C.PADILLA_MONTANI, "Adam Optimization"),
    C.at(C.KINGMA_BA, "Algorithm 1"),
    C.at(C.GOODFELLOW, "§8.5.3"),
)


# ---------------------------------------------------------------------------------------------
# the spec entries: build and load_state


def _lr_state(t: int) -> ScaleByLearningRateState:
    return ScaleByLearningRateState(t)


def _buf(canonical: CanonicalState, name: str) -> dict[str, Any]:
    try:
        return dict(canonical.buffers[name])
    except KeyError:
        raise ValueError(
            f"canonical.buffers: missing buffer {name!r}; has {sorted(canonical.buffers)}"
        ) from None


def _build_adagrad(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adagrad(
        hp["learning_rate"],
        hp["eps"],
        initial_accumulator_value=hp["initial_accumulator_value"],
        eps_placement=o["eps"],
    )


def _load_adagrad(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = _check_count("canonical.count", cs.count)
    return ChainState((ScaleByRssState(accumulator=_buf(cs, "accumulator")), _lr_state(t)))


def _build_rmsprop(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return rmsprop(
        hp["learning_rate"],
        hp["rho"],
        hp["eps"],
        hp["momentum"],
        centered=o["centered"] == "centered",
        eps_placement=o["eps"],
        momentum_form=o["momentum_form"],
    )


def _load_rmsprop(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = _check_count("canonical.count", cs.count)
    rms = ScaleByRmsState(square_avg=_buf(cs, "square_avg"), grad_avg=_buf(cs, "grad_avg"))
    b = _buf(cs, "momentum_buffer")
    if o["momentum_form"] == "eta_inside":
        eta = hp["learning_rate"](t)
        return ChainState((rms, VelocityState(velocity=tree_map(lambda x: -eta * x, b), count=t)))
    return ChainState((rms, TraceState(trace=b, count=t), _lr_state(t)))


def _adam_unit_state(o: Mapping[str, str], cs: CanonicalState) -> ScaleByAdamState:
    t = _check_count("canonical.count", cs.count)
    v_max = None if o["amsgrad"] == "off" else _buf(cs, "v_max")
    return ScaleByAdamState(count=t, m=_buf(cs, "m"), v=_buf(cs, "v"), v_max=v_max)


def _build_adam(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adam(
        hp["learning_rate"],
        hp["beta1"],
        hp["beta2"],
        hp["eps"],
        eps_placement=o["eps"],
        bias_correction=o["bias_correction"] == "on",
        amsgrad=o["amsgrad"],
    )


def _load_adam(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    return ChainState((_adam_unit_state(o, cs), _lr_state(cs.count)))


def _build_adamw(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adamw(
        hp["learning_rate"],
        hp["beta1"],
        hp["beta2"],
        hp["eps"],
        hp["weight_decay"],
        decay_scaling=o["decay_scaling"],
        eps_placement=o["eps"],
        amsgrad=o["amsgrad"],
    )


def _load_adamw(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    return ChainState((_adam_unit_state(o, cs), _lr_state(cs.count), WeightDecayState(cs.count)))


def _build_nadam(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return nadam(
        hp["learning_rate"],
        hp["beta1"],
        hp["beta2"],
        hp["eps"],
        hp["momentum_decay"],
        momentum_schedule=o["momentum_schedule"],
        schedule_precision=o["schedule_precision"],
    )


@functools.lru_cache(maxsize=4096)
def _momentum_product_value(t: int, b1: float, psi: float, sched: str, decay: float) -> float:
    return nadam_momentum_product(t, b1, psi, sched, decay=decay)


def _load_nadam(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = _check_count("canonical.count", cs.count)
    b1 = _check_beta("beta1", hp["beta1"])
    psi = check_number("momentum_decay", hp["momentum_decay"], low=0.0)
    sched = check_choice("momentum_schedule", o["momentum_schedule"], NADAM_SCHEDULES)
    prec = o["schedule_precision"]
    # The product is state that a framework holds (PyTorch mu_product, Keras _u_product); the
    # adapters load it rounded once to its dtype, so it is an input: its value from the exact
    # hyperparameters, its bound one rounding (b1 * 0.0 + value carries exactly that on tracked
    # numbers, and is the value itself on plain ones).
    value = _momentum_product_value(t, float(b1), float(psi), sched, NADAM_DECAY)
    prod = b1 * 0.0 + value
    if prec == "product_float32" and sched != "none":
        prod = _held_in_float32(prod)  # what PyTorch holds after count steps
    unit = ScaleByNadamState(count=t, m=_buf(cs, "m"), v=_buf(cs, "v"), mu_product=prod)
    return ChainState((unit, _lr_state(t)))


def _build_adamax(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adamax(hp["learning_rate"], hp["beta1"], hp["beta2"], hp["eps"], eps_placement=o["eps"])


def _load_adamax(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = _check_count("canonical.count", cs.count)
    return ChainState((ScaleByAdamaxState(count=t, m=_buf(cs, "m"), u=_buf(cs, "u")), _lr_state(t)))


def _build_adadelta(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adadelta(hp["learning_rate"], hp["rho"], hp["eps"])


def _load_adadelta(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = _check_count("canonical.count", cs.count)
    unit = ScaleByAdadeltaState(square_avg=_buf(cs, "square_avg"), acc_delta=_buf(cs, "acc_delta"))
    return ChainState((unit, _lr_state(t)))


# ---------------------------------------------------------------------------------------------
# the spec entries

register(
    SpecEntry(
        id="opt.adagrad",
        title="AdaGrad",
        tier="core",
        kind="optimizers",
        formula=r"G \leftarrow G + g^2,\quad \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{G} + \epsilon}",
        citations=(
            C.at(C.SOLBERG, "AdaGrad updates (DL 8.5.1)"),
            C.at(C.ARCHITECTURES, "Adaptive optimization"),
            C.at(C.ZHENG, "Faster optimizers"),
            C.DUCHI,
            C.at(C.GOODFELLOW, "§8.5.1"),
        ),
        variant_axes=(
            VariantAxis(
                "eps",
                (
                    VariantOption(
                        "outside",
                        "epsilon added to the root of the accumulator",
                        r"\theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \epsilon)",
                        ("Solberg", "Duchi et al. (2011), delta*I", "PyTorch Adagrad"),
                    ),
                    VariantOption(
                        "inside",
                        "epsilon added under the root",
                        r"\theta \leftarrow \theta - \eta\, g / \sqrt{G + \epsilon}",
                        ("Neural network architectures", "Keras Adagrad", "optax.adagrad"),
                    ),
                ),
            ),
        ),
        hyperparameters=(LEARNING_RATE, EPS, INITIAL_ACCUMULATOR_VALUE),
        notes="The accumulator starts at initial_accumulator_value (PyTorch 0, Keras 0.1, optax 0.1); "
        "PyTorch's lr_decay is out of scope (0). optax returns 0 where G = 0.",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_adagrad,
            load_state=_load_adagrad,
            buffers=("accumulator",),
        ),
    )
)

register(
    SpecEntry(
        id="opt.rmsprop",
        title="RMSprop (plain, centered, with momentum)",
        tier="core",
        kind="optimizers",
        formula=r"s \leftarrow \rho s + (1-\rho) g^2,\quad \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{s} + \epsilon}",
        citations=(
            C.at(C.VITAY, "RMSprop"),
            C.at(C.VITAY, "Optimizers in keras"),
            C.at(C.SOLBERG, "RMSprop update"),
            C.at(C.ZHENG, "Faster optimizers"),
            C.TIELEMAN_HINTON,
            C.at(C.GOODFELLOW, "§8.5.2"),
        ),
        variant_axes=(
            VariantAxis(
                "eps",
                (
                    VariantOption(
                        "outside",
                        "epsilon added to the root",
                        r"D = \sqrt{s} + \epsilon\ (\text{centered: } \sqrt{s - \bar g^2} + \epsilon)",
                        (
                            "Vitay",
                            "Solberg",
                            "PyTorch RMSprop",
                            "optax.rmsprop(eps_in_sqrt=False)",
                        ),
                    ),
                    VariantOption(
                        "inside",
                        "epsilon added under the root",
                        r"D = \sqrt{s + \epsilon}\ (\text{centered: } \sqrt{s - \bar g^2 + \epsilon})",
                        ("Keras RMSprop", "optax.rmsprop"),
                    ),
                ),
            ),
            VariantAxis(
                "centered",
                (
                    VariantOption(
                        "plain",
                        "divide by the root of the second moment",
                        r"D = \sqrt{s} + \epsilon",
                        (
                            "Vitay",
                            "Solberg",
                            "Tieleman & Hinton (2012)",
                            "all frameworks (centered=False)",
                        ),
                    ),
                    VariantOption(
                        "centered",
                        "divide by the root of the variance estimate s - gbar^2",
                        r"\bar g \leftarrow \rho\bar g + (1-\rho) g;\ D = \sqrt{s - \bar g^2} + \epsilon",
                        (
                            "PyTorch RMSprop(centered=True)",
                            "Keras RMSprop(centered=True)",
                            "optax.rmsprop(centered=True)",
                        ),
                    ),
                ),
            ),
            VariantAxis(
                "momentum_form",
                (
                    VariantOption(
                        "eta_inside",
                        "momentum on the learning-rate-scaled step",
                        r"v \leftarrow \mu v - \eta_t g / D;\ \theta \leftarrow \theta + v",
                        ("Keras RMSprop(momentum=)", "optax.rmsprop(momentum=)"),
                    ),
                    VariantOption(
                        "eta_outside",
                        "momentum on the unscaled step, learning rate applied to the buffer",
                        r"b \leftarrow \mu b + g / D;\ \theta \leftarrow \theta - \eta_t b",
                        ("PyTorch RMSprop(momentum=)",),
                    ),
                ),
            ),
        ),
        hyperparameters=(LEARNING_RATE, RHO_RMSPROP, EPS, MOMENTUM),
        notes="The documents state no momentum (Vitay lists Keras's momentum=0.0); the two momentum forms "
        "agree while the learning rate is constant. Reachable centered states have s >= gbar^2; an "
        "arbitrary state with s < gbar^2 gives NaN in every implementation.",
        model=AdaptiveOptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_rmsprop,
            load_state=_load_rmsprop,
            buffers=("square_avg", "grad_avg", "momentum_buffer"),
            square_dominates=(("square_avg", "grad_avg"),),
        ),
    )
)

register(
    SpecEntry(
        id="opt.adam",
        title="Adam (with AMSGrad and the frameworks' epsilon forms)",
        tier="core",
        kind="optimizers",
        formula=r"m \leftarrow \beta_1 m + (1-\beta_1) g;\ v \leftarrow \beta_2 v + (1-\beta_2) g^2;\ "
        r"\hat m = \frac{m}{1-\beta_1^t};\ \hat v = \frac{v}{1-\beta_2^t};\ "
        r"\theta \leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}",
        citations=(*_ADAM_CITATIONS, C.REDDI),
        errata=(padilla_montani_adam_erratum(),),
        variant_axes=(
            VariantAxis("eps", _ADAM_EPS_OPTIONS),
            VariantAxis(
                "bias_correction",
                (
                    VariantOption(
                        "on",
                        "moments divided by 1 - beta^t",
                        r"\hat m = m/(1-\beta_1^t),\ \hat v = v/(1-\beta_2^t)",
                        (
                            "Solberg",
                            "Padilla Montani",
                            "Kingma & Ba (2015)",
                            "PyTorch Adam",
                            "Keras Adam",
                            "optax.adam",
                        ),
                    ),
                    VariantOption(
                        "off",
                        "no bias correction",
                        r"\theta \leftarrow \theta - \eta\, m / (\sqrt{v} + \epsilon)",
                        (
                            "Vitay",
                            "Reddi et al. (2018), Algorithm 2",
                            "optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False)",
                        ),
                    ),
                ),
            ),
            VariantAxis("amsgrad", _AMSGRAD_OPTIONS),
        ),
        hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS),
        notes="Keras's epsilon is Kingma & Ba's epsilon-hat (eps_hat); optax's eps_root is eps inside. "
        "Padilla Montani states eps = 1e-8 as TensorFlow's default; Vitay lists Keras's 1e-7. "
        "Bias-correction off is Vitay's printed form. The canonical v_max is loaded as is into the AMSGrad form "
        "of the variant (maximum of v, or of v-hat).",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_adam,
            load_state=_load_adam,
            buffers=("m", "v", "v_max"),
        ),
    )
)

register(
    SpecEntry(
        id="opt.adamw",
        title="AdamW: Adam with decoupled weight decay",
        tier="core",
        kind="optimizers",
        formula=r"\theta \leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon} - \eta\lambda\theta",
        citations=(
            *_ADAM_CITATIONS,
            C.at(C.VITAY, "L2 Regularization"),
            C.LOSHCHILOV_HUTTER,
            C.REDDI,
        ),
        variant_axes=(
            VariantAxis(
                "decay_scaling",
                (
                    VariantOption(
                        "lr_times_lambda",
                        "the decay is multiplied by the current learning rate",
                        r"\theta \leftarrow \theta - \eta_t(\text{Adam step}) - \eta_t\lambda\theta",
                        ("PyTorch AdamW", "Keras AdamW", "optax.adamw"),
                    ),
                    VariantOption(
                        "lambda_only",
                        "the decay is not multiplied by the learning rate (schedule multiplier 1)",
                        r"\theta \leftarrow \theta - \eta_t(\text{Adam step}) - \lambda\theta",
                        ("Loshchilov & Hutter (2019), Algorithm 2",),
                    ),
                ),
            ),
            VariantAxis("eps", _ADAM_EPS_OPTIONS),
            VariantAxis("amsgrad", _AMSGRAD_OPTIONS),
        ),
        hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS, WEIGHT_DECAY),
        notes="The decay acts on the parameters before the step and bypasses the moments. Keras's AdamW "
        "is Keras Adam (eps_hat) plus the decay. Bias correction is on.",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_adamw,
            load_state=_load_adamw,
            buffers=("m", "v", "v_max"),
        ),
    )
)

register(
    SpecEntry(
        id="opt.nadam",
        title="Nadam: Adam with Nesterov momentum",
        tier="core",
        kind="optimizers",
        formula=r"\theta \leftarrow \theta - \eta\, \frac{\frac{\mu_{t+1} m}{1-\prod_{i\le t+1}\mu_i} + "
        r"\frac{(1-\mu_t) g}{1-\prod_{i\le t}\mu_i}}{\sqrt{v/(1-\beta_2^t)} + \epsilon}",
        citations=(
            C.at(C.VITAY, "Adam (other possible optimizers)"),
            C.at(C.ZHENG, "Faster optimizers (Nadam optimization)"),
            C.at(C.DOZAT, "Algorithm 2"),
            C.KINGMA_BA,
        ),
        variant_axes=(
            VariantAxis(
                "momentum_schedule",
                (
                    VariantOption(
                        "dozat_decay",
                        "momentum schedule with the decay exponent scaled by momentum_decay",
                        r"\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})",
                        ("Dozat (2016), psi = 1/250", "PyTorch NAdam(momentum_decay=psi)"),
                    ),
                    VariantOption(
                        "dozat_decay_psi1",
                        "momentum schedule with an unscaled exponent (psi = 1)",
                        r"\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t})",
                        ("Keras Nadam",),
                    ),
                    VariantOption(
                        "none",
                        "constant momentum, Pi_t = beta1^t",
                        r"\hat m = \frac{\beta_1 m}{1-\beta_1^{t+1}} + \frac{(1-\beta_1) g}{1-\beta_1^t}",
                        ("optax.nadam",),
                    ),
                ),
            ),
            VariantAxis(
                "schedule_precision",
                (
                    VariantOption(
                        "as_params",
                        "the momentum schedule in the parameters' precision",
                        r"\mu_t,\ \Pi_t \text{ in the parameters' dtype}",
                        ("Dozat (2016)", "optax.nadam"),
                    ),
                    VariantOption(
                        "decay_float32",
                        "the step's constant 0.96 rounded to float32, the running product's not "
                        "(visible in float64)",
                        r"\mu_t = \beta_1 (1 - \tfrac12\, \mathrm{fl}_{32}(0.96)^{t\psi}),\ "
                        r"\Pi_t = \Pi_{t-1} \beta_1 (1 - \tfrac12\, 0.96^{t\psi})",
                        (
                            "Keras Nadam: decay = ops.cast(0.96, var_dtype) in update_step, but "
                            "ops.power(0.96, ops.cast(iterations + 1, dtype)) for _u_product in "
                            "_backend_update_step (keras/src/optimizers/nadam.py)",
                        ),
                    ),
                    VariantOption(
                        "product_float32",
                        "the running product Pi_t held in float32 (visible in float64)",
                        r"\Pi_t = \mathrm{fl}_{32}(\Pi_{t-1}\, \mathrm{fl}_{32}(\mu_t))",
                        (
                            "PyTorch NAdam: state['mu_product'] created with _get_scalar_dtype() "
                            "(float32 unless the default dtype is float64) and updated by "
                            "mu_product *= mu (torch/optim/nadam.py)",
                        ),
                    ),
                ),
            ),
        ),
        hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS, MOMENTUM_DECAY),
        notes="The notes name Nadam without a formula. The frameworks agree on epsilon outside "
        "sqrt(v / (1 - beta2^t)). The running product of mu is a function of the step count, not a buffer.",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_nadam,
            load_state=_load_nadam,
            buffers=("m", "v"),
        ),
    )
)

register(
    SpecEntry(
        id="opt.adamax",
        title="Adamax: Adam with the infinity norm",
        tier="core",
        kind="optimizers",
        formula=r"m \leftarrow \beta_1 m + (1-\beta_1) g;\ u \leftarrow \max(\beta_2 u, |g|);\ "
        r"\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, \frac{m}{u + \epsilon}",
        citations=(
            C.at(C.VITAY, "Adam (other possible optimizers)"),
            C.at(C.KINGMA_BA, "§7.1, Algorithm 2"),
        ),
        variant_axes=(
            VariantAxis(
                "eps",
                (
                    VariantOption(
                        "outside",
                        "epsilon added to the norm in the denominator",
                        r"u \leftarrow \max(\beta_2 u, |g|);\ \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{u + \epsilon}",
                        ("Keras Adamax", "Kingma & Ba (2015) Algorithm 2, eps -> 0"),
                    ),
                    VariantOption(
                        "in_max",
                        "epsilon added to |g| inside the maximum (and stored in u)",
                        r"u \leftarrow \max(\beta_2 u, |g| + \epsilon);\ \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{u}",
                        (
                            "PyTorch Adamax",
                            "optax.adamax",
                            "Kingma & Ba (2015) Algorithm 2, eps -> 0",
                        ),
                    ),
                ),
            ),
        ),
        hyperparameters=(LEARNING_RATE, BETA1, BETA2_INF, EPS),
        notes="Kingma & Ba's Algorithm 2 has no epsilon; the frameworks add one in two places.",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_adamax,
            load_state=_load_adamax,
            buffers=("m", "u"),
        ),
    )
)

register(
    SpecEntry(
        id="opt.adadelta",
        title="Adadelta",
        tier="core",
        kind="optimizers",
        formula=r"E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2;\ "
        r"\Delta x = -\frac{\sqrt{E[\Delta x^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}} g;\ "
        r"E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho)\Delta x^2;\ \theta \leftarrow \theta + \eta\Delta x",
        citations=(
            C.at(C.VITAY, "Adam (other possible optimizers)"),
            C.at(C.ARCHITECTURES, "Adaptive optimization"),
            C.at(C.ZEILER, "Algorithm 1"),
        ),
        hyperparameters=(LEARNING_RATE, RHO_ADADELTA, EPS_ADADELTA),
        notes="Zeiler's method has no learning rate (eta = 1); PyTorch, Keras and optax multiply the step by "
        "one and accumulate E[dx^2] from the step without it. All put epsilon inside both roots.",
        model=OptimizerModel(
            nonnegative_buffers=NONNEGATIVE_BUFFERS,
            build=_build_adadelta,
            load_state=_load_adadelta,
            buffers=("square_avg", "acc_delta"),
        ),
    )
)
