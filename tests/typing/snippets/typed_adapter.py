"""Should pass: one correctly typed ``run`` per kind, each in its kind's ``Implementation``."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.conformance import (
    ActivationCase,
    ActivationResult,
    BackpropCase,
    BackpropResult,
    BatchNormCase,
    BatchNormRun,
    ClippingCase,
    ClippingResult,
    DefaultsResult,
    DropoutCase,
    DropoutResult,
    EarlyStoppingCase,
    EarlyStoppingResult,
    FloatArray,
    Implementation,
    InitCase,
    InitResult,
    LinearDropoutCase,
    LossCase,
    LossResult,
    OptimizerCase,
    OptimizerResult,
    RegularizerCase,
    RegularizerResult,
    ScheduleCase,
    ScheduleResult,
    SecondOrderCase,
    SecondOrderResult,
)


def f64(a: Any) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def run_activation(case: ActivationCase, dtype: str, device: str) -> ActivationResult:
    if case.check == "values":
        return {"y": f64(np.maximum(case.z, 0.0))}
    out: ActivationResult = {"z": f64(case.z > 0)}
    out["alpha"] = f64(0.0)
    return out


def run_clipping(case: ClippingCase, dtype: str, device: str) -> ClippingResult:
    return {k: f64(v) for k, v in case.grads.items()}


def run_defaults(case: None, dtype: str, device: str) -> DefaultsResult:
    return {"SGD": {"momentum": 0.0, "nesterov": False}}


def run_dropout(case: DropoutCase, dtype: str, device: str) -> DropoutResult:
    return {"train": f64(np.stack([case.x] * case.passes)), "test": f64(case.x)}


def run_mc_dropout(case: LinearDropoutCase, dtype: str, device: str) -> DropoutResult:
    y = f64(case.x @ case.weight + case.bias)
    return {"train": f64(np.stack([y] * case.passes)), "test": y}


def run_init(case: InitCase, dtype: str, device: str) -> InitResult:
    return f64(np.zeros(case.draws))


def run_loss(case: LossCase, dtype: str, device: str) -> LossResult:
    return {"value": f64(0.0), "grad": f64(np.zeros_like(case.outputs))}


def run_norm(case: BatchNormCase, dtype: str, device: str) -> BatchNormRun:
    xs = [f64(x) for x in case.batches]
    return BatchNormRun(xs, xs, xs, xs, xs, xs, f64(case.test_batch))


def run_optimizer(case: OptimizerCase, dtype: str, device: str) -> OptimizerResult:
    return {k: f64(v) for k, v in case.params.items()}


def run_regularizer(case: RegularizerCase, dtype: str, device: str) -> RegularizerResult:
    return {"weights": f64(case.weights)}


def run_schedule(case: ScheduleCase, dtype: str, device: str) -> ScheduleResult:
    return f64(np.ones(len(case.steps)))


def run_second_order(case: SecondOrderCase, dtype: str, device: str) -> SecondOrderResult:
    return {"grad": f64(case.x), "hvp": f64(case.v)}


def run_backprop(case: BackpropCase, dtype: str, device: str) -> BackpropResult:
    return {k: f64(np.zeros_like(v)) for k, v in case.params.items()}


def run_early_stopping(case: EarlyStoppingCase, dtype: str, device: str) -> EarlyStoppingResult:
    return {"stop_epoch": -1, "restored_epoch": len(case.losses) - 1}


activations: list[Implementation[ActivationCase, ActivationResult]] = [
    Implementation("act.relu", "relu", run_activation)
]
clipping: list[Implementation[ClippingCase, ClippingResult]] = [
    Implementation("clip.value", "clip", run_clipping)
]
defaults: list[Implementation[None, DefaultsResult]] = [
    Implementation("opt.defaults", "SGD", run_defaults, dtypes=())
]
dropout: list[
    Implementation[DropoutCase, DropoutResult] | Implementation[LinearDropoutCase, DropoutResult]
] = [
    Implementation("drop.inverted", "dropout", run_dropout),
    Implementation("drop.mc", "dropout+linear", run_mc_dropout),
]
init: list[Implementation[InitCase, InitResult]] = [Implementation("init.fans", "init", run_init)]
losses: list[Implementation[LossCase, LossResult]] = [Implementation("loss.mse", "mse", run_loss)]
norm: list[Implementation[BatchNormCase, BatchNormRun]] = [
    Implementation("norm.batch", "batchnorm", run_norm)
]
optimizers: list[Implementation[OptimizerCase, OptimizerResult]] = [
    Implementation("opt.sgd", "SGD", run_optimizer)
]
regularizers: list[Implementation[RegularizerCase, RegularizerResult]] = [
    Implementation("reg.max_norm", "max_norm", run_regularizer)
]
schedules: list[Implementation[ScheduleCase, ScheduleResult]] = [
    Implementation("sched.step", "step", run_schedule)
]
second_order: list[Implementation[SecondOrderCase, SecondOrderResult]] = [
    Implementation("so.hvp", "hvp", run_second_order)
]
backprop: list[Implementation[BackpropCase, BackpropResult]] = [
    Implementation("train.backprop", "backprop", run_backprop)
]
early_stopping: list[Implementation[EarlyStoppingCase, EarlyStoppingResult]] = [
    Implementation("train.early_stopping", "early stopping", run_early_stopping)
]
