r"""The precision axis: a float64 row whose framework computes in float32 internally.

Every deterministic kind's float64 row has one more, generic, variant axis, ``precision``, next
to the entry's own axes:

``float64`` (the default)
    the framework computes in the dtype under test: the comparison uses float64's unit roundoff;
``float32_internal``
    the framework computes in float32 and returns float64: on inputs that float32 represents
    exactly, its result equals the reference within the tolerance policy at float32's unit
    roundoff $u = 2^{-24}$ (``docs/tolerance.md``, "Precision variant").

The runner tries ``precision=float32_internal`` only when every variant of the default precision
has failed on a float64 row (:func:`offered`): it draws fresh examples as the kind draws them for
a float32 row (inputs, hyperparameters and invariants exact in float32), runs the framework on
them in float64 (:func:`running_in`) and compares at float32's tolerance. A framework that
silently downcasts is then reported as ``variant precision=float32_internal`` (with the entry's
other options, if any), instead of diverging from the variant that came closest.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trainspec.reference.registry import Variant, VariantAxis, VariantOption

__all__ = [
    "AXIS",
    "INTERNAL",
    "base_variant",
    "internal_dtype",
    "offered",
    "running_in",
    "with_precision",
]

#: the option of a float64 row computed in float32
INTERNAL = "float32_internal"

AXIS = VariantAxis(
    "precision",
    (
        VariantOption(
            "float64",
            "computed in the dtype under test (float64): rounding at float64's unit roundoff",
            r"\mathrm{fl}_{64}(f(x))",
            (),
        ),
        VariantOption(
            INTERNAL,
            "computed in float32 internally and returned as float64: within the tolerance at "
            "float32's unit roundoff on inputs float32 represents exactly (a framework that "
            "silently downcasts a float64 computation, or a part of it)",
            r"\mathrm{fl}_{32}(f(x))",
            (),
        ),
    ),
)

_INTERNAL_DTYPE = {INTERNAL: "float32"}


def offered(kind: Any, dtype: str) -> bool:
    """Whether a row of ``kind`` in ``dtype`` has the precision axis: float64 rows of the kinds
    compared element by element (not the statistical ones, not whole-row kinds)."""
    return (
        dtype == "float64"
        and kind.draw is not None
        and kind.evaluate is not None
        and not getattr(kind, "statistical", False)
    )


def with_precision(v: Variant, option: str = INTERNAL) -> Variant:
    """``v`` with the precision axis at ``option`` (first, so that its name reads
    ``precision=float32_internal, eps=in_max``)."""
    if option not in [o.name for o in AXIS.options]:
        raise ValueError(
            f"option={option!r}: must be one of {[o.name for o in AXIS.options]} "
            f"(the {AXIS.name!r} axis)"
        )
    return Variant(((AXIS.name, option), *v.choices), ((AXIS.name, AXIS.default), *v.defaults))


def base_variant(v: Variant) -> Variant:
    """``v`` without the precision axis (the entry's own variant, what a kind evaluates)."""
    if not v.choices or v.choices[0][0] != AXIS.name:
        return v
    return Variant(v.choices[1:], v.defaults[1:])


def internal_dtype(v: Variant) -> str | None:
    """The dtype ``v`` computes in internally (``"float32"``), or ``None`` for the default."""
    options = v.options
    return _INTERNAL_DTYPE.get(options.get(AXIS.name, AXIS.default))


def running_in(impl: Any, dtype: str) -> Any:
    """``impl`` whose ``run`` always runs the framework in ``dtype``, whatever dtype the kind
    passes (the kind draws and compares at the internal precision; the framework computes in
    the row's dtype)."""
    run = impl.run
    return replace(impl, run=lambda case, _dtype, device: run(case, dtype, device))
