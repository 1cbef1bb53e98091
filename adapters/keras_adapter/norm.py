r"""Keras's batch normalisation: ``keras.layers.BatchNormalization``, ``training=True``/``False``.

One run of a :class:`~trainspec.conformance.kinds.norm.BatchNormCase` builds the layer with
the case's ``epsilon`` and momentum, assigns $\gamma$, $\beta$ and the initial moving statistics,
takes one training step per batch (``layer(x, training=True)`` under a ``tf.GradientTape``; the
gradients of $\sum dy\cdot y$ via ``output_gradients=dy``), reads ``moving_mean`` and
``moving_variance`` after each step, then calls ``layer(x_test, training=False)``.

Conventions mapped here, each in one small tested function:

* :func:`keras_momentum`: Keras's ``momentum`` is the weight of the OLD moving value, as in the
  spec (``moving = moving * momentum + batch * (1 - momentum)``): passed unchanged;
* :func:`keras_axis`: the layout picks ``axis`` (``-1`` channels-last, the Keras default; ``1``
  channels-first); the adapter feeds the layer in that layout.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.norm import (
    BatchNormCase,
    BatchNormRun,
    from_layout,
    to_layout,
)

__all__ = ["implementations", "keras_axis", "keras_momentum", "run_keras_batchnorm"]

IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")


def keras_momentum(old_value_weight: float) -> float:
    """Keras's ``momentum`` for the spec's momentum (the weight of the OLD value): unchanged."""
    return old_value_weight


def keras_axis(layout: str) -> int:
    """The ``axis`` argument of ``BatchNormalization`` for a layout."""
    if layout == "channels_last":
        return -1
    if layout == "channels_first":
        return 1
    raise ValueError(f"layout={layout!r}: must be 'channels_first' or 'channels_last'")


def run_keras_batchnorm(
    case: BatchNormCase,
    dtype: str,
    device: str,
    *,
    layout: str = "channels_last",
    momentum: Any = keras_momentum,
) -> BatchNormRun:
    """Run the case through ``keras.layers.BatchNormalization`` (see the module docstring)."""
    layer = keras.layers.BatchNormalization(
        axis=keras_axis(layout), momentum=momentum(case.momentum), epsilon=case.eps, dtype=dtype
    )

    def tensor(a: np.ndarray) -> tf.Tensor:
        return tf.constant(to_layout(a, case.layout, layout), dtype=dtype)

    def back(t: tf.Tensor) -> np.ndarray:
        return from_layout(np.asarray(t, dtype=np.float64), case.layout, layout)

    def vec(v: Any) -> np.ndarray:
        return np.array(v.numpy(), dtype=np.float64)

    layer.build(tensor(case.batches[0]).shape)
    layer.gamma.assign(case.gamma)
    layer.beta.assign(case.beta)
    layer.moving_mean.assign(case.initial_mean)
    layer.moving_variance.assign(case.initial_var)
    run = BatchNormRun([], [], [], [], [], [], np.zeros(0))
    for x, dy in zip(case.batches, case.upstream, strict=True):
        xt = tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, training=True)
        dx, dgamma, dbeta = tape.gradient(
            y, [xt, layer.gamma.value, layer.beta.value], output_gradients=tensor(dy)
        )
        run.outputs.append(back(y))
        run.dx.append(back(dx))
        run.dgamma.append(np.asarray(dgamma, dtype=np.float64))
        run.dbeta.append(np.asarray(dbeta, dtype=np.float64))
        run.running_mean.append(vec(layer.moving_mean))
        run.running_var.append(vec(layer.moving_variance))
    test = back(layer(tensor(case.test_batch), training=False))
    return BatchNormRun(
        run.outputs, run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, test
    )


def _impl(spec_id: str, layout: str) -> Implementation:
    axis = keras_axis(layout)
    return Implementation(
        spec_id=spec_id,
        name=f"keras.layers.BatchNormalization(axis={axis})",
        run=lambda case, dtype, device: run_keras_batchnorm(case, dtype, device, layout=layout),
        dtypes=_DTYPES,
        devices=("cpu",),
        description=f"training=True steps under tf.GradientTape, then training=False; {layout}",
    )


def implementations() -> list[Implementation]:
    """Both layouts on the outputs, the test outputs and the gradients (``axis=1`` reshapes the
    statistics and reduces over other axes); the moving averages are the same code for both
    axes, so ``norm.batch.running`` runs the default ``axis=-1`` only."""
    out = [_impl("norm.batch.running", "channels_last")]
    for spec_id in ("norm.batch.train", "norm.batch.test", "norm.batch.grad"):
        out += [_impl(spec_id, "channels_last"), _impl(spec_id, "channels_first")]
    return out
