"""Keras 3's RMSprop(centered=True) in bfloat16 steps by NaN where the centred variance is small.

``keras.optimizers.RMSprop.update_step`` evaluates the denominator
``sqrt(velocity - square(average_grad) + epsilon)`` in the variables' dtype and does not clamp the
centred variance ``velocity - average_grad**2`` at 0. In bfloat16 (8 significant bits) the
running averages carry rounding errors of several units of 2^-8 of ``velocity``; where the exact
centred variance is smaller than that, the rounded difference is negative and the step is NaN,
while the exact step is finite. Example: rho = 0.0625, eps = 1e-8, two steps of the same gradient
g = 0.640625 from the initial state: the exact variance (1 - rho^2) rho^2 g^2 = 1.6e-3 is 4 % of
velocity, the bfloat16 difference is -2.0e-3.

Run: python keras_rmsprop_centered_bfloat16_nan.py  (keras with its backend, NumPy; the same on
KERAS_BACKEND=tensorflow, jax or torch)
"""

import keras
import numpy as np

theta, g, lr, rho, eps = 0.640625, 0.640625, 0.00099945068359375, 0.0625, 1.0011717677116394e-08
w = keras.Variable(np.array([theta]), dtype="bfloat16")
opt = keras.optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps, centered=True)
for _ in range(2):
    opt.apply([keras.ops.convert_to_tensor(np.array([g]), dtype="bfloat16")], [w])
out = float(np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64)[0])

s = m = 0.0  # the exact running averages (float64)
exact = theta
for _ in range(2):
    s, m = rho * s + (1 - rho) * g * g, rho * m + (1 - rho) * g
    exact -= lr * g / np.sqrt(s - m * m + eps)
print(f"backend {keras.backend.backend()}: bfloat16 step gives {out!r}")
print(f"exact: centred variance {s - m * m:.3g} (velocity {s:.3g}), parameter {float(exact)!r}")
assert np.isfinite(exact) and np.isnan(out)
