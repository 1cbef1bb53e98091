"""The statistical tests: exact values where known, calibration under the null, power off it.

Every random draw here uses a fixed seed, so these tests are deterministic (they never flake);
the calibration tests check that the p-values are uniform under the null, which is what makes
``ALPHA`` the false-alarm rate that the kit's docstrings state.
"""

import math

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


def test_samples_must_be_finite_and_large_enough():
    with pytest.raises(ValueError, match="samples: must be finite"):
        stats.mean_pvalue([1.0, float("inf")], 0.0, 1.0)
    with pytest.raises(ValueError, match="at least 35"):
        stats.ks_pvalue(np.zeros(10), lambda x: x)
