r"""Kinds of spec: what the kit draws, runs and compares for each family of formulas.

Every :class:`~trainspec.reference.registry.SpecEntry` names its ``kind``. A kind tells the runner
(:mod:`trainspec.conformance.runner`) three things:

``checks``
    the names of its property checks, run in order (for optimizers: ``one_step`` from an arbitrary
    state, then ``trajectory`` with a changing learning rate);
``draw(data, entry, dtype, check)``
    one example (a *case*), drawn with Hypothesis' ``data`` from the helpers of
    :mod:`trainspec.conformance.strategies`; a case has ``summary() -> dict`` (JSON-able), which
    is what a report prints as the counterexample;
``evaluate(entry, impl, case, dtype, device, variants)``
    runs the framework once (``impl.run(case, dtype, device)``) and returns a
    :class:`~trainspec.conformance.checks.Comparison` per variant: ``ratio <= 1`` means the variant
    is consistent with the framework on this example.

Deterministic formulas compare element by element against the tracked reference (the tolerance
policy, :mod:`trainspec.conformance.tolerance`). Random ones (dropout masks, initialisers) compare
distributions: ``ratio`` is then a test statistic over its critical value at the stated
false-alarm rate (:mod:`trainspec.conformance.stats`).

A kind lives in the module of this package named after it (``kinds/batchnorm.py`` registers
``"batchnorm"``) and is imported the first time an entry of that kind is checked, so a new family
is one new module. Entries of kind ``"reference"`` are checked by the reference's own property
tests only; the report says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["REFERENCE_ONLY", "Kind", "get_kind", "register_kind"]

#: the kind of entries that no framework offers (checked by the reference's property tests)
REFERENCE_ONLY = "reference"


@dataclass(frozen=True)
class Kind:
    """How the kit checks every entry of one kind (see the module docstring)."""

    name: str
    checks: tuple[str, ...]
    draw: Callable[[Any, Any, str, str], Any]
    evaluate: Callable[[Any, Any, Any, str, str, Sequence[Any]], dict[Any, Any]]
    description: str = ""
    #: multiplies the profile's examples per check (a statistical kind whose every example draws
    #: many thousands of samples needs fewer examples); the kind's docstring gives the reason
    example_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError(f"kind {self.name!r}: checks must name at least one check")
        if not 0.0 < self.example_scale <= 1.0:
            raise ValueError(
                f"kind {self.name!r}: example_scale must be in (0, 1], got {self.example_scale}"
            )


_KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Register ``kind`` under its name; a name may be registered once."""
    if kind.name in _KINDS:
        raise ValueError(f"kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> Kind:
    """The kind called ``name``, importing ``trainspec.conformance.kinds.<name>`` on first use."""
    if name not in _KINDS:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise KeyError(
                f"kind={name!r}: no module trainspec.conformance.kinds.{name} defines it"
            ) from None
    if name not in _KINDS:
        raise KeyError(f"kind={name!r}: trainspec.conformance.kinds.{name} did not register it")
    return _KINDS[name]
