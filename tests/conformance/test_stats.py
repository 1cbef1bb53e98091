"""The statistical tests: exact values where known, calibration under the null, power off it.

Every random draw here uses a fixed seed, so these tests are deterministic (they never flake);
the calibration tests check that the p-values are uniform under the null, which is what makes
``ALPHA`` the false-alarm rate that the kit's docstrings state.
"""

import math
import time

import numpy as np
import pytest

from trainspec.conformance import stats


def test_binomial_pvalue_exact_values():
    assert stats.binomial_pvalue(0, 10, 0.5) == pytest.approx(2 / 1024)
    assert stats.binomial_pvalue(5, 10, 0.5) == pytest.approx(1.0)
    # one-sided mass of k <= 1 plus the as-unlikely upper tail k >= 9
    assert stats.binomial_pvalue(1, 10, 0.5) == pytest.approx(2 * 11 / 1024)
    assert stats.binomial_pvalue(0, 5, 0.0) == 1.0 and stats.binomial_pvalue(1, 5, 0.0) == 0.0


def test_binomial_pvalue_rejects_far_counts_and_accepts_near_ones():
    n = 100_000
    assert stats.binomial_pvalue(50_000, n, 0.5) > 0.5
    assert stats.binomial_pvalue(51_000, n, 0.5) < stats.ALPHA  # 6.3 standard deviations


@pytest.mark.parametrize(
    "args, match",
    [((-1, 10, 0.5), "k: must be"), ((3, 0, 0.5), "n: must be"), ((3, 10, 1.5), "p: must be")],
)
def test_binomial_pvalue_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        stats.binomial_pvalue(*args)


def test_normal_cdf_tails():
    assert stats.normal_cdf(0.0) == 0.5
    assert stats.normal_cdf(-10.0) == pytest.approx(7.619853024160527e-24, rel=1e-12)
    assert stats.two_sided_normal_pvalue(1.959963984540054) == pytest.approx(0.05)


def _calibrated(pvalues, level=0.05):
    """The fraction of p < level over independent null replications is Binomial(level)."""
    k = int(np.sum(np.asarray(pvalues) < level))
    return stats.binomial_pvalue(k, len(pvalues), level)


def test_ks_pvalue_is_uniform_under_the_null_and_powerful_off_it():
    rng = np.random.default_rng(0)
    p = [stats.ks_pvalue(rng.uniform(size=500), lambda x: x) for _ in range(400)]
    assert _calibrated(p) > 1e-3
    # a uniform with a 2 % wider range: 1e5 samples see it
    wide = rng.uniform(-0.01, 1.01, size=100_000)
    assert stats.ks_pvalue(wide, lambda x: np.clip(x, 0, 1)) < stats.ALPHA


def test_variance_and_mean_pvalues_are_calibrated_and_powerful():
    rng = np.random.default_rng(1)
    normal = [stats.chi2_variance_pvalue(rng.normal(0, 2, 1000), 4.0) for _ in range(400)]
    uniform = [stats.variance_pvalue(rng.uniform(-3, 3, 1000), 3.0, 81 / 5) for _ in range(400)]
    means = [stats.mean_pvalue(rng.normal(1, 1, 1000), 1.0, 1.0) for _ in range(400)]
    for p in (normal, uniform, means):
        assert _calibrated(p) > 1e-3
    x = rng.normal(0, 1.02, 100_000)  # a 4 % larger variance
    assert stats.chi2_variance_pvalue(x, 1.0) < stats.ALPHA
    assert stats.variance_pvalue(x, 1.0, 3.0) < stats.ALPHA


def test_comparison_from_pvalues_passes_at_alpha_and_names_the_worst_test():
    c = stats.comparison_from_pvalues({"variance": 0.3, "ks": stats.ALPHA})
    assert c.passes and c.where == "ks" and c.ratio == pytest.approx(1.0)
    c = stats.comparison_from_pvalues({"variance": 1e-9, "ks": 0.5})
    assert not c.passes and c.where == "variance" and c.ratio == pytest.approx(9 / 6)
    assert math.isinf(stats.comparison_from_pvalues({"x": 0.0}).ratio)
    with pytest.raises(ValueError, match="pvalues\\['x'\\]: must be a probability"):
        stats.comparison_from_pvalues({"x": float("nan")})


def test_samples_must_be_finite_and_non_empty():
    with pytest.raises(ValueError, match="samples: must be finite"):
        stats.mean_pvalue([1.0, float("inf")], 0.0, 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        stats.ks_pvalue(np.zeros(0), lambda x: x)


# ---------------------------------------------------------------------------------------------
# SciPy's tests: the values of the home-made ones they replace, calibration, speed


def test_binomial_pvalue_is_scipys_minimum_likelihood_test_and_fast_at_a_million():
    # the home-made test summed, in log space, the outcomes no more likely than k
    n, p, k = 40, 0.3, 19
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    exact = sum(v for v in pmf if v <= pmf[k] * (1 + 1e-7))
    assert stats.binomial_pvalue(k, n, p) == pytest.approx(exact, rel=1e-9)
    t0 = time.perf_counter()
    assert stats.binomial_pvalue(500_000 + 1_000, 1_000_000, 0.5) == pytest.approx(0.0455, rel=0.01)
    assert time.perf_counter() - t0 < 0.2  # the home-made one took 1.2 s


def test_binomial_and_chi2_pvalues_are_calibrated_under_the_null():
    rng = np.random.default_rng(2)
    binom = [stats.binomial_pvalue(int(k), 5000, 0.3) for k in rng.binomial(5000, 0.3, 400)]
    chi2 = [stats.chi2_variance_pvalue(rng.normal(0, 3, 50), 9.0) for _ in range(400)]
    for p in (binom, chi2):
        assert _calibrated(p) > 1e-3


def test_ks_pvalue_is_exact_for_small_samples():
    # one sample at u: D = max(u, 1 - u); P(D >= d) = 2(1 - d) for d >= 1/2
    assert stats.ks_pvalue([0.3], lambda x: x) == pytest.approx(2 * (1 - 0.7))


# ---------------------------------------------------------------------------------------------
# power, stated: the stated deviation is detected with probability POWER, half of it rarely


def _rejection_rate(pvalues):
    return float(np.mean(np.asarray(pvalues) < stats.ALPHA))


@pytest.mark.parametrize("n, q", [(65_536, 0.5), (400_000, 0.8), (20_000, 0.1)])
def test_detectable_proportion_is_the_deviation_detected_with_power_0_9(n, q):
    d = stats.detectable_proportion(n, q)
    rng = np.random.default_rng(3)
    for sign in (1.0, -1.0):
        ks = rng.binomial(n, q * (1 + sign * d), 500)
        # at least POWER (one direction may exceed it: the larger of the two deltas is stated)
        assert _rejection_rate([stats.binomial_pvalue(int(k), n, q) for k in ks]) > 0.87
        ks = rng.binomial(n, q * (1 + sign * d / 2), 200)
        assert _rejection_rate([stats.binomial_pvalue(int(k), n, q) for k in ks]) < 0.1


def test_detectable_normal_sd_is_the_deviation_detected_with_power_0_9():
    n = 20_000
    d = stats.detectable_normal_sd(n)
    assert 0.03 < d < 0.04
    rng = np.random.default_rng(4)
    for scale, lo, hi in ((1 - d, 0.87, 1.0), (1 + d / 2, 0.0, 0.1)):
        ps = [stats.chi2_variance_pvalue(rng.normal(0, scale, n), 1.0) for _ in range(300)]
        assert lo < _rejection_rate(ps) < hi


def test_detectable_sd_and_mean_follow_the_clt():
    n = 20_000
    rng = np.random.default_rng(5)
    d = stats.detectable_sd(n, 9 / 5)  # uniform: mu_4 / sigma^4 = 9/5
    ps = [stats.variance_pvalue(rng.uniform(-1, 1, n) * (1 + d), 1 / 3, 1 / 5) for _ in range(300)]
    assert _rejection_rate(ps) > 0.87
    m = stats.detectable_mean(n)
    ps = [stats.mean_pvalue(rng.normal(m, 1, n), 0.0, 1.0) for _ in range(300)]
    assert _rejection_rate(ps) > 0.87
    assert m == pytest.approx((4.8916 + 1.2816) / math.sqrt(n), rel=1e-3)


def test_detectable_ks_distance_is_conservative():
    n = 4096
    d = stats.detectable_ks_distance(n)
    rng = np.random.default_rng(6)
    # U(0, 1 + e) against U(0, 1) has Kolmogorov distance e / (1 + e) = d
    e = d / (1 - d)
    ps = [stats.ks_pvalue(rng.uniform(0, 1 + e, n), lambda x: np.clip(x, 0, 1)) for _ in range(100)]
    assert _rejection_rate(ps) >= 0.9


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: stats.detectable_proportion(0, 0.5), "n: must be a positive integer"),
        (lambda: stats.detectable_proportion(10, 1.0), "p: must be in"),
        (lambda: stats.detectable_sd(10, 1.0), "kurtosis: must exceed 1"),
        (lambda: stats.detectable_mean(10, power=1.0), "power: must be in"),
        (lambda: stats.normal_quantile(0.0), "p: must be in"),
    ],
)
def test_power_functions_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
