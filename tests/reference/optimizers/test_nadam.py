import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optimizer_steps import G1, G2, P, run, w

from trainspec import reference
from trainspec.conformance.tracked import track_tree
from trainspec.reference.optimizers import nadam as nadam_card
from trainspec.reference.optimizers.common import (
    CanonicalState,
)
from trainspec.reference.optimizers.nadam import nadam, nadam_momentum_product, nadam_mu


def test_nadam_first_step_by_hand_in_each_schedule():
    g, lr, b1, b2, eps, psi = w(G1), 0.002, 0.9, 0.999, 1e-8, 0.004
    v_hat = g**2  # (0.001 g^2) / (1 - 0.999)
    m = 0.1 * g
    for sched, mu in (
        ("dozat_decay", lambda t: b1 * (1 - 0.5 * 0.96 ** (t * psi))),
        ("dozat_decay_psi1", lambda t: b1 * (1 - 0.5 * 0.96**t)),
        ("none", lambda t: b1),
    ):
        mu1, mu2 = mu(1), mu(2)
        m_hat = mu2 * m / (1 - mu1 * mu2) + (1 - mu1) * g / (1 - mu1)
        out, _ = run(nadam(lr, b1, b2, eps, psi, momentum_schedule=sched), P, [G1])
        np.testing.assert_allclose(
            w(out), w(P) - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-13, err_msg=sched
        )


def test_nadam_without_schedule_is_optax_nadam_over_several_steps():
    b1, b2, eps, lr = 0.8, 0.95, 1e-7, 0.05
    grads = [{"w": np.array([np.sin(i + 1.0), np.cos(2.0 * i), 0.1 * i - 0.3])} for i in range(6)]
    # optax: mu_hat = b1 * m / (1 - b1^(t+1)) + (1 - b1) * g / (1 - b1^t); u = mu_hat / (sqrt(nu_hat) + eps)
    theta, m, v = w(P).copy(), np.zeros(3), np.zeros(3)
    for t, gt in enumerate(grads, start=1):
        g = w(gt)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mu_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        theta = theta - lr * mu_hat / (np.sqrt(v / (1 - b2**t)) + eps)
    out, _ = run(nadam(lr, b1, b2, eps, momentum_schedule="none"), P, grads)
    np.testing.assert_allclose(w(out), theta, rtol=1e-13)


def test_nadam_schedules_differ_and_psi1_is_dozat_decay_with_psi_one():
    grads = [G1, G2, G1]
    a, _ = run(nadam(0.01, momentum_decay=1.0, momentum_schedule="dozat_decay"), P, grads)
    b, _ = run(nadam(0.01, momentum_decay=0.3, momentum_schedule="dozat_decay_psi1"), P, grads)
    c, _ = run(nadam(0.01, momentum_decay=0.004, momentum_schedule="dozat_decay"), P, grads)
    d, _ = run(nadam(0.01, momentum_schedule="none"), P, grads)
    np.testing.assert_allclose(w(a), w(b), rtol=1e-15)
    assert np.max(np.abs(w(c) - w(a))) > 1e-5
    assert np.max(np.abs(w(c) - w(d))) > 1e-5


@given(
    k=st.integers(0, 8),
    sched=st.sampled_from(nadam_card.NADAM_SCHEDULES),
    prec=st.sampled_from(nadam_card.NADAM_SCHEDULE_PRECISIONS),
)
def test_nadam_loaded_state_continues_the_run(k, sched, prec):
    grads = [{"w": np.array([np.sin(i + 1.0), np.cos(3.0 * i), 0.5])} for i in range(k + 1)]
    t = nadam(0.01, 0.9, 0.99, 1e-8, 0.004, momentum_schedule=sched, schedule_precision=prec)
    _, state = run(t, P, grads[:k])
    # the running product takes 0.96 exactly in every precision convention
    assert state.inner[0].mu_product == pytest.approx(
        nadam_momentum_product(k, 0.9, 0.004, sched), rel=1e-14
    )
    e = reference.get("opt.nadam")
    hp = {
        "learning_rate": lambda s: 0.01,
        "beta1": 0.9,
        "beta2": 0.99,
        "eps": 1e-8,
        "momentum_decay": 0.004,
    }
    cs = CanonicalState(k, {"m": state.inner[0].m, "v": state.inner[0].v})
    loaded = e.model.load_state({"momentum_schedule": sched, "schedule_precision": prec}, hp, cs, P)
    u1, _ = t.update(grads[k], state, P)
    u2, _ = t.update(grads[k], loaded, P)
    np.testing.assert_allclose(w(u1), w(u2), rtol=1e-14)
    assert nadam_mu(1, 0.9, 0.004, "none") == 0.9


def test_nadam_schedule_precisions():
    assert nadam_card.nadam_decay("decay_float32") == float(np.float32(0.96)) != 0.96
    assert nadam_card.nadam_decay("as_params") == nadam_card.nadam_decay("product_float32") == 0.96
    with pytest.raises(ValueError, match="schedule_precision"):
        nadam_card.nadam_decay("float16")
    grads = [{"w": np.array([0.5, -1.0, 2.0])}] * 20
    runs = {
        p: w(
            run(nadam(0.1, momentum_schedule="dozat_decay_psi1", schedule_precision=p), P, grads)[0]
        )
        for p in nadam_card.NADAM_SCHEDULE_PRECISIONS
    }
    # 0.96 in float32 moves float64 results far beyond float64 rounding (Keras Nadam in float64)
    assert np.max(np.abs(runs["decay_float32"] - runs["as_params"])) > 1e-10
    # a product held in float32 is the exact product, with a float32 rounding in its bound
    np.testing.assert_array_equal(runs["product_float32"], runs["as_params"])


def test_product_float32_bound_admits_torchs_float32_product_in_float64():
    from trainspec.conformance.tolerance import SAFETY
    from trainspec.conformance.tracked import track_scalar

    b1, psi, t = 0.9, 0.004, 30
    exact = nadam_momentum_product(t, b1, psi, "dozat_decay")
    held = np.float32(1.0)
    for i in range(1, t + 1):  # torch: mu_product *= mu on a float32 tensor
        held = np.float32(held * np.float32(nadam_mu(i, b1, psi, "dozat_decay")))
    hp = [track_scalar(x, "float64") for x in (b1, 0.999, 1e-8, psi)]
    p = track_tree(P, "float64")
    for prec, admits in (("product_float32", True), ("as_params", False)):
        unit = nadam_card.scale_by_nadam(*hp, schedule_precision=prec)
        state = unit.init(p)
        for _ in range(t):
            _, state = unit.update(track_tree(G1, "float64"), state, p)
        prod = state.mu_product
        assert prod.value == pytest.approx(exact, rel=1e-14)
        assert bool(abs(float(held) - exact) <= SAFETY * prod.err) is admits, prec
    # a loaded state: the adapter writes the exact product rounded once to float32
    e = reference.get("opt.nadam")
    hpd = dict(zip(("beta1", "beta2", "eps", "momentum_decay"), hp, strict=True))
    zeros = track_tree({"w": np.zeros(3)}, "float64")
    cs = CanonicalState(t, {"m": zeros, "v": zeros})
    opts = {"momentum_schedule": "dozat_decay", "schedule_precision": "product_float32"}
    loaded = e.model.load_state(opts, {"learning_rate": lambda s: 0.01, **hpd}, cs, p)
    prod = loaded.inner[0].mu_product
    assert abs(float(np.float32(exact)) - exact) <= prod.err
