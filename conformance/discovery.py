"""Find adapters through the ``trainspec.adapters`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from trainspec.conformance.adapter import Adapter

__all__ = ["ENTRY_POINT_GROUP", "known_backends", "load_adapters"]

ENTRY_POINT_GROUP = "trainspec.adapters"


def known_backends() -> list[str]:
    """The names registered in the entry-point group (installed or not)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_adapters(names: list[str] | None = None) -> tuple[dict[str, Adapter], dict[str, str]]:
    """Load the named backends (all when ``None``).

    Returns the adapters that loaded and, for each that did not, why (its framework is not
    installed, or the adapter raised). A named backend that is not registered is an error.
    """
    eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if names is not None:
        unknown = [n for n in names if n not in eps]
        if unknown:
            raise ValueError(
                f"--backend {', '.join(unknown)}: not registered; registered backends are {sorted(eps)}"
            )
    adapters: dict[str, Adapter] = {}
    failures: dict[str, str] = {}
    for name in sorted(eps) if names is None else names:
        try:
            adapter = eps[name].load()()
        except ModuleNotFoundError as exc:
            failures[name] = f"not installed: {exc}"
            continue
        except Exception as exc:
            failures[name] = f"adapter failed to load: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(adapter, Adapter):
            failures[name] = f"entry point {eps[name].value} did not return a trainspec Adapter"
            continue
        adapters[name] = adapter
    return adapters, failures
