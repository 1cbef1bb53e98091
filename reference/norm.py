r"""Batch normalisation and input normalisation (pure NumPy, float64).

Batch normalisation (Ioffe & Szegedy 2015) normalises each feature over the mini-batch: for
``(N, C)`` inputs over the batch axis, for images over the batch and the spatial axes, per channel.
Images come in two layouts: ``"channels_first"`` (NCHW: PyTorch, ``axis=1`` in Keras/flax) and
``"channels_last"`` (NHWC: the Keras/flax default). Everything here is a pure function of its
arguments; the running statistics are an optax-like pair ``init``/``update`` over a NamedTuple.

Where the documents and the frameworks split, the split is an argument named after what differs:

``variance``
    ``"two_pass"``: $\sigma^2 = \frac1m\sum(x-\mu)^2$ after the mean (the documents' formula,
    ``tf.nn.moments``, PyTorch); ``"one_pass"``: $\max(0, \overline{x^2} - \mu^2)$
    (``flax.linen.BatchNorm(use_fast_variance=True)``, its default), which loses the variance to
    cancellation when $|\mu| \gg \sigma$.
``average`` / ``running_variance`` / ``momentum_convention``
    how the population statistics for test time are kept (see :func:`running_statistics`).

The formulas use only operations the conformance kit's error-tracking arrays support (two-pass
variance: the mean, then the mean of squared deviations), so that the tolerance policy bounds them.

Frameworks that fold the affine step, $y = x a + (\beta - \mu_B a)$ with
$a = \gamma/\sqrt{\sigma^2_B+\epsilon}$ (``tf.nn.batch_normalization``, PyTorch's CPU kernel), are
not a separate variant: their rounding, about $u|x a|$, is of the order of what the centred form
already pays for the rounded mean ($x - \mu_B$ carries $u(|x| + |\mu_B|)$ plus the mean's own
error, which the bound always charges), so the centred form's bound covers them wherever
first-order bounds are valid (the kit keeps its examples there: the rounding of the mean must stay
well below $\sqrt{\sigma^2_B+\epsilon}$). Writing the folded form itself into the bound would be
wrong: a first-order bound cannot see that the two $a$'s cancel, and would accept a variance with
no correct digits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number, either_order
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
    "AVERAGES",
    "LAYOUTS",
    "MOMENTUM_CONVENTIONS",
    "RUNNING_VARIANCES",
    "VARIANCE_COMPUTATIONS",
    "BatchNormGrads",
    "BatchNormModel",
    "BatchStatistics",
    "RunningState",
    "RunningStatistics",
    "Standardizer",
    "Whitening",
    "apply_standardizer",
    "apply_whitening",
    "batch_norm_backward",
    "batch_norm_inference",
    "batch_norm_train",
    "batch_statistics",
    "channel_axis",
    "fit_standardizer",
    "fit_whitening",
    "old_value_weight",
    "population_statistics",
    "running_statistics",
    "simulate_training",
]

LAYOUTS = ("channels_first", "channels_last")
VARIANCE_COMPUTATIONS = ("two_pass", "one_pass")
AVERAGES = ("exponential", "cumulative", "whole_training_set")
RUNNING_VARIANCES = ("biased", "unbiased")
MOMENTUM_CONVENTIONS = ("old_weight", "new_weight")
STANDARDIZE_STATISTICS = ("mean_image", "per_channel")


# ---------------------------------------------------------------------------------------------
# argument checks


def _is_tracked(x: Any) -> bool:
    return hasattr(x, "err") and hasattr(x, "value")


def _check_array(name: str, x: Any, *, min_ndim: int = 0) -> tuple[int, ...]:
    """``x`` must be a real floating-point array (or a tracked one) with ``>= min_ndim`` axes."""
    if _is_tracked(x):
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


def _axes(shape: tuple[int, ...], layout: str) -> tuple[tuple[int, ...], int, int]:
    """(reduction axes, channel axis, m = number of values per channel)."""
    c = channel_axis(len(shape), layout)
    axes = tuple(a for a in range(len(shape)) if a != c)
    m = int(np.prod([shape[a] for a in axes]))
    return axes, c, m


def _per_channel(name: str, v: Any, channels: int) -> None:
    shape = _check_array(name, v)
    if shape != (channels,):
        raise ValueError(
            f"{name}: must have shape ({channels},) (one value per channel), got {shape}"
        )


def _bcast(v: Any, ndim: int, c: int) -> Any:
    """A per-channel vector reshaped to broadcast against an input with channel axis ``c``."""
    shape = [1] * ndim
    shape[c] = int(np.shape(v)[0])
    return np.reshape(v, tuple(shape))


def _check_eps(eps: Any) -> Any:
    return check_number("eps", eps, low=0.0, low_closed=False)


# ---------------------------------------------------------------------------------------------
# what the batch-normalisation cards share: the model the kit drives, eps, momentum, the variance


@dataclass(frozen=True)
class BatchNormModel:
    """What a row of a ``batchnorm`` entry compares (read by the kit's ``batchnorm`` kind).

    ``compares``: ``"outputs"`` (training-mode y of every step), ``"running"`` (population
    mean and variance after every step), ``"test"`` (test-time output, computed from the
    framework's own population statistics, so that the row isolates the test-time formula),
    ``"grads"`` (dx, dgamma, dbeta of every step).
    """

    compares: str


EPS = HyperParameter(
    "eps",
    r"\epsilon",
    "added to the variance inside the square root",
    low=0.0,
    high=None,
    low_closed=False,
    sample_low=1e-8,
    sample_high=1.0,
    log_scale=True,
    special=(1e-5, 1e-3),
)
BN_MOMENTUM = HyperParameter(
    "momentum",
    r"w",
    "weight of the OLD running value (Keras/flax momentum; PyTorch's momentum is 1 - w)",
    low=0.0,
    high=1.0,
    high_closed=False,
    sample_low=0.0,
    sample_high=0.999,
    special=(0.99, 0.9, 0.0),
)

_VARIANCE_AXIS = VariantAxis(
    "variance",
    (
        VariantOption(
            "two_pass",
            "the mean, then the mean of squared deviations",
            r"\sigma^2_B = \tfrac1m\sum(x_i-\mu_B)^2",
            ("Solberg", "Zheng", "Padilla Montani", "tf.nn.moments"),
        ),
        VariantOption(
            "one_pass",
            "mean of squares minus squared mean, clipped at 0 (cancels for large offsets)",
            r"\sigma^2_B = \max(0, \overline{x^2} - \mu_B^2)",
            ("flax.linen.BatchNorm(use_fast_variance=True)",),
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# norm.batch.train: batch statistics and the training-mode output


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
    shape = _check_array("x", x, min_ndim=2)
    check_choice("variance", variance, VARIANCE_COMPUTATIONS)
    axes, c, m = _axes(shape, layout)
    mean = np.mean(x, axis=axes)
    if variance == "two_pass":
        dev = x - _bcast(mean, len(shape), c)
        var = np.mean(np.square(dev), axis=axes)
    else:
        raw = np.mean(np.square(x), axis=axes) - np.square(mean)
        var = np.maximum(raw, np.zeros(np.shape(raw)))  # same shapes: Tracked's max rule needs them
    return BatchStatistics(mean, var, m)


def _normalize(x: Any, mean: Any, var: Any, gamma: Any, beta: Any, eps: Any, c: int) -> Any:
    nd = len(np.shape(x.value) if _is_tracked(x) else np.shape(x))
    mu, v = _bcast(mean, nd, c), _bcast(var, nd, c)
    g, b = _bcast(gamma, nd, c), _bcast(beta, nd, c)
    s = np.sqrt(v + eps)
    dev = x - mu
    # the paper's order, and the order of kernels that multiply by rsqrt(var + eps) * gamma
    return either_order((dev / s) * g + b, dev * (g * (1.0 / s)) + b)


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
    shape = _check_array("x", x, min_ndim=2)
    _, c, _ = _axes(shape, layout)
    _per_channel("gamma", gamma, shape[c])
    _per_channel("beta", beta, shape[c])
    eps = _check_eps(eps)
    stats = batch_statistics(x, layout=layout, variance=variance)
    return _normalize(x, stats.mean, stats.var, gamma, beta, eps, c), stats


def batch_norm_inference(
    x: Any,
    mean: Any,
    var: Any,
    gamma: Any,
    beta: Any,
    eps: Any,
    *,
    layout: str = "channels_first",
) -> Any:
    r"""Batch normalisation at test time: normalise with fixed population statistics.

    Symbols: $\mu_\text{pop}$ = ``mean``, $\sigma^2_\text{pop}$ = ``var`` ($\ge 0$), the rest as in
    :func:`batch_norm_train`.

    .. math:: y = \gamma\,\frac{x - \mu_\text{pop}}{\sqrt{\sigma^2_\text{pop} + \epsilon}} + \beta

    Solberg ("Batch normalization: test time": the statistics of the ENTIRE training set,
    kept by a running average), Zheng, Padilla Montani ("Each layer also learns an
    overall mu and sigma, to use during testing"); Ioffe & Szegedy (2015), Algorithm 2, step 11.

    .. warning:: Solberg's test-time slide prints the mini-batch formulas again (an erratum, see
       ``norm.batch.test``): at test time the batch's own statistics are *not* used.
    """
    shape = _check_array("x", x, min_ndim=2)
    _, c, _ = _axes(shape, layout)
    for name, v in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
        _per_channel(name, v, shape[c])
    vv = var.value if _is_tracked(var) else var
    if np.any(vv < 0):
        raise ValueError("var: population variances must be >= 0")
    eps = _check_eps(eps)
    return _normalize(x, mean, var, gamma, beta, eps, c)


register(
    SpecEntry(
        id="norm.batch.train",
        title="Batch normalisation, training mode",
        tier="core",
        kind="norm",
        formula=r"\mu_B = \frac1m\sum_i x_i,\ \sigma^2_B = \frac1m\sum_i (x_i-\mu_B)^2,\ "
        r"\hat x_i = \frac{x_i-\mu_B}{\sqrt{\sigma^2_B+\epsilon}},\ y_i = \gamma\hat x_i + \beta",
        citations=(
            C.at(C.SOLBERG, "Batch normalization: training"),
            C.at(C.VITAY, "Batch normalization (BN)"),
            C.at(C.ZHENG, "Batch Normalization (BN)"),
            C.at(C.PADILLA_MONTANI, "Batch Normalization"),
            C.at(C.IOFFE_SZEGEDY, "Algorithm 1"),
        ),
        variant_axes=(_VARIANCE_AXIS,),
        hyperparameters=(EPS,),
        notes="Per feature for (N, C) inputs; per channel over batch and spatial axes for images, "
        "channels-first or channels-last. The variance in the normalisation is the biased one "
        "(1/m); an unbiased variance there is a divergence, not a variant. Vitay writes "
        "(X - E(X))/Std(X) without gamma, beta and eps. The row compares y of every training step.",
        model=BatchNormModel("outputs"),
    )
)


# ---------------------------------------------------------------------------------------------
# norm.batch.running: the population statistics kept during training


class RunningState(NamedTuple):
    """Population statistics kept for test time.

    ``mean``/``var`` are what test time uses; ``steps`` counts training batches; ``samples`` and
    ``sum_sq_dev`` (the sum of squared deviations from ``mean`` over every value seen) are kept
    for the whole-training-set statistics.
    """

    mean: Any
    var: Any
    steps: int
    samples: int
    sum_sq_dev: Any


class RunningStatistics(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`running_statistics`."""

    init: Any
    update: Any


def old_value_weight(momentum: float, convention: str) -> Any:
    r"""The weight $w$ of the old running value in $r \leftarrow w\,r + (1-w)\,b$.

    ``"old_weight"``: $w = $ ``momentum`` (Keras ``BatchNormalization``, ``flax.linen.BatchNorm``,
    default 0.99); ``"new_weight"``: $w = 1 - $ ``momentum`` (PyTorch ``BatchNorm*d``, default 0.1).
    """
    check_choice("momentum_convention", convention, MOMENTUM_CONVENTIONS)
    mom = check_number("momentum", momentum, low=0.0, high=1.0)
    return mom if convention == "old_weight" else 1.0 - mom


def running_statistics(
    momentum: float = 0.99,
    *,
    average: str = "exponential",
    running_variance: str = "biased",
    momentum_convention: str = "old_weight",
) -> RunningStatistics:
    r"""``norm.batch.running``: the population mean and variance for test time, updated after
    every training batch.

    Symbols: $r_\mu, r_{\sigma^2}$ = ``state.mean``, ``state.var``; $\mu_B, \sigma^2_B$ the
    batch's statistics (:class:`BatchStatistics`, biased), $m$ its values per channel;
    $w$ = :func:`old_value_weight` of ``momentum``; $t$ = the number of batches seen.

    ``running_variance``: the batch variance that enters the average is
    $v_B = \sigma^2_B$ (``"biased"``) or $v_B = \frac{m}{m-1}\sigma^2_B$ (``"unbiased"``).

    ``average``:

    * ``"exponential"`` (Solberg "use running average to update"; Padilla Montani):
      $r \leftarrow w\,r + (1-w)\,b$ for $b = \mu_B$ and $b = v_B$;
    * ``"cumulative"`` (Ioffe & Szegedy 2015, Algorithm 2, step 10: $E[x] = E_B[\mu_B]$,
      $\mathrm{Var}[x] = \frac{m}{m-1}E_B[\sigma^2_B]$; PyTorch's ``momentum=None``):
      $r \leftarrow r + (b - r)/t$, the plain average over the batches (the initial state is
      forgotten after the first batch);
    * ``"whole_training_set"`` (Vitay: "At the end of learning, the mean and variance over
      the whole training set is computed and stored"; Solberg: "computed for the ENTIRE
      TRAINING set"): the exact mean and variance of every training value seen, combined batch
      by batch (Chan, Golub & LeVeque's pairwise update, exact in exact arithmetic), variance
      $\frac1n\sum(x-\mu)^2$ (biased) or $\frac1{n-1}\sum(x-\mu)^2$ (unbiased) over all $n$
      values.

    .. warning:: ``momentum`` means opposite things in the frameworks: Keras and flax weight the
       OLD value by it (default 0.99), PyTorch weights the NEW batch value by it (default 0.1),
       hence ``momentum_convention``. PyTorch averages the *unbiased* batch variance, Keras and
       flax the biased one.
    """
    check_choice("average", average, AVERAGES)
    check_choice("running_variance", running_variance, RUNNING_VARIANCES)
    w = old_value_weight(momentum, momentum_convention)

    def init(mean: Any, var: Any) -> RunningState:
        _check_array("mean", mean, min_ndim=1)
        if _check_array("var", var, min_ndim=1) != _check_array("mean", mean):
            raise ValueError("var: must have the shape of mean")
        return RunningState(mean, var, 0, 0, var * 0.0)

    def update(state: RunningState, batch: BatchStatistics) -> RunningState:
        if not isinstance(state, RunningState):
            raise TypeError(f"state: must be a RunningState, got {type(state).__name__}")
        if not isinstance(batch, BatchStatistics):
            raise TypeError(f"batch: must be BatchStatistics, got {type(batch).__name__}")
        m = batch.count
        if running_variance == "unbiased" and m < 2:
            raise ValueError(
                f"batch.count={m}: the unbiased variance needs at least 2 values per channel"
            )
        vb = batch.var * (m / (m - 1.0)) if running_variance == "unbiased" else batch.var
        if average == "whole_training_set":
            return _combine(state, batch, running_variance)
        t = state.steps + 1
        if average == "exponential":
            mean = either_order(
                w * state.mean + (1.0 - w) * batch.mean,
                state.mean + (1.0 - w) * (batch.mean - state.mean),
            )
            var = either_order(
                w * state.var + (1.0 - w) * vb, state.var + (1.0 - w) * (vb - state.var)
            )
        else:
            f = 1.0 / t
            mean = either_order(
                state.mean + (batch.mean - state.mean) / float(t),
                (1.0 - f) * state.mean + f * batch.mean,
            )
            var = either_order(
                state.var + (vb - state.var) / float(t), (1.0 - f) * state.var + f * vb
            )
        return RunningState(mean, var, t, state.samples + m, state.sum_sq_dev)

    return RunningStatistics(init, update)


def _combine(state: RunningState, batch: BatchStatistics, running_variance: str) -> RunningState:
    """Chan-Golub-LeVeque: merge a batch into the exact statistics of all values seen so far."""
    n, k = state.samples, batch.count
    total = n + k
    batch_ssd = batch.var * float(k)
    if n == 0:
        mean, ssd = batch.mean, batch_ssd
    else:
        delta = batch.mean - state.mean
        mean = state.mean + delta * (k / total)
        ssd = state.sum_sq_dev + batch_ssd + np.square(delta) * (n * k / total)
    if running_variance == "unbiased":
        if total < 2:
            raise ValueError("the unbiased variance needs at least 2 training values per channel")
        var = ssd / float(total - 1)
    else:
        var = ssd / float(total)
    return RunningState(mean, var, state.steps + 1, total, ssd)


def population_statistics(
    batches: Sequence[np.ndarray], *, layout: str = "channels_first", unbiased: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance per channel over *every* value of the training batches together
    (Vitay, Solberg): the statistics that ``average="whole_training_set"`` accumulates."""
    if len(batches) == 0:
        raise ValueError("batches: must hold at least one batch")
    shapes = [_check_array(f"batches[{i}]", b, min_ndim=2) for i, b in enumerate(batches)]
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


_AVERAGE_AXIS = VariantAxis(
    "average",
    (
        VariantOption(
            "exponential",
            "exponential running average with the weight w of the old value",
            r"r \leftarrow w r + (1-w) b",
            (
                "Solberg",
                "Padilla Montani",
                "Keras",
                "flax",
                "PyTorch (w = 1 - momentum)",
            ),
        ),
        VariantOption(
            "cumulative",
            "plain average of the batch statistics over all training batches",
            r"r_t = \tfrac1t\sum_{s\le t} b_s",
            ("Ioffe & Szegedy (2015), Algorithm 2", "PyTorch momentum=None"),
        ),
        VariantOption(
            "whole_training_set",
            "the exact mean and variance over every training value",
            r"\mu = \tfrac1n\sum x,\ \sigma^2 = \tfrac1n\sum (x-\mu)^2",
            ("Vitay", "Solberg"),
        ),
    ),
)
_RUNNING_VARIANCE_AXIS = VariantAxis(
    "running_variance",
    (
        VariantOption(
            "biased",
            "the batch variance as used in the normalisation (1/m)",
            r"v_B = \sigma^2_B",
            ("Solberg", "Keras", "flax"),
        ),
        VariantOption(
            "unbiased",
            "Bessel's correction m/(m-1)",
            r"v_B = \tfrac{m}{m-1}\sigma^2_B",
            ("Ioffe & Szegedy (2015), Algorithm 2", "PyTorch"),
        ),
    ),
)


register(
    SpecEntry(
        id="norm.batch.running",
        title="Batch normalisation: population statistics for test time",
        tier="core",
        kind="norm",
        formula=r"r_\mu \leftarrow w\,r_\mu + (1-w)\,\mu_B,\quad "
        r"r_{\sigma^2} \leftarrow w\,r_{\sigma^2} + (1-w)\,v_B",
        citations=(
            C.at(C.SOLBERG, "Batch normalization: test time"),
            C.at(C.VITAY, "Batch normalization (BN)"),
            C.at(C.PADILLA_MONTANI, "Batch Normalization"),
            C.at(C.IOFFE_SZEGEDY, "Algorithm 2"),
        ),
        variant_axes=(_AVERAGE_AXIS, _RUNNING_VARIANCE_AXIS, _VARIANCE_AXIS),
        hyperparameters=(EPS, BN_MOMENTUM),
        notes="The hyperparameter momentum is the weight w of the OLD value (Keras/flax); each "
        "adapter maps it onto its framework in one tested function (PyTorch: 1 - w), so a flipped "
        "convention diverges. The row compares the running mean and variance after every step.",
        model=BatchNormModel("running"),
    )
)


# ---------------------------------------------------------------------------------------------
# norm.batch.test: the test-time output from the population statistics


# ---------------------------------------------------------------------------------------------
# a whole training run of one BN layer (what the conformance kit compares)


@dataclass(frozen=True)
class TrainingRecord:
    """Everything one batch-normalisation layer produces over a short training run."""

    outputs: list[Any]  # y of each training step
    grads: list[BatchNormGrads]  # gradients of sum(dy * y) at each training step
    running: list[RunningState]  # the population statistics after each step
    test_output: Any  # test-time output on the test batch with the final statistics


def simulate_training(
    batches: Sequence[Any],
    upstream: Sequence[Any],
    test_batch: Any,
    gamma: Any,
    beta: Any,
    eps: Any,
    momentum: Any,
    initial_mean: Any,
    initial_var: Any,
    *,
    layout: str = "channels_first",
    options: Mapping[str, str] | None = None,
) -> TrainingRecord:
    """Run training steps (one per batch, each with its upstream gradient), then a test step.

    ``options`` holds the variant choices (``variance``, ``average``,
    ``running_variance``; ``momentum`` always weights the OLD value here). gamma and beta stay
    fixed: the comparison isolates batch normalisation from the optimizer.
    """
    o = dict(options or {})
    if len(batches) == 0 or len(batches) != len(upstream):
        raise ValueError("batches, upstream: must be non-empty and of equal length")
    variance = o.get("variance", "two_pass")
    stats_fn = running_statistics(
        momentum,
        average=o.get("average", "exponential"),
        running_variance=o.get("running_variance", "biased"),
    )
    state = stats_fn.init(initial_mean, initial_var)
    outputs, grads, running = [], [], []
    for x, dy in zip(batches, upstream, strict=True):
        y, stats = batch_norm_train(x, gamma, beta, eps, layout=layout, variance=variance)
        outputs.append(y)
        grads.append(batch_norm_backward(x, dy, gamma, eps, layout=layout, variance=variance))
        state = stats_fn.update(state, stats)
        running.append(state)
    test = batch_norm_inference(test_batch, state.mean, state.var, gamma, beta, eps, layout=layout)
    return TrainingRecord(outputs, grads, running, test)


def _solberg_test_time_check() -> ErratumEvidence:
    """Solberg's test-time slide, read literally, normalises a test batch with its own statistics."""
    rng = np.random.default_rng(0)
    train = [rng.normal(2.0, 3.0, (8, 3)) for _ in range(4)]
    test = rng.normal(-1.0, 0.5, (4, 3))
    gamma, beta, eps = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0]), 1e-5
    mean, var = population_statistics(train)
    correct = gamma * (test - mean) / np.sqrt(var + eps) + beta
    printed, _ = batch_norm_train(test, gamma, beta, eps)
    corrected = batch_norm_inference(test, mean, var, gamma, beta, eps)
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - correct))),
        corrected_error=float(np.max(np.abs(corrected - correct))),
        detail="4 training batches of N(2, 9) values; a test batch of N(-1, 0.25) values: with its "
        "own statistics the test batch is renormalised to zero mean and unit variance",
    )


register(
    SpecEntry(
        id="norm.batch.test",
        title="Batch normalisation, test mode",
        tier="core",
        kind="norm",
        formula=r"y = \gamma\,\frac{x - \mu_\text{pop}}{\sqrt{\sigma^2_\text{pop}+\epsilon}} + \beta",
        citations=(
            C.at(C.SOLBERG, "Batch normalization: test time"),
            C.at(C.ZHENG, "Batch Normalization (BN)"),
            C.at(C.PADILLA_MONTANI, "Batch Normalization"),
            C.at(C.IOFFE_SZEGEDY, "Algorithm 2, step 11"),
        ),
        errata=(
            Erratum(
                source=C.at(C.SOLBERG, "Batch normalization: test time"),
                printed=r"\mu_B \leftarrow \frac1m\sum_{i=1}^m x_i,\ "
                r"\sigma_B^2 \leftarrow \frac1m\sum_{i=1}^m (x_i-\mu_B)^2,\ "
                r"\hat x_i \leftarrow \frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}",
                correct=r"\hat x = \frac{x-\mu_\text{pop}}{\sqrt{\sigma^2_\text{pop}+\epsilon}}",
                explanation="The slide says the mean/std of the ENTIRE training set is used at "
                "test time, but prints the training-time algorithm with the mini-batch mean and "
                "variance again; read literally, a test batch is normalised with its own statistics.",
                check=_solberg_test_time_check,
            ),
        ),
        hyperparameters=(EPS, BN_MOMENTUM),
        notes="The row compares the test-mode output with the formula applied to the framework's "
        "own population statistics (read back after training), so it isolates the test-time "
        "formula; how those statistics are kept is norm.batch.running.",
        model=BatchNormModel("test"),
    )
)


# ---------------------------------------------------------------------------------------------
# norm.batch.grad: the backward pass


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
    shape = _check_array("x", x, min_ndim=2)
    if _check_array("dy", dy) != shape:
        raise ValueError(f"dy: must have the shape of x, {shape}, got {_check_array('dy', dy)}")
    check_choice("variance", variance, VARIANCE_COMPUTATIONS)
    axes, c, m = _axes(shape, layout)
    _per_channel("gamma", gamma, shape[c])
    eps = _check_eps(eps)
    nd = len(shape)
    stats = batch_statistics(x, layout=layout, variance=variance)
    mu = _bcast(stats.mean, nd, c)
    dev = x - mu
    s = np.sqrt(stats.var + eps)
    r = 1.0 / s
    g = gamma
    sum_dy = np.sum(dy, axis=axes)
    sum_dy_dev = np.sum(dy * dev, axis=axes)
    dgamma = either_order(sum_dy_dev * r, np.sum(dy * (dev / _bcast(s, nd, c)), axis=axes))
    dx_direct = dy * _bcast(g * r, nd, c)
    dmu_direct = -(g * r) * sum_dy
    dr = g * sum_dy_dev
    dvar = dr * (-0.5) * r**3
    if variance == "two_pass":
        autodiff = (
            dx_direct
            + _bcast(dvar * (2.0 / m), nd, c) * dev
            + _bcast((dmu_direct - dvar * (2.0 / m) * np.sum(dev, axis=axes)) / m, nd, c)
        )
        xhat = dev * _bcast(r, nd, c)
        compact = _bcast(g * r / m, nd, c) * (
            dy * float(m)
            - _bcast(sum_dy, nd, c)
            - xhat * _bcast(np.sum(dy * xhat, axis=axes), nd, c)
        )
        dx = either_order(autodiff, compact)
    else:
        dx = (
            dx_direct
            + _bcast(dvar * (2.0 / m), nd, c) * x
            + _bcast((dmu_direct - 2.0 * stats.mean * dvar) / m, nd, c)
        )
    return BatchNormGrads(dx, dgamma, sum_dy)


register(
    SpecEntry(
        id="norm.batch.grad",
        title="Batch normalisation: backward pass",
        tier="core",
        kind="norm",
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
        variant_axes=(_VARIANCE_AXIS,),
        hyperparameters=(EPS,),
        notes="Each framework's automatic differentiation of its training-mode layer, for a given "
        "upstream gradient dy, against the closed form; the variant axes name the forward "
        "evaluation order that the autodiff follows.",
        model=BatchNormModel("grads"),
    )
)


# ---------------------------------------------------------------------------------------------
# norm.standardize


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
    shape = _check_array("x", x, min_ndim=2)
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
    shape = _check_array("x", x, min_ndim=2)
    try:
        np.broadcast_shapes(shape, s.mean.shape)
    except ValueError:
        raise ValueError(
            f"x: shape {shape} does not match the fitted statistics' shape {s.mean.shape}"
        ) from None
    out = x - s.mean
    return out if s.std is None else out / s.std


register(
    SpecEntry(
        id="norm.standardize",
        title="Input normalisation: mean removal and standardisation",
        tier="doc",
        kind="reference",
        formula=r"x' = x - E[x];\qquad x' = \frac{x - E[x]}{\mathrm{Std}(x)}",
        citations=(
            C.at(C.VITAY, "Data normalization"),
            C.at(C.SOLBERG, "Preprocessing: Common normalization for image data"),
            C.at(C.LECUN_EFFICIENT_BACKPROP, "Section 4.3"),
        ),
        variant_axes=(
            VariantAxis(
                "statistics",
                (
                    VariantOption(
                        "mean_image",
                        "one mean per input element (a 32x32x3 mean image for CIFAR-10)",
                        r"E[x] \text{ over the samples}",
                        ("Solberg", "Vitay"),
                    ),
                    VariantOption(
                        "per_channel",
                        "one mean per channel (3 values for RGB)",
                        r"E[x] \text{ over the samples and the pixels}",
                        ("Solberg",),
                    ),
                ),
            ),
        ),
        notes="Reference only: checked by properties (zero mean, unit variance of the training "
        "data; the fitted statistics applied unchanged to new data).",
    )
)


# ---------------------------------------------------------------------------------------------
# norm.whiten


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
    shape = _check_array("x", x, min_ndim=2)
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
    shape = _check_array("x", x, min_ndim=2)
    if len(shape) != 2 or shape[1] != w.mean.shape[0]:
        raise ValueError(f"x: must have shape (N, {w.mean.shape[0]}), got {shape}")
    return (x - w.mean) @ w.components / w.scales


register(
    SpecEntry(
        id="norm.whiten",
        title="PCA whitening",
        tier="doc",
        kind="reference",
        formula=r"X_\text{white} = (X - \bar X)\,U\,\mathrm{diag}(\lambda+\epsilon)^{-1/2},\ "
        r"\mathrm{Cov}(X) = U\,\mathrm{diag}(\lambda)\,U^\top",
        citations=(
            C.at(C.VITAY, "Data whitening"),
            C.at(C.LECUN_EFFICIENT_BACKPROP, "Section 4.3"),
        ),
        notes="Reference only: checked by properties (identity covariance of the whitened "
        "training data, zero mean, invariance to rotations of the input).",
    )
)
