r"""Paddle's activations (``paddle.nn.functional`` and the ``paddle.nn`` layers) for ``act.*``.

``values`` returns the function's output; ``derivatives`` the vector-Jacobian product with the
case's cotangent from Paddle's autodiff (``paddle.grad``), and for PReLU the cotangent of its slope.

Conventions mapped here (each one small function, tested in ``tests/test_activations.py``):

* :func:`paddle_kwargs`: the spec's hyperparameters by Paddle's names (``alpha`` is
  ``negative_slope`` for the leaky ReLU, ``alpha`` for ELU);
* :func:`prelu_weight`: PReLU's one shared slope is a ``(1,)`` tensor that requires grad.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import paddle
import paddle.nn.functional as F

from trainspec.conformance import ActivationCase, ActivationResult, Finding, Implementation
from trainspec_paddle import DTYPES, to_numpy

__all__ = ["implementations", "paddle_kwargs", "prelu_weight", "run_activation"]

_ARGUMENT = {"act.leaky_relu": {"alpha": "negative_slope"}, "act.elu": {"alpha": "alpha"}}

# fn(x, hyperparameters, params) -> y; fn may register leaf tensors in ``params``
Fn = Callable[[paddle.Tensor, Mapping[str, float], dict[str, paddle.Tensor]], paddle.Tensor]


def paddle_kwargs(spec_id: str, hyperparameters: Mapping[str, float]) -> dict[str, float]:
    """The spec's hyperparameters as Paddle's keyword arguments."""
    names = _ARGUMENT.get(spec_id, {})
    return {names[k]: float(v) for k, v in hyperparameters.items() if k in names}


def prelu_weight(alpha: float, dtype: str) -> paddle.Tensor:
    """PReLU's weight: the one shared slope, shape ``(1,)``, a leaf that requires grad."""
    w = paddle.to_tensor([alpha], dtype=dtype)
    w.stop_gradient = False
    return w


def run_activation(fn: Fn, case: Any, dtype: str, device: str) -> ActivationResult:
    """``fn`` on the case's input; for ``derivatives`` the VJP with the case's cotangent."""
    x = paddle.to_tensor(case.z, dtype=dtype)
    x.stop_gradient = case.check != "derivatives"
    params: dict[str, paddle.Tensor] = {}
    y = fn(x, case.hyperparameters, params)
    if case.check == "values":
        return {"y": to_numpy(y)}
    g = np.ones(case.z.shape) if case.cotangent is None else case.cotangent
    grads = paddle.grad([y], [x, *params.values()], [paddle.to_tensor(g, dtype=dtype)])
    out: ActivationResult = {"z": to_numpy(grads[0])}
    if "alpha" in params:  # PReLU's slope, the one parameter an activation here registers
        out["alpha"] = to_numpy(grads[1]).reshape(())
    return out


def _f(spec_id: str, op: Callable[..., paddle.Tensor]) -> Fn:
    return lambda x, hp, params: op(x, **paddle_kwargs(spec_id, hp))


def _layer(make: Callable[..., Any], spec_id: str) -> Fn:
    def fn(x: paddle.Tensor, hp: Mapping[str, float], params: dict[str, paddle.Tensor]) -> Any:
        return make(**paddle_kwargs(spec_id, hp))(x)

    return fn


def _prelu(x: paddle.Tensor, hp: Mapping[str, float], params: dict[str, paddle.Tensor]) -> Any:
    params["alpha"] = prelu_weight(hp["alpha"], str(x.dtype).split(".")[-1].lower())
    return F.prelu(x, params["alpha"])


RELU_NAN = (
    "Paddle's relu returns 0 for a NaN input (IEEE-754, PyTorch, TensorFlow and JAX return NaN). "
    "Minimal counterexample: z = nan in float32 or float64 gives 0.0. Reproduction: "
    "repro/relu_nan.py."
)
SOFTMAX_CLIP = (
    "Paddle's CPU softmax clips the shifted logits z - max(z) at -64 before the exponential: a "
    "probability that should be exp(z - max) / sum is at least exp(-64)/sum = 1.6e-28. Minimal "
    "counterexample: z = [1.9212679862976074, -105.4332046508789] (float32 and float64): Paddle "
    "1.6038109e-28 for the second probability, the spec 2.38e-47 (0 in float32). "
    "Reproduction: repro/softmax_clip.py."
)
SELU_FLOAT32 = (
    "Paddle's selu uses its constants rounded to float32 in float64: scale = fl32(1.0507009873554805). "
    "Minimal counterexample: z = 0.00493050807491952 in float64: Paddle 0.00518048987402756, "
    "the spec 0.005180489702482109 (3e-8 relative). Reproduction: repro/selu_float32_constants.py."
)
_RELU_NAN = Finding("paddle-relu-nan-is-zero", RELU_NAN)
FINDINGS: dict[str, dict[str, str | Finding]] = {
    "nn.functional.relu": {"*": _RELU_NAN},
    "nn.ReLU": {"*": _RELU_NAN},
    "nn.functional.softmax(axis=-1)": {"*": Finding("paddle-softmax-clips-at-64", SOFTMAX_CLIP)},
    "nn.functional.selu": {"float64": Finding("paddle-selu-float32-constants", SELU_FLOAT32)},
}


def _impl(
    spec_id: str, name: str, fn: Fn, **options: Any
) -> Implementation[ActivationCase, ActivationResult]:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_activation(fn, case, dtype, device),
        dtypes=DTYPES,
        devices=("cpu",),
        options=options,
        findings=FINDINGS.get(name, {}),
    )


def implementations() -> list[Implementation[ActivationCase, ActivationResult]]:
    return [
        _impl("act.sigmoid", "nn.functional.sigmoid", _f("act.sigmoid", F.sigmoid)),
        _impl("act.tanh", "paddle.tanh", _f("act.tanh", paddle.tanh)),
        _impl("act.relu", "nn.functional.relu", _f("act.relu", F.relu)),
        _impl("act.relu", "nn.ReLU", _layer(paddle.nn.ReLU, "act.relu")),
        _impl("act.leaky_relu", "nn.functional.leaky_relu", _f("act.leaky_relu", F.leaky_relu)),
        _impl("act.leaky_relu", "nn.LeakyReLU", _layer(paddle.nn.LeakyReLU, "act.leaky_relu")),
        _impl("act.prelu", "nn.functional.prelu", _prelu),
        _impl("act.elu", "nn.functional.elu", _f("act.elu", F.elu)),
        _impl("act.elu", "nn.ELU", _layer(paddle.nn.ELU, "act.elu")),
        _impl("act.selu", "nn.functional.selu", _f("act.selu", F.selu)),
        _impl(
            "act.softmax",
            "nn.functional.softmax(axis=-1)",
            lambda x, hp, params: F.softmax(x, axis=-1),
        ),
        _impl("act.step", "paddle.sign", lambda x, hp, params: paddle.sign(x)),
    ]
