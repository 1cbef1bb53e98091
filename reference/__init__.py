"""The spec registry and the pure-NumPy float64 reference implementation.

Import :mod:`trainspec.reference` to get every entry registered::

    from trainspec import reference
    entry = reference.get("opt.nesterov")
    entry.formula, entry.citations, list(entry.variants()), entry.errata

No framework is imported anywhere under this package.
"""

import importlib
import pkgutil

from trainspec.reference import adaptive, defaults, optimizers
from trainspec.reference.base import (
    GradientTransformation,
    Schedule,
    apply_updates,
    as_schedule,
    chain,
    piecewise_schedule,
)
from trainspec.reference.optimizers import gd, momentum, nesterov, sgd
from trainspec.reference.registry import (
    SPEC_VERSION,
    Citation,
    Erratum,
    ErratumEvidence,
    HyperParameter,
    SpecEntry,
    Variant,
    VariantAxis,
    VariantOption,
    all_entries,
    entries_matching,
    get,
)

__all__ = [
    "SPEC_VERSION",
    "Citation",
    "Erratum",
    "ErratumEvidence",
    "GradientTransformation",
    "HyperParameter",
    "Schedule",
    "SpecEntry",
    "Variant",
    "VariantAxis",
    "VariantOption",
    "adaptive",
    "all_entries",
    "apply_updates",
    "as_schedule",
    "chain",
    "defaults",
    "entries_matching",
    "gd",
    "get",
    "momentum",
    "nesterov",
    "optimizers",
    "piecewise_schedule",
    "sgd",
]


def _register_every_module() -> None:
    """Import every module of this package, so that each family's entries are registered (a new
    family is one new module)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")


_register_every_module()
