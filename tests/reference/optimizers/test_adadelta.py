import numpy as np
from optimizer_steps import G1, G2, P, run, w

from trainspec.reference.optimizers.adadelta import adadelta


def test_adadelta_by_hand_two_steps():
    rho, eps, lr = 0.95, 1e-6, 1.0
    g1, g2 = w(G1), w(G2)
    s1 = 0.05 * g1**2
    d1 = np.sqrt(eps) / np.sqrt(s1 + eps) * g1
    a1 = 0.05 * d1**2
    s2 = 0.95 * s1 + 0.05 * g2**2
    d2 = np.sqrt(a1 + eps) / np.sqrt(s2 + eps) * g2
    out, state = run(adadelta(lr, rho, eps), P, [G1, G2])
    np.testing.assert_allclose(w(out), w(P) - d1 - d2, rtol=1e-14)
    np.testing.assert_allclose(w(state.inner[0].acc_delta), 0.95 * a1 + 0.05 * d2**2, rtol=1e-14)
    # the learning rate scales the step but not the accumulated squared step
    out2, state2 = run(adadelta(0.5, rho, eps), P, [G1, G2])
    np.testing.assert_allclose(w(out2), w(P) - 0.5 * (d1 + d2), rtol=1e-14)
    np.testing.assert_allclose(
        w(state2.inner[0].acc_delta), w(state.inner[0].acc_delta), rtol=1e-15
    )
