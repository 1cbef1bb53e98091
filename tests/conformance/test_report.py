import json

import pytest

from trainspec.conformance.report import (
    build_report,
    markdown,
    matrix_text,
    merge_reports,
    write_report,
)
from trainspec.conformance.runner import Row


def rows():
    return [
        Row(
            "opt.gd",
            "a",
            "x",
            "cpu",
            "float32",
            "conforms",
            variant="default",
            consistent_variants=["default"],
        ),
        Row("opt.gd", "a", "x", "cpu", "float64", "conforms", variant="default"),
        Row("opt.momentum", "a", "x", "cpu", "float32", "variant", variant="form=eta_outside"),
        Row(
            "opt.momentum",
            "a",
            "y",
            "cpu",
            "float32",
            "diverges",
            variant="default",
            counterexample={"params": {"w0": 1.0}},
            repro="trainspec run ...",
            message="no variant",
        ),
        Row("opt.nesterov", "a", "-", "cpu", "-", "not_offered", message="a offers none"),
    ]


def test_report_json_has_the_promised_fields(tmp_path):
    rep = build_report(
        rows(),
        {"a": {"status": "ok", "versions": {"a": "1.0"}}},
        profile="ci",
        seed=0,
        devices=["cpu"],
    )
    j, m = write_report(rep, tmp_path)
    data = json.loads(j.read_text())
    for key in (
        "spec_id",
        "backend",
        "device",
        "dtype",
        "verdict",
        "variant",
        "max_error",
        "tolerance",
        "counterexample",
    ):
        assert key in data["results"][0]
    assert data["backends"]["a"]["versions"] == {"a": "1.0"}
    assert {"python", "numpy", "hypothesis"} <= set(data["environment"])
    text = m.read_text()
    assert "`y`: diverges" in text and "`x`: variant form=eta_outside" in text
    assert "not offered" in text
    assert "replay: trainspec run ..." in text


def test_matrix_cells_summarise_rows():
    rep = build_report(
        rows(),
        {"a": {"status": "ok"}, "b": {"status": "not installed: b"}},
        profile="ci",
        seed=0,
        devices=["cpu"],
    )
    text = matrix_text(rep)
    lines = {ln.split()[0]: ln for ln in text.splitlines()[2:] if ln.startswith("opt.")}
    # one token per implementation: x conforms in both dtypes; x varies, y diverges
    assert lines["opt.gd"].split()[1] == "C"
    assert lines["opt.momentum"].split()[1:3] == ["V:eta_outside", "D"]
    assert "b: not installed: b" in text
    assert max(len(ln) for ln in text.splitlines()) <= 120


def test_merge_keeps_every_backend_and_lets_later_rows_win():
    r1 = build_report(rows()[:2], {"a": {"status": "ok"}}, profile="ci", seed=0, devices=["cpu"])
    newer = Row("opt.gd", "a", "x", "cpu", "float32", "variant", variant="v")
    r2 = build_report(
        [newer, Row("opt.gd", "b", "z", "cpu", "float32", "conforms")],
        {"b": {"status": "ok"}},
        profile="ci",
        seed=0,
        devices=["cpu"],
    )
    with pytest.raises(ValueError, match="is in both part 1 and part 2"):
        merge_reports([r1, r2])
    merged = merge_reports([r1, r2], replace=True)
    assert set(merged["backends"]) == {"a", "b"}
    assert len(merged["results"]) == 3
    assert (
        next(r for r in merged["results"] if r["backend"] == "a" and r["dtype"] == "float32")[
            "verdict"
        ]
        == "variant"
    )
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_reports([])
    with pytest.raises(ValueError, match="must be a trainspec report.json"):
        merge_reports([{"x": 1}])
    assert "# trainspec conformance report" in markdown(merged)


def test_cells_say_reference_only_and_name_implementations():
    from trainspec.conformance.report import _cell

    ref = Row("norm.whiten", "a", "-", "cpu", "-", "not_offered", message="reference only: x")
    assert _cell([ref.to_json()]) == "reference only"
    none = Row("opt.gd", "a", "-", "cpu", "-", "not_offered", message="a offers no implementation")
    assert _cell([none.to_json()]) == "not offered"
    found = Row("opt.x", "a", "i", "cpu", "float32", "diverges", message="finding: NaN | ...")
    ok = Row("opt.x", "a", "i", "cpu", "float64", "conforms", variant="default")
    assert _cell([found.to_json(), ok.to_json()]) == (
        "`i`: conforms (f64); diverges (known finding) (f32)"
    )


def test_markdown_cells_name_each_implementation_and_never_split_a_table_row():
    two = [
        Row("opt.x", "a", "i", "cpu", "float32", "variant", variant="form=a").to_json(),
        Row("opt.x", "a", "j|k", "cpu", "float32", "variant", variant="form=b").to_json(),
    ]
    rep = build_report(
        [Row.from_json(r) for r in two],
        {"a": {"status": "ok"}},
        profile="ci",
        seed=0,
        devices=["cpu"],
    )
    line = next(ln for ln in markdown(rep).splitlines() if ln.startswith("| `opt.x`"))
    assert line.replace("\\|", "").count("|") == 3
    assert "`i`: variant form=a<br>`j\\|k`: variant form=b" in line


def test_unclaimed_dtypes_are_coverage_not_rows():
    rs = [
        Row(
            "opt.x",
            "a",
            "i",
            "cpu",
            "float64",
            "conforms",
            variant="default",
            ratio=0.5,
            max_error=1e-16,
            tolerance=2e-16,
            examples=3,
        ),
        Row("opt.x", "a", "i", "cpu", "float16", "not_offered", message="i does not offer float16"),
    ]
    rep = build_report(rs, {"a": {"status": "ok"}}, profile="ci", seed=0, devices=["cpu"])
    text = markdown(rep)
    assert "never claimed float16 1" in text
    impl_line = next(ln for ln in text.splitlines() if ln.startswith("| `opt.x` | a | `i`"))
    assert "f16" not in impl_line and "ratio 0.5 (1e-16 / 2e-16)" in impl_line


def test_error_text_names_nan_and_inf():
    from trainspec.conformance.report import error_text

    assert error_text({"ratio": float("inf"), "max_error": float("inf"), "tolerance": 1e-7}) == (
        "ratio inf (inf / 1e-07) non-finite result"
    )
    assert error_text({"ratio": None}) == ""


def test_merge_adds_the_wall_seconds_of_several_runs_of_one_backend():
    r1 = build_report(
        rows()[:1], {"a": {"status": "ok", "seconds": 10.0}}, profile="ci", seed=0, devices=["cpu"]
    )
    r2 = build_report(
        rows()[2:3], {"a": {"status": "ok", "seconds": 4.5}}, profile="ci", seed=0, devices=["cpu"]
    )
    assert merge_reports([r1, r2])["backends"]["a"]["seconds"] == 14.5


def test_variant_glossary_gives_formula_and_meaning():
    from trainspec.conformance.report import variant_glossary

    r = Row("opt.momentum", "a", "x", "cpu", "float32", "variant", variant="form=eta_outside")
    (g,) = variant_glossary([r.to_json()])
    assert g["name"] == "form=eta_outside" and g["formula"] and g["meaning"]
