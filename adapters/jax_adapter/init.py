r"""JAX's initialisers (``jax.nn.initializers``), flax layer biases, and the variance rule in flax.

Conventions mapped here (each in one small, tested function):

* weight layout: JAX and flax store a dense kernel as ``(in, out)`` and a convolution kernel as
  ``(*k, in, out)`` (``in_axis=-2``, ``out_axis=-1``): :func:`jax_kernel_shape`;
* the convolution input is channels-last ``(1, *k, in)``: :func:`jax_input`;
* randomness: ``case.draws`` keys split from ``jax.random.key(case.seed)``, one kernel per key
  (``jax.vmap`` over the keys): :func:`draw_keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance import Implementation, InitCase, InitResult
from trainspec.reference.init import Layer

__all__ = [
    "RULE_INITIALIZERS",
    "draw_keys",
    "implementations",
    "jax_input",
    "jax_kernel_shape",
]

Init = Callable[..., Any]

#: the ``jax.nn.initializers`` factory of each rule (flax.linen.initializers re-exports them)
RULE_INITIALIZERS: dict[str, tuple[str, Callable[[], Init]]] = {
    "init.glorot_uniform": ("glorot_uniform", jax.nn.initializers.glorot_uniform),
    "init.glorot_normal": ("glorot_normal", jax.nn.initializers.glorot_normal),
    "init.he_normal": ("he_normal", jax.nn.initializers.he_normal),
    "init.he_uniform": ("he_uniform", jax.nn.initializers.he_uniform),
    "init.lecun_normal": ("lecun_normal", jax.nn.initializers.lecun_normal),
    "init.lecun_uniform": ("lecun_uniform", jax.nn.initializers.lecun_uniform),
}


def jax_kernel_shape(layer: Layer) -> tuple[int, ...]:
    """``(in, out)`` for a dense layer, ``(*k, in, out)`` for a convolution (JAX's layout)."""
    return (*layer.kernel_size, layer.in_features, layer.out_features)


def jax_input(x: np.ndarray, dtype: str) -> jnp.ndarray:
    """The logical input ``(in, *k)`` as a channels-last batch of one: ``(1, *k, in)``."""
    return jnp.asarray(np.moveaxis(np.asarray(x), 0, -1)[None, ...], dtype=_DTYPES[dtype])


def draw_keys(seed: int, draws: int) -> jnp.ndarray:
    """``draws`` independent keys from the example's seed."""
    return jax.random.split(jax.random.key(seed), draws)


def sample(init: Init, shape: tuple[int, ...], case: Any, dtype: str, device: str) -> np.ndarray:
    """``case.draws`` arrays of ``shape`` from ``init(key, shape, dtype)``, one per key."""
    jdt = _DTYPES[dtype]
    with jax.default_device(_jax_device(device)):
        keys = draw_keys(case.seed, case.draws)
        # eager, not jitted: JAX compiles each primitive once per shape, and the rules share
        # their primitives, so a shape compiled for one rule is reused by the others
        out = jax.vmap(lambda k: init(k, shape, jdt))(keys)
        return np.asarray(out, dtype=np.float64)


def _kernels(init: Init, case: Any, dtype: str, device: str) -> np.ndarray:
    return sample(init, jax_kernel_shape(case.layer), case, dtype, device)


def make_layer(layer: Layer, dtype: str, **kwargs: Any) -> fnn.Module:
    """``flax.linen.Dense`` for a dense layer, ``flax.linen.Conv`` (valid padding) otherwise."""
    jdt = _DTYPES[dtype]
    if not layer.kernel_size:
        return fnn.Dense(layer.out_features, dtype=jdt, param_dtype=jdt, **kwargs)
    return fnn.Conv(
        layer.out_features, layer.kernel_size, padding="VALID", dtype=jdt, param_dtype=jdt, **kwargs
    )


def _default_bias_run(case: Any, dtype: str, device: str) -> np.ndarray:
    """``case.draws`` biases from the layer's own ``bias_init`` (what ``Module.init`` calls)."""
    module = make_layer(case.layer, dtype)
    return sample(module.bias_init, (case.layer.out_features,), case, dtype, device)


def layer_output(case: Any, dtype: str, device: str, kernel_init: Init | None = None) -> np.ndarray:
    """A flax layer without bias, ``kernel_init`` = the rule's initialiser, applied to ``x``."""
    init = kernel_init if kernel_init is not None else RULE_INITIALIZERS[case.choice][1]()
    module = make_layer(case.layer, dtype, use_bias=False, kernel_init=init)
    with jax.default_device(_jax_device(device)):
        x = jax_input(case.x, dtype)
        z = module.apply(module.init(jax.random.key(case.seed), x), x)
        return np.asarray(z, dtype=np.float64).reshape(-1)


def _rule_run(make: Callable[[], Init]) -> Callable[[InitCase, str, str], InitResult]:
    return lambda case, dtype, device: _kernels(make(), case, dtype, device)


def implementations() -> list[Implementation[InitCase, InitResult]]:
    both = ("cpu", "cuda")
    dts = tuple(_DTYPES)
    out: list[Implementation[InitCase, InitResult]] = [
        Implementation(
            rule,
            f"jax.nn.initializers.{name}",
            _rule_run(make),
            dts,
            both,
            f"jax.nn.initializers.{name}() on (*k, in, out) kernels",
            {"layout": "channels_last"},
        )
        for rule, (name, make) in RULE_INITIALIZERS.items()
    ]
    out += [
        Implementation(
            "init.fans",
            "jax.nn.initializers.variance_scaling(1, mode, 'uniform')",
            lambda case, dtype, device: _kernels(
                jax.nn.initializers.variance_scaling(1.0, case.choice, "uniform"),
                case,
                dtype,
                device,
            ),
            dts,
            both,
            "bound sqrt(3/fan_mode) on (*k, in, out) kernels: the fan JAX computes",
            {"layout": "channels_last"},
        ),
        Implementation(
            "init.bias",
            "flax.linen.Dense/Conv default bias_init",
            _default_bias_run,
            dts,
            both,
            "the layer's bias_init (zeros by default), the function Module.init calls for the bias",
        ),
        Implementation(
            "init.bias",
            "jax.nn.initializers.zeros",
            lambda case, dtype, device: sample(
                jax.nn.initializers.zeros, (case.layer.out_features,), case, dtype, device
            ),
            dts,
            both,
            "zeros(key, shape)",
        ),
        Implementation(
            "init.variance_rule",
            "flax.linen.Dense/Conv(use_bias=False) + jax.nn.initializers",
            layer_output,
            dts,
            both,
            "outputs of a flax layer whose kernel_init is the rule's initialiser",
        ),
    ]
    return out
