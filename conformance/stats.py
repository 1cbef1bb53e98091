r"""Statistical tests for the random formulas (dropout masks, initialisers, random search).

Samples from two random number generators cannot be compared element by element, so the kit
tests what is specified: the distribution. Every test here returns a two-sided $p$-value; a
check fails when $p < \alpha$. :func:`comparison_from_pvalues` turns the $p$-values of one example
into a :class:`~trainspec.conformance.tolerance.Comparison` whose ``ratio`` is
$\log p_{\min} / \log\alpha$ (so ``ratio <= 1`` passes, as for the tolerance policy).

False alarms
------------
``ALPHA`` $= 10^{-6}$ is the false-alarm rate of one test: the probability that a framework that
follows the variant exactly fails it on one fresh example. A run of $N$ tests falsely fails with
probability at most $N\alpha$ (Bonferroni); the whole suite runs fewer than $10^4$ statistical
tests, so a fresh seed (``--profile thorough``) falsely fails with probability below $10^{-2}$,
and the ``ci`` profile, whose seeds are fixed, either always passes or always fails: it never
flakes. The frameworks' RNGs are seeded from the drawn example, so a failure replays exactly.

Implementations
---------------
The tests are SciPy's (:mod:`scipy.stats`): the exact binomial test (``binomtest``, two-sided by
minimum likelihood), the one-sample Kolmogorov-Smirnov test (``kstest``: the exact distribution
of $D_n$ up to $n = 10^4$, its asymptotic one beyond) and the exact $\chi^2$ distribution for the
variance of a normal sample. Two tests stay written out here, for a stated reason: the mean and
the variance tests of a sample whose *true* mean, variance and fourth moment are known (the
spec gives them) are $z$-tests by the central limit theorem, for $n \ge 1000$; SciPy offers
only tests with estimated moments (``ttest_1samp``), which lose power and need normal data. The
exact binomial test was written out before; SciPy's is the same test, 1000 times faster at
$n = 10^6$ (1.2 s against 1.1 ms, measured on one CPU core).

Power, stated
-------------
Every statistical check also states what it can see: the smallest deviation of the tested
quantity (a keep probability, a standard deviation, a mean, a Kolmogorov distance) that it
rejects at ``ALPHA`` with probability at least ``POWER`` $= 0.9$ on one example
(:func:`detectable_proportion`, :func:`detectable_sd`, :func:`detectable_normal_sd`,
:func:`detectable_mean`, :func:`detectable_ks_distance`). The kinds attach these figures to their
comparisons (:class:`~trainspec.conformance.tolerance.Detectable`) and the report carries, per
row and test, the most sensitive example's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from trainspec.conformance.tolerance import Comparison, Detectable

__all__ = [
    "ALPHA",
    "POWER",
    "binomial_pvalue",
    "chi2_variance_pvalue",
    "comparison_from_pvalues",
    "detectable_ks_distance",
    "detectable_mean",
    "detectable_normal_sd",
    "detectable_proportion",
    "detectable_sd",
    "detected",
    "ks_pvalue",
    "mean_pvalue",
    "normal_cdf",
    "normal_quantile",
    "two_sided_normal_pvalue",
    "variance_pvalue",
]

#: false-alarm rate of one statistical test (see the module docstring)
ALPHA = 1e-6
#: the probability with which a stated deviation is detected (see "Power, stated")
POWER = 0.9


def _check_samples(samples: Any, name: str = "samples", min_size: int = 1) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < min_size:
        raise ValueError(f"{name}: needs at least {min_size} values, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: must be finite (got {int(np.sum(~np.isfinite(x)))} non-finite)")
    return x


def normal_cdf(x: Any) -> np.ndarray:
    r"""$\Phi(x)$ (SciPy's ``ndtr``), accurate in both tails."""
    return np.asarray(special.ndtr(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def normal_quantile(p: float) -> float:
    r"""$\Phi^{-1}(p)$ (SciPy's ``ndtri``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: must be in (0, 1), got {p!r}")
    return float(special.ndtri(p))


def two_sided_normal_pvalue(z: float) -> float:
    r"""$P(|Z| \ge |z|)$ for a standard normal $Z$."""
    return float(2.0 * special.ndtr(-abs(float(z))))


def _check_binomial(k: int, n: int, p: float) -> None:
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if not (isinstance(k, int | np.integer) and 0 <= k <= n):
        raise ValueError(f"k: must be an integer in [0, n={n}], got {k!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: must be in [0, 1], got {p!r}")


def binomial_pvalue(k: int, n: int, p: float) -> float:
    r"""Exact two-sided binomial test of $k$ successes in $n$ trials with success probability $p$
    (``scipy.stats.binomtest``: the outcomes no more likely than $k$, "minimum likelihood")."""
    _check_binomial(k, n, p)
    if p in (0.0, 1.0):
        return 1.0 if k == round(p * n) else 0.0
    return float(min(1.0, sps.binomtest(int(k), int(n), float(p)).pvalue))


def ks_pvalue(samples: Any, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    r"""One-sample Kolmogorov-Smirnov test of ``samples`` against a continuous ``cdf``
    (``scipy.stats.kstest``, two-sided: $D_n = \sup_x |F_n(x) - F(x)|$)."""
    x = _check_samples(samples)
    f = np.asarray(cdf(np.sort(x)), dtype=np.float64)
    if f.shape != x.shape or np.any((f < 0) | (f > 1)):
        raise ValueError("cdf: must map the samples to probabilities in [0, 1], one per sample")
    return float(sps.kstest(x, cdf).pvalue)


def mean_pvalue(samples: Any, mean: float, variance: float) -> float:
    r"""Two-sided test of $E[x] = $ ``mean`` for i.i.d. samples of known ``variance`` (CLT:
    $z = (\bar x - \mu)\sqrt{n/\sigma^2}$)."""
    x = _check_samples(samples)
    if not variance >= 0:
        raise ValueError(f"variance: must be >= 0, got {variance!r}")
    d = float(np.mean(x)) - float(mean)
    if variance == 0:
        return 1.0 if d == 0 else 0.0
    return two_sided_normal_pvalue(d * math.sqrt(x.size / variance))


def variance_pvalue(
    samples: Any, variance: float, fourth_moment: float, mean: float = 0.0
) -> float:
    r"""Two-sided test of $\operatorname{Var}(x) = $ ``variance`` for i.i.d. samples of known
    ``mean`` and central ``fourth_moment`` $\mu_4$ (CLT:
    $\hat\sigma^2 = \frac1n\sum (x_i-\mu)^2 \sim N(\sigma^2, (\mu_4 - \sigma^4)/n)$).

    For a normal distribution $\mu_4 = 3\sigma^4$; for $U(-r, r)$, $\sigma^2 = r^2/3$ and
    $\mu_4 = r^4/5$.
    """
    x = _check_samples(samples)
    if not variance > 0:
        raise ValueError(f"variance: must be > 0, got {variance!r}")
    spread = float(fourth_moment) - float(variance) ** 2
    if not spread > 0:
        raise ValueError(
            f"fourth_moment: must exceed variance**2 = {float(variance) ** 2!r}, got {fourth_moment!r}"
        )
    est = float(np.mean(np.square(x - mean)))
    return two_sided_normal_pvalue((est - variance) * math.sqrt(x.size / spread))


def chi2_variance_pvalue(samples: Any, variance: float, mean: float = 0.0) -> float:
    r"""Exact two-sided test of $\operatorname{Var}(x) = $ ``variance`` for normal samples of
    known ``mean``: $Q = \sum (x_i-\mu)^2/\sigma^2 \sim \chi^2_n$, $p = 2\min(F(Q), 1 - F(Q))$."""
    x = _check_samples(samples)
    if not variance > 0:
        raise ValueError(f"variance: must be > 0, got {variance!r}")
    q = float(np.sum(np.square(x - mean))) / float(variance)
    tail = min(float(sps.chi2.cdf(q, x.size)), float(sps.chi2.sf(q, x.size)))
    return float(min(1.0, 2.0 * tail))


def comparison_from_pvalues(pvalues: Mapping[str, float], alpha: float = ALPHA) -> Comparison:
    r"""One example's tests as a :class:`Comparison`: the worst test decides.

    ``max_error`` is $-\log_{10} p_{\min}$, ``tolerance`` is $-\log_{10}\alpha$, ``ratio`` is
    their quotient ($\le 1$ passes, i.e. $p_{\min} \ge \alpha$), ``where`` names the worst test.
    """
    if not pvalues:
        raise ValueError("pvalues: needs at least one test")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha!r}")
    for name, p in pvalues.items():
        if not (isinstance(p, float | int) and 0.0 <= p <= 1.0) or math.isnan(p):
            raise ValueError(f"pvalues[{name!r}]: must be a probability in [0, 1], got {p!r}")
    where, p = min(pvalues.items(), key=lambda kv: kv[1])
    score = math.inf if p <= 0.0 else -math.log10(p)
    bound = -math.log10(alpha)
    return Comparison(score, bound, score / bound, where)


# ---------------------------------------------------------------------------------------------
# power, stated


def _check_power(n: int, alpha: float, power: float) -> None:
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha!r}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power: must be in (0, 1), got {power!r}")


def _smallest(reaches: Callable[[float], bool], hi: float) -> float:
    """The smallest $\\delta$ in $(0, hi]$ with ``reaches(delta)`` (monotone), or ``inf``."""
    if not reaches(hi):
        return math.inf
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    return hi


@functools.lru_cache(maxsize=4096)
def _binomial_acceptance(n: int, p: float, alpha: float) -> tuple[int, int]:
    """The counts $[k_{lo}, k_{hi}]$ that :func:`binomial_pvalue` accepts at ``alpha``."""
    mode = math.floor((n + 1) * p)
    mode = min(max(mode, 0), n)

    def edge(lo: int, hi: int, accept_high: bool) -> int:
        # the first (accept_high) or last accepted count between lo and hi, by bisection
        while lo < hi:
            mid = (lo + hi) // 2 if accept_high else (lo + hi + 1) // 2
            ok = binomial_pvalue(mid, n, p) >= alpha
            if accept_high:
                lo, hi = (lo, mid) if ok else (mid + 1, hi)
            else:
                lo, hi = (mid, hi) if ok else (lo, mid - 1)
        return lo

    return edge(0, mode, True), edge(mode, n, False)


def detectable_proportion(n: int, p: float, *, alpha: float = ALPHA, power: float = POWER) -> float:
    r"""The smallest relative deviation $\delta$ of a success probability $p$ that the exact
    binomial test of $n$ trials (:func:`binomial_pvalue`) detects at ``alpha`` with probability
    at least ``power``, in both directions: the larger of the $\delta$ for which
    $p(1 \pm \delta)$ is rejected with probability ``power``. Exact: the test's acceptance region
    $[k_{lo}, k_{hi}]$ and the binomial distribution under the alternative. ``inf`` when no
    deviation within $(0, 1)$ reaches the power."""
    _check_power(n, alpha, power)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: must be in (0, 1), got {p!r}")
    lo, hi = _binomial_acceptance(int(n), float(p), float(alpha))

    def rejects(q: float) -> float:
        return float(sps.binom.cdf(lo - 1, n, q) + sps.binom.sf(hi, n, q))

    up = _smallest(lambda d: rejects(min(1.0, p * (1 + d))) >= power, min(1.0, 1.0 / p - 1.0))
    down = _smallest(lambda d: rejects(p * (1 - d)) >= power, 1.0)
    return max(up, down)


def _z_power(shift: float, spread: float, z: float) -> float:
    r"""$P(|Y| > z)$ for $Y \sim N(\text{shift}, \text{spread}^2)$."""
    return float(special.ndtr((shift - z) / spread) + special.ndtr((-shift - z) / spread))


def detectable_mean(n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    r"""The smallest shift of a mean, in standard deviations $\sigma$ of one sample, that the
    $z$-test of $n$ samples (:func:`mean_pvalue`) detects at ``alpha`` with probability
    ``power``: $\Delta/\sigma$ solving $\Phi(\Delta\sqrt n - z_{\alpha/2}) +
    \Phi(-\Delta\sqrt n - z_{\alpha/2}) = $ ``power``."""
    _check_power(n, alpha, power)
    z = float(special.ndtri(1.0 - alpha / 2))
    return _smallest(lambda d: _z_power(d * math.sqrt(n), 1.0, z) >= power, 1e6)


def detectable_sd(n: int, kurtosis: float, *, alpha: float = ALPHA, power: float = POWER) -> float:
    r"""The smallest relative deviation of a standard deviation that the CLT variance test of
    $n$ samples (:func:`variance_pvalue`) detects at ``alpha`` with probability ``power``, for a
    distribution of ``kurtosis`` $\mu_4/\sigma^4$ whose scale is off by $1 + \delta$: the
    estimate $\hat\sigma^2/\sigma^2$ is $N\big((1+\delta)^2, (1+\delta)^4(\kappa - 1)/n\big)$
    against the null's $N(1, (\kappa - 1)/n)$; the larger of the two directions."""
    _check_power(n, alpha, power)
    if not kurtosis > 1.0:
        raise ValueError(f"kurtosis: must exceed 1, got {kurtosis!r}")
    z = float(special.ndtri(1.0 - alpha / 2))
    se = math.sqrt((kurtosis - 1.0) / n)

    def reaches(s: float) -> bool:
        return _z_power((s * s - 1.0) / se, s * s, z) >= power

    return max(_smallest(lambda d: reaches(1 + d), 1e3), _smallest(lambda d: reaches(1 - d), 0.999))


def detectable_normal_sd(n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    r"""The smallest relative deviation of a normal sample's standard deviation that the exact
    $\chi^2$ test of $n$ samples (:func:`chi2_variance_pvalue`) detects at ``alpha`` with
    probability ``power``: under a scale $1 + \delta$, $Q/(1+\delta)^2 \sim \chi^2_n$; exact, the
    larger of the two directions."""
    _check_power(n, alpha, power)
    lo, hi = sps.chi2.ppf(alpha / 2, n), sps.chi2.isf(alpha / 2, n)

    def reaches(s: float) -> bool:
        return float(sps.chi2.cdf(lo / s**2, n) + sps.chi2.sf(hi / s**2, n)) >= power

    return max(_smallest(lambda d: reaches(1 + d), 1e3), _smallest(lambda d: reaches(1 - d), 0.999))


def detectable_ks_distance(n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    r"""A Kolmogorov distance $D = \sup_x |F(x) - G(x)|$ between the tested $F$ and the true $G$
    that the KS test of $n$ samples (:func:`ks_pvalue`) detects at ``alpha`` with probability at
    least ``power``, for any $G$: $D = c_\alpha + \sqrt{\ln(2/(1-\text{power}))/(2n)}$, where
    $c_\alpha$ is the test's critical value (SciPy's ``kstwo``) and the second term bounds
    $\sup|F_n - G|$ by the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant."""
    _check_power(n, alpha, power)
    crit = float(sps.kstwo.isf(alpha, n))
    return crit + math.sqrt(math.log(2.0 / (1.0 - power)) / (2.0 * n))


def detected(quantity: str, deviation: float, samples: int, *, relative: bool = True) -> Detectable:
    """A :class:`Detectable` at ``POWER`` (the kinds' shorthand)."""
    return Detectable(quantity, float(deviation), int(samples), POWER, relative)
