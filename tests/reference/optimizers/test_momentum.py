import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec.reference.base import apply_updates, piecewise_schedule
from trainspec.reference.optimizers.common import (
    trace,
    velocity,
)
from trainspec.reference.optimizers.momentum import momentum
from trainspec.reference.optimizers.weight_decay import sgd


def run(transform, params, grads):
    state = transform.init(params)
    for g in grads:
        u, state = transform.update(g, state, params)
        params = apply_updates(params, u)
    return params


P = {"w": np.array([1.0, -2.0])}


G = [{"w": np.array([0.5, 1.0])}, {"w": np.array([-1.0, 2.0])}]


def test_momentum_by_hand():
    # v1 = -0.1*g1 = [-0.05, -0.1]; v2 = 0.9*v1 - 0.1*g2 = [0.055, -0.29]
    out = run(momentum(0.1, 0.9), P, G)["w"]
    np.testing.assert_allclose(out, [1.0 - 0.05 + 0.055, -2.0 - 0.1 - 0.29], rtol=1e-15)


@given(mu=st.floats(0.0, 0.99), lr=st.floats(1e-3, 1.0), n=st.integers(1, 6))
def test_eta_inside_equals_eta_outside_at_constant_learning_rate(mu, lr, n):
    grads = [{"w": np.array([np.sin(i + 1.0), np.cos(3.0 * i)])} for i in range(n)]
    a = run(momentum(lr, mu, form="eta_inside"), P, grads)["w"]
    b = run(momentum(lr, mu, form="eta_outside"), P, grads)["w"]
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_eta_inside_and_outside_differ_when_the_learning_rate_changes():
    sched = piecewise_schedule([0.1, 0.01])
    a = run(momentum(sched, 0.9, form="eta_inside"), P, G)["w"]
    b = run(momentum(sched, 0.9, form="eta_outside"), P, G)["w"]
    # eta_outside rescales the first gradient by the second learning rate
    assert np.max(np.abs(a - b)) > 1e-3


def test_exponential_average_is_dampened_trace():
    a = run(momentum(0.1, 0.8, form="exponential_average"), P, G)["w"]
    v = np.zeros(2)
    th = P["w"].copy()
    for g in G:
        v = 0.8 * v - 0.2 * g["w"]  # Vitay: v <- a v - (1-a) g; theta += eta v
        th = th + 0.1 * v
    np.testing.assert_allclose(a, th, rtol=1e-15)


def test_first_step_matters_only_with_dampening():
    for form, differs in (("eta_outside", False), ("exponential_average", True)):
        a = run(momentum(0.1, 0.5, form=form, first_step="from_zero"), P, G)["w"]
        b = run(momentum(0.1, 0.5, form=form, first_step="buffer_is_gradient"), P, G)["w"]
        assert (np.max(np.abs(a - b)) > 1e-6) == differs


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: momentum(0.1, 1.0), r"momentum=1.0: must be in \[0.0, 1.0\)"),
        (lambda: momentum(0.1, -0.5), "momentum=-0.5"),
        (lambda: momentum(-1.0, 0.5), "learning_rate=-1.0"),
        (lambda: momentum(0.1, 0.5, form="eta_nowhere"), "form='eta_nowhere': must be one of"),
        (lambda: sgd(0.1, weight_decay=-1e-3), "weight_decay=-0.001"),
        (lambda: sgd(0.1, decay="l3"), "decay='l3'"),
        (lambda: trace(0.5, dampening=1.5), "dampening=1.5"),
    ],
)
def test_bad_hyperparameters_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_mismatched_state_is_named():
    t = velocity(0.1, 0.9)
    s = t.init({"w": np.zeros(3)})
    with pytest.raises(ValueError, match=r"state.velocity\['w'\]: shape \(3,\) must equal"):
        t.update({"w": np.zeros(4)}, s, {"w": np.zeros(4)})
    with pytest.raises(ValueError, match="state.count=-1"):
        t.update({"w": np.zeros(3)}, s._replace(count=-1), {"w": np.zeros(3)})
