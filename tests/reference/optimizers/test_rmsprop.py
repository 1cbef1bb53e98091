import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from optimizer_steps import G1, G2, P, run, w

from trainspec.reference.base import piecewise_schedule
from trainspec.reference.optimizers.rmsprop import rmsprop


def test_rmsprop_by_hand_plain_and_centered():
    g, lr, rho, eps = w(G1), 0.01, 0.9, 1e-7
    s = 0.1 * g**2
    out, state = run(rmsprop(lr, rho, eps), P, [G1])
    np.testing.assert_allclose(w(out), w(P) - lr * g / (np.sqrt(s) + eps), rtol=1e-15)
    np.testing.assert_array_equal(
        w(state.inner[0].grad_avg), 0.0
    )  # plain: the average of g is not kept
    np.testing.assert_allclose(w(state.inner[0].square_avg), s, rtol=1e-15)
    out, _ = run(rmsprop(lr, rho, eps, eps_placement="inside"), P, [G1])
    np.testing.assert_allclose(w(out), w(P) - lr * g / np.sqrt(s + eps), rtol=1e-15)
    # centered: gbar = 0.1 g, s - gbar^2 = 0.09 g^2, root 0.3 |g|
    out, state = run(rmsprop(lr, rho, eps, centered=True), P, [G1])
    np.testing.assert_allclose(w(out), w(P) - lr * g / (0.3 * np.abs(g) + eps), rtol=1e-14)
    np.testing.assert_allclose(w(state.inner[0].grad_avg), 0.1 * g, rtol=1e-15)


def test_rmsprop_momentum_forms_by_hand_with_a_changing_learning_rate():
    lr = piecewise_schedule([0.1, 0.01])
    rho, eps, mu = 0.5, 1e-8, 0.9
    d1 = w(G1) / (np.sqrt(0.5 * w(G1) ** 2) + eps)
    s2 = 0.5 * 0.5 * w(G1) ** 2 + 0.5 * w(G2) ** 2
    d2 = w(G2) / (np.sqrt(s2) + eps)
    # eta_outside (PyTorch): b <- mu b + d; theta <- theta - eta b
    th_out = w(P) - 0.1 * d1 - 0.01 * (mu * d1 + d2)
    # eta_inside (Keras/optax): v <- mu v - eta d; theta <- theta + v
    th_in = w(P) - 0.1 * d1 + (mu * (-0.1 * d1) - 0.01 * d2)
    a, _ = run(rmsprop(lr, rho, eps, mu, momentum_form="eta_outside"), P, [G1, G2])
    b, _ = run(rmsprop(lr, rho, eps, mu, momentum_form="eta_inside"), P, [G1, G2])
    np.testing.assert_allclose(w(a), th_out, rtol=1e-14)
    np.testing.assert_allclose(w(b), th_in, rtol=1e-14)
    assert np.max(np.abs(w(a) - w(b))) > 1e-3


@given(lr=st.floats(1e-3, 1.0), mu=st.floats(0.0, 0.99), n=st.integers(1, 5))
def test_rmsprop_momentum_forms_agree_at_a_constant_learning_rate(lr, mu, n):
    gs = [{"w": np.array([np.sin(i + 1.0), np.cos(2.0 * i), 1.0])} for i in range(n)]
    a = w(run(rmsprop(lr, 0.9, 1e-7, mu, momentum_form="eta_inside"), P, gs)[0])
    b = w(run(rmsprop(lr, 0.9, 1e-7, mu, momentum_form="eta_outside"), P, gs)[0])
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
