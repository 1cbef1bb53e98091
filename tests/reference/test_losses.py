import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import track_tree
from trainspec.reference.losses import (
    half_sse,
    half_sse_gradient,
    logistic_loss,
    logistic_loss_gradient,
    mse,
    mse_gradient,
    sigmoid,
    softmax_cross_entropy,
    softmax_cross_entropy_gradient,
)

Y = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
T = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def central_difference(f, x, h=1e-6):
    out = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


batches = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31)).map(
    lambda a: np.random.default_rng(a[2]).normal(size=(a[0], a[1]))
)


def test_mse_by_hand_and_its_reductions():
    # squared errors: [0, 4, 4] and [0, 4, 1] -> sum 13
    assert mse(Y, T) == 13.0 / 2
    assert mse(Y, T, reduction="mean_over_elements") == 13.0 / 6
    np.testing.assert_array_equal(mse_gradient(Y, T), (Y - T))
    np.testing.assert_allclose(mse_gradient(Y, T, reduction="mean_over_elements"), (Y - T) / 3)
    one = Y[:, :1]  # one output per sample: the reductions agree
    assert mse(one, T[:, :1]) == mse(one, T[:, :1], reduction="mean_over_elements")


def test_half_sse_by_hand():
    assert half_sse(Y, T) == 6.5
    np.testing.assert_array_equal(half_sse_gradient(Y, T), -(T - Y))


@pytest.mark.parametrize("reduction", ["mean_over_samples", "mean_over_elements"])
@given(y=batches, seed=st.integers(0, 2**31))
def test_gradients_are_derivatives(reduction, y, seed):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=y.shape)
    b = (rng.random(y.shape) < 0.5).astype(float)
    labels = rng.integers(0, y.shape[1], y.shape[0])
    for f, g, tt, kw in (
        (mse, mse_gradient, t, {"reduction": reduction}),
        (half_sse, half_sse_gradient, t, {}),
        (logistic_loss, logistic_loss_gradient, b, {"reduction": reduction}),
        (softmax_cross_entropy, softmax_cross_entropy_gradient, labels, {}),
    ):
        num = central_difference(lambda x, f=f, tt=tt, kw=kw: f(x, tt, **kw), y)
        np.testing.assert_allclose(g(y, tt, **kw), num, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_by_hand_and_for_huge_logits():
    z = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    # sample 0: -log(1/2); sample 1 with label 0: -log(3/4)
    assert softmax_cross_entropy(z, np.array([1, 0])) == pytest.approx(
        (np.log(2) - np.log(0.75)) / 2, rel=1e-15
    )
    huge = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = softmax_cross_entropy(huge, np.array([1, 2]))
        g = softmax_cross_entropy_gradient(huge, np.array([1, 2]))
    assert v == pytest.approx((1e4 + np.log(2.0)) / 2, rel=1e-12)
    np.testing.assert_allclose(g, [[0.5, -0.5, 0.0], [0.0, 0.25, -0.25]], atol=1e-15)
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)  # gradients sum to 0 per sample


def test_logistic_loss_matches_the_naive_form_and_is_stable():
    s = 1 / (1 + np.exp(-Y))
    naive = -np.sum(T * np.log(s) + (1 - T) * np.log(1 - s))
    assert logistic_loss(Y, T) == pytest.approx(naive / 2, rel=1e-14)
    assert logistic_loss(Y, T, reduction="mean_over_elements") == pytest.approx(
        naive / 6, rel=1e-14
    )
    huge = np.array([[1e4, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logistic_loss(huge, np.array([[0.0, 1.0]])) == 2e4
        assert logistic_loss(huge, np.array([[1.0, 0.0]])) == 0.0
        np.testing.assert_array_equal(sigmoid(huge), [[1.0, 0.0]])
        np.testing.assert_array_equal(
            logistic_loss_gradient(huge, np.array([[0.0, 1.0]])), [[1.0, -1.0]]
        )


def test_runs_on_tracked_arrays():
    tr = track_tree({"y": Y, "t": T}, "float32")
    for out in (
        mse(tr["y"], T),
        mse_gradient(tr["y"], tr["t"]),
        softmax_cross_entropy(tr["y"], np.array([0, 2])),
        softmax_cross_entropy_gradient(tr["y"], np.array([0, 2])),
        logistic_loss(tr["y"], T),
        logistic_loss_gradient(tr["y"], T),
    ):
        assert np.all(np.isfinite(out.err)) and np.any(out.err > 0)


def test_bad_input():
    with pytest.raises(ValueError, match="targets"):
        mse(Y, T[:1])
    with pytest.raises(ValueError, match="outputs"):
        mse(Y[0], T[0])
    with pytest.raises(ValueError, match="reduction"):
        mse(Y, T, reduction="sum")
    with pytest.raises(TypeError, match="labels"):
        softmax_cross_entropy(Y, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="labels"):
        softmax_cross_entropy(Y, np.array([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        softmax_cross_entropy(Y, np.array([0]))
    with pytest.raises(TypeError, match="logits"):
        logistic_loss([[1.0]], T)


def test_entries():
    for i in ("loss.mse", "loss.half_sse", "loss.softmax_ce", "loss.logistic"):
        assert reference.get(i).kind == "losses"
    assert reference.get("loss.softmax_ce").model.targets == "labels"
