"""Keras 3 on its torch backend decays float64 variables by a float32-rounded factor.

``TorchOptimizer._apply_weight_decay`` (keras/src/backend/torch/optimizers/torch_optimizer.py)
multiplies the variables in place by ``1 - weight_decay * learning_rate``; the learning rate is
the optimizer's float32 variable, so the factor is a float32 tensor and a float64 variable is
decayed by a factor rounded to float32 (relative error up to 6e-8). The TensorFlow and JAX
backends (``BaseOptimizer._apply_weight_decay``) cast the learning rate and the decay to the
variable's dtype and evaluate ``variable - variable * wd * lr`` in float64. It affects every
optimizer with ``weight_decay`` (``SGD(weight_decay=...)``, ``AdamW``, ...).

Run: KERAS_BACKEND=torch python keras_torch_weight_decay_float32.py  (needs keras, torch, NumPy)
"""

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np

assert keras.backend.backend() == "torch"

theta, lr, wd = 0.1257302210933933, 0.0010000000474974513, 9.999999747378752e-05  # lr, wd float32
w = keras.Variable(np.array([theta]), dtype="float64")
opt = keras.optimizers.SGD(learning_rate=lr, weight_decay=wd)
opt.apply([keras.ops.zeros((1,), dtype="float64")], [w])  # g = 0: the step is the decay alone
keras_out = float(keras.ops.convert_to_numpy(w)[0])

exact = theta - theta * wd * lr  # the float64 decoupled decay (as the TensorFlow backend)
f32 = float(np.float32(1.0) - np.float32(wd) * np.float32(lr))  # the factor in float32
print(f"float64 decay theta - theta*wd*lr  {exact!r}")
print(f"keras (torch backend)              {keras_out!r}  off by {abs(keras_out - exact):.3g}")
print(f"theta * float32(1 - wd*lr)         {theta * f32!r}")
print(f"float64 unit roundoff 1.1e-16 * theta = {1.1e-16 * theta:.2g}")
assert abs(keras_out - exact) > 1e-12 and keras_out == theta * f32
