"""The defaults kind (``opt.defaults``, ``act.defaults``): the documents' stated defaults against
the framework's current ones.

A row is a property of an API, not of a dtype or a device (``dtype_free``), and it draws no
examples: the implementation's ``run(None, "-", device)`` returns ``{api: {hyperparameter:
value}}`` read from the framework's public API (``None``: the argument is required), and every
claim the spec records for that backend (:class:`~trainspec.reference.defaults.DefaultsModel`)
is compared with it. Drift is a finding: ``diverges``, with both values for every claim. The row
also carries every value the adapter read (``Row.values``), claimed or not: expectations pin them
(:mod:`trainspec.conformance.expectations`), so a changed default is a ``changed`` row even in an
API whose row already drifts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeAlias

from trainspec.conformance.contracts import KindContract, NestedMappingOf
from trainspec.conformance.kinds import Kind, RowMeasurement, register_kind
from trainspec.reference.defaults import compare_defaults

__all__ = [
    "CONTRACT",
    "KIND",
    "DefaultsResult",
    "measure_defaults_row",
    "signature_defaults",
]

#: What ``run`` returns for the defaults kind (which passes ``None`` as the case):
#: ``{api: {hyperparameter: default}}`` read from the framework's public API.
DefaultsResult: TypeAlias = Mapping[str, Mapping[str, object]]


def signature_defaults(
    fn: Callable[..., Any],
    rename: Mapping[str, str | tuple[str, ...]] | None = None,
    skip: Collection[str] = ("self", "params", "name", "kwargs", "args"),
) -> dict[str, Any]:
    """Every default of ``fn``'s signature (a class: its constructor), by the spec's names.

    ``rename`` maps a framework argument to the spec's name, or to a tuple of names for an
    argument whose default is a tuple (torch's ``betas`` -> ``("beta1", "beta2")``); an argument
    without a default reads ``None`` (required); ``*args``/``**kwargs`` and ``skip`` are left out.
    """
    rename = rename or {}
    out: dict[str, Any] = {}
    for arg, p in inspect.signature(fn).parameters.items():
        if arg in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = None if p.default is inspect.Parameter.empty else p.default
        spec = rename.get(arg, arg)
        if isinstance(spec, tuple):
            if not isinstance(value, tuple) or len(value) != len(spec):
                out[arg] = value  # not the tuple it was: keep it whole, under its own name
                continue
            out.update(zip(spec, value, strict=True))
        else:
            out[spec] = value
    return out


def measure_defaults_row(entry: Any, impl: Any, backend: str, device: str) -> RowMeasurement:
    """Compare every claim about ``backend`` with the framework's current defaults.

    An adapter that raises is not caught here: the runner turns it into an ``error`` row.
    """
    claims = entry.model.for_backend(backend)
    if not claims:
        return RowMeasurement("not_offered", message=f"no document states {backend}'s defaults")
    actual = impl.run(None, "-", device)
    drift, matches = compare_defaults(claims, actual)
    if not drift:
        return RowMeasurement("conforms", variant="default", examples=len(claims), values=actual)
    return RowMeasurement(
        "diverges",
        values=actual,
        counterexample={"drift": drift, "matches": matches},
        message="drift: "
        + "; ".join(
            f"{d['optimizer']}.{d['hyperparameter']} is {d['framework_value']}, "
            f"{d['author']} ({d['api']}) says {d['value']}"
            for d in drift
        ),
        examples=len(claims),
    )


def _expected(entry: Any, impl: Any, case: None, dtype: str, check: str) -> Any:
    return NestedMappingOf()


CONTRACT = KindContract(
    case_types=(),
    fields=(),
    case_argument="None",
    result_type=DefaultsResult,
    result_name="DefaultsResult",
    returns="{api: {hyperparameter: default}} read from the framework's public API (None where "
    "the argument is required); the api names are those of the spec's claims for the backend "
    "(trainspec spec --id ID)",
    expected=_expected,
    canonical_case=lambda entry, dtype, check: None,
)


KIND = register_kind(
    Kind(
        "defaults",
        ("defaults",),
        None,
        None,
        "every default a document states for this backend, compared with the framework's "
        "current default read from its public API; drift reported with both values",
        dtype_free=True,
        measure_row=measure_defaults_row,
        contract=CONTRACT,
    )
)
