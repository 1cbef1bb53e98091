r"""Keras's and TensorFlow's dropout: ``keras.layers.Dropout`` (``training=True/False``),
``tf.nn.dropout``, and MC dropout through ``Dropout`` + ``Dense`` called with ``training=True``.

Conventions mapped here (each in one small, tested function):

* the spec's ``rate`` is Keras's and TensorFlow's ``rate`` unchanged (both document it as the
  fraction of units to drop); whether it acts as a drop or a keep probability is *measured* by
  the kit (variant axis ``rate_meaning``), not assumed: :func:`dropout_arguments`.

Both select the kept values (``where(keep_mask, x * scale, 0)``), so a dropped ``inf`` or ``nan``
becomes 0: the kit reports ``masking=select`` (PyTorch multiplies: ``nan``).

Not covered here: in bfloat16 the mask compares a *bfloat16* uniform sample (a grid of 1/128)
with the rate, so the keep probability is $q$ rounded down to a multiple of 1/128; the kit's
examples (at most 4096 elements) are too small to see that bias of up to 0.8 %.

Dtype: a Keras layer casts its inputs to its own compute dtype (float32 by default), so every
layer is built with ``dtype=`` the dtype under test. ``Dense``'s kernel is ``(in, out)``, the
spec's $W$ as it is.

Seeding: ``keras.layers.Dropout(seed=)`` seeds a ``SeedGenerator`` that advances on every call
(a fresh mask per call, reproducible per example). ``tf.nn.dropout`` draws from TensorFlow's
global generator: each example calls ``tf.random.set_seed`` with its seed (which resets the
global seed of the process). ``tf.nn.dropout`` has no test mode: at test time a user does not
call it, so its test-mode output is the input itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Implementation

__all__ = [
    "dropout_arguments",
    "implementations",
    "keras_dropout",
    "mc_model",
    "run_dropout",
    "run_mc_dropout",
    "run_tf_nn_dropout",
]


def dropout_arguments(rate: float) -> dict[str, float]:
    """Keras's and TensorFlow's keyword for the spec's ``rate``: ``rate``, the same number."""
    return {"rate": float(rate)}


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


def _empty(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros((0, *shape))


def keras_dropout(case: Any, dtype: str) -> keras.layers.Dropout:
    """``keras.layers.Dropout(rate, seed=case.seed)`` computing in ``dtype``."""
    return keras.layers.Dropout(seed=case.seed, dtype=dtype, **dropout_arguments(case.rate))


def run_dropout(
    case: Any, dtype: str, device: str, *, layer: Callable[[Any, str], Any] = keras_dropout
) -> dict[str, np.ndarray]:
    """``case.passes`` calls with ``training=True`` (fresh masks), one with ``training=False``."""
    _check_backend()
    with tf.device(_device(device)):
        drop = layer(case, dtype)
        x = tf.constant(case.x, dtype=dtype)
        train = [np.asarray(drop(x, training=True), np.float64) for _ in range(case.passes)]
        test = np.asarray(drop(x, training=False), np.float64)
    return {"train": np.stack(train) if train else _empty(case.x.shape), "test": test}


def run_tf_nn_dropout(case: Any, dtype: str, device: str) -> dict[str, np.ndarray]:
    """``case.passes`` calls of ``tf.nn.dropout`` after ``tf.random.set_seed(case.seed)``."""
    with tf.device(_device(device)):
        x = tf.constant(case.x, dtype=dtype)
        tf.random.set_seed(case.seed)
        train = [
            np.asarray(tf.nn.dropout(x, **dropout_arguments(case.rate)), np.float64)
            for _ in range(case.passes)
        ]
    test = np.asarray(case.x, np.float64)  # no test mode: not called at test time
    return {"train": np.stack(train) if train else _empty(case.x.shape), "test": test}


def mc_model(case: Any, dtype: str) -> keras.Sequential:
    """``Sequential([Dropout(rate, seed), Dense(out)])`` in ``dtype`` holding the case's weights."""
    d_in, d_out = case.weight.shape
    model = keras.Sequential(
        [
            keras.Input(shape=(d_in,), dtype=dtype),
            keras.layers.Dropout(seed=case.seed, dtype=dtype, **dropout_arguments(case.rate)),
            keras.layers.Dense(d_out, dtype=dtype),
        ]
    )
    model.layers[-1].set_weights([case.weight.astype(dtype), case.bias.astype(dtype)])
    return model


def run_mc_dropout(
    case: Any, dtype: str, device: str, *, model: Callable[[Any, str], Any] = mc_model
) -> dict[str, np.ndarray]:
    """MC dropout: ``case.passes`` calls with ``training=True``, then one with ``training=False``."""
    _check_backend()
    with tf.device(_device(device)):
        net = model(case, dtype)
        x = tf.constant(case.x, dtype=dtype)
        train = [np.asarray(net(x, training=True), np.float64) for _ in range(case.passes)]
        test = np.asarray(net(x, training=False), np.float64)
    shape = (case.x.shape[0], case.weight.shape[1])
    return {"train": np.stack(train) if train else _empty(shape), "test": test}


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "drop.inverted", "keras.layers.Dropout", run_dropout, dtypes=_DTYPES, devices=("cpu",)
        ),
        Implementation(
            "drop.inverted",
            "tf.nn.dropout",
            run_tf_nn_dropout,
            dtypes=_DTYPES,
            devices=("cpu",),
            description="no test mode (not called at test time): only training mode is measured",
        ),
        Implementation(
            "drop.mc",
            "keras.Sequential(Dropout, Dense)(training=True)",
            run_mc_dropout,
            dtypes=_DTYPES,
            devices=("cpu",),
        ),
    ]
