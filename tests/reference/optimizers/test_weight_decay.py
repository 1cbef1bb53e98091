import numpy as np

from trainspec.reference.base import apply_updates
from trainspec.reference.optimizers.weight_decay import sgd


def run(transform, params, grads):
    state = transform.init(params)
    for g in grads:
        u, state = transform.update(g, state, params)
        params = apply_updates(params, u)
    return params


P = {"w": np.array([1.0, -2.0])}


G = [{"w": np.array([0.5, 1.0])}, {"w": np.array([-1.0, 2.0])}]


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
