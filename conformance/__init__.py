"""The conformance kit: strategies, tolerance policy, checks, runner, report and CLI.

The public adapter API is what this module exports: the interface (:class:`Adapter`,
:class:`Implementation`, :func:`family_implementations`), the optimizer case, and the result type
and layout helpers of the batch-normalisation kind (:class:`BatchNormRun`, :func:`to_layout`,
:func:`from_layout`), which an adapter must use to return a batch-norm run.
"""

from trainspec.conformance.adapter import (
    Adapter,
    Implementation,
    OptimizerCase,
    family_implementations,
)
from trainspec.conformance.kinds.batchnorm import BatchNormRun, from_layout, to_layout

__all__ = [
    "Adapter",
    "BatchNormRun",
    "Implementation",
    "OptimizerCase",
    "family_implementations",
    "from_layout",
    "to_layout",
]
