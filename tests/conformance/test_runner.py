from functools import partial

import pytest
from numpy_impls import BrokenAdapter, NumpyAdapter, heavy_ball, impl, raising, solberg_printed

from trainspec import reference
from trainspec.conformance.runner import check_row, plan_rows, run_matrix


def row(spec_id, fn, dtype="float32", profile="quick", **kw):
    return check_row(
        reference.get(spec_id),
        impl(spec_id, "np", fn, **kw),
        "numpy",
        dtype,
        "cpu",
        profile=profile,
    )


def test_a_correct_implementation_is_reported_as_the_variant_it_follows():
    r = row("opt.momentum", heavy_ball)
    assert r.verdict == "variant" and r.variant == "form=eta_outside"
    assert r.ratio is not None and r.ratio <= 1 and r.examples > 0
    r = row("opt.gd", heavy_ball, dtype="float64")
    assert r.verdict == "conforms" and r.variant == "default"


def test_solbergs_printed_nesterov_diverges_with_a_minimal_counterexample():
    r = row("opt.nesterov", solberg_printed)
    assert r.verdict == "diverges"
    ce = r.counterexample
    assert ce is not None and ce["check"] in ("one_step", "trajectory")
    # shrunk: one small tensor
    assert len(ce["params"]) == 1
    assert "--spec opt.nesterov" in r.repro and "--seed 0" in r.repro
    assert r.ratio > 1


def test_dropping_the_lookahead_diverges():
    r = row("opt.nesterov", partial(heavy_ball, nesterov=True, coefficient="drop_lookahead"))
    assert r.verdict == "diverges"


def test_weight_decay_with_the_wrong_sign_diverges():
    r = row("opt.weight_decay", partial(heavy_ball, wd_sign=-1.0))
    assert r.verdict == "diverges" and r.counterexample


def test_an_implementation_that_raises_is_an_error_and_the_run_goes_on():
    adapters = {
        "numpy": NumpyAdapter(
            [impl("opt.gd", "raises", raising), impl("opt.gd", "ok", heavy_ball)]
        ),
        "broken": BrokenAdapter([]),
    }
    rows = run_matrix([reference.get("opt.gd")], adapters, profile="quick", dtypes=["float32"])
    verdicts = {(r.backend, r.implementation): r.verdict for r in rows}
    assert verdicts[("numpy", "raises")] == "error"
    assert verdicts[("numpy", "ok")] == "conforms"
    assert verdicts[("broken", "*")] == "error"
    err = next(r for r in rows if r.implementation == "raises")
    assert "always fails" in err.message and err.counterexample is not None


def test_plan_marks_what_is_not_offered():
    adapter = NumpyAdapter([impl("opt.gd", "np", heavy_ball)])
    plan = plan_rows(
        reference.entries_matching("opt"), "numpy", adapter, ["cpu", "cuda"], ["float32", "float16"]
    )
    reasons = {(e.id, dev, dt): why for e, _, dev, dt, why in plan}
    assert reasons[("opt.gd", "cpu", "float32")] == ""
    assert "does not offer float16" in reasons[("opt.gd", "cpu", "float16")]
    assert "no cuda device" in reasons[("opt.gd", "cuda", "float32")]
    assert "offers no implementation of opt.momentum" in reasons[("opt.momentum", "cpu", "-")]


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match="profile='fast'"):
        run_matrix([], {}, profile="fast")


def test_ci_profile_is_reproducible():
    a = row("opt.momentum", heavy_ball, profile="ci")
    b = row("opt.momentum", heavy_ball, profile="ci")
    assert (a.verdict, a.max_error, a.examples) == (b.verdict, b.max_error, b.examples)


def test_reference_only_entries_get_a_row_that_says_so():
    from trainspec.reference.registry import SpecEntry

    entry = SpecEntry("ref.only", "t", "doc", "reference", "x", ())
    plan = plan_rows([entry], "numpy", NumpyAdapter([]), ["cpu"], ["float32"])
    assert len(plan) == 1 and plan[0][1] is None and "reference only" in plan[0][4]


def test_a_known_finding_is_still_measured_and_named_in_the_row():
    from trainspec.conformance.adapter import Implementation

    printed = Implementation(
        "opt.nesterov", "np", solberg_printed, findings={"float32": "prints (1 - mu)"}
    )
    r = check_row(
        reference.get("opt.nesterov"), printed, "numpy", "float32", "cpu", profile="quick"
    )
    assert r.verdict == "diverges" and r.message.startswith("finding: prints (1 - mu)")
    assert printed.finding("float64") is None
    with pytest.raises(ValueError, match="findings keys"):
        Implementation("opt.gd", "x", heavy_ball, findings={"fp8": "?"})
