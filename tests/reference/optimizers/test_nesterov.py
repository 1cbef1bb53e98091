import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.reference.base import apply_updates
from trainspec.reference.optimizers.nesterov import (
    nesterov,
    nesterov_lookahead_run,
    nesterov_rewritten_run,
)


def run(transform, params, grads):
    state = transform.init(params)
    for g in grads:
        u, state = transform.update(g, state, params)
        params = apply_updates(params, u)
    return params


P = {"w": np.array([1.0, -2.0])}


G = [{"w": np.array([0.5, 1.0])}, {"w": np.array([-1.0, 2.0])}]


lrs_st = st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=6)


@st.composite
def quadratics(draw):
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(rng.uniform(0.1, 5.0, n)) @ q.T
    c = rng.standard_normal(n)
    return (lambda th: a @ (th - c)), rng.standard_normal(n), rng.standard_normal(n)


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
