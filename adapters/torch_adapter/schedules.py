r"""PyTorch's learning-rate schedulers (``torch.optim.lr_scheduler``) for the ``sched.*`` entries.

Every scheduler wraps a real ``torch.optim.SGD`` over one scalar parameter. ``values`` reads
``scheduler.get_last_lr()`` after ``t`` calls of ``scheduler.step()``; ``through_optimizer`` runs
the loop of PyTorch's documentation (``optimizer.step()`` then ``scheduler.step()``) with the
parameter reset to 0 and gradient 1, and reads the applied learning rate from the parameter.
``ReduceLROnPlateau`` gets ``scheduler.step(metric)`` after each check.

Conventions mapped here (each one small function, tested in
``tests/adapters/torch_adapter/test_schedules.py``):

* :func:`linear_lr_arguments`: ``LinearLR`` multiplies a base learning rate by factors in
  $(0, 1]$: the base is $\max(\eta_0, \eta_\tau)$ and the factors are $\eta_0$ and $\eta_\tau$
  over it;
* :func:`exponential_lr_gamma`: ``ExponentialLR`` takes the per-step factor $\gamma = r^{1/s}$;
* :func:`annealing_gamma`: annealing is ``ExponentialLR(gamma = 1 - beta)`` stepped once per epoch;
* :func:`plateau_arguments`: the spec's plateau hyperparameters by PyTorch's names, with
  ``eps = 0`` (PyTorch skips reductions smaller than ``eps``, $10^{-8}$ by default; the spec's
  ``min_decrease`` is 0).

PyTorch has no inverse-time (``sched.power``) or legacy ``decay=`` schedule (only ``LambdaLR``
with a user's function): those rows are not offered.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation

__all__ = [
    "annealing_gamma",
    "exponential_lr_gamma",
    "implementations",
    "linear_lr_arguments",
    "plateau_arguments",
    "run_plateau",
    "run_scheduler",
]

Scheduler = Any
MakeScheduler = Callable[[torch.optim.Optimizer, Mapping[str, Any]], Scheduler]


def linear_lr_arguments(eta0: float, eta_tau: float) -> tuple[float, float, float]:
    r"""``(base_lr, start_factor, end_factor)`` of ``LinearLR`` for a line from $\eta_0$ to $\eta_\tau$.

    ``LinearLR`` requires ``0 < start_factor <= 1`` and ``0 <= end_factor <= 1``, so the base is
    the larger end: $b = \max(\eta_0, \eta_\tau)$, start $= \eta_0/b$, end $= \eta_\tau/b$.
    """
    base = max(eta0, eta_tau)
    return base, eta0 / base, eta_tau / base


def exponential_lr_gamma(decay_rate: float, decay_steps: float) -> float:
    r"""``ExponentialLR``'s per-step factor: $\gamma = r^{1/s}$."""
    return float(decay_rate) ** (1.0 / float(decay_steps))


def annealing_gamma(decay_rate: float) -> float:
    r"""Annealing $\eta \leftarrow (1-\beta)\eta$ is ``ExponentialLR(gamma = 1 - beta)``."""
    return 1.0 - float(decay_rate)


def plateau_arguments(hp: Mapping[str, Any], mode: str, threshold_mode: str) -> dict[str, Any]:
    """``ReduceLROnPlateau``'s keyword arguments for the spec's hyperparameters."""
    return {
        "mode": mode,
        "factor": hp["factor"],
        "patience": hp["patience"],
        "threshold": hp["threshold"],
        "threshold_mode": {"relative": "rel", "absolute": "abs"}[threshold_mode],
        "cooldown": hp["cooldown"],
        "min_lr": hp["min_learning_rate"],
        "eps": 0.0,
    }


def _sgd(lr: float, dtype: str, device: str) -> tuple[torch.nn.Parameter, torch.optim.SGD]:
    p = torch.nn.Parameter(torch.zeros((), dtype=_DTYPES[dtype], device=_device(device)))
    return p, torch.optim.SGD([p], lr=lr, foreach=False)


def _applied_step(p: torch.nn.Parameter, opt: torch.optim.Optimizer) -> float:
    """Reset the parameter to 0, take one SGD step with gradient 1, return the learning rate applied."""
    with torch.no_grad():
        p.zero_()
    p.grad = torch.ones_like(p)
    opt.step()
    return -float(p.detach().cpu())


def run_scheduler(
    base_lr: Callable[[Mapping[str, Any]], float],
    make: MakeScheduler,
    case: Any,
    dtype: str,
    device: str,
    *,
    step_first: bool = False,
) -> np.ndarray:
    """A schedule case through a real scheduler (see the module docstring).

    ``step_first`` (planted faults only) calls ``scheduler.step()`` *before* ``optimizer.step()``.
    """
    p, opt = _sgd(base_lr(case.hyperparameters), dtype, device)
    sched = make(opt, case.hyperparameters)
    out: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # "lr_scheduler.step() before optimizer.step()"
        if case.check == "through_optimizer":
            for _ in case.steps:
                if step_first:
                    sched.step()
                out.append(_applied_step(p, opt))
                if not step_first:
                    sched.step()
        else:
            wanted = set(case.steps)
            for t in range(case.steps[-1] + 1):
                if t > 0:
                    sched.step()
                if t in wanted:
                    out.append(float(sched.get_last_lr()[0]))
    return np.asarray(out, dtype=np.float64)


def run_plateau(mode: str, threshold_mode: str, case: Any, dtype: str, device: str) -> np.ndarray:
    """``ReduceLROnPlateau.step(metric)`` per check; the learning rate in effect after each."""
    hp = case.hyperparameters
    p, opt = _sgd(hp["learning_rate"], dtype, device)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **plateau_arguments(hp, mode, threshold_mode))
    out: list[float] = []
    for m in case.metrics:
        sched.step(m)
        if case.check == "through_optimizer":
            out.append(_applied_step(p, opt))
        else:
            out.append(float(opt.param_groups[0]["lr"]))
    return np.asarray(out, dtype=np.float64)


def _linear(opt: torch.optim.Optimizer, hp: Mapping[str, Any]) -> Scheduler:
    _, start, end = linear_lr_arguments(hp["learning_rate"], hp["final_learning_rate"])
    return lr_scheduler.LinearLR(
        opt, start_factor=start, end_factor=end, total_iters=hp["transition_steps"]
    )


def _impl(
    spec_id: str, name: str, run: Callable[..., np.ndarray], description: str = ""
) -> Implementation:
    return Implementation(
        spec_id, name, run, dtypes=tuple(_DTYPES), devices=("cpu", "cuda"), description=description
    )


def _scheduled(
    base_lr: Callable[[Mapping[str, Any]], float], make: MakeScheduler
) -> Callable[..., np.ndarray]:
    return lambda case, dtype, device: run_scheduler(base_lr, make, case, dtype, device)


def _eta0(hp: Mapping[str, Any]) -> float:
    return float(hp["learning_rate"])


def implementations() -> list[Implementation]:
    out = [
        _impl(
            "sched.linear",
            "LinearLR",
            _scheduled(
                lambda hp: linear_lr_arguments(hp["learning_rate"], hp["final_learning_rate"])[0],
                _linear,
            ),
        ),
        Implementation(
            "sched.linear",
            "PolynomialLR(power=1)",
            _scheduled(
                _eta0,
                lambda opt, hp: lr_scheduler.PolynomialLR(
                    opt, total_iters=hp["transition_steps"], power=1.0
                ),
            ),
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
            description="decays to 0 only: final_learning_rate fixed at 0",
            options={"fixed": {"final_learning_rate": 0.0}},
        ),
        _impl(
            "sched.exponential",
            "ExponentialLR(gamma=r**(1/s))",
            _scheduled(
                _eta0,
                lambda opt, hp: lr_scheduler.ExponentialLR(
                    opt, gamma=exponential_lr_gamma(hp["decay_rate"], hp["decay_steps"])
                ),
            ),
        ),
        _impl(
            "sched.exponential",
            "StepLR",
            _scheduled(
                _eta0,
                lambda opt, hp: lr_scheduler.StepLR(
                    opt, step_size=int(hp["decay_steps"]), gamma=hp["decay_rate"]
                ),
            ),
        ),
        _impl(
            "sched.piecewise_constant",
            "MultiStepLR",
            _scheduled(
                _eta0,
                lambda opt, hp: lr_scheduler.MultiStepLR(
                    opt, milestones=list(hp["boundaries"]), gamma=hp["gamma"]
                ),
            ),
        ),
        _impl(
            "sched.annealing",
            "ExponentialLR(gamma=1-beta) per epoch",
            _scheduled(
                _eta0,
                lambda opt, hp: lr_scheduler.ExponentialLR(
                    opt, gamma=annealing_gamma(hp["decay_rate"])
                ),
            ),
        ),
    ]
    for mode, tm in (("min", "relative"), ("min", "absolute"), ("max", "relative")):
        name = f"ReduceLROnPlateau(mode='{mode}', threshold_mode='{tm[:3]}')"
        out.append(
            _impl(
                "sched.plateau",
                name,
                lambda case, dtype, device, mode=mode, tm=tm: run_plateau(
                    mode, tm, case, dtype, device
                ),
            )
        )
    return out
