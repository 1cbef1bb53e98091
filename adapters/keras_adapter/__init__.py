r"""Keras 3 adapter (TensorFlow backend): drives ``keras.optimizers`` through its public API.

Conventions mapped here (each in one small function, tested in ``tests/adapters/keras_adapter/``):

* the momentum buffer: Keras's ``SGD`` keeps the velocity $m$ with the learning rate inside and
  the sign folded in ($m \leftarrow \mu m - \eta g$, $\theta \leftarrow \theta + m$). The spec's
  canonical trace $b$ (learning rate outside) maps to $m = -\eta b$:
  :func:`velocity_from_trace`;
* the learning rate is a float32 variable; the learning rate of step $t$ is assigned to it before
  the step: :func:`set_learning_rate`. (The kit draws learning rates that float32 represents
  exactly, so the variable's precision adds no rounding.)
* the step count lives in ``optimizer.iterations``;
* the optimizer rows run in float32, float64 and bfloat16 (:data:`OPTIMIZER_DTYPES`): Keras builds
  every slot in the variable's dtype and casts the hyperparameters to it. NumPy has no bfloat16,
  so every array reaches Keras through :func:`to_dtype` (one rounding to nearest, ties to even,
  from float64; ``ml_dtypes``, a dependency of Keras, provides NumPy's bfloat16).

The backend must be TensorFlow: the adapter sets ``KERAS_BACKEND=tensorflow`` if Keras is not yet
imported, and refuses to load on any other backend. The optimizer rows (this module and
``optimizers``) use only ``keras`` (``keras.Variable``, ``keras.ops``, ``keras.device``), so
that :mod:`trainspec.adapters.keras_backends` runs them on the JAX and PyTorch backends too;
TensorFlow is imported only where the TensorFlow backend is asked about.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from trainspec.conformance.adapter import Adapter, Implementation, family_implementations
from trainspec.conformance.kinds.optimizers import OptimizerCase

__all__ = [
    "OPTIMIZER_DTYPES",
    "KerasAdapter",
    "set_learning_rate",
    "to_dtype",
    "velocity_from_trace",
]

_DTYPES = ("float32", "float64")
#: the dtypes of the optimizer rows (Keras optimizers update bfloat16 variables in bfloat16)
OPTIMIZER_DTYPES = ("float32", "float64", "bfloat16")


def to_dtype(x: Any, dtype: str) -> np.ndarray:
    r"""``x`` as a NumPy array of ``dtype`` (``float32``, ``float64`` or ``bfloat16``), each element
    $\operatorname{round}(x)$ to nearest, ties to even, from its float64 value.

    NumPy names no ``bfloat16``: it is ``ml_dtypes.bfloat16`` (whose cast from float64 rounds once),
    which every Keras backend converts to its own bfloat16 unchanged."""
    if dtype not in OPTIMIZER_DTYPES:
        raise ValueError(f"dtype must be one of {OPTIMIZER_DTYPES}, got {dtype!r}")
    arr = np.asarray(x, dtype=np.float64)
    if dtype == "bfloat16":
        import ml_dtypes

        return arr.astype(ml_dtypes.bfloat16)
    return arr.astype(dtype)


def velocity_from_trace(trace: np.ndarray, learning_rate: float) -> np.ndarray:
    r"""Keras's ``SGD`` velocity $m$ for the canonical trace $b$: $m = -\eta b$."""
    return -learning_rate * np.asarray(trace, dtype=np.float64)


def set_learning_rate(optimizer: keras.optimizers.Optimizer, lr: float) -> None:
    """Use ``lr`` for the next step (assigns the optimizer's learning-rate variable)."""
    optimizer.learning_rate = lr


def _check_backend(expected: str = "tensorflow") -> None:
    if keras.backend.backend() != expected:
        raise RuntimeError(
            f"the keras adapter needs KERAS_BACKEND={expected}, but Keras runs on {keras.backend.backend()!r}"
        )


def _device_scope(device: str) -> Any:
    """Keras's device scope for ``device`` (``cpu`` or ``cuda``), on any backend."""
    return keras.device("cpu:0" if device == "cpu" else "gpu:0")


def run_keras_optimizer(
    make: Callable[[OptimizerCase], keras.optimizers.Optimizer],
    case: OptimizerCase,
    dtype: str,
    device: str,
    *,
    load: Callable[[keras.optimizers.Optimizer, OptimizerCase, list[str], str], None] | None = None,
    compile_step: Callable[[Callable[[list[Any]], Any]], Callable[[list[Any]], Any]] | None = None,
) -> dict[str, np.ndarray]:
    """Build the optimizer over the case's variables, load its state, take every step, read back.

    ``load(optimizer, case, names, dtype)`` writes the canonical state's buffers into the built
    optimizer's slots (default: SGD's momentum); the step count is always loaded here.
    ``compile_step(step)``, if given, wraps the step ``step(grads)`` (which calls
    ``optimizer.apply_gradients``, as Keras's ``train_step`` does) before the first step, e.g. in
    ``tf.function``; every step of the case runs the wrapped one."""
    names = list(case.params)
    with _device_scope(device):
        variables = [
            keras.Variable(to_dtype(case.params[k], dtype), dtype=dtype, name=k) for k in names
        ]
        opt = make(case)
        opt.build(variables)
        if case.state is not None:
            opt.iterations.assign(case.state.count)
        if case.state is not None and load is not None:
            load(opt, case, names, dtype)
        elif case.state is not None:
            if "trace" in case.state.buffers and len(getattr(opt, "momentums", [])) > 0:
                for k, m in zip(names, opt.momentums, strict=True):
                    m.assign(
                        to_dtype(
                            velocity_from_trace(
                                case.state.buffers["trace"][k], case.learning_rates[0]
                            ),
                            dtype,
                        )
                    )

        def step(grads: list[Any]) -> Any:
            return opt.apply_gradients(zip(grads, variables, strict=True))

        apply = step if compile_step is None else compile_step(step)
        for lr, grads in zip(case.learning_rates, case.grads, strict=True):
            set_learning_rate(opt, lr)
            apply(
                [keras.ops.convert_to_tensor(to_dtype(grads[k], dtype), dtype=dtype) for k in names]
            )
        return {
            k: np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)
            for k, v in zip(names, variables, strict=True)
        }


class KerasAdapter(Adapter):
    """``keras.optimizers`` on the TensorFlow backend."""

    name = "tensorflow"
    #: the Keras backend this adapter runs on (``KERAS_BACKEND``)
    keras_backend = "tensorflow"

    def __init__(self) -> None:
        _check_backend(self.keras_backend)

    def versions(self) -> dict[str, str]:
        import tensorflow as tf

        return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        import tensorflow as tf

        return ["cpu", *(["cuda"] if tf.config.list_physical_devices("GPU") else [])]

    def prepare_device(self, device: str) -> None:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)

    def repro_call(self, implementation: Implementation, dtype: str, device: str, case: Any) -> Any:
        """The calls of the rows with findings as code for ``trainspec repro`` (:mod:`.repro`)."""
        from trainspec.adapters.keras_adapter.repro import repro_call

        return repro_call(implementation, dtype, device, case)

    def implementations(self) -> list[Implementation]:
        """SGD's rows, then those of every family module of this package."""
        from trainspec.adapters.keras_adapter.optimizers import sgd_implementations

        return sgd_implementations() + family_implementations(__name__)
