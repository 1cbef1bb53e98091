r"""The spec registry: one :class:`SpecEntry` per inventory ID.

Every entry carries what a reader needs to cite it (title, LaTeX formula, the lecture notes and
the original paper), the *named variants* where documents or frameworks disagree, the *errata*
where a document prints a wrong formula (each with an executable check), and the pure-NumPy
float64 implementation.

Variants are organised as *axes*: each axis is one independent convention (for example
``form`` of a momentum method, or ``decay`` for weight decay) with a tuple of options, the first
being the default form of the spec. A *variant* is one choice per axis; the kit evaluates every
combination and reports which ones a framework matches, so that a framework's variant is always
measured and never written down by hand.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SPEC_VERSION",
    "Citation",
    "Erratum",
    "ErratumEvidence",
    "HyperParameter",
    "SpecEntry",
    "Variant",
    "VariantAxis",
    "VariantOption",
    "all_entries",
    "get",
    "register",
]

# The version of the spec, independent of the package's version. An ID is never reused or
# renamed; a change of what an ID computes (its formula, a variant's formula, the default form)
# bumps this version and is listed in docs/spec/changelog.md (see docs/spec/index.md, "Versions").
SPEC_VERSION = "0.1"


@dataclass(frozen=True)
class Citation:
    """A source of a formula: a lecture note (by author, title and institution) or a paper.

    ``where`` is the place in the source a reader can find: a slide title of a lecture note, a
    section, algorithm or figure of a paper. ``document`` is the repository-relative path of a
    copy of the source (the lecture notes are in ``docs/sources/``); ``""`` for a paper.
    ``year`` is ``None`` only for an undated document.
    """

    author: str
    title: str
    year: int | None = None
    venue: str = ""
    where: str = ""
    document: str = ""

    def text(self) -> str:
        year = f" ({self.year})" if self.year else " (n.d.)"
        venue = f", {self.venue}" if self.venue else ""
        where = f"; {self.where}" if self.where else ""
        return f"{self.author}{year}. {self.title}{venue}{where}"

    def to_json(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "title": self.title,
            "year": self.year,
            "venue": self.venue,
            "where": self.where,
            "document": self.document,
            "text": self.text(),
        }


@dataclass(frozen=True)
class VariantOption:
    """One option of a variant axis: what it computes and who states it."""

    name: str
    description: str
    formula: str
    stated_by: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "formula": self.formula,
            "stated_by": list(self.stated_by),
        }


@dataclass(frozen=True)
class VariantAxis:
    """An independent convention; ``options[0]`` is the spec's default form."""

    name: str
    options: tuple[VariantOption, ...]

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError(f"variant axis {self.name!r}: options must not be empty")
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(
                f"variant axis {self.name!r}: option names must be unique, got {list(names)}"
            )

    @property
    def default(self) -> str:
        return self.options[0].name

    @property
    def names(self) -> tuple[str, ...]:
        """The options' names, the default first (what a card's ``check_choice`` accepts)."""
        return tuple(o.name for o in self.options)


@dataclass(frozen=True, order=True)
class Variant:
    """One choice per axis. ``str(variant)`` lists only the axes that differ from the default."""

    choices: tuple[tuple[str, str], ...]  # ((axis, option), ...) in the entry's axis order
    defaults: tuple[tuple[str, str], ...] = field(compare=False, default=())

    @property
    def options(self) -> dict[str, str]:
        return dict(self.choices)

    @property
    def is_default(self) -> bool:
        return self.choices == self.defaults

    @property
    def distance(self) -> int:
        """How many axes differ from the default form."""
        return sum(a != b for a, b in zip(self.choices, self.defaults, strict=True))

    @property
    def name(self) -> str:
        diff = [
            f"{axis}={opt}"
            for (axis, opt), d in zip(self.choices, self.defaults, strict=True)
            if (axis, opt) != d
        ]
        return ", ".join(diff) if diff else "default"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class HyperParameter:
    r"""A hyperparameter of a formula, with its symbol and the rule that valid values obey.

    ``low``/``high`` bound the valid range (``None``: unbounded); ``sample_low``/``sample_high`` and
    ``log_scale`` tell the strategies where typical values lie; ``special`` lists values that are
    always worth trying (0, the documents' defaults).
    """

    name: str
    symbol: str
    description: str
    low: float | None
    high: float | None
    low_closed: bool = True
    high_closed: bool = True
    sample_low: float = 0.0
    sample_high: float = 1.0
    log_scale: bool = False
    special: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for flag in ("low_closed", "high_closed", "log_scale"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(
                    f"hyperparameter {self.name!r}: {flag} must be a bool, got "
                    f"{getattr(self, flag)!r} (pass sample_low/sample_high by keyword)"
                )
        if not self.sample_low <= self.sample_high:
            raise ValueError(
                f"hyperparameter {self.name!r}: sample_low must be <= sample_high, got "
                f"{self.sample_low!r} > {self.sample_high!r}"
            )
        if (self.low is not None and self.sample_low < self.low) or (
            self.high is not None and self.sample_high > self.high
        ):
            raise ValueError(
                f"hyperparameter {self.name!r}: the sampling range [{self.sample_low!r}, "
                f"{self.sample_high!r}] must lie inside the valid range ({self.rule()})"
            )
        if self.log_scale and not self.sample_low > 0:
            raise ValueError(
                f"hyperparameter {self.name!r}: log_scale needs sample_low > 0, got {self.sample_low!r}"
            )

    def rule(self) -> str:
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        left = "[" if self.low is not None and self.low_closed else "("
        right = "]" if self.high is not None and self.high_closed else ")"
        return f"{self.name} must be a finite number in {left}{lo}, {hi}{right}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "symbol": self.symbol,
            "description": self.description,
            "rule": self.rule(),
        }


@dataclass(frozen=True)
class ErratumEvidence:
    """What an erratum's executable check found on its witness example."""

    printed_error: float  # distance of the printed formula from the correct result
    corrected_error: float  # distance of the corrected formula from the correct result
    detail: str

    @property
    def corrected_bound(self) -> float:
        """How far the corrected formula may be from the correct result and still be right: the
        rounding of float64 arithmetic, whose exact size depends on the order NumPy sums in."""
        return 1e-12 * max(1.0, self.printed_error)

    @property
    def shows_difference(self) -> bool:
        """The printed formula is measurably wrong and the corrected one is right."""
        return self.corrected_error <= self.corrected_bound and self.printed_error > 1e-6


@dataclass(frozen=True)
class Erratum:
    """A formula a document prints wrongly, the corrected formula, and a check showing the difference."""

    source: Citation
    printed: str
    correct: str
    explanation: str
    check: Callable[[], ErratumEvidence]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.to_json(),
            "printed": self.printed,
            "correct": self.correct,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class SpecEntry:
    r"""One inventory ID.

    ``kind`` tells the kit which checks apply (``"optimizers"``: one step from an arbitrary state,
    and trajectories with a learning-rate schedule). ``model`` is the kind-specific reference
    object (for optimizers an :class:`~trainspec.reference.optimizers.common.OptimizerModel`).
    ``source`` is where the entry is registered, as a repository-relative ``path:line`` such as
    ``reference/optimizers/adam.py:120``; :func:`register` records it.
    """

    id: str
    title: str
    tier: str
    kind: str
    formula: str
    citations: tuple[Citation, ...]
    variant_axes: tuple[VariantAxis, ...] = ()
    errata: tuple[Erratum, ...] = ()
    hyperparameters: tuple[HyperParameter, ...] = ()
    notes: str = ""
    model: Any = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.tier not in ("core", "doc"):
            raise ValueError(f"spec {self.id!r}: tier must be 'core' or 'doc', got {self.tier!r}")
        axes = [a.name for a in self.variant_axes]
        if len(set(axes)) != len(axes):
            raise ValueError(f"spec {self.id!r}: variant axis names must be unique, got {axes}")

    @property
    def default_variant(self) -> Variant:
        d = tuple((a.name, a.default) for a in self.variant_axes)
        return Variant(d, d)

    def variants(self) -> Iterator[Variant]:
        """Every combination of options, the default first, then by distance from it."""
        d = self.default_variant.choices
        combos = itertools.product(
            *[[(a.name, o.name) for o in a.options] for a in self.variant_axes]
        )
        vs = [Variant(tuple(c), d) for c in combos]
        vs.sort(key=lambda v: v.distance)
        return iter(vs)

    def variant(self, **options: str) -> Variant:
        """The variant with the given options (other axes at their default)."""
        known = {a.name: a for a in self.variant_axes}
        for k, v in options.items():
            if k not in known:
                raise ValueError(
                    f"spec {self.id!r}: unknown variant axis {k!r}; axes are {sorted(known)}"
                )
            if v not in known[k].names:
                raise ValueError(
                    f"spec {self.id!r}: variant axis {k!r} has no option {v!r}; "
                    f"options are {list(known[k].names)}"
                )
        d = self.default_variant.choices
        return Variant(tuple((a, options.get(a, o)) for a, o in d), d)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "tier": self.tier,
            "kind": self.kind,
            "formula": self.formula,
            "citations": [c.to_json() for c in self.citations],
            "hyperparameters": [h.to_json() for h in self.hyperparameters],
            "variants": [
                {"axis": a.name, "default": a.default, "options": [o.to_json() for o in a.options]}
                for a in self.variant_axes
            ],
            "errata": [e.to_json() for e in self.errata],
            "notes": self.notes,
            "source": self.source,
        }


_REGISTRY: dict[str, SpecEntry] = {}


_REFERENCE_DIR = Path(__file__).resolve().parent  # the folder reference/ of the repository


def _source_of(path: str, line: int) -> str:
    r"""``path:line`` relative to the repository: a file under the package
    ``trainspec.reference`` (installed or not) maps to ``reference/...``; any other file keeps
    its name only, never an absolute path."""
    p = Path(path).resolve()
    try:
        rel = "reference/" + p.relative_to(_REFERENCE_DIR).as_posix()
    except ValueError:
        rel = p.name
    return f"{rel}:{line}"


def _registering_line() -> str:
    """The module-level line that registers an entry: the outermost frame of the file that
    called :func:`register` (so an entry registered through a helper of its module points at the
    helper's call, not at the helper)."""
    frame = sys._getframe(2)  # the caller of register()
    path, line = frame.f_code.co_filename, frame.f_lineno
    up = frame.f_back
    while up is not None and up.f_code.co_filename == path:
        line = up.f_lineno
        up = up.f_back
    return _source_of(path, line)


def register(entry: SpecEntry) -> SpecEntry:
    """Add ``entry`` under its ID; an ID may be registered once. Records ``entry.source`` (the
    repository-relative ``path:line`` of the registering call) unless the entry carries one."""
    if entry.id in _REGISTRY:
        raise ValueError(f"spec id {entry.id!r} is already registered")
    if not entry.source:
        object.__setattr__(entry, "source", _registering_line())
    _REGISTRY[entry.id] = entry
    return entry


def get(spec_id: str) -> SpecEntry:
    """The entry registered under ``spec_id``."""
    try:
        return _REGISTRY[spec_id]
    except KeyError:
        raise KeyError(f"no spec entry {spec_id!r}; known ids: {sorted(_REGISTRY)}") from None


def all_entries() -> list[SpecEntry]:
    """Every registered entry, ordered by ID."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def entries_matching(pattern: str | None) -> list[SpecEntry]:
    """Entries whose ID equals ``pattern`` or starts with ``pattern + '.'`` (all when ``None``)."""
    if pattern is None:
        return all_entries()
    out = [
        e for e in all_entries() if e.id == pattern or e.id.startswith(pattern.rstrip(".") + ".")
    ]
    if not out:
        raise KeyError(f"no spec entry matches {pattern!r}; known ids: {sorted(_REGISTRY)}")
    return out


def options_of(entry: SpecEntry) -> Mapping[str, tuple[str, ...]]:
    return {a.name: a.names for a in entry.variant_axes}
