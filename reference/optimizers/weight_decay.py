r"""``opt.weight_decay``: SGD with weight decay, through the gradient or decoupled.

The decay units are :func:`~trainspec.reference.optimizers.common.add_l2_gradient` and
:func:`~trainspec.reference.optimizers.common.decoupled_weight_decay` (the one decoupled decay of
the spec, shared with ``opt.adamw``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "DECAY_FORMS", "sgd"]

DECAY_FORMS = ("l2_gradient", "l2_gradient_2lambda", "decoupled", "decoupled_unscaled")

#: What each canonical buffer holds: as ``opt.momentum``.
BUFFERS = {
    "trace": "b, the learning-rate-free momentum buffer of form (c), fed the gradient plus the L2 "
    "term for the l2_gradient decays; the eta_inside form is loaded as v = -eta_t b.",
}


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
        units.append(decoupled_weight_decay(weight_decay, learning_rate=learning_rate))
    elif dform == "decoupled_unscaled":
        units.append(decoupled_weight_decay(weight_decay))
    return chain(*units)


def _build_weight_decay(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return sgd(
        hp["learning_rate"],
        hp["momentum"],
        momentum_form=o["momentum_form"],
        weight_decay=hp["weight_decay"],
        decay=o["decay"],
    )


register(SpecEntry(
    id="opt.weight_decay", title="Weight decay: L2 through the gradient, or decoupled", tier="core",
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
        VariantAxis("decay", (
            VariantOption("l2_gradient",
                          "L2 through the gradient, coefficient lambda (penalty lambda/2 "
                          "||theta||^2)",
                          r"g \leftarrow g + \lambda\theta",
                          ("Solberg", "PyTorch SGD(weight_decay=)",
                           "optax.add_decayed_weights before sgd")),
            VariantOption("l2_gradient_2lambda",
                          "L2 through the gradient from the penalty lambda ||theta||^2",
                          r"g \leftarrow g + 2\lambda\theta", ("Vitay",)),
            VariantOption("decoupled",
                          "decoupled decay, multiplied by the current learning rate",
                          r"\theta \leftarrow \theta + u - \eta_t\lambda\theta",
                          ("Loshchilov & Hutter (2019)", "Keras SGD(weight_decay=)")),
            VariantOption("decoupled_unscaled",
                          "decoupled decay, not multiplied by the learning rate",
                          r"\theta \leftarrow \theta + u - \lambda\theta",
                          ("Loshchilov & Hutter (2019) with schedule multiplier 1",)),
        )),
        VariantAxis("momentum_form", FORM_OPTIONS[:2]),
    ),
    hyperparameters=(LEARNING_RATE, MOMENTUM, WEIGHT_DECAY),
    notes="The coefficient convention (lambda vs 2*lambda vs lambda/2) and whether eta multiplies the "
    "decoupled term are variants. A momentum step taken before an L2 term that bypasses the buffer is "
    "exactly the decoupled form.",
    model=OptimizerModel(
        build=_build_weight_decay,
        load_state=lambda o, hp, cs, p: momentum_family_state(
            o["momentum_form"], hp, cs, p, decay=o["decay"]
        ),
        buffers=("trace",),
    ),
))
