"""PyTorch's schedulers: the convention conversions, hand-checked runs, and planted faults."""

import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from trainspec.adapters.torch_adapter.schedules import (
    annealing_gamma,
    exponential_lr_gamma,
    implementations,
    linear_lr_arguments,
    plateau_arguments,
    run_plateau,
    run_scheduler,
)
from trainspec.conformance.kinds.schedules import ScheduleCase


def test_linear_lr_arguments_keep_the_factors_in_range():
    assert linear_lr_arguments(0.5, 0.05) == (0.5, 1.0, 0.1)
    base, start, end = linear_lr_arguments(0.1, 0.4)  # a warm-up: the base is the larger end
    assert (base, start, end) == (0.4, 0.25, 1.0)
    assert linear_lr_arguments(0.5, 0.0) == (0.5, 1.0, 0.0)


def test_exponential_and_annealing_gammas():
    assert exponential_lr_gamma(0.25, 2) == 0.5
    assert exponential_lr_gamma(0.1, 1) == 0.1
    assert annealing_gamma(0.25) == 0.75


def test_plateau_arguments_use_torch_names_and_no_eps():
    hp = {
        "learning_rate": 0.1,
        "factor": 0.5,
        "patience": 2,
        "threshold": 0.25,
        "cooldown": 1,
        "min_learning_rate": 0.01,
    }
    args = plateau_arguments(hp, "max", "absolute")
    assert args == {
        "mode": "max",
        "factor": 0.5,
        "patience": 2,
        "threshold": 0.25,
        "threshold_mode": "abs",
        "cooldown": 1,
        "min_lr": 0.01,
        "eps": 0.0,
    }
    lr_scheduler.ReduceLROnPlateau(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), **args
    )


def _case(check, hp, steps, metrics=()):
    return ScheduleCase("sched.test", check, hp, tuple(steps), tuple(metrics))


def _step_lr(opt, hp):
    return lr_scheduler.StepLR(opt, step_size=hp["decay_steps"], gamma=hp["decay_rate"])


HP = {"learning_rate": 1.0, "decay_rate": 0.5, "decay_steps": 3}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_lr_by_hand_values_and_through_sgd(dtype):
    lr0 = lambda hp: hp["learning_rate"]  # noqa: E731
    got = run_scheduler(lr0, _step_lr, _case("values", HP, [0, 2, 3, 5, 6]), dtype, "cpu")
    np.testing.assert_array_equal(got, [1.0, 1.0, 0.5, 0.5, 0.25])
    got = run_scheduler(lr0, _step_lr, _case("through_optimizer", HP, range(7)), dtype, "cpu")
    np.testing.assert_array_equal(got, [1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_reduce_lr_on_plateau_by_hand():
    hp = {
        "learning_rate": 1.0,
        "factor": 0.5,
        "patience": 1,
        "threshold": 0.0,
        "cooldown": 0,
        "min_learning_rate": 0.0,
    }
    # num_bad_epochs > patience: two bad checks (m[1], m[2]) reduce after m[2]
    case = _case("values", hp, range(4), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        run_plateau("min", "relative", case, "float64", "cpu"), [1, 1, 0.5, 0.5]
    )


def test_declares_its_rows():
    names = {(i.spec_id, i.name) for i in implementations()}
    assert ("sched.exponential", "StepLR") in names
    assert ("sched.piecewise_constant", "MultiStepLR") in names
    assert sum(1 for s, _ in names if s == "sched.plateau") == 3
    assert not any(s in ("sched.power", "opt.legacy_decay") for s, _ in names)


# --- planted faults: real torch schedulers, wrong driving; the kit must report diverges ------------


def _steplr_one_step_early(case, dtype, device):
    """Adapter bug: StepLR's staircase read one step early (one scheduler.step() too many)."""

    def make(opt, hp):
        s = _step_lr(opt, hp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # step() before optimizer.step()
            s.step()
        return s

    return run_scheduler(lambda hp: hp["learning_rate"], make, case, dtype, device)


def _scheduler_stepped_before_optimizer(case, dtype, device):
    return run_scheduler(
        lambda hp: hp["learning_rate"],
        lambda opt, hp: lr_scheduler.ExponentialLR(
            opt, gamma=exponential_lr_gamma(hp["decay_rate"], hp["decay_steps"])
        ),
        case,
        dtype,
        device,
        step_first=True,
    )


def _plateau_one_check_late(case, dtype, device):
    """Adapter bug: patience counted from the wrong check (each metric reaches the scheduler one
    check late)."""
    late = ScheduleCase(
        case.spec_id,
        case.check,
        case.hyperparameters,
        case.steps,
        (case.metrics[0], *case.metrics[:-1]),
    )
    return run_plateau("min", "relative", late, dtype, device)


PLANTED = {
    "staircase one step early": ("sched.exponential", _steplr_one_step_early),
    "scheduler.step() before optimizer.step()": (
        "sched.exponential",
        _scheduler_stepped_before_optimizer,
    ),
    "plateau patience counted from the wrong check": ("sched.plateau", _plateau_one_check_late),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("torch", spec_id, fault, run)
