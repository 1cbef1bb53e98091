"""The spec registry and the pure-NumPy float64 reference implementation.

Import :mod:`trainspec.reference` to get every entry registered::

    from trainspec import reference
    entry = reference.get("opt.nesterov")
    entry.formula, entry.citations, list(entry.variants()), entry.errata

No framework is imported anywhere under this package.
"""

import importlib
import pkgutil

from trainspec.reference import defaults, optimizers
from trainspec.reference.base import (
    GradientTransformation,
    Schedule,
    apply_updates,
    as_schedule,
    chain,
    piecewise_schedule,
)
from trainspec.reference.optimizers.gd import gd
from trainspec.reference.optimizers.momentum import momentum
from trainspec.reference.optimizers.nesterov import nesterov
from trainspec.reference.optimizers.weight_decay import sgd
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
    """Import every module of this package and of its family packages, so that each card's entry
    is registered (a new card is one new module)."""
    for info in sorted(pkgutil.walk_packages(__path__, f"{__name__}."), key=lambda m: m.name):
        importlib.import_module(info.name)


_register_every_module()
