"""Find adapters through the ``trainspec.adapters`` entry-point group, load and validate them.

A backend is named by an :class:`AdapterRef` (its name, the ``module:attribute`` its entry point
points to, and the package that registered it): a small, picklable value, so that a worker
process (:mod:`trainspec.conformance.worker`) can load the adapter itself. Loading checks what an
adapter declares (:func:`validate_implementations`): every spec ID is in the registry, every
option key is one the spec's kind reads, and no (spec ID, name) pair is declared twice. Two
packages that register the same backend name are refused, naming both.
"""

from __future__ import annotations

import difflib
import importlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from trainspec.conformance.adapter import Adapter

__all__ = [
    "BUILTIN_BACKENDS",
    "ENTRY_POINT_GROUP",
    "AdapterRef",
    "close_matches",
    "known_backends",
    "load_adapters",
    "registered_backends",
    "validate_implementations",
]

ENTRY_POINT_GROUP = "trainspec.adapters"

#: backends shipped with trainspec: each has a tox environment and a package extra of its name
BUILTIN_BACKENDS = ("torch", "tensorflow", "jax")


@dataclass(frozen=True)
class AdapterRef:
    """Where a backend's adapter comes from: ``target`` is ``module:attribute`` (a callable that
    returns the :class:`~trainspec.conformance.adapter.Adapter`); ``package`` registered it."""

    name: str
    target: str
    package: str = ""

    def load(self) -> Adapter:
        """Import the target, call it and check that it is an adapter whose declarations are valid.

        Raises ``ModuleNotFoundError`` when the framework (or the module) is not installed, and
        ``ValueError`` for an adapter that declares something the kit cannot check."""
        module_name, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
        adapter = obj()
        if not isinstance(adapter, Adapter):
            raise TypeError(f"entry point {self.target} did not return a trainspec Adapter")
        return adapter

    @property
    def environment(self) -> str:
        """Where this backend's rows run: the tox environment (built-in backends) or the package."""
        if self.name in BUILTIN_BACKENDS and self.package in ("", "trainspec"):
            return (
                f"tox environment {self.name} (or an environment with "
                f"pip install 'trainspec[{self.name}]')"
            )
        return f"an environment with {self.package or self.target.split(':')[0]} installed"


def close_matches(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x' or 'y'?"`` for the candidates close to ``word`` (empty when none)."""
    found = difflib.get_close_matches(word, sorted(set(candidates)), n=3, cutoff=0.6)
    if not found:
        return ""
    return "; did you mean " + " or ".join(repr(f) for f in found) + "?"


def registered_backends() -> tuple[dict[str, AdapterRef], dict[str, str]]:
    """Every name in the entry-point group: its :class:`AdapterRef`, and for a name that two
    packages register, why it is refused (both packages named)."""
    by_name: dict[str, list[AdapterRef]] = defaultdict(list)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else ""
        ref = AdapterRef(ep.name, ep.value, package)
        if ref not in by_name[ep.name]:
            by_name[ep.name].append(ref)
    refs: dict[str, AdapterRef] = {}
    clashes: dict[str, str] = {}
    for name, found in by_name.items():
        if len(found) == 1:
            refs[name] = found[0]
        else:
            clashes[name] = (
                f"backend {name!r} is registered by more than one package: "
                + ", ".join(f"{r.package or '?'} ({r.target})" for r in found)
                + "; uninstall all but one"
            )
    return refs, clashes


def known_backends() -> list[str]:
    """The names registered in the entry-point group (installed or not)."""
    refs, clashes = registered_backends()
    return sorted(set(refs) | set(clashes))


def resolve_backends(
    names: Sequence[str] | None = None,
) -> tuple[dict[str, AdapterRef], dict[str, str]]:
    """The refs of the named backends (all registered ones when ``None``) and, per refused name,
    why. A name that is not registered is a ``ValueError`` that suggests close names."""
    refs, clashes = registered_backends()
    known = set(refs) | set(clashes)
    if names is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"--backend {', '.join(unknown)}: not registered"
                + close_matches(unknown[0], known)
                + f"; registered backends are {sorted(known)}"
            )
    wanted = sorted(known) if names is None else list(dict.fromkeys(names))
    return (
        {n: refs[n] for n in wanted if n in refs},
        {n: clashes[n] for n in wanted if n in clashes},
    )


def validate_implementations(impls: Sequence[Any]) -> list[str]:
    """What is wrong with an adapter's declared implementations (empty when nothing is).

    Every ``spec_id`` must be in the registry (and not reference-only), its dtypes and devices
    known, every key of ``options`` one that the spec's kind reads (its contract), and every
    (spec ID, name) pair unique: the pair is how a row, a replay and ``--resume`` find the
    implementation again. The per-implementation rules are
    :func:`trainspec.conformance.adapter_kit.static_problems`, which ``check-adapter`` reports
    line by line."""
    from trainspec import reference
    from trainspec.conformance.adapter_kit import static_problems

    known = {e.id: e for e in reference.all_entries()}
    problems = [
        f"implementation {impl.name!r} of {impl.spec_id}: {p}"
        for impl in impls
        for p in static_problems(impl, known)
    ]
    twice = [k for k, n in Counter((i.spec_id, i.name) for i in impls).items() if n > 1]
    problems += [
        f"implementation {name!r} of {sid} is declared more than once" for sid, name in twice
    ]
    return problems


def load_adapters(
    names: list[str] | None = None, *, validate: bool = True
) -> tuple[dict[str, Adapter], dict[str, str]]:
    """Load the named backends in this process (all when ``None``).

    ``validate=False`` skips :func:`validate_implementations` (``check-adapter`` reports those
    problems itself, one line each).

    Returns the adapters that loaded and, for each that did not, why (its framework is not
    installed, two packages register its name, the adapter raised, or it declares an
    implementation the kit cannot check). A named backend that is not registered is an error.
    """
    refs, failures = resolve_backends(names)
    adapters: dict[str, Adapter] = {}
    for name, ref in refs.items():
        try:
            adapter = ref.load()
        except ModuleNotFoundError as exc:
            failures[name] = f"not installed: {exc}"
            continue
        except Exception as exc:
            failures[name] = f"adapter failed to load: {type(exc).__name__}: {exc}"
            continue
        if not validate:
            adapters[name] = adapter
            continue
        try:
            problems = validate_implementations(adapter.implementations())
        except Exception as exc:
            failures[name] = f"implementations() failed: {type(exc).__name__}: {exc}"
            continue
        if problems:
            failures[name] = "adapter rejected: " + "; ".join(problems)
            continue
        adapters[name] = adapter
    return adapters, failures
