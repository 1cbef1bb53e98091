import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.reference.base import apply_updates, piecewise_schedule
from trainspec.reference.optimizers import (
    momentum,
    nesterov,
    nesterov_lookahead_run,
    nesterov_rewritten_run,
    sgd,
    trace,
    velocity,
)


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


def test_nesterov_by_hand_eta_outside():
    # b1 = g1; step = lr*(g1 + mu*b1); b2 = mu*b1 + g2; step = lr*(g2 + mu*b2)
    mu, lr = 0.9, 0.1
    b1 = G[0]["w"]
    th1 = P["w"] - lr * (G[0]["w"] + mu * b1)
    b2 = mu * b1 + G[1]["w"]
    th2 = th1 - lr * (G[1]["w"] + mu * b2)
    np.testing.assert_allclose(
        run(nesterov(lr, mu, form="eta_outside"), P, G)["w"], th2, rtol=1e-15
    )


lrs_st = st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=6)


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


def test_weight_decay_conventions():
    lam, lr = 0.1, 0.5
    one = [G[0]]
    l2 = run(sgd(lr, weight_decay=lam, decay="l2_gradient"), P, one)["w"]
    l2x2 = run(sgd(lr, weight_decay=lam, decay="l2_gradient_2lambda"), P, one)["w"]
    dec = run(sgd(lr, weight_decay=lam, decay="decoupled"), P, one)["w"]
    unscaled = run(sgd(lr, weight_decay=lam, decay="decoupled_unscaled"), P, one)["w"]
    np.testing.assert_allclose(l2, P["w"] - lr * (G[0]["w"] + lam * P["w"]))
    np.testing.assert_allclose(l2x2, P["w"] - lr * (G[0]["w"] + 2 * lam * P["w"]))
    # without momentum, coupled L2 and lr-scaled decoupled decay coincide
    np.testing.assert_allclose(dec, l2, rtol=1e-15)
    np.testing.assert_allclose(unscaled, P["w"] - lr * G[0]["w"] - lam * P["w"])
    # with momentum they do not: the L2 term passes through the buffer
    a = run(sgd(lr, 0.9, weight_decay=lam, decay="l2_gradient"), P, G)["w"]
    b = run(sgd(lr, 0.9, weight_decay=lam, decay="decoupled"), P, G)["w"]
    assert np.max(np.abs(a - b)) > 1e-3


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


# --- the Nesterov erratum as a property: the forms agree with (1 + mu) and not with (1 - mu) --


@st.composite
def quadratics(draw):
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(rng.uniform(0.1, 5.0, n)) @ q.T
    c = rng.standard_normal(n)
    return (lambda th: a @ (th - c)), rng.standard_normal(n), rng.standard_normal(n)


@given(quad=quadratics(), mu=st.floats(0.05, 0.99), lrs=lrs_st)
def test_lookahead_equals_rewritten_with_one_plus_mu(quad, mu, lrs):
    grad_fn, theta, v = quad
    th, vT = nesterov_lookahead_run(grad_fn, theta, v, learning_rates=lrs, momentum=mu)
    tilde, vR = nesterov_rewritten_run(grad_fn, theta + mu * v, v, learning_rates=lrs, momentum=mu)
    scale = 1.0 + np.max(np.abs(th)) + np.max(np.abs(vT))
    np.testing.assert_allclose(tilde, th + mu * vT, atol=1e-9 * scale)
    np.testing.assert_allclose(vR, vT, atol=1e-9 * scale)


@given(quad=quadratics(), mu=st.floats(0.05, 0.99), lrs=lrs_st)
def test_solbergs_printed_one_minus_mu_disagrees(quad, mu, lrs):
    grad_fn, theta, v = quad
    th, vT = nesterov_lookahead_run(grad_fn, theta, v, learning_rates=lrs, momentum=mu)
    printed, _ = nesterov_rewritten_run(
        grad_fn, theta + mu * v, v, learning_rates=lrs, momentum=mu, coefficient=1 - mu
    )
    # after one step the printed form is off by exactly 2*mu*v_1
    assert np.max(np.abs(printed - (th + mu * vT))) > 1e-6 * (1 + np.max(np.abs(vT)))


@given(mu=st.floats(0.05, 0.95), lr=st.floats(1e-3, 1.0), n=st.integers(1, 6))
def test_rewritten_eta_inside_equals_frameworks_forms_at_constant_rate(mu, lr, n):
    grads = [{"w": np.array([np.sin(i + 2.0), 0.3 * i - 1.0])} for i in range(n)]
    a = run(nesterov(lr, mu, form="eta_inside"), P, grads)["w"]
    b = run(nesterov(lr, mu, form="eta_outside"), P, grads)["w"]
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "entry", [e for e in reference.all_entries() if e.errata], ids=lambda e: e.id
)
def test_every_erratum_check_shows_the_difference(entry):
    for erratum in entry.errata:
        evidence = erratum.check()
        assert evidence.shows_difference, (erratum.source.author, evidence)


def test_vitay_lookahead_is_right_when_eta_is_one():
    grad_fn = lambda th: 2.0 * th  # noqa: E731
    th0, v0 = np.array([1.0, -1.0]), np.array([0.3, 0.2])
    kw = dict(learning_rates=[1.0] * 5, momentum=0.5, form="exponential_average")
    a = nesterov_lookahead_run(grad_fn, th0, v0, **kw)
    b = nesterov_lookahead_run(grad_fn, th0, v0, lookahead_scale=0.5, **kw)
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=0)
