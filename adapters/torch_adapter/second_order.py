r"""PyTorch's second derivatives (``opt.second_order``): two code paths, two rows.

* ``autograd.functional``: ``torch.autograd.functional.hessian`` (reverse-over-reverse) and
  ``torch.autograd.functional.hvp`` (the double-backward trick);
* ``torch.func``: ``torch.func.hessian`` (``jacfwd(jacrev)``, forward-over-reverse) and
  ``torch.func.jvp`` of ``torch.func.grad`` (Pearlmutter's $R$-operator).

The gradient comes from ``torch.autograd.grad`` (first path) or ``torch.func.grad`` (second).
Each model's loss is written with torch operations exactly as the reference writes it
(:func:`trainspec.reference.second_order.loss`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.second_order import SecondOrderCase

__all__ = ["implementations", "loss_function", "run_autograd_functional", "run_torch_func"]


def loss_function(
    model: str, data: Mapping[str, torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> J(x)`` for the case's model, in torch operations."""
    if model == "quadratic":
        a, b = data["A"], data["b"]
        return lambda x: 0.5 * torch.sum(x * (a @ x)) + torch.sum(b * x)
    xs = data["X"]
    if model == "logistic_regression":
        y = data["y"]
        return lambda w: torch.mean(torch.log1p(torch.exp(xs @ w)) - y * (xs @ w))
    t = data["t"]
    return lambda w: 0.5 * torch.sum((torch.tanh(xs @ w) - t) ** 2)


def _tensors(case: SecondOrderCase, dtype: str, device: str):
    tdt, dev = _DTYPES[dtype], _device(device)
    data = {k: torch.tensor(v, dtype=tdt, device=dev) for k, v in case.data.items()}
    x = torch.tensor(case.x, dtype=tdt, device=dev)
    v = torch.tensor(case.v, dtype=tdt, device=dev)
    return loss_function(case.model, data), x, v


def _numpy(out: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: t.detach().cpu().numpy().astype(np.float64) for k, t in out.items()}


def run_autograd_functional(
    case: SecondOrderCase, dtype: str, device: str, *, swap_hvp_arguments: bool = False
) -> dict[str, np.ndarray]:
    """``autograd.grad``, ``autograd.functional.hessian`` and ``autograd.functional.hvp``.

    ``swap_hvp_arguments`` is a planted fault (the point and the direction exchanged)."""
    f, x, v = _tensors(case, dtype, device)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(xg), xg)
    hess = torch.autograd.functional.hessian(f, x)
    point, direction = (v, x) if swap_hvp_arguments else (x, v)
    _, hvp = torch.autograd.functional.hvp(f, point, direction)
    return _numpy({"grad": grad, "hessian": hess, "hvp": hvp})


def run_torch_func(case: SecondOrderCase, dtype: str, device: str) -> dict[str, np.ndarray]:
    """``torch.func.grad``, ``torch.func.hessian`` and ``torch.func.jvp(torch.func.grad(f))``."""
    f, x, v = _tensors(case, dtype, device)
    g = torch.func.grad(f)
    _, hvp = torch.func.jvp(g, (x,), (v,))
    return _numpy({"grad": g(x), "hessian": torch.func.hessian(f)(x), "hvp": hvp})


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "opt.second_order",
            "autograd.functional.hessian/hvp",
            run_autograd_functional,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
        Implementation(
            "opt.second_order",
            "func.hessian/jvp(grad)",
            run_torch_func,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
    ]
