import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.kinds.optimizers import OptimizerCase, reference_optimizer_run
from trainspec.conformance.tracked import Tracked, track_tree
from trainspec.reference import adaptive
from trainspec.reference.adaptive import (
    BUFFER_MEANINGS,
    NONNEGATIVE_BUFFERS,
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    nadam,
    nadam_momentum_product,
    nadam_mu,
    rmsprop,
    scale_by_adam,
)
from trainspec.reference.base import apply_updates, piecewise_schedule
from trainspec.reference.optimizers import CanonicalState

NEW_IDS = (
    "opt.adagrad",
    "opt.rmsprop",
    "opt.adam",
    "opt.adamw",
    "opt.nadam",
    "opt.adamax",
    "opt.adadelta",
)

P = {"w": np.array([1.0, -2.0, 0.5])}
G1 = {"w": np.array([0.5, 1.0, -3.0])}
G2 = {"w": np.array([-1.0, 2.0, 0.25])}


def run(transform, params, grads, state=None):
    state = transform.init(params) if state is None else state
    for g in grads:
        u, state = transform.update(g, state, params)
        params = apply_updates(params, u)
    return params, state


def w(tree):
    return tree["w"]


# ---------------------------------------------------------------------------------------------
# hand-computed steps


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


def test_adam_first_step_by_hand_in_every_eps_form():
    g, lr, b1, b2, eps = w(G1), 0.001, 0.9, 0.999, 1e-3
    # m = 0.1 g, v = 0.001 g^2; corrected: m_hat = g, v_hat = g^2
    cases = {
        "outside": g / (np.abs(g) + eps),
        "inside": g / np.sqrt(g**2 + eps),
        "eps_hat": (math.sqrt(0.001) / 0.1) * (0.1 * g) / (np.sqrt(0.001) * np.abs(g) + eps),
    }
    for place, step in cases.items():
        out, _ = run(adam(lr, b1, b2, eps, eps_placement=place), P, [G1])
        np.testing.assert_allclose(w(out), w(P) - lr * step, rtol=1e-13, err_msg=place)
    out, _ = run(adam(lr, b1, b2, eps, bias_correction=False), P, [G1])
    np.testing.assert_allclose(
        w(out), w(P) - lr * 0.1 * g / (np.sqrt(0.001) * np.abs(g) + eps), rtol=1e-13
    )


def test_adam_step_from_a_loaded_state_by_hand():
    e = reference.get("opt.adam")
    m0, v0, vmax0 = (
        np.array([0.2, -0.1, 0.0]),
        np.array([0.04, 0.5, 1.0]),
        np.array([5.0, 0.0, 2.0]),
    )
    cs = CanonicalState(3, {"m": {"w": m0}, "v": {"w": v0}, "v_max": {"w": vmax0}})
    hp = {"learning_rate": lambda t: 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-6}
    g = w(G1)
    m = 0.9 * m0 + 0.1 * g
    v = 0.99 * v0 + 0.01 * g**2
    c1, c2 = 1 - 0.9**4, 1 - 0.99**4
    expect = {
        "default": -0.01 * (m / c1) / (np.sqrt(v / c2) + 1e-6),
        "amsgrad=max_uncorrected": -0.01 * (m / c1) / (np.sqrt(np.maximum(vmax0, v) / c2) + 1e-6),
        "amsgrad=max_corrected": -0.01 * (m / c1) / (np.sqrt(np.maximum(vmax0, v / c2)) + 1e-6),
        "eps=eps_hat, amsgrad=max_uncorrected": -0.01
        * math.sqrt(c2)
        / c1
        * m
        / (np.sqrt(np.maximum(vmax0, v)) + 1e-6),
    }
    for name, step in expect.items():
        opts = dict(kv.split("=") for kv in name.split(", ")) if name != "default" else {}
        o = e.variant(**opts).options
        t = e.model.build(o, hp)
        u, state = t.update(G1, e.model.load_state(o, hp, cs, P), P)
        np.testing.assert_allclose(w(u), step, rtol=1e-13, err_msg=name)
        assert state.inner[0].count == 4


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
    sched=st.sampled_from(adaptive.NADAM_SCHEDULES),
    prec=st.sampled_from(adaptive.NADAM_SCHEDULE_PRECISIONS),
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


def test_adamw_by_hand_both_decay_scalings():
    lr, lam = 0.01, 0.1
    adam_only, _ = run(adam(lr), P, [G1])
    step = w(adam_only) - w(P)
    a, _ = run(adamw(lr, weight_decay=lam), P, [G1])
    b, _ = run(adamw(lr, weight_decay=lam, decay_scaling="lambda_only"), P, [G1])
    np.testing.assert_allclose(w(a), w(P) + step - lr * lam * w(P), rtol=1e-14)
    np.testing.assert_allclose(w(b), w(P) + step - lam * w(P), rtol=1e-14)
    c, _ = run(adamw(lr, weight_decay=0.0), P, [G1, G2])
    d, _ = run(adam(lr), P, [G1, G2])
    np.testing.assert_allclose(w(c), w(d), rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# identities


grad_seq = st.lists(
    st.lists(st.floats(-10.0, 10.0).filter(lambda x: abs(x) > 1e-3), min_size=3, max_size=3),
    min_size=1,
    max_size=5,
)


@given(grads=grad_seq)
def test_eps_inside_and_outside_agree_as_eps_vanishes(grads):
    gs = [{"w": np.array(g)} for g in grads]
    tiny = 1e-300  # below the rounding of any root here: the two placements give the same numbers
    pairs = [
        (adagrad(0.1, tiny), adagrad(0.1, tiny, eps_placement="inside")),
        (rmsprop(0.1, 0.9, tiny), rmsprop(0.1, 0.9, tiny, eps_placement="inside")),
        (
            rmsprop(0.1, 0.9, tiny, centered=True),
            rmsprop(0.1, 0.9, tiny, centered=True, eps_placement="inside"),
        ),
        (adam(0.1, eps=tiny), adam(0.1, eps=tiny, eps_placement="inside")),
        (adam(0.1, eps=tiny), adam(0.1, eps=tiny, eps_placement="eps_hat")),
        (adamax(0.1, eps=tiny), adamax(0.1, eps=tiny, eps_placement="in_max")),
    ]
    for a, b in pairs:
        np.testing.assert_allclose(
            w(run(a, P, gs)[0]), w(run(b, P, gs)[0]), rtol=1e-13, atol=1e-300
        )


@given(
    mags=st.lists(st.floats(1e-2, 10.0), min_size=1, max_size=6),
    signs=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_amsgrad_equals_adam_while_the_second_moment_does_not_decrease(mags, signs):
    # non-decreasing |g| makes v (and the bias-corrected v-hat) non-decreasing
    mags = sorted(mags)
    gs = [{"w": np.array([m if s else -m, m, -m])} for m, s in zip(mags, signs, strict=False)]
    base = w(run(adam(0.01, 0.9, 0.99, 1e-8), P, gs)[0])
    for form in ("max_uncorrected", "max_corrected"):
        out = w(run(adam(0.01, 0.9, 0.99, 1e-8, amsgrad=form), P, gs)[0])
        np.testing.assert_allclose(out, base, rtol=1e-12, err_msg=form)


def test_amsgrad_differs_from_adam_once_the_second_moment_falls():
    gs = [{"w": np.array([10.0, 10.0, 10.0])}, {"w": np.array([0.1, 0.1, 0.1])}]
    a = w(run(adam(0.01, 0.9, 0.5, 1e-8), P, gs)[0])
    b = w(run(adam(0.01, 0.9, 0.5, 1e-8, amsgrad="max_uncorrected"), P, gs)[0])
    c = w(run(adam(0.01, 0.9, 0.5, 1e-8, amsgrad="max_corrected"), P, gs)[0])
    assert np.max(np.abs(a - b)) > 1e-4 and np.max(np.abs(b - c)) > 1e-4


@given(count=st.integers(10**5, 10**7))
def test_bias_correction_off_equals_on_after_many_steps(count):
    m0, v0 = np.array([0.3, -0.2, 0.0]), np.array([0.5, 0.1, 2.0])
    outs = []
    for bc in (True, False):
        t = scale_by_adam(0.9, 0.999, 1e-8, bias_correction=bc)
        state = t.init(P)._replace(count=count, m={"w": m0}, v={"w": v0})
        outs.append(w(t.update(G1, state, P)[0]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)
    # and they differ early on
    early = [
        w(
            scale_by_adam(0.9, 0.999, 1e-8, bias_correction=bc).update(
                G1, scale_by_adam(0.9, 0.999, 1e-8).init(P), P
            )[0]
        )
        for bc in (True, False)
    ]
    assert np.max(np.abs(early[0] - early[1])) > 0.1


@given(rho=st.floats(0.0, 0.99), lr=st.floats(1e-3, 1.0))
def test_adagrad_first_step_is_rmsprop_with_the_learning_rate_rescaled(rho, lr):
    tiny = 1e-300
    a = w(run(adagrad(lr, tiny), P, [G1])[0])
    b = w(run(rmsprop(lr * math.sqrt(1.0 - rho), rho, tiny), P, [G1])[0])
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)  # atol: theta - lr*sign(g) may cancel
    # both are sign descent on the first step: theta - lr * sign(g)
    np.testing.assert_allclose(a, w(P) - lr * np.sign(w(G1)), rtol=1e-13, atol=1e-14)


@given(beta2=st.floats(0.0, 0.999), n=st.integers(1, 5))
def test_adam_without_momentum_or_bias_correction_is_rmsprop(beta2, n):
    gs = [{"w": np.array([np.sin(i + 1.0), -2.0 + i, 0.3])} for i in range(n)]
    a = w(run(adam(0.01, 0.0, beta2, 1e-7, bias_correction=False), P, gs)[0])
    b = w(run(rmsprop(0.01, beta2, 1e-7), P, gs)[0])
    np.testing.assert_allclose(a, b, rtol=1e-13)


@given(lr=st.floats(1e-3, 1.0), mu=st.floats(0.0, 0.99), n=st.integers(1, 5))
def test_rmsprop_momentum_forms_agree_at_a_constant_learning_rate(lr, mu, n):
    gs = [{"w": np.array([np.sin(i + 1.0), np.cos(2.0 * i), 1.0])} for i in range(n)]
    a = w(run(rmsprop(lr, 0.9, 1e-7, mu, momentum_form="eta_inside"), P, gs)[0])
    b = w(run(rmsprop(lr, 0.9, 1e-7, mu, momentum_form="eta_outside"), P, gs)[0])
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_adam_eps_hat_differs_from_outside_with_bias_correction():
    a = w(run(adam(0.01, eps=1e-2), P, [G1])[0])
    b = w(run(adam(0.01, eps=1e-2, eps_placement="eps_hat"), P, [G1])[0])
    assert np.max(np.abs(a - b)) > 1e-4


def test_padilla_montani_candidate_erratum_shows_the_difference():
    ev = adaptive.padilla_montani_adam_erratum().check()
    assert ev.shows_difference
    assert ev.printed_error > 0.1 and ev.corrected_error < 1e-12


# ---------------------------------------------------------------------------------------------
# argument validation


@pytest.mark.parametrize(
    ("factory", "kwargs", "name"),
    [
        (adam, {"beta1": 1.0}, "beta1"),
        (adam, {"beta2": -0.1}, "beta2"),
        (adam, {"eps": -1e-8}, "eps"),
        (adam, {"eps": 0.0}, "eps"),
        (adam, {"eps": float("nan")}, "eps"),
        (adam, {"eps_placement": "under"}, "eps_placement"),
        (adam, {"amsgrad": "on"}, "amsgrad"),
        (adam, {"learning_rate": -0.1}, "learning_rate"),
        (adamw, {"weight_decay": -1.0}, "weight_decay"),
        (adamw, {"decay_scaling": "lr"}, "decay_scaling"),
        (adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
        (adagrad, {"eps_placement": "eps_hat"}, "eps_placement"),
        (rmsprop, {"rho": 1.0}, "rho"),
        (rmsprop, {"momentum": 1.0}, "momentum"),
        (rmsprop, {"momentum_form": "exponential_average"}, "momentum_form"),
        (nadam, {"momentum_decay": -0.004}, "momentum_decay"),
        (nadam, {"momentum_schedule": "keras"}, "momentum_schedule"),
        (nadam, {"beta1": 1.0}, "beta1"),
        (adamax, {"eps_placement": "inside"}, "eps_placement"),
        (adamax, {"beta2": 1.5}, "beta2"),
        (adadelta, {"rho": 1.0}, "rho"),
        (adadelta, {"eps": 0.0}, "eps"),
    ],
)
def test_invalid_hyperparameters_are_rejected_when_built(factory, kwargs, name):
    kw = {"learning_rate": 0.01, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}="):
        factory(**kw)


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="centered"):
        rmsprop(0.1, centered="yes")
    with pytest.raises(TypeError, match="bias_correction"):
        adam(0.1, bias_correction="on")
    with pytest.raises(TypeError, match="beta1"):
        adam(0.1, beta1="0.9")


@pytest.mark.parametrize(
    "transform",
    [
        adagrad(0.1),
        rmsprop(0.1, centered=True),
        adam(0.1, amsgrad="max_corrected"),
        adamw(0.1),
        nadam(0.1),
        adamax(0.1),
        adadelta(),
    ],
    ids=["adagrad", "rmsprop", "adam", "adamw", "nadam", "adamax", "adadelta"],
)
def test_wrong_tree_shapes_and_names_are_rejected(transform):
    state = transform.init(P)
    with pytest.raises(ValueError, match=r"shape \(2,\) must equal|shape \(3,\) must equal"):
        transform.update({"w": np.zeros(2)}, state, P)
    with pytest.raises(ValueError, match="must have the same names"):
        transform.update({"v": np.zeros(3)}, state, P)
    with pytest.raises(TypeError, match="updates"):
        transform.update({"w": np.zeros(3, dtype=np.int64)}, state, P)


def test_a_bad_state_count_is_rejected():
    t = adam(0.1)
    state = t.init(P)
    bad = state._replace(inner=(state.inner[0]._replace(count=-1), state.inner[1]))
    with pytest.raises(ValueError, match="state.count"):
        t.update(G1, bad, P)


def test_amsgrad_needs_its_running_maximum():
    t = scale_by_adam(0.9, 0.999, 1e-8, amsgrad="max_uncorrected")
    state = t.init(P)._replace(v_max=None)
    with pytest.raises(ValueError, match="state.v_max"):
        t.update(G1, state, P)


# ---------------------------------------------------------------------------------------------
# the registered entries


def test_new_ids_are_registered_with_documented_buffers():
    for spec_id in NEW_IDS:
        e = reference.get(spec_id)
        assert e.kind == "optimizers"
        assert set(e.model.buffers) == set(BUFFER_MEANINGS[spec_id]), spec_id
        assert e.hyperparameters[0] is reference.optimizers.LEARNING_RATE
    assert {"v", "v_max", "accumulator", "square_avg", "u", "acc_delta"} <= NONNEGATIVE_BUFFERS
    assert not {"m", "grad_avg", "momentum_buffer"} & NONNEGATIVE_BUFFERS


def test_expected_axes_and_defaults():
    axes = {
        spec_id: {a.name: [o.name for o in a.options] for a in reference.get(spec_id).variant_axes}
        for spec_id in NEW_IDS
    }
    assert axes["opt.adam"] == {
        "eps": ["outside", "inside", "eps_hat"],
        "bias_correction": ["on", "off"],
        "amsgrad": ["off", "max_uncorrected", "max_corrected", "max_never_corrected"],
    }
    assert axes["opt.adagrad"] == {"eps": ["outside", "inside"]}
    assert axes["opt.rmsprop"]["centered"] == ["plain", "centered"]
    assert axes["opt.nadam"] == {
        "momentum_schedule": ["dozat_decay", "dozat_decay_psi1", "none"],
        "schedule_precision": ["as_params", "decay_float32", "product_float32"],
    }
    assert axes["opt.adamax"] == {"eps": ["outside", "in_max"]}
    assert axes["opt.adamw"]["decay_scaling"] == ["lr_times_lambda", "lambda_only"]
    assert axes["opt.adadelta"] == {}
    for spec_id in NEW_IDS:
        names = {c.title for c in reference.get(spec_id).citations}
        assert any(c.document for c in reference.get(spec_id).citations)
        assert names & {
            "Adaptive subgradient methods for online learning and stochastic optimization",
            "Lecture 6.5 - RMSProp: Divide the gradient by a running average of its recent magnitude",
            "Adam: A method for stochastic optimization",
            "Incorporating Nesterov momentum into Adam",
            "ADADELTA: An adaptive learning rate method",
        }, spec_id


def _hyperparameters(entry):
    values = {
        "beta1": 0.9,
        "beta2": 0.99,
        "eps": 1e-6,
        "rho": 0.9,
        "momentum": 0.5,
        "initial_accumulator_value": 0.1,
        "momentum_decay": 0.004,
        "weight_decay": 0.01,
    }
    return {h.name: values[h.name] for h in entry.hyperparameters if h.name != "learning_rate"}


def _all_variants():
    return [(spec_id, v) for spec_id in NEW_IDS for v in reference.get(spec_id).variants()]


@pytest.mark.parametrize(("spec_id", "variant"), _all_variants(), ids=lambda x: str(x))
def test_every_variant_runs_on_arrays_and_on_tracked_arrays(spec_id, variant):
    entry = reference.get(spec_id)
    rng = np.random.default_rng(0)
    params = {"a": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.array([0.75, -0.125])}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    hp = dict(_hyperparameters(entry), learning_rate=lambda t: 0.01)
    opts = variant.options
    cs = _canonical_for(entry, params, rng)
    for start in ("init", "loaded"):
        results = []
        for kind in ("float64", "tracked"):
            t = entry.model.build(opts, hp)
            p = params if kind == "float64" else track_tree(params, "float32")
            g = grads if kind == "float64" else track_tree(grads, "float32")
            if start == "init":
                state = t.init(p)
            else:
                c = (
                    cs
                    if kind == "float64"
                    else CanonicalState(
                        cs.count, {b: track_tree(x, "float32") for b, x in cs.buffers.items()}
                    )
                )
                state = entry.model.load_state(opts, hp, c, p)
            updates, _ = t.update(g, state, p)
            new = apply_updates(p, updates)
            results.append(new)
        plain, tracked = results
        for k in params:
            assert isinstance(tracked[k], Tracked)
            assert np.all(np.isfinite(plain[k])), (start, k)
            np.testing.assert_allclose(tracked[k].value, plain[k], rtol=0, atol=0)
            assert np.all(np.isfinite(tracked[k].err)) and np.all(tracked[k].err >= 0)
            assert np.any(tracked[k].err > 0)  # rounding was tracked
            assert not np.array_equal(plain[k], params[k])  # the step moved the parameters


@pytest.mark.parametrize("spec_id", NEW_IDS)
def test_the_kit_runs_every_variant_one_step_and_a_trajectory(spec_id):
    entry = reference.get(spec_id)
    rng = np.random.default_rng(1)
    params = {"w0": np.array([0.5, -1.0, 2.0]), "w1": np.array([[0.25]])}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(3)]
    hps = _hyperparameters(entry)
    one = OptimizerCase(params, grads[:1], [0.01], hps, state=_canonical_for(entry, params, rng))
    traj = OptimizerCase(params, grads, [0.01, 0.005, 0.001], hps)
    for v in entry.variants():
        for case in (one, traj):
            out = reference_optimizer_run(entry.model, v, case, "float32")
            for k in params:
                assert np.all(np.isfinite(out[k].value)) and np.all(np.isfinite(out[k].err))


def _canonical_for(entry, params, rng):
    bufs = {}
    for b in entry.model.buffers:
        bufs[b] = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        if b in NONNEGATIVE_BUFFERS:
            bufs[b] = {k: np.abs(x) for k, x in bufs[b].items()}
    if entry.id == "opt.rmsprop":
        bufs["square_avg"] = {k: bufs["grad_avg"][k] ** 2 + bufs["square_avg"][k] for k in params}
    return CanonicalState(count=5, buffers=bufs)


# ---------------------------------------------------------------------------------------------
# evaluation orders and precision conventions the frameworks use


def _f32(x):
    return np.float32(x)


def test_moving_average_bound_covers_the_interpolation_order_and_only_rounding():
    from trainspec.conformance.tolerance import compare
    from trainspec.conformance.tracked import track_scalar

    beta = 0.0009765625  # small beta: the two orders round differently
    a = np.array([1.0e6, -3.0, 7.5, 1.0e-3], dtype=np.float32)
    x = np.array([1.0e-2, 2.0, -7.25, 5.0e3], dtype=np.float32)
    one_minus = _f32(1.0) - _f32(beta)
    lerp = (a + one_minus * (x - a)).astype(np.float64)  # Keras, torch.lerp
    plain = (_f32(beta) * a + one_minus * x).astype(np.float64)
    exact = beta * a.astype(np.float64) + (1.0 - beta) * x.astype(np.float64)
    tracked = adaptive.moving_average(
        track_scalar(beta, "float32"), *track_tree({"a": a, "x": x}, "float32").values()
    )
    np.testing.assert_array_equal(tracked.value, exact)
    assert compare(lerp, tracked, "float32")[2] <= 1.0
    assert compare(plain, tracked, "float32")[2] <= 1.0
    assert not np.array_equal(lerp, plain)  # the orders do round differently here
    # the bound is a rounding bound, not a licence: a wrong beta is far outside it
    wrong = (_f32(1.0 - beta) * a + _f32(beta) * x).astype(np.float64)
    assert compare(wrong, tracked, "float32")[2] > 1e3
    np.testing.assert_allclose(adaptive.moving_average(0.25, 4.0, 8.0), 7.0, rtol=0)


def test_amsgrad_max_never_corrected_by_hand_is_optax_bias_correction_nu_false():
    e = reference.get("opt.adam")
    m0, v0, vmax0 = (
        np.array([0.2, -0.1, 0.0]),
        np.array([0.04, 0.5, 1.0]),
        np.array([5.0, 0.0, 2.0]),
    )
    cs = CanonicalState(3, {"m": {"w": m0}, "v": {"w": v0}, "v_max": {"w": vmax0}})
    hp = {"learning_rate": lambda t: 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-6}
    g = w(G1)
    m = 0.9 * m0 + 0.1 * g
    v = 0.99 * v0 + 0.01 * g**2
    c1 = 1 - 0.9**4
    # optax scale_by_amsgrad(bias_correction_nu=False): nu_max = max(nu_max, nu); m_hat/(sqrt(nu_max)+eps)
    expect = -0.01 * (m / c1) / (np.sqrt(np.maximum(vmax0, v)) + 1e-6)
    o = e.variant(amsgrad="max_never_corrected").options
    u, state = e.model.build(o, hp).update(G1, e.model.load_state(o, hp, cs, P), P)
    np.testing.assert_allclose(w(u), expect, rtol=1e-13)
    np.testing.assert_array_equal(w(state.inner[0].v_max), np.maximum(vmax0, v))
    uncorrected = e.variant(amsgrad="max_uncorrected").options
    u2, _ = e.model.build(uncorrected, hp).update(G1, e.model.load_state(uncorrected, hp, cs, P), P)
    assert np.max(np.abs(w(u2) - w(u))) > 1e-4  # PyTorch's form divides by sqrt(1 - beta2^t)


def test_decoupled_decay_bound_covers_torch_and_keras_orders_and_not_a_missing_lr():
    from trainspec.conformance.tolerance import compare
    from trainspec.conformance.tracked import track_scalar

    rng = np.random.default_rng(3)
    theta = rng.standard_normal(64).astype(np.float32) * 100
    step = (rng.standard_normal(64) * 1e-4).astype(np.float32)  # the lr-scaled Adam step
    lr, lam = 0.001, 0.5
    torch_order = (theta * (_f32(1.0) - _f32(lr * lam)) + step).astype(np.float64)
    keras_order = ((theta - theta * _f32(lam) * _f32(lr)) + step).astype(np.float64)
    unit = adaptive.decoupled_weight_decay(track_scalar(lam, "float32"), learning_rate=lr)
    p = track_tree({"w": theta}, "float32")
    u, _ = unit.update(track_tree({"w": step}, "float32"), unit.init(p), p)
    new = apply_updates(p, u)["w"]
    np.testing.assert_allclose(new.value, theta + step - lr * lam * theta.astype(np.float64))
    assert compare(torch_order, new, "float32")[2] <= 1.0
    assert compare(keras_order, new, "float32")[2] <= 1.0
    no_lr = (theta - theta * _f32(lam) + step).astype(np.float64)
    assert compare(no_lr, new, "float32")[2] > 1e3
    with pytest.raises(ValueError, match="weight_decay"):
        adaptive.decoupled_weight_decay(-1.0)
    with pytest.raises(ValueError, match="params"):
        unit.update({"w": step}, unit.init({"w": theta}), None)


def test_nadam_schedule_precisions():
    assert adaptive.nadam_decay("decay_float32") == float(np.float32(0.96)) != 0.96
    assert adaptive.nadam_decay("as_params") == adaptive.nadam_decay("product_float32") == 0.96
    with pytest.raises(ValueError, match="schedule_precision"):
        adaptive.nadam_decay("float16")
    grads = [{"w": np.array([0.5, -1.0, 2.0])}] * 20
    runs = {
        p: w(
            run(nadam(0.1, momentum_schedule="dozat_decay_psi1", schedule_precision=p), P, grads)[0]
        )
        for p in adaptive.NADAM_SCHEDULE_PRECISIONS
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
        unit = adaptive.scale_by_nadam(*hp, schedule_precision=prec)
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
