r"""``opt.momentum``: heavy-ball momentum in the three forms of the inventory.

The buffers are the units :func:`~trainspec.reference.optimizers.common.velocity` (form (a)) and
:func:`~trainspec.reference.optimizers.common.trace` (forms (b) and (c)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "momentum"]

#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "trace": "b, the learning-rate-free running sum of form (c): b <- mu b + g, theta <- theta - "
    "eta b (PyTorch momentum_buffer, optax trace). Form (a) (Keras 'momentum') is loaded as "
    "v = -eta_t b, the velocity the same history leaves at a constant learning rate.",
}


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


def _build_momentum(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return momentum(hp["learning_rate"], hp["momentum"], form=o["form"], first_step=o["first_step"])


register(SpecEntry(
    id="opt.momentum", title="Heavy-ball momentum", tier="core", kind="optimizers",
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
        VariantAxis("form", FORM_OPTIONS),
        VariantAxis("first_step", (
            VariantOption("from_zero",
                          "the buffer starts at zero and the first step applies the "
                          "usual update",
                          r"b_1 = \mu\cdot 0 + (1-d) g_1",
                          ("Vitay", "Solberg", "optax.ema")),
            VariantOption("buffer_is_gradient",
                          "the first step sets the buffer to the gradient, skipping the "
                          "dampening",
                          r"b_1 = g_1",
                          ("PyTorch SGD",)),
        )),
    ),
    hyperparameters=(LEARNING_RATE, MOMENTUM_POSITIVE),
    notes="(a) and (c) agree only while the learning rate is constant; (b) is (c) with dampening alpha. "
    "first_step matters only for the dampened form (b). mu is typically 0.5 to 0.99 and may be ramped (Solberg).",
    model=OptimizerModel(
        build=_build_momentum,
        load_state=lambda o, hp, cs, p: momentum_family_state(o["form"], hp, cs, p),
        buffers=("trace",),
    ),
))
