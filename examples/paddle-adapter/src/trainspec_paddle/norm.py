r"""Paddle's batch normalisation: ``paddle.nn.BatchNorm1D`` and ``BatchNorm2D``, train and eval.

One run builds the layer with the case's $\epsilon$, momentum, $\gamma$, $\beta$ and initial
running statistics (``set_state_dict``), takes one training step per batch (``layer.train()``;
the gradients of $\sum dy\cdot y$ by ``y.backward(dy)``), reads the running statistics after each
step, then evaluates the test batch (``layer.eval()``).

Conventions mapped here (each one small function, tested in ``tests/test_norm.py``):

* :func:`paddle_momentum`: Paddle's ``momentum`` is the weight of the OLD running value
  ($r \leftarrow m\,r + (1-m)\,b$), the spec's convention: unchanged;
* :func:`paddle_input`: ``BatchNorm1D`` takes ``(N, C)`` or ``(N, C, L)`` (``NCL``) /
  ``(N, L, C)`` (``NLC``): an image's pixels are flattened into ``L``; ``BatchNorm2D`` takes
  ``(N, C, H, W)`` (``NCHW``) or ``(N, H, W, C)`` (``NHWC``), ``(N, C)`` features as
  ``(N, C, 1, 1)`` (``NCHW``) or ``(N, 1, 1, C)`` (``NHWC``);
* :func:`default_dtype`: Paddle's layers create their parameters in the default dtype, so a
  float64 layer is built under ``paddle.set_default_dtype("float64")`` (restored afterwards).

``data_format="NHWC"`` (and ``"NLC"``) is a separate CPU kernel, hence separate rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import paddle

from trainspec.conformance import (
    BatchNormCase,
    BatchNormRun,
    Implementation,
    from_layout,
    to_layout,
)
from trainspec_paddle import DTYPES, to_numpy

__all__ = ["default_dtype", "implementations", "paddle_input", "paddle_momentum", "run_batchnorm"]

IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")


def paddle_momentum(old_value_weight: float) -> float:
    """Paddle's ``momentum`` for the spec's (the weight of the OLD value): the same number."""
    return float(old_value_weight)


def paddle_input(x: np.ndarray, layer: str, channels_last: bool) -> np.ndarray:
    """``x`` (in the framework layout ``channels_last`` or not) in the shape the layer takes:
    ``"1d"`` flattens image pixels into ``L``; ``"2d"`` gives ``(N, C)`` two unit axes."""
    if layer == "1d":
        if x.ndim <= 3:
            return x
        return (
            x.reshape(x.shape[0], -1, x.shape[-1])
            if channels_last
            else x.reshape(x.shape[0], x.shape[1], -1)
        )
    if layer == "2d":
        if x.ndim != 2:
            return x
        n, c = x.shape
        return x.reshape(n, 1, 1, c) if channels_last else x.reshape(n, c, 1, 1)
    raise ValueError(f"layer={layer!r}: must be '1d' or '2d'")


@contextmanager
def default_dtype(dtype: str) -> Iterator[None]:
    """Build Paddle layers in ``dtype`` (Paddle's layers take the default dtype)."""
    old = paddle.get_default_dtype()
    paddle.set_default_dtype(dtype)
    try:
        yield
    finally:
        paddle.set_default_dtype(old)


def run_batchnorm(
    case: Any, dtype: str, device: str, *, layer: str = "2d", channels_last: bool = False
) -> BatchNormRun:
    """Run the case through ``BatchNorm1D``/``2D`` (see the module docstring)."""
    fw_layout = "channels_last" if channels_last else "channels_first"
    fmt = {("1d", False): "NCL", ("1d", True): "NLC", ("2d", False): "NCHW", ("2d", True): "NHWC"}
    cls = paddle.nn.BatchNorm1D if layer == "1d" else paddle.nn.BatchNorm2D
    with default_dtype(dtype):
        bn = cls(
            case.channels,
            momentum=paddle_momentum(case.momentum),
            epsilon=case.eps,
            data_format=fmt[layer, channels_last],
        )
    bn.set_state_dict(
        {
            "weight": paddle.to_tensor(case.gamma, dtype=dtype),
            "bias": paddle.to_tensor(case.beta, dtype=dtype),
            "_mean": paddle.to_tensor(case.initial_mean, dtype=dtype),
            "_variance": paddle.to_tensor(case.initial_var, dtype=dtype),
        }
    )

    def tensor(a: np.ndarray) -> paddle.Tensor:
        fw = to_layout(a, case.layout, fw_layout)
        return paddle.to_tensor(
            np.ascontiguousarray(paddle_input(fw, layer, channels_last)), dtype=dtype
        )

    def back(t: paddle.Tensor, like: np.ndarray) -> np.ndarray:
        shape = to_layout(like, case.layout, fw_layout).shape
        return from_layout(to_numpy(t).reshape(shape), case.layout, fw_layout)

    state = bn.state_dict()
    run = BatchNormRun([], [], [], [], [], [], np.zeros(0))
    bn.train()
    for x, dy in zip(case.batches, case.upstream, strict=True):
        xt = tensor(x)
        xt.stop_gradient = False
        bn.clear_gradients()
        y = bn(xt)
        y.backward(tensor(dy))
        run.outputs.append(back(y, x))
        run.dx.append(back(xt.grad, x))
        run.dgamma.append(to_numpy(bn.weight.grad))
        run.dbeta.append(to_numpy(bn.bias.grad))
        run.running_mean.append(to_numpy(state["_mean"]).copy())
        run.running_var.append(to_numpy(state["_variance"]).copy())
    bn.eval()
    with paddle.no_grad():
        test = back(bn(tensor(case.test_batch)), case.test_batch)
    return BatchNormRun(
        run.outputs, run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, test
    )


def _impl(spec_id: str, name: str, **kw: Any) -> Implementation[BatchNormCase, BatchNormRun]:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_batchnorm(case, dtype, device, **kw),
        dtypes=DTYPES,
        devices=("cpu",),
        description=f"paddle.nn.{name}: train() steps with autograd, then eval()",
    )


def implementations() -> list[Implementation[BatchNormCase, BatchNormRun]]:
    """``BatchNorm2D`` in both data formats on every ID; ``BatchNorm1D`` where the rank could
    matter (outputs, gradients)."""
    out = [
        _impl("norm.batch.train", "BatchNorm1D", layer="1d"),
        _impl("norm.batch.grad", "BatchNorm1D", layer="1d"),
    ]
    for spec_id in IDS:
        out.append(_impl(spec_id, "BatchNorm2D", layer="2d"))
        out.append(
            _impl(spec_id, "BatchNorm2D(data_format='NHWC')", layer="2d", channels_last=True)
        )
    return out
