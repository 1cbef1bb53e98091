r"""``norm.batch.running``: the population statistics for test time, kept during training."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *
from trainspec.reference.norm.train import BatchStatistics

__all__ = ["AVERAGES", "MOMENTUM_CONVENTIONS", "RUNNING_VARIANCES", "RunningState"]
__all__ += ["RunningStatistics", "old_value_weight", "running_statistics"]

_AVERAGE = VariantAxis("average", (
    VariantOption("exponential", "exponential running average with the weight w of the old value",
                  r"r \leftarrow w r + (1-w) b",
                  ("Solberg", "Padilla Montani", "Keras", "flax", "PyTorch (w = 1 - momentum)")),
    VariantOption("cumulative", "plain average of the batch statistics over all training batches",
                  r"r_t = \tfrac1t\sum_{s\le t} b_s",
                  ("Ioffe & Szegedy (2015), Algorithm 2", "PyTorch momentum=None")),
    VariantOption("whole_training_set", "the exact mean and variance over every training value",
                  r"\mu = \tfrac1n\sum x,\ \sigma^2 = \tfrac1n\sum (x-\mu)^2",
                  ("Vitay", "Solberg")),
))
_RUNNING_VARIANCE = VariantAxis("running_variance", (
    VariantOption("biased", "the batch variance as used in the normalisation (1/m)",
                  r"v_B = \sigma^2_B", ("Solberg", "Keras", "flax")),
    VariantOption("unbiased", "Bessel's correction m/(m-1)", r"v_B = \tfrac{m}{m-1}\sigma^2_B",
                  ("Ioffe & Szegedy (2015), Algorithm 2", "PyTorch")),
))
AVERAGES, RUNNING_VARIANCES = _AVERAGE.names, _RUNNING_VARIANCE.names
MOMENTUM_CONVENTIONS = ("old_weight", "new_weight")


class RunningState(NamedTuple):
    """``mean``/``var``: what test time uses; ``steps``: batches seen; ``samples`` and
    ``sum_sq_dev`` (squared deviations from ``mean`` of every value seen): for
    ``whole_training_set``."""

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
    r"""The weight $w$ of the old value: ``momentum`` (``"old_weight"``: Keras, flax, default
    0.99) or $1 -$ ``momentum`` (``"new_weight"``: PyTorch ``BatchNorm*d``, default 0.1)."""
    check_choice("momentum_convention", convention, MOMENTUM_CONVENTIONS)
    mom = check_number("momentum", momentum, low=0.0, high=1.0)
    return mom if convention == "old_weight" else 1.0 - mom


def running_statistics(momentum: float = 0.99, *, average: str = "exponential",
                       running_variance: str = "biased",
                       momentum_convention: str = "old_weight") -> RunningStatistics:
    r"""``norm.batch.running``: the population mean and variance, updated after every batch.

    Symbols: $r_\mu, r_{\sigma^2}$ = ``state.mean``, ``state.var``; $\mu_B$, $\sigma^2_B$ (biased)
    and $m$ of the batch (:class:`BatchStatistics`); $w$ = :func:`old_value_weight`; $t$ batches
    seen; $v_B = \sigma^2_B$ (``biased``) or $\frac{m}{m-1}\sigma^2_B$ (``unbiased``).

    .. math:: r_\mu \leftarrow w\,r_\mu + (1-w)\,\mu_B, \qquad
              r_{\sigma^2} \leftarrow w\,r_{\sigma^2} + (1-w)\,v_B \quad (\texttt{exponential})

    ``cumulative``: $r \leftarrow r + (b - r)/t$; ``whole_training_set``: the exact statistics of
    every value seen, merged batch by batch (Chan, Golub & LeVeque). Solberg ("Batch
    normalization: test time"), Vitay, Padilla Montani; Ioffe & Szegedy (2015), Algorithm 2.

    .. warning:: Keras and flax weight the OLD value by ``momentum``, PyTorch the NEW one
       (``momentum_convention``); PyTorch averages the *unbiased* batch variance.
    """
    check_choice("average", average, AVERAGES)
    check_choice("running_variance", running_variance, RUNNING_VARIANCES)
    w = old_value_weight(momentum, momentum_convention)

    def init(mean: Any, var: Any) -> RunningState:
        check_array("mean", mean, min_ndim=1)
        if check_array("var", var, min_ndim=1) != check_array("mean", mean):
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
            mean, var = moving_average(w, state.mean, batch.mean), moving_average(w, state.var, vb)
        else:
            f = 1.0 / t

            def cumulative(r: Any, b: Any) -> Any:
                return either_order(r + (b - r) / float(t), (1.0 - f) * r + f * b)

            mean, var = cumulative(state.mean, batch.mean), cumulative(state.var, vb)
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


register(SpecEntry(
    id="norm.batch.running", title="Batch normalisation: population statistics for test time",
    tier="core", kind="norm",
    formula=r"r_\mu \leftarrow w\,r_\mu + (1-w)\,\mu_B,\quad "
    r"r_{\sigma^2} \leftarrow w\,r_{\sigma^2} + (1-w)\,v_B",
    citations=(C.at(C.SOLBERG, "Batch normalization: test time"),
               C.at(C.VITAY, "Batch normalization (BN)"),
               C.at(C.PADILLA_MONTANI, "Batch Normalization"),
               C.at(C.IOFFE_SZEGEDY, "Algorithm 2")),
    variant_axes=(_AVERAGE, _RUNNING_VARIANCE, VARIANCE_AXIS),
    hyperparameters=(EPS, BN_MOMENTUM),
    notes="The hyperparameter momentum is the weight w of the OLD value (Keras/flax); each "
    "adapter maps it onto its framework in one tested function (PyTorch: 1 - w), so a flipped "
    "convention diverges. The row compares the running mean and variance after every step.",
    model=BatchNormModel("running"),
))
