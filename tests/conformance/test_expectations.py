"""Pinned expectations (lock, compare, summary, the CLI's lock/diff/run --expect) and findings
with a region, which no longer mask a second fault of the same implementation."""

import json
from functools import partial

import numpy as np
import pytest
from numpy_impls import NumpyAdapter, heavy_ball

from trainspec import reference
from trainspec.conformance import expectations as E
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.cli import main
from trainspec.conformance.report import build_report
from trainspec.conformance.runner import check_row, run_matrix


def _row(**kw):
    base = {
        "spec_id": "opt.momentum",
        "backend": "torch",
        "implementation": "SGD[foreach]",
        "device": "cpu",
        "dtype": "float32",
        "verdict": "variant",
        "variant": "form=eta_outside",
        "consistent_variants": ["form=eta_outside", "x"],
        "finding": None,
        "max_error": 1e-7,
        "counterexample": None,
        "message": "",
    }
    return {**base, **kw}


def _report(rows, **extra):
    return {"backends": {"torch": {"versions": {"torch": "9"}}}, "results": rows, **extra}


def test_lock_pins_verdict_variant_consistent_set_finding_and_values_but_not_errors():
    doc = E.lock(
        _report(
            [
                _row(consistent_variants=["x", "form=eta_outside"], max_error=3.0),
                _row(
                    spec_id="opt.defaults",
                    dtype="-",
                    verdict="conforms",
                    values={"Adam": {"eps": 1e-8}},
                ),
            ],
            profile="ci",
            seed=0,
        )
    )
    assert doc["trainspec_expectations"] == 1 and doc["profile"] == "ci" and doc["seed"] == 0
    assert doc["versions"] == {"torch": {"torch": "9"}}
    rows = {r["spec_id"]: r for r in doc["rows"]}
    assert rows["opt.momentum"]["consistent_variants"] == ["form=eta_outside", "x"]
    assert "max_error" not in rows["opt.momentum"] and "values" not in rows["opt.momentum"]
    assert rows["opt.defaults"]["values"] == {"Adam": {"eps": 1e-8}}
    # a re-lock of the same report is the same document (stable pins)
    assert E.lock(_report([_row(max_error=5.0)]))["rows"][0] == {
        **{k: v for k, v in rows["opt.momentum"].items()}
    }


def test_every_pinned_field_that_moves_is_a_changed_row_with_old_and_new():
    old = E.pins_of_report(_report([_row()]))
    cases = {
        "variant": _row(variant="form=exponential_average"),
        "verdict": _row(verdict="conforms", variant="default"),
        "consistent_variants": _row(consistent_variants=["form=eta_outside"]),
        "finding": _row(finding="centred-variance-zero"),
    }
    for name, new_row in cases.items():
        changes = E.compare(old, E.pins_of_report(_report([new_row])))
        assert [c.status for c in changes] == ["changed"], name
        assert name in changes[0].fields, name
        assert "->" in changes[0].text() and "opt.momentum" in changes[0].text()
    # what is not pinned does not count
    same = _row(max_error=9.0, counterexample={"x": 1}, message="other")
    assert E.compare(old, E.pins_of_report(_report([same]))) == []


def test_a_changed_default_is_a_changed_row_even_when_the_row_already_drifts():
    old = _row(spec_id="opt.defaults", dtype="-", verdict="diverges", variant=None)
    old["values"] = {"Adam": {"eps": 1e-7, "beta1": 0.9}, "LeakyReLU": {"alpha": 0.2}}
    new = json.loads(json.dumps(old))
    new["values"]["Adam"]["eps"] = 1e-6
    del new["values"]["LeakyReLU"]
    (change,) = E.compare(E.pins_of_report(_report([old])), E.pins_of_report(_report([new])))
    assert change.status == "changed"
    assert change.fields["values[Adam.eps]"] == (1e-7, 1e-6)
    assert "values[Adam.beta1]" not in change.fields
    assert "values[LeakyReLU.alpha]: 0.2 -> absent" in change.text()
    # a bool default is not the number 1
    a, b = dict(old), dict(old)
    a["values"], b["values"] = {"SGD": {"nesterov": False}}, {"SGD": {"nesterov": 0}}
    assert E.compare_row(E.pin_of(a), E.pin_of(b))


def test_new_and_gone_rows_are_listed_and_scope_limits_gone():
    old = E.pins_of_report(_report([_row(), _row(dtype="float64")]))
    new = E.pins_of_report(_report([_row(), _row(dtype="bfloat16")]))
    changes = E.compare(old, new)
    assert sorted((c.status, c.key[4]) for c in changes) == [
        ("gone", "float64"),
        ("new", "bfloat16"),
    ]
    assert [c.status for c in E.compare(old, new, in_scope=lambda k: k[4] != "float64")] == ["new"]
    text = E.summary(changes, len(new))
    assert text.splitlines()[0] == (
        "expectations: 2 row(s) compared, 1 as pinned, 0 changed, 1 new, 1 gone"
    )
    assert "no longer produced" in text and "(not pinned)" in text


def test_another_profile_or_seed_compares_the_decisions_only():
    doc = {"profile": "ci", "seed": 0}
    assert E.fields_compared(doc, "ci", 0) == E.PIN_FIELDS
    assert E.fields_compared({}, "quick", 3) == E.PIN_FIELDS  # nothing recorded: all fields
    for profile, seed in (("quick", 0), ("ci", 1), ("thorough", 7)):
        assert E.fields_compared(doc, profile, seed) == E.DECISION_FIELDS
    old = E.pins_of_report(_report([_row()]))
    fewer = E.pins_of_report(_report([_row(consistent_variants=["form=eta_outside"])]))
    assert E.compare(old, fewer, fields=E.DECISION_FIELDS) == []
    assert [c.status for c in E.compare(old, fewer)] == ["changed"]
    # a decision that moves is still a change at any profile
    other = E.pins_of_report(_report([_row(variant="form=exponential_average")]))
    (change,) = E.compare(old, other, fields=E.DECISION_FIELDS)
    assert list(change.fields) == ["variant"]
    with pytest.raises(ValueError, match="'max_error'"):
        E.compare_row(_row(), _row(), ("verdict", "max_error"))


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="must have the key fields"):
        E.row_key({"spec_id": "x"})
    with pytest.raises(ValueError, match="'results'.*'rows'"):
        E.pins_of_report({})
    bad = tmp_path / "x.json"
    bad.write_text("[")
    with pytest.raises(ValueError, match="not JSON"):
        E.load_pins(bad)


def test_cli_lock_and_diff(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report([_row()])))
    b.write_text(json.dumps(_report([_row(variant="form=eta_inside")])))
    out = tmp_path / "exp" / "torch.json"
    assert main(["lock", str(a), "--out", str(out), "--backend", "torch"]) == 0
    assert json.loads(out.read_text())["rows"][0]["variant"] == "form=eta_outside"
    capsys.readouterr()
    assert main(["diff", str(out), str(a), "--strict"]) == 0
    assert main(["diff", str(a), str(b)]) == 0
    assert main(["diff", str(a), str(b), "--strict"]) == 1
    text = capsys.readouterr().out
    assert "variant: form=eta_outside -> form=eta_inside" in text
    assert main(["diff", str(a), str(tmp_path / "missing.json")]) == 2


def _momentum_rows(impls, tmp_path):
    rows = run_matrix(
        [reference.get("opt.momentum")],
        {"numpy": NumpyAdapter(impls)},
        profile="quick",
        dtypes=["float32"],
    )
    report = build_report(
        rows, {"numpy": {"versions": {}}}, profile="quick", seed=0, devices=["cpu"]
    )
    return report


def test_run_expect_reports_a_changed_row(tmp_path):
    """The same comparison ``trainspec run --expect`` makes: heavy ball pinned, Nesterov measured."""
    good = [Implementation("opt.momentum", "np", lambda c, d, dev: heavy_ball(c, d, dev))]
    bad = [
        Implementation("opt.momentum", "np", lambda c, d, dev: heavy_ball(c, d, dev, nesterov=True))
    ]
    pinned = E.pins_of_report(E.lock(_momentum_rows(good, tmp_path)))
    measured = E.pins_of_report(_momentum_rows(bad, tmp_path))
    (change,) = E.compare(pinned, measured)
    assert change.status == "changed"
    assert change.fields["verdict"] == ("variant", "diverges")


# --- findings with a region ------------------------------------------------------------------


def _wrong_from_a_state(case, dtype, device, **kw):
    """Heavy ball, but the step from an arbitrary state is twice too long (a planted finding)."""
    out = heavy_ball(case, dtype, device, **kw)
    if case.state is None:
        return out
    return {k: case.params[k] + 2.0 * (v - case.params[k]) for k, v in out.items()}


FROM_A_STATE = Finding(
    "step-from-a-state-doubled",
    "the step from an arbitrary state is twice the formula's",
    region=lambda case: case.state is not None,
    region_text="the case starts from an arbitrary state",
)


def _check(fn, finding=FROM_A_STATE):
    impl = Implementation("opt.momentum", "np", fn, findings={"*": finding})
    return check_row(
        reference.get("opt.momentum"), impl, "numpy", "float32", "cpu", profile="quick"
    )


def test_a_finding_with_a_region_is_hit_and_the_row_is_judged_outside_it():
    r = _check(_wrong_from_a_state)
    assert r.verdict == "variant" and r.variant == "form=eta_outside"
    assert r.finding == "step-from-a-state-doubled" and r.finding_hits > 0
    assert "hit in" in r.message and r.to_json()["finding"] == r.finding
    # without the finding the same implementation diverges (the region is where it departs)
    plain = Implementation("opt.momentum", "np", _wrong_from_a_state)
    r = check_row(reference.get("opt.momentum"), plain, "numpy", "float32", "cpu", profile="quick")
    assert r.verdict == "diverges" and r.finding is None


def test_a_second_fault_in_an_implementation_with_a_finding_still_diverges():
    r = _check(partial(_wrong_from_a_state, nesterov=True))
    assert r.verdict == "diverges" and r.counterexample is not None
    assert r.counterexample["check"] == "trajectory"  # found outside the region, shrunk there
    assert r.counterexample.get("state") is None


def test_a_fixed_framework_no_longer_hits_its_finding():
    r = _check(lambda c, d, dev: heavy_ball(c, d, dev))
    assert r.verdict == "variant" and r.finding is None and r.finding_hits == 0


def test_finding_rules():
    with pytest.raises(ValueError, match="region needs region_text"):
        Finding("x", "y", region=lambda c: True)
    with pytest.raises(ValueError, match="id must be"):
        Finding(" ", "y")
    with pytest.raises(ValueError, match="must be a str or a Finding"):
        Implementation("opt.gd", "x", heavy_ball, findings={"*": 3})
    legacy = Implementation("opt.gd", "x", heavy_ball, findings={"float32": "old text"})
    assert legacy.finding("float32") == Finding("old text", "old text")
    assert not Finding("a", "b").in_region(object())
    with pytest.raises(ValueError, match=r"examples\[0\] must be a \(check, case\) pair"):
        Finding("a", "b", examples=("one_step",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"examples\[0\] lies outside its region"):
        Finding("a", "b", lambda c: False, "nowhere", examples=(("one_step", object()),))


def test_pinned_hyperparameters_are_in_the_row():
    impl = Implementation(
        "opt.momentum",
        "np",
        lambda c, d, dev: heavy_ball(c, d, dev),
        pinned={"dampening": 0.0, "flag": np.float32(1.5), "inf": float("inf")},
    )
    r = check_row(reference.get("opt.momentum"), impl, "numpy", "float32", "cpu", profile="quick")
    assert r.to_json()["pinned"] == {"dampening": 0.0, "flag": 1.5, "inf": "inf"}
