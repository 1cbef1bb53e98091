import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.conformance.tracked import Tracked, track_scalar
from trainspec.reference.base import as_schedule
from trainspec.reference.optimizers.gd import gd
from trainspec.reference.schedules.common import running_products, schedule_values
from trainspec.reference.schedules.decay import (
    annealing,
    exponential_decay,
    inverse_time_decay,
    legacy_decay,
    linear_decay,
    per_step_factor,
)
from trainspec.reference.schedules.piecewise import piecewise_constant
from trainspec.reference.schedules.plateau import plateau_learning_rates, reduce_on_plateau
from trainspec.reference.schedules.search import log_uniform, lr_range_test

# --- values by hand ------------------------------------------------------------------------------


def test_linear_by_hand():
    s = linear_decay(1.0, 0.1, 10)
    np.testing.assert_allclose(
        schedule_values(s, [0, 5, 9, 10, 11, 1000]), [1.0, 0.55, 0.19, 0.1, 0.1, 0.1]
    )


def test_linear_warm_up_is_allowed():
    assert linear_decay(0.0, 1.0, 4)(1) == pytest.approx(0.25)


def test_power_by_hand_drops_to_one_over_n_to_the_c():
    # Zheng: "it iteratively drops to (1/2)^c, (1/3)^c, (1/4)^c of the initial rate"
    s = inverse_time_decay(0.8, 10, 2.0)
    np.testing.assert_allclose(schedule_values(s, [0, 10, 20, 30]), [0.8, 0.2, 0.8 / 9, 0.05])
    st_ = inverse_time_decay(0.8, 10, 1.0, staircase="staircase")
    assert schedule_values(st_, [9, 10, 19]) == [0.8, 0.4, 0.4]


def test_exponential_by_hand():
    # Zheng: eta0 (1/10)^(t/s): drops by 10 times every s steps
    s = exponential_decay(2.0, 0.1, 100)
    np.testing.assert_allclose(
        schedule_values(s, [0, 50, 100, 200]), [2.0, 2 * 10**-0.5, 0.2, 0.02]
    )
    st_ = exponential_decay(2.0, 0.1, 100, staircase="staircase")
    np.testing.assert_allclose(schedule_values(st_, [0, 99, 100, 199, 200]), [2, 2, 0.2, 0.2, 0.02])


def test_piecewise_sides_differ_exactly_at_the_boundaries():
    new = piecewise_constant([3, 7], [1.0, 0.5, 0.25])
    old = piecewise_constant([3, 7], [1.0, 0.5, 0.25], boundary="old_at_boundary")
    steps = list(range(10))
    a, b = schedule_values(new, steps), schedule_values(old, steps)
    assert a == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert [t for t in steps if a[t] != b[t]] == [3, 7]
    assert b[4] == 0.5 and b[8] == 0.25


def test_annealing_by_hand_and_as_exponential():
    s = annealing(0.5, 0.1)
    np.testing.assert_allclose(schedule_values(s, [0, 1, 2, 3]), [0.5, 0.45, 0.405, 0.3645])
    e = exponential_decay(0.5, 0.9, 1)
    np.testing.assert_allclose(
        schedule_values(s, range(50)), schedule_values(e, range(50)), rtol=1e-13
    )


def test_lr_range_test_grows_exponentially_between_the_bounds():
    s = lr_range_test(1e-6, 1.0, 7)
    v = np.array(schedule_values(s, range(7)))
    assert v[0] == 1e-6 and v[-1] == 1.0
    np.testing.assert_allclose(v[1:] / v[:-1], 10.0, rtol=1e-12)
    with pytest.raises(ValueError, match="step=7"):
        s(7)


# --- properties ----------------------------------------------------------------------------------


@given(
    eta0=st.floats(1e-4, 1.0),
    decay=st.floats(1e-7, 1.0),
    t=st.integers(0, 10**7),
)
def test_legacy_decay_is_power_scheduling_with_c_1_and_s_1_over_decay(eta0, decay, t):
    a = legacy_decay(eta0, decay)(t)
    b = inverse_time_decay(eta0, 1.0 / decay, 1.0)(t)
    assert a == pytest.approx(b, rel=1e-12)


@given(
    eta0=st.floats(1e-4, 1.0), r=st.floats(0.01, 0.99), s=st.integers(1, 50), k=st.integers(0, 40)
)
def test_staircase_equals_continuous_at_multiples_of_s_and_is_constant_between(eta0, r, s, k):
    cont = exponential_decay(eta0, r, s)
    stair = exponential_decay(eta0, r, s, staircase="staircase")
    assert stair(k * s) == pytest.approx(cont(k * s), rel=1e-12)
    assert stair(k * s + s - 1) == stair(k * s)
    p_cont = inverse_time_decay(eta0, s, 1.5)
    p_stair = inverse_time_decay(eta0, s, 1.5, staircase="staircase")
    assert p_stair(k * s) == pytest.approx(p_cont(k * s), rel=1e-12)


@given(r=st.floats(0.01, 2.0), s=st.floats(0.5, 100.0), t=st.integers(0, 500))
def test_per_step_factor_form(r, s, t):
    g = per_step_factor(r, s)
    assert 2.0 * g**t == pytest.approx(exponential_decay(2.0, r, s)(t), rel=1e-10)


@given(eta0=st.floats(0.0, 1.0), eta_tau=st.floats(0.0, 1.0), tau=st.integers(1, 100))
def test_linear_is_monotone_and_continuous_at_tau(eta0, eta_tau, tau):
    s = linear_decay(eta0, eta_tau, tau)
    v = np.array(schedule_values(s, range(tau + 3)))
    d = np.diff(v) * np.sign(eta_tau - eta0)
    assert np.all(d >= -1e-15)
    assert v[tau] == eta_tau and abs(v[tau - 1] - eta_tau) <= abs(eta0 - eta_tau) / tau + 1e-15


def test_running_products_equal_the_closed_form():
    hp = {"learning_rate": 0.5, "final_learning_rate": 0.05, "transition_steps": 20}
    e = reference.get("sched.linear")
    sched = e.model.build({}, hp)
    steps = [0, 1, 7, 19, 20, 21, 40]
    closed = schedule_values(sched, steps)
    np.testing.assert_allclose(
        running_products(sched, e.model.ratio({}, hp), steps), closed, rtol=1e-13
    )
    x = reference.get("sched.exponential")
    for stair in ("continuous", "staircase"):
        hp = {"learning_rate": 0.5, "decay_rate": 0.3, "decay_steps": 4}
        o = {"staircase": stair}
        sched = x.model.build(o, hp)
        got = running_products(sched, x.model.ratio(o, hp), steps)
        np.testing.assert_allclose(got, schedule_values(sched, steps), rtol=1e-13)


def test_tracked_running_product_bound_grows_with_the_number_of_products():
    """Chainable schedulers round once per step: the tracked bound of that order must grow."""
    x = reference.get("sched.exponential")
    hp = {
        k: track_scalar(v, "float64")
        for k, v in {"learning_rate": 0.5, "decay_rate": 0.999}.items()
    }
    hp["decay_steps"] = track_scalar(1.0, "float64")
    o = {"staircase": "continuous"}
    sched = x.model.build(o, hp)
    (v,) = running_products(sched, x.model.ratio(o, hp), [1000])
    assert isinstance(v, Tracked)
    assert float(v.err) > 500 * 2.0**-53 * float(v.value)


def test_schedules_plug_into_the_optimizers():
    s = exponential_decay(0.5, 0.5, 1)
    assert as_schedule("learning_rate", s) is s
    opt = gd(s)
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    steps = []
    for _ in range(3):
        u, state = opt.update({"w": np.ones(1)}, state, params)
        steps.append(-float(u["w"][0]))
    assert steps == [0.5, 0.25, 0.125]


# --- performance scheduling ---------------------------------------------------------------------


def lrs(metrics, **kw):
    kw.setdefault("threshold", 0.0)
    return [float(x) for x in plateau_learning_rates(reduce_on_plateau(1.0, 0.5, **kw), metrics)]


def test_plateau_patience_reaches_versus_exceeds():
    m = [5, 4, 4, 4, 4, 4]
    # reaches: 2 bad checks (m[2], m[3]) reduce after m[3] (and m[4], m[5] again);
    # exceeds: 3 bad checks, after m[4]
    assert lrs(m, patience=2) == [1, 1, 1, 0.5, 0.5, 0.25]
    assert lrs(m, patience=2, patience_count="exceeds") == [1, 1, 1, 1, 0.5, 0.5]
    # patience 0: reaches acts as 1 (Keras wait >= 0 after the increment); exceeds: every bad check
    assert lrs(m, patience=0) == lrs(m, patience=1)
    assert lrs(m, patience=0, patience_count="exceeds") == [1, 1, 0.5, 0.25, 0.125, 0.0625]


def test_plateau_cooldown_full_versus_one_less():
    m = [5] + [6] * 8
    assert lrs(m, patience=1, cooldown=2) == [1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125]
    assert lrs(m, patience=1, cooldown=2, cooldown_count="one_less") == [
        1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625,
    ]  # fmt: skip
    # one_less with cooldown C behaves as full with C - 1
    for c in (1, 2, 3):
        a = lrs(m, patience=1, cooldown=c, cooldown_count="one_less")
        assert a == lrs(m, patience=1, cooldown=c - 1)


def test_plateau_threshold_ties_are_not_improvements():
    # relative: 0.75 = 1.0 * (1 - 0.25) is not < 0.75; absolute: 0.75 = 1.0 - 0.25 is not < 0.75
    assert lrs([1.0, 0.75], patience=1, threshold=0.25) == [1.0, 0.5]
    assert lrs([1.0, 0.75], patience=1, threshold=0.25, threshold_mode="absolute") == [1.0, 0.5]
    assert lrs([1.0, 0.74], patience=1, threshold=0.25) == [1.0, 1.0]
    # relative and absolute differ when the best is not 1
    m = [4.0, 3.5]
    assert lrs(m, patience=1, threshold=0.25) == [1.0, 0.5]  # needs < 3.0
    assert lrs(m, patience=1, threshold=0.25, threshold_mode="absolute") == [1.0, 1.0]


def test_plateau_mode_max_and_minimum_learning_rate():
    assert lrs([0.5, 0.6, 0.6], patience=1, mode="max") == [1, 1, 0.5]
    assert lrs([0.5, 0.4, 0.4], patience=1, mode="max") == [1, 0.5, 0.25]
    assert lrs([1, 2, 2, 2, 2], patience=1, min_learning_rate=0.3) == [1, 0.5, 0.3, 0.3, 0.3]


def test_plateau_is_pure():
    p = reduce_on_plateau(1.0, 0.5, 1)
    s0 = p.init()
    s1 = p.update(1.0, s0)
    assert s0 == p.init() and s1.count == 1 and s1.best == 1.0
    assert p.update(2.0, s1) == p.update(2.0, s1)


def test_plateau_min_decrease_skips_small_reductions():
    p = reduce_on_plateau(1e-8, 0.5, 1, min_decrease=1e-8)
    assert [float(x) for x in plateau_learning_rates(p, [1, 2, 2])] == [1e-8] * 3


# --- random search: Kolmogorov-Smirnov on log_b(x), false-alarm rate stats.ALPHA (1e-6) per test;
# the generators are seeded, so these tests are deterministic (they never flake) ------------------


@pytest.mark.parametrize("base", ["10", "e"])
def test_log_uniform_is_uniform_in_the_exponent(base):
    rng = np.random.default_rng(20260511)
    x = log_uniform(-6.0, -1.0, rng, 20_000, base=base)
    logs = np.log10(x) if base == "10" else np.log(x)
    p = stats.ks_pvalue(logs, lambda v: np.clip((v + 6.0) / 5.0, 0.0, 1.0))
    assert p >= stats.ALPHA


def test_log_uniform_bases_are_told_apart():
    """The check above can fail: base-e samples are not log10-uniform on the same bounds."""
    rng = np.random.default_rng(1)
    x = log_uniform(-6.0, -1.0, rng, 20_000, base="e")
    p = stats.ks_pvalue(np.log10(x), lambda v: np.clip((v + 6.0) / 5.0, 0.0, 1.0))
    assert p < stats.ALPHA


def test_log_uniform_needs_an_explicit_generator_and_ordered_bounds():
    with pytest.raises(TypeError, match="rng"):
        log_uniform(-3, -1, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="high=-6"):
        log_uniform(-3, -6, np.random.default_rng(0))  # Solberg's uniform(-3, -6)
    with pytest.raises(ValueError, match="base"):
        log_uniform(-3, -1, np.random.default_rng(0), base="2")


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: linear_decay(1.0, 0.1, 0), ValueError, "transition_steps"),
        (lambda: linear_decay(-1.0, 0.1, 5), ValueError, "learning_rate"),
        (lambda: inverse_time_decay(1.0, 0.0), ValueError, "decay_steps"),
        (lambda: inverse_time_decay(1.0, 10, -1.0), ValueError, "power"),
        (lambda: inverse_time_decay(1.0, 10, staircase="floor"), ValueError, "staircase"),
        (lambda: exponential_decay(1.0, 0.0, 10), ValueError, "decay_rate"),
        (lambda: exponential_decay(1.0, math.nan, 10), ValueError, "decay_rate"),
        (lambda: piecewise_constant([5, 5], [1, 2, 3]), ValueError, "strictly increasing"),
        (lambda: piecewise_constant([5], [1]), ValueError, "values"),
        (lambda: piecewise_constant([5], [1, 2], boundary="left"), ValueError, "boundary"),
        (lambda: annealing(1.0, 1.0), ValueError, "decay_rate"),
        (lambda: legacy_decay(1.0, "1e-6"), TypeError, "decay"),
        (lambda: lr_range_test(1.0, 0.1, 10), ValueError, "max_learning_rate"),
        (lambda: lr_range_test(0.1, 1.0, 1), ValueError, "num_steps"),
        (lambda: reduce_on_plateau(1.0, 1.0, 1), ValueError, "factor"),
        (lambda: reduce_on_plateau(1.0, 0.5, -1), ValueError, "patience"),
        (lambda: reduce_on_plateau(1.0, 0.5, 1.5), TypeError, "patience"),
        (lambda: reduce_on_plateau(1.0, 0.5, 1, threshold=1.0), ValueError, "threshold"),
        (lambda: reduce_on_plateau(1.0, 0.5, 1, mode="auto"), ValueError, "mode"),
    ],
)
def test_bad_hyperparameters_are_refused_when_built(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_bad_steps_and_metrics():
    s = exponential_decay(1.0, 0.5, 10)
    with pytest.raises(ValueError, match="step=-1"):
        s(-1)
    with pytest.raises(TypeError, match="step"):
        s(1.5)  # type: ignore[arg-type]
    p = reduce_on_plateau(1.0, 0.5, 1)
    with pytest.raises(ValueError, match="metric"):
        p.update(math.nan, p.init())
    with pytest.raises(TypeError, match="state"):
        p.update(1.0, ())  # type: ignore[arg-type]


def test_entries_are_registered_with_their_kinds():
    kinds = {
        e.id: e.kind
        for e in reference.all_entries()
        if e.id.startswith("sched.") or e.id == "opt.legacy_decay"
    }
    assert kinds == {
        "opt.legacy_decay": "schedules",
        "sched.annealing": "schedules",
        "sched.exponential": "schedules",
        "sched.linear": "schedules",
        "sched.log_uniform": "reference",
        "sched.lr_range": "reference",
        "sched.piecewise_constant": "schedules",
        "sched.plateau": "schedules",
        "sched.power": "schedules",
    }
    assert len(list(reference.get("sched.plateau").variants())) == 16
