r"""``norm.batch.train``: batch normalisation in training mode (the mini-batch's own statistics)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *

__all__ = ["BatchStatistics", "batch_norm_train", "batch_statistics"]


class BatchStatistics(NamedTuple):
    """Per-channel statistics of one mini-batch: mean, *biased* variance, values per channel."""

    mean: Any
    var: Any
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count


def batch_statistics(
    x: Any, *, layout: str = "channels_first", variance: str = "two_pass"
) -> BatchStatistics:
    r"""Mini-batch mean and biased variance per feature (per channel for images).

    Symbols: $x$ = ``x``, $m$ = the number of values per channel (batch size times the spatial
    size), $\mu_B$ = ``mean``, $\sigma^2_B$ = ``var``.

    .. math::
        \mu_B = \frac1m\sum_{i=1}^m x_i, \qquad
        \sigma^2_B = \frac1m\sum_{i=1}^m (x_i - \mu_B)^2 \quad (\texttt{two\_pass}), \qquad
        \sigma^2_B = \max\Big(0, \frac1m\sum_i x_i^2 - \mu_B^2\Big) \quad (\texttt{one\_pass})

    Solberg, *INF 5860 Lecture 9* ("Batch normalization: training"); Zheng, *CS286 Lecture 6*;
    Padilla Montani, *Tricks-Of-The-Trade*; Ioffe & Szegedy (2015), Algorithm 1.

    .. warning:: The variance in the normalisation is the *biased* one ($1/m$). ``one_pass`` is
       what ``flax.linen.BatchNorm`` computes by default (``use_fast_variance=True``); it equals
       ``two_pass`` in exact arithmetic but cancels catastrophically when $|\mu_B| \gg \sigma_B$.
    """
    shape = check_array("x", x, min_ndim=2)
    check_choice("variance", variance, VARIANCE_COMPUTATIONS)
    axes, c, m = reduction_axes(shape, layout)
    mean = np.mean(x, axis=axes)
    if variance == "two_pass":
        dev = x - bcast(mean, len(shape), c)
        var = np.mean(np.square(dev), axis=axes)
    else:
        raw = np.mean(np.square(x), axis=axes) - np.square(mean)
        var = np.maximum(raw, np.zeros(np.shape(raw)))  # same shapes: Tracked's max rule needs them
    return BatchStatistics(mean, var, m)


def batch_norm_train(
    x: Any,
    gamma: Any,
    beta: Any,
    eps: Any,
    *,
    layout: str = "channels_first",
    variance: str = "two_pass",
) -> tuple[Any, BatchStatistics]:
    r"""Batch normalisation in training mode: normalise with the mini-batch's own statistics.

    Symbols: $x$ = ``x``, $\gamma$ = ``gamma``, $\beta$ = ``beta`` (one per channel),
    $\epsilon$ = ``eps`` ($> 0$), $\mu_B, \sigma^2_B$ from :func:`batch_statistics`.

    .. math::
        \hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma^2_B + \epsilon}}, \qquad
        y_i = \gamma \hat x_i + \beta

    Returns ``(y, statistics)``. Solberg ("Batch normalization: training"), Zheng,
    Padilla Montani; Ioffe & Szegedy (2015), Algorithm 1. Vitay writes
    $(X_B - E(X_B))/\mathrm{Std}(X_B)$, i.e. $\gamma = 1$, $\beta = 0$, $\epsilon = 0$.

    .. warning:: Frameworks normalise with the *biased* variance; the unbiased one appears only
       in PyTorch's running variance (``norm.batch.running``).
    """
    shape = check_array("x", x, min_ndim=2)
    _, c, _ = reduction_axes(shape, layout)
    check_per_channel("gamma", gamma, shape[c])
    check_per_channel("beta", beta, shape[c])
    eps = check_eps(eps)
    stats = batch_statistics(x, layout=layout, variance=variance)
    return normalize(x, stats.mean, stats.var, gamma, beta, eps, c), stats


register(SpecEntry(
    id="norm.batch.train", title="Batch normalisation, training mode", tier="core", kind="norm",
    formula=r"\mu_B = \frac1m\sum_i x_i,\ \sigma^2_B = \frac1m\sum_i (x_i-\mu_B)^2,\ "
    r"\hat x_i = \frac{x_i-\mu_B}{\sqrt{\sigma^2_B+\epsilon}},\ y_i = \gamma\hat x_i + \beta",
    citations=(
        C.at(C.SOLBERG, "Batch normalization: training"),
        C.at(C.VITAY, "Batch normalization (BN)"),
        C.at(C.ZHENG, "Batch Normalization (BN)"),
        C.at(C.PADILLA_MONTANI, "Batch Normalization"),
        C.at(C.IOFFE_SZEGEDY, "Algorithm 1"),
    ),
    variant_axes=(VARIANCE_AXIS,),
    hyperparameters=(EPS,),
    notes="Per feature for (N, C) inputs; per channel over batch and spatial axes for images, "
    "channels-first or channels-last. The variance in the normalisation is the biased one "
    "(1/m); an unbiased variance there is a divergence, not a variant. Vitay writes "
    "(X - E(X))/Std(X) without gamma, beta and eps. The row compares y of every training step.",
    model=BatchNormModel("outputs"),
))
