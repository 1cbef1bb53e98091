import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.reference import init as I

SEEDED = np.random.default_rng  # every sampler takes an explicit generator


def test_truncation_constant_is_the_stddev_of_the_truncated_standard_normal():
    d = I.InitDistribution("truncated_normal", 1.0)
    assert math.isclose(math.sqrt(d.variance), I.TRUNCATED_NORMAL_STDDEV, rel_tol=1e-15)
    assert math.isclose(I.truncated_normal(0.37).variance, 0.37, rel_tol=1e-14)
    assert math.isclose(
        I.truncated_normal(0.37, corrected=False).variance,
        0.37 * I.TRUNCATED_NORMAL_STDDEV**2,
        rel_tol=1e-14,
    )


@pytest.mark.parametrize(
    "dist",
    [
        I.normal(0.5),
        I.truncated_normal(0.5),
        I.truncated_normal(0.5, corrected=False),
        I.uniform(0.5),
    ],
    ids=["normal", "truncated", "truncated_uncorrected", "uniform"],
)
def test_moments_match_the_cdf(dist):
    # E[w^2] and E[w^4] by integrating the CDF's increments on a fine grid
    lim = dist.bound if dist.bound is not None else 12 * dist.scale
    x = np.linspace(-lim, lim, 400_001)
    p = np.diff(dist.cdf(x))
    mid = 0.5 * (x[1:] + x[:-1])
    assert math.isclose(np.sum(p * mid**2), dist.variance, rel_tol=1e-6)
    assert math.isclose(np.sum(p * mid**4), dist.fourth_moment, rel_tol=1e-6)
    assert abs(np.sum(p * mid)) < 1e-12
    assert dist.cdf(-lim) == pytest.approx(0.0, abs=1e-15)
    assert dist.cdf(lim) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(dist.cdf(mid) + dist.cdf(-mid), 1.0, atol=1e-14)  # symmetric


@pytest.mark.parametrize(
    "dist",
    [
        I.normal(2.0),
        I.truncated_normal(2.0),
        I.truncated_normal(2.0, corrected=False),
        I.uniform(2.0),
    ],
    ids=["normal", "truncated", "truncated_uncorrected", "uniform"],
)
def test_samples_follow_the_distribution(dist):
    x = dist.sample(SEEDED(5), (200, 300))
    assert x.shape == (200, 300)
    if dist.bound is not None:
        assert np.max(np.abs(x)) <= dist.bound
        assert dist.abs_cdf(float(np.max(np.abs(x)))) ** x.size > stats.ALPHA
    assert stats.ks_pvalue(x, dist.cdf) > stats.ALPHA
    assert stats.variance_pvalue(x, dist.variance, dist.fourth_moment) > stats.ALPHA
    assert stats.mean_pvalue(x, 0.0, dist.variance) > stats.ALPHA


def test_ks_tells_plain_from_truncated_and_corrected_from_uncorrected():
    # the sample size the kit uses for normal rules (2**17) separates the shapes of equal variance
    n = 2**17
    plain, corr, unc = (
        I.normal(1.0),
        I.truncated_normal(1.0),
        I.truncated_normal(1.0, corrected=False),
    )
    assert stats.ks_pvalue(corr.sample(SEEDED(1), (n,)), plain.cdf) < stats.ALPHA
    assert stats.ks_pvalue(plain.sample(SEEDED(2), (n,)), corr.cdf) < stats.ALPHA
    assert stats.ks_pvalue(unc.sample(SEEDED(3), (n,)), corr.cdf) < stats.ALPHA
    assert stats.ks_pvalue(corr.sample(SEEDED(4), (n,)), unc.cdf) < stats.ALPHA


def test_point_mass():
    z = I.point_mass()
    assert z.variance == 0.0 and z.bound == 0.0 and z.abs_cdf(0.0) == 1.0
    np.testing.assert_array_equal(z.cdf(np.array([-1e-300, 0.0, 1.0])), [0.0, 1.0, 1.0])
    assert not np.any(I.zeros().sample(SEEDED(0), (3, 4)))


def test_fans_by_hand():
    assert I.fans((5, 3), "torch") == (3, 5)  # dense (out, in)
    assert I.fans((3, 5), "channels_last") == (3, 5)  # dense (in, out)
    assert I.fans((8, 4, 3, 3), "torch") == (36, 72)  # conv2d (out, in, kh, kw)
    assert I.fans((3, 3, 4, 8), "channels_last") == (36, 72)  # conv2d (kh, kw, in, out)
    assert I.fans((8, 4, 2, 3, 5), "torch") == (120, 240)


@given(
    i=st.integers(1, 50),
    o=st.integers(1, 50),
    k=st.lists(st.integers(1, 7), max_size=3).map(tuple),
)
def test_layer_shapes_have_the_layer_fans_in_each_layout(i, o, k):
    layer = I.Layer(i, o, k)
    for layout in I.LAYOUTS:
        assert I.fans(layer.kernel_shape(layout), layout) == (layer.fan_in, layer.fan_out)
    assert layer.fan("fan_avg") == (layer.fan_in + layer.fan_out) / 2


@given(fi=st.integers(1, 500), fo=st.integers(1, 500))
def test_rules_by_formula(fi, fo):
    shape = (fi, fo)  # channels_last dense kernel
    assert math.isclose(I.glorot_uniform().distribution(shape).bound, math.sqrt(6 / (fi + fo)))
    assert math.isclose(I.he_uniform().distribution(shape).bound, math.sqrt(6 / fi))
    assert math.isclose(I.lecun_uniform().distribution(shape).bound, math.sqrt(3 / fi))
    for form in ("normal", "truncated_normal"):
        assert math.isclose(
            I.glorot_normal(distribution=form).distribution(shape).variance, 2 / (fi + fo)
        )
        assert math.isclose(I.he_normal(distribution=form).distribution(shape).variance, 2 / fi)
        assert math.isclose(I.lecun_normal(distribution=form).distribution(shape).variance, 1 / fi)
    # the same array in the torch layout swaps the fans
    assert math.isclose(I.he_uniform(layout="torch").distribution(shape).bound, math.sqrt(6 / fo))


def test_samplers_take_an_explicit_generator_and_are_reproducible():
    init = I.he_normal(distribution="truncated_normal", layout="torch")
    a = init.sample(SEEDED(9), (16, 8, 3, 3))
    b = init.sample(SEEDED(9), (16, 8, 3, 3))
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a)) <= init.distribution((16, 8, 3, 3)).bound
    with pytest.raises(TypeError, match="rng=.*: must be a numpy.random.Generator"):
        init.sample(np.random.RandomState(0), (4, 4))


def test_variance_rule_by_hand_and_by_sampling():
    assert I.variance_rule(100, 0.02, 3.0) == pytest.approx(6.0)
    rng = SEEDED(11)
    n, m = 64, 20_000
    x = rng.standard_normal(n)
    x = (x - x.mean()) / x.std() * math.sqrt(2.5)  # mean 0, empirical variance 2.5
    w_dist = I.he_uniform().distribution((n, m))
    z = x @ I.he_uniform().sample(rng, (n, m))
    ez2, ez4 = I.dense_output_moments(x, w_dist)
    assert ez2 == pytest.approx(I.variance_rule(n, w_dist.variance, 2.5), rel=1e-12)
    assert stats.variance_pvalue(z, ez2, ez4) > stats.ALPHA
    # the fourth moment too: E[z^4] against the sample
    assert stats.mean_pvalue(z**2, ez2, ez4 - ez2**2) > stats.ALPHA
    # and a wrong weight variance (the bound off by sqrt(3)) is rejected
    assert stats.variance_pvalue(z, ez2 * 3.0, 9.0 * ez4) < stats.ALPHA


def test_dense_output_moments_by_monte_carlo():
    rng = SEEDED(3)
    x = np.array([1.0, -2.0, 0.5])
    d = I.truncated_normal(0.3)
    z = d.sample(rng, (400_000, 3)) @ x
    ez2, ez4 = I.dense_output_moments(x, d)
    assert np.mean(z**2) == pytest.approx(ez2, rel=1e-2)
    assert np.mean(z**4) == pytest.approx(ez4, rel=3e-2)


def test_errata_show_the_difference():
    entry = reference.get("init.errata")
    assert len(entry.errata) == 3
    for e in entry.errata:
        ev = e.check()
        assert ev.shows_difference, e.source.author
    authors = {e.source.author for e in entry.errata}
    assert authors == {"A. Solberg", "J. Zheng", "J. Padilla Montani"}


def test_solberg_printed_form_is_not_he_by_sampling():
    n = 100
    w = SEEDED(0).random(100_000) / math.sqrt(2 / n)  # as printed
    he = I.normal(2 / n)
    assert stats.mean_pvalue(w, 0.0, he.variance) < stats.ALPHA
    corrected = SEEDED(0).standard_normal(100_000) * math.sqrt(2 / n)
    assert stats.chi2_variance_pvalue(corrected, he.variance) > stats.ALPHA


def test_entries_are_registered_with_their_kinds_and_variants():
    for rule in I.RULES:
        e = reference.get(rule)
        assert e.kind == "init" and e.model.target == "kernel"
        names = [v.name for v in e.variants()]
        if I.RULES[rule][2] == "normal":
            assert names == ["default", "distribution=truncated_normal"]
        else:
            assert names == ["default"]
    assert reference.get("init.fans").model.modes == ("fan_in", "fan_out")
    assert reference.get("init.bias").model.target == "bias"
    assert sorted(reference.get("init.variance_rule").model.rules) == sorted(I.RULES)
    assert reference.get("init.errata").kind == "reference"


def test_model_distributions():
    layer = I.Layer(4, 6, (3, 3))
    he = reference.get("init.he_normal")
    d = he.model.distribution(he.variant(distribution="truncated_normal").options, layer, None)
    assert d.family == "truncated_normal" and d.variance == pytest.approx(2 / 36)
    fans = reference.get("init.fans").model
    assert fans.distribution({}, layer, "fan_out").bound == pytest.approx(math.sqrt(3 / 54))
    bias = reference.get("init.bias")
    assert bias.model.distribution(
        bias.variant(bias="uniform_fan_in").options, layer, None
    ).bound == (pytest.approx(1 / 6))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="layout='nchw'"):
        I.fans((3, 4), "nchw")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        I.fans((3,))
    with pytest.raises(ValueError, match="shape=.*integer >= 1"):
        I.fans((3, 0))
    with pytest.raises(TypeError, match="shape="):
        I.fans(3)
    with pytest.raises(ValueError, match="distribution='laplace'"):
        I.he_normal(distribution="laplace")
    with pytest.raises(ValueError, match="distribution='uniform'"):
        I.glorot_normal(distribution="uniform")
    with pytest.raises(ValueError, match="mode='fan_sum'"):
        I.variance_scaling(1.0, "fan_sum", "uniform")
    with pytest.raises(ValueError, match="scale=0.0"):
        I.variance_scaling(0.0, "fan_in", "uniform")
    with pytest.raises(ValueError, match="variance=-1"):
        I.normal(-1.0)
    with pytest.raises(ValueError, match="n=0"):
        I.variance_rule(0, 1.0, 1.0)
    with pytest.raises(ValueError, match="input_variance=nan"):
        I.variance_rule(3, 1.0, float("nan"))
    with pytest.raises(ValueError, match="kernel_size"):
        I.Layer(3, 4, (0,))
    with pytest.raises(ValueError, match="x: must hold"):
        I.dense_output_moments(np.array([np.inf]), I.normal(1.0))
