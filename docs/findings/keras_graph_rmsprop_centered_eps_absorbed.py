"""Keras 3 (TensorFlow backend): RMSprop(centered=True) in model.fit steps by inf.

``keras.optimizers.RMSprop.update_step`` evaluates ``sqrt(velocity - square(average_grad) +
epsilon)``. In the train step of ``model.compile(jit_compile=False)`` (``tf.function`` without
XLA: what ``model.fit`` runs on a machine with only CPUs), Grappler's constant folding pushes the
constant ``epsilon`` down the expression tree (``ConstantFolding::ConstantPushDown``, TensorFlow's
``core/grappler/optimizers/constant_folding.cc``) and the step computes
``(velocity + epsilon) - square(average_grad)``. Where the centred variance is 0 (rho = 0:
velocity = g*g, average_grad = g) and epsilon is below half a unit of velocity, ``velocity +
epsilon`` rounds to ``velocity``, the denominator is 0 and the step inf; the formula's step is
``lr * g / sqrt(epsilon)``. Eagerly (``optimizer.apply``) the step is the formula's; with
constant folding off, so is the traced one. The rewrite happens when the traced step returns a
value, as ``model.fit``'s train step does (its logs); in TensorFlow 2.21 a traced step that
returns nothing is left as written.

Run: python keras_graph_rmsprop_centered_eps_absorbed.py  (needs keras, tensorflow and NumPy)
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras
import numpy as np
import tensorflow as tf

theta, lr, eps = 0.1257302210933933, 0.0010000000474974513, 9.99999993922529e-09
grads = (theta, 12573.02210933933)  # two steps: velocity = 1.6e8 at the second


def steps(mode: str, dtype: str) -> float:
    tf.config.optimizer.set_experimental_options({"constant_folding": mode != "graph, folding off"})
    w = keras.Variable(np.array([theta]), dtype=dtype)
    opt = keras.optimizers.RMSprop(learning_rate=lr, rho=0.0, epsilon=eps, centered=True)
    opt.build([w])

    def apply(grads: list) -> tf.Tensor:
        return opt.apply_gradients(zip(grads, [w], strict=True))  # returns opt.iterations

    run = apply if mode == "eager" else tf.function(apply, jit_compile=False)
    for grad in grads:
        run([tf.constant([grad], dtype=dtype)])
    return float(keras.ops.convert_to_numpy(w)[0])


def fit(dtype: str) -> float:
    """The same two steps through model.fit: loss sum(y * prediction) has gradient y."""
    tf.config.optimizer.set_experimental_options({"constant_folding": True})
    keras.config.set_floatx(dtype)
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                1, use_bias=False, kernel_initializer=keras.initializers.Constant(theta)
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=lr, rho=0.0, epsilon=eps, centered=True),
        loss=lambda y, p: keras.ops.sum(y * p),
        jit_compile=False,
    )
    x, y = np.ones((2, 1)), np.array([[g] for g in grads])
    model.fit(x, y, batch_size=1, shuffle=False, epochs=1, verbose=0)
    return float(keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0])


for dtype in ("float32", "float64"):
    t, gs = (np.asarray(v, dtype=dtype).astype(np.float64) for v in (theta, grads))
    exact = t - lr * gs[0] / np.sqrt(eps) - lr * gs[1] / np.sqrt(eps)
    out = {mode: steps(mode, dtype) for mode in ("eager", "graph", "graph, folding off")}
    out["model.fit"] = fit(dtype)
    print(f"{dtype}: formula {float(exact)!r}")
    for mode, value in out.items():
        print(f"  {mode:20s} {value!r}")
    assert np.isfinite(out["eager"]) and np.isfinite(out["graph, folding off"])
    assert np.isinf(out["graph"]) and np.isinf(out["model.fit"])
