"""The defaults family (``opt.defaults``, ``act.defaults``): the framework's current defaults,
read from its public signatures and fresh objects, keyed by the spec's names.

The documents' claims are the spec's (:mod:`trainspec.reference.defaults`); this module only
reports what the framework's defaults are now.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.defaults import signature_defaults

__all__ = ["activation_defaults", "implementations", "optimizer_defaults"]


#: Keras's argument names -> the spec's
_RENAME: dict[str, str | tuple[str, ...]] = {"epsilon": "eps", "beta_1": "beta1", "beta_2": "beta2"}
#: every optimizer this adapter offers
OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Nadam", "Adamax", "Adadelta")


def optimizer_defaults() -> dict[str, dict[str, Any]]:
    """Every default of every ``keras.optimizers`` class the adapter offers, read from its
    signature, by the spec's names (Keras's ``epsilon`` is the spec's ``eps``, ``beta_1`` is
    ``beta1``; ``None``: the argument has no default)."""
    return {
        name: signature_defaults(getattr(keras.optimizers, name), _RENAME) for name in OPTIMIZERS
    }


def activation_defaults() -> dict[str, dict[str, Any]]:
    """The current defaults, from the signatures and fresh layers, keyed as ``act.defaults``'
    claims (``PReLU``: the value its default initializer gives the slope)."""

    def default(fn: Callable[..., Any], arg: str) -> Any:
        return inspect.signature(fn).parameters[arg].default

    prelu = keras.layers.PReLU()
    prelu.build((1, 1))
    return {
        "tf.nn.leaky_relu": {"alpha": default(tf.nn.leaky_relu, "alpha")},
        "leaky_relu": {"alpha": default(keras.activations.leaky_relu, "negative_slope")},
        "LeakyReLU": {"alpha": keras.layers.LeakyReLU().negative_slope},
        "elu": {"alpha": default(keras.activations.elu, "alpha")},
        "ELU": {"alpha": keras.layers.ELU().alpha},
        "PReLU": {"alpha": float(np.asarray(prelu.alpha).ravel()[0])},
    }


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "opt.defaults",
            "signatures of keras.optimizers",
            lambda c, d, dev: optimizer_defaults(),
        ),
        Implementation(
            "act.defaults",
            "signatures of keras.activations and tf.nn, attributes of keras.layers",
            lambda c, d, dev: activation_defaults(),
        ),
    ]
