r"""``norm.batch.grad``: the backward pass of training-mode batch normalisation."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *
from trainspec.reference.norm.train import batch_statistics

__all__ = ["BatchNormGrads", "batch_norm_backward"]


class BatchNormGrads(NamedTuple):
    """Gradients of $\\sum_i dy_i\\, y_i$ with respect to ``x``, ``gamma`` and ``beta``."""

    dx: Any
    dgamma: Any
    dbeta: Any


def batch_norm_backward(
    x: Any,
    dy: Any,
    gamma: Any,
    eps: Any,
    *,
    layout: str = "channels_first",
    variance: str = "two_pass",
) -> BatchNormGrads:
    r"""The backward pass of training-mode batch normalisation in closed form.

    Symbols: $dy$ = ``dy`` (the upstream gradient $\partial\ell/\partial y$, shaped like ``x``),
    $m$ values per channel, $\hat x$ and $\sigma^2_B$ as in :func:`batch_norm_train`,
    $s = \sqrt{\sigma^2_B + \epsilon}$. Ioffe & Szegedy (2015), section 3 (chain rule through
    $\mu_B$ and $\sigma^2_B$); Vitay ("Batch normalization (BN)": BN "is differentiable
    w.r.t the input layer and the parameters, so backpropagation still works").

    .. math::
        \frac{\partial\ell}{\partial\beta} = \sum_i dy_i, \qquad
        \frac{\partial\ell}{\partial\gamma} = \sum_i dy_i\,\hat x_i, \qquad
        \frac{\partial\ell}{\partial x_i} = \frac{\gamma}{m\,s}\Big(m\,dy_i - \sum_j dy_j
        - \hat x_i \sum_j dy_j\,\hat x_j\Big)

    ``variance`` selects the evaluation order that automatic differentiation of that forward
    pass follows (the values agree in exact arithmetic; the rounding does not): ``one_pass``
    differentiates $\overline{x^2} - \mu^2$, whose terms $2x\,\partial\sigma^2/m$ and
    $2\mu\,\partial\sigma^2/m$ cancel for large offsets. For ``two_pass`` the bound covers both
    the chain rule through $\mu_B$ and $\sigma^2_B$ and the compact form above.
    """
    shape = check_array("x", x, min_ndim=2)
    if check_array("dy", dy) != shape:
        raise ValueError(f"dy: must have the shape of x, {shape}, got {check_array('dy', dy)}")
    check_choice("variance", variance, VARIANCE_COMPUTATIONS)
    axes, c, m = reduction_axes(shape, layout)
    check_per_channel("gamma", gamma, shape[c])
    eps = check_eps(eps)
    nd = len(shape)
    stats = batch_statistics(x, layout=layout, variance=variance)
    mu = bcast(stats.mean, nd, c)
    dev = x - mu
    s = np.sqrt(stats.var + eps)
    r = 1.0 / s
    g = gamma
    sum_dy = np.sum(dy, axis=axes)
    sum_dy_dev = np.sum(dy * dev, axis=axes)
    dgamma = either_order(sum_dy_dev * r, np.sum(dy * (dev / bcast(s, nd, c)), axis=axes))
    dx_direct = dy * bcast(g * r, nd, c)
    dmu_direct = -(g * r) * sum_dy
    dr = g * sum_dy_dev
    dvar = dr * (-0.5) * r**3
    if variance == "two_pass":
        autodiff = (
            dx_direct
            + bcast(dvar * (2.0 / m), nd, c) * dev
            + bcast((dmu_direct - dvar * (2.0 / m) * np.sum(dev, axis=axes)) / m, nd, c)
        )
        xhat = dev * bcast(r, nd, c)
        compact = bcast(g * r / m, nd, c) * (
            dy * float(m) - bcast(sum_dy, nd, c) - xhat * bcast(np.sum(dy * xhat, axis=axes), nd, c)
        )
        dx = either_order(autodiff, compact)
    else:
        dx = (
            dx_direct
            + bcast(dvar * (2.0 / m), nd, c) * x
            + bcast((dmu_direct - 2.0 * stats.mean * dvar) / m, nd, c)
        )
    return BatchNormGrads(dx, dgamma, sum_dy)


register(SpecEntry(
    id="norm.batch.grad", title="Batch normalisation: backward pass", tier="core", kind="norm",
    formula=r"\frac{\partial\ell}{\partial\beta} = \sum_i dy_i,\ "
    r"\frac{\partial\ell}{\partial\gamma} = \sum_i dy_i\hat x_i,\ "
    r"\frac{\partial\ell}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma^2_B+\epsilon}}"
    r"\Big(m\,dy_i - \sum_j dy_j - \hat x_i\sum_j dy_j\hat x_j\Big)",
    citations=(
        C.at(
            C.VITAY,
            "Batch normalization (BN) (differentiable w.r.t the input layer and the parameters)",
        ),
        C.at(C.IOFFE_SZEGEDY, "Section 3"),
    ),
    variant_axes=(VARIANCE_AXIS,),
    hyperparameters=(EPS,),
    notes="Each framework's automatic differentiation of its training-mode layer, for a given "
    "upstream gradient dy, against the closed form; the variant axes name the forward "
    "evaluation order that the autodiff follows.",
    model=BatchNormModel("grads"),
))
