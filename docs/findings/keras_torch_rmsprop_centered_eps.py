"""Keras 3 on its torch backend: RMSprop(centered=True) loses epsilon and steps by inf.

``torch_rmsprop.RMSprop`` (keras/src/backend/torch/optimizers/torch_rmsprop.py) evaluates the
denominator as ``sqrt((velocity + epsilon) - average_grad**2)``: it adds epsilon first, then
subtracts the squared mean gradient. The generic update (``keras.optimizers.RMSprop.update_step``,
run by the TensorFlow and JAX backends) evaluates ``sqrt(velocity - average_grad**2 + epsilon)``.
Where epsilon is below the rounding of ``velocity`` it is absorbed, and a centred variance of 0
(rho = 0: velocity = g*g and average_grad = g) gives a denominator of 0 and an infinite step;
the formula's step is lr * g / sqrt(epsilon).

Run: KERAS_BACKEND=torch python keras_torch_rmsprop_centered_eps.py  (needs keras, torch, NumPy)
"""

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np

assert keras.backend.backend() == "torch"

theta, g, lr, eps = 0.1257302165031433, 2.040919065475464, 0.0010000000474974513, 1e-8
w = keras.Variable(np.array([theta]), dtype="float32")
opt = keras.optimizers.RMSprop(learning_rate=lr, rho=0.0, epsilon=eps, centered=True)
opt.apply([keras.ops.convert_to_tensor(np.array([g]), dtype="float32")], [w])
keras_out = float(keras.ops.convert_to_numpy(w)[0])

g32 = np.float32(g)
s = g32 * g32  # velocity after the step (rho = 0)
generic = np.float32(theta) - np.float32(lr) * g32 / np.sqrt(s - g32 * g32 + np.float32(eps))
torch_order = (s + np.float32(eps)) - g32 * g32  # epsilon absorbed: 0
print(f"keras (torch backend)            {keras_out!r}")
print(f"sqrt(s - gbar**2 + eps) (float32) {float(generic)!r}")
print(f"(s + eps) - gbar**2 in float32    {float(torch_order)!r}")
assert np.isfinite(generic) and torch_order == 0 and not np.isfinite(keras_out)
