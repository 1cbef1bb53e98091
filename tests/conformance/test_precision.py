"""The precision axis (a float64 row computed in float32 internally) and rows that explain
themselves (the worst element's values, the default form's error, the eliminating examples)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy_impls import heavy_ball, impl, solberg_printed

from trainspec import reference
from trainspec.conformance import precision
from trainspec.conformance.expectations import pin_of
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.report import build_report, explanation_lines, markdown
from trainspec.conformance.runner import Row, check_row
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import Tracked


def _row(spec_id: str, fn: Any, dtype: str = "float64", **kw: Any) -> Row:
    return check_row(
        reference.get(spec_id),
        impl(spec_id, "np", fn, **kw),
        "numpy",
        dtype,
        "cpu",
        profile="quick",
    )


def _through_float32(case: Any, dtype: str, device: str, **kw: Any) -> Any:
    """Heavy ball asked for ``dtype`` but computed in float32 NumPy (a silent downcast)."""
    return heavy_ball(case, "float32", device, **kw)


def test_a_float64_row_computed_in_float32_is_named_for_what_it_does():
    r = _row("opt.momentum", _through_float32)
    assert r.verdict == "variant"
    assert r.variant == "precision=float32_internal, form=eta_outside"
    assert r.consistent_variants and all(
        v.startswith("precision=float32_internal") for v in r.consistent_variants
    )
    assert r.ratio is not None and r.ratio <= 1
    assert "float32 internally" in r.message
    ex = r.explanation
    assert ex is not None
    # the default form's own error is stated next to the reported variant's
    assert ex["default"]["variant"] == "default" and ex["default"]["ratio"] > 1
    assert ex["worst"]["ratio"] <= 1
    # every variant of the row's own precision died, each by a stated example
    dead = {e["variant"] for e in ex["eliminated"]}
    assert {v.name for v in reference.get("opt.momentum").variants()} <= dead
    assert all(
        e["check"] in ("one_step", "trajectory") and e["example"] >= 1 for e in ex["eliminated"]
    )


def test_an_honest_float64_row_keeps_the_float64_precision():
    r = _row("opt.momentum", heavy_ball)
    assert r.verdict == "variant" and r.variant == "form=eta_outside"


def test_the_precision_axis_does_not_swallow_a_wrong_formula():
    def solberg32(case: Any, dtype: str, device: str) -> Any:
        return solberg_printed(case, "float32", device)

    r = _row("opt.nesterov", solberg32)
    assert r.verdict == "diverges"
    assert r.ratio is not None and r.ratio > 1
    assert r.variant is not None and not r.variant.startswith("precision=")


def test_a_float32_row_computed_in_float16_is_not_rescued():
    def half(case: Any, dtype: str, device: str) -> Any:
        return heavy_ball(case, "float16", device)

    import numpy_impls

    saved = dict(numpy_impls.NP)
    numpy_impls.NP["float16"] = np.float16
    try:
        r = _row("opt.momentum", half, dtype="float32")
    finally:
        numpy_impls.NP.clear()
        numpy_impls.NP.update(saved)
    assert r.verdict == "diverges"  # the axis exists for float64 rows only


def test_the_axis_is_offered_on_float64_rows_of_deterministic_kinds_only():
    assert precision.offered(get_kind("optimizers"), "float64")
    assert precision.offered(get_kind("losses"), "float64")
    assert not precision.offered(get_kind("optimizers"), "float32")
    assert not precision.offered(get_kind("dropout"), "float64")
    assert not precision.offered(get_kind("init"), "float64")
    assert not precision.offered(get_kind("defaults"), "float64")


def test_with_precision_and_base_variant_round_trip():
    entry = reference.get("opt.momentum")
    for v in entry.variants():
        w = precision.with_precision(v)
        assert w.name.startswith("precision=float32_internal")
        assert precision.base_variant(w) == v and precision.base_variant(v) == v
        assert precision.internal_dtype(w) == "float32" and precision.internal_dtype(v) is None
        assert w.distance == v.distance + 1 and not w.is_default
    with pytest.raises(ValueError, match="option='float16'"):
        precision.with_precision(entry.default_variant, "float16")


def test_the_report_states_the_precision_variant_and_its_meaning():
    r = _row("opt.momentum", _through_float32)
    rep = build_report([r], {"numpy": {"status": "ok"}}, profile="quick", seed=0, devices=["cpu"])
    md = markdown(rep)
    assert "`precision=float32_internal`" in md and "computed in float32 internally" in md
    row = rep["results"][0]
    assert row["variant"].startswith("precision=float32_internal")
    assert row["explanation"]["worst"]["text"].startswith("at ")
    # expectations pin the verdict and the variants, never the explanation
    assert set(pin_of(row)) == {"verdict", "variant", "consistent_variants", "finding"}


def test_nan_and_inf_are_named_as_such():
    ref = {"w": Tracked(np.array([0.31, 1.0]), np.zeros(2), 2.0**-24)}
    c = compare_trees({"w": np.array([np.nan, 1.0])}, ref, "float32")
    assert c.ratio == np.inf and c.index == (0,)
    assert c.explain() == "at w[0]: the framework returned NaN where the reference is 0.31"
    c = compare_trees({"w": np.array([0.31, -np.inf])}, ref, "float32")
    assert "returned -inf where the reference is 1" in c.explain()
    assert c.to_json()["actual"] == "-inf"


def test_the_worst_element_states_both_values():
    ref = {"w": Tracked(np.array([[1.0, 2.0]]), np.zeros((1, 2)), 2.0**-24)}
    c = compare_trees({"w": np.array([[1.0, 2.5]])}, ref, "float32")
    assert (c.actual, c.expected, c.index, c.location) == (2.5, 2.0, (0, 1), "w[0, 1]")
    assert c.explain().startswith(
        "at w[0, 1]: the framework 2.5 against the reference 2 (error 0.5"
    )
    assert Comparison(1.0, 0.5, 2.0, "w").explain() == "at w: error 1 = 2 x the tolerance 0.5"


def test_a_diverging_row_explains_itself():
    r = _row("opt.nesterov", solberg_printed, dtype="float32")
    assert r.verdict == "diverges"
    assert "the framework" in r.message and "against the reference" in r.message
    ex = r.explanation
    assert ex is not None and ex["summary"]
    near = ex["eliminated"][0]
    assert {"variant", "check", "example", "ratio", "text", "counterexample"} <= set(near)
    ratios = [e["ratio"] for e in ex["eliminated"] if isinstance(e["ratio"], float)]
    assert ratios == sorted(ratios)
    lines = explanation_lines(r.to_json())
    assert lines[0].startswith("why: ") and any(s.startswith("eliminated ") for s in lines)
    rep = build_report([r], {"numpy": {"status": "ok"}}, profile="quick", seed=0, devices=["cpu"])
    assert "eliminated " in markdown(rep)


def test_old_rows_without_an_explanation_still_read_and_render():
    d = _row("opt.nesterov", solberg_printed, dtype="float32").to_json()
    d.pop("explanation")
    assert Row.from_json(d).explanation is None and explanation_lines(d) == []
    rep = {
        **build_report([], {"numpy": {"status": "ok"}}, profile="quick", seed=0, devices=["cpu"]),
        "results": [d],
    }
    assert "Counterexamples" in markdown(rep)
