import numpy as np
from optimizer_steps import G1, G2, P, run, w

from trainspec.reference.optimizers.adamax import adamax


def test_adamax_by_hand_the_eps_forms_agree_first_then_split():
    g1, g2, lr, b1, b2, eps = w(G1), w(G2), 0.002, 0.9, 0.5, 1e-2
    first = w(P) - lr * g1 / (np.abs(g1) + eps)  # m = 0.1 g, c1 = 0.1, u = |g| (+ eps)
    for place in ("outside", "in_max"):
        out, _ = run(adamax(lr, b1, b2, eps, eps_placement=place), P, [G1])
        np.testing.assert_allclose(w(out), first, rtol=1e-14, err_msg=place)
    m2 = 0.9 * 0.1 * g1 + 0.1 * g2
    c1 = 1 - 0.81
    u_keras = np.maximum(0.5 * np.abs(g1), np.abs(g2))
    u_torch = np.maximum(0.5 * (np.abs(g1) + eps), np.abs(g2) + eps)
    a, _ = run(adamax(lr, b1, b2, eps, eps_placement="outside"), P, [G1, G2])
    b, sb = run(adamax(lr, b1, b2, eps, eps_placement="in_max"), P, [G1, G2])
    np.testing.assert_allclose(w(a), first - lr * m2 / (c1 * (u_keras + eps)), rtol=1e-14)
    np.testing.assert_allclose(w(b), first - lr * (m2 / c1) / u_torch, rtol=1e-14)
    np.testing.assert_allclose(w(sb.inner[0].u), u_torch, rtol=1e-15)
    assert np.max(np.abs(w(a) - w(b))) > 1e-6
