r"""Keras's weight regularisers and constraints: ``keras.regularizers.L1``/``L2`` (value, and its
gradient by ``tf.GradientTape``) and ``keras.constraints.MaxNorm``.

Conventions mapped here (each in one small, tested function):

* layout: the spec's case is ``(units, fan_in)``; a ``Dense`` kernel is ``(in, out)``, so the
  kernel is the transpose (:func:`kernel_from_units`, :func:`units_from_kernel`) and a unit's
  incoming weights are a *column*: ``MaxNorm(axis=0)``, Keras's default (:data:`MAX_NORM_AXIS`).
* the spec's ``l1``/``l2``/``max_value`` are Keras's arguments of the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.regularizers import RegularizerCase

__all__ = [
    "MAX_NORM_AXIS",
    "implementations",
    "kernel_from_units",
    "run_max_norm",
    "run_penalty",
    "units_from_kernel",
]

#: the axis of a Dense kernel (in, out) that holds a unit's incoming weights
MAX_NORM_AXIS = 0


def kernel_from_units(w: np.ndarray) -> np.ndarray:
    """The ``Dense`` kernel ``(in, out)`` of the spec's ``(units, fan_in)`` weights."""
    return np.asarray(w).T


def units_from_kernel(kernel: np.ndarray) -> np.ndarray:
    """The spec's ``(units, fan_in)`` weights of a ``Dense`` kernel ``(in, out)``."""
    return np.asarray(kernel).T


def run_penalty(
    make: Callable[[RegularizerCase], Any], case: RegularizerCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """The regulariser's value on the kernel and its gradient (``tf.GradientTape``), in the spec's layout."""
    _check_backend()
    with tf.device("/CPU:0"):
        kernel = tf.Variable(kernel_from_units(case.weights), dtype=dtype)
        reg = make(case)
        with tf.GradientTape() as tape:
            value = reg(kernel)
        grad = tape.gradient(value, kernel)
    return {
        "value": np.asarray(value, dtype=np.float64),
        "grad": units_from_kernel(np.asarray(grad, dtype=np.float64)),
    }


def run_max_norm(
    case: RegularizerCase, dtype: str, device: str, *, axis: int = MAX_NORM_AXIS
) -> dict[str, np.ndarray]:
    """``keras.constraints.MaxNorm(max_value, axis)`` applied to the kernel, in the spec's layout."""
    _check_backend()
    with tf.device("/CPU:0"):
        kernel = tf.constant(kernel_from_units(case.weights), dtype=dtype)
        out = keras.constraints.MaxNorm(case.hyperparameters["max_value"], axis=axis)(kernel)
    return {"weights": units_from_kernel(np.asarray(out, dtype=np.float64))}


def _penalty(spec_id: str, name: str, make: Callable[[RegularizerCase], Any]) -> Implementation:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_penalty(make, case, dtype, device),
        dtypes=_DTYPES,
        devices=("cpu",),
    )


def implementations() -> list[Implementation]:
    return [
        _penalty(
            "reg.l2",
            "keras.regularizers.L2",
            lambda c: keras.regularizers.L2(c.hyperparameters["l2"]),
        ),
        _penalty(
            "reg.l1",
            "keras.regularizers.L1",
            lambda c: keras.regularizers.L1(c.hyperparameters["l1"]),
        ),
        Implementation(
            "reg.max_norm",
            "keras.constraints.MaxNorm(axis=0) on a Dense kernel",
            run_max_norm,
            dtypes=_DTYPES,
            devices=("cpu",),
        ),
    ]
