r"""PyTorch adapter: drives ``torch.optim`` through its public API.

Conventions mapped here (each in one small function, tested in ``tests/adapters/torch_adapter/``):

* the momentum buffer: PyTorch's ``state["momentum_buffer"]`` is the canonical trace $b$ of the
  spec (learning rate outside, $\theta \leftarrow \theta - \eta b$): :func:`momentum_buffer_from_trace`;
* the learning rate of step $t$ is written into ``param_groups[0]["lr"]`` before the step, as an
  LR scheduler does: :func:`set_learning_rate`;
* every code path of an optimizer (single-tensor loop, ``foreach``, ``fused``) is its own
  implementation (separate code, separate row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainspec.adapters.devices import torch_devices, torch_full_precision
from trainspec.conformance.adapter import Adapter, Implementation, family_implementations
from trainspec.conformance.kinds.optimizers import OptimizerCase

__all__ = ["TorchAdapter", "momentum_buffer_from_trace", "set_learning_rate"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# the code paths of torch.optim's optimizers: each is separate code, hence a separate row
CODE_PATHS: dict[str, dict[str, Any]] = {
    "single_tensor": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}


def momentum_buffer_from_trace(
    trace: np.ndarray, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """PyTorch's ``momentum_buffer`` is the spec's canonical trace ``b`` unchanged."""
    return torch.tensor(trace, dtype=dtype, device=device)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Use ``lr`` for the next step (what an ``lr_scheduler`` does)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def _device(device: str) -> torch.device:
    return torch.device("cuda" if device == "cuda" else "cpu")


def run_torch_optimizer(
    make: Callable[[list[torch.nn.Parameter], OptimizerCase], torch.optim.Optimizer],
    case: OptimizerCase,
    dtype: str,
    device: str,
    *,
    load: Callable[[torch.optim.Optimizer, dict[str, torch.nn.Parameter], OptimizerCase], None]
    | None = None,
    dtypes: dict[str, torch.dtype] | None = None,
    make_param: Callable[[torch.Tensor], torch.Tensor] = torch.nn.Parameter,
) -> dict[str, np.ndarray]:
    """Build the optimizer over the case's parameters, load its state, take every step, read back.

    ``load(optimizer, {name: parameter}, case)`` writes a canonical state into the optimizer
    (default: SGD's momentum buffer); ``dtypes`` maps dtype names to torch dtypes (default
    ``_DTYPES``); ``make_param`` turns a tensor into what the optimizer updates (default a leaf
    ``nn.Parameter``)."""
    tdtype, dev = (_DTYPES if dtypes is None else dtypes)[dtype], _device(device)
    names = list(case.params)
    params = [make_param(torch.tensor(case.params[k], dtype=tdtype, device=dev)) for k in names]
    opt = make(params, case)
    if case.state is not None and load is not None:
        load(opt, dict(zip(names, params, strict=True)), case)
    elif (
        case.state is not None
        and "trace" in case.state.buffers
        and case.hyperparameters.get("momentum", 0) != 0
    ):
        for k, p in zip(names, params, strict=True):
            opt.state[p]["momentum_buffer"] = momentum_buffer_from_trace(
                case.state.buffers["trace"][k], tdtype, dev
            )
    for lr, grads in zip(case.learning_rates, case.grads, strict=True):
        set_learning_rate(opt, lr)
        for k, p in zip(names, params, strict=True):
            p.grad = torch.tensor(grads[k], dtype=tdtype, device=dev)
        opt.step()
    return {k: p.detach().cpu().double().numpy() for k, p in zip(names, params, strict=True)}


class TorchAdapter(Adapter):
    """``torch.optim`` on CPU and, where present, CUDA."""

    name = "torch"

    def versions(self) -> dict[str, str]:
        return {
            "torch": torch.__version__,
            "cuda": str(torch.version.cuda),
            "numpy": np.__version__,
        }

    def devices(self) -> list[str]:
        return torch_devices()

    def prepare_device(self, device: str) -> None:
        torch_full_precision()

    def repro_call(self, implementation: Implementation, dtype: str, device: str, case: Any) -> Any:
        """The torch optimizers' call as code for ``trainspec repro`` (:mod:`.repro`)."""
        from trainspec.adapters.torch_adapter.repro import repro_call

        return repro_call(implementation, dtype, device, case)

    def implementations(self) -> list[Implementation]:
        """SGD's rows, then those of every family module of this package."""
        from trainspec.adapters.torch_adapter.optimizers import sgd_implementations

        return sgd_implementations() + family_implementations(__name__)
