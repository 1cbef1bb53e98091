r"""TensorFlow's second derivatives (``opt.second_order``), the autodiff under Keras's TF backend.

Two code paths, two rows:

* ``nested GradientTape``: the Hessian as ``outer.jacobian(inner.gradient(J, x), x)``
  (reverse-over-reverse, ``experimental_use_pfor=False``: the same derivatives, without a
  retraced ``tf.function`` per call) and $Hv$ as ``outer.gradient(sum(g * v), x)``;
* ``ForwardAccumulator over GradientTape``: forward-over-reverse, $Hv$ as the ``jvp`` of the
  gradient in direction $v$ (Pearlmutter's $R$-operator). This row returns the gradient and
  $Hv$ only: a Hessian column by column would take one push per parameter, and each push costs
  about 0.1 s in eager mode (plus a retrace per new shape), beyond the CI budget.

Each model's loss is written with TensorFlow operations exactly as the reference writes it
(:func:`trainspec.reference.second_order.loss`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.second_order import SecondOrderCase

__all__ = ["implementations", "loss_function", "run_forward_over_reverse", "run_nested_tapes"]


def loss_function(model: str, data: Mapping[str, tf.Tensor]) -> Callable[[tf.Tensor], tf.Tensor]:
    """``x -> J(x)`` for the case's model, in TensorFlow operations."""
    if model == "quadratic":
        a, b = data["A"], data["b"]
        return lambda x: 0.5 * tf.reduce_sum(x * tf.linalg.matvec(a, x)) + tf.reduce_sum(b * x)
    xs = data["X"]
    if model == "logistic_regression":
        y = data["y"]

        def logistic(w: tf.Tensor) -> tf.Tensor:
            z = tf.linalg.matvec(xs, w)
            return tf.reduce_mean(tf.math.log1p(tf.exp(z)) - y * z)

        return logistic
    t = data["t"]
    return lambda w: 0.5 * tf.reduce_sum(tf.square(tf.tanh(tf.linalg.matvec(xs, w)) - t))


def _tensors(case: SecondOrderCase, dtype: str) -> tuple[Callable[..., Any], tf.Tensor, tf.Tensor]:
    data = {k: tf.constant(v, dtype=dtype) for k, v in case.data.items()}
    return (
        loss_function(case.model, data),
        tf.constant(case.x, dtype=dtype),
        tf.constant(case.v, dtype=dtype),
    )


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


def _numpy(out: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(t, dtype=np.float64) for k, t in out.items()}


def run_nested_tapes(
    case: SecondOrderCase, dtype: str, device: str, *, detach_inner: bool = False
) -> dict[str, np.ndarray]:
    """Reverse-over-reverse: ``jacobian`` and ``gradient`` of the inner tape's gradient.

    ``detach_inner`` is a planted fault: the inner gradient is taken outside the outer tape's
    recording (``outer.stop_recording()``), so the outer tape sees a constant."""
    with tf.device(_device(device)):
        f, x, v = _tensors(case, dtype)
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                value = f(x)
            if detach_inner:
                with outer.stop_recording():
                    g = inner.gradient(value, x)
                g = g + 0.0 * tf.reduce_sum(x)  # keep a path to x (a zero one)
            else:
                g = inner.gradient(value, x)
            gv = tf.reduce_sum(g * v)
        # pfor=False: the while-loop form; pfor retraces a tf.function per call (0.3 s each)
        hess = outer.jacobian(g, x, experimental_use_pfor=False)
        hvp = outer.gradient(gv, x)
        del outer
    return _numpy({"grad": g, "hessian": hess, "hvp": hvp})


def run_forward_over_reverse(
    case: SecondOrderCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """Forward-over-reverse: ``tf.autodiff.ForwardAccumulator`` around a ``GradientTape``;
    returns the gradient and $Hv$."""

    with tf.device(_device(device)):
        f, x, v = _tensors(case, dtype)

        def grad_and_jvp(direction: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.autodiff.ForwardAccumulator(x, direction) as acc:
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    value = f(x)
                g = tape.gradient(value, x)
            return g, acc.jvp(g)

        g, hvp = grad_and_jvp(v)
    return _numpy({"grad": g, "hvp": hvp})


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "opt.second_order",
            "nested GradientTape (jacobian, gradient of g.v)",
            run_nested_tapes,
            dtypes=_DTYPES,
            devices=("cpu", "cuda"),
        ),
        Implementation(
            "opt.second_order",
            "autodiff.ForwardAccumulator over GradientTape (hvp)",
            run_forward_over_reverse,
            dtypes=_DTYPES,
            devices=("cpu", "cuda"),
        ),
    ]
