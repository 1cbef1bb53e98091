r"""PyTorch's activations (``act.*``): ``torch.nn.functional``, ``torch.*`` and the layers that
carry parameters, through their public API; derivatives by ``torch.autograd.grad``.

Conventions mapped here (each one small function, tested in
``tests/adapters/torch_adapter/test_activations.py``):

* the spec's hyperparameter names to PyTorch's arguments (``alpha`` is ``negative_slope`` of the
  leaky ReLU and ``alpha`` of ELU; RReLU's ``lower``/``upper`` are the same):
  :func:`torch_kwargs`;
* PReLU's learned slope is the layer's ``weight`` of shape ``(1,)`` (one shared slope):
  :func:`prelu_weight`; its gradient is read back as the cotangent of ``alpha``.

RReLU in training mode seeds ``torch.manual_seed`` from the example's seed and runs on
:meth:`~trainspec.conformance.kinds.activations.ActivationCase.training_input`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.activations import ActivationCase

__all__ = [
    "implementations",
    "prelu_weight",
    "run_activation",
    "torch_kwargs",
]

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16}
_ARGUMENT = {
    "act.leaky_relu": {"alpha": "negative_slope"},
    "act.elu": {"alpha": "alpha"},
    "act.rrelu": {"lower": "lower", "upper": "upper"},
}

# fn(x, hyperparameters, params) -> y; fn may add leaf tensors to ``params`` (their cotangents
# are returned by name)
Fn = Callable[[torch.Tensor, Mapping[str, float], dict[str, torch.Tensor]], torch.Tensor]


def torch_kwargs(spec_id: str, hyperparameters: Mapping[str, float]) -> dict[str, float]:
    """The spec's hyperparameters as PyTorch's keyword arguments (``alpha`` -> ``negative_slope``
    for the leaky ReLU)."""
    names = _ARGUMENT.get(spec_id, {})
    return {names[k]: float(v) for k, v in hyperparameters.items() if k in names}


def prelu_weight(alpha: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """PReLU's ``weight``: the one shared slope, shape ``(1,)``, a leaf that requires grad."""
    return torch.tensor([alpha], dtype=dtype, device=device, requires_grad=True)


def _device(device: str) -> torch.device:
    return torch.device("cuda" if device == "cuda" else "cpu")


def run_activation(
    fn: Fn, case: ActivationCase, dtype: str, device: str, *, training: bool = False
) -> dict[str, np.ndarray]:
    """Run ``fn`` on the case's input; for ``derivatives`` return the vector-Jacobian product
    with the case's cotangent (``torch.autograd.grad``), for every leaf ``fn`` registered too."""
    tdtype, dev = _DTYPES[dtype], _device(device)
    z = case.training_input() if training else case.z
    if training:
        torch.manual_seed(case.seed)
    x = torch.tensor(z, dtype=tdtype, device=dev, requires_grad=case.check == "derivatives")
    params: dict[str, torch.Tensor] = {}
    y = fn(x, case.hyperparameters, params)
    if case.check == "values":
        return {"y": y.detach().cpu().numpy().astype(np.float64)}
    g = np.ones(z.shape) if case.cotangent is None or training else case.cotangent
    grads = torch.autograd.grad(y, [x, *params.values()], torch.tensor(g, dtype=tdtype, device=dev))
    out = {"z": grads[0].detach().cpu().numpy().astype(np.float64)}
    for name, gr in zip(params, grads[1:], strict=True):
        out[name] = gr.detach().cpu().numpy().astype(np.float64).reshape(())
    return out


def _f(spec_id: str, op: Callable[..., torch.Tensor]) -> Fn:
    return lambda x, hp, params: op(x, **torch_kwargs(spec_id, hp))


def _layer(make: Callable[..., torch.nn.Module], spec_id: str, *, eval_mode: bool = False) -> Fn:
    def fn(
        x: torch.Tensor, hp: Mapping[str, float], params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        layer = make(**torch_kwargs(spec_id, hp)).to(device=x.device, dtype=x.dtype)
        layer.train(not eval_mode)
        return layer(x)

    return fn


def _prelu_functional(
    x: torch.Tensor, hp: Mapping[str, float], params: dict[str, torch.Tensor]
) -> torch.Tensor:
    params["alpha"] = prelu_weight(hp["alpha"], x.dtype, x.device)
    return F.prelu(x, params["alpha"])


def _prelu_layer(
    x: torch.Tensor, hp: Mapping[str, float], params: dict[str, torch.Tensor]
) -> torch.Tensor:
    layer = torch.nn.PReLU().to(device=x.device, dtype=x.dtype)
    with torch.no_grad():
        layer.weight.copy_(prelu_weight(hp["alpha"], x.dtype, x.device))
    params["alpha"] = layer.weight
    return layer(x)


def _heaviside(at_zero: float) -> Fn:
    return lambda x, hp, params: torch.heaviside(
        x, torch.tensor(at_zero, dtype=x.dtype, device=x.device)
    )


def _impl(
    spec_id: str,
    name: str,
    fn: Fn,
    *,
    training: bool = False,
    description: str = "",
    dtypes: tuple[str, ...] = tuple(_DTYPES),
    **options: Any,
) -> Implementation:
    if training:
        options["mode"] = "training"
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_activation(fn, case, dtype, device, training=training),
        dtypes=dtypes,
        devices=("cpu", "cuda"),
        description=description,
        options=options,
    )


def implementations() -> list[Implementation]:
    no_grad = "torch.heaviside has no derivative (autograd: not implemented); values only"
    return [
        _impl(
            "act.step",
            "torch.heaviside(values=1)",
            _heaviside(1.0),
            derivatives=False,
            description=no_grad,
        ),
        _impl(
            "act.step",
            "torch.heaviside(values=0)",
            _heaviside(0.0),
            derivatives=False,
            description=no_grad,
        ),
        _impl(
            "act.step",
            "torch.sign",
            lambda x, hp, params: torch.sign(x),
            description="torch.sign(nan) is 0, not NaN: variant nan_value=zero",
        ),
        _impl("act.sigmoid", "torch.sigmoid", lambda x, hp, params: torch.sigmoid(x)),
        _impl("act.sigmoid", "torch.nn.Sigmoid", _layer(torch.nn.Sigmoid, "act.sigmoid")),
        _impl("act.tanh", "torch.tanh", lambda x, hp, params: torch.tanh(x)),
        _impl("act.relu", "torch.nn.functional.relu", _f("act.relu", F.relu)),
        _impl("act.relu", "torch.nn.ReLU", _layer(torch.nn.ReLU, "act.relu")),
        _impl(
            "act.leaky_relu", "torch.nn.functional.leaky_relu", _f("act.leaky_relu", F.leaky_relu)
        ),
        _impl("act.leaky_relu", "torch.nn.LeakyReLU", _layer(torch.nn.LeakyReLU, "act.leaky_relu")),
        _impl("act.prelu", "torch.nn.functional.prelu", _prelu_functional),
        _impl("act.prelu", "torch.nn.PReLU", _prelu_layer),
        _impl(
            "act.rrelu",
            "torch.nn.functional.rrelu(training=False)",
            lambda x, hp, params: F.rrelu(x, training=False, **torch_kwargs("act.rrelu", hp)),
        ),
        _impl(
            "act.rrelu",
            "torch.nn.RReLU().eval()",
            _layer(torch.nn.RReLU, "act.rrelu", eval_mode=True),
        ),
        _impl(
            "act.rrelu",
            "torch.nn.functional.rrelu(training=True)",
            lambda x, hp, params: F.rrelu(x, training=True, **torch_kwargs("act.rrelu", hp)),
            training=True,
            dtypes=("float32", "float64"),  # rrelu_with_noise has no float16 kernel on CPU
        ),
        _impl("act.elu", "torch.nn.functional.elu", _f("act.elu", F.elu)),
        _impl("act.elu", "torch.nn.ELU", _layer(torch.nn.ELU, "act.elu")),
        _impl("act.selu", "torch.nn.functional.selu", _f("act.selu", F.selu)),
        _impl(
            "act.softmax",
            "torch.nn.functional.softmax(dim=-1)",
            lambda x, hp, params: F.softmax(x, dim=-1),
        ),
    ]
