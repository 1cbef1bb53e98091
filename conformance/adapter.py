r"""The adapter interface: what a framework's adapter declares and what the kit asks of it.

An adapter is a class with a ``name`` and three methods: :meth:`Adapter.versions`,
:meth:`Adapter.devices` and :meth:`Adapter.implementations`. Each
:class:`Implementation` is one way the framework offers one spec ID (one row of the report):
for example PyTorch's ``SGD`` in its single-tensor, ``foreach`` and ``fused`` code paths are
three implementations of ``opt.momentum``, because they are separate code.

For optimizer specs an implementation's ``run`` receives an
:class:`~trainspec.conformance.kinds.optimizers.OptimizerCase` (float64
arrays whose values are exactly representable in the dtype under test) and returns the final
parameters as float64 arrays. Everything framework-specific happens inside ``run``: building the
framework's optimizer through its public API, mapping the canonical state onto the framework's
own (each such conversion is one small, tested function of the adapter), feeding the learning
rate of every step, and reading the parameters back.

Register an adapter in your package's ``pyproject.toml``::

    [project.entry-points."trainspec.adapters"]
    myframework = "mypackage.trainspec_adapter:MyAdapter"

The entry point must load to a callable (usually the class) that returns the adapter.

An adapter that covers many families of specs can be a package with one module per family
(``optimizers``, ``norm``, ``dropout``, ...), each defining ``implementations()``; its
``Adapter.implementations`` then returns :func:`family_implementations` of the package, so
that a new family is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Adapter", "Implementation", "family_implementations"]

DTYPES = ("float64", "float32", "float16", "bfloat16")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Implementation:
    """One way a framework offers one spec ID; one row of the report per dtype and device.

    ``run(case, dtype, device)`` returns the final parameters (a mapping of float64 arrays).
    """

    spec_id: str
    name: str
    run: Callable[[Any, str, str], Mapping[str, np.ndarray]]
    dtypes: tuple[str, ...] = ("float32", "float64")
    devices: tuple[str, ...] = ("cpu", "cuda")
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    #: known findings: dtype (or ``"*"`` for every dtype) -> what the framework does differently
    #: from every variant, with where it does it. A row with a finding is still measured: the
    #: report shows ``diverges`` with the counterexample and this text, and the kit's own suite
    #: asserts that the divergence is still found (a fixed framework fails it, and the finding
    #: is then removed).
    findings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [d for d in self.dtypes if d not in DTYPES]
        if bad:
            raise ValueError(
                f"Implementation {self.name!r}: dtypes {bad} must be among {list(DTYPES)}"
            )
        bad = [d for d in self.devices if d not in DEVICES]
        if bad:
            raise ValueError(
                f"Implementation {self.name!r}: devices {bad} must be among {list(DEVICES)}"
            )
        bad = [d for d in self.findings if d != "*" and d not in DTYPES]
        if bad:
            raise ValueError(
                f"Implementation {self.name!r}: findings keys {bad} must be '*' or among "
                f"{list(DTYPES)}"
            )

    def finding(self, dtype: str) -> str | None:
        """The known finding of this implementation in ``dtype``, if any."""
        return self.findings.get(dtype, self.findings.get("*"))


class Adapter(ABC):
    """Base class of a framework adapter; see the module docstring."""

    #: the backend's name in the report and on the command line (``--backend``)
    name: str = ""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """The versions of every package the adapter drives (written into the report)."""

    @abstractmethod
    def devices(self) -> list[str]:
        """The devices available on this machine, among ``cpu`` and ``cuda``."""

    @abstractmethod
    def implementations(self) -> list[Implementation]:
        """Every (spec ID, implementation) the framework offers."""

    def prepare_device(self, device: str) -> None:  # noqa: B027 - optional hook
        """Set the framework up for comparisons on ``device`` (reduced-precision modes off)."""


def family_implementations(package: str) -> list[Implementation]:
    """The implementations of every submodule of ``package`` that defines ``implementations()``.

    Submodules are visited in name order, so that the rows of a report keep a stable order.
    """
    pkg = importlib.import_module(package)
    out: list[Implementation] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        collect = getattr(module, "implementations", None)
        if callable(collect):
            out.extend(collect())
    return out
