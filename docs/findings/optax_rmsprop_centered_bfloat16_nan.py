"""optax's rmsprop(centered=True) in bfloat16 steps by NaN where the centred variance is small.

``optax.scale_by_stddev`` (the centred part of ``optax.rmsprop(centered=True)``) evaluates
``g * rsqrt(nu - mu**2 + eps)`` in the parameters' dtype and does not clamp the centred variance
``nu - mu**2`` at 0. In bfloat16 (8 significant bits) the running averages carry rounding errors
of several units of 2^-8 of ``nu``; where the exact centred variance is smaller than that, the
rounded difference is negative and the update NaN, while the exact update is finite. Example:
decay = 0.0625, eps = 1e-8, two steps of the same gradient g = 0.640625 from the initial state:
the exact variance (1 - rho^2) rho^2 g^2 = 1.6e-3 is 4 % of nu. (Keras 3's RMSprop(centered=True)
has the same mechanism: docs/findings/keras_rmsprop_centered_bfloat16_nan.py.)

Run: python optax_rmsprop_centered_bfloat16_nan.py  (jax, optax, NumPy)
"""

import jax.numpy as jnp
import numpy as np
import optax

theta, g, lr, rho, eps = 0.640625, 0.640625, 0.00099945068359375, 0.0625, 1.0011717677116394e-08
params = {"w": jnp.asarray([theta], dtype=jnp.bfloat16)}
opt = optax.rmsprop(lr, decay=rho, eps=eps, centered=True)
state = opt.init(params)
for _ in range(2):
    grads = {"w": jnp.asarray([g], dtype=jnp.bfloat16)}
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)
out = float(np.asarray(params["w"], dtype=np.float64)[0])

s = m = 0.0  # the exact running averages (float64)
exact = theta
for _ in range(2):
    s, m = rho * s + (1 - rho) * g * g, rho * m + (1 - rho) * g
    exact -= lr * g / np.sqrt(s - m * m + eps)
print(f"bfloat16 rmsprop(centered=True) gives {out!r}")
print(f"exact: centred variance {s - m * m:.3g} (nu {s:.3g}), parameter {float(exact)!r}")
assert np.isfinite(exact) and np.isnan(out)
