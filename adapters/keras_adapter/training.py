r"""Keras's training procedure: ``keras.callbacks.EarlyStopping`` (``train.early_stopping``) and
``tf.GradientTape`` through ``keras.layers.Dense`` (``train.backprop``).

Early stopping
    The callback is driven through its public callback API, as ``model.fit`` drives it:
    ``set_model``, ``on_train_begin``, then ``on_epoch_end(epoch, logs={"val_loss": loss})``
    once per epoch (``fit`` passes Python floats: its logs go through ``pythonify_logs``), until
    ``model.stop_training`` is set; then ``on_train_end``. The model is a real one-weight
    ``keras.Sequential`` whose weight is set to the epoch number before each
    ``on_epoch_end``, so that the weight left after ``on_train_end`` *is* the restored epoch:
    :func:`epoch_weights` / :func:`restored_epoch`. Two rows: ``restore_best_weights=True`` and
    Keras's default ``False``.

Backprop
    Each layer is a ``keras.layers.Dense`` built in the dtype under test, with the activation
    ``keras.activations.tanh/sigmoid/relu/linear``. ``Dense``'s kernel is ``(in, out)``, the
    transpose of the reference's $W$ ``(out, in)``: :func:`kernel_from_weight` converts (it is
    its own inverse, and converts the kernel's gradient back). The losses are
    ``keras.losses.MeanSquaredError()`` (mean over all elements: ``mse``) and
    ``0.5 * keras.ops.sum(keras.ops.square(y - t))`` (``half_sse``); gradients come from
    ``tf.GradientTape.gradient`` with respect to the layers' variables.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.kinds.training.early_stopping import EarlyStoppingCase

__all__ = [
    "epoch_weights",
    "implementations",
    "kernel_from_weight",
    "restored_epoch",
    "run_backprop",
    "run_early_stopping",
]

_KERAS_ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "identity": "linear"}


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


# ---------------------------------------------------------------------------------------------
# early stopping


@functools.cache
def _epoch_model() -> keras.Model:
    """A real one-weight Keras model, built once per process; its weight encodes an epoch."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    return model


def epoch_weights(epoch: int) -> list[np.ndarray]:
    """The model's weights standing for the parameters after ``epoch``: the epoch number itself."""
    return [np.array([[float(epoch)]], dtype=np.float32)]


def restored_epoch(weights: list[np.ndarray]) -> int:
    """The epoch whose parameters the model holds (the inverse of :func:`epoch_weights`)."""
    return round(float(np.asarray(weights[0]).ravel()[0]))


def run_early_stopping(
    case: EarlyStoppingCase,
    dtype: str,
    device: str,
    *,
    restore_best_weights: bool = True,
    patience_offset: int = 0,
) -> dict[str, int]:
    """Drive ``keras.callbacks.EarlyStopping`` over the case's validation losses, as ``fit`` does.

    ``patience_offset`` builds a planted fault (the patience counted from the wrong check)."""
    _check_backend()
    model = _epoch_model()
    callback = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        min_delta=case.min_delta,
        patience=case.patience + patience_offset,
        restore_best_weights=restore_best_weights,
    )
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    stop = -1
    for epoch, loss in enumerate(case.losses):
        model.set_weights(epoch_weights(epoch))
        callback.on_epoch_end(epoch, {"val_loss": float(np.asarray(loss, dtype=dtype))})
        if model.stop_training:
            stop = epoch
            break
    callback.on_train_end()
    return {"stop_epoch": stop, "restored_epoch": restored_epoch(model.get_weights())}


# ---------------------------------------------------------------------------------------------
# backprop


def kernel_from_weight(w: np.ndarray) -> np.ndarray:
    r"""``Dense``'s kernel ``(in, out)`` from the reference's $W$ ``(out, in)`` (a transpose; the
    same function turns the kernel's gradient back into $\partial l/\partial W$)."""
    return np.asarray(w, dtype=np.float64).T


def _half_sse(t: Any, y: Any) -> Any:
    return 0.5 * keras.ops.sum(keras.ops.square(y - t))


def run_backprop(
    case: BackpropCase,
    dtype: str,
    device: str,
    activations: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """``tf.GradientTape`` gradients of the loss through ``Dense`` layers built in ``dtype``."""
    _check_backend()
    acts = activations or _KERAS_ACTIVATIONS
    with tf.device(_device(device)):
        layers = []
        n_in = case.x.shape[1]
        for k, a in enumerate(case.activations, start=1):
            w = case.params[f"W{k}"]
            layer = keras.layers.Dense(w.shape[0], activation=acts[a], dtype=dtype)
            layer.build((None, n_in))
            layer.set_weights(
                [kernel_from_weight(w).astype(dtype), case.params[f"b{k}"].astype(dtype)]
            )
            layers.append(layer)
            n_in = w.shape[0]
        x = tf.constant(case.x, dtype=dtype)
        t = tf.constant(case.t, dtype=dtype)
        loss_fn: Callable[[Any, Any], Any] = (
            keras.losses.MeanSquaredError(dtype=dtype) if case.loss == "mse" else _half_sse
        )
        with tf.GradientTape() as tape:
            h = x
            for layer in layers:
                h = layer(h)
            value = loss_fn(t, h)
        variables = [v for layer in layers for v in (layer.kernel, layer.bias)]
        grads = tape.gradient(value, variables)
    out: dict[str, np.ndarray] = {}
    for k in range(1, len(layers) + 1):
        out[f"W{k}"] = kernel_from_weight(np.asarray(grads[2 * k - 2], dtype=np.float64))
        out[f"b{k}"] = np.asarray(grads[2 * k - 1], dtype=np.float64)
    return out


_FLOAT32_NOTE = (
    "MonitorCallback._is_improvement calls keras.ops.less(current - min_delta, best) on the "
    "Python floats of logs, which converts them to floatx (float32): float64 losses that differ "
    "below float32's resolution tie (variant compare_in=float32 in float64 rows)"
)


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "train.early_stopping",
            "callbacks.EarlyStopping(restore_best_weights=True)",
            run_early_stopping,
            dtypes=_DTYPES,
            devices=("cpu",),
            description=_FLOAT32_NOTE,
        ),
        Implementation(
            "train.early_stopping",
            "callbacks.EarlyStopping()",
            lambda case, dtype, device: run_early_stopping(
                case, dtype, device, restore_best_weights=False
            ),
            dtypes=_DTYPES,
            devices=("cpu",),
            description=_FLOAT32_NOTE,
        ),
        Implementation(
            "train.backprop",
            "GradientTape(layers.Dense, losses.MeanSquaredError)",
            run_backprop,
            dtypes=_DTYPES,
            devices=("cpu", "cuda"),
        ),
    ]
