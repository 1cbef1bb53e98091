"""The conformance kit: strategies, tolerance policy, checks, runner, report and CLI."""

from trainspec.conformance.adapter import Adapter, Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase

__all__ = ["Adapter", "Implementation", "OptimizerCase"]
