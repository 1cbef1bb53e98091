r"""Paddle's weight initialisers (``paddle.nn.initializer``) for the ``init.*`` entries.

Every kernel is a parameter created by ``paddle.create_parameter`` with the rule as its
``default_initializer`` after ``paddle.seed(seed)``; ``draws`` kernels are drawn in a row from the
advancing global generator.

Conventions mapped here (each one small function, tested in ``tests/test_init.py``):

* :func:`paddle_kernel_shape`: Paddle stores a dense kernel as ``(in, out)`` (``nn.Linear``'s
  weight) and a convolution kernel as ``(out, in, *k)`` (``nn.Conv*D``'s weight), and computes
  the fans from that shape (``Initializer._compute_fans``);
* :func:`torch_layout`: the kernels are handed back in the ``(out, in, *k)`` layout the
  implementation declares (``options={"layout": "torch"}``): a dense kernel is transposed;
* :func:`kaiming_arguments`: He is ``Kaiming*(nonlinearity='relu')`` (gain $\sqrt2$), LeCun
  ``Kaiming*(nonlinearity='linear')`` (gain 1), both ``mode='fan_in'``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import paddle

from trainspec.conformance import Implementation, InitCase, InitResult
from trainspec_paddle import DTYPES, to_numpy

__all__ = [
    "RULES",
    "implementations",
    "kaiming_arguments",
    "paddle_kernel_shape",
    "sample_kernels",
    "torch_layout",
]

Init = Callable[[], Any]
initializers = paddle.nn.initializer


def paddle_kernel_shape(
    in_features: int, out_features: int, kernel_size: tuple[int, ...]
) -> list[int]:
    """The shape of a Paddle kernel: ``[in, out]`` dense, ``[out, in, *k]`` convolution."""
    if not kernel_size:
        return [in_features, out_features]
    return [out_features, in_features, *kernel_size]


def torch_layout(kernel: np.ndarray, kernel_size: tuple[int, ...]) -> np.ndarray:
    """A Paddle kernel in the ``(out, in, *k)`` layout: a dense ``(in, out)`` is transposed."""
    return kernel.T if not kernel_size else kernel


def kaiming_arguments(rule: str) -> dict[str, Any]:
    """``Kaiming*`` arguments for the He (gain sqrt(2)) and LeCun (gain 1) rules."""
    if rule in ("init.he_normal", "init.he_uniform"):
        return {"mode": "fan_in", "nonlinearity": "relu"}
    if rule in ("init.lecun_normal", "init.lecun_uniform"):
        return {"mode": "fan_in", "nonlinearity": "linear"}
    raise ValueError(f"rule={rule!r}: Kaiming* implements only the He and LeCun rules")


#: rule -> (its name in the report, the initializer)
RULES: dict[str, tuple[str, Init]] = {
    "init.glorot_uniform": ("XavierUniform", lambda: initializers.XavierUniform()),
    "init.glorot_normal": ("XavierNormal", lambda: initializers.XavierNormal()),
    "init.he_normal": (
        "KaimingNormal(nonlinearity='relu')",
        lambda: initializers.KaimingNormal(**kaiming_arguments("init.he_normal")),
    ),
    "init.he_uniform": (
        "KaimingUniform(nonlinearity='relu')",
        lambda: initializers.KaimingUniform(**kaiming_arguments("init.he_uniform")),
    ),
    "init.lecun_normal": (
        "KaimingNormal(nonlinearity='linear')",
        lambda: initializers.KaimingNormal(**kaiming_arguments("init.lecun_normal")),
    ),
    "init.lecun_uniform": (
        "KaimingUniform(nonlinearity='linear')",
        lambda: initializers.KaimingUniform(**kaiming_arguments("init.lecun_uniform")),
    ),
}


def sample_kernels(make: Init, case: Any, dtype: str, device: str) -> np.ndarray:
    """``case.draws`` kernels of the case's layer, in the ``(out, in, *k)`` layout."""
    layer = case.layer
    shape = paddle_kernel_shape(layer.in_features, layer.out_features, layer.kernel_size)
    paddle.seed(case.seed)
    init = make()
    rows = [
        torch_layout(
            to_numpy(paddle.create_parameter(shape, dtype, default_initializer=init)),
            layer.kernel_size,
        )
        for _ in range(case.draws)
    ]
    return np.stack(rows)


def _fans_run(case: Any, dtype: str, device: str) -> np.ndarray:
    return sample_kernels(
        lambda: initializers.KaimingUniform(mode=case.choice, nonlinearity="linear"),
        case,
        dtype,
        device,
    )


def _layer_output(case: Any, dtype: str, device: str) -> np.ndarray:
    """A layer without bias (``nn.Linear`` or ``nn.Conv1D/2D/3D``) whose weight ``case.choice``'s
    rule initialised, applied to ``case.x`` (logically ``(in, *k)``) as a batch of one."""
    layer = case.layer
    paddle.seed(case.seed)
    attr = paddle.ParamAttr(initializer=RULES[case.choice][1]())
    old = paddle.get_default_dtype()
    paddle.set_default_dtype(dtype)
    try:
        if not layer.kernel_size:
            module = paddle.nn.Linear(
                layer.in_features, layer.out_features, weight_attr=attr, bias_attr=False
            )
        else:
            conv = {1: paddle.nn.Conv1D, 2: paddle.nn.Conv2D, 3: paddle.nn.Conv3D}
            module = conv[len(layer.kernel_size)](
                layer.in_features,
                layer.out_features,
                layer.kernel_size,
                weight_attr=attr,
                bias_attr=False,
            )
    finally:
        paddle.set_default_dtype(old)
    with paddle.no_grad():
        z = module(paddle.to_tensor(case.x[None, ...], dtype=dtype))
    return to_numpy(z).reshape(-1)


def _zeros_bias(case: Any, dtype: str, device: str) -> np.ndarray:
    return np.stack(
        [
            to_numpy(
                paddle.create_parameter(
                    [case.layer.out_features], dtype, default_initializer=initializers.Constant(0.0)
                )
            )
            for _ in range(case.draws)
        ]
    )


def implementations() -> list[Implementation[InitCase, InitResult]]:
    out = [
        Implementation(
            rule,
            name,
            functools.partial(sample_kernels, make),
            DTYPES,
            ("cpu",),
            f"paddle.nn.initializer.{name} on Paddle's kernels ([in, out] dense, [out, in, *k] conv)",
            {"layout": "torch"},
        )
        for rule, (name, make) in RULES.items()
    ]
    out += [
        Implementation(
            "init.fans",
            "KaimingUniform(mode=..., nonlinearity='linear')",
            _fans_run,
            DTYPES,
            ("cpu",),
            "bound sqrt(3/fan_mode) on Paddle's kernels: the fan Paddle computes",
            {"layout": "torch"},
        ),
        Implementation(
            "init.bias", "initializer.Constant(0.0)", _zeros_bias, DTYPES, ("cpu",), "zero biases"
        ),
        Implementation(
            "init.variance_rule",
            "nn.Linear/ConvND(bias_attr=False) + initializer",
            _layer_output,
            DTYPES,
            ("cpu",),
            "outputs of a layer whose weight the rule's initializer initialised",
        ),
    ]
    return out
