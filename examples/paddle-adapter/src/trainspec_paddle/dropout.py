r"""Paddle's dropout: ``paddle.nn.functional.dropout`` and ``paddle.nn.Dropout`` in both of
Paddle's modes, and MC dropout through ``nn.Dropout`` + ``nn.Linear`` kept in train mode.

Paddle's ``mode='upscale_in_train'`` (the default) is inverted dropout (``drop.inverted``);
``mode='downscale_in_infer'`` is the naive form (``drop.naive``: the kept values unscaled in
training, the output multiplied by $1-p$ at test time).

Conventions mapped here (each one small function, tested in ``tests/test_dropout.py``):

* :func:`dropout_arguments`: the spec's ``rate`` is Paddle's ``p`` unchanged (documented as the
  probability of setting units to zero); whether it acts as a drop or a keep probability is
  measured by the kit (variant axis ``rate_meaning``), not assumed;
* ``nn.Linear`` stores its weight as ``(in, out)``, the spec's $W$: no conversion;
* :func:`as_batch`: ``mode='downscale_in_infer'`` raises at test time on a 1-D input (its
  test-time product needs rank >= 2, ``repro/dropout_downscale_1d.py``), so a 1-D input of the
  naive rows runs as a batch of one, ``(1, n)``; dropout is elementwise, the values are the same.

Every run seeds Paddle's global generator with ``paddle.seed(seed)``; each training-mode call
draws a fresh mask.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import paddle

from trainspec.conformance import (
    DropoutCase,
    DropoutResult,
    Finding,
    Implementation,
    LinearDropoutCase,
)
from trainspec_paddle import DTYPES, to_numpy

__all__ = ["DROPOUTS", "dropout_arguments", "implementations", "run_dropout", "run_mc_dropout"]

#: ``apply(x, rate, training) -> y``: one call of a Paddle dropout
Apply = Callable[[paddle.Tensor, float, bool], paddle.Tensor]


def dropout_arguments(rate: float) -> dict[str, float]:
    """Paddle's keyword for the spec's ``rate``: ``p``, the same number."""
    return {"p": float(rate)}


def as_batch(x: np.ndarray) -> np.ndarray:
    """A 1-D input as a batch of one ``(1, n)``; any other rank unchanged."""
    return x[None, :] if x.ndim == 1 else x


def _functional(mode: str) -> Apply:
    return lambda x, rate, training: paddle.nn.functional.dropout(
        x, training=training, mode=mode, **dropout_arguments(rate)
    )


def _module(mode: str) -> Apply:
    def apply(x: paddle.Tensor, rate: float, training: bool) -> paddle.Tensor:
        layer = paddle.nn.Dropout(mode=mode, **dropout_arguments(rate))
        layer.train() if training else layer.eval()
        return layer(x)

    return apply


#: spec ID, row name, the dropout
DROPOUTS: tuple[tuple[str, str, Apply], ...] = (
    ("drop.inverted", "nn.functional.dropout", _functional("upscale_in_train")),
    ("drop.inverted", "nn.Dropout(train/eval)", _module("upscale_in_train")),
    (
        "drop.naive",
        "nn.functional.dropout(mode='downscale_in_infer')",
        _functional("downscale_in_infer"),
    ),
    ("drop.naive", "nn.Dropout(mode='downscale_in_infer')", _module("downscale_in_infer")),
)


def run_dropout(
    apply: Apply, case: Any, dtype: str, device: str, *, batch: bool = False
) -> DropoutResult:
    """``case.passes`` training-mode calls (one seed, fresh masks) and one test-mode call;
    ``batch`` runs the input through :func:`as_batch`."""
    shape = case.x.shape
    x = paddle.to_tensor(as_batch(case.x) if batch else case.x, dtype=dtype)
    paddle.seed(case.seed)
    with paddle.no_grad():
        train = [to_numpy(apply(x, case.rate, True)).reshape(shape) for _ in range(case.passes)]
        test = to_numpy(apply(x, case.rate, False)).reshape(shape)
    return {"train": np.stack(train) if train else np.zeros((0, *case.x.shape)), "test": test}


def run_mc_dropout(case: Any, dtype: str, device: str) -> DropoutResult:
    """MC dropout: ``case.passes`` forward passes in train mode (dropout on), then eval mode."""
    d_in, d_out = case.weight.shape
    old = paddle.get_default_dtype()
    paddle.set_default_dtype(dtype)
    try:
        linear = paddle.nn.Linear(d_in, d_out)
    finally:
        paddle.set_default_dtype(old)
    linear.weight.set_value(paddle.to_tensor(case.weight, dtype=dtype))
    linear.bias.set_value(paddle.to_tensor(case.bias, dtype=dtype))
    net = paddle.nn.Sequential(paddle.nn.Dropout(**dropout_arguments(case.rate)), linear)
    x = paddle.to_tensor(case.x, dtype=dtype)
    paddle.seed(case.seed)
    with paddle.no_grad():
        net.train()
        train = [to_numpy(net(x)) for _ in range(case.passes)]
        net.eval()
        test = to_numpy(net(x))
    return {"train": np.stack(train) if train else np.zeros((0, *test.shape)), "test": test}


SCALE_FLOAT32 = (
    "Paddle's inverted dropout (mode='upscale_in_train') divides float64 inputs by 1 - p rounded "
    "to float32: the dropout kernel takes p as a float32 attribute. Minimal counterexample: "
    "p = 0.2 (float32 0.20000000298023224), x = 0.1257302210933933 in float64: Paddle keeps "
    "0.15716277402483378 = x / fl32(1 - p), the spec x / (1 - p) = 0.15716277695221859 (2e-8 "
    "relative). Reproduction: repro/dropout_scale_float32.py."
)
DOWNSCALE_FLOAT32 = (
    "Paddle's naive dropout (mode='downscale_in_infer') multiplies float64 inputs at test time by "
    "1 - p rounded to float32 (p is a float32 attribute of the kernel). Minimal counterexample: "
    "p = 0.2 (float32 0.20000000298023224), x = 0.1257302210933933 in float64: Paddle returns "
    "0.10058417837353567 = x * fl32(1 - p), the spec x * (1 - p) = 0.10058417650000938. "
    "Reproduction: repro/dropout_scale_float32.py."
)


def implementations() -> list[
    Implementation[DropoutCase, DropoutResult] | Implementation[LinearDropoutCase, DropoutResult]
]:
    return [
        *(
            Implementation(
                spec_id,
                name,
                functools.partial(run_dropout, apply, batch=spec_id == "drop.naive"),
                dtypes=DTYPES,
                devices=("cpu",),
                findings={
                    "float64": Finding("paddle-dropout-scale-float32", SCALE_FLOAT32)
                    if spec_id == "drop.inverted"
                    else Finding("paddle-dropout-downscale-float32", DOWNSCALE_FLOAT32)
                },
            )
            for spec_id, name, apply in DROPOUTS
        ),
        Implementation(
            "drop.mc",
            "nn.Dropout+nn.Linear(train mode at prediction)",
            run_mc_dropout,
            dtypes=DTYPES,
            devices=("cpu",),
        ),
    ]
