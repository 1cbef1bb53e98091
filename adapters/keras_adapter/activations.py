r"""Keras 3's and TensorFlow's activations (``act.*``): ``keras.activations.*``, ``tf.nn.*``,
``keras.ops`` and the layers that carry parameters; derivatives by ``tf.GradientTape``.

Conventions mapped here (each one small function, tested in
``tests/adapters/keras_adapter/test_activations.py``):

* the spec's hyperparameter names to the API's arguments: the leaky slope $\alpha$ is
  ``negative_slope`` in ``keras.activations.leaky_relu`` and ``keras.layers.LeakyReLU`` but
  ``alpha`` in ``tf.nn.leaky_relu``: :func:`keras_kwargs`;
* ``keras.layers.PReLU`` learns one slope per feature (``alpha`` has the input's shape without
  the batch axis); the spec's one shared slope is a layer over inputs of shape ``(n, 1)``:
  :func:`prelu_input` (and the output is reshaped back).

Keras has no RReLU (``act.rrelu`` is not offered). ``tf.nn.elu`` has no ``alpha``: the ELU rows
are ``keras.activations.elu`` and ``keras.layers.ELU``.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.activations import ActivationCase
from trainspec.conformance.tracked import unit_roundoff

__all__ = [
    "implementations",
    "keras_kwargs",
    "prelu_input",
    "run_activation",
]

_DTYPES = ("float32", "float64", "float16")

# fn(x, hyperparameters, dtype, params) -> y; fn may add variables to ``params`` (their
# cotangents are returned by name)
Fn = Callable[[tf.Tensor, Mapping[str, float], str, dict[str, Any]], tf.Tensor]


def keras_kwargs(api: str, hyperparameters: Mapping[str, float]) -> dict[str, float]:
    """The spec's hyperparameters as the keyword arguments of ``api``."""
    names = {
        "tf.nn.leaky_relu": {"alpha": "alpha"},
        "keras.activations.leaky_relu": {"alpha": "negative_slope"},
        "keras.layers.LeakyReLU": {"alpha": "negative_slope"},
        "keras.activations.elu": {"alpha": "alpha"},
        "keras.layers.ELU": {"alpha": "alpha"},
    }.get(api, {})
    return {names[k]: float(v) for k, v in hyperparameters.items() if k in names}


def prelu_input(x: tf.Tensor) -> tf.Tensor:
    """A batch of ``n`` one-feature rows, so that ``keras.layers.PReLU`` has one shared slope."""
    return tf.reshape(x, (-1, 1))


def run_activation(fn: Fn, case: ActivationCase, dtype: str, device: str) -> dict[str, np.ndarray]:
    """Run ``fn`` on the case's input; for ``derivatives`` the vector-Jacobian product with the
    case's cotangent (``tf.GradientTape.gradient(..., output_gradients=...)``)."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"the keras adapter needs KERAS_BACKEND=tensorflow, not {keras.backend.backend()!r}"
        )
    with tf.device("/CPU:0" if device == "cpu" else "/GPU:0"):
        x = tf.constant(case.z, dtype=dtype)
        params: dict[str, Any] = {}
        if case.check == "values":
            return {"y": np.asarray(fn(x, case.hyperparameters, dtype, params), dtype=np.float64)}
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, case.hyperparameters, dtype, params)
        grads = tape.gradient(
            y, [x, *params.values()], output_gradients=tf.constant(case.cotangent, dtype=dtype)
        )
        if grads[0] is None:
            raise RuntimeError("tf.GradientTape returned no gradient for the input")
        out = {"z": np.asarray(grads[0], dtype=np.float64)}
        for name, g in zip(params, grads[1:], strict=True):
            out[name] = np.asarray(g, dtype=np.float64).reshape(())
        return out


def _fn(api: str, op: Callable[..., Any]) -> Fn:
    return lambda x, hp, dtype, params: op(x, **keras_kwargs(api, hp))


def _layer(api: str, make: Callable[..., Any]) -> Fn:
    return lambda x, hp, dtype, params: make(**keras_kwargs(api, hp), dtype=dtype)(x)


def _prelu_layer(
    x: tf.Tensor, hp: Mapping[str, float], dtype: str, params: dict[str, Any]
) -> tf.Tensor:
    layer = keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(hp["alpha"]), dtype=dtype
    )
    layer.build((None, 1))
    params["alpha"] = layer.alpha.value
    return tf.reshape(layer(prelu_input(x)), tf.shape(x))


def _impl(
    spec_id: str,
    name: str,
    fn: Fn,
    *,
    description: str = "",
    findings: Mapping[str, Finding] | None = None,
    **options: Any,
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_activation(fn, case, dtype, device),
        dtypes=_DTYPES,
        devices=("cpu", "cuda"),
        description=description,
        options=options,
        findings=findings or {},
    )


_SELU_FINDING = (
    "the derivative of SELU for -u < z < 0 (u the unit roundoff) is lambda = 1.0507, not "
    "lambda*alpha*e^z = 1.7581: TensorFlow's SeluGrad picks the branch from the sign of the output, "
    "which its e^z - 1 rounds to 0 there (e.g. z = -1e-9 in float32)"
)


def _selu_finding(dtype: str) -> Finding:
    u = unit_roundoff(dtype)
    return Finding(
        "tf-selu-grad-sign-of-output",
        _SELU_FINDING,
        region=lambda case: (
            case.check == "derivatives"
            and bool(np.any((np.asarray(case.z) >= -u) & (np.asarray(case.z) < 0)))
        ),
        region_text=f"derivatives of an input with an element in [-u, 0), u = {u:.3g} ({dtype})",
    )


#: the SELU finding per dtype (its region depends on the dtype's unit roundoff)
SELU_FINDINGS = {d: _selu_finding(d) for d in _DTYPES}


def implementations() -> list[Implementation]:
    no_grad = "keras.ops.heaviside has no gradient (tf.GradientTape returns None); values only"
    A, L = keras.activations, keras.layers
    return [
        _impl(
            "act.step",
            "keras.ops.heaviside(x, 1)",
            lambda x, hp, d, p: keras.ops.heaviside(x, tf.constant(1.0, dtype=d)),
            derivatives=False,
            description=no_grad,
        ),
        _impl(
            "act.step",
            "keras.ops.heaviside(x, 0)",
            lambda x, hp, d, p: keras.ops.heaviside(x, tf.constant(0.0, dtype=d)),
            derivatives=False,
            description=no_grad,
        ),
        _impl("act.step", "tf.math.sign", lambda x, hp, d, p: tf.math.sign(x)),
        _impl("act.sigmoid", "keras.activations.sigmoid", _fn("", A.sigmoid)),
        _impl("act.sigmoid", "tf.nn.sigmoid", _fn("", tf.nn.sigmoid)),
        _impl("act.tanh", "keras.activations.tanh", _fn("", A.tanh)),
        _impl("act.relu", "keras.activations.relu", _fn("", A.relu)),
        _impl("act.relu", "tf.nn.relu", _fn("", tf.nn.relu)),
        _impl("act.leaky_relu", "tf.nn.leaky_relu", _fn("tf.nn.leaky_relu", tf.nn.leaky_relu)),
        _impl(
            "act.leaky_relu",
            "keras.activations.leaky_relu",
            _fn("keras.activations.leaky_relu", A.leaky_relu),
        ),
        _impl(
            "act.leaky_relu",
            "keras.layers.LeakyReLU",
            _layer("keras.layers.LeakyReLU", L.LeakyReLU),
        ),
        _impl("act.prelu", "keras.layers.PReLU", _prelu_layer),
        _impl("act.elu", "keras.activations.elu", _fn("keras.activations.elu", A.elu)),
        _impl("act.elu", "keras.layers.ELU", _layer("keras.layers.ELU", L.ELU)),
        _impl("act.selu", "keras.activations.selu", _fn("", A.selu), findings=SELU_FINDINGS),
        _impl("act.selu", "tf.nn.selu", _fn("", tf.nn.selu), findings=SELU_FINDINGS),
        _impl("act.softmax", "keras.activations.softmax(axis=-1)", _fn("", A.softmax)),
        _impl("act.softmax", "tf.nn.softmax", _fn("", tf.nn.softmax)),
    ]
