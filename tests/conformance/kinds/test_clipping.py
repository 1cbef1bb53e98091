"""The clipping kind, exercised with honest and faulty NumPy implementations computed in the dtype."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.clipping import (
    RAISED,
    ClippingCase,
    compare_outcomes,
    draw_clipping_case,
    evaluate_clipping,
    summarize_array,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import track_tree
from trainspec.reference.clipping import NonFiniteNormError

NP = {"float32": np.float32, "float64": np.float64}


def _np_global(case, dtype, device, *, eps=0.0, nonfinite="ieee", per_tensor=False):
    """clip_by_global_norm written out in the dtype (torch's order when eps > 0)."""
    t = NP[dtype]
    g = {k: v.astype(t) for k, v in case.grads.items()}
    k = t(case.threshold)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        norms = {n: np.sqrt(np.sum(v * v, dtype=t)) for n, v in g.items()}
        total = np.sqrt(sum(norms[n] * norms[n] for n in g))
        if nonfinite == "raise" and not np.isfinite(total):
            raise NonFiniteNormError("non-finite")
        out = {}
        for n, v in g.items():
            norm = norms[n] if per_tensor else total
            if eps:
                scale = np.minimum(k / (norm + t(eps)), t(1))
            else:
                scale = k / np.maximum(norm, k)
            if nonfinite == "all_nan":
                scale = scale + (total - total)
            out[n] = (v * scale).astype(np.float64)
    return out


def _np_value(case, dtype, device):
    t = NP[dtype]
    k = t(case.threshold)
    return {n: np.clip(v.astype(t), -k, k).astype(np.float64) for n, v in case.grads.items()}


def impl(spec_id, fn, **kw):
    return Implementation(spec_id, "numpy", lambda c, d, dev: fn(c, d, dev, **kw), devices=("cpu",))


def row(spec_id, fn, dtype="float32", **kw):
    return check_row(
        reference.get(spec_id), impl(spec_id, fn, **kw), "numpy", dtype, "cpu", profile="quick"
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_honest_implementations_conform(dtype):
    r = row("clip.global_norm", _np_global, dtype)
    assert r.verdict == "conforms", r
    r = row("clip.norm", _np_global, dtype, per_tensor=True)
    assert r.verdict == "conforms", r
    assert row("clip.value", _np_value, dtype).verdict == "conforms"


@pytest.mark.parametrize(
    ("kw", "variant"),
    [
        ({"eps": 1e-6}, "norm_eps=plus_1e-6"),
        ({"nonfinite": "all_nan"}, "nonfinite=all_nan"),
        ({"nonfinite": "raise"}, "nonfinite=raise"),
        ({"eps": 1e-6, "nonfinite": "raise"}, "norm_eps=plus_1e-6, nonfinite=raise"),
    ],
)
def test_framework_conventions_are_named_variants(kw, variant):
    r = row("clip.global_norm", _np_global, "float64", **kw)
    assert (r.verdict, r.variant) == ("variant", variant), r


def test_global_norm_computed_per_tensor_diverges():
    r = row("clip.global_norm", _np_global, per_tensor=True)
    assert r.verdict == "diverges" and r.counterexample, r
    assert len(r.counterexample["grads"]) >= 2  # a single tensor cannot show it


def test_per_tensor_clipping_of_the_global_norm_entry_is_not_clip_norm():
    r = row("clip.norm", _np_global)  # global instead of per tensor
    assert r.verdict == "diverges", r


def test_draws_cover_the_hard_regions():
    entry = reference.get("clip.global_norm")
    seen = {"content": set(), "placement": set(), "nonfinite": False}

    @settings(max_examples=150, database=None, deadline=None)
    @given(st.data())
    def body(data):
        check = data.draw(st.sampled_from(["finite", "nonfinite"]))
        case = draw_clipping_case(data, entry, "float32", check)
        assert case.threshold > 0
        for v in case.grads.values():
            assert np.array_equal(v.astype(np.float32).astype(np.float64), v, equal_nan=True)
        seen["content"].add(case.content)
        seen["placement"].add(case.placement)
        bad = not all(np.all(np.isfinite(v)) for v in case.grads.values())
        assert bad == (check == "nonfinite")
        seen["nonfinite"] |= bad
        if case.content == "exact_norm" and case.placement == "at":
            total = math.sqrt(sum(float(np.sum(v**2)) for v in case.grads.values()))
            assert check == "nonfinite" or total == case.threshold  # exactly at the threshold

    body()
    assert seen["content"] == {"random", "exact_norm", "zeros"}
    assert seen["placement"] == {"free", "at", "half", "twice"} and seen["nonfinite"]


def test_outcomes_that_raise():
    t = track_tree({"g": np.ones(2)}, "float64")
    assert compare_outcomes(RAISED, RAISED, "float64").passes
    assert not compare_outcomes({"g": np.ones(2)}, RAISED, "float64").passes
    assert not compare_outcomes(RAISED, t, "float64").passes
    assert compare_outcomes({"g": np.ones(2)}, t, "float64").passes


def test_evaluate_compares_every_variant():
    entry = reference.get("clip.global_norm")
    case = ClippingCase({"a": np.array([np.inf, 1.0])}, {"threshold": 1.0})
    res = evaluate_clipping(
        entry,
        impl("clip.global_norm", _np_global, nonfinite="all_nan"),
        case,
        "float32",
        "cpu",
        list(entry.variants()),
    )
    passing = sorted(str(v) for v, c in res.items() if c.passes)
    assert passing == ["nonfinite=all_nan", "norm_eps=plus_1e-6, nonfinite=all_nan"]


def test_summary_and_kind():
    s = summarize_array(np.array([np.nan, *range(10)], dtype=float))
    assert s["nonfinite"] == 1 and s["shape"] == [11]
    case = ClippingCase({"a": np.ones(3)}, {"threshold": 2.0})
    assert case.summary()["threshold"] == 2.0
    assert get_kind("clipping").checks == ("finite", "nonfinite")
    with pytest.raises(ValueError, match="check"):
        draw_clipping_case(None, reference.get("clip.value"), "float32", "trajectory")
