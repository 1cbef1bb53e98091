r"""The adapter interface: what a framework's adapter declares and what the kit asks of it.

An adapter is a class with a ``name`` and three methods: :meth:`Adapter.versions`,
:meth:`Adapter.devices` and :meth:`Adapter.implementations`. Each
:class:`Implementation` is one way the framework offers one spec ID (one row of the report):
for example PyTorch's ``SGD`` in its single-tensor, ``foreach`` and ``fused`` code paths are
three implementations of ``opt.momentum``, because they are separate code.

``Implementation`` is generic in the case its ``run`` receives and the result it returns:
``Implementation[CaseT, ResultT]``, with ``run: Callable[[CaseT, str, str], ResultT]``. Each kind
declares both types next to each other in its module and in its
:class:`~trainspec.conformance.contracts.KindContract` (``case_types`` and ``result_type``), and
:mod:`trainspec.conformance` exports them, so that an adapter annotated with them is checked by
its type checker::

    def run_relu(case: ActivationCase, dtype: str, device: str) -> ActivationResult: ...

    def implementations() -> list[Implementation[ActivationCase, ActivationResult]]:
        return [Implementation("act.relu", "myframework.relu", run_relu)]

For optimizer specs an implementation's ``run`` receives an
:class:`~trainspec.conformance.kinds.optimizers.OptimizerCase` (float64
arrays whose values are exactly representable in the dtype under test) and returns the final
parameters as float64 arrays (``OptimizerResult``). Everything framework-specific happens inside ``run``: building the
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
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["Adapter", "Finding", "FloatArray", "Implementation", "family_implementations"]

#: a real floating-point NumPy array (float64 preferred), what every ``run`` returns arrays as
FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

# CaseT: the case an implementation's ``run`` receives (the kind's case type); ResultT: what it
# returns (the kind's result type). Both default to Any (PEP 696; typing.TypeVar has defaults
# from Python 3.13), so that a bare ``Implementation`` is ``Implementation[Any, Any]`` even under
# ``mypy --strict``.
if TYPE_CHECKING:
    from typing_extensions import TypeVar

    CaseT = TypeVar("CaseT", default=Any)
    ResultT = TypeVar("ResultT", default=Any)
else:
    from typing import TypeVar

    CaseT = TypeVar("CaseT")
    ResultT = TypeVar("ResultT")

DTYPES = ("float64", "float32", "float16", "bfloat16")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Finding:
    r"""A known departure of one implementation from every variant, and where it happens.

    ``id`` names the finding (stable: expectations pin it, see
    :mod:`trainspec.conformance.expectations`); ``text`` says what the framework does and why.
    ``region(case) -> bool`` is a predicate on a drawn example that holds where the framework
    departs ("centred variance exactly 0", "patience = 0", "an input is +inf");
    ``region_text`` states it in words. Inside the region an example is not used to eliminate
    variants: it is a *finding hit* when no variant still alive matches it. Outside the region
    the row is judged as any other, so a second, unrelated fault of the same implementation
    still makes it diverge. A finding without a region covers the whole row (the row diverges
    and the message names the finding), for departures with no clear region.

    ``examples``: ``(check, case)`` pairs, cases of the kind where the framework is known to
    depart (the finding's minimal counterexample). The runner runs them first, with the pool's
    cases in the region, so that the finding is met in every profile
    (:func:`~trainspec.conformance.witnesses.finding_witnesses`); ``trainspec repro`` can print
    them. Each must lie in ``region``.
    """

    id: str
    text: str
    region: Callable[[Any], bool] | None = None
    region_text: str = ""
    examples: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise ValueError("Finding: id must be a non-empty name")
        if self.region is not None and not self.region_text:
            raise ValueError(f"Finding {self.id!r}: a region needs region_text (it in words)")
        for i, example in enumerate(self.examples):
            if not (
                isinstance(example, tuple) and len(example) == 2 and isinstance(example[0], str)
            ):
                raise ValueError(
                    f"Finding {self.id!r}: examples[{i}] must be a (check, case) pair, got "
                    f"{example!r:.80}"
                )
            if self.region is not None and not self.region(example[1]):
                raise ValueError(
                    f"Finding {self.id!r}: examples[{i}] lies outside its region "
                    f"({self.region_text})"
                )

    def in_region(self, case: Any) -> bool:
        """Whether ``case`` lies where the framework departs (always ``False`` without a region)."""
        return self.region is not None and bool(self.region(case))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "region": self.region_text or None}


@dataclass(frozen=True)
class Implementation(Generic[CaseT, ResultT]):
    """One way a framework offers one spec ID; one row of the report per dtype and device.

    ``run(case, dtype, device)`` receives the kind's case (``CaseT``) and returns the kind's
    result (``ResultT``): both are declared by the kind (``trainspec spec --contract KIND``).
    """

    spec_id: str
    name: str
    run: Callable[[CaseT, str, str], ResultT]
    dtypes: tuple[str, ...] = ("float32", "float64")
    devices: tuple[str, ...] = ("cpu", "cuda")
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    #: known findings: dtype (or ``"*"`` for every dtype) -> a :class:`Finding` (or its text: a
    #: finding without a region, whose id is the text). A row with a finding is still measured:
    #: outside the finding's region it is judged against the variants (``variant X`` plus the
    #: finding's id in ``Row.finding``); without a region the report shows ``diverges`` with the
    #: counterexample and the text. The kit's own suite asserts that the finding is still found
    #: (a fixed framework fails it, and the finding is then removed).
    findings: Mapping[str, str | Finding] = field(default_factory=dict)
    #: hyperparameters (and flags) the adapter pins to a neutral value because the spec does not
    #: draw them (torch Adagrad's ``lr_decay=0``, a loss's ``label_smoothing=0``): name -> value.
    #: The report lists them per row, so a reader sees what the row did not exercise.
    pinned: Mapping[str, Any] = field(default_factory=dict)

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
        bad = [d for d, f in self.findings.items() if not isinstance(f, str | Finding)]
        if bad:
            raise ValueError(
                f"Implementation {self.name!r}: findings[{bad[0]!r}] must be a str or a Finding"
            )

    def finding(self, dtype: str) -> Finding | None:
        """The known finding of this implementation in ``dtype``, if any."""
        f = self.findings.get(dtype, self.findings.get("*"))
        if f is None or isinstance(f, Finding):
            return f
        return Finding(id=f, text=f)


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
    def implementations(self) -> list[Implementation[Any, Any]]:
        """Every (spec ID, implementation) the framework offers."""

    def prepare_device(self, device: str) -> None:  # noqa: B027 - optional hook
        """Set the framework up for comparisons on ``device`` (reduced-precision modes off)."""

    def repro_call(
        self,
        implementation: Implementation[Any, Any],
        dtype: str,
        device: str,
        case: Mapping[str, Any] | None,
    ) -> Any:
        """How ``implementation``'s call is written as code for ``trainspec repro``: a
        :class:`~trainspec.conformance.repro.ReproCall` for ``case`` (a row's counterexample in
        the kind's JSON form; ``None``: the implementation's finding's minimal example), or
        ``None`` where the adapter writes none (optional hook)."""
        return None


def family_implementations(package: str) -> list[Implementation[Any, Any]]:
    """The implementations of every submodule of ``package`` that defines ``implementations()``.

    Submodules are visited in name order, so that the rows of a report keep a stable order.
    """
    pkg = importlib.import_module(package)
    out: list[Implementation[Any, Any]] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        collect = getattr(module, "implementations", None)
        if callable(collect):
            out.extend(collect())
    return out
