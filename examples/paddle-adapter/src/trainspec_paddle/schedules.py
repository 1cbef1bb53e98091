r"""Paddle's learning-rate schedulers (``paddle.optimizer.lr``) for the ``sched.*`` entries.

``values`` reads ``scheduler()`` (the ``last_lr``) after ``t`` calls of ``scheduler.step()``;
``through_optimizer`` hands the scheduler to a real ``paddle.optimizer.SGD`` over one scalar
parameter and runs the loop of Paddle's documentation (``optimizer.step()`` then
``scheduler.step()``), with the parameter reset to 0 and gradient 1 before each step, and reads
the applied learning rate from the parameter. ``ReduceOnPlateau`` gets ``scheduler.step(metric)``
after each check.

Conventions mapped here (each one small function, tested in ``tests/test_schedules.py``):

* :func:`linear_lr_arguments`: ``LinearLR`` multiplies a base learning rate by factors in
  $(0, 1]$: the base is $\max(\eta_0, \eta_\tau)$ and the factors are $\eta_0$ and $\eta_\tau$
  over it (as PyTorch's ``LinearLR``);
* annealing $\eta \leftarrow (1-\beta)\eta$ per epoch is ``ExponentialDecay(gamma = 1 - beta)``;
* :func:`inverse_time_gamma`: ``InverseTimeDecay`` computes $\eta_0 / (1 + \gamma t)$: the spec's
  $(1 + t/s)^{-c}$ with $c = 1$ fixed and $\gamma = 1/s$;
* :func:`piecewise_values`: ``PiecewiseDecay`` takes the values themselves,
  $\eta_0\gamma^i$ for the $i$-th interval;
* ``MultiStepDecay``, ``ExponentialDecay`` and ``StepDecay`` are not offered for their own spec
  IDs: they refuse a factor ``gamma >= 1`` (``MultiStepDecay``: ``ValueError: gamma should be
  < 1.0``; the other two: ``AssertionError: 'gamma' must be in interval (0.0, 1.0)``), where the
  spec draws constant and increasing schedules too (``decay_rate = 1``, ``gamma >= 1``), and an
  implementation cannot declare a narrower domain; ``PiecewiseDecay`` covers
  ``sched.piecewise_constant``, and ``ExponentialDecay`` is checked as annealing
  (``gamma = 1 - beta`` in $(0, 1)$);
* :func:`plateau_arguments`: the spec's plateau hyperparameters by Paddle's names, with
  ``epsilon = 0`` (Paddle skips reductions smaller than ``epsilon``, $10^{-8}$ by default; the
  spec's minimum decrease is 0).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import paddle
from paddle.optimizer import lr as lr_sched

from trainspec.conformance import Finding, Implementation, ScheduleCase, ScheduleResult
from trainspec_paddle import DTYPES

__all__ = [
    "implementations",
    "inverse_time_gamma",
    "linear_lr_arguments",
    "piecewise_values",
    "plateau_arguments",
    "run_plateau",
    "run_scheduler",
]

MakeScheduler = Callable[[Mapping[str, Any]], lr_sched.LRScheduler]


def linear_lr_arguments(eta0: float, eta_tau: float) -> tuple[float, float, float]:
    r"""``(learning_rate, start_factor, end_factor)`` of ``LinearLR`` for a line from $\eta_0$ to
    $\eta_\tau$: ``LinearLR`` requires ``0 < start_factor <= 1`` and ``0 <= end_factor <= 1``, so
    the base is $b = \max(\eta_0, \eta_\tau)$, start $= \eta_0/b$, end $= \eta_\tau/b$."""
    base = max(eta0, eta_tau)
    return base, eta0 / base, eta_tau / base


def inverse_time_gamma(decay_steps: float) -> float:
    r"""``InverseTimeDecay``'s $\gamma$ for the spec's $(1 + t/s)^{-1}$: $\gamma = 1/s$."""
    return 1.0 / float(decay_steps)


def piecewise_values(learning_rate: float, gamma: float, boundaries: int) -> list[float]:
    r"""``PiecewiseDecay``'s values for ``boundaries`` boundaries: $\eta_0\gamma^i$,
    $i = 0, \dots, n$ (one more value than boundaries)."""
    return [float(learning_rate) * float(gamma) ** i for i in range(boundaries + 1)]


def plateau_arguments(hp: Mapping[str, Any], mode: str, threshold_mode: str) -> dict[str, Any]:
    """``ReduceOnPlateau``'s keyword arguments for the spec's hyperparameters."""
    return {
        "learning_rate": float(hp["learning_rate"]),
        "mode": mode,
        "factor": hp["factor"],
        "patience": hp["patience"],
        "threshold": hp["threshold"],
        "threshold_mode": {"relative": "rel", "absolute": "abs"}[threshold_mode],
        "cooldown": hp["cooldown"],
        "min_lr": hp["min_learning_rate"],
        "epsilon": 0.0,
    }


def _applied_step(p: paddle.Tensor, opt: paddle.optimizer.Optimizer) -> float:
    """Reset the parameter to 0, take one SGD step with gradient 1, return the learning rate
    applied."""
    p.set_value(paddle.zeros_like(p))
    p.grad = paddle.ones_like(p)
    opt.step()
    opt.clear_grad()
    return -float(p.numpy())


def _sgd(sched: lr_sched.LRScheduler, dtype: str) -> tuple[paddle.Tensor, Any]:
    p = paddle.create_parameter([], dtype, default_initializer=paddle.nn.initializer.Constant(0.0))
    return p, paddle.optimizer.SGD(learning_rate=sched, parameters=[p])


def run_scheduler(make: MakeScheduler, case: Any, dtype: str, device: str) -> np.ndarray:
    """A schedule case through a real scheduler (see the module docstring)."""
    sched = make(case.hyperparameters)
    out: list[float] = []
    if case.check == "through_optimizer":
        p, opt = _sgd(sched, dtype)
        for _ in case.steps:
            out.append(_applied_step(p, opt))
            sched.step()
    else:
        wanted = set(case.steps)
        for t in range(case.steps[-1] + 1):
            if t > 0:
                sched.step()
            if t in wanted:
                out.append(float(sched()))
    return np.asarray(out, dtype=np.float64)


def run_plateau(mode: str, threshold_mode: str, case: Any, dtype: str, device: str) -> np.ndarray:
    """``ReduceOnPlateau.step(metric)`` per check; the learning rate in effect after each."""
    sched = lr_sched.ReduceOnPlateau(
        **plateau_arguments(case.hyperparameters, mode, threshold_mode)
    )
    p, opt = _sgd(sched, dtype)
    out: list[float] = []
    for m in case.metrics:
        sched.step(float(m))
        out.append(_applied_step(p, opt) if case.check == "through_optimizer" else float(sched()))
    return np.asarray(out, dtype=np.float64)


PLATEAU_COOLDOWN = (
    "paddle.optimizer.lr.ReduceOnPlateau ignores the metrics seen during cooldown: step() "
    "decrements cooldown_counter and returns without comparing the metric with the best, so an "
    "improvement seen during cooldown never becomes the best (the spec, like PyTorch, Keras and "
    "optax, still records it). Minimal counterexample: factor 0.1, patience 0, cooldown 1, "
    "threshold 0.0625 (rel), metrics 0.5, 0.5, 0.5, 0.5, 0.4375, 0.4375: the spec reduces at "
    "the sixth check (0.4375 became the best during cooldown), Paddle does not (it compares "
    "with 0.5). Reproduction: repro/plateau_cooldown.py."
)


def plateau_cooldown_example(mode: str, threshold_mode: str) -> ScheduleCase:
    """The finding's minimal counterexample for one row (its ``examples``, run first in every
    profile): four equal metrics (two reductions, each followed by one check of cooldown), then
    an improvement during the second cooldown, then the same metric again. The spec makes the
    improvement the best, so the last check is bad and reduces; Paddle compares it with the old
    best and sees an improvement. Relative threshold 1/16: 0.4375 in ``min`` mode (0.5625 in
    ``max``); absolute 1/16: 0.375."""
    new = {"relative": 0.4375, "absolute": 0.375}[threshold_mode]
    if mode == "max":
        new = 1.0 - new
    return ScheduleCase(
        "sched.plateau",
        "values",
        {
            "learning_rate": 0.1,
            "factor": 0.1,
            "patience": 0,
            "threshold": 0.0625,
            "cooldown": 1,
            "min_learning_rate": 0.0,
        },
        steps=(0, 1, 2, 3, 4, 5),
        metrics=(0.5, 0.5, 0.5, 0.5, new, new),
    )


def _plateau_finding(mode: str, threshold_mode: str) -> Finding:
    return Finding(
        "paddle-plateau-cooldown-ignores-metrics",
        PLATEAU_COOLDOWN,
        examples=(("values", plateau_cooldown_example(mode, threshold_mode)),),
    )


def _impl(
    spec_id: str, name: str, make: MakeScheduler, **kw: Any
) -> Implementation[ScheduleCase, ScheduleResult]:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_scheduler(make, case, dtype, device),
        dtypes=DTYPES,
        devices=("cpu",),
        **kw,
    )


def _linear(hp: Mapping[str, Any]) -> lr_sched.LRScheduler:
    base, start, end = linear_lr_arguments(hp["learning_rate"], hp["final_learning_rate"])
    return lr_sched.LinearLR(base, int(hp["transition_steps"]), start_factor=start, end_factor=end)


def implementations() -> list[Implementation[ScheduleCase, ScheduleResult]]:
    out = [
        _impl("sched.linear", "LinearLR", _linear),
        _impl(
            "sched.linear",
            "PolynomialDecay(power=1)",
            lambda hp: lr_sched.PolynomialDecay(
                float(hp["learning_rate"]),
                int(hp["transition_steps"]),
                end_lr=float(hp["final_learning_rate"]),
                power=1.0,
            ),
        ),
        _impl(
            "sched.power",
            "InverseTimeDecay(gamma=1/s)",
            lambda hp: lr_sched.InverseTimeDecay(
                float(hp["learning_rate"]), inverse_time_gamma(hp["decay_steps"])
            ),
            description="power c fixed at 1 (InverseTimeDecay has no exponent)",
            options={"fixed": {"power": 1.0}},
        ),
        _impl(
            "sched.piecewise_constant",
            "PiecewiseDecay",
            lambda hp: lr_sched.PiecewiseDecay(
                list(hp["boundaries"]),
                piecewise_values(hp["learning_rate"], hp["gamma"], len(hp["boundaries"])),
            ),
        ),
        _impl(
            "sched.annealing",
            "ExponentialDecay(gamma=1-beta) per epoch",
            lambda hp: lr_sched.ExponentialDecay(
                float(hp["learning_rate"]), 1.0 - float(hp["decay_rate"])
            ),
        ),
    ]
    for mode, tm in (("min", "relative"), ("min", "absolute"), ("max", "relative")):
        out.append(
            Implementation(
                "sched.plateau",
                f"ReduceOnPlateau(mode='{mode}', threshold_mode='{tm[:3]}')",
                functools.partial(run_plateau, mode, tm),
                dtypes=DTYPES,
                devices=("cpu",),
                # every row diverges the same way (same code), on its own example in every profile
                findings={"*": _plateau_finding(mode, tm)},
            )
        )
    return out
