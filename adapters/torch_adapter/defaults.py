"""The defaults family (``opt.defaults``, ``act.defaults``): the framework's current defaults,
read from its public signatures and fresh objects, keyed by the spec's names.

The documents' claims are the spec's (:mod:`trainspec.reference.defaults`); this module only
reports what the framework's defaults are now.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.defaults import signature_defaults

__all__ = ["activation_defaults", "implementations", "optimizer_defaults", "sgd_defaults"]


#: torch's argument names -> the spec's (torch's ``betas`` holds beta1 and beta2; RMSprop's
#: ``alpha`` is the spec's ``rho``)
_RENAME: dict[str, str | tuple[str, ...]] = {"lr": "learning_rate", "betas": ("beta1", "beta2")}
#: every optimizer this adapter offers (``optimizers``, ``second_order``, the SGD family)
OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "Adamax", "Adadelta")


def optimizer_defaults() -> dict[str, dict[str, Any]]:
    """Every default of every ``torch.optim`` optimizer the adapter offers, read from its
    signature, by the spec's names (``None``: the argument has no default)."""
    out = {}
    for name in OPTIMIZERS:
        rename = {**_RENAME, "alpha": "rho"} if name == "RMSprop" else _RENAME
        out[name] = signature_defaults(getattr(torch.optim, name), rename)
    return out


def sgd_defaults() -> dict[str, dict[str, Any]]:
    """``torch.optim.SGD``'s current defaults (see :func:`optimizer_defaults`)."""
    return {"SGD": signature_defaults(torch.optim.SGD, _RENAME)}


def activation_defaults() -> dict[str, dict[str, Any]]:
    """The current defaults, read from the functions' signatures and fresh layers' attributes,
    by the spec's names (keyed by the function or layer name of ``act.defaults``' claims)."""

    def default(fn: Callable[..., Any], arg: str) -> Any:
        return inspect.signature(fn).parameters[arg].default

    return {
        "leaky_relu": {"alpha": default(F.leaky_relu, "negative_slope")},
        "LeakyReLU": {"alpha": torch.nn.LeakyReLU().negative_slope},
        "elu": {"alpha": default(F.elu, "alpha")},
        "ELU": {"alpha": torch.nn.ELU().alpha},
        "rrelu": {"lower": default(F.rrelu, "lower"), "upper": default(F.rrelu, "upper")},
        "RReLU": {"lower": torch.nn.RReLU().lower, "upper": torch.nn.RReLU().upper},
        "PReLU": {"alpha": float(torch.nn.PReLU().weight.detach()[0])},
    }


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "opt.defaults",
            "signatures of torch.optim",
            lambda c, d, dev: optimizer_defaults(),
        ),
        Implementation(
            "act.defaults",
            "signatures of torch.nn.functional, attributes of torch.nn layers",
            lambda c, d, dev: activation_defaults(),
        ),
    ]
