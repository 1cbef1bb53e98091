r"""Keras 3 on its JAX and PyTorch backends: the backends ``keras-jax`` and ``keras-torch``.

Keras is multi-backend: with ``KERAS_BACKEND=jax`` or ``torch`` its optimizers run their
``update_step`` through ``keras.ops`` on that backend, and the torch backend replaces some
updates with its own code (``keras/src/backend/torch/optimizers/``: ``torch_sgd``,
``torch_adam``, ``torch_adamw``, ... built on ``torch._foreach_*``), so the same
``keras.optimizers.Adam`` is separate code per backend. Keras picks its backend once, at import:
each of these adapters runs in its own process (its own tox environment) with ``KERAS_BACKEND``
set, and refuses to load on another backend.

Both reuse the TensorFlow adapter's optimizer rows and conventions unchanged
(:mod:`trainspec.adapters.keras_adapter` and its ``optimizers`` module use only
``keras.Variable``, ``keras.ops`` and ``keras.device``): SGD and every adaptive optimizer, each
flag that changes the formula its own row. Only optimizers are declared: the other families of
the TensorFlow adapter (layers, losses, gradients) call TensorFlow directly.

On JAX, float64 needs ``jax_enable_x64`` (without it JAX stores float64 variables as float32),
which the ``keras-jax`` adapter turns on when it is imported.
"""

from __future__ import annotations

import os

from trainspec.adapters.devices import (
    jax_devices,
    jax_full_precision,
    torch_devices,
    torch_full_precision,
)
from trainspec.conformance.adapter import Adapter, Implementation

__all__ = ["KerasJaxAdapter", "KerasTorchAdapter"]


def _keras_adapter_class() -> type[Adapter]:
    from trainspec.adapters.keras_adapter import KerasAdapter

    return KerasAdapter


class _KerasOnBackend:
    """What the two backends share: Keras's optimizer rows, on the backend named."""

    name = ""
    keras_backend = ""

    def implementations(self) -> list[Implementation]:
        from trainspec.adapters.keras_adapter import optimizers

        return optimizers.sgd_implementations() + optimizers.implementations()


def _require_backend(backend: str) -> None:
    """Keras must not be imported yet on another backend; set ``KERAS_BACKEND`` if unset."""
    os.environ.setdefault("KERAS_BACKEND", backend)
    if os.environ["KERAS_BACKEND"] != backend:
        raise RuntimeError(
            f"the keras-{backend} adapter needs KERAS_BACKEND={backend}, "
            f"got KERAS_BACKEND={os.environ['KERAS_BACKEND']}"
        )


def KerasJaxAdapter() -> Adapter:
    """Keras's optimizers on the JAX backend (``KERAS_BACKEND=jax``)."""
    _require_backend("jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    base = _keras_adapter_class()

    class Adapter_(_KerasOnBackend, base):  # type: ignore[misc, valid-type]
        name = "keras-jax"
        keras_backend = "jax"

        def versions(self) -> dict[str, str]:
            import keras
            import numpy as np

            return {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__}

        def devices(self) -> list[str]:
            return jax_devices()

        def prepare_device(self, device: str) -> None:
            jax_full_precision()

    return Adapter_()


def KerasTorchAdapter() -> Adapter:
    """Keras's optimizers on the PyTorch backend (``KERAS_BACKEND=torch``)."""
    _require_backend("torch")
    import torch

    base = _keras_adapter_class()

    class Adapter_(_KerasOnBackend, base):  # type: ignore[misc, valid-type]
        name = "keras-torch"
        keras_backend = "torch"

        def versions(self) -> dict[str, str]:
            import keras
            import numpy as np

            return {"keras": keras.__version__, "torch": torch.__version__, "numpy": np.__version__}

        def devices(self) -> list[str]:
            return torch_devices()

        def prepare_device(self, device: str) -> None:
            torch_full_precision()

    return Adapter_()
