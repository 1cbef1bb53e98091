r"""Keras's and TensorFlow's losses: value and gradient (``tf.GradientTape``) with respect to the
outputs.

* ``keras.losses.MeanSquaredError``, ``SparseCategoricalCrossentropy(from_logits=True)``,
  ``BinaryCrossentropy(from_logits=True)`` (default reduction ``sum_over_batch_size``);
* ``tf.nn.l2_loss(y - t)``, the half sum of squares (``loss.half_sse``);
* ``reduce_mean`` of ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (Zheng's form) and of
  ``tf.nn.sigmoid_cross_entropy_with_logits``.

Convention mapped here: a Keras loss converts its inputs to its own dtype (``floatx()``, float32,
unless given), so every loss is built with ``dtype=`` the dtype under test: :func:`keras_loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.losses import LossCase

#: the dtypes of these rows: the Keras adapter's and float16
DTYPES = (*_DTYPES, "float16")

__all__ = ["DTYPES", "implementations", "keras_loss", "run_loss"]


def keras_loss(cls: type, dtype: str, **kwargs: Any) -> keras.losses.Loss:
    """A Keras loss computing in ``dtype`` (else it would cast float64 inputs to float32)."""
    return cls(dtype=dtype, **kwargs)


def run_loss(
    loss: Callable[[tf.Tensor, tf.Tensor, str], tf.Tensor], case: LossCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """``loss(targets, outputs, dtype)`` and its gradient with respect to the outputs."""
    _check_backend()
    with tf.device("/CPU:0"):
        y = tf.Variable(case.outputs, dtype=dtype)
        if case.target_kind == "labels":
            t = tf.constant(case.targets, dtype=tf.int64)
        else:
            t = tf.constant(case.targets, dtype=dtype)
        with tf.GradientTape() as tape:
            value = loss(t, y, dtype)
        grad = tape.gradient(value, y)
    return {
        "value": np.asarray(value, dtype=np.float64),
        "grad": np.asarray(grad, dtype=np.float64),
    }


def _impl(spec_id: str, name: str, loss: Callable[..., tf.Tensor]) -> Implementation:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_loss(loss, case, dtype, device),
        dtypes=DTYPES,
        devices=("cpu",),
    )


def implementations() -> list[Implementation]:
    L = keras.losses
    return [
        _impl(
            "loss.mse",
            "keras.losses.MeanSquaredError",
            lambda t, y, d: keras_loss(L.MeanSquaredError, d)(t, y),
        ),
        _impl("loss.half_sse", "tf.nn.l2_loss(y - t)", lambda t, y, d: tf.nn.l2_loss(y - t)),
        _impl(
            "loss.softmax_ce",
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
            lambda t, y, d: keras_loss(L.SparseCategoricalCrossentropy, d, from_logits=True)(t, y),
        ),
        _impl(
            "loss.softmax_ce",
            "reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits)",
            lambda t, y, d: tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=y)
            ),
        ),
        _impl(
            "loss.logistic",
            "keras.losses.BinaryCrossentropy(from_logits=True)",
            lambda t, y, d: keras_loss(L.BinaryCrossentropy, d, from_logits=True)(t, y),
        ),
        _impl(
            "loss.logistic",
            "reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits)",
            lambda t, y, d: tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=y)
            ),
        ),
    ]
