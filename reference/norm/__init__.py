r"""Batch normalisation and input normalisation (pure NumPy, float64): one module (card) per ID.

=======================  ====================================================================
module                   IDs
=======================  ====================================================================
:mod:`.train`            ``norm.batch.train``
:mod:`.running`          ``norm.batch.running``
:mod:`.test`             ``norm.batch.test``
:mod:`.grad`             ``norm.batch.grad``
:mod:`.standardize`      ``norm.standardize``
:mod:`.whiten`           ``norm.whiten``
=======================  ====================================================================

What the cards share (argument checks, layouts, ``eps``, ``momentum``, the ``variance`` axis, the
normalisation itself, the population statistics) is in :mod:`.common`; :mod:`.simulation` runs
a whole training run of one layer, as the kit compares it.


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

from trainspec.reference.norm.common import (
    BN_MOMENTUM,
    EPS,
    LAYOUTS,
    VARIANCE_COMPUTATIONS,
    BatchNormModel,
    channel_axis,
    population_statistics,
)
from trainspec.reference.norm.grad import BatchNormGrads, batch_norm_backward
from trainspec.reference.norm.running import (
    AVERAGES,
    MOMENTUM_CONVENTIONS,
    RUNNING_VARIANCES,
    RunningState,
    RunningStatistics,
    old_value_weight,
    running_statistics,
)
from trainspec.reference.norm.simulation import TrainingRecord, simulate_training
from trainspec.reference.norm.standardize import (
    STANDARDIZE_STATISTICS,
    Standardizer,
    apply_standardizer,
    fit_standardizer,
)
from trainspec.reference.norm.test import batch_norm_inference
from trainspec.reference.norm.train import BatchStatistics, batch_norm_train, batch_statistics
from trainspec.reference.norm.whiten import Whitening, apply_whitening, fit_whitening

__all__ = [
    "AVERAGES",
    "BN_MOMENTUM",
    "EPS",
    "LAYOUTS",
    "MOMENTUM_CONVENTIONS",
    "RUNNING_VARIANCES",
    "STANDARDIZE_STATISTICS",
    "VARIANCE_COMPUTATIONS",
    "BatchNormGrads",
    "BatchNormModel",
    "BatchStatistics",
    "RunningState",
    "RunningStatistics",
    "Standardizer",
    "TrainingRecord",
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
