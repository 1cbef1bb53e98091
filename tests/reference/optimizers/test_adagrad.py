import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from optimizer_steps import G1, G2, P, run, w

from trainspec.reference.optimizers.adagrad import adagrad
from trainspec.reference.optimizers.rmsprop import rmsprop


def test_adagrad_by_hand_both_eps_placements_and_initial_value():
    g1, g2, lr, eps = w(G1), w(G2), 0.1, 1e-3
    # outside, G0 = 0: G1 = g1^2, G2 = g1^2 + g2^2
    th1 = w(P) - lr * g1 / (np.abs(g1) + eps)
    th2 = th1 - lr * g2 / (np.sqrt(g1**2 + g2**2) + eps)
    out, state = run(adagrad(lr, eps), P, [G1, G2])
    np.testing.assert_allclose(w(out), th2, rtol=1e-15)
    np.testing.assert_allclose(w(state.inner[0].accumulator), g1**2 + g2**2, rtol=1e-15)
    # inside, G0 = 0.1
    th = w(P) - lr * g1 / np.sqrt(0.1 + g1**2 + eps)
    out, _ = run(adagrad(lr, eps, initial_accumulator_value=0.1, eps_placement="inside"), P, [G1])
    np.testing.assert_allclose(w(out), th, rtol=1e-15)


@given(rho=st.floats(0.0, 0.99), lr=st.floats(1e-3, 1.0))
def test_adagrad_first_step_is_rmsprop_with_the_learning_rate_rescaled(rho, lr):
    tiny = 1e-300
    a = w(run(adagrad(lr, tiny), P, [G1])[0])
    b = w(run(rmsprop(lr * math.sqrt(1.0 - rho), rho, tiny), P, [G1])[0])
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)  # atol: theta - lr*sign(g) may cancel
    # both are sign descent on the first step: theta - lr * sign(g)
    np.testing.assert_allclose(a, w(P) - lr * np.sign(w(G1)), rtol=1e-13, atol=1e-14)
