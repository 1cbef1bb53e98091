r"""PyTorch's batch normalisation: ``torch.nn.BatchNorm1d`` and ``BatchNorm2d``, train and eval.

One run of a :class:`~trainspec.conformance.kinds.norm.BatchNormCase` builds the layer with
the case's $\epsilon$, momentum, $\gamma$, $\beta$ and initial running statistics, takes one
training step per batch (``module.train()``; the gradients of $\sum dy\cdot y$ by
``y.backward(dy)``), reads the running statistics after each step, then evaluates the test batch
(``module.eval()``).

Conventions mapped here, each in one small tested function:

* :func:`torch_momentum`: the spec's momentum is the weight of the OLD running value; PyTorch's
  ``momentum`` weights the NEW batch value, so PyTorch gets ``1 - momentum``;
* :func:`torch_input`: PyTorch is channels-first; ``BatchNorm1d`` takes ``(N, C)`` or
  ``(N, C, L)`` (an image's pixels flattened into ``L``), ``BatchNorm2d`` takes ``(N, C, H, W)``
  (``(N, C)`` features as ``(N, C, 1, 1)``); ``[channels_last]`` passes the images in the
  channels-last *memory format*, a separate CPU kernel.

``BatchNorm2d(momentum=None)`` is PyTorch's cumulative average (Ioffe & Szegedy's Algorithm 2),
a row of ``norm.batch.running`` only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.norm import (
    BatchNormCase,
    BatchNormRun,
    from_layout,
    to_layout,
)

__all__ = ["implementations", "run_torch_batchnorm", "torch_input", "torch_momentum"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")


def torch_momentum(old_value_weight: float) -> float:
    """PyTorch's ``momentum`` for the spec's momentum (the weight of the OLD value): ``1 - w``.

    PyTorch updates ``running = (1 - momentum) * running + momentum * batch``.
    """
    return 1.0 - old_value_weight


def torch_input(x: np.ndarray, layer: str) -> np.ndarray:
    """A channels-first array in the shape the layer takes (``"1d"`` or ``"2d"``); exact."""
    if layer == "1d":
        return x if x.ndim <= 3 else x.reshape(x.shape[0], x.shape[1], -1)
    if layer == "2d":
        return x.reshape(*x.shape, *([1] * (4 - x.ndim))) if x.ndim < 4 else x
    raise ValueError(f"layer={layer!r}: must be '1d' or '2d'")


def _device(device: str) -> torch.device:
    return torch.device("cuda" if device == "cuda" else "cpu")


def run_torch_batchnorm(
    case: BatchNormCase,
    dtype: str,
    device: str,
    *,
    layer: str = "2d",
    channels_last: bool = False,
    cumulative: bool = False,
    momentum: Any = torch_momentum,
) -> BatchNormRun:
    """Run the case through ``torch.nn.BatchNorm1d``/``2d`` (see the module docstring)."""
    tdtype, dev = _DTYPES[dtype], _device(device)
    cls = torch.nn.BatchNorm1d if layer == "1d" else torch.nn.BatchNorm2d
    bn = cls(
        case.channels,
        eps=case.eps,
        momentum=None if cumulative else momentum(case.momentum),
        dtype=tdtype,
        device=dev,
    )
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(case.gamma, dtype=tdtype))
        bn.bias.copy_(torch.tensor(case.beta, dtype=tdtype))
        bn.running_mean.copy_(torch.tensor(case.initial_mean, dtype=tdtype))
        bn.running_var.copy_(torch.tensor(case.initial_var, dtype=tdtype))

    def tensor(a: np.ndarray) -> torch.Tensor:
        cf = to_layout(a, case.layout, "channels_first")
        t = torch.tensor(np.ascontiguousarray(torch_input(cf, layer)), dtype=tdtype, device=dev)
        if channels_last and t.ndim == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def back(t: torch.Tensor, like: np.ndarray) -> np.ndarray:
        cf_shape = to_layout(like, case.layout, "channels_first").shape
        a = t.detach().cpu().numpy().astype(np.float64).reshape(cf_shape)
        return from_layout(a, case.layout, "channels_first")

    def vec(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64).copy()

    run = BatchNormRun([], [], [], [], [], [], np.zeros(0))
    bn.train()
    for x, dy in zip(case.batches, case.upstream, strict=True):
        xt = tensor(x).requires_grad_(True)
        bn.zero_grad(set_to_none=True)
        y = bn(xt)
        y.backward(tensor(dy))
        run.outputs.append(back(y, x))
        run.dx.append(back(xt.grad, x))
        run.dgamma.append(vec(bn.weight.grad))
        run.dbeta.append(vec(bn.bias.grad))
        run.running_mean.append(vec(bn.running_mean))
        run.running_var.append(vec(bn.running_var))
    bn.eval()
    with torch.no_grad():
        test = back(bn(tensor(case.test_batch)), case.test_batch)
    return BatchNormRun(
        run.outputs, run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, test
    )


def _impl(spec_id: str, name: str, **kw: Any) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_torch_batchnorm(case, dtype, device, **kw),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
        description=f"torch.nn.{name.split('[')[0]}: train() steps with autograd, then eval()",
    )


def implementations() -> list[Implementation]:
    """Every layer on every ID it exercises separately.

    ``BatchNorm1d`` and ``BatchNorm2d`` call the same kernel (``torch.batch_norm``) with another
    input rank, so ``BatchNorm1d`` is checked where the rank could matter (outputs, gradients);
    the channels-last memory format is a separate CPU kernel for the statistics, the
    normalisation and the backward pass; ``momentum=None`` changes only the running statistics.
    """
    out = [
        _impl("norm.batch.train", "BatchNorm1d", layer="1d"),
        _impl("norm.batch.grad", "BatchNorm1d", layer="1d"),
    ]
    for spec_id in IDS:
        out.append(_impl(spec_id, "BatchNorm2d", layer="2d"))
        if spec_id != "norm.batch.running":
            out.append(_impl(spec_id, "BatchNorm2d[channels_last]", layer="2d", channels_last=True))
    out.append(_impl("norm.batch.running", "BatchNorm2d(momentum=None)", cumulative=True))
    return out
