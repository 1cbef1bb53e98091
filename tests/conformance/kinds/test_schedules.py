"""The schedule kind, exercised with independent NumPy schedules computed in the dtype under test."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.schedules import (
    FAMILIES,
    ScheduleCase,
    draw_metrics,
    draw_schedule_case,
    reference_values,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import round_to

NP = {"float32": np.float32, "float64": np.float64}


# --- independent implementations (NumPy in the dtype) ----------------------------------------------


def np_exponential(case, dtype, device, *, staircase=False, off_by_one=False):
    """eta0 * r ** (t / s) in ``dtype``, per step; read at the case's steps."""
    t_ = NP[dtype]
    hp = case.hyperparameters
    eta0, r, s = t_(hp["learning_rate"]), t_(hp["decay_rate"]), t_(hp["decay_steps"])
    t = np.asarray(case.steps, dtype=t_) + (t_(1) if off_by_one else t_(0))
    p = t / s
    if staircase:
        p = np.floor(p)
    return (eta0 * np.power(r, p)).astype(np.float64)


def np_piecewise(case, dtype, device, *, old_at_boundary=False):
    t_ = NP[dtype]
    hp = case.hyperparameters
    values, v = [], t_(hp["learning_rate"])
    for _ in range(len(hp["boundaries"]) + 1):
        values.append(v)
        v = t_(v * t_(hp["gamma"]))
    out = []
    for t in case.steps:
        i = sum(1 for b in hp["boundaries"] if (b < t if old_at_boundary else b <= t))
        out.append(values[i])
    return np.asarray(out, dtype=np.float64)


def np_plateau(case, dtype, device, *, keras_like=False, patience_from_first_check=False):
    """An independent plateau scheduler; ``keras_like``: wait >= patience, cooldown tested after the
    decrement. ``patience_from_first_check``: a fault, the bad count is never reset on improvement."""
    hp = case.hyperparameters
    t_ = NP[dtype]
    lr, best, bad, cool = t_(hp["learning_rate"]), None, 0, 0
    out = []
    for m in case.metrics:
        better = best is None or m < best * (1 - hp["threshold"])
        if keras_like:
            if cool > 0:
                cool, bad = cool - 1, 0
            if better:
                best = m
                bad = bad if patience_from_first_check else 0
            elif cool == 0:
                bad += 1
                if bad >= max(hp["patience"], 1):
                    lr = t_(max(lr * t_(hp["factor"]), t_(hp["min_learning_rate"])))
                    cool, bad = hp["cooldown"], 0
        else:
            if better:
                best = m
                bad = bad if patience_from_first_check else 0
            else:
                bad += 1
            if cool > 0:
                cool, bad = cool - 1, 0
            if bad > hp["patience"]:
                lr = t_(max(lr * t_(hp["factor"]), t_(hp["min_learning_rate"])))
                cool, bad = hp["cooldown"], 0
        out.append(lr)
    return np.asarray(out, dtype=np.float64)


def row(spec_id, run, dtype="float32", profile="quick"):
    impl = Implementation(spec_id, "numpy", run, devices=("cpu",))
    return check_row(reference.get(spec_id), impl, "numpy", dtype, "cpu", profile=profile)


# --- verdicts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_honest_exponential_conforms_and_its_staircase_is_named(dtype):
    r = row("sched.exponential", np_exponential, dtype)
    assert (r.verdict, r.variant) == ("conforms", "default"), r
    r = row("sched.exponential", lambda c, d, dev: np_exponential(c, d, dev, staircase=True), dtype)
    assert (r.verdict, r.variant) == ("variant", "staircase=staircase"), r


def test_a_staircase_one_step_early_diverges_with_a_counterexample_at_a_boundary():
    r = row(
        "sched.exponential",
        lambda c, d, dev: np_exponential(c, d, dev, staircase=True, off_by_one=True),
    )
    assert r.verdict == "diverges", r
    assert r.counterexample["spec_id"] == "sched.exponential"
    assert r.message.startswith("no variant matches")
    json.dumps(r.counterexample)


def test_piecewise_sides_are_told_apart():
    r = row("sched.piecewise_constant", np_piecewise)
    assert (r.verdict, r.variant) == ("conforms", "default"), r
    r = row(
        "sched.piecewise_constant", lambda c, d, dev: np_piecewise(c, d, dev, old_at_boundary=True)
    )
    assert (r.verdict, r.variant) == ("variant", "boundary=old_at_boundary"), r


def test_plateau_counting_conventions_are_measured():
    r = row("sched.plateau", np_plateau)
    assert (r.verdict, r.variant) == ("variant", "patience_count=exceeds"), r
    r = row("sched.plateau", lambda c, d, dev: np_plateau(c, d, dev, keras_like=True))
    assert (r.verdict, r.variant) == ("variant", "cooldown_count=one_less"), r


def test_plateau_patience_counted_from_the_wrong_check_diverges():
    def late(case, dtype, device):  # each metric reaches the scheduler one check late
        shifted = ScheduleCase(
            case.spec_id,
            case.check,
            case.hyperparameters,
            case.steps,
            (case.metrics[0], *case.metrics[:-1]),
        )
        return np_plateau(shifted, dtype, device)

    r = row("sched.plateau", late)
    assert r.verdict == "diverges", r
    assert r.counterexample["metrics"]


def test_plateau_bad_count_never_reset_diverges():
    r = row(
        "sched.plateau",
        lambda c, d, dev: np_plateau(c, d, dev, patience_from_first_check=True),
        profile="ci",
    )
    assert r.verdict == "diverges", r


def test_a_value_off_by_a_few_ulps_of_float32_is_float32_internal_in_float64():
    def sloppy(case, dtype, device):
        return round_to(np_exponential(case, "float64", device), "float32")

    assert row("sched.exponential", sloppy, "float32").verdict == "conforms"
    r = row("sched.exponential", sloppy, "float64")
    # no float64 variant matches; the precision axis names what it does
    assert r.verdict == "variant" and r.variant == "precision=float32_internal", r
    assert r.explanation is not None and r.explanation["default"]["ratio"] > 1


# --- cases ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    spec=st.sampled_from(sorted(FAMILIES)),
    check=st.sampled_from(["values", "through_optimizer"]),
)
def test_cases_hold_what_the_checks_need(data, spec, check):
    entry = reference.get(spec)
    case = draw_schedule_case(data, entry, "float32", check)
    assert isinstance(case, ScheduleCase) and case.check == check
    assert list(case.steps) == sorted(set(case.steps)) and case.steps[0] == 0
    json.dumps(case.summary())
    for k, v in case.hyperparameters.items():
        if isinstance(v, float):
            assert float(round_to(v, "float32")) == v, k
    if FAMILIES[spec].plateau:
        assert len(case.metrics) == len(case.steps) >= 5
        assert all(m * 1024 == int(m * 1024) and 0 < m < 64 for m in case.metrics)
    elif check == "through_optimizer":
        assert case.steps == tuple(range(len(case.steps)))
    else:
        special = FAMILIES[spec].special_steps(case.hyperparameters)
        assert {t for t in special if 0 <= t <= case.steps[-1]} <= set(case.steps)


def test_values_cases_include_the_boundaries_themselves():
    entry = reference.get("sched.piecewise_constant")

    @settings(max_examples=30, deadline=None)
    @given(st.data())
    def check(data):
        case = draw_schedule_case(data, entry, "float32", "values")
        for b in case.hyperparameters["boundaries"]:
            if b <= case.steps[-1]:
                assert b in case.steps

    check()


def test_metric_sequences_contain_ties_at_the_threshold():
    seen = {"tie": 0, "plateau": 0}

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data(), st.integers(1, 6))
    def check(data, j):
        eps = j / 16
        ms = draw_metrics(data, eps)
        for a, b in itertools.pairwise(ms):
            if b == a * (1 - eps) or b == a - eps:
                seen["tie"] += 1
            if a == b:
                seen["plateau"] += 1

    check()
    assert seen["tie"] > 10 and seen["plateau"] > 10


def test_reference_values_carry_the_bound_of_the_dtype():
    entry = reference.get("sched.exponential")
    case = ScheduleCase(
        "sched.exponential",
        "values",
        {"learning_rate": 0.5, "decay_rate": 0.5, "decay_steps": 3},
        (0, 1, 3, 300),
    )
    v32 = reference_values(entry, entry.default_variant, case, "float32")
    v64 = reference_values(entry, entry.default_variant, case, "float64")
    np.testing.assert_allclose(
        v32.value, [0.5, 0.5 * 0.5 ** (1 / 3), 0.25, 0.5 * 0.5**100], rtol=1e-13
    )
    assert v32.err[0] == 0.0 and np.all(v32.err[1:] > 1e3 * v64.err[1:])
    # the running product (300 roundings) widens the bound at step 300
    assert v64.err[3] > 100 * 2.0**-53 * v64.value[3]


def test_plateau_reference_values():
    entry = reference.get("sched.plateau")
    hp = {
        "learning_rate": 1.0,
        "factor": 0.5,
        "patience": 1,
        "threshold": 0.0,
        "cooldown": 0,
        "min_learning_rate": 0.0,
    }
    case = ScheduleCase("sched.plateau", "values", hp, (0, 1, 2, 3), (1.0, 1.0, 1.0, 0.5))
    got = reference_values(entry, entry.variant(patience_count="exceeds"), case, "float64")
    assert got.value.tolist() == [1.0, 1.0, 0.5, 0.5]
    got = reference_values(entry, entry.default_variant, case, "float64")
    assert got.value.tolist() == [1.0, 0.5, 0.25, 0.25]


def test_unknown_entries_and_checks_are_refused():
    kind = get_kind("schedules")
    assert kind.checks == ("values", "through_optimizer")

    class Entry:
        id = "sched.unknown"

    @settings(max_examples=1, deadline=None)
    @given(st.data())
    def check(data):
        with pytest.raises(KeyError, match="register_family"):
            draw_schedule_case(data, Entry, "float32", "values")
        with pytest.raises(ValueError, match="check="):
            draw_schedule_case(data, reference.get("sched.linear"), "float32", "one_step")

    check()


def test_the_kind_is_registered_for_every_schedule_entry():
    ids = {e.id for e in reference.all_entries() if e.kind == "schedule"}
    assert ids <= set(FAMILIES)
    assert {4, 5, 6, 10} <= set(FAMILIES["sched.power"].special_steps({"decay_steps": 5}))


def np_inverse_time_c1(case, dtype, device):
    """Keras-like inverse-time decay that only knows c = 1: eta0 / (1 + t / s) in ``dtype``."""
    t_ = NP[dtype]
    hp = case.hyperparameters
    t = np.asarray(case.steps, dtype=t_)
    return (t_(hp["learning_rate"]) / (t_(1) + t / t_(hp["decay_steps"]))).astype(np.float64)


def test_fixed_hyperparameters_restrict_the_row_to_the_implementations_domain():
    entry = reference.get("sched.power")
    fixed = Implementation(
        "sched.power",
        "c=1 only",
        np_inverse_time_c1,
        devices=("cpu",),
        options={"fixed": {"power": 1.0}},
    )
    r = check_row(entry, fixed, "numpy", "float32", "cpu", profile="quick")
    assert (r.verdict, r.variant) == ("conforms", "default"), r
    # without declaring it, the drawn powers c != 1 expose the implementation
    assert row("sched.power", np_inverse_time_c1).verdict == "diverges"


def test_reciprocal_sensitive_lengths_are_exactly_those_a_reciprocal_product_floors_wrongly():
    from trainspec.conformance.kinds.schedules import reciprocal_sensitive_lengths

    found = reciprocal_sensitive_lengths()
    assert found == (41, 47, 55, 61, 82, 83, 94, 97)
    # 61 * fl(1/61) = 0.99999994 in float32, so floor gives 0 at the first boundary
    assert np.floor(np.float32(61) * (np.float32(1) / np.float32(61))) == 0
    assert np.floor(np.float32(60) * (np.float32(1) / np.float32(60))) == 1
