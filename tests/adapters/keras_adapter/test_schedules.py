"""Keras's schedules and ReduceLROnPlateau: conversions, hand-checked runs, findings, planted faults."""

import keras
import numpy as np
import pytest
from keras import ops

from trainspec.adapters.keras_adapter.schedules import (
    S,
    annealing_arguments,
    floatx_for,
    implementations,
    inverse_time_arguments,
    piecewise_arguments,
    polynomial_arguments,
    run_legacy_decay_argument,
    run_plateau,
    run_schedule,
)
from trainspec.conformance.kinds.schedules import ScheduleCase


def _case(check, hp, steps, metrics=()):
    return ScheduleCase("sched.test", check, hp, tuple(steps), tuple(metrics))


def test_inverse_time_arguments():
    assert inverse_time_arguments(8) == {"decay_steps": 8, "decay_rate": 1.0}
    assert inverse_time_arguments(decay=1e-6) == {"decay_steps": 1, "decay_rate": 1e-6}
    with pytest.raises(ValueError, match="exactly one"):
        inverse_time_arguments(8, decay=0.1)


def test_polynomial_and_piecewise_arguments():
    assert polynomial_arguments(0.5, 0.1, 7) == {
        "initial_learning_rate": 0.5,
        "decay_steps": 7,
        "end_learning_rate": 0.1,
        "power": 1.0,
    }
    args = piecewise_arguments(1.0, 0.5, (3, 9), np.float32)
    assert args["boundaries"] == [3, 9] and args["values"] == [1.0, 0.5, 0.25]
    assert all(isinstance(v, np.float32) for v in args["values"])


def test_annealing_factor_keeps_the_dtype():
    """Keras converts a Python float through float32: the adapter passes a float64 scalar."""
    assert float(ops.cast(0.999999, "float64")) != 0.999999  # the Keras behaviour
    args = annealing_arguments(1e-6, np.float64)
    assert args["decay_steps"] == 1 and float(ops.cast(args["decay_rate"], "float64")) == 1 - 1e-6


def test_floatx_is_restored():
    before = keras.config.floatx()
    with floatx_for("float64"):
        assert keras.config.floatx() == "float64"
    assert keras.config.floatx() == before


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_piecewise_keeps_the_old_value_at_the_boundary(dtype):
    def make(hp, t):
        return S.PiecewiseConstantDecay(**piecewise_arguments(1.0, 0.5, (2, 4), t))

    got = run_schedule(make, _case("values", {}, range(6)), dtype, "cpu")
    np.testing.assert_array_equal(got, [1, 1, 1, 0.5, 0.5, 0.25])
    got = run_schedule(make, _case("through_optimizer", {}, range(6)), dtype, "cpu")
    np.testing.assert_array_equal(got, [1, 1, 1, 0.5, 0.5, 0.25])


PLATEAU_HP = {
    "learning_rate": 1.0,
    "factor": 0.5,
    "patience": 1,
    "threshold": 0.0,
    "cooldown": 0,
    "min_learning_rate": 0.0,
}


def test_reduce_lr_on_plateau_counts_wait_to_patience():
    # wait >= patience: one bad check (m[1]) is enough with patience 1
    case = _case("values", PLATEAU_HP, range(4), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(run_plateau("min", case, "float32", "cpu"), [1, 0.5, 0.25, 0.125])


def test_legacy_decay_argument_is_ignored_by_keras_3():
    """The finding of the row 'SGD(decay=) as in Vitay's notes': the learning rate stays eta0."""
    case = _case("values", {"learning_rate": 0.5, "decay": 0.5}, [0, 1, 2])
    np.testing.assert_array_equal(run_legacy_decay_argument(case, "float32", "cpu"), [0.5] * 3)


def test_declares_its_rows():
    impls = implementations()
    names = {(i.spec_id, i.name) for i in impls}
    assert ("sched.piecewise_constant", "PiecewiseConstantDecay") in names
    assert ("opt.legacy_decay", "InverseTimeDecay(decay_steps=1, decay_rate=decay)") in names
    power = [i for i in impls if i.spec_id == "sched.power"]
    assert power and all(i.options["fixed"] == {"power": 1.0} for i in power)


# --- planted faults ------------------------------------------------------------------------------


def _staircase_one_step_late(case, dtype, device):
    """Adapter bug: the staircase schedule is evaluated at t - 1 (clamped at 0)."""
    late = _case(case.check, case.hyperparameters, case.steps)

    def make(hp, t):
        inner = S.ExponentialDecay(
            t(hp["learning_rate"]), hp["decay_steps"], hp["decay_rate"], staircase=True
        )
        return lambda step: inner(ops.maximum(ops.convert_to_tensor(step) - 1, 0))

    return run_schedule(make, late, dtype, device)


def _plateau_one_check_late(case, dtype, device):
    """Adapter bug: patience counted from the wrong check (each metric arrives one check late)."""
    late = _case(
        case.check, case.hyperparameters, case.steps, (case.metrics[0], *case.metrics[:-1])
    )
    return run_plateau("min", late, dtype, device)


PLANTED = {
    "staircase one step late": ("sched.exponential", _staircase_one_step_late),
    "plateau patience counted from the wrong check": ("sched.plateau", _plateau_one_check_late),
    "plateau learning rate read before the check": (
        "sched.plateau",
        lambda c, d, dev: run_plateau("min", c, d, dev, late=True),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("tensorflow", spec_id, fault, run)
