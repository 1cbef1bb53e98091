"""The conformance kit: strategies, tolerance policy, checks, runner, report and CLI."""

from trainspec.conformance.adapter import Adapter, Implementation, OptimizerCase

__all__ = ["Adapter", "Implementation", "OptimizerCase"]
