r"""A trainspec adapter for PaddlePaddle, written only through the kit's public adapter API
(``trainspec.conformance``) and registered as the ``paddle`` backend of the
``trainspec.adapters`` entry-point group.

One module per family (``optimizers``, ``schedules``, ``clipping``, ``norm``, ``dropout``,
``init``, ``activations``), each defining ``implementations()``; every convention Paddle splits
from the spec's is one small function of its module, tested in ``tests/``.
"""

from __future__ import annotations

import numpy as np
import paddle

from trainspec.conformance import Adapter, Implementation, family_implementations

__all__ = ["DTYPES", "PaddleAdapter", "to_numpy"]

#: the dtypes of the rows: Paddle's CPU kernels of the optimizers, norms and activations are
#: registered for float32 and float64 (bfloat16/float16 only for a few of them)
DTYPES: tuple[str, ...] = ("float32", "float64")


def to_numpy(t: paddle.Tensor) -> np.ndarray:
    """A Paddle tensor as a float64 NumPy array (exact: float64 holds every float32 value)."""
    return np.asarray(t.numpy(), dtype=np.float64)


class PaddleAdapter(Adapter):
    """PaddlePaddle in dynamic-graph (eager) mode on the CPU."""

    name = "paddle"

    def __init__(self) -> None:
        paddle.disable_static()

    def versions(self) -> dict[str, str]:
        return {"paddlepaddle": paddle.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        return ["cpu"]

    def prepare_device(self, device: str) -> None:
        if device != "cpu":
            raise ValueError(f"device={device!r}: this adapter runs Paddle on 'cpu' only")
        paddle.set_device("cpu")

    def implementations(self) -> list[Implementation]:
        return family_implementations(__name__)
