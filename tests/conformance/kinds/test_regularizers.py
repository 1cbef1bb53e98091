"""The regularizer kind, exercised with honest and faulty NumPy implementations computed in the dtype."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.regularizers import RegularizerCase, draw_regularizer_case
from trainspec.conformance.runner import check_row

NP = {"float32": np.float32, "float64": np.float64}


def _l2(case, dtype, device, *, factor=2.0):
    t = NP[dtype]
    w, lam = case.weights.astype(t), t(case.hyperparameters["l2"])
    return {"value": np.float64(lam * np.sum(w * w)), "grad": (t(factor) * lam * w).astype(float)}


def _l1(case, dtype, device):
    t = NP[dtype]
    w, lam = case.weights.astype(t), t(case.hyperparameters["l1"])
    return {"value": np.float64(lam * np.sum(np.abs(w))), "grad": (lam * np.sign(w)).astype(float)}


def _max_norm(case, dtype, device, *, axis=1, eps=None):
    t = NP[dtype]
    w, c = case.weights.astype(t), t(case.hyperparameters["max_value"])
    n = np.sqrt(np.sum(w * w, axis=axis, keepdims=True))
    if eps == "keras":
        out = w * (np.minimum(n, c) / (t(1e-7) + n))
    else:
        out = w * (c / np.maximum(n, c))
    return {"weights": out.astype(float)}


def row(spec_id, fn, dtype="float32", **kw):
    impl = Implementation(spec_id, "numpy", lambda c, d, dev: fn(c, d, dev, **kw), devices=("cpu",))
    return check_row(reference.get(spec_id), impl, "numpy", dtype, "cpu", profile="quick")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_honest_implementations_conform(dtype):
    assert row("reg.l2", _l2, dtype).verdict == "conforms"
    assert row("reg.l1", _l1, dtype).verdict == "conforms"
    assert row("reg.max_norm", _max_norm, dtype).verdict == "conforms"


def test_conventions_are_named_variants():
    r = row("reg.l2", _l2, "float64", factor=1.0)  # gradient lambda*theta for lambda*sum(theta^2)
    assert r.verdict == "diverges", r  # the value says lambda, the gradient says lambda/2
    r = row("reg.max_norm", _max_norm, "float64", eps="keras")
    assert (r.verdict, r.variant) == ("variant", "norm_eps=1e-7_always"), r


def test_max_norm_on_the_wrong_axis_diverges():
    r = row("reg.max_norm", _max_norm, axis=0)
    assert r.verdict == "diverges" and r.counterexample, r


def test_draws_cover_the_hard_regions():
    entry = reference.get("reg.max_norm")
    seen = set()

    @settings(max_examples=120, database=None, deadline=None)
    @given(st.data())
    def body(data):
        case = draw_regularizer_case(data, entry, "float32", "weights")
        assert case.weights.ndim == 2 and case.hyperparameters["max_value"] > 0
        norms = np.sqrt(np.sum(case.weights**2, axis=1))
        if case.content == "exact_row_norms" and case.hyperparameters["max_value"] in norms:
            seen.add("on the bound")
        seen.add(case.content)

    body()
    assert seen == {"random", "with_zeros", "zeros", "exact_row_norms", "on the bound"}


def test_kind_and_summary():
    assert get_kind("regularizers").checks == ("weights",)
    s = RegularizerCase(np.ones((2, 2)), {"l2": 0.5}).summary()
    assert s["hyperparameters"] == {"l2": 0.5}
    with pytest.raises(ValueError, match="check"):
        draw_regularizer_case(None, reference.get("reg.l2"), "float32", "batch")
