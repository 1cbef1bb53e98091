"""The JAX/optax adapter: its convention conversions, a hand-checked step, and planted faults."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainspec.adapters.jax_adapter import JaxAdapter, load_trace, run_optax, schedule_from_values
from trainspec.conformance.kinds.optimizers import OptimizerCase


def test_schedule_starts_at_the_state_count_and_keeps_the_dtype():
    s = schedule_from_values([0.5, 0.25], start=3, dtype=jnp.float32)
    assert float(s(jnp.asarray(3))) == 0.5 and float(s(jnp.asarray(4))) == 0.25
    assert s(jnp.asarray(3)).dtype == jnp.float32


def test_load_trace_fills_trace_ema_and_counts():
    opt = optax.chain(
        optax.trace(0.9), optax.ema(0.5, debias=False), optax.scale_by_learning_rate(0.1)
    )
    params = {"w": jnp.zeros(2)}
    trace = {"w": jnp.asarray([1.0, 2.0])}
    st = load_trace(opt.init(params), trace, 7)
    assert np.array_equal(st[0].trace["w"], [1.0, 2.0]) and np.array_equal(
        st[1].ema["w"], [1.0, 2.0]
    )
    assert int(st[1].count) == 7


def test_one_step_from_a_state_by_hand(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    out = run_optax(lambda c, lr: optax.sgd(lr, momentum=0.5), case, "float64", "cpu")
    np.testing.assert_array_equal(out["w"], expected)


def test_float32_stays_float32():
    case = OptimizerCase({"w": np.array([1.0])}, [{"w": np.array([1.0])}], [0.1], {})
    out = run_optax(lambda c, lr: optax.sgd(lr), case, "float32", "cpu")
    assert out["w"][0] == np.float64(np.float32(1.0) - np.float32(0.1) * np.float32(1.0))
    assert "optax" in JaxAdapter().versions()


PLANTED = {
    "nesterov without the look-ahead": (
        "opt.nesterov",
        lambda c, lr: optax.sgd(lr, momentum=c.hyperparameters["momentum"]),
    ),
    "decayed weights with the wrong sign": (
        "opt.weight_decay",
        lambda c, lr: optax.chain(
            optax.add_decayed_weights(-c.hyperparameters["weight_decay"]),
            optax.sgd(lr, momentum=c.hyperparameters["momentum"]),
        ),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, make = PLANTED[fault]
    assert_planted_fault_diverges(
        "jax", spec_id, fault, lambda c, d, dev: run_optax(make, c, d, dev)
    )
