"""The conformance kit: strategies, tolerance policy, kinds, runner, report and CLI.

The public adapter API is what this module exports: the interface (:class:`Adapter`,
:class:`Implementation`, :class:`Finding`, :func:`family_implementations`,
:func:`load_adapters`), the case each
kind passes to an implementation's ``run`` (``OptimizerCase``, ``ScheduleCase``, ...) and the
type ``run`` returns for it (``OptimizerResult``, ``ScheduleResult``, ..., :class:`BatchNormRun`;
arrays are :data:`FloatArray`), so that ``Implementation[OptimizerCase, OptimizerResult]`` types
an optimizer's implementation, and the layout helpers of the batch-normalisation kind
(:func:`to_layout`, :func:`from_layout`).
"""

from trainspec.conformance.adapter import (
    Adapter,
    Finding,
    FloatArray,
    Implementation,
    family_implementations,
)
from trainspec.conformance.discovery import load_adapters
from trainspec.conformance.kinds.activations import ActivationCase, ActivationResult
from trainspec.conformance.kinds.clipping import ClippingCase, ClippingResult
from trainspec.conformance.kinds.defaults import DefaultsResult
from trainspec.conformance.kinds.dropout import DropoutCase, DropoutResult, LinearDropoutCase
from trainspec.conformance.kinds.init import InitCase, InitResult
from trainspec.conformance.kinds.losses import LossCase, LossResult
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun, from_layout, to_layout
from trainspec.conformance.kinds.optimizers import OptimizerCase, OptimizerResult
from trainspec.conformance.kinds.regularizers import RegularizerCase, RegularizerResult
from trainspec.conformance.kinds.schedules import ScheduleCase, ScheduleResult
from trainspec.conformance.kinds.second_order import SecondOrderCase, SecondOrderResult
from trainspec.conformance.kinds.training.backprop import BackpropCase, BackpropResult
from trainspec.conformance.kinds.training.early_stopping import (
    EarlyStoppingCase,
    EarlyStoppingResult,
)

__all__ = [
    "ActivationCase",
    "ActivationResult",
    "Adapter",
    "BackpropCase",
    "BackpropResult",
    "BatchNormCase",
    "BatchNormRun",
    "ClippingCase",
    "ClippingResult",
    "DefaultsResult",
    "DropoutCase",
    "DropoutResult",
    "EarlyStoppingCase",
    "EarlyStoppingResult",
    "Finding",
    "FloatArray",
    "Implementation",
    "InitCase",
    "InitResult",
    "LinearDropoutCase",
    "LossCase",
    "LossResult",
    "OptimizerCase",
    "OptimizerResult",
    "RegularizerCase",
    "RegularizerResult",
    "ScheduleCase",
    "ScheduleResult",
    "SecondOrderCase",
    "SecondOrderResult",
    "family_implementations",
    "from_layout",
    "load_adapters",
    "to_layout",
]
