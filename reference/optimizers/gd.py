r"""``opt.gd``: gradient descent (batch, online, minibatch)."""

from __future__ import annotations

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["gd"]


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


register(SpecEntry(
    id="opt.gd", title="Gradient descent (batch, online, minibatch)", tier="core",
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
))
