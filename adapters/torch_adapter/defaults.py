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

__all__ = ["activation_defaults", "implementations", "sgd_defaults"]


_SGD_ARGUMENTS = {
    "lr": "learning_rate",
    "momentum": "momentum",
    "dampening": "dampening",
    "weight_decay": "weight_decay",
    "nesterov": "nesterov",
}


def sgd_defaults() -> dict[str, dict[str, Any]]:
    """``torch.optim.SGD``'s current defaults, read from its signature, by the spec's names
    (``None``: the argument has no default)."""
    params = inspect.signature(torch.optim.SGD).parameters
    return {
        "SGD": {
            spec: None if params[arg].default is inspect.Parameter.empty else params[arg].default
            for arg, spec in _SGD_ARGUMENTS.items()
        }
    }


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
            "opt.defaults", "signature of torch.optim.SGD", lambda c, d, dev: sgd_defaults()
        ),
        Implementation(
            "act.defaults",
            "signatures of torch.nn.functional, attributes of torch.nn layers",
            lambda c, d, dev: activation_defaults(),
        ),
    ]
