r"""PyTorch's dropout: ``torch.nn.functional.dropout`` (out of place and in place), ``nn.Dropout``
(train/eval), and MC dropout through ``nn.Dropout`` + ``nn.Linear`` kept in train mode.

Conventions mapped here (each in one small, tested function):

* the spec's ``rate`` is PyTorch's ``p`` unchanged (PyTorch documents ``p`` as the probability of
  an element to be zeroed); whether it acts as a drop or a keep probability is *measured* by the
  kit (variant axis ``rate_meaning``), not assumed: :func:`dropout_arguments`;
* ``nn.Linear`` stores its weight as ``(out, in)``; the spec's $W$ is ``(in, out)``:
  :func:`linear_weight`.

PyTorch multiplies the input by the scaled mask, so a dropped ``inf`` or ``nan`` becomes ``nan``
(``masking=multiply``, the spec's default). PyTorch's dropout takes no generator: every example runs under ``torch.random.fork_rng`` with the
global seed set from the example, so a run replays exactly and leaves the caller's RNG alone.
Each training-mode call draws a fresh mask from the advancing global generator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation

__all__ = [
    "DROPOUTS",
    "DTYPES",
    "dropout_arguments",
    "implementations",
    "linear_weight",
    "run_dropout",
    "run_mc_dropout",
]

#: ``apply(x, rate, training) -> y``: one call of a PyTorch dropout
Apply = Callable[[torch.Tensor, float, bool], torch.Tensor]

#: dropout is offered in bfloat16 too: a kept value is then ``x * round(1/q)``, two roundings,
#: inside the tracked bound; float16 is left out, because x/q of the kit's float16 inputs can
#: exceed float16's range (65504) for small q
DTYPES = {**_DTYPES, "bfloat16": torch.bfloat16}


def dropout_arguments(rate: float) -> dict[str, float]:
    """PyTorch's keyword for the spec's ``rate``: ``p``, the same number."""
    return {"p": float(rate)}


def linear_weight(weight: np.ndarray) -> np.ndarray:
    """``nn.Linear.weight`` (out, in) for the spec's ``W`` (in, out)."""
    return np.ascontiguousarray(np.asarray(weight).T)


def _functional(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    return torch.nn.functional.dropout(x, training=training, **dropout_arguments(rate))


def _functional_inplace(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    return torch.nn.functional.dropout(
        x.clone(), training=training, inplace=True, **dropout_arguments(rate)
    )


def _module(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    layer = torch.nn.Dropout(**dropout_arguments(rate))
    layer.train(training)
    return layer(x)


#: the PyTorch dropouts of ``drop.inverted``, by their name in the report
DROPOUTS: dict[str, Apply] = {
    "nn.functional.dropout": _functional,
    "nn.functional.dropout(inplace=True)": _functional_inplace,
    "nn.Dropout(train/eval)": _module,
}


def _fork(device: torch.device) -> Any:
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def run_dropout(apply: Apply, case: Any, dtype: str, device: str) -> dict[str, np.ndarray]:
    """``case.passes`` training-mode calls (one seed, fresh masks) and one test-mode call."""
    tdtype, dev = DTYPES[dtype], _device(device)
    x = torch.tensor(case.x, dtype=tdtype, device=dev)
    with torch.no_grad(), _fork(dev):
        torch.manual_seed(case.seed)
        train = [_numpy(apply(x, case.rate, True)) for _ in range(case.passes)]
        test = _numpy(apply(x, case.rate, False))
    return {"train": np.stack(train) if train else np.zeros((0, *x.shape)), "test": test}


def mc_model(case: Any, dtype: str, device: str) -> torch.nn.Module:
    """``nn.Sequential(nn.Dropout(p), nn.Linear(in, out))`` holding the case's weight and bias."""
    d_in, d_out = case.weight.shape
    tdtype, dev = _DTYPES[dtype], _device(device)
    linear = torch.nn.Linear(d_in, d_out, dtype=tdtype, device=dev)  # built in the dtype:
    with torch.no_grad():  # the weights are representable in it, so copying them is exact
        linear.weight.copy_(torch.tensor(linear_weight(case.weight), dtype=tdtype))
        linear.bias.copy_(torch.tensor(case.bias, dtype=tdtype))
    return torch.nn.Sequential(torch.nn.Dropout(**dropout_arguments(case.rate)), linear)


def run_mc_dropout(
    case: Any, dtype: str, device: str, *, model: Callable[..., torch.nn.Module] = mc_model
) -> dict[str, np.ndarray]:
    """MC dropout: ``case.passes`` forward passes in train mode (dropout on), then eval mode."""
    dev = _device(device)
    net = model(case, dtype, device)
    x = torch.tensor(case.x, dtype=_DTYPES[dtype], device=dev)
    with torch.no_grad(), _fork(dev):
        torch.manual_seed(case.seed)
        net.train()
        train = [_numpy(net(x)) for _ in range(case.passes)]
        net.eval()
        test = _numpy(net(x))
    return {"train": np.stack(train) if train else np.zeros((0, *test.shape)), "test": test}


def _dropout_impl(name: str, apply: Apply) -> Implementation:
    return Implementation(
        "drop.inverted",
        name,
        lambda case, dtype, device: run_dropout(apply, case, dtype, device),
        dtypes=tuple(DTYPES),
        devices=("cpu", "cuda"),
    )


def implementations() -> list[Implementation]:
    return [
        *(_dropout_impl(name, apply) for name, apply in DROPOUTS.items()),
        Implementation(
            "drop.mc",
            "nn.Dropout+nn.Linear(train mode at prediction)",
            run_mc_dropout,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
    ]
