r"""PyTorch's autograd on a small MLP (``train.backprop``); early stopping is not offered.

The MLP is written with PyTorch's own layer function ``torch.nn.functional.linear`` (its weight
layout ``(out_features, in_features)`` is the reference's, so no conversion is needed), the
activations ``torch.tanh``, ``torch.sigmoid``, ``torch.relu`` and the losses
``functional.mse_loss`` (``reduction="mean"``, for ``mse``) and ``0.5 * mse_loss(reduction="sum")``
(for ``half_sse``). The gradients come from ``torch.autograd.grad``.

PyTorch offers no early-stopping helper (``train.early_stopping``: not offered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.training.backprop import BackpropCase

__all__ = ["ACTIVATIONS", "implementations", "mlp_loss", "run_backprop"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "identity": lambda z: z,
}


def mlp_loss(
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    activations: tuple[str, ...],
    loss: str,
    act: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = ACTIVATIONS,
) -> torch.Tensor:
    """The case's MLP and loss, written with ``torch.nn.functional``."""
    h = x
    for k, a in enumerate(activations, start=1):
        h = act[a](F.linear(h, params[f"W{k}"], params[f"b{k}"]))
    if loss == "mse":
        return F.mse_loss(h, t)
    return 0.5 * F.mse_loss(h, t, reduction="sum")


def run_backprop(
    case: BackpropCase,
    dtype: str,
    device: str,
    act: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = ACTIVATIONS,
) -> dict[str, np.ndarray]:
    """``torch.autograd.grad`` of the loss with respect to every weight and bias."""
    tdt, dev = _DTYPES[dtype], _device(device)
    params = {
        k: torch.tensor(v, dtype=tdt, device=dev, requires_grad=True)
        for k, v in case.params.items()
    }
    x = torch.tensor(case.x, dtype=tdt, device=dev)
    t = torch.tensor(case.t, dtype=tdt, device=dev)
    value = mlp_loss(params, x, t, case.activations, case.loss, act)
    grads = torch.autograd.grad(value, list(params.values()))
    return {
        k: g.detach().cpu().numpy().astype(np.float64) for k, g in zip(params, grads, strict=True)
    }


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "train.backprop",
            "autograd.grad(functional.linear, mse_loss)",
            run_backprop,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        )
    ]
