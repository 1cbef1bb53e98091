import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import Tracked, track_scalar
from trainspec.reference.norm import (
    VARIANCE_COMPUTATIONS,
    BatchStatistics,
    apply_standardizer,
    apply_whitening,
    batch_norm_backward,
    batch_norm_inference,
    batch_norm_train,
    batch_statistics,
    channel_axis,
    fit_standardizer,
    fit_whitening,
    old_value_weight,
    population_statistics,
    running_statistics,
    simulate_training,
)

BN_IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")
ORDERS = VARIANCE_COMPUTATIONS


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# forward pass


def test_train_by_hand():
    # one channel, x = [1, 3]: mu = 2, var = 1 (biased), xhat = -+1/sqrt(1 + eps)
    x = np.array([[1.0], [3.0]])
    y, stats = batch_norm_train(x, np.array([2.0]), np.array([0.5]), 0.25)
    assert stats.mean.tolist() == [2.0] and stats.var.tolist() == [1.0] and stats.count == 2
    s = np.sqrt(1.25)
    np.testing.assert_allclose(y[:, 0], [0.5 - 2.0 / s, 0.5 + 2.0 / s], rtol=1e-15)


@pytest.mark.parametrize("variance", ORDERS)
def test_every_evaluation_order_gives_the_same_values(variance):
    x = rng().normal(1.0, 2.0, (5, 3))
    g, b = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    ref, _ = batch_norm_train(x, g, b, 1e-3)
    y, _ = batch_norm_train(x, g, b, 1e-3, variance=variance)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@given(
    n=st.integers(2, 6),
    c=st.integers(1, 4),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    seed=st.integers(0, 2**31),
)
def test_layouts_agree_and_features_are_images_of_size_one(n, c, h, w, seed):
    r = rng(seed)
    x = r.normal(0.0, 1.0, (n, c, h, w))
    g, b = r.normal(size=c), r.normal(size=c)
    first, s1 = batch_norm_train(x, g, b, 1e-5, layout="channels_first")
    last, s2 = batch_norm_train(x.transpose(0, 2, 3, 1), g, b, 1e-5, layout="channels_last")
    np.testing.assert_allclose(last.transpose(0, 3, 1, 2), first, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s1.var, s2.var, rtol=1e-12)
    assert s1.count == s2.count == n * h * w
    flat, _ = batch_norm_train(x[:, :, 0, 0], g, b, 1e-5)
    one, _ = batch_norm_train(x[:, :, :1, :1], g, b, 1e-5)
    np.testing.assert_allclose(one[:, :, 0, 0], flat, rtol=1e-13, atol=1e-13)


@given(m=st.integers(2, 30), offset=st.floats(-1e3, 1e3), eps=st.floats(1e-8, 1.0))
def test_output_has_mean_beta_and_variance_gamma2_var_over_var_plus_eps(m, offset, eps):
    x = rng(m).normal(offset, 2.0, (m, 2))
    g, b = np.array([3.0, -0.5]), np.array([1.0, 2.0])
    y, stats = batch_norm_train(x, g, b, eps)
    np.testing.assert_allclose(y.mean(axis=0), b, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=0), g**2 * stats.var / (stats.var + eps), rtol=1e-9)


def test_eps_dominates_a_constant_feature():
    x = np.full((4, 1), 7.0)
    y, stats = batch_norm_train(x, np.array([2.0]), np.array([-1.0]), 1e-3)
    assert stats.var.tolist() == [0.0]
    np.testing.assert_array_equal(y, -1.0)


def test_one_pass_variance_loses_the_variance_to_cancellation_at_large_offsets():
    # the same numbers in both passes; only the evaluation order differs
    x = 1e8 + rng().normal(0.0, 1.0, (16, 1))
    two = batch_statistics(x).var[0]
    one = batch_statistics(x, variance="one_pass").var[0]
    exact = np.var(x - 1e8)
    assert abs(two - exact) < 1e-6 * exact
    assert abs(one - exact) > 1e-2 * exact  # float64 holds ~1e16 of the 1e16 squares: noise


def test_unbiased_variance_is_not_what_normalises():
    x = np.array([[0.0], [2.0]])
    _, stats = batch_norm_train(x, np.ones(1), np.zeros(1), 1e-5)
    assert stats.var[0] == 1.0  # 1/m, not 1/(m-1) = 2


def test_inference_with_the_batch_statistics_is_training_mode():
    x = rng().normal(3.0, 2.0, (6, 2, 2, 2))
    g, b = np.array([1.5, -1.0]), np.array([0.0, 2.0])
    y, s = batch_norm_train(x, g, b, 1e-4)
    np.testing.assert_allclose(batch_norm_inference(x, s.mean, s.var, g, b, 1e-4), y, rtol=1e-13)


def test_solberg_test_time_erratum_shows_the_difference():
    (erratum,) = reference.get("norm.batch.test").errata
    evidence = erratum.check()
    assert evidence.shows_difference, evidence


# ---------------------------------------------------------------------------------------------
# backward pass


def _finite_difference(f, x, h=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("variance", ORDERS)
@pytest.mark.parametrize(
    "layout,shape", [("channels_first", (3, 2)), ("channels_last", (2, 2, 1, 3))]
)
def test_backward_matches_finite_differences(variance, layout, shape):
    r = rng(1)
    x = r.normal(0.5, 1.5, shape)
    dy = r.normal(size=shape)
    c = shape[channel_axis(len(shape), layout)]
    g, b, eps = r.normal(size=c), r.normal(size=c), 1e-2

    def loss(xx, gg=g, bb=b):
        return float(np.sum(dy * batch_norm_train(xx, gg, bb, eps, layout=layout)[0]))

    grads = batch_norm_backward(x, dy, g, eps, layout=layout, variance=variance)
    np.testing.assert_allclose(grads.dx, _finite_difference(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        grads.dgamma, _finite_difference(lambda gg: loss(x, gg=gg), g), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        grads.dbeta, _finite_difference(lambda bb: loss(x, bb=bb), b), rtol=1e-6, atol=1e-8
    )


@given(m=st.integers(2, 12), seed=st.integers(0, 2**31))
def test_dx_is_orthogonal_to_constants_and_to_xhat(m, seed):
    r = rng(seed)
    x, dy = r.normal(2.0, 3.0, (m, 2)), r.normal(size=(m, 2))
    g = np.array([1.0, -2.0])
    dx = batch_norm_backward(x, dy, g, 1e-5).dx
    _, stats = batch_norm_train(x, g, np.zeros(2), 1e-5)
    xhat = (x - stats.mean) / np.sqrt(stats.var + 1e-5)
    scale = np.abs(dy).sum() * 10
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12 * scale)
    # sum_i dx_i xhat_i = gamma/s (sum dy xhat)(1 - var/(var+eps))
    s = np.sqrt(stats.var + 1e-5)
    expected = g / s * np.sum(dy * xhat, axis=0) * (1e-5 / (stats.var + 1e-5))
    np.testing.assert_allclose(np.sum(dx * xhat, axis=0), expected, atol=1e-10 * scale)
    # a constant upstream gradient moves nothing
    const = batch_norm_backward(x, np.full_like(x, 0.7), g, 1e-5).dx
    np.testing.assert_allclose(const, 0.0, atol=1e-13)


# ---------------------------------------------------------------------------------------------
# running statistics


def _batch(mean, var, count):
    return BatchStatistics(np.array(mean), np.array(var), count)


def test_exponential_running_average_by_hand():
    rs = running_statistics(0.9)
    s = rs.init(np.zeros(1), np.ones(1))
    s = rs.update(s, _batch([2.0], [4.0], 5))
    np.testing.assert_allclose([s.mean[0], s.var[0]], [0.2, 0.9 + 0.4], rtol=1e-15)
    u = running_statistics(0.9, running_variance="unbiased")
    s2 = u.update(u.init(np.zeros(1), np.ones(1)), _batch([2.0], [4.0], 5))
    np.testing.assert_allclose(s2.var[0], 0.9 + 0.1 * 4.0 * 5 / 4, rtol=1e-15)


@given(m=st.floats(0.0, 1.0))
def test_momentum_conventions_are_each_others_complement(m):
    assert old_value_weight(m, "old_weight") == m
    assert old_value_weight(1.0 - m, "new_weight") == pytest.approx(m, abs=1e-15)
    a = running_statistics(m)
    b = running_statistics(1.0 - m, momentum_convention="new_weight")
    batch = _batch([3.0], [2.0], 4)
    sa = a.update(a.init(np.ones(1), np.ones(1)), batch)
    sb = b.update(b.init(np.ones(1), np.ones(1)), batch)
    np.testing.assert_allclose([sa.mean, sa.var], [sb.mean, sb.var], rtol=1e-14, atol=1e-15)


def _batches(sizes, seed=0):
    r = rng(seed)
    return [r.normal(r.normal(0, 3), r.uniform(0.5, 2), (n, 2)) for n in sizes]


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("sizes", [(4, 4, 4), (2, 7, 3, 5)])
def test_whole_training_set_is_the_statistics_of_all_values(unbiased, sizes):
    batches = _batches(sizes)
    rs = running_statistics(
        0.5,
        average="whole_training_set",
        running_variance="unbiased" if unbiased else "biased",
    )
    s = rs.init(np.zeros(2), np.ones(2))
    for b in batches:
        s = rs.update(s, batch_statistics(b))
    mean, var = population_statistics(batches, unbiased=unbiased)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(s.var, var, rtol=1e-12)
    assert s.samples == sum(sizes) and s.steps == len(sizes)


def test_cumulative_is_ioffe_szegedy_algorithm_2():
    batches = _batches((5, 5, 5), seed=3)
    rs = running_statistics(0.99, average="cumulative", running_variance="unbiased")
    s = rs.init(np.full(2, 100.0), np.full(2, 100.0))  # forgotten after the first batch
    stats = [batch_statistics(b) for b in batches]
    for st_ in stats:
        s = rs.update(s, st_)
    np.testing.assert_allclose(s.mean, np.mean([b.mean for b in stats], axis=0), rtol=1e-13)
    np.testing.assert_allclose(s.var, 5 / 4 * np.mean([b.var for b in stats], axis=0), rtol=1e-13)
    # with equal batch sizes the average of batch means is the whole-set mean; not so the variance
    mean, var = population_statistics(batches)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-12)
    assert np.all(np.abs(s.var - var) > 1e-3)


def test_simulate_training_runs_on_tracked_arrays_for_every_variant():
    r = rng(5)
    batches = [r.normal(1.0, 2.0, (3, 2, 2, 1)) for _ in range(2)]
    ups = [r.normal(size=b.shape) for b in batches]
    test = r.normal(size=(2, 2, 2, 1))
    g, b = np.array([1.0, -1.0]), np.array([0.5, 0.0])

    def tr(a):
        return Tracked(a, 0.0, 2.0**-24)

    for entry_id in BN_IDS:
        for v in reference.get(entry_id).variants():
            plain = simulate_training(
                batches, ups, test, g, b, 1e-3, 0.9, np.zeros(2), np.ones(2), options=v.options
            )
            tracked = simulate_training(
                [tr(x) for x in batches],
                [tr(x) for x in ups],
                tr(test),
                tr(g),
                tr(b),
                track_scalar(1e-3, "float32"),
                track_scalar(0.9, "float32"),
                tr(np.zeros(2)),
                tr(np.ones(2)),
                options=v.options,
            )
            np.testing.assert_allclose(tracked.test_output.value, plain.test_output, rtol=1e-13)
            np.testing.assert_allclose(tracked.grads[1].dx.value, plain.grads[1].dx, rtol=1e-10)
            np.testing.assert_allclose(tracked.running[1].var.value, plain.running[1].var)
            assert np.all(np.isfinite(tracked.grads[1].dx.err))
            assert np.all(tracked.outputs[0].err > 0)


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: batch_norm_train(np.ones((2, 2)), np.ones(2), np.zeros(2), 0.0), "eps"),
        (lambda: batch_norm_train(np.ones((2, 2)), np.ones(3), np.zeros(2), 1e-5), "gamma"),
        (lambda: batch_norm_train(np.ones(4), np.ones(1), np.zeros(1), 1e-5), "at least 2"),
        (
            lambda: batch_norm_train(np.ones((2, 2)), np.ones(2), np.zeros(2), 1e-5, layout="nchw"),
            "layout",
        ),
        (lambda: batch_statistics(np.ones((2, 2)), variance="three_pass"), "variance"),
        (lambda: batch_norm_train(np.ones((0, 2)), np.ones(2), np.zeros(2), 1e-5), "empty"),
        (
            lambda: batch_norm_inference(
                np.ones((2, 1)), np.zeros(1), -np.ones(1), np.ones(1), np.zeros(1), 1e-5
            ),
            "var",
        ),
        (lambda: batch_norm_backward(np.ones((2, 1)), np.ones((3, 1)), np.ones(1), 1e-5), "dy"),
        (lambda: running_statistics(1.5), "momentum"),
        (lambda: running_statistics(0.9, average="median"), "average"),
        (lambda: old_value_weight(0.9, "sideways"), "momentum_convention"),
        (
            lambda: running_statistics(0.9, running_variance="unbiased").update(
                running_statistics(0.9).init(np.zeros(1), np.ones(1)), _batch([1.0], [0.0], 1)
            ),
            "at least 2",
        ),
        (lambda: population_statistics([]), "at least one"),
        (lambda: fit_standardizer(np.ones((3, 2)), scale=True), "zero variance"),
        (lambda: fit_standardizer(np.ones((3, 2)), statistics="median"), "statistics"),
        (lambda: fit_whitening(rng().normal(size=(2, 3))), "rank-deficient"),
        (lambda: fit_whitening(rng().normal(size=(9, 3)), n_components=4), "n_components"),
        (lambda: apply_whitening(fit_whitening(rng().normal(size=(9, 3))), np.ones((2, 2))), "x"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_arrays_are_type_errors():
    with pytest.raises(TypeError, match="x"):
        batch_norm_train([[1.0], [2.0]], np.ones(1), np.zeros(1), 1e-5)
    with pytest.raises(TypeError, match="floating"):
        batch_norm_train(np.ones((2, 1), dtype=int), np.ones(1), np.zeros(1), 1e-5)
    with pytest.raises(TypeError, match="state"):
        running_statistics(0.9).update(None, _batch([1.0], [0.0], 2))


# ---------------------------------------------------------------------------------------------
# input normalisation and whitening


@given(seed=st.integers(0, 2**31), offset=st.floats(-100, 100))
def test_standardize_gives_zero_mean_unit_variance(seed, offset):
    x = rng(seed).normal(offset, 3.0, (20, 4, 4, 3))
    for statistics, axes in (("mean_image", (0,)), ("per_channel", (0, 1, 2))):
        s = fit_standardizer(x, statistics=statistics, scale=True)
        out = apply_standardizer(s, x)
        np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-10)
        np.testing.assert_allclose(out.var(axis=axes), 1.0, rtol=1e-10)
        centred = apply_standardizer(fit_standardizer(x, statistics=statistics), x)
        np.testing.assert_allclose(centred.mean(axis=axes), 0.0, atol=1e-10)
        np.testing.assert_allclose(centred.var(axis=axes), x.var(axis=axes), rtol=1e-10)


def test_standardize_statistics_shapes_and_new_data():
    x = rng().normal(size=(10, 5, 5, 3))
    assert fit_standardizer(x).mean.shape == (1, 5, 5, 3)  # the mean image
    assert fit_standardizer(x, statistics="per_channel").mean.shape == (1, 1, 1, 3)
    nchw = fit_standardizer(
        x.transpose(0, 3, 1, 2), statistics="per_channel", layout="channels_first"
    )
    assert nchw.mean.shape == (1, 3, 1, 1)
    s = fit_standardizer(x, scale=True)
    new = rng(1).normal(size=(2, 5, 5, 3))
    np.testing.assert_allclose(apply_standardizer(s, new), (new - s.mean) / s.std)
    # eps makes a constant feature well defined
    const = np.ones((4, 2))
    np.testing.assert_array_equal(
        apply_standardizer(fit_standardizer(const, scale=True, eps=1.0), const), 0.0
    )
    with pytest.raises(ValueError, match="shape"):
        apply_standardizer(s, np.ones((2, 4, 4, 3)))


@given(seed=st.integers(0, 2**31), d=st.integers(1, 5))
def test_whitened_training_data_has_identity_covariance(seed, d):
    r = rng(seed)
    a = r.normal(size=(d, d)) + 3 * np.eye(d)
    x = r.normal(size=(200, d)) @ a + r.normal(size=d) * 10
    w = fit_whitening(x)
    out = apply_whitening(w, x)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.T @ out / len(out), np.eye(d), atol=1e-8)
    # eps shrinks each direction: covariance lambda / (lambda + eps)
    lam = w.scales**2
    shrunk = apply_whitening(fit_whitening(x, eps=0.5), x)
    np.testing.assert_allclose(shrunk.T @ shrunk / len(x), np.diag(lam / (lam + 0.5)), atol=1e-8)


def test_whitening_keeps_the_leading_components():
    r = rng(2)
    x = r.normal(size=(500, 3)) * np.array([10.0, 1.0, 0.1])
    w = fit_whitening(x, n_components=2)
    out = apply_whitening(w, x)
    assert out.shape == (500, 2)
    assert abs(abs(w.components[0, 0]) - 1.0) < 1e-2  # the first direction is the widest axis
    np.testing.assert_allclose(out.T @ out / 500, np.eye(2), atol=1e-8)


# ---------------------------------------------------------------------------------------------
# registry


def test_entries_are_registered_with_their_kinds():
    for i in BN_IDS:
        e = reference.get(i)
        assert e.kind == "norm" and e.tier == "core" and e.citations
        assert e.model.compares in ("outputs", "running", "test", "grads")
    assert {reference.get(i).model.compares for i in BN_IDS} == {
        "outputs",
        "running",
        "test",
        "grads",
    }
    for i in ("norm.standardize", "norm.whiten"):
        assert reference.get(i).kind == "reference"
    running = reference.get("norm.batch.running")
    assert {a.name for a in running.variant_axes} == {"average", "running_variance", "variance"}
    # the momentum convention is an adapter mapping, never a variant (a flip must diverge)
    assert all("momentum" not in a.name for e in BN_IDS for a in reference.get(e).variant_axes)
