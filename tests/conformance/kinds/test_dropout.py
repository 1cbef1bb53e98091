"""The dropout kind, exercised with honest and deliberately faulty NumPy dropouts (in the dtype).

These implementations are not stand-ins for a framework: they are dropout written out by hand in
float32/float64 NumPy, so that the kind's exact and statistical checks, and the verdicts they
lead to, can be tested without any framework.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.dropout import (
    DropoutCase,
    LinearDropoutCase,
    draw_dropout_case,
    evaluate_dropout,
    with_non_finite,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.witnesses import fixed_witnesses

NP = {"float32": np.float32, "float64": np.float64}


def np_dropout(
    case, dtype, device, *, meaning="drop", form="inverted", masking="multiply", fault=None
):
    """Dropout in ``dtype``: one mask per pass from a generator seeded by the case; the input
    multiplied by the scaled mask (``multiply``) or the kept values selected (``select``)."""
    t = NP[dtype]
    x = case.x.astype(t)
    q = 1.0 - case.rate if meaning == "drop" else case.rate
    q_mask = min(1.0, q + 0.05) if fault == "keep_fraction_off" else q  # scaled by 1/q still
    rng = np.random.default_rng(case.seed)
    train = []
    with np.errstate(invalid="ignore"):  # inf * 0 in the faults: IEEE, not an error
        for _ in range(case.passes):
            if fault == "same_mask":
                rng = np.random.default_rng(case.seed)
            m = rng.random(x.shape) < q_mask
            if fault == "not_rescaled" or form == "naive":
                kept = x
            elif fault == "rescaled_by_p":
                kept = x * t(case.rate)
            elif fault == "one_ulp_per_kept":  # an infinity has no next number: kept as it is
                kept = np.where(np.isfinite(x), np.nextafter(x / t(q), t(np.inf)), x / t(q))
            elif q == 0:
                kept = t(0) * x
            else:
                kept = x * (t(1.0) / t(q))
            y = np.where(m, kept, t(0) if masking == "select" else x * t(0))
            if fault == "dropped_not_zero":
                y = np.where(m, y, t(1e-30))
            train.append(y)
    test = x if form == "inverted" else t(q) * x
    train = np.stack(train) if train else np.zeros((0, *x.shape), t)
    return {"train": train.astype(np.float64), "test": test.astype(np.float64)}


def np_mc(case, dtype, device, *, form="inverted", fault=None):
    """Dropout then a linear layer, in ``dtype``."""
    t = NP[dtype]
    x, w, b = (a.astype(t) for a in (case.x, case.weight, case.bias))
    q = 1.0 - case.rate
    rng = np.random.default_rng(case.seed)
    passes = []
    for _ in range(case.passes):
        m = rng.random(x.shape) < q
        h = np.where(m, x if form == "naive" else x / t(q), t(0))
        if fault == "biased":  # rescales by 0.8/q: the average tends to 0.8 x W + b
            h = np.where(m, x * t(0.8 / q), t(0))
        passes.append(h @ w + b + (t(0.5) if fault == "offset" else t(0)))
    test = (x if form == "inverted" else t(q) * x) @ w + b
    train = np.stack(passes) if passes else np.zeros((0, *test.shape), t)
    return {"train": train.astype(np.float64), "test": test.astype(np.float64)}


def impl(spec_id, fn, **kw):
    name = ",".join(f"{k}={v}" for k, v in kw.items()) or "honest"
    return Implementation(spec_id, name, lambda c, d, dev: fn(c, d, dev, **kw), devices=("cpu",))


def row(spec_id, fn, dtype="float32", profile="quick", **kw):
    return check_row(
        reference.get(spec_id), impl(spec_id, fn, **kw), "numpy", dtype, "cpu", profile=profile
    )


# ---------------------------------------------------------------------------------------------
# verdicts


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_honest_inverted_dropout_conforms(dtype):
    r = row("drop.inverted", np_dropout, dtype=dtype)
    assert r.verdict == "conforms", r
    assert r.consistent_variants == ["default"]  # the keep meaning died on some rate != 1/2


def test_selecting_instead_of_multiplying_is_a_named_variant():
    r = row("drop.inverted", np_dropout, masking="select")
    assert r.verdict == "variant" and r.variant == "masking=select", r
    case = DropoutCase(with_non_finite(np.ones(5)), 0.5, 0, 8)
    entry = reference.get("drop.inverted")
    res = evaluate_dropout(
        entry, impl("drop.inverted", np_dropout), case, "float32", "cpu", list(entry.variants())
    )
    assert res[entry.default_variant].passes
    bad = res[entry.variant(masking="select")]
    assert bad.where == "train (non-finite inputs)" and math.isinf(bad.ratio)


@pytest.mark.parametrize("masking", ["multiply", "select"])
def test_the_masking_witness_alone_decides_masking(masking):
    # the witness: one pass over inf, -inf and nan only, at rate 1/2; run first in every profile
    (case,) = fixed_witnesses("drop.inverted", "float32", "train")
    assert case.passes == 1 and not np.isfinite(case.x).any() and case.rate == 0.5
    assert fixed_witnesses("drop.inverted", "float32", "test") == []
    assert fixed_witnesses("drop.mc", "float32", "train") == []
    entry = reference.get("drop.inverted")
    variants = list(entry.variants())
    res = evaluate_dropout(
        entry, impl("drop.inverted", np_dropout, masking=masking), case, "float32", "cpu", variants
    )
    alive = {v.options.get("masking", "multiply") for v in variants if res[v].passes}
    assert alive == {masking}
    r = row("drop.inverted", np_dropout, masking=masking)
    assert r.witnesses >= 1
    assert r.consistent_variants
    assert all(("masking=select" in v) == (masking == "select") for v in r.consistent_variants)


def test_the_other_meaning_of_the_rate_is_a_named_variant():
    r = row("drop.inverted", np_dropout, meaning="keep")
    assert r.verdict == "variant" and r.variant == "rate_meaning=keep", r


def test_naive_dropout_conforms_to_drop_naive_and_diverges_from_drop_inverted():
    assert row("drop.naive", np_dropout, form="naive").verdict == "conforms"
    r = row("drop.inverted", np_dropout, form="naive")
    assert r.verdict == "diverges" and r.counterexample, r


@pytest.mark.parametrize(
    "fault, where",
    [
        ("not_rescaled", "train (kept values)"),
        ("rescaled_by_p", "train (kept values)"),
        ("dropped_not_zero", "train (kept values)"),
        ("one_ulp_per_kept", None),  # one ulp is within rounding: see the next test
        ("same_mask", None),  # independent_passes or mean, whichever shrinks smaller
        ("keep_fraction_off", None),
    ],
)
def test_planted_faults_diverge(fault, where):
    r = row("drop.inverted", np_dropout, fault=fault)
    if fault == "one_ulp_per_kept":
        assert r.verdict == "conforms", r  # the tolerance policy allows the rounding of x/q
        return
    assert r.verdict == "diverges", r
    assert r.counterexample and r.repro
    if where:
        assert where in r.message, r.message


def test_a_reused_mask_is_caught_by_the_independence_test_alone():
    case = DropoutCase(np.linspace(1.0, 2.0, 256), 0.4, 3, 8)
    entry = reference.get("drop.inverted")
    (c,) = evaluate_dropout(
        entry,
        impl("drop.inverted", np_dropout, fault="same_mask"),
        case,
        "float64",
        "cpu",
        [entry.default_variant],
    ).values()
    assert c.where == "independent_passes" and not c.passes
    (c,) = evaluate_dropout(
        entry, impl("drop.inverted", np_dropout), case, "float64", "cpu", [entry.default_variant]
    ).values()
    assert c.passes


def test_a_slightly_wrong_keep_fraction_is_caught_by_the_binomial_test():
    case = DropoutCase(np.ones(4096), 0.5, 1, 1)
    entry = reference.get("drop.inverted")
    (c,) = evaluate_dropout(
        entry,
        impl("drop.inverted", np_dropout, fault="keep_fraction_off"),
        case,
        "float64",
        "cpu",
        [entry.default_variant],
    ).values()
    assert c.where == "kept_fraction" and not c.passes


def test_mc_dropout_conforms_and_the_naive_form_is_a_named_variant():
    r = row("drop.mc", np_mc)
    assert r.verdict == "conforms", r
    r = row("drop.mc", np_mc, form="naive")
    assert r.verdict == "variant" and r.variant == "form=naive", r


def test_a_wrongly_scaled_or_offset_mc_average_is_caught():
    rng = np.random.default_rng(0)
    case = LinearDropoutCase(
        rng.standard_normal((64, 4)), rng.standard_normal((4, 2)), np.zeros(2), 0.5, 2, 32
    )
    entry = reference.get("drop.mc")
    v = entry.default_variant
    (c,) = evaluate_dropout(
        entry, impl("drop.mc", np_mc, fault="biased"), case, "float64", "cpu", [v]
    ).values()
    assert c.where == "mc_scale" and not c.passes, c
    (c,) = evaluate_dropout(
        entry, impl("drop.mc", np_mc, fault="offset"), case, "float64", "cpu", [v]
    ).values()
    assert c.where == "mc_mean" and not c.passes, c
    (c,) = evaluate_dropout(entry, impl("drop.mc", np_mc), case, "float64", "cpu", [v]).values()
    assert c.passes, c


def test_rate_zero_under_both_meanings():
    """rate = 0 keeps everything (drop meaning) or nothing (keep meaning)."""
    entry = reference.get("drop.inverted")
    case = DropoutCase(np.array([1.0, -2.0]), 0.0, 0, 2)
    res = evaluate_dropout(
        entry, impl("drop.inverted", np_dropout), case, "float32", "cpu", list(entry.variants())
    )
    assert res[entry.default_variant].passes
    assert math.isinf(res[entry.variant(rate_meaning="keep")].ratio)
    keep = impl("drop.inverted", np_dropout, meaning="keep")
    res = evaluate_dropout(entry, keep, case, "float32", "cpu", list(entry.variants()))
    assert res[entry.variant(rate_meaning="keep")].passes
    assert not res[entry.default_variant].passes


# ---------------------------------------------------------------------------------------------
# drawing and the adapter's contract


@settings(max_examples=60, deadline=None)
@given(data=st.data(), check=st.sampled_from(["train", "test", "passes"]), mc=st.booleans())
def test_drawn_cases_follow_the_documented_sizes(data, check, mc):
    entry = reference.get("drop.mc" if mc else "drop.inverted")
    case = draw_dropout_case(data, entry, "float32", check)
    assert 0.0 <= case.rate < 1.0 and float(np.float32(case.rate)) == case.rate
    assert case.passes == {"train": 1, "test": 0}.get(check, case.passes)
    if mc:
        assert isinstance(case, LinearDropoutCase)
        assert case.x.shape[1] == case.weight.shape[0] and case.bias.shape == case.weight.shape[1:]
        assert np.all(case.x != 0) and np.all(case.weight != 0)
        if case.passes:
            assert case.passes * case.x.shape[0] >= 1024
    else:
        assert isinstance(case, DropoutCase) and 1 <= case.x.size <= 4096
        if check == "passes":
            assert case.passes * case.x.size >= 1024 and np.all(case.x != 0)
    assert np.array_equal(case.x.astype(np.float32), case.x, equal_nan=True)
    if mc or check == "passes":
        assert np.all(np.isfinite(case.x))
    assert set(case.summary()) >= {"x", "rate", "seed", "passes"}


def test_draw_rejects_an_unknown_check():
    with pytest.raises(ValueError, match="check='x': must be one of"):
        draw_dropout_case(None, reference.get("drop.inverted"), "float32", "x")


def test_a_run_with_the_wrong_shape_or_keys_is_an_error_naming_the_implementation():
    entry = reference.get("drop.inverted")
    case = DropoutCase(np.ones(3), 0.5, 0, 1)
    bad = Implementation("drop.inverted", "bad", lambda c, d, dev: {"train": np.ones(3)})
    with pytest.raises(
        ValueError, match="bad: run must return a mapping with keys 'train' and 'test'"
    ):
        evaluate_dropout(entry, bad, case, "float32", "cpu", [entry.default_variant])
    bad = Implementation(
        "drop.inverted", "bad", lambda c, d, dev: {"train": np.ones(3), "test": np.ones(3)}
    )
    with pytest.raises(ValueError, match=r"bad: run returned train \(3,\)"):
        evaluate_dropout(entry, bad, case, "float32", "cpu", [entry.default_variant])


def test_the_kind_is_registered_with_its_scale():
    kind = get_kind("dropout")
    assert kind.checks == ("train", "test", "passes") and kind.example_scale == 0.5
    assert stats.ALPHA == 1e-6  # the docstring's false-alarm arithmetic assumes it
