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
import optax

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.defaults import signature_defaults

__all__ = ["activation_defaults", "implementations", "optimizer_defaults"]


#: optax's argument names -> the spec's (``rmsprop``'s ``decay`` is the spec's ``rho``)
_RENAME: dict[str, str | tuple[str, ...]] = {"b1": "beta1", "b2": "beta2"}
#: every optimizer this adapter offers, by optax's function name
OPTIMIZERS = (
    "sgd",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "adamax",
    "adadelta",
)


def optimizer_defaults() -> dict[str, dict[str, Any]]:
    """Every default of every optax optimizer the adapter offers, read from its signature, by
    the spec's names (``None``: the argument has no default, e.g. ``learning_rate``)."""
    out = {}
    for name in OPTIMIZERS:
        rename = {**_RENAME, "decay": "rho"} if name == "rmsprop" else _RENAME
        out[name] = signature_defaults(getattr(optax, name), rename)
    return out


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
            "opt.defaults", "signatures of optax", lambda c, d, dev: optimizer_defaults()
        ),
        Implementation(
            "act.defaults",
            "signatures of jax.nn and flax.linen.PReLU",
            lambda c, d, dev: activation_defaults(),
        ),
    ]
