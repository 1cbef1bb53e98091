r"""The hyperparameters that several optimizer cards share, each written once.

A hyperparameter that only one ID uses stands in that ID's card (for example Nadam's
``momentum_decay`` in :mod:`~trainspec.reference.optimizers.nadam`); a card that needs a shared
one with its own description derives it with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from trainspec.reference.registry import HyperParameter

__all__ = [
    "BETA1",
    "BETA2",
    "EPS",
    "LEARNING_RATE",
    "MOMENTUM",
    "MOMENTUM_POSITIVE",
    "RHO",
    "WEIGHT_DECAY",
]

LEARNING_RATE = HyperParameter("learning_rate", r"\eta",
                               "step size; a schedule (one value per step) in trajectories",
                               low=0.0, high=None, sample_low=1e-4, sample_high=1.0, log_scale=True,
                               special=(0.01, 0.001))
MOMENTUM = HyperParameter("momentum", r"\mu", "momentum (friction) coefficient", low=0.0, high=1.0,
                          high_closed=False, sample_low=0.0, sample_high=0.999,
                          special=(0.0, 0.5, 0.9, 0.99))
MOMENTUM_POSITIVE = HyperParameter("momentum", r"\mu",
                                   "momentum coefficient (0 is plain gradient descent, covered "
                                   "by opt.gd)",
                                   low=0.0, high=1.0, low_closed=False, high_closed=False,
                                   sample_low=0.01, sample_high=0.999, special=(0.5, 0.9, 0.99))
WEIGHT_DECAY = HyperParameter("weight_decay", r"\lambda", "weight-decay coefficient", low=0.0,
                              high=None, sample_low=1e-4, sample_high=0.5, log_scale=True,
                              special=(1e-4, 0.01))
BETA1 = HyperParameter("beta1", r"\beta_1",
                       "decay rate of the first moment (running average of gradients)", low=0.0,
                       high=1.0, high_closed=False, sample_low=0.0, sample_high=0.999,
                       special=(0.9, 0.0, 0.5))
BETA2 = HyperParameter("beta2", r"\beta_2",
                       "decay rate of the second moment (running average of squared gradients)",
                       low=0.0, high=1.0, high_closed=False, sample_low=0.0, sample_high=0.9999,
                       special=(0.999, 0.99, 0.0))
EPS = HyperParameter("eps", r"\epsilon",
                     "small constant added to the denominator (placement is a variant)", low=0.0,
                     high=None, low_closed=False, sample_low=1e-10, sample_high=1e-3,
                     log_scale=True, special=(1e-7, 1e-8))
RHO = HyperParameter("rho", r"\rho", "decay rate of the running average of squared gradients",
                     low=0.0, high=1.0, high_closed=False, sample_low=0.0, sample_high=0.999,
                     special=(0.9, 0.99))
