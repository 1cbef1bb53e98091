r"""``opt.rmsprop``: RMSprop, plain or centered, with optional momentum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "RMSPROP_MOMENTUM_FORMS", "ScaleByRmsState", "rmsprop", "scale_by_rms"]

EPS_PLACEMENTS = ("outside", "inside")
RMSPROP_MOMENTUM_FORMS = ("eta_inside", "eta_outside")

#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "square_avg": "s, the running average of squared gradients; >= 0. PyTorch "
    "state['square_avg'], Keras 'velocity', optax nu.",
    "grad_avg": "the running average of gradients, used only by the centered variant "
    "(reachable states have square_avg >= grad_avg^2). PyTorch state['grad_avg'], Keras "
    "'average_gradient', optax mu.",
    "momentum_buffer": "b, the learning-rate-free momentum buffer: b <- mu b + g/denom, "
    "theta <- theta - eta b (PyTorch state['momentum_buffer']). The eta_inside form (Keras "
    "'momentum', optax trace) stores eta*b; it is loaded as -eta_t*b, the velocity the same "
    "history leaves at a constant learning rate. Unused when momentum = 0.",
}


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
    e = check_eps(eps)
    if not isinstance(centered, bool):
        raise TypeError(f"centered={centered!r}: must be a bool")
    place = check_choice("eps_placement", eps_placement, EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByRmsState:
        check_tree("params", params)
        return ScaleByRmsState(square_avg=zeros_like(params), grad_avg=zeros_like(params))

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
    t = check_step("canonical.count", cs.count)
    rms = ScaleByRmsState(square_avg=buffer(cs, "square_avg"), grad_avg=buffer(cs, "grad_avg"))
    b = buffer(cs, "momentum_buffer")
    if o["momentum_form"] == "eta_inside":
        eta = hp["learning_rate"](t)
        return ChainState((rms, VelocityState(velocity=tree_map(lambda x: -eta * x, b), count=t)))
    return ChainState((rms, TraceState(trace=b, count=t), ScaleByLearningRateState(t)))


register(SpecEntry(
    id="opt.rmsprop", title="RMSprop (plain, centered, with momentum)", tier="core",
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
        VariantAxis("eps", (
            VariantOption("outside", "epsilon added to the root",
                          r"D = \sqrt{s} + \epsilon\ (\text{centered: } \sqrt{s - \bar g^2} + \epsilon)",
                          ("Vitay", "Solberg", "PyTorch RMSprop",
                           "optax.rmsprop(eps_in_sqrt=False)")),
            VariantOption("inside", "epsilon added under the root",
                          r"D = \sqrt{s + \epsilon}\ (\text{centered: } \sqrt{s - \bar g^2 + \epsilon})",
                          ("Keras RMSprop", "optax.rmsprop")),
        )),
        VariantAxis("centered", (
            VariantOption("plain", "divide by the root of the second moment",
                          r"D = \sqrt{s} + \epsilon",
                          ("Vitay", "Solberg", "Tieleman & Hinton (2012)",
                           "all frameworks (centered=False)")),
            VariantOption("centered",
                          "divide by the root of the variance estimate s - gbar^2",
                          r"\bar g \leftarrow \rho\bar g + (1-\rho) g;\ D = \sqrt{s - \bar g^2} + \epsilon",
                          ("PyTorch RMSprop(centered=True)",
                           "Keras RMSprop(centered=True)", "optax.rmsprop(centered=True)")),
        )),
        VariantAxis("momentum_form", (
            VariantOption("eta_inside", "momentum on the learning-rate-scaled step",
                          r"v \leftarrow \mu v - \eta_t g / D;\ \theta \leftarrow \theta + v",
                          ("Keras RMSprop(momentum=)", "optax.rmsprop(momentum=)")),
            VariantOption("eta_outside",
                          "momentum on the unscaled step, learning rate applied to the "
                          "buffer",
                          r"b \leftarrow \mu b + g / D;\ \theta \leftarrow \theta - \eta_t b",
                          ("PyTorch RMSprop(momentum=)",)),
        )),
    ),
    hyperparameters=(LEARNING_RATE, RHO, EPS, MOMENTUM),
    notes="The documents state no momentum (Vitay lists Keras's momentum=0.0); the two momentum forms "
    "agree while the learning rate is constant. Reachable centered states have s >= gbar^2; an "
    "arbitrary state with s < gbar^2 gives NaN in every implementation.",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_rmsprop,
        load_state=_load_rmsprop,
        buffers=("square_avg", "grad_avg", "momentum_buffer"),
        square_dominates=(("square_avg", "grad_avg"),),
    ),
))
