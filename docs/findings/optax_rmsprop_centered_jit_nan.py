"""optax.rmsprop(centered=True) under jax.jit returns NaN where the centred variance is exactly 0.

Standalone (JAX, optax and NumPy only). With decay (rho) = 0, the state after one step holds
nu = g**2 and mu = g, so the centred variance nu - mu**2 is 0 in exact arithmetic; the update is
-lr * g / sqrt(0 + eps) (eps inside the root, optax's default). Eagerly optax returns that finite
step. Under jax.jit, XLA on the CPU contracts nu - mu * mu into a fused multiply-add that subtracts
the exact product from the rounded square, the remainder comes out negative for some g, and its
square root is NaN.

Run: python docs/findings/optax_rmsprop_centered_jit_nan.py
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

print("jax", jax.__version__, "optax", optax.__version__)
for dtype in (jnp.float32, jnp.float64):
    g = jnp.asarray(np.random.default_rng(0).standard_normal(64), dtype=dtype)
    params = jnp.zeros_like(g)
    opt = optax.rmsprop(1e-3, decay=0.0, eps=1e-8, centered=True)

    def step(params, state, grads, opt=opt):
        return opt.update(grads, state, params)

    state = opt.init(params)
    eager, _ = step(params, state, g)
    jitted, _ = jax.jit(step, static_argnames="opt")(params, state, g)
    expected = -1e-3 * np.asarray(g, np.float64) / np.sqrt(1e-8)
    print(
        f"{jnp.dtype(dtype).name}: eager NaNs {int(jnp.isnan(eager).sum())}, "
        f"jit NaNs {int(jnp.isnan(jitted).sum())} of {g.size}; "
        f"max |eager - exact| / |exact| = {np.max(np.abs(np.asarray(eager) - expected) / np.abs(expected)):.2e}"
    )
