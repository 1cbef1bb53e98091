r"""Statistical tests for the random formulas (dropout masks, initialisers, random search).

Samples from two random number generators cannot be compared element by element, so the kit
tests what is specified: the distribution. Every test here returns a two-sided $p$-value; a
check fails when $p < \alpha$. :func:`comparison_from_pvalues` turns the $p$-values of one example
into a :class:`~trainspec.conformance.checks.Comparison` whose ``ratio`` is
$\log p_{\min} / \log\alpha$ (so ``ratio <= 1`` passes, as for the tolerance policy).

False alarms
------------
``ALPHA`` $= 10^{-6}$ is the false-alarm rate of one test: the probability that a framework that
follows the variant exactly fails it on one fresh example. A run of $N$ tests falsely fails with
probability at most $N\alpha$ (Bonferroni); the whole suite runs fewer than $10^4$ statistical
tests, so a fresh seed (``--profile thorough``) falsely fails with probability below $10^{-2}$,
and the ``ci`` profile, whose seeds are fixed, either always passes or always fails: it never
flakes. The frameworks' RNGs are seeded from the drawn example, so a failure replays exactly.

The approximations are accurate where they are used (each function states its range): the
binomial test is exact; the Kolmogorov-Smirnov $p$-value uses Stephens' (1970) correction of the
asymptotic distribution, accurate to a few per cent of $p$ for $n \ge 35$; the variance and mean
tests use the central limit theorem with the true fourth moment, for $n \ge 1000$.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trainspec.conformance.tolerance import Comparison

__all__ = [
    "ALPHA",
    "binomial_pvalue",
    "chi2_variance_pvalue",
    "comparison_from_pvalues",
    "ks_pvalue",
    "mean_pvalue",
    "normal_cdf",
    "two_sided_normal_pvalue",
    "variance_pvalue",
]

#: false-alarm rate of one statistical test (see the module docstring)
ALPHA = 1e-6

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _check_samples(samples: Any, name: str = "samples", min_size: int = 1) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < min_size:
        raise ValueError(f"{name}: needs at least {min_size} values, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: must be finite (got {int(np.sum(~np.isfinite(x)))} non-finite)")
    return x


def normal_cdf(x: Any) -> np.ndarray:
    r"""$\Phi(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)$, accurate in both tails."""
    a = np.asarray(x, dtype=np.float64)
    return 0.5 * np.asarray(_erfc(-a / math.sqrt(2.0)), dtype=np.float64)


def two_sided_normal_pvalue(z: float) -> float:
    r"""$P(|Z| \ge |z|)$ for a standard normal $Z$."""
    return float(math.erfc(abs(float(z)) / math.sqrt(2.0)))


def binomial_pvalue(k: int, n: int, p: float) -> float:
    r"""Exact two-sided binomial test of $k$ successes in $n$ trials with success probability $p$.

    The $p$-value sums the probabilities of every outcome no more likely than $k$ (the
    "minimum likelihood" two-sided test), computed in log space, so it is exact for any $n$.
    """
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if not (isinstance(k, int | np.integer) and 0 <= k <= n):
        raise ValueError(f"k: must be an integer in [0, n={n}], got {k!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: must be in [0, 1], got {p!r}")
    if p in (0.0, 1.0):
        return 1.0 if k == round(p * n) else 0.0
    i = np.arange(n + 1, dtype=np.float64)
    lgam = np.frompyfunc(math.lgamma, 1, 1)
    logc = np.asarray(lgam(n + 1.0) - lgam(i + 1.0) - lgam(n - i + 1.0), dtype=np.float64)
    logpmf = logc + i * math.log(p) + (n - i) * math.log1p(-p)
    ref = logpmf[int(k)]
    mask = logpmf <= ref + 1e-7 * abs(ref)  # ties within rounding count as "as extreme"
    top = np.max(logpmf[mask])
    return float(min(1.0, math.exp(top) * np.sum(np.exp(logpmf[mask] - top))))


def _kolmogorov_q(lam: float) -> float:
    r"""$Q(\lambda) = 2\sum_{j\ge1} (-1)^{j-1} e^{-2 j^2 \lambda^2}$ (the Kolmogorov tail)."""
    if lam < 0.2:
        return 1.0
    s = 0.0
    for j in range(1, 101):
        term = 2.0 * (-1.0) ** (j - 1) * math.exp(-2.0 * j * j * lam * lam)
        s += term
        if abs(term) < 1e-300:
            break
    return float(min(1.0, max(0.0, s)))


def ks_pvalue(samples: Any, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    r"""One-sample Kolmogorov-Smirnov test of ``samples`` against a continuous ``cdf``.

    $D_n = \sup_x |F_n(x) - F(x)|$; $p = Q\big((\sqrt n + 0.12 + 0.11/\sqrt n) D_n\big)$ (Stephens
    1970), for $n \ge 35$.
    """
    x = np.sort(_check_samples(samples, min_size=35))
    n = x.size
    f = np.asarray(cdf(x), dtype=np.float64)
    if f.shape != x.shape or np.any((f < 0) | (f > 1)):
        raise ValueError("cdf: must map the samples to probabilities in [0, 1], one per sample")
    i = np.arange(1, n + 1, dtype=np.float64)
    d = max(float(np.max(i / n - f)), float(np.max(f - (i - 1) / n)))
    sq = math.sqrt(n)
    return _kolmogorov_q((sq + 0.12 + 0.11 / sq) * d)


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
    r"""Two-sided test of $\operatorname{Var}(x) = $ ``variance`` for normal samples of known
    ``mean``: $\sum (x_i-\mu)^2/\sigma^2 \sim \chi^2_n$, by the Wilson-Hilferty cube-root normal
    approximation (relative error below $10^{-3}$ in $p$ for $n \ge 100$)."""
    x = _check_samples(samples, min_size=100)
    if not variance > 0:
        raise ValueError(f"variance: must be > 0, got {variance!r}")
    n = x.size
    q = float(np.sum(np.square(x - mean))) / float(variance)
    c = 2.0 / (9.0 * n)
    z = ((q / n) ** (1.0 / 3.0) - (1.0 - c)) / math.sqrt(c)
    return two_sided_normal_pvalue(z)


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
