"""The conformance kit: strategies, tolerance policy, kinds, runner, report and CLI.

The public adapter API is what this module exports: the interface (:class:`Adapter`,
:class:`Implementation`, :func:`family_implementations`, :func:`load_adapters`), the case each
kind passes to an implementation's ``run`` (``OptimizerCase``, ``ScheduleCase``, ...), and the
result type and layout helpers of the batch-normalisation kind (:class:`BatchNormRun`,
:func:`to_layout`, :func:`from_layout`), which an adapter must use to return a batch-norm run.
"""

from trainspec.conformance.adapter import Adapter, Implementation, family_implementations
from trainspec.conformance.discovery import load_adapters
from trainspec.conformance.kinds.activations import ActivationCase
from trainspec.conformance.kinds.clipping import ClippingCase
from trainspec.conformance.kinds.dropout import DropoutCase, LinearDropoutCase
from trainspec.conformance.kinds.init import InitCase
from trainspec.conformance.kinds.losses import LossCase
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun, from_layout, to_layout
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.kinds.regularizers import RegularizerCase
from trainspec.conformance.kinds.schedules import ScheduleCase
from trainspec.conformance.kinds.second_order import SecondOrderCase
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.kinds.training.early_stopping import EarlyStoppingCase

__all__ = [
    "ActivationCase",
    "Adapter",
    "BackpropCase",
    "BatchNormCase",
    "BatchNormRun",
    "ClippingCase",
    "DropoutCase",
    "EarlyStoppingCase",
    "Implementation",
    "InitCase",
    "LinearDropoutCase",
    "LossCase",
    "OptimizerCase",
    "RegularizerCase",
    "ScheduleCase",
    "SecondOrderCase",
    "family_implementations",
    "from_layout",
    "load_adapters",
    "to_layout",
]
