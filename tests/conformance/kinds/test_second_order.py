"""The second-order kind: drawn models, verdicts on closed forms computed in the dtype."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.second_order import SecondOrderCase, reference_outputs
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import representable

ENTRY = reference.get("opt.second_order")
NP = {"float32": np.float32, "float64": np.float64}


def _numpy_second_order(case, dtype, device, *, gauss_newton=False):
    """Gradient, Hessian and Hv written out in the dtype (an honest second implementation);
    ``gauss_newton`` drops the residual term of the tanh neuron's Hessian (a real-world fault)."""
    t = NP[dtype]
    x, v = case.x.astype(t), case.v.astype(t)
    d = {k: a.astype(t) for k, a in case.data.items()}
    if case.model == "quadratic":
        a = d["A"]
        h = t(0.5) * (a + a.T)
        return {
            "grad": (t(0.5) * (a @ x + a.T @ x) + d["b"]).astype(np.float64),
            "hessian": h.astype(np.float64),
            "hvp": (t(0.5) * (a @ v + a.T @ v)).astype(np.float64),
        }
    xs = d["X"]
    z = xs @ x
    if case.model == "logistic_regression":
        s = t(1) / (t(1) + np.exp(-z))
        g = xs.T @ (s - d["y"]) / t(len(z))
        c = s * (t(1) - s) / t(len(z))
    else:
        hz = np.tanh(z)
        s = t(1) - hz * hz
        r = hz - d["t"]
        g = xs.T @ (r * s)
        c = s * s if gauss_newton else s * s - t(2) * r * hz * s
    return {
        "grad": g.astype(np.float64),
        "hessian": (xs.T @ (xs * c[:, None])).astype(np.float64),
        "hvp": (xs.T @ (c * (xs @ v))).astype(np.float64),
    }


def _impl(run, name="numpy closed forms"):
    return Implementation("opt.second_order", name, run, devices=("cpu",))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from(["float32", "float64"]))
def test_drawn_cases_are_representable_and_moderate(data, dtype):
    case = get_kind("second_order").draw(data, ENTRY, dtype, "hessian")
    assert representable(case.x, dtype) and representable(case.v, dtype)
    for a in case.data.values():
        assert representable(a, dtype)
    if case.model != "quadratic":
        assert np.max(np.abs(case.data["X"] @ case.x), initial=0.0) < 80  # exp stays finite
    out = reference_outputs(case, dtype)
    n = case.x.size
    assert out["hessian"].shape == (n, n) and out["hvp"].shape == out["grad"].shape == (n,)
    assert case.summary()["model"] == case.model


def test_reference_outputs_by_hand():
    case = SecondOrderCase(
        "quadratic",
        np.array([1.0, 2.0]),
        {"A": np.array([[2.0, 1.0], [3.0, 4.0]]), "b": np.array([0.5, 0.0])},
        np.array([1.0, 0.0]),
    )
    out = reference_outputs(case, "float64")
    np.testing.assert_array_equal(out["hessian"].value, [[2.0, 2.0], [2.0, 4.0]])
    np.testing.assert_array_equal(out["grad"].value, [6.5, 10.0])
    np.testing.assert_array_equal(out["hvp"].value, [2.0, 2.0])


def test_kit_reports_faithful_closed_forms_as_conforming():
    for dtype in ("float32", "float64"):
        row = check_row(ENTRY, _impl(_numpy_second_order), "numpy", dtype, "cpu", profile="ci")
        assert row.verdict == "conforms", row


def test_kit_reports_a_gauss_newton_hessian_as_diverging():
    run = lambda c, d, dev: _numpy_second_order(c, d, dev, gauss_newton=True)  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float64", "cpu", profile="quick")
    assert row.verdict == "diverges" and row.counterexample["model"] == "tanh_neuron", row


def test_an_implementation_may_return_a_subset_of_the_outputs():
    def hvp_only(case, dtype, device):
        out = _numpy_second_order(case, dtype, device)
        return {"grad": out["grad"], "hvp": out["hvp"]}

    row = check_row(ENTRY, _impl(hvp_only), "numpy", "float32", "cpu", profile="quick")
    assert row.verdict == "conforms", row
    bad = check_row(
        ENTRY,
        _impl(lambda c, d, dev: {"jacobian": c.x}),
        "numpy",
        "float32",
        "cpu",
        profile="quick",
    )
    assert bad.verdict == "error" and "must return some of" in bad.message
