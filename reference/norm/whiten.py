r"""``norm.whiten``: PCA whitening."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *

__all__ = ["Whitening", "apply_whitening", "fit_whitening"]


class Whitening(NamedTuple):
    """PCA whitening fitted on the training set."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (D, k): the principal directions, by decreasing variance
    scales: np.ndarray  # (k,): sqrt(eigenvalue + eps)


def fit_whitening(x: np.ndarray, *, eps: float = 0.0, n_components: int | None = None) -> Whitening:
    r"""PCA whitening: decorrelate the features, then scale each direction to unit variance.

    Symbols: $X$ = ``x`` of shape $(N, D)$, $\Sigma = \frac1N (X - \bar X)^\top (X - \bar X)$,
    $\Sigma = U\,\mathrm{diag}(\lambda)\,U^\top$ (eigendecomposition, $\lambda$ decreasing),
    $\epsilon$ = ``eps``, $k$ = ``n_components`` (default $D$).

    .. math:: X_\text{white} = (X - \bar X)\, U_{:, :k}\, \mathrm{diag}(\lambda_{:k} + \epsilon)^{-1/2}

    Then $\mathrm{Cov}(X_\text{white}) = \mathrm{diag}(\lambda/(\lambda+\epsilon))$: the identity
    for $\epsilon = 0$. Vitay ("Data whitening": "first decorrelating the input dimensions
    (using PCA) and then scaling them so that the data lies in the unit sphere"); LeCun et al.,
    *Efficient backprop* (1998), section 4.3.

    .. warning:: With $\epsilon = 0$ a direction of zero variance (rank-deficient data, e.g.
       $N \le D$) cannot be scaled: that is an error; pass ``eps > 0`` or fewer components.
    """
    shape = check_array("x", x, min_ndim=2)
    if len(shape) != 2:
        raise ValueError(f"x: must be a matrix (samples, features), got shape {shape}")
    e = check_number("eps", eps, low=0.0)
    d = shape[1]
    k = d if n_components is None else n_components
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= d:
        raise ValueError(f"n_components={n_components!r}: must be an integer in [1, {d}]")
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / shape[0]
    lam, u = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1][:k]
    lam, u = np.maximum(lam[order], 0.0), u[:, order]
    tiny = lam <= 1e-12 * max(1.0, float(np.max(lam)))
    if e == 0.0 and np.any(tiny):
        raise ValueError(
            f"x: {int(np.sum(tiny))} of the {k} principal directions have zero variance "
            "(rank-deficient data); pass eps > 0 or a smaller n_components"
        )
    return Whitening(mean, u, np.sqrt(lam + e))


def apply_whitening(w: Whitening, x: np.ndarray) -> np.ndarray:
    """Whiten ``x`` (training or new data) with the fitted transform."""
    shape = check_array("x", x, min_ndim=2)
    if len(shape) != 2 or shape[1] != w.mean.shape[0]:
        raise ValueError(f"x: must have shape (N, {w.mean.shape[0]}), got {shape}")
    return (x - w.mean) @ w.components / w.scales


register(SpecEntry(
    id="norm.whiten", title="PCA whitening", tier="doc", kind="reference",
    formula=r"X_\text{white} = (X - \bar X)\,U\,\mathrm{diag}(\lambda+\epsilon)^{-1/2},\ "
    r"\mathrm{Cov}(X) = U\,\mathrm{diag}(\lambda)\,U^\top",
    citations=(
        C.at(C.VITAY, "Data whitening"),
        C.at(C.LECUN_EFFICIENT_BACKPROP, "Section 4.3"),
    ),
    notes="Reference only: checked by properties (identity covariance of the whitened "
    "training data, zero mean, invariance to rotations of the input).",
))
