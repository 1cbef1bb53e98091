r"""Paddle's optimizers (``paddle.optimizer``): SGD, Momentum (Nesterov too), Adagrad, RMSProp,
Adam, AdamW, Adamax, Adadelta and NAdam, for ``opt.gd`` ... ``opt.adadelta``, ``opt.weight_decay``.

Every optimizer is built through its public constructor over ``paddle`` parameters in eager mode;
the gradient of each step is assigned to ``param.grad`` and ``optimizer.step()`` is called.

Conventions mapped here (each one small function, tested in ``tests/test_optimizers.py``):

* :func:`set_learning_rate`: the learning rate of step $t$ goes in through
  ``optimizer.set_lr(lr)`` before the step (what an ``LRScheduler`` does between steps);
* :func:`state_key`: Paddle's ``state_dict`` names a parameter's accumulator
  ``f"{param.name}_{accumulator}_0"``; a canonical state is written with
  ``optimizer.set_state_dict`` before the first step (Paddle then loads every accumulator from it
  when it creates them, and asserts that each one is there);
* :data:`ACCUMULATORS`: which canonical buffer is which Paddle accumulator: Momentum's
  ``velocity`` is the canonical trace $b$ (learning rate outside:
  $\theta \leftarrow \theta - \eta b$); Adagrad's ``moment`` the accumulator $G$; RMSProp's
  ``mean_square``, ``mean_grad`` the canonical ``square_avg``, ``grad_avg``; Adam/AdamW's
  ``moment1``, ``moment2``, ``moment2_max`` the canonical ``m``, ``v``, ``v_max``; Adamax's
  ``moment``, ``inf_norm`` the canonical ``m``, ``u``; Adadelta's ``_avg_squared_grad``,
  ``_avg_squared_update`` the canonical ``square_avg``, ``acc_delta``;
* :func:`rmsprop_momentum_from_buffer`: RMSProp's ``momentum`` accumulator holds the velocity with
  the learning rate inside and no sign ($v \leftarrow \mu v + \eta g/D$,
  $\theta \leftarrow \theta - v$), i.e. $\eta b$ for the canonical learning-rate-free $b$;
* :func:`beta_pow_from_count`: Adam, AdamW and Adamax keep no step count but the powers
  ``beta1_pow_acc`` ($\beta_1^{t+1}$ after $t$ steps: it starts at $\beta_1$ and is multiplied by
  $\beta_1$ after every step) and ``beta2_pow_acc``;
* hyperparameters Paddle has and the spec does not draw are set to the values that make Paddle's
  formula the spec's (``weight_decay=None`` but where the spec draws it; ``rescale_grad=1``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import paddle

from trainspec.conformance import Finding, Implementation, OptimizerCase, OptimizerResult
from trainspec_paddle import DTYPES, to_numpy

__all__ = [
    "ACCUMULATORS",
    "OPTIMIZERS",
    "beta_pow_from_count",
    "implementations",
    "rmsprop_momentum_from_buffer",
    "run_paddle_optimizer",
    "set_learning_rate",
    "state_key",
]

Maker = Callable[[list[paddle.Tensor], OptimizerCase], paddle.optimizer.Optimizer]


def set_learning_rate(optimizer: paddle.optimizer.Optimizer, lr: float) -> None:
    """Use ``lr`` for the next step (``Optimizer.set_lr``; Paddle keeps it as a float32 tensor,
    and the kit draws learning rates that float32 represents exactly)."""
    optimizer.set_lr(float(lr))


def state_key(param: paddle.Tensor, accumulator: str) -> str:
    """The key of ``param``'s accumulator in Paddle's ``Optimizer.state_dict()``."""
    return f"{param.name}_{accumulator}_0"


def beta_pow_from_count(beta: float, count: int) -> float:
    r"""Paddle's ``beta_pow_acc`` after ``count`` steps: $\beta^{count+1}$ (it is initialised
    to $\beta$ and multiplied by $\beta$ after each step; the step uses $1 - \beta^{t}$ with
    $t = count + 1$)."""
    if count < 0:
        raise ValueError(f"count={count}: must be >= 0")
    return float(beta) ** (count + 1)


def rmsprop_momentum_from_buffer(buffer: np.ndarray, learning_rate: float) -> np.ndarray:
    r"""RMSProp's ``momentum`` accumulator for the canonical learning-rate-free buffer $b$:
    $v = \eta b$ (Paddle: $v \leftarrow \mu v + \eta g/D$, $\theta \leftarrow \theta - v$)."""
    return float(learning_rate) * np.asarray(buffer, dtype=np.float64)


#: canonical buffer -> Paddle accumulator, per spec ID
ACCUMULATORS: dict[str, dict[str, str]] = {
    "opt.momentum": {"trace": "velocity"},
    "opt.nesterov": {"trace": "velocity"},
    "opt.weight_decay": {"trace": "velocity"},
    "opt.adagrad": {"accumulator": "moment"},
    "opt.rmsprop": {
        "square_avg": "mean_square",
        "grad_avg": "mean_grad",
        "momentum_buffer": "momentum",
    },
    "opt.adam": {"m": "moment1", "v": "moment2", "v_max": "moment2_max"},
    "opt.adamw": {"m": "moment1", "v": "moment2", "v_max": "moment2_max"},
    "opt.adamax": {"m": "moment", "u": "inf_norm"},
    "opt.adadelta": {"square_avg": "_avg_squared_grad", "acc_delta": "_avg_squared_update"},
}


def _state_dict(
    spec_id: str, opt: Any, params: Mapping[str, paddle.Tensor], case: OptimizerCase, amsgrad: bool
) -> dict[str, paddle.Tensor]:
    """Every accumulator Paddle creates for ``spec_id``, from the case's canonical state."""
    state = case.state
    assert state is not None
    hp = case.hyperparameters
    out: dict[str, paddle.Tensor] = {}
    for k, p in params.items():
        for canonical, acc in ACCUMULATORS[spec_id].items():
            if canonical == "v_max" and not amsgrad:
                continue
            value = state.buffers[canonical][k]
            if canonical == "momentum_buffer":
                value = rmsprop_momentum_from_buffer(value, case.learning_rates[0])
            out[state_key(p, acc)] = paddle.to_tensor(value, dtype=p.dtype)
        pows = {"opt.adam": ("beta1", "beta2"), "opt.adamw": ("beta1", "beta2")}.get(
            spec_id, ("beta1",) if spec_id == "opt.adamax" else ()
        )
        for b in pows:
            out[state_key(p, f"{b}_pow_acc")] = paddle.to_tensor(
                [beta_pow_from_count(hp[b], state.count)], dtype=p.dtype, place=paddle.CPUPlace()
            )
    return out


def run_paddle_optimizer(
    spec_id: str,
    make: Maker,
    case: OptimizerCase,
    dtype: str,
    device: str,
    *,
    amsgrad: bool = False,
) -> dict[str, np.ndarray]:
    """Build the optimizer over the case's parameters, load its state, take every step, read back."""
    names = list(case.params)
    params = {
        k: paddle.create_parameter(
            list(case.params[k].shape),
            dtype,
            default_initializer=paddle.nn.initializer.Assign(case.params[k]),
        )
        for k in names
    }
    opt = make(list(params.values()), case)
    if case.state is not None and spec_id in ACCUMULATORS:
        uses_momentum = spec_id not in ("opt.momentum", "opt.nesterov", "opt.weight_decay") or (
            case.hyperparameters.get("momentum", 0.0) != 0.0
        )
        if uses_momentum and not isinstance(opt, paddle.optimizer.SGD):
            opt.set_state_dict(_state_dict(spec_id, opt, params, case, amsgrad))
    for lr, grads in zip(case.learning_rates, case.grads, strict=True):
        set_learning_rate(opt, lr)
        for k, p in params.items():
            p.grad = paddle.to_tensor(grads[k], dtype=dtype)
        opt.step()
        opt.clear_grad()
    return {k: to_numpy(p) for k, p in params.items()}


# --- the optimizers, with the case's hyperparameters ----------------------------------------


def _sgd(weight_decay: bool = False) -> Maker:
    def make(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
        wd = case.hyperparameters["weight_decay"] if weight_decay else None
        return paddle.optimizer.SGD(case.learning_rates[0], params, weight_decay=wd)

    return make


def _momentum(weight_decay: bool = False, **fixed: Any) -> Maker:
    def make(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
        hp = case.hyperparameters
        return paddle.optimizer.Momentum(
            case.learning_rates[0],
            momentum=hp["momentum"],
            parameters=params,
            weight_decay=hp["weight_decay"] if weight_decay else None,
            **fixed,
        )

    return make


def _adagrad(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
    hp = case.hyperparameters
    return paddle.optimizer.Adagrad(
        case.learning_rates[0],
        epsilon=hp["eps"],
        parameters=params,
        initial_accumulator_value=hp["initial_accumulator_value"],
    )


def _rmsprop(centered: bool) -> Maker:
    def make(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
        hp = case.hyperparameters
        return paddle.optimizer.RMSProp(
            case.learning_rates[0],
            rho=hp["rho"],
            epsilon=hp["eps"],
            momentum=hp["momentum"],
            centered=centered,
            parameters=params,
        )

    return make


def _adam(cls: Any = paddle.optimizer.Adam, **fixed: Any) -> Maker:
    def make(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
        hp = case.hyperparameters
        extra = {"weight_decay": hp["weight_decay"]} if cls is paddle.optimizer.AdamW else {}
        return cls(
            case.learning_rates[0],
            beta1=hp["beta1"],
            beta2=hp["beta2"],
            epsilon=hp["eps"],
            parameters=params,
            **extra,
            **fixed,
        )

    return make


def _adamax(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
    hp = case.hyperparameters
    return paddle.optimizer.Adamax(
        case.learning_rates[0],
        beta1=hp["beta1"],
        beta2=hp["beta2"],
        epsilon=hp["eps"],
        parameters=params,
    )


def _adadelta(params: list[paddle.Tensor], case: OptimizerCase) -> Any:
    hp = case.hyperparameters
    return paddle.optimizer.Adadelta(
        case.learning_rates[0], epsilon=hp["eps"], rho=hp["rho"], parameters=params
    )


#: spec ID, row name, maker, whether AMSGrad's ``moment2_max`` exists
OPTIMIZERS: tuple[tuple[str, str, Maker, bool], ...] = (
    ("opt.gd", "SGD", _sgd(), False),
    (
        "opt.gd",
        "Momentum(momentum=0)",
        lambda p, c: paddle.optimizer.Momentum(c.learning_rates[0], momentum=0.0, parameters=p),
        False,
    ),
    ("opt.momentum", "Momentum", _momentum(), False),
    ("opt.momentum", "Momentum(use_multi_tensor=True)", _momentum(use_multi_tensor=True), False),
    ("opt.nesterov", "Momentum(use_nesterov=True)", _momentum(use_nesterov=True), False),
    (
        "opt.nesterov",
        "Momentum(use_nesterov=True, use_multi_tensor=True)",
        _momentum(use_nesterov=True, use_multi_tensor=True),
        False,
    ),
    ("opt.weight_decay", "Momentum(weight_decay)", _momentum(weight_decay=True), False),
    (
        "opt.weight_decay",
        "Momentum(weight_decay, use_multi_tensor=True)",
        _momentum(weight_decay=True, use_multi_tensor=True),
        False,
    ),
    ("opt.adagrad", "Adagrad", _adagrad, False),
    ("opt.rmsprop", "RMSProp", _rmsprop(False), False),
    ("opt.rmsprop", "RMSProp(centered=True)", _rmsprop(True), False),
    ("opt.adam", "Adam", _adam(), False),
    ("opt.adam", "Adam(amsgrad=True)", _adam(amsgrad=True), True),
    ("opt.adam", "Adam(use_multi_tensor=True)", _adam(use_multi_tensor=True), False),
    ("opt.adamw", "AdamW", _adam(paddle.optimizer.AdamW), False),
    ("opt.adamw", "AdamW(amsgrad=True)", _adam(paddle.optimizer.AdamW, amsgrad=True), True),
    ("opt.adamax", "Adamax", _adamax, False),
    ("opt.adadelta", "Adadelta", _adadelta, False),
)

#: known findings, by row name (see the repro scripts named in each text)
FINDINGS: dict[str, dict[str, str | Finding]] = {
    "Adamax": {
        "*": Finding(
            "paddle-adamax-eps-inside-max",
            "paddle.optimizer.Adamax adds epsilon to the decayed infinity norm inside the "
            "maximum, inf_norm = max(beta2 * inf_norm + eps, |g|) (its docstring and the adamax "
            "kernel), where the spec adds it outside (m / (u + eps)) or to |g| (max(beta2 u, |g| + "
            "eps)). Minimal counterexample: beta1 = beta2 = 0, one step with g = 0.12573022 in "
            "float64: Paddle steps by lr (u = max(eps, |g|) = |g|), the spec by lr*g/(g + eps), a "
            "relative difference eps/g = 8e-8. Reproduction: repro/adamax_eps.py.",
        )
    }
}


def _impl(
    spec_id: str, name: str, make: Maker, amsgrad: bool
) -> Implementation[OptimizerCase, OptimizerResult]:
    # Paddle's multi-tensor kernels (merged_momentum, merged_adam) refuse float64 parameters
    dtypes = ("float32",) if "use_multi_tensor" in name else DTYPES
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_paddle_optimizer(
            spec_id, make, case, dtype, device, amsgrad=amsgrad
        ),
        dtypes=dtypes,
        devices=("cpu",),
        findings=FINDINGS.get(name, {}),
    )


def implementations() -> list[Implementation[OptimizerCase, OptimizerResult]]:
    """Every optimizer and every flag that selects other code (a separate row each)."""
    return [_impl(*row) for row in OPTIMIZERS]
