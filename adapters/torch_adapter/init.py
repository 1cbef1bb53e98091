r"""PyTorch's initialisers (``torch.nn.init``), layer biases, and the variance rule through a layer.

Conventions mapped here (each in one small, tested function):

* weight layout: PyTorch stores a dense kernel as ``(out, in)`` and a convolution kernel as
  ``(out, in, *k)``: :func:`torch_kernel_shape`;
* the rules as ``kaiming_*_`` arguments: He is ``nonlinearity='relu'`` (gain $\sqrt2$), LeCun is
  ``nonlinearity='linear'`` (gain 1; PyTorch has no LeCun initialiser by name), both with
  ``mode='fan_in'``: :func:`kaiming_arguments`;
* the convolution input is channels-first ``(1, in, *k)``: :func:`torch_input`.

Every draw takes a ``torch.Generator`` seeded from the example (the layers' own
``reset_parameters``, which take no generator, run under ``torch.random.fork_rng`` with the
global seed set from the example).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance import Implementation, InitCase, InitResult
from trainspec.reference.init import Layer

__all__ = [
    "RULE_FUNCTIONS",
    "implementations",
    "kaiming_arguments",
    "torch_input",
    "torch_kernel_shape",
]

InitFn = Callable[..., torch.Tensor]


def torch_kernel_shape(layer: Layer) -> tuple[int, ...]:
    """``(out, in)`` for a dense layer, ``(out, in, *k)`` for a convolution (PyTorch's layout)."""
    return (layer.out_features, layer.in_features, *layer.kernel_size)


def torch_input(x: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The logical input ``(in, *k)`` as a batch of one: ``(1, in)`` or ``(1, in, *k)``."""
    return torch.tensor(x[None, ...], dtype=dtype, device=device)


def kaiming_arguments(rule: str) -> dict[str, Any]:
    """``kaiming_*_`` arguments for He (gain sqrt(2)) and LeCun (gain 1) rules."""
    if rule in ("init.he_normal", "init.he_uniform"):
        return {"mode": "fan_in", "nonlinearity": "relu"}
    if rule in ("init.lecun_normal", "init.lecun_uniform"):
        return {"mode": "fan_in", "nonlinearity": "linear"}
    raise ValueError(f"rule={rule!r}: kaiming_*_ implements only the He and LeCun rules")


def _kaiming(fn: InitFn, rule: str) -> InitFn:
    args = kaiming_arguments(rule)
    return lambda t, generator: fn(t, generator=generator, **args)


#: the ``torch.nn.init`` call for each rule, with its name in the report
RULE_FUNCTIONS: dict[str, tuple[str, InitFn]] = {
    "init.glorot_uniform": (
        "xavier_uniform_",
        lambda t, generator: torch.nn.init.xavier_uniform_(t, generator=generator),
    ),
    "init.glorot_normal": (
        "xavier_normal_",
        lambda t, generator: torch.nn.init.xavier_normal_(t, generator=generator),
    ),
    "init.he_normal": (
        "kaiming_normal_(nonlinearity='relu')",
        _kaiming(torch.nn.init.kaiming_normal_, "init.he_normal"),
    ),
    "init.he_uniform": (
        "kaiming_uniform_(nonlinearity='relu')",
        _kaiming(torch.nn.init.kaiming_uniform_, "init.he_uniform"),
    ),
    "init.lecun_normal": (
        "kaiming_normal_(nonlinearity='linear')",
        _kaiming(torch.nn.init.kaiming_normal_, "init.lecun_normal"),
    ),
    "init.lecun_uniform": (
        "kaiming_uniform_(nonlinearity='linear')",
        _kaiming(torch.nn.init.kaiming_uniform_, "init.lecun_uniform"),
    ),
}


def sample_kernels(fn: InitFn, case: Any, dtype: str, device: str) -> np.ndarray:
    """``case.draws`` kernels of the case's layer, each filled in place by ``fn(t, generator)``."""
    dev = _device(device)
    gen = torch.Generator(device=dev).manual_seed(case.seed)
    out = torch.empty(
        (case.draws, *torch_kernel_shape(case.layer)), dtype=_DTYPES[dtype], device=dev
    )
    for i in range(case.draws):
        fn(out[i], generator=gen)
    return out.cpu().numpy().astype(np.float64)


def _fans_run(case: Any, dtype: str, device: str) -> np.ndarray:
    return sample_kernels(
        lambda t, generator: torch.nn.init.kaiming_uniform_(
            t, mode=case.choice, nonlinearity="linear", generator=generator
        ),
        case,
        dtype,
        device,
    )


def make_layer(layer: Layer, *, bias: bool, dtype: str, device: str) -> torch.nn.Module:
    """``nn.Linear`` for a dense layer, ``nn.Conv1d/2d/3d`` for a convolution."""
    kw = {"bias": bias, "dtype": _DTYPES[dtype], "device": _device(device)}
    if not layer.kernel_size:
        return torch.nn.Linear(layer.in_features, layer.out_features, **kw)
    conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[len(layer.kernel_size)]
    return conv(layer.in_features, layer.out_features, layer.kernel_size, **kw)


def _default_bias_run(case: Any, dtype: str, device: str) -> np.ndarray:
    """The bias of a freshly reset ``nn.Linear`` / ``nn.ConvNd``, ``case.draws`` times."""
    devices = [torch.cuda.current_device()] if device == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(case.seed)
        module = make_layer(case.layer, bias=True, dtype=dtype, device=device)
        rows = []
        for _ in range(case.draws):
            module.reset_parameters()
            rows.append(module.bias.detach().cpu().numpy().astype(np.float64))
    return np.stack(rows)


def _zeros_bias_run(case: Any, dtype: str, device: str) -> np.ndarray:
    module = make_layer(case.layer, bias=True, dtype=dtype, device=device)
    rows = []
    for _ in range(case.draws):
        torch.nn.init.zeros_(module.bias)
        rows.append(module.bias.detach().cpu().numpy().astype(np.float64))
    return np.stack(rows)


def layer_output(case: Any, dtype: str, device: str, init: InitFn | None = None) -> np.ndarray:
    """A layer without bias, initialised with ``case.choice``'s rule, applied to ``case.x``."""
    module = make_layer(case.layer, bias=False, dtype=dtype, device=device)
    dev = _device(device)
    gen = torch.Generator(device=dev).manual_seed(case.seed)
    fn = init if init is not None else RULE_FUNCTIONS[case.choice][1]
    with torch.no_grad():
        fn(module.weight, generator=gen)
        z = module(torch_input(case.x, _DTYPES[dtype], dev))
    return z.cpu().numpy().astype(np.float64).reshape(-1)


def implementations() -> list[Implementation[InitCase, InitResult]]:
    both = ("cpu", "cuda")
    out: list[Implementation[InitCase, InitResult]] = [
        Implementation(
            rule,
            name,
            functools.partial(sample_kernels, fn),
            tuple(_DTYPES),
            both,
            f"torch.nn.init.{name} on (out, in, *k) kernels",
            {"layout": "torch"},
        )
        for rule, (name, fn) in RULE_FUNCTIONS.items()
    ]
    out += [
        Implementation(
            "init.fans",
            "kaiming_uniform_(mode=..., nonlinearity='linear')",
            _fans_run,
            tuple(_DTYPES),
            both,
            "bound sqrt(3/fan_mode) on (out, in, *k) kernels: the fan PyTorch computes",
            {"layout": "torch"},
        ),
        Implementation(
            "init.bias",
            "nn.Linear/ConvNd default bias",
            _default_bias_run,
            tuple(_DTYPES),
            both,
            "the bias after reset_parameters()",
        ),
        Implementation(
            "init.bias", "zeros_", _zeros_bias_run, tuple(_DTYPES), both, "torch.nn.init.zeros_"
        ),
        Implementation(
            "init.variance_rule",
            "nn.Linear/ConvNd(bias=False) + torch.nn.init",
            layer_output,
            tuple(_DTYPES),
            both,
            "outputs of a layer whose weight the rule's torch.nn.init function initialised",
        ),
    ]
    return out
