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
    :class:`~trainspec.conformance.tolerance.Comparison` per variant: ``ratio <= 1`` means the variant
    is consistent with the framework on this example.

Deterministic formulas compare element by element against the tracked reference (the tolerance
policy, :mod:`trainspec.conformance.tolerance`). Random ones (dropout masks, initialisers) compare
distributions: ``ratio`` is then a test statistic over its critical value at the stated
false-alarm rate (:mod:`trainspec.conformance.stats`).

A kind lives in the module of this package named after it (``kinds/norm.py`` registers
``"norm"``) and is imported the first time an entry of that kind is checked, so a new family
is one new module. Entries of kind ``"reference"`` are checked by the reference's own property
tests only; the report says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trainspec.conformance.contracts import KindContract

__all__ = [
    "REFERENCE_ONLY",
    "Kind",
    "RowMeasurement",
    "get_kind",
    "register_kind",
    "summarize_array",
]

#: the kind of entries that no framework offers (checked by the reference's property tests)
REFERENCE_ONLY = "reference"


@dataclass(frozen=True)
class RowMeasurement:
    """What a kind with ``measure_row`` found for one row (the runner adds identity and timing).

    ``verdict`` is one of ``conforms``, ``variant``, ``diverges``, ``not_offered``; ``examples``
    counts what was compared (for defaults: the claims).
    """

    verdict: str
    variant: str | None = None
    counterexample: dict[str, Any] | None = None
    message: str = ""
    examples: int = 0
    #: what the row read from the framework (defaults: ``{api: {hyperparameter: value}}``),
    #: pinned by expectations so that any change of it is reported
    values: dict[str, Any] | None = None


@dataclass(frozen=True)
class Kind:
    """How the kit checks every entry of one kind (see the module docstring)."""

    name: str
    checks: tuple[str, ...]
    draw: Callable[[Any, Any, str, str], Any] | None
    evaluate: Callable[[Any, Any, Any, str, str, Sequence[Any]], dict[Any, Any]] | None
    description: str = ""
    #: multiplies the profile's examples per check (a statistical kind whose every example draws
    #: many thousands of samples needs fewer examples); the kind's docstring gives the reason
    example_scale: float = 1.0
    #: ``True`` for a property of an API rather than of a computation (``opt.defaults``): one row
    #: per implementation, with dtype ``"-"``, whatever dtypes the run asks for
    dtype_free: bool = False
    #: a kind that measures a whole row without drawing examples: ``measure_row(entry, impl,
    #: backend, device) -> RowMeasurement``; ``draw`` and ``evaluate`` are then ``None``
    measure_row: Callable[[Any, Any, str, str], RowMeasurement] | None = None
    #: what ``run`` receives and returns, and the options the kind reads
    #: (:mod:`trainspec.conformance.contracts`; ``trainspec spec --contract NAME`` prints it)
    contract: KindContract | None = None
    #: ``True`` for a kind that tests distributions (dropout masks, initialisers) rather than
    #: comparing values element by element; such rows have no precision axis
    #: (:mod:`trainspec.conformance.precision`)
    statistical: bool = False

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError(f"kind {self.name!r}: checks must name at least one check")
        if (self.measure_row is None) == (self.draw is None or self.evaluate is None):
            raise ValueError(
                f"kind {self.name!r}: give either draw and evaluate, or measure_row (not both)"
            )
        if not 0.0 < self.example_scale <= 1.0:
            raise ValueError(
                f"kind {self.name!r}: example_scale must be in (0, 1], got {self.example_scale}"
            )

    @property
    def option_keys(self) -> frozenset[str]:
        """The keys of ``Implementation.options`` this kind reads (its contract's options); an
        adapter that declares another key is rejected when it is loaded (a misspelt option would
        otherwise be ignored silently)."""
        return frozenset() if self.contract is None else self.contract.option_names()


def _json_float(v: float) -> Any:
    """A float as strict JSON allows: finite values as numbers, ``'inf'``, ``'-inf'``, ``'nan'``."""
    return v if np.isfinite(v) else repr(v)


def summarize_array(a: Any, max_elements: int = 8) -> Any:
    """A JSON-able array for a case's ``summary()``: every value when there are at most
    ``max_elements`` (nested lists of the array's shape), else its shape, finite extremes, the
    count of non-finite elements and the first four values. Non-finite values are strings."""
    a = np.asarray(a, dtype=np.float64)
    if a.size <= max_elements:
        if a.ndim == 0:
            return _json_float(float(a))
        return np.vectorize(_json_float, otypes=[object])(a).tolist()
    finite = a[np.isfinite(a)]
    return {
        "shape": list(a.shape),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "nonfinite": int(a.size - finite.size),
        "head": [_json_float(v) for v in a.ravel()[:4].tolist()],
    }


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
