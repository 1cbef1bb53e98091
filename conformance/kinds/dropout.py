r"""The dropout kind: what is specified of a random mask, checked exactly where it is exact and
statistically where it is random.

Masks drawn by two random number generators cannot be compared element by element, so each
example checks what the spec states (:mod:`trainspec.reference.dropout`):

Exact (the tolerance policy, :mod:`trainspec.conformance.tolerance`)
    * test mode: $y = x$ (inverted) or $y = q x$ (naive), element by element;
    * training mode: every element that is not exactly 0 is a kept one and equals $x/q$
      (inverted; both orders $x/q$ and $x \cdot (1/q)$ are bounded) or $x$ (naive) within the
      dtype's rounding; an element is dropped only if it is exactly 0 (where $x = 0$ both read 0);
    * non-finite inputs (a ``train`` or ``test`` example may put ``inf``, ``-inf`` and ``nan`` in
      its first elements): test mode returns them (times $q$, naive), a training pass either the
      kept value $x/q$ or the dropped one, NaN (``masking=multiply``: $x \cdot 0$) or 0
      (``masking=select``), compared exactly.
Statistical (:mod:`trainspec.conformance.stats`, each test at ``ALPHA`` $= 10^{-6}$)
    * ``kept_fraction``: the number of kept elements among the $T \cdot n$ non-zero inputs of the
      $T$ passes is $\mathrm{Binomial}(Tn, q)$ (exact binomial test);
    * ``mean``: the mean of $y/x$ over every pass and element is $\mathbb{E}[y/x]$ ($1$ inverted,
      $q$ naive) with variance $(1-q)/q$ or $q(1-q)$: the mean over many masks approaches $x$
      (a $z$-test, only with $Tn \ge 1000$ samples, where the CLT is accurate at $10^{-6}$);
    * ``independent_passes``: in disjoint pairs of consecutive passes (1, 2), (3, 4), ... an
      element is kept in both with probability $q^2$ (exact binomial test): a framework that
      reuses one mask for every call fails it;
    * ``mc_mean`` and ``mc_scale`` (``drop.mc``): through a linear layer
      $y = \operatorname{dropout}(x) W + b$, the average of the passes tends to the test-time
      output. Per output unit $k$ the passes-times-rows samples
      $s_{trk} = (y_{trk} - \mathbb{E}y_{rk})/\sigma_{rk}$ are independent with mean 0 and
      variance 1 (the exact $\sigma^2_{rk} = \sum_i x_{ri}^2 W_{ik}^2 v(q)$ of
      :func:`~trainspec.reference.dropout.linear_dropout_moments`), so
      $\sum_{t,r} s_{trk} c_r / \sqrt{T \sum_r c_r^2}$ is $N(0, 1)$ for fixed weights $c$:
      ``mc_mean`` uses $c = 1$ (an offset), ``mc_scale`` uses $c_r = (\mathbb{E}y_{rk} -
      b_k)/\sigma_{rk}$ (a wrong scale of $xW$, whose deviations change sign from row to row and
      cancel in the plain mean). $T \cdot b \ge 1000$ samples; each is Bonferroni-combined over
      the output units, so each is one test at ``ALPHA``.

The statistical tests allow for rounding: the mean's distance from its expectation is first
reduced by the largest shift that the dtype's rounding of the passes can cause (the tracked bound
of a pass that keeps everything), so that a correct framework never fails them by rounding; they
lose power only where rounding is as large as the sampling noise.

Checks and cases
    ``train``: one training-mode pass ($T = 1$) over an input of up to 4096 elements (zeros
    included); ``test``: test mode only ($T = 0$); ``passes``: $T$ passes over an input of
    128 to 512 non-zero elements with $Tn \ge 1024$. For ``drop.mc`` the same three checks run
    a batch through dropout and a linear layer ($T = 1$ over 1024 rows, $T = 0$, and 4 or 16
    passes over $\lceil 1024/T\rceil$ rows). The framework's RNG is seeded from the example's
    drawn ``seed``, so each example replays exactly.

False alarms
    An example runs at most three statistical tests (``passes``: kept_fraction, mean,
    independent_passes; ``train``: kept_fraction; ``drop.mc``: mc_mean and mc_scale in
    ``train`` and ``passes``), each at ``ALPHA`` $=10^{-6}$. With
    ``example_scale`` $= 1/2$ a row runs at most $20 \cdot 1 + 20 \cdot 3 = 80$ tests in the
    ``ci`` profile and 800 in ``thorough``: a correct row falsely fails with probability below
    $8 \cdot 10^{-5}$ (``ci``, whose seeds are fixed, so it never flakes: it always passes or
    always fails) and $8 \cdot 10^{-4}$ per row for a fresh seed.

Shapes
    Inputs take their shape from short lists (:data:`TRAIN_SHAPES`, :data:`PASSES_SHAPES`, and
    2 or 8 input features, 1 or 3 outputs, 4 or 16 passes for ``drop.mc``), from one element
    to 4096: dropout is element-wise, so more shapes add no power, while JAX compiles its mask
    sampler (and every eager operation) anew for every shape.

Range
    No draw's exact result leaves the dtype: $|x| \le \max_d\, q_{\min}/4$ for the kept value
    $x/q$ (under either meaning of the rate), and for ``drop.mc``
    $\sum_i |x_{ri}/q|\,|W_{ik}| \le \max_d/8$ and $|b| \le \max_d/8$ (the arrays are scaled by
    powers of two); a float16 ``drop.mc`` example once drew an exact $2.95\cdot10^5$.

Power (:mod:`trainspec.conformance.stats`, stated per example and test in the report)
    ``ci``: the ``passes`` check's $Tn \ge 1024$ draws see a keep probability off by about 19 %
    ($q = 1/2$, $n = 1024$); ``thorough`` draws $Tn \ge ((z_{\alpha/2} + z_{0.9})/0.01)^2
    (1-q)/q$ for the smaller $q$ of the two meanings (shapes of $2^{16}$ elements, up to
    :data:`THOROUGH_MAX_PASSES` passes), so that a keep probability 1 % off is detected with
    probability 0.9; ``drop.mc`` passes draw $T \cdot b \ge 2^{19}$ samples under ``thorough``.

``example_scale`` $= 1/2$: every ``passes`` example calls the framework up to 16 times; half the
profile's examples keep a backend's dropout rows within the CI budget, and the tests' power does
not need more (one example with $q \ne 1/2$ already separates the parameter's meanings exactly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance import stats
from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import ArrayOf, CaseField, KindContract, MappingOf
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.profiles import current_profile
from trainspec.conformance.strategies import (
    hyperparameter_precision,
    hyperparameter_st,
    magnitude_st,
    make_array,
)
from trainspec.conformance.tolerance import SAFETY, Comparison, Detectable, compare, floor
from trainspec.conformance.tracked import (
    Tracked,
    largest_finite,
    round_to,
    smallest_normal,
    track_scalar,
    track_tree,
)
from trainspec.reference.dropout import (
    dropout,
    keep_probability,
    linear_dropout_moments,
    mc_dropout_linear,
)

__all__ = [
    "CONTRACT",
    "KIND",
    "DropoutCase",
    "DropoutResult",
    "LinearDropoutCase",
    "draw_dropout_case",
    "evaluate_dropout",
    "with_non_finite",
]

CHECKS = ("train", "test", "passes")
#: samples a mean test needs for the CLT to be accurate at ALPHA (see trainspec.conformance.stats)
MIN_MEAN_SAMPLES = 1000
_NONZERO_DISTRIBUTIONS = ("normal", "uniform", "log_spread", "constant")
_DISTRIBUTIONS = (*_NONZERO_DISTRIBUTIONS, "with_zeros")


@dataclass(frozen=True)
class DropoutCase:
    r"""One example of ``drop.inverted`` / ``drop.naive``.

    The implementation's ``run(case, dtype, device)`` returns ``{"train": (passes, *x.shape),
    "test": x.shape}``: ``passes`` training-mode calls of the framework's dropout on ``x`` with
    the framework's parameter set to ``rate`` and its RNG seeded once from ``seed`` (each call
    draws a fresh mask), and one test-mode call.
    """

    x: np.ndarray
    rate: float
    seed: int
    passes: int

    def summary(self) -> dict[str, Any]:
        return {
            "x": summarize_array(self.x),
            "rate": self.rate,
            "seed": self.seed,
            "passes": self.passes,
        }


@dataclass(frozen=True)
class LinearDropoutCase:
    r"""One example of ``drop.mc``: dropout on ``x`` (batch, in), then ``x @ weight + bias``.

    ``run`` returns ``{"train": (passes, batch, out), "test": (batch, out)}``: ``passes``
    stochastic forward passes with dropout on (MC dropout's passes at prediction time; RNG seeded
    once from ``seed``) and the test-mode output.
    """

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    rate: float
    seed: int
    passes: int

    def summary(self) -> dict[str, Any]:
        return {
            "x": summarize_array(self.x),
            "weight": summarize_array(self.weight),
            "bias": summarize_array(self.bias),
            "rate": self.rate,
            "seed": self.seed,
            "passes": self.passes,
        }


class DropoutResult(TypedDict):
    """What ``run`` returns for a :class:`DropoutCase` or :class:`LinearDropoutCase`: the outputs
    of every training-mode pass stacked, ``(passes, *out)``, and the test-mode output."""

    train: FloatArray
    test: FloatArray


# ---------------------------------------------------------------------------------------------
# drawing


def _draw_values(
    data: Any, shape: tuple[int, ...], dtype: str, label: str, nonzero: bool
) -> np.ndarray:
    dists = _NONZERO_DISTRIBUTIONS if nonzero else _DISTRIBUTIONS
    dist, exponent, seed = data.draw(
        st.tuples(st.sampled_from(dists), magnitude_st(dtype), st.integers(0, 2**32 - 1)),
        label=label,
    )
    return make_array(shape, dtype, dist, exponent, seed)


#: the shapes an example's input takes (see "Shapes" in the module docstring), smallest first
TRAIN_SHAPES = ((1,), (7,), (3, 5), (2, 3, 5), (16, 16), (64, 64), (4096,))
PASSES_SHAPES = ((128,), (8, 32), (4, 8, 16), (512,))
MC_FEATURES = (2, 8)
MC_OUTPUTS = (1, 3)
MC_PASSES = (4, 16)
MC_TEST_ROWS = (1, 64)
#: ``thorough``: the ``passes`` check's shapes and the least samples of a ``drop.mc`` passes
#: example (see "Power" in the module docstring)
THOROUGH_PASSES_SHAPES = ((65536,), (256, 256), (16, 64, 64))
THOROUGH_MAX_PASSES = 128
THOROUGH_MC_SAMPLES = 2**19
#: the relative error of a keep probability that ``thorough`` sizes its examples to detect
THOROUGH_KEEP_DEVIATION = 0.01


def _keep_probabilities(rate: float) -> list[float]:
    """The non-zero keep probabilities ``rate`` stands for under either meaning."""
    return [q for q in (1.0 - rate, rate) if q > 0.0]


def _within_range(x: np.ndarray, limit: float, dtype: str) -> np.ndarray:
    r"""``x`` scaled by a power of two so that $\max|x| \le$ ``limit`` (unchanged if it is),
    rounded to ``dtype``; an element that the scaling rounds to 0 becomes the smallest normal
    number of its sign (non-zero draws stay non-zero)."""
    top = float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0))
    if top <= limit:
        return x
    y = round_to(np.ldexp(x, -math.ceil(math.log2(top / limit))), dtype)
    return np.where((y == 0) & (x != 0), np.copysign(smallest_normal(dtype), x), y)


def thorough_samples(q: float, deviation: float = THOROUGH_KEEP_DEVIATION) -> int:
    r"""The Bernoulli draws that detect a keep probability $q$ off by ``deviation`` (relative) at
    ``ALPHA`` with probability ``POWER``, by the normal approximation of the binomial test:
    $n = 1.05 \big((z_{\alpha/2} + z_{\beta})/\delta\big)^2 (1-q)/q$ (5 % above it)."""
    z = stats.normal_quantile(1.0 - stats.ALPHA / 2) + stats.normal_quantile(stats.POWER)
    return math.ceil(1.05 * (z / deviation) ** 2 * (1.0 - q) / q)


def draw_dropout_case(data: Any, entry: Any, dtype: str, check: str) -> Any:
    """One example for ``check`` (see the module docstring)."""
    if check not in CHECKS:
        raise ValueError(f"check={check!r}: must be one of {list(CHECKS)}")
    (rate_hp,) = entry.hyperparameters
    rate = data.draw(hyperparameter_st(rate_hp, hyperparameter_precision(dtype)), label="rate")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    if entry.model.mc:
        return _draw_linear_case(data, dtype, check, rate, seed)
    # the kept value x/q must stay within the dtype under every meaning of the rate
    limit = 0.25 * largest_finite(dtype) * min(_keep_probabilities(rate))
    if check == "passes":
        thorough = current_profile() == "thorough"
        shape = data.draw(
            st.sampled_from(THOROUGH_PASSES_SHAPES if thorough else PASSES_SHAPES), label="shape"
        )
        least = 1024
        if thorough:
            need = thorough_samples(min(_keep_probabilities(rate)))
            least = min(need, THOROUGH_MAX_PASSES * math.prod(shape))
        passes = max(data.draw(st.integers(2, 8), label="passes"), -(-least // math.prod(shape)))
        x = _within_range(_draw_values(data, shape, dtype, "x", nonzero=True), limit, dtype)
    else:
        shape = data.draw(st.sampled_from(TRAIN_SHAPES), label="shape")
        passes = 1 if check == "train" else 0
        x = _within_range(_draw_values(data, shape, dtype, "x", nonzero=False), limit, dtype)
        if data.draw(st.booleans(), label="non-finite inputs"):
            x = with_non_finite(x)
    return DropoutCase(x=x, rate=rate, seed=seed, passes=passes)


def with_non_finite(x: np.ndarray) -> np.ndarray:
    """``x`` with its first elements (up to three) replaced by ``inf``, ``-inf`` and ``nan``."""
    out = x.copy()
    flat = out.reshape(-1)
    k = min(3, flat.size)
    flat[:k] = np.array([np.inf, -np.inf, np.nan])[:k]
    return out


def _draw_linear_case(data: Any, dtype: str, check: str, rate: float, seed: int) -> Any:
    d_in = data.draw(st.sampled_from(MC_FEATURES), label="in_features")
    d_out = data.draw(st.sampled_from(MC_OUTPUTS), label="out_features")
    if check == "train":
        passes, rows = 1, 1024
    elif check == "test":
        passes, rows = 0, data.draw(st.sampled_from(MC_TEST_ROWS), label="batch")
    else:
        passes = data.draw(st.sampled_from(MC_PASSES), label="passes")
        least = THOROUGH_MC_SAMPLES if current_profile() == "thorough" else 1024
        rows = -(-least // passes)
    x = _draw_values(data, (rows, d_in), dtype, "x", nonzero=True)
    w = _draw_values(data, (d_in, d_out), dtype, "weight", nonzero=True)
    b = _draw_values(data, (d_out,), dtype, "bias", nonzero=False)
    # every exact result sum_i |x_i / q| |w_ik| + |b_k| (and each partial sum) within the dtype
    big = 0.25 * largest_finite(dtype)
    b = _within_range(b, 0.5 * big, dtype)
    reach = float(np.max(np.abs(x) @ np.abs(w))) / min(_keep_probabilities(rate))
    if reach > 0.5 * big:
        k = math.ceil(math.log2(reach / (0.5 * big)))
        x = _within_range(x, float(np.max(np.abs(x))) * 2.0 ** -(k // 2), dtype)
        w = _within_range(w, float(np.max(np.abs(w))) * 2.0 ** -(k - k // 2), dtype)
    return LinearDropoutCase(x=x, weight=w, bias=b, rate=rate, seed=seed, passes=passes)


# ---------------------------------------------------------------------------------------------
# evaluating


def _outputs(impl: Any, case: Any, dtype: str, device: str, shape: tuple[int, ...]) -> Any:
    out = impl.run(case, dtype, device)
    if not isinstance(out, Mapping) or set(out) != {"train", "test"}:
        raise ValueError(
            f"{impl.name}: run must return a mapping with keys 'train' and 'test', got "
            f"{sorted(out) if isinstance(out, Mapping) else type(out).__name__}"
        )
    train = np.asarray(out["train"], dtype=np.float64)
    test = np.asarray(out["test"], dtype=np.float64)
    if train.shape != (case.passes, *shape) or test.shape != shape:
        raise ValueError(
            f"{impl.name}: run returned train {train.shape} and test {test.shape}, expected "
            f"{(case.passes, *shape)} and {shape}"
        )
    return train, test


def _compare(actual: np.ndarray, expected: Tracked, dtype: str, where: str) -> Comparison:
    err, tol, ratio = compare(actual, expected, dtype)
    return Comparison(err, tol, ratio, where)


def _worst(comparisons: Sequence[Comparison]) -> Comparison:
    return max(comparisons, key=lambda c: c.ratio)


def _shrunk_z(deviation: float, allowance: float, n: int, variance: float) -> float:
    """A mean's deviation less what rounding can explain, in standard errors."""
    return max(0.0, abs(deviation) - allowance) * math.sqrt(n / variance)


def _unreachable(where: str) -> Comparison:
    return Comparison(math.inf, 0.0, math.inf, where)


def _variant_options(entry: Any, variant: Any) -> tuple[str, str]:
    opts = variant.options
    return opts.get("form", entry.model.form), opts["rate_meaning"]


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))


def _check_non_finite(
    case: DropoutCase, train: np.ndarray, test: np.ndarray, options: Mapping[str, Any]
) -> list[Comparison]:
    """Infinite and NaN inputs, exactly: test mode gives x (or q x); a pass gives the kept value
    (x/q: the same infinity, or NaN) or the dropped one (NaN multiplied, 0 selected)."""
    bad = ~np.isfinite(case.x)
    if not bad.any():
        return []
    xn = case.x[bad]
    with np.errstate(invalid="ignore"):
        test_ref = dropout(xn, case.rate, training=False, **options)
        kept = dropout(xn, case.rate, mask=np.ones(xn.shape, bool), **options)
        dropped = dropout(xn, case.rate, mask=np.zeros(xn.shape, bool), **options)
    out = []
    if not _same(test[bad], test_ref).all():
        out.append(_unreachable("test (non-finite inputs)"))
    got = train[:, bad]
    if not (_same(got, kept) | _same(got, dropped)).all():
        out.append(_unreachable("train (non-finite inputs)"))
    return out


def _evaluate_elementwise(
    entry: Any, case: DropoutCase, train: np.ndarray, test: np.ndarray, dtype: str, variant: Any
) -> Comparison:
    form, meaning = _variant_options(entry, variant)
    options: dict[str, Any] = {
        "form": form,
        "rate_meaning": meaning,
        "masking": variant.options.get("masking", "multiply"),
    }
    rate = track_scalar(case.rate, dtype)
    try:
        q = float(keep_probability(rate, meaning))
    except ValueError:
        return _unreachable(f"rate={case.rate} is no valid {meaning} probability")
    found = _check_non_finite(case, train, test, options)
    # the finite inputs, as one vector: exact comparisons and the statistics
    finite = np.isfinite(case.x)
    xf, train, test = case.x[finite], train[:, finite], test[finite]
    x = track_tree({"x": xf}, dtype)["x"]
    found.append(_compare(test, dropout(x, rate, training=False, **options), dtype, "test"))
    if case.passes == 0:
        return _worst(found)
    kept_value = dropout(x, rate, mask=np.ones(x.shape, bool), **options)
    expected = cast(Tracked, np.broadcast_to(kept_value, train.shape))
    kept = train != 0
    # an element is dropped only if it is exactly 0; every other one is compared as kept
    observed = np.where(kept | (xf == 0), train, expected.value)
    found.append(_compare(observed, expected, dtype, "train (kept values)"))

    nonzero = xf != 0
    n = int(np.sum(nonzero))
    pvalues: dict[str, float] = {}
    power: dict[str, Detectable] = {}
    if n > 0:
        k = kept[:, nonzero]
        pvalues["kept_fraction"] = stats.binomial_pvalue(int(k.sum()), k.size, q)
        if 0.0 < q < 1.0:
            d = stats.detectable_proportion(k.size, q)
            power["kept_fraction"] = stats.detected("keep probability", d, k.size)
        if case.passes >= 2:
            pairs = case.passes // 2
            both = k[0 : 2 * pairs : 2] & k[1 : 2 * pairs : 2]
            pvalues["independent_passes"] = stats.binomial_pvalue(int(both.sum()), both.size, q * q)
            if 0.0 < q < 1.0:
                d = stats.detectable_proportion(both.size, q * q)
                power["independent_passes"] = stats.detected(
                    "probability of a unit kept in two passes (q^2)", d, both.size
                )
        if case.passes >= 2 and k.size >= MIN_MEAN_SAMPLES and 0.0 < q < 1.0:
            ratios = train[:, nonzero] / xf[nonzero]
            mu, var = (1.0, (1.0 - q) / q) if form == "inverted" else (q, q * (1.0 - q))
            slack = (SAFETY * kept_value.err[nonzero] + floor(dtype)) / np.abs(xf[nonzero])
            allowance = float(np.mean(slack))
            z = _shrunk_z(float(np.mean(ratios)) - mu, allowance, ratios.size, var)
            pvalues["mean"] = stats.two_sided_normal_pvalue(z)
            # a shift of the mean beyond the allowance by the z-test's detectable shift
            shift = allowance + stats.detectable_mean(ratios.size) * math.sqrt(var)
            power["mean"] = stats.detected("mean of y/x over masks", shift / mu, ratios.size)
    if pvalues:
        found.append(stats.comparison_from_pvalues(pvalues))
    return _worst(found).with_detectable(power)


def _evaluate_linear(
    entry: Any,
    case: LinearDropoutCase,
    train: np.ndarray,
    test: np.ndarray,
    dtype: str,
    variant: Any,
) -> Comparison:
    form, meaning = _variant_options(entry, variant)
    rate = track_scalar(case.rate, dtype)
    try:
        q = float(keep_probability(rate, meaning))
    except ValueError:
        return _unreachable(f"rate={case.rate} is no valid {meaning} probability")
    t = track_tree({"x": case.x, "w": case.weight, "b": case.bias}, dtype)
    kw: dict[str, Any] = {"form": form, "rate_meaning": meaning}
    found = [
        _compare(
            test,
            mc_dropout_linear(t["x"], t["w"], t["b"], rate, training=False, **kw),
            dtype,
            "test",
        )
    ]
    if case.passes == 0:
        return _worst(found)
    # a pass that keeps everything bounds the rounding of every pass (|dropout(x)| <= |x / q|)
    full = mc_dropout_linear(t["x"], t["w"], t["b"], rate, mask=np.ones(case.x.shape, bool), **kw)
    if q in (0.0, 1.0):  # no randomness: every pass is b (q = 0) or the all-kept pass (q = 1)
        sure = (
            full
            if q == 1.0
            else mc_dropout_linear(
                t["x"], t["w"], t["b"], rate, mask=np.zeros(case.x.shape, bool), **kw
            )
        )
        sure_train = cast(Tracked, np.broadcast_to(sure, train.shape))
        found.append(_compare(train, sure_train, dtype, "train (sure)"))
        return _worst(found)
    mean, var = linear_dropout_moments(
        case.x, case.weight, case.bias, case.rate, form=form, rate_meaning=meaning
    )
    if not np.all(var > 0):
        raise ValueError("the drawn x and weight must give every output a positive variance")
    slack = SAFETY * full.err + floor(dtype)
    sd = np.sqrt(var)
    units = case.weight.shape[1]
    worst = {"mc_mean": 1.0, "mc_scale": 1.0}
    # the z-shift each of the two detects with probability POWER (Bonferroni over the units)
    z_shift = stats.detectable_mean(1, alpha=stats.ALPHA / units)
    finest = {"mc_mean": math.inf, "mc_scale": math.inf}
    for k in range(units):
        s = (train[:, :, k] - mean[:, k]) / sd[:, k]  # i.i.d. over passes and rows: mean 0, var 1
        shift = slack[:, k] / sd[:, k]  # the most rounding can move each standardised sample
        # an offset: the plain mean; a wrong scale: the mean weighted by the direction of x W
        direction = (mean[:, k] - case.bias[k]) / sd[:, k]
        for name, weights in (("mc_mean", np.ones_like(direction)), ("mc_scale", direction)):
            norm = math.sqrt(case.passes * float(np.sum(weights**2)))
            if norm == 0.0:
                continue
            z = float(np.sum(s * weights)) / norm
            allowance = case.passes * float(np.sum(shift * np.abs(weights))) / norm
            p = stats.two_sided_normal_pvalue(max(0.0, abs(z) - allowance))
            worst[name] = min(worst[name], p)
            # an offset of e sigma (weights 1), or a scale 1 + e of x W (weights c), moves z by
            # e * norm: detected beyond the allowance
            finest[name] = min(finest[name], (z_shift + allowance) / norm)
    # Bonferroni over the output units: each of the two is one test at ALPHA
    found.append(stats.comparison_from_pvalues({n: min(1.0, p * units) for n, p in worst.items()}))
    samples = case.passes * case.x.shape[0]
    power = {
        "mc_mean": stats.detected(
            "offset of the average output, in standard deviations of one pass",
            finest["mc_mean"],
            samples,
            relative=False,
        ),
        "mc_scale": stats.detected(
            "scale of the average output's x W", finest["mc_scale"], samples
        ),
    }
    return _worst(found).with_detectable(
        {k: d for k, d in power.items() if math.isfinite(d.deviation)}
    )


def evaluate_dropout(
    entry: Any, impl: Any, case: Any, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once on ``case`` and compare with every variant (module docstring)."""
    if isinstance(case, LinearDropoutCase):
        train, test = _outputs(impl, case, dtype, device, (case.x.shape[0], case.weight.shape[1]))
        return {v: _evaluate_linear(entry, case, train, test, dtype, v) for v in variants}
    train, test = _outputs(impl, case, dtype, device, case.x.shape)
    return {v: _evaluate_elementwise(entry, case, train, test, dtype, v) for v in variants}


def _expected(entry: Any, impl: Any, case: Any, dtype: str, check: str) -> Any:
    if isinstance(case, LinearDropoutCase):
        shape: tuple[int, ...] = (case.x.shape[0], case.weight.shape[1])
    else:
        shape = tuple(case.x.shape)
    return MappingOf({"train": ArrayOf((case.passes, *shape)), "test": ArrayOf(shape)})


CONTRACT = KindContract(
    case_types=(DropoutCase, LinearDropoutCase),
    result_type=DropoutResult,
    fields=(
        CaseField("x", "ndarray", "the input (LinearDropoutCase: (batch, in))"),
        CaseField(
            "weight", "ndarray", "LinearDropoutCase only: the linear layer's (in, out) weight"
        ),
        CaseField("bias", "ndarray", "LinearDropoutCase only: the linear layer's (out,) bias"),
        CaseField("rate", "float", "the probability of DROPPING a value"),
        CaseField(
            "seed", "int", "seed the framework's RNG once from it, then draw a fresh mask per pass"
        ),
        CaseField("passes", "int", "how many training-mode calls to make"),
    ),
    returns="{'train': the outputs of every training-mode pass, shape (passes, *out), 'test': the "
    "test-mode output, shape out}; out is x's shape (DropoutCase) or (batch, out) after dropout "
    "and the linear layer (LinearDropoutCase, MC dropout)",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "dropout",
        CHECKS,
        draw_dropout_case,
        evaluate_dropout,
        "test mode exactly; in training mode kept values exactly x/q (or x) and dropped ones 0, "
        "then the kept fraction, the mean over masks, the independence of passes and (MC "
        "dropout) the average of passes through a linear layer, each by a statistical test at "
        "ALPHA = 1e-6",
        example_scale=0.5,
        contract=CONTRACT,
        statistical=True,
    )
)
