r"""TensorFlow's and Keras's gradient clipping.

* ``tf.clip_by_value`` (``clip.value``), ``tf.clip_by_norm`` per tensor (``clip.norm``),
  ``tf.clip_by_global_norm`` (``clip.global_norm``);
* the Keras optimizer's ``clipvalue``, ``clipnorm`` and ``global_clipnorm``, read through one
  step of ``keras.optimizers.SGD(learning_rate=1)`` from zero parameters.

Convention mapped here: the optimizer's clipped gradient is not returned by any public call, so
the adapter takes one SGD step with learning rate 1 from parameters 0: the parameters become
$0 - 1\cdot\tilde g = -\tilde g$ exactly, and :func:`clipped_from_sgd_step` reads
$\tilde g = \theta_0 - \theta_1$ back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.clipping import ClippingCase

#: the dtypes of these rows: the Keras adapter's and float16
DTYPES = (*_DTYPES, "float16")

__all__ = [
    "DTYPES",
    "clipped_from_sgd_step",
    "implementations",
    "run_keras_clipping",
    "run_tf_clipping",
]


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


def clipped_from_sgd_step(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    r"""The clipped gradient of one SGD step with learning rate 1: $\tilde g = \theta_0 - \theta_1$."""
    return np.asarray(before, dtype=np.float64) - np.asarray(after, dtype=np.float64)


def run_tf_clipping(
    clip: Callable[[list[tf.Tensor], float], list[tf.Tensor]],
    case: ClippingCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """``clip(tensors, K)`` on the case's gradients as ``tf.constant`` of ``dtype``."""
    names = list(case.grads)
    with tf.device(_device(device)):
        grads = [tf.constant(case.grads[k], dtype=dtype) for k in names]
        out = clip(grads, case.threshold)
    return {k: np.asarray(v, dtype=np.float64) for k, v in zip(names, out, strict=True)}


def run_keras_clipping(
    option: str, case: ClippingCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """One step of ``SGD(learning_rate=1, <option>=K)`` from zero parameters; the clipped gradients."""
    _check_backend()
    names = list(case.grads)
    with tf.device(_device(device)):
        variables = [keras.Variable(np.zeros(case.grads[k].shape), dtype=dtype) for k in names]
        opt = keras.optimizers.SGD(learning_rate=1.0, **{option: case.threshold})
        opt.build(variables)
        opt.apply([tf.constant(case.grads[k], dtype=dtype) for k in names], variables)
        return {
            k: clipped_from_sgd_step(np.zeros(case.grads[k].shape), v.numpy())
            for k, v in zip(names, variables, strict=True)
        }


def _tf(spec_id: str, name: str, clip: Callable[..., Any]) -> Implementation:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_tf_clipping(clip, case, dtype, device),
        dtypes=DTYPES,
        devices=("cpu",),
    )


def _keras(spec_id: str, option: str) -> Implementation:
    return Implementation(
        spec_id,
        f"SGD({option}) step",
        lambda case, dtype, device: run_keras_clipping(option, case, dtype, device),
        dtypes=DTYPES,
        devices=("cpu",),
    )


def implementations() -> list[Implementation]:
    return [
        _tf(
            "clip.value", "tf.clip_by_value", lambda gs, k: [tf.clip_by_value(g, -k, k) for g in gs]
        ),
        _tf("clip.norm", "tf.clip_by_norm", lambda gs, k: [tf.clip_by_norm(g, k) for g in gs]),
        _tf(
            "clip.global_norm",
            "tf.clip_by_global_norm",
            lambda gs, k: tf.clip_by_global_norm(gs, k)[0],
        ),
        _keras("clip.value", "clipvalue"),
        _keras("clip.norm", "clipnorm"),
        _keras("clip.global_norm", "global_clipnorm"),
    ]
