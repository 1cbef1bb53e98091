r"""The training procedure (pure NumPy): one module (card) per ID.

===========================  =================================================================
module                       IDs
===========================  =================================================================
:mod:`.early_stopping`       ``train.early_stopping``
:mod:`.minibatch`            ``train.minibatch``
:mod:`.backprop`             ``train.backprop``
===========================  =================================================================
"""

from __future__ import annotations

from trainspec.reference.training.backprop import (
    ACTIVATIONS,
    LOSSES,
    activation,
    activation_derivative,
    loss_gradient,
    loss_value,
    mlp_backprop,
    mlp_forward,
    mlp_loss,
    mlp_shapes,
)
from trainspec.reference.training.early_stopping import (
    COMPARE_IN,
    IMPROVEMENTS,
    RESTORES,
    STOP_RULES,
    EarlyStopping,
    EarlyStoppingResult,
    EarlyStoppingState,
    early_stopping,
    is_improvement,
    run_early_stopping,
)
from trainspec.reference.training.minibatch import SAMPLINGS, SPLITS, minibatch_indices

__all__ = [
    "ACTIVATIONS",
    "COMPARE_IN",
    "IMPROVEMENTS",
    "LOSSES",
    "RESTORES",
    "SAMPLINGS",
    "SPLITS",
    "STOP_RULES",
    "EarlyStopping",
    "EarlyStoppingResult",
    "EarlyStoppingState",
    "activation",
    "activation_derivative",
    "early_stopping",
    "is_improvement",
    "loss_gradient",
    "loss_value",
    "minibatch_indices",
    "mlp_backprop",
    "mlp_forward",
    "mlp_loss",
    "mlp_shapes",
    "run_early_stopping",
]
