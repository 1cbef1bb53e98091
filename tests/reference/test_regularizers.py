import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import track_tree
from trainspec.reference.base import chain
from trainspec.reference.optimizers.weight_decay import sgd
from trainspec.reference.regularizers import (
    add_penalty_gradient,
    is_regularized,
    l1_penalty,
    l1_penalty_gradient,
    l2_penalty,
    l2_penalty_gradient,
    max_norm,
    regularization_loss,
)

W = np.array([[1.0, -2.0], [0.0, 3.0]])


def central_difference(f, w, h=1e-5):
    out = np.empty_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = h
        out[i] = (f(w + e) - f(w - e)) / (2 * h)
    return out


def test_l2_by_hand():
    assert l2_penalty(W, 0.5) == 0.5 * 14.0
    assert l2_penalty(W, 0.5, convention="half_lambda") == 0.25 * 14.0
    np.testing.assert_array_equal(l2_penalty_gradient(W, 0.5), W)
    np.testing.assert_array_equal(l2_penalty_gradient(W, 0.5, convention="half_lambda"), 0.5 * W)


weights = st.lists(st.floats(-10, 10), min_size=1, max_size=8).map(np.array)


@pytest.mark.parametrize("convention", ["lambda", "half_lambda"])
@given(w=weights, lam=st.floats(0.0, 2.0))
def test_l2_gradient_is_the_derivative_of_the_penalty(convention, w, lam):
    num = central_difference(lambda x: l2_penalty(x, lam, convention=convention), w)
    np.testing.assert_allclose(
        l2_penalty_gradient(w, lam, convention=convention), num, rtol=1e-6, atol=1e-6
    )


def test_solberg_erratum_is_shown_by_its_check():
    (erratum,) = reference.get("reg.l2").errata
    ev = erratum.check()
    assert ev.shows_difference
    assert ev.printed_error == pytest.approx(1.5)  # half of the true derivative is missing


def test_l1_by_hand_and_its_subgradient_at_zero():
    assert l1_penalty(W, 0.5) == 3.0
    np.testing.assert_array_equal(l1_penalty_gradient(W, 0.5), [[0.5, -0.5], [0.0, 0.5]])
    np.testing.assert_array_equal(
        l1_penalty_gradient(W, 0.5, at_zero="plus_lambda"), [[0.5, -0.5], [0.5, 0.5]]
    )


@given(w=weights.filter(lambda w: np.all(np.abs(w) > 1e-3)), lam=st.floats(0.0, 2.0))
def test_l1_gradient_is_the_derivative_away_from_zero(w, lam):
    num = central_difference(lambda x: l1_penalty(x, lam), w, h=1e-6)
    np.testing.assert_allclose(l1_penalty_gradient(w, lam), num, rtol=1e-6, atol=1e-6)


def test_max_norm_by_hand():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])  # row norms 5, 0.5, 0
    np.testing.assert_allclose(max_norm(w, 1.0), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], rtol=1e-15)
    # torch.renorm: 1e-7 added only above the bound; Keras MaxNorm: on every unit
    np.testing.assert_allclose(
        max_norm(w, 1.0, norm_eps="1e-7_when_above")[0],
        np.array([3.0, 4.0]) / (5.0 + 1e-7),
        rtol=1e-15,
    )
    np.testing.assert_array_equal(max_norm(w, 1.0, norm_eps="1e-7_when_above")[1], [0.3, 0.4])
    np.testing.assert_allclose(
        max_norm(w, 1.0, norm_eps="1e-7_always")[1], np.array([0.3, 0.4]) * 0.5 / (0.5 + 1e-7)
    )


@given(
    w=st.lists(st.floats(-10, 10), min_size=6, max_size=6).map(lambda v: np.reshape(v, (2, 3))),
    c=st.floats(0.1, 10),
)
def test_max_norm_bounds_each_units_incoming_weights(w, c):
    out = max_norm(w, c)
    norms = np.linalg.norm(w, axis=1)
    assert np.all(np.linalg.norm(out, axis=1) <= c * (1 + 1e-12))
    below = norms <= c
    np.testing.assert_allclose(out[below], w[below], rtol=1e-15)
    # the layout: Keras's (in, out) kernel with axis 0 is PyTorch's (out, in) weight transposed
    np.testing.assert_allclose(max_norm(w.T, c, incoming_axis=0), out.T, rtol=1e-15)


def test_max_norm_on_the_wrong_axis_differs():
    w = np.array([[3.0, 4.0], [0.0, 0.1]])
    assert not np.allclose(max_norm(w, 1.0, incoming_axis=1), max_norm(w, 1.0, incoming_axis=0))


def test_biases_are_not_regularised():
    assert is_regularized("w") and is_regularized("dense.kernel") and is_regularized("w0")
    assert not any(map(is_regularized, ["b", "bias", "fc1.bias", "dense/bias", "out_bias"]))
    params = {"w": W, "bias": np.array([10.0, 10.0])}
    assert regularization_loss(params, lambda v: l2_penalty(v, 0.5)) == 7.0
    assert regularization_loss({"bias": np.ones(2)}, lambda v: l2_penalty(v, 0.5)) == 0.0
    t = add_penalty_gradient(lambda v: l2_penalty_gradient(v, 0.5))
    grads = {"w": np.zeros((2, 2)), "bias": np.zeros(2)}
    out, _ = t.update(grads, t.init(params), params)
    np.testing.assert_array_equal(out["w"], W)
    np.testing.assert_array_equal(out["bias"], [0.0, 0.0])
    # chains with an optimizer: the step is -lr * 2 lambda theta on the weights only
    opt = chain(t, sgd(0.1))
    u, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(u["w"], -0.1 * W, rtol=1e-15)
    np.testing.assert_array_equal(u["bias"], [0.0, 0.0])
    with pytest.raises(ValueError, match="params"):
        t.update(grads, t.init(params))


def test_runs_on_tracked_arrays():
    w = track_tree({"w": W}, "float32")["w"]
    for out in (
        l2_penalty_gradient(w, 0.5),
        l1_penalty(w, 0.5),
        max_norm(w, 1.0),
        max_norm(w, 1.0, norm_eps="1e-7_always"),
    ):
        assert np.all(np.isfinite(out.err))


def test_bad_input():
    with pytest.raises(ValueError, match="l2"):
        l2_penalty(W, -1.0)
    with pytest.raises(ValueError, match="convention"):
        l2_penalty(W, 1.0, convention="two_lambda")
    with pytest.raises(TypeError, match="weights"):
        l2_penalty([1.0, 2.0], 1.0)
    with pytest.raises(TypeError, match="weights"):
        l1_penalty(np.array([1, 2]), 1.0)
    with pytest.raises(ValueError, match="at_zero"):
        l1_penalty_gradient(W, 1.0, at_zero="minus")
    with pytest.raises(ValueError, match="max_value"):
        max_norm(W, 0.0)
    with pytest.raises(ValueError, match="incoming_axis"):
        max_norm(W, 1.0, incoming_axis=2)
    with pytest.raises(ValueError, match="norm_eps"):
        max_norm(W, 1.0, norm_eps="1e-8")


def test_entries():
    for i in ("reg.l2", "reg.l1", "reg.max_norm"):
        assert reference.get(i).kind == "regularizers"
    assert [o.name for o in reference.get("reg.max_norm").variant_axes[0].options] == [
        "none",
        "1e-7_when_above",
        "1e-7_always",
    ]
