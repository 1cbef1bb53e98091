r"""PyTorch's losses: ``torch.nn.functional.mse_loss``, ``cross_entropy`` and
``binary_cross_entropy_with_logits`` (default ``reduction="mean"``), value and autograd gradient.

PyTorch has no half sum of squared errors (``loss.half_sse``): not offered.
Labels for ``cross_entropy`` are class indices in ``int64`` (:func:`labels_tensor`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.losses import LossCase

#: the dtypes of these rows: float32, float64 and float16 (the kind's float16 draws keep
#: every exact result inside float16's range)
DTYPES: dict[str, torch.dtype] = {**_DTYPES, "float16": torch.float16}

__all__ = ["DTYPES", "implementations", "labels_tensor", "run_loss"]


def labels_tensor(labels: np.ndarray, device: torch.device) -> torch.Tensor:
    """Class indices as the ``int64`` tensor ``cross_entropy`` expects."""
    return torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)


def run_loss(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    case: LossCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """The loss of the case's outputs and its gradient with respect to them (autograd)."""
    tdt, dev = DTYPES[dtype], _device(device)
    y = torch.tensor(case.outputs, dtype=tdt, device=dev, requires_grad=True)
    if case.target_kind == "labels":
        t = labels_tensor(case.targets, dev)
    else:
        t = torch.tensor(case.targets, dtype=tdt, device=dev)
    value = loss(y, t)
    (grad,) = torch.autograd.grad(value, y)
    return {
        "value": np.asarray(value.detach().cpu().numpy(), dtype=np.float64),
        "grad": grad.cpu().numpy().astype(np.float64),
    }


def _impl(spec_id: str, name: str, loss: Callable[..., torch.Tensor]) -> Implementation:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_loss(loss, case, dtype, device),
        dtypes=tuple(DTYPES),
        devices=("cpu", "cuda"),
    )


def implementations() -> list[Implementation]:
    return [
        _impl("loss.mse", "functional.mse_loss", F.mse_loss),
        _impl("loss.softmax_ce", "functional.cross_entropy", F.cross_entropy),
        _impl(
            "loss.logistic",
            "functional.binary_cross_entropy_with_logits",
            F.binary_cross_entropy_with_logits,
        ),
    ]
