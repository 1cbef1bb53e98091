"""The spec registry and the pure-NumPy float64 reference implementation.

Import :mod:`trainspec.reference` to get every entry registered::

    from trainspec import reference
    entry = reference.get("opt.nesterov")
    entry.formula, entry.citations, list(entry.variants()), entry.errata

No framework is imported anywhere under this package.
"""

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
