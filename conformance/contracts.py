r"""What a kind asks of an adapter's ``run``, declared in code: the case, the result, the options.

Every :class:`~trainspec.conformance.kinds.Kind` carries a :class:`KindContract`:

``case_types`` and ``fields``
    the case class(es) ``run(case, dtype, device)`` receives, and what each field means;
``result_type``
    the type ``run`` returns (a ``TypedDict``, a dataclass or an alias such as
    ``Mapping[str, FloatArray]``, exported by :mod:`trainspec.conformance` under
    ``result_name``): an adapter's ``run`` is typed ``Callable[[case type, str, str], result
    type]``, i.e. ``Implementation[CaseT, ResultT]``, and its type checker rejects a wrong return;
``returns`` and ``expected``
    what ``run`` returns, in words, and as a structure computed for a given case
    (:class:`ArrayOf`, :class:`MappingOf`, :class:`SequenceOf`, :class:`RecordOf`,
    :class:`IntValue`, :class:`NestedMappingOf`): keys, shapes relative to the case, dtype;
``options``
    the keys of ``Implementation.options`` the kind reads, with their meaning (any other key is a
    mistake that :func:`~trainspec.conformance.adapter_kit.check_adapter` reports);
``canonical_case``
    a tiny valid case for an entry, a dtype and a check (by default Hypothesis' simplest example
    of the kind's own ``draw``: a one-element tensor, one step, the smallest menu entry).

The same declarations print as text (``trainspec spec --contract KIND``), are pasted into
``docs/adapters.md`` (so the documentation cannot drift from the code) and drive
``trainspec check-adapter``. Every value is a frozen dataclass or a plain mapping, so that the
declarations can be typed end to end.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, TypeAlias

import numpy as np

from trainspec.conformance.adapter import FloatArray

if typing.TYPE_CHECKING:
    from hypothesis import settings

__all__ = [
    "ArrayOf",
    "CaseField",
    "IntValue",
    "KindContract",
    "MappingOf",
    "NestedMappingOf",
    "OptionKey",
    "RecordOf",
    "SequenceOf",
    "Structure",
    "canonical_case",
    "minimal_case",
    "result_fields",
    "structure_of",
    "type_text",
    "validate",
]


@dataclass(frozen=True)
class ArrayOf:
    """A real floating-point NumPy array (or NumPy/Python float for shape ``()``).

    ``shape`` ``None`` accepts any shape; ``size`` (if given) fixes the element count. Any
    floating dtype is accepted (float64 preferred: the kit converts with ``np.asarray(a,
    float64)``, which is exact from every narrower float); framework tensors are not, because they
    do not convert on every device.
    """

    shape: tuple[int, ...] | None
    size: int | None = None


@dataclass(frozen=True)
class IntValue:
    """A Python or NumPy integer."""


@dataclass(frozen=True)
class MappingOf:
    """A mapping ``{key: structure}``: exactly ``items``' keys; with ``subset=True`` any
    non-empty subset of them; with ``extra=True`` more keys are ignored."""

    items: Mapping[str, Structure]
    subset: bool = False
    extra: bool = False


@dataclass(frozen=True)
class SequenceOf:
    """A list or tuple of exactly ``len(items)`` elements, element ``i`` of ``items[i]``."""

    items: tuple[Structure, ...]


@dataclass(frozen=True)
class RecordOf:
    """An instance of the dataclass ``type`` whose listed ``fields`` have these structures."""

    type: type
    fields: Mapping[str, Structure]


@dataclass(frozen=True)
class NestedMappingOf:
    """``{str: {str: value}}`` (the defaults kind): two levels of string keys, any values."""


Structure: TypeAlias = ArrayOf | IntValue | MappingOf | SequenceOf | RecordOf | NestedMappingOf


@dataclass(frozen=True)
class CaseField:
    """One field of a case, its type as written in the case class, and what it holds."""

    name: str
    type: str
    meaning: str


@dataclass(frozen=True)
class OptionKey:
    """One key of ``Implementation.options`` that a kind reads."""

    name: str
    values: str
    meaning: str


@dataclass(frozen=True)
class KindContract:
    """What a kind asks of ``run`` (see the module docstring)."""

    case_types: tuple[type, ...]
    fields: tuple[CaseField, ...]
    returns: str
    expected: Callable[[Any, Any, Any, str, str], Structure]
    #: the type ``run`` returns (module docstring); its public name is ``result_name``, by
    #: default the type's ``__name__`` (an alias has none: give it)
    result_type: object = field(kw_only=True)
    result_name: str = field(default="", kw_only=True)
    options: tuple[OptionKey, ...] = ()
    canonical_case: Callable[[Any, str, str], Any] | None = None
    #: optimizer kinds: ``entry -> {buffer: meaning}``, the canonical state's buffers
    buffers: Callable[[Any], Mapping[str, str]] | None = None
    #: ``run`` may raise these (an outcome the kind compares, not an error)
    may_raise: tuple[type[BaseException], ...] = ()
    notes: str = ""
    #: what ``run`` receives instead of the case when the kind passes something fixed
    #: (the defaults kind: ``None``); then ``case_types`` is empty
    case_argument: str = ""
    #: ``(impl, case) -> case``: the case as the kind hands it to ``impl.run`` (an option may
    #: change it: fixed hyperparameters, values instead of derivatives)
    prepare: Callable[[Any, Any], Any] | None = None

    def __post_init__(self) -> None:
        if not self.case_types and not self.case_argument:
            raise ValueError("KindContract: give case_types, or case_argument for a fixed case")
        for t in self.case_types:
            if not is_dataclass(t):
                raise ValueError(f"KindContract: case type {t!r} must be a dataclass")
            names = {f.name for f in fields(t)}
            documented = {f.name for f in self.fields}
            missing = names - documented
            if missing:
                raise ValueError(
                    f"KindContract: fields {sorted(missing)} of {t.__name__} are not documented"
                )
        if len({o.name for o in self.options}) != len(self.options):
            raise ValueError("KindContract: options must have distinct names")
        if not self.result_name:
            name = getattr(self.result_type, "__name__", "")
            if not isinstance(self.result_type, type) or not name:
                raise ValueError(
                    f"KindContract: result_type {self.result_type!r} has no name: give result_name"
                )
            object.__setattr__(self, "result_name", name)

    def case_type_text(self) -> str:
        """The type of ``run``'s first argument: the case class(es), or ``case_argument``."""
        if not self.case_types:
            return self.case_argument
        return " | ".join(t.__name__ for t in self.case_types)

    def signature(self, dtype: str = "str") -> str:
        """``run``'s typed signature, e.g. ``run(case: LossCase, dtype: str, device: str) ->
        LossResult``."""
        return (
            f"run(case: {self.case_type_text()}, dtype: {dtype}, device: str) -> {self.result_name}"
        )

    def implementation_type(self) -> str:
        """The parametrised ``Implementation`` of this kind, e.g.
        ``Implementation[LossCase, LossResult]``; one per case type (an implementation receives
        one of them: dropout's ``drop.mc`` a ``LinearDropoutCase``, the others a
        ``DropoutCase``)."""
        cases = [t.__name__ for t in self.case_types] or [self.case_argument]
        return " | ".join(f"Implementation[{c}, {self.result_name}]" for c in cases)

    def result_definition(self) -> str:
        """What ``result_name`` stands for: the alias's value, ``TypedDict``, or ``dataclass``."""
        if typing.is_typeddict(self.result_type):
            total = getattr(self.result_type, "__total__", True)
            return "TypedDict" if total else "TypedDict, every key optional"
        if is_dataclass(self.result_type):
            return "dataclass"
        return type_text(self.result_type)

    def option_names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options)


def type_text(t: object) -> str:
    """A type as an adapter author writes it (``Mapping[str, FloatArray]``, ``int | None``)."""
    if t is None or t is type(None):
        return "None"
    if t is Any:
        return "Any"
    if t == FloatArray:
        return "FloatArray"
    origin = typing.get_origin(t)
    if origin is not None:
        args = typing.get_args(t)
        if origin is typing.Union or origin is types.UnionType:
            return " | ".join(type_text(a) for a in args)
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_text(a) for a in args)}]"
    return getattr(t, "__name__", str(t))


def result_fields(result_type: object) -> list[tuple[str, str, bool]]:
    """The ``(name, type, required)`` of every key of a ``TypedDict`` or field of a dataclass
    result type, in declaration order (empty for an alias)."""
    if typing.is_typeddict(result_type) or is_dataclass(result_type):
        hints = typing.get_type_hints(result_type)
        required = getattr(result_type, "__required_keys__", None)
        rows = []
        for name, t in hints.items():
            if required is not None:
                rows.append((name, type_text(t), name in required))
            else:
                f = {x.name: x for x in fields(result_type)}[name]  # type: ignore[arg-type]
                rows.append((name, type_text(t), f.default is f.default_factory is MISSING))
        return rows
    return []


def structure_of(tree: Mapping[str, Any]) -> MappingOf:
    """The structure of a reference result ``{name: array or Tracked}``: the same keys, each an
    array of the same shape."""
    return MappingOf({k: ArrayOf(tuple(np.shape(getattr(v, "value", v)))) for k, v in tree.items()})


def _is_float_dtype(dtype: np.dtype[Any]) -> bool:
    return bool(np.issubdtype(dtype, np.floating)) or dtype.name == "bfloat16"


def validate(actual: Any, expected: Structure, where: str = "result") -> list[str]:
    r"""Every way ``actual`` differs from ``expected``, one sentence each (empty: it conforms)."""
    if isinstance(expected, ArrayOf):
        if isinstance(actual, bool) or not isinstance(
            actual, np.ndarray | np.generic | float | int
        ):
            return [f"{where}: must be a NumPy float array, got {type(actual).__name__}"]
        a = np.asarray(actual)
        out = []
        if not _is_float_dtype(a.dtype):
            out.append(f"{where}: dtype {a.dtype} must be a floating dtype (float64 preferred)")
        if expected.shape is not None and tuple(a.shape) != expected.shape:
            out.append(f"{where}: shape {tuple(a.shape)}, expected {expected.shape}")
        if expected.size is not None and a.size != expected.size:
            out.append(f"{where}: {a.size} elements, expected {expected.size}")
        return out
    if isinstance(expected, IntValue):
        if isinstance(actual, bool) or not isinstance(actual, int | np.integer):
            return [f"{where}: must be an integer, got {type(actual).__name__} {actual!r}"]
        return []
    if isinstance(expected, NestedMappingOf):
        if not isinstance(actual, Mapping):
            return [f"{where}: must be a mapping, got {type(actual).__name__}"]
        return [
            f"{where}[{k!r}]: must be a mapping with string keys"
            for k, v in actual.items()
            if not isinstance(k, str) or not isinstance(v, Mapping) or not all(map(_is_str, v))
        ]
    if isinstance(expected, MappingOf):
        if not isinstance(actual, Mapping):
            return [f"{where}: must be a mapping, got {type(actual).__name__}"]
        want, got = set(expected.items), set(actual)
        out = []
        if expected.subset:
            if not got or (got - want and not expected.extra):
                out.append(
                    f"{where}: keys {sorted(got)} must be a non-empty subset of {sorted(want)}"
                )
        else:
            if want - got:
                out.append(f"{where}: keys {sorted(got)} lack {sorted(want - got)}")
            if got - want and not expected.extra:
                out.append(f"{where}: keys {sorted(got)} have unexpected {sorted(got - want)}")
        for k in sorted(want & got):
            out += validate(actual[k], expected.items[k], f"{where}[{k!r}]")
        return out
    if isinstance(expected, SequenceOf):
        if not isinstance(actual, list | tuple):
            return [f"{where}: must be a list, got {type(actual).__name__}"]
        if len(actual) != len(expected.items):
            return [f"{where}: {len(actual)} elements, expected {len(expected.items)}"]
        out = []
        for i, (a, e) in enumerate(zip(actual, expected.items, strict=True)):
            out += validate(a, e, f"{where}[{i}]")
        return out
    if isinstance(expected, RecordOf):
        if not isinstance(actual, expected.type):
            return [f"{where}: must be a {expected.type.__name__}, got {type(actual).__name__}"]
        out = []
        for name, e in expected.fields.items():
            out += validate(getattr(actual, name), e, f"{where}.{name}")
        return out
    raise TypeError(f"expected={expected!r}: not a contract structure")


def _is_str(x: Any) -> bool:
    return isinstance(x, str)


@functools.cache
def _minimal_settings() -> settings:
    from hypothesis import HealthCheck, Phase, settings

    # One deterministic draw of the kind's simplest example, used as check-adapter's canonical
    # case, not a property test: nothing is asserted on it here, so the health checks (slow or
    # filtered data generation across many examples) and the per-example deadline have nothing to
    # guard; check-adapter's own contract checks are what can fail.
    return settings(
        max_examples=1,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def minimal_case(
    draw: Callable[[Any, Any, str, str], Any], entry: Any, dtype: str, check: str
) -> Any:
    """Hypothesis' simplest example of ``draw(data, entry, dtype, check)`` (deterministic): the
    first example Hypothesis generates is the one of its simplest choices."""
    from hypothesis import given
    from hypothesis import strategies as st

    box: list[Any] = []

    @_minimal_settings()
    @given(st.data())
    def once(data: Any) -> None:
        if not box:
            box.append(draw(data, entry, dtype, check))

    from trainspec.conformance.profiles import without_local_constants

    with without_local_constants():
        once()
    return box[0]


def canonical_case(kind: Any, entry: Any, dtype: str, check: str) -> Any:
    """A tiny valid case of ``kind`` for ``entry`` (the contract's factory, else the simplest
    draw)."""
    contract: KindContract | None = kind.contract
    if contract is not None and contract.canonical_case is not None:
        return contract.canonical_case(entry, dtype, check)
    if kind.draw is None:
        raise ValueError(f"kind {kind.name!r}: no draw and no canonical_case")
    return minimal_case(kind.draw, entry, dtype, check)


def field_rows(case_type: type, meanings: Sequence[CaseField]) -> list[CaseField]:
    """The documented fields of ``case_type``, in declaration order."""
    by_name = {f.name: f for f in meanings}
    return [by_name[f.name] for f in fields(case_type) if f.name in by_name]
