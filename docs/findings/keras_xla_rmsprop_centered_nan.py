"""Keras 3 (TensorFlow backend): RMSprop(centered=True) under XLA steps by NaN.

``keras.optimizers.RMSprop.update_step`` evaluates ``sqrt(velocity - square(average_grad) +
epsilon)``. Applied eagerly (``optimizer.apply``) it gives the formula's step; in the train step of
``model.compile(jit_compile=True)`` (``tf.function(..., jit_compile=True)``) XLA returns NaN where
the centred variance is exactly 0 (rho = 0: velocity = g*g, average_grad = g), where the formula's
step is lr * g / sqrt(epsilon): XLA's compiled difference ``velocity - average_grad**2`` is
negative there (a rounding remainder: the pattern of a fused multiply-add, as torch's RMSprop and
optax's under jax.jit). Without XLA the traced step is inf here: Grappler's constant folding
absorbs epsilon, the finding of keras_graph_rmsprop_centered_eps_absorbed.py. The step returns a
value, as model.fit's does.

Run: python keras_xla_rmsprop_centered_nan.py  (needs keras, tensorflow and NumPy)
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras
import numpy as np
import tensorflow as tf

theta, g, lr, eps = (
    0.1257302210933933,
    12573.02210933933,
    0.0010000000474974513,
    9.99999993922529e-09,
)


def step(mode: str) -> float:
    w = keras.Variable(np.array([theta]), dtype="float64")
    opt = keras.optimizers.RMSprop(learning_rate=lr, rho=0.0, epsilon=eps, centered=True)
    opt.build([w])

    def apply(grads: list) -> tf.Tensor:
        return opt.apply_gradients(zip(grads, [w], strict=True))  # returns opt.iterations

    run = apply if mode == "eager" else tf.function(apply, jit_compile=(mode == "xla"))
    for grad in (theta, g):  # two steps: the second with g
        run([tf.constant([grad], dtype="float64")])
    return float(keras.ops.convert_to_numpy(w)[0])


# rho = 0: after each step velocity = grad**2 and average_grad = grad, the variance 0
exact = theta - lr * theta / np.sqrt(eps) - lr * g / np.sqrt(eps)
out = {mode: step(mode) for mode in ("eager", "graph", "xla")}
print(f"formula                           {exact!r}")
for mode, value in out.items():
    print(f"{mode:6s} ({'tf.function' if mode != 'eager' else 'apply'})  {value!r}")
assert np.isfinite(out["eager"]) and np.isinf(out["graph"]) and np.isnan(out["xla"])
