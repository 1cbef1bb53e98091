"""The backprop kind: drawn MLPs, the ReLU-sign rule, verdicts on hand-written backward passes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.training.backprop import BackpropCase, relu_sign_is_determined
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import representable

ENTRY = reference.get("train.backprop")
NP = {"float32": np.float32, "float64": np.float64}


def _numpy_backprop(case, dtype, device, *, fault=None):
    """The backward pass written out in the dtype under test (an honest second implementation)."""
    t = NP[dtype]
    p = {k: v.astype(t) for k, v in case.params.items()}
    hs, zs = [case.x.astype(t)], []
    for k, a in enumerate(case.activations, start=1):
        z = hs[-1] @ p[f"W{k}"].T + p[f"b{k}"]
        zs.append(z)
        if a == "tanh":
            h = np.tanh(z)
        elif a == "sigmoid":
            h = (t(1) / (t(1) + np.exp(-z))).astype(t)
        elif a == "relu":
            h = np.maximum(z, t(0))
        else:
            h = z
        hs.append(h)
    r = hs[-1] - case.t.astype(t)
    dh = r if case.loss == "half_sse" else r * t(2.0 / r.size)
    out = {}
    for k in range(case.layers, 0, -1):
        a, z, h = case.activations[k - 1], zs[k - 1], hs[k]
        if a == "tanh":
            point = np.tanh(h) if fault == "tanh_derivative_at_output" else h
            d = t(1) - point * point
        elif a == "sigmoid":
            d = h * (t(1) - h)
        elif a == "relu":
            d = (z >= 0 if fault == "relu_one_at_zero" else z > 0).astype(t)
        else:
            d = np.ones_like(z)
        delta = dh * d
        out[f"W{k}"] = delta.T @ hs[k - 1]
        out[f"b{k}"] = delta.sum(axis=0)
        dh = delta @ p[f"W{k}"]
    return {k: v.astype(np.float64) for k, v in out.items()}


def _impl(run, name="numpy backprop"):
    return Implementation("train.backprop", name, run, devices=("cpu",))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from(["float32", "float64"]))
def test_drawn_cases_are_representable_and_consistent(data, dtype):
    case = get_kind("training.backprop").draw(data, ENTRY, dtype, "gradients")
    assert 1 <= case.layers <= 3 and case.loss in ("half_sse", "mse")
    for k in range(1, case.layers + 1):
        assert case.params[f"W{k}"].shape[0] == case.params[f"b{k}"].shape[0]
        assert representable(case.params[f"W{k}"], dtype)
    assert representable(case.x, dtype) and representable(case.t, dtype)
    assert relu_sign_is_determined(case, dtype)
    assert case.summary()["activations"] == list(case.activations)


def test_an_exact_zero_pre_activation_is_kept_and_a_rounded_one_is_rejected():
    exact = BackpropCase(
        {"W1": np.array([[1.0]]), "b1": np.array([0.0])},
        np.array([[0.0]]),
        np.array([[1.0]]),
        ("relu",),
        "half_sse",
    )
    assert relu_sign_is_determined(exact, "float32")
    # 0.1*3 - 0.3 is 0 only up to rounding: its sign is not determined
    rounded = BackpropCase(
        {"W1": np.array([[0.1, -0.3]]), "b1": np.array([0.0])},
        np.array([[3.0, 1.0]]),
        np.array([[1.0]]),
        ("relu",),
        "half_sse",
    )
    assert not relu_sign_is_determined(rounded, "float64")


def test_kit_reports_a_faithful_backward_pass_as_conforming():
    for dtype in ("float32", "float64"):
        row = check_row(ENTRY, _impl(_numpy_backprop), "numpy", dtype, "cpu", profile="quick")
        assert row.verdict == "conforms", row


def test_kit_names_the_relu_convention():
    run = lambda c, d, dev: _numpy_backprop(c, d, dev, fault="relu_one_at_zero")  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float32", "cpu", profile="ci")
    assert row.verdict == "variant" and row.variant == "relu_grad_at_zero=one", row


def test_kit_reports_a_derivative_at_the_wrong_point_as_diverging():
    run = lambda c, d, dev: _numpy_backprop(c, d, dev, fault="tanh_derivative_at_output")  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float32", "cpu", profile="quick")
    assert row.verdict == "diverges" and row.counterexample, row
    assert "tanh" in row.counterexample["activations"]
