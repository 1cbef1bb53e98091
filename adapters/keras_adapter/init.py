r"""Keras's initialisers (``keras.initializers``), layer biases, and the variance rule through a layer.

Conventions mapped here (each in one small, tested function):

* weight layout: Keras stores a dense kernel as ``(in, out)`` and a convolution kernel as
  ``(*k, in, out)``: :func:`keras_kernel_shape`;
* the convolution input is channels-last ``(1, *k, in)``: :func:`keras_input`;
* seeding: an initialiser seeded with an integer returns the *same* values on every call, so each
  example seeds a ``keras.random.SeedGenerator`` (fresh values per call, reproducible per
  example): :func:`seeded`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from trainspec.adapters.keras_adapter import _DTYPES
from trainspec.conformance import Implementation, InitCase, InitResult
from trainspec.reference.init import Layer

__all__ = [
    "RULE_INITIALIZERS",
    "implementations",
    "keras_input",
    "keras_kernel_shape",
    "seeded",
]

#: the ``keras.initializers`` class of each rule
RULE_INITIALIZERS: dict[str, type[keras.initializers.Initializer]] = {
    "init.glorot_uniform": keras.initializers.GlorotUniform,
    "init.glorot_normal": keras.initializers.GlorotNormal,
    "init.he_normal": keras.initializers.HeNormal,
    "init.he_uniform": keras.initializers.HeUniform,
    "init.lecun_normal": keras.initializers.LecunNormal,
    "init.lecun_uniform": keras.initializers.LecunUniform,
}


def keras_kernel_shape(layer: Layer) -> tuple[int, ...]:
    """``(in, out)`` for a dense layer, ``(*k, in, out)`` for a convolution (Keras's layout)."""
    return (*layer.kernel_size, layer.in_features, layer.out_features)


def keras_input(x: np.ndarray, dtype: str) -> np.ndarray:
    """The logical input ``(in, *k)`` as a channels-last batch of one: ``(1, *k, in)``."""
    return np.moveaxis(np.asarray(x), 0, -1)[None, ...].astype(dtype)


def seeded(cls: type[keras.initializers.Initializer], seed: int, **kwargs: Any) -> Any:
    """``cls`` seeded by a ``SeedGenerator``: every call draws new values, reproducibly."""
    return cls(seed=keras.random.SeedGenerator(seed), **kwargs)


def sample_kernels(init: Any, case: Any, dtype: str) -> np.ndarray:
    """``case.draws`` kernels of the case's layer from the initialiser ``init``."""
    shape = keras_kernel_shape(case.layer)
    return np.stack(
        [
            keras.ops.convert_to_numpy(init(shape, dtype=dtype)).astype(np.float64)
            for _ in range(case.draws)
        ]
    )


def make_layer(layer: Layer, dtype: str, **kwargs: Any) -> keras.layers.Layer:
    """``Dense`` for a dense layer, ``Conv1D/2D/3D`` (valid padding) for a convolution, built."""
    if not layer.kernel_size:
        module = keras.layers.Dense(layer.out_features, dtype=dtype, **kwargs)
        module.build((1, layer.in_features))
        return module
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}
    module = conv[len(layer.kernel_size)](
        layer.out_features, layer.kernel_size, padding="valid", dtype=dtype, **kwargs
    )
    module.build((1, *layer.kernel_size, layer.in_features))
    return module


def _default_bias_run(case: Any, dtype: str, device: str) -> np.ndarray:
    """The bias of a freshly built ``Dense``/``ConvND``, then ``draws - 1`` more from the layer's own
    ``bias_initializer``."""
    module = make_layer(case.layer, dtype)
    rows = [keras.ops.convert_to_numpy(module.bias)]
    rows += [
        keras.ops.convert_to_numpy(module.bias_initializer(tuple(module.bias.shape), dtype=dtype))
        for _ in range(case.draws - 1)
    ]
    return np.stack(rows).astype(np.float64)


def _zeros_run(case: Any, dtype: str, device: str) -> np.ndarray:
    init = keras.initializers.Zeros()
    shape = (case.layer.out_features,)
    return np.stack(
        [keras.ops.convert_to_numpy(init(shape, dtype=dtype)) for _ in range(case.draws)]
    ).astype(np.float64)


def layer_output(case: Any, dtype: str, device: str, initializer: Any = None) -> np.ndarray:
    """A layer without bias, initialised by ``case.choice``'s Keras initialiser, applied to ``x``."""
    init = (
        initializer
        if initializer is not None
        else seeded(RULE_INITIALIZERS[case.choice], case.seed)
    )
    module = make_layer(case.layer, dtype, use_bias=False, kernel_initializer=init)
    z = module(keras_input(case.x, dtype))
    return keras.ops.convert_to_numpy(z).astype(np.float64).reshape(-1)


def _rule_run(cls: type[Any]) -> Callable[[InitCase, str, str], InitResult]:
    return lambda case, dtype, device: sample_kernels(seeded(cls, case.seed), case, dtype)


def implementations() -> list[Implementation[InitCase, InitResult]]:
    cpu = ("cpu",)
    out: list[Implementation[InitCase, InitResult]] = [
        Implementation(
            rule,
            f"keras.initializers.{cls.__name__}",
            _rule_run(cls),
            _DTYPES,
            cpu,
            f"keras.initializers.{cls.__name__} on (*k, in, out) kernels",
            {"layout": "channels_last"},
        )
        for rule, cls in RULE_INITIALIZERS.items()
    ]
    out += [
        Implementation(
            "init.fans",
            "keras.initializers.VarianceScaling(mode=..., distribution='uniform')",
            lambda case, dtype, device: sample_kernels(
                seeded(
                    keras.initializers.VarianceScaling,
                    case.seed,
                    scale=1.0,
                    mode=case.choice,
                    distribution="uniform",
                ),
                case,
                dtype,
            ),
            _DTYPES,
            cpu,
            "bound sqrt(3/fan_mode) on (*k, in, out) kernels: the fan Keras computes",
            {"layout": "channels_last"},
        ),
        Implementation(
            "init.bias",
            "keras.layers.Dense/ConvND default bias",
            _default_bias_run,
            _DTYPES,
            cpu,
            "the bias of a built layer (bias_initializer='zeros' by default)",
        ),
        Implementation(
            "init.bias", "keras.initializers.Zeros", _zeros_run, _DTYPES, cpu, "Zeros()(shape)"
        ),
        Implementation(
            "init.variance_rule",
            "keras.layers.Dense/ConvND(use_bias=False) + keras.initializers",
            layer_output,
            _DTYPES,
            cpu,
            "outputs of a layer whose kernel_initializer is the rule's Keras initialiser",
        ),
    ]
    return out
