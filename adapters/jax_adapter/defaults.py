"""The defaults family (``opt.defaults``, ``act.defaults``): the framework's current defaults,
read from its public signatures and fresh objects, keyed by the spec's names.

The documents' claims are the spec's (:mod:`trainspec.reference.defaults`); this module only
reports what the framework's defaults are now.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax

from trainspec.conformance.adapter import Implementation

__all__ = ["activation_defaults", "implementations"]


def activation_defaults() -> dict[str, dict[str, Any]]:
    """The current defaults from the signatures of ``jax.nn`` and flax's ``PReLU``, keyed as
    ``act.defaults``' claims."""

    def default(fn: Callable[..., Any], arg: str) -> Any:
        return inspect.signature(fn).parameters[arg].default

    return {
        "leaky_relu": {"alpha": default(jax.nn.leaky_relu, "negative_slope")},
        "elu": {"alpha": default(jax.nn.elu, "alpha")},
        "PReLU": {"alpha": nn.PReLU().negative_slope_init},
    }


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "act.defaults",
            "signatures of jax.nn and flax.linen.PReLU",
            lambda c, d, dev: activation_defaults(),
        ),
    ]
