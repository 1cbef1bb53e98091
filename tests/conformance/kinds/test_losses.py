"""The loss kind, exercised with honest and faulty NumPy implementations computed in the dtype."""

import numpy as np
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.losses import LossCase, draw_loss_case
from trainspec.conformance.runner import check_row

NP = {"float32": np.float32, "float64": np.float64}


def _mse(case, dtype, device, *, per_element=False):
    t = NP[dtype]
    y, tt = case.outputs.astype(t), case.targets.astype(t)
    n = t(y.size if per_element else y.shape[0])
    return {
        "value": np.float64(np.sum((y - tt) ** 2) / n),
        "grad": (t(2) * (y - tt) / n).astype(float),
    }


def _softmax_ce(case, dtype, device, *, naive=False):
    t = NP[dtype]
    z = case.outputs.astype(t)
    m = z.shape[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if naive:
            lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        else:
            mx = np.max(z, axis=1, keepdims=True)
            lse = mx + np.log(np.sum(np.exp(z - mx), axis=1, keepdims=True))
        logp = z - lse
        p = np.exp(logp)
    onehot = np.eye(z.shape[1], dtype=t)[case.targets]
    value = -np.sum(logp[np.arange(m), case.targets]) / t(m)
    return {"value": np.float64(value), "grad": ((p - onehot) / t(m)).astype(float)}


def row(spec_id, fn, dtype="float32", **kw):
    impl = Implementation(spec_id, "numpy", lambda c, d, dev: fn(c, d, dev, **kw), devices=("cpu",))
    return check_row(reference.get(spec_id), impl, "numpy", dtype, "cpu", profile="quick")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_honest_implementations_conform(dtype):
    assert row("loss.mse", _mse, dtype).verdict == "conforms"
    assert row("loss.softmax_ce", _softmax_ce, dtype).verdict == "conforms"


def test_reduction_is_a_named_variant():
    r = row("loss.mse", _mse, per_element=True)
    assert (r.verdict, r.variant) == ("variant", "reduction=mean_over_elements"), r


def test_unstable_log_sum_exp_diverges_on_huge_logits():
    r = row("loss.softmax_ce", _softmax_ce, naive=True)
    assert r.verdict == "diverges", r


def test_draws():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    seen = set()

    @settings(max_examples=60, database=None, deadline=None)
    @given(st.data())
    def body(data):
        check = data.draw(st.sampled_from(["batch", "huge_logits"]))
        for spec in ("loss.softmax_ce", "loss.logistic", "loss.mse"):
            case = draw_loss_case(data, reference.get(spec), "float32", check)
            m, k = case.outputs.shape
            if case.target_kind == "labels":
                assert case.targets.shape == (m,) and case.targets.max() < k
            else:
                assert case.targets.shape == (m, k)
            if case.target_kind == "binary":
                assert set(np.unique(case.targets)) <= {0.0, 1.0}
            if check == "huge_logits":
                assert np.max(np.abs(case.outputs)) >= 1.0
                seen.add("huge")
            seen.add((m == 1, k == 1))

    body()
    assert "huge" in seen and (False, False) in seen


def test_kind_and_summary():
    assert get_kind("losses").checks == ("batch", "huge_logits")
    s = LossCase(np.ones((2, 2)), np.array([0, 1]), "labels").summary()
    assert s["targets"] == [0, 1]
    with pytest.raises(ValueError, match="check"):
        draw_loss_case(None, reference.get("loss.mse"), "float32", "weights")
