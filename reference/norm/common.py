r"""What the normalisation cards share: the argument checks of per-channel arrays, the layouts,
the model the kit drives, the hyperparameters ``eps`` and ``momentum``, the ``variance`` axis,
the centred normalisation, and the population statistics of a set of batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.reference.base import (
    check_choice,
    check_eps,
    check_number,
    either_order,
    moving_average,
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

# A card imports ``*`` from here: the shared pieces below and the names it needs of base and the
# registry, listed once.
__all__ = [
    "BN_MOMENTUM",
    "EPS",
    "LAYOUTS",
    "VARIANCE_AXIS",
    "VARIANCE_COMPUTATIONS",
    "BatchNormModel",
    "Erratum",
    "ErratumEvidence",
    "HyperParameter",
    "SpecEntry",
    "VariantAxis",
    "VariantOption",
    "bcast",
    "channel_axis",
    "check_array",
    "check_choice",
    "check_eps",
    "check_number",
    "check_per_channel",
    "either_order",
    "is_tracked",
    "moving_average",
    "normalize",
    "population_statistics",
    "reduction_axes",
    "register",
]

LAYOUTS = ("channels_first", "channels_last")
VARIANCE_COMPUTATIONS = ("two_pass", "one_pass")


def is_tracked(x: Any) -> bool:
    """Whether ``x`` is one of the kit's error-tracking arrays (it has ``value`` and ``err``)."""
    return hasattr(x, "err") and hasattr(x, "value")


def check_array(name: str, x: Any, *, min_ndim: int = 0) -> tuple[int, ...]:
    """``x`` must be a real floating-point array (or a tracked one) with ``>= min_ndim`` axes."""
    if is_tracked(x):
        shape = tuple(np.shape(x.value))
    else:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name}: must be a numpy array, got {type(x).__name__}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name}: must have a real floating-point dtype, got {x.dtype}")
        shape = x.shape
    if len(shape) < min_ndim:
        raise ValueError(f"{name}: must have at least {min_ndim} axes, got shape {shape}")
    if any(s == 0 for s in shape):
        raise ValueError(f"{name}: must not be empty, got shape {shape}")
    return shape


def channel_axis(ndim: int, layout: str = "channels_first") -> int:
    """The feature (channel) axis: 1 for ``(N, C)`` inputs and NCHW, the last axis for NHWC."""
    check_choice("layout", layout, LAYOUTS)
    if ndim < 2:
        raise ValueError(f"x: must have at least 2 axes (batch, features), got {ndim}")
    return 1 if layout == "channels_first" or ndim == 2 else ndim - 1


def reduction_axes(shape: tuple[int, ...], layout: str) -> tuple[tuple[int, ...], int, int]:
    """(reduction axes, channel axis, m = number of values per channel)."""
    c = channel_axis(len(shape), layout)
    axes = tuple(a for a in range(len(shape)) if a != c)
    m = int(np.prod([shape[a] for a in axes]))
    return axes, c, m


def check_per_channel(name: str, v: Any, channels: int) -> None:
    """``v`` must be a vector of one value per channel."""
    shape = check_array(name, v)
    if shape != (channels,):
        raise ValueError(
            f"{name}: must have shape ({channels},) (one value per channel), got {shape}"
        )


def bcast(v: Any, ndim: int, c: int) -> Any:
    """A per-channel vector reshaped to broadcast against an input with channel axis ``c``."""
    shape = [1] * ndim
    shape[c] = int(np.shape(v)[0])
    return np.reshape(v, tuple(shape))


def normalize(x: Any, mean: Any, var: Any, gamma: Any, beta: Any, eps: Any, c: int) -> Any:
    r"""$\gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta$ per channel (axis ``c``), in the
    paper's order and in the order of kernels that multiply by ``rsqrt(var + eps) * gamma``."""
    nd = len(np.shape(x.value) if is_tracked(x) else np.shape(x))
    mu, v = bcast(mean, nd, c), bcast(var, nd, c)
    g, b = bcast(gamma, nd, c), bcast(beta, nd, c)
    s = np.sqrt(v + eps)
    dev = x - mu
    return either_order((dev / s) * g + b, dev * (g * (1.0 / s)) + b)


def population_statistics(
    batches: Sequence[np.ndarray], *, layout: str = "channels_first", unbiased: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance per channel over *every* value of the training batches together
    (Vitay, Solberg): the statistics that ``norm.batch.running``'s ``whole_training_set``
    accumulates, and those that ``norm.batch.test`` normalises with."""
    if len(batches) == 0:
        raise ValueError("batches: must hold at least one batch")
    shapes = [check_array(f"batches[{i}]", b, min_ndim=2) for i, b in enumerate(batches)]
    c = channel_axis(len(shapes[0]), layout)
    moved = [np.moveaxis(np.asarray(b, dtype=np.float64), c, -1) for b in batches]
    if any(mv.shape[-1] != moved[0].shape[-1] for mv in moved):
        raise ValueError("batches: must all have the same number of channels")
    flat = np.concatenate([mv.reshape(-1, mv.shape[-1]) for mv in moved])
    mean = flat.mean(axis=0)
    n = flat.shape[0]
    if unbiased and n < 2:
        raise ValueError("batches: the unbiased variance needs at least 2 values per channel")
    var = np.sum(np.square(flat - mean), axis=0) / (n - 1 if unbiased else n)
    return mean, var


@dataclass(frozen=True)
class BatchNormModel:
    """What a row of a ``norm`` entry compares (read by the kit's ``norm`` kind).

    ``compares``: ``"outputs"`` (training-mode y of every step), ``"running"`` (population
    mean and variance after every step), ``"test"`` (test-time output, computed from the
    framework's own population statistics, so that the row isolates the test-time formula),
    ``"grads"`` (dx, dgamma, dbeta of every step).
    """

    compares: str


EPS = HyperParameter("eps", r"\epsilon", "added to the variance inside the square root", low=0.0,
                     high=None, low_closed=False, sample_low=1e-8, sample_high=1.0, log_scale=True,
                     special=(1e-5, 1e-3))
BN_MOMENTUM = HyperParameter("momentum", r"w",
                             "weight of the OLD running value (Keras/flax momentum; PyTorch's "
                             "momentum is 1 - w)",
                             low=0.0, high=1.0, high_closed=False, sample_low=0.0,
                             sample_high=0.999, special=(0.99, 0.9, 0.0))
VARIANCE_AXIS = VariantAxis("variance", (
    VariantOption("two_pass", "the mean, then the mean of squared deviations",
                  r"\sigma^2_B = \tfrac1m\sum(x_i-\mu_B)^2",
                  ("Solberg", "Zheng", "Padilla Montani", "tf.nn.moments")),
    VariantOption("one_pass",
                  "mean of squares minus squared mean, clipped at 0 (cancels for large offsets)",
                  r"\sigma^2_B = \max(0, \overline{x^2} - \mu_B^2)",
                  ("flax.linen.BatchNorm(use_fast_variance=True)",)),
))
