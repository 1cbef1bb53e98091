r"""``norm.standardize``: input normalisation, mean removal and standardisation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *

__all__ = ["STANDARDIZE_STATISTICS", "Standardizer", "apply_standardizer", "fit_standardizer"]


STANDARDIZE_STATISTICS = ("mean_image", "per_channel")


class Standardizer(NamedTuple):
    """Statistics fitted on the training set; apply them unchanged to new data."""

    mean: np.ndarray
    std: np.ndarray | None  # None: mean removal only


def fit_standardizer(
    x: np.ndarray,
    *,
    statistics: str = "mean_image",
    scale: bool = False,
    layout: str = "channels_last",
    eps: float = 0.0,
) -> Standardizer:
    r"""Fit mean removal ($x' = x - E[x]$) or standardisation ($x' = (x - E[x])/\mathrm{Std}(x)$).

    Symbols: $x$ = ``x`` with the samples on axis 0. ``statistics="mean_image"``: $E$ over the
    samples only (one mean per feature; for images a mean image, e.g. 32x32x3 for CIFAR-10);
    ``"per_channel"``: over the samples and the spatial positions (3 values for RGB; ``layout``
    names the channel axis). $\mathrm{Std}(x) = \sqrt{E[(x - E[x])^2] + \epsilon}$, $\epsilon$ =
    ``eps`` ($\ge 0$).

    Vitay ("Data normalization": mean removal, normalisation); Solberg ("Common
    normalization for image data": subtract the mean image or the mean of each channel);
    LeCun et al., *Efficient backprop* (1998), section 4.3.

    .. warning:: A feature with zero variance cannot be scaled to unit variance: with ``eps = 0``
       that is an error (naming the features), never a silent NaN.
    """
    shape = check_array("x", x, min_ndim=2)
    check_choice("statistics", statistics, STANDARDIZE_STATISTICS)
    e = check_number("eps", eps, low=0.0)
    if statistics == "mean_image":
        axes: tuple[int, ...] = (0,)
        keep = shape[1:]
    else:
        c = channel_axis(len(shape), layout)
        axes = tuple(a for a in range(len(shape)) if a != c)
        keep = (shape[c],)
    mean = np.mean(x, axis=axes, keepdims=True)
    if not scale:
        return Standardizer(mean, None)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    if e == 0.0 and np.any(var == 0.0):
        bad = np.argwhere(np.reshape(var, keep) == 0.0).tolist()[:5]
        raise ValueError(
            f"x: features {bad} have zero variance and cannot be scaled to unit variance; "
            "pass eps > 0"
        )
    return Standardizer(mean, np.sqrt(var + e))


def apply_standardizer(s: Standardizer, x: np.ndarray) -> np.ndarray:
    """$x' = (x - E)/\\mathrm{Std}$ with the fitted statistics (Vitay: "When predicting on new
    data, do not forget to normalize/whiten them too!")."""
    shape = check_array("x", x, min_ndim=2)
    try:
        np.broadcast_shapes(shape, s.mean.shape)
    except ValueError:
        raise ValueError(
            f"x: shape {shape} does not match the fitted statistics' shape {s.mean.shape}"
        ) from None
    out = x - s.mean
    return out if s.std is None else out / s.std


register(SpecEntry(
    id="norm.standardize", title="Input normalisation: mean removal and standardisation",
    tier="doc", kind="reference",
    formula=r"x' = x - E[x];\qquad x' = \frac{x - E[x]}{\mathrm{Std}(x)}",
    citations=(
        C.at(C.VITAY, "Data normalization"),
        C.at(C.SOLBERG, "Preprocessing: Common normalization for image data"),
        C.at(C.LECUN_EFFICIENT_BACKPROP, "Section 4.3"),
    ),
    variant_axes=(
        VariantAxis("statistics", (
            VariantOption("mean_image",
                          "one mean per input element (a 32x32x3 mean image for CIFAR-10)",
                          r"E[x] \text{ over the samples}", ("Solberg", "Vitay")),
            VariantOption("per_channel", "one mean per channel (3 values for RGB)",
                          r"E[x] \text{ over the samples and the pixels}", ("Solberg",)),
        )),
    ),
    notes="Reference only: checked by properties (zero mean, unit variance of the training "
    "data; the fitted statistics applied unchanged to new data).",
))
