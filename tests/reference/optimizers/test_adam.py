import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optimizer_steps import G1, G2, P, run, w

from trainspec import reference
from trainspec.reference.optimizers.adam import (
    adam,
    adamw,
    padilla_montani_adam_erratum,
    scale_by_adam,
)
from trainspec.reference.optimizers.common import (
    CanonicalState,
)
from trainspec.reference.optimizers.rmsprop import rmsprop


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


@given(beta2=st.floats(0.0, 0.999), n=st.integers(1, 5))
def test_adam_without_momentum_or_bias_correction_is_rmsprop(beta2, n):
    gs = [{"w": np.array([np.sin(i + 1.0), -2.0 + i, 0.3])} for i in range(n)]
    a = w(run(adam(0.01, 0.0, beta2, 1e-7, bias_correction=False), P, gs)[0])
    b = w(run(rmsprop(0.01, beta2, 1e-7), P, gs)[0])
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_adam_eps_hat_differs_from_outside_with_bias_correction():
    a = w(run(adam(0.01, eps=1e-2), P, [G1])[0])
    b = w(run(adam(0.01, eps=1e-2, eps_placement="eps_hat"), P, [G1])[0])
    assert np.max(np.abs(a - b)) > 1e-4


def test_padilla_montani_candidate_erratum_shows_the_difference():
    ev = padilla_montani_adam_erratum().check()
    assert ev.shows_difference
    assert ev.printed_error > 0.1 and ev.corrected_error < 1e-12


def test_amsgrad_needs_its_running_maximum():
    t = scale_by_adam(0.9, 0.999, 1e-8, amsgrad="max_uncorrected")
    state = t.init(P)._replace(v_max=None)
    with pytest.raises(ValueError, match="state.v_max"):
        t.update(G1, state, P)


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
