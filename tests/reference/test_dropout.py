"""Dropout (``trainspec.reference.dropout``): values by hand, expectations, statistics, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.conformance.tolerance import compare
from trainspec.conformance.tracked import track_scalar, track_tree
from trainspec.reference.dropout import (
    DropoutModel,
    bernoulli_mask,
    dropout,
    dropout_moments,
    inverted_dropout,
    keep_probability,
    linear_dropout_moments,
    mc_dropout,
    mc_dropout_linear,
    naive_dropout,
    solberg_mask_erratum,
)

X = np.array([1.0, -2.0, 3.0, 4.0])
MASK = np.array([True, False, True, False])
XB = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
W = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0]])
B = np.array([0.25, -0.5])


# ---------------------------------------------------------------------------------------------
# the parameter's meaning


def test_keep_probability_maps_each_meaning():
    assert keep_probability(0.2) == pytest.approx(0.8)
    assert keep_probability(0.2, "drop") == pytest.approx(0.8)
    assert keep_probability(0.2, "keep") == 0.2
    assert keep_probability(0.0, "drop") == 1.0 and keep_probability(1.0, "keep") == 1.0


@pytest.mark.parametrize(
    "rate, meaning, error, match",
    [
        (1.5, "drop", ValueError, r"rate=1.5: must be in \[0.0, 1.0\]"),
        (-0.1, "drop", ValueError, "rate=-0.1: must be in"),
        (1.25, "keep", ValueError, r"rate=1.25: must be in \[0.0, 1.0\]"),
        (float("nan"), "drop", ValueError, "rate=nan: must be finite"),
        ("0.5", "drop", TypeError, "rate='0.5': must be a real number"),
        (0.5, "retain", ValueError, r"rate_meaning='retain': must be one of \['drop', 'keep'\]"),
    ],
)
def test_keep_probability_bad_input(rate, meaning, error, match):
    with pytest.raises(error, match=match):
        keep_probability(rate, meaning)


def test_solberg_code_is_the_keep_meaning():
    """Solberg's ``U1 = (np.random.rand(*H1.shape) < p) / p`` with p = 0.3, on the same draws."""
    p, h = 0.3, np.linspace(-1.0, 1.0, 50)
    u1 = (np.random.default_rng(7).random(h.shape) < p) / p
    mine = inverted_dropout(h, p, rate_meaning="keep", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(mine, h * u1)
    # the same number read as a drop probability (torch's p) keeps 70 %, not 30 %
    drop = inverted_dropout(np.ones(10_000), p, rng=np.random.default_rng(7))
    assert np.mean(drop != 0) > 0.65


# ---------------------------------------------------------------------------------------------
# values by hand


def test_inverted_dropout_by_hand():
    np.testing.assert_array_equal(inverted_dropout(X, 0.5, mask=MASK), [2.0, 0.0, 6.0, 0.0])
    np.testing.assert_array_equal(
        inverted_dropout(X, 0.25, rate_meaning="keep", mask=MASK), [4.0, 0.0, 12.0, 0.0]
    )
    # test time: the identity, whatever the rate
    np.testing.assert_array_equal(inverted_dropout(X, 0.5, training=False), X)
    # a 0/1 mask of numbers is the same as a boolean one
    np.testing.assert_array_equal(
        inverted_dropout(X, 0.5, mask=MASK.astype(np.float64)), [2.0, 0.0, 6.0, 0.0]
    )


def test_naive_dropout_by_hand():
    np.testing.assert_array_equal(naive_dropout(X, 0.5, mask=MASK), [1.0, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(naive_dropout(X, 0.75, training=False), 0.25 * X)
    np.testing.assert_array_equal(
        naive_dropout(X, 0.75, rate_meaning="keep", training=False), 0.75 * X
    )


def test_masking_decides_what_a_dropped_non_finite_input_becomes():
    x = np.array([np.inf, -np.inf, np.nan, 2.0])
    dropped = np.zeros(4, bool)
    kept = np.ones(4, bool)
    with np.errstate(all="raise"):  # IEEE results, no warnings
        for fn in (inverted_dropout, naive_dropout):
            np.testing.assert_array_equal(fn(x, 0.5, mask=dropped), [np.nan, np.nan, np.nan, 0])
            np.testing.assert_array_equal(fn(x, 0.5, mask=dropped, masking="select"), 0)
        np.testing.assert_array_equal(
            inverted_dropout(x, 0.5, mask=kept, masking="select"), [np.inf, -np.inf, np.nan, 4]
        )
        np.testing.assert_array_equal(inverted_dropout(x, 1.0, mask=kept), [np.nan] * 3 + [0])
    # finite inputs: both give 0 (multiply gives -0.0 for a negative x; equal to 0)
    np.testing.assert_array_equal(inverted_dropout(X, 0.5, mask=MASK), [2.0, -0.0, 6.0, 0.0])
    with pytest.raises(ValueError, match=r"masking='mul': must be one of \['multiply', 'select'\]"):
        inverted_dropout(X, 0.5, mask=MASK, masking="mul")


def test_dropout_dispatches_on_form():
    np.testing.assert_array_equal(dropout(X, 0.5, mask=MASK), inverted_dropout(X, 0.5, mask=MASK))
    np.testing.assert_array_equal(
        dropout(X, 0.5, form="naive", training=False), naive_dropout(X, 0.5, training=False)
    )
    with pytest.raises(ValueError, match=r"form='scaled': must be one of"):
        dropout(X, 0.5, form="scaled", mask=MASK)


def test_rate_zero_keeps_everything_and_a_keep_probability_of_one_too():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(inverted_dropout(X, 0.0, rng=rng), X)
    np.testing.assert_array_equal(naive_dropout(X, 1.0, rate_meaning="keep", rng=rng), X)


def test_keep_probability_zero_drops_everything_without_dividing_by_zero():
    ones = np.ones(4, bool)
    for rate, meaning in ((1.0, "drop"), (0.0, "keep")):
        with np.errstate(all="raise"):
            np.testing.assert_array_equal(
                inverted_dropout(X, rate, rate_meaning=meaning, mask=ones), 0
            )
            y = inverted_dropout(X, rate, rate_meaning=meaning, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(y, 0)
        np.testing.assert_array_equal(
            naive_dropout(X, rate, rate_meaning=meaning, training=False), 0
        )
        assert all(np.all(a == 0) for a in dropout_moments(X, rate, rate_meaning=meaning))
    mean, var = linear_dropout_moments(XB, W, B, 1.0)
    np.testing.assert_array_equal(mean, np.broadcast_to(B, (2, 2)))
    np.testing.assert_array_equal(var, 0)


# ---------------------------------------------------------------------------------------------
# expectations: exact over the two outcomes of a mask


@given(
    x=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8).map(np.array),
    q=st.floats(0.01, 1.0),
)
def test_expectation_over_the_mask_is_the_test_time_output(x, q):
    """E[y] = q * y(all kept) + (1 - q) * y(all dropped): x for inverted, q x (= test) for naive."""
    ones, zeros = np.ones(x.shape, bool), np.zeros(x.shape, bool)
    for form in ("inverted", "naive"):
        kept = dropout(x, q, form=form, rate_meaning="keep", mask=ones)
        dropped = dropout(x, q, form=form, rate_meaning="keep", mask=zeros)
        assert np.all(dropped == 0)
        expect = dropout(x, q, form=form, rate_meaning="keep", training=False)
        np.testing.assert_allclose(q * kept + (1 - q) * dropped, expect, rtol=1e-12, atol=0)
        mean, _ = dropout_moments(x, q, form=form, rate_meaning="keep")
        np.testing.assert_allclose(mean, expect, rtol=1e-12, atol=0)


def test_dropout_moments_by_hand():
    mean, var = dropout_moments(X, 0.5)
    np.testing.assert_array_equal(mean, X)
    np.testing.assert_array_equal(var, X**2)  # (1 - q)/q = 1
    mean, var = dropout_moments(X, 0.75, form="naive", rate_meaning="keep")
    np.testing.assert_array_equal(mean, 0.75 * X)
    np.testing.assert_allclose(var, X**2 * 0.1875)


# ---------------------------------------------------------------------------------------------
# the random mask: statistics at the kit's false-alarm rate (fixed seeds: deterministic)


def test_bernoulli_mask_keeps_the_right_fraction_and_is_reproducible():
    n, q = 200_000, 0.3
    m = bernoulli_mask((n,), q, np.random.default_rng(3))
    assert m.dtype == np.bool_
    assert stats.binomial_pvalue(int(m.sum()), n, q) > stats.ALPHA
    assert stats.binomial_pvalue(int(m.sum()), n, 0.31) < stats.ALPHA  # power off the null
    np.testing.assert_array_equal(m, bernoulli_mask((n,), q, np.random.default_rng(3)))
    assert not bernoulli_mask((100,), 0.0, np.random.default_rng(0)).any()
    assert bernoulli_mask((100,), 1.0, np.random.default_rng(0)).all()


@pytest.mark.parametrize("form", ["inverted", "naive"])
def test_the_mean_over_many_masks_approaches_its_expectation(form):
    x = np.array([0.5, -3.0, 2.0])
    rate, passes = 0.6, 20_000
    rng = np.random.default_rng(11)
    ys = np.stack([dropout(x, rate, form=form, rng=rng) for _ in range(passes)])
    mean, var = dropout_moments(x, rate, form=form)
    for j in range(x.size):
        assert stats.mean_pvalue(ys[:, j], mean[j], var[j]) > stats.ALPHA
    # kept values are exactly x/q (inverted) or x (naive); dropped ones exactly 0
    kept = x / 0.4 if form == "inverted" else x
    assert np.all((ys == 0) | (ys == kept))


# ---------------------------------------------------------------------------------------------
# Monte-Carlo dropout through a linear layer


def test_mc_dropout_linear_by_hand():
    mask = np.array([[True, False, True], [False, True, True]])
    # inverted, q = 0.5: h = [[2, 0, -2], [0, -1, 4]]
    y = mc_dropout_linear(XB, W, B, 0.5, mask=mask)
    np.testing.assert_allclose(y, np.array([[2, 0, -2], [0, -1, 4]]) @ W + B)
    np.testing.assert_allclose(mc_dropout_linear(XB, W, B, 0.5, training=False), XB @ W + B)
    np.testing.assert_allclose(
        mc_dropout_linear(XB, W, B, 0.5, form="naive", training=False), (0.5 * XB) @ W + B
    )


@pytest.mark.parametrize("form", ["inverted", "naive"])
def test_mc_average_of_a_linear_layer_tends_to_the_test_output(form):
    rate, passes = 0.3, 4000
    rng = np.random.default_rng(5)
    fwd = lambda r: mc_dropout_linear(XB, W, B, rate, form=form, rng=r)  # noqa: E731
    avg = mc_dropout(fwd, passes, rng)
    test = mc_dropout_linear(XB, W, B, rate, form=form, training=False)
    mean, var = linear_dropout_moments(XB, W, B, rate, form=form)
    np.testing.assert_allclose(mean, test, rtol=1e-12)
    z = (avg - test) / np.sqrt(var / passes)
    for v in z.ravel():
        assert stats.two_sided_normal_pvalue(v) > stats.ALPHA
    # and the variance formula matches the spread of single passes
    rng = np.random.default_rng(6)
    ys = np.stack([fwd(rng) for _ in range(passes)])
    np.testing.assert_allclose(ys.var(axis=0), var, rtol=0.1)
    # MC dropout with dropout off is the test output itself
    assert np.allclose(
        mc_dropout(lambda r: mc_dropout_linear(XB, W, B, rate, form=form, training=False), 3, rng),
        test,
    )


def test_mc_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="passes=0: must be an integer >= 1"):
        mc_dropout(lambda r: 0.0, 0, rng)
    with pytest.raises(TypeError, match="rng=None: must be a numpy.random.Generator"):
        mc_dropout(lambda r: 0.0, 2, None)
    with pytest.raises(TypeError, match="forward=3: must be callable"):
        mc_dropout(3, 2, rng)
    with pytest.raises(ValueError, match="do not chain as x @ weight \\+ bias"):
        mc_dropout_linear(XB, W.T, B, 0.5, rng=rng)
    with pytest.raises(ValueError, match="must be 2-D \\(batch, in\\)"):
        linear_dropout_moments(XB[0], W, B, 0.5)


# ---------------------------------------------------------------------------------------------
# rounding: both orders of the kept value are inside the tracked bound


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.7, 0.9])
def test_both_scaling_orders_are_within_the_tracked_bound(rate):
    x32 = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    q32 = np.float32(1.0) - np.float32(rate)
    tracked = inverted_dropout(
        track_tree({"x": x32.astype(np.float64)}, "float32")["x"],
        track_scalar(rate, "float32"),
        mask=np.ones(1000, bool),
    )
    for actual in (x32 / q32, x32 * (np.float32(1.0) / q32), x32 * np.float32(1.0 / (1.0 - rate))):
        assert compare(actual, tracked, "float32")[2] <= 1.0
    # and a kept value off by a factor (1 + 1e-4) is not
    assert compare(x32 / q32 * np.float32(1.0001), tracked, "float32")[2] > 1.0


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, TypeError, "rng: training-mode dropout needs a numpy.random.Generator"),
        ({"rng": np.random.RandomState(0)}, TypeError, "rng=.*must be a numpy.random.Generator"),
        ({"rng": np.random.default_rng(0), "mask": MASK}, ValueError, "rng, mask: pass one"),
        ({"mask": MASK[:3]}, ValueError, r"mask: shape \(3,\) must equal the shape of x, \(4,\)"),
        (
            {"mask": np.array([0, 2, 1, 1])},
            ValueError,
            "mask: must be boolean or hold only 0 and 1",
        ),
        ({"mask": MASK, "training": 1}, TypeError, "training=1: must be a bool"),
    ],
)
def test_dropout_bad_input(kwargs, error, match):
    for fn in (inverted_dropout, naive_dropout):
        with pytest.raises(error, match=match):
            fn(X, 0.5, **kwargs)


def test_dropout_bad_x():
    with pytest.raises(TypeError, match="x: must have a real floating-point dtype, got int64"):
        inverted_dropout(np.array([1, 2]), 0.5, training=False)
    with pytest.raises(TypeError, match="x: must be an array, got list"):
        naive_dropout([1.0, 2.0], 0.5, training=False)
    with pytest.raises(ValueError, match="q=1.5: must be in"):
        bernoulli_mask((2,), 1.5, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# the registry


def test_entries_are_registered_with_their_axes():
    inv, naive, mc = (reference.get(i) for i in ("drop.inverted", "drop.naive", "drop.mc"))
    assert inv.kind == naive.kind == mc.kind == "dropout"
    assert inv.tier == naive.tier == "core" and mc.tier == "doc"
    assert [str(v) for v in inv.variants()] == [
        "default",
        "masking=select",
        "rate_meaning=keep",
        "rate_meaning=keep, masking=select",
    ]
    assert {a.name for a in mc.variant_axes} == {"rate_meaning", "form"}
    assert inv.model == DropoutModel("inverted") and naive.model == DropoutModel("naive")
    assert mc.model.mc and [h.name for h in inv.hyperparameters] == ["rate"]
    with pytest.raises(ValueError, match="form='x': must be one of"):
        DropoutModel("x")


@pytest.mark.parametrize("spec_id", ["drop.inverted", "drop.naive"])
def test_solberg_erratum_shows_the_difference(spec_id):
    (erratum,) = reference.get(spec_id).errata
    ev = erratum.check()
    assert ev.shows_difference, ev
    assert "rand < p" in erratum.explanation
    with pytest.raises(ValueError, match="form="):
        solberg_mask_erratum("other")
