"""The Keras adapter: its convention conversions, a hand-checked step, and planted faults."""

import keras
import numpy as np
import pytest

from trainspec.adapters.keras_adapter import (
    KerasAdapter,
    run_keras_optimizer,
    set_learning_rate,
    velocity_from_trace,
)
from trainspec.adapters.keras_adapter.optimizers import _sgd
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.optimizers.common import CanonicalState


def test_velocity_is_minus_learning_rate_times_trace():
    np.testing.assert_array_equal(velocity_from_trace(np.array([2.0, -4.0]), 0.25), [-0.5, 1.0])


def test_set_learning_rate_assigns_the_variable():
    opt = keras.optimizers.SGD(learning_rate=0.1)
    set_learning_rate(opt, 0.5)
    assert float(opt.learning_rate) == 0.5


def test_one_step_from_a_state_by_hand(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    # m = -0.5*b = [-1, -1]; m = 0.5*m - 0.5*g = [-0.75, 0]; theta += m
    out = run_keras_optimizer(_sgd(), case, "float64", "cpu")
    np.testing.assert_array_equal(out["w"], expected)


def test_runs_on_the_tensorflow_backend():
    assert keras.backend.backend() == "tensorflow"
    assert set(KerasAdapter().versions()) >= {"keras", "tensorflow"}


def _wrong_velocity_sign(case, dtype, device):
    """Adapter bug: the canonical trace loaded as +lr*b instead of -lr*b."""
    if case.state is not None:
        flipped = {k: -v for k, v in case.state.buffers["trace"].items()}
        case = OptimizerCase(
            case.params,
            case.grads,
            case.learning_rates,
            case.hyperparameters,
            CanonicalState(case.state.count, {"trace": flipped}),
        )
    return run_keras_optimizer(_sgd(), case, dtype, device)


PLANTED = {
    "nesterov without the look-ahead": (
        "opt.nesterov",
        lambda c, d, dev: run_keras_optimizer(_sgd(), c, d, dev),
    ),
    "velocity loaded with the wrong sign": ("opt.momentum", _wrong_velocity_sign),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("tensorflow", spec_id, fault, run)
