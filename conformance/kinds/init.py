r"""The initializer kind: weight and bias initialisers, fans, and the variance rule through a layer.

Samples from two random number generators cannot be compared element by element, so every
example tests the *distribution* a framework draws from against each variant of the reference
(:mod:`trainspec.reference.init`), with the tests of :mod:`trainspec.conformance.stats`:

``bounds`` (exact)
    no value beyond the support bound $b$ of a uniform or truncated normal (plus four units of
    the dtype's rounding, $4u_d b$, for the framework's own rounding of $b$); a point mass (zero
    biases) must be exactly 0 everywhere.
``bound_reached`` (exact one-sided test)
    the sample maximum of $|w|$ must reach the bound: $p = P(|w| \le \max|w|(1 + 2u_d))^N$
    (the draws are rounded to the dtype, which may move the largest down by $2u_d$ relative). With
    $N \ge 2^{12}$ a uniform bound 1 % too large fails ``bounds`` and one 1 % too small fails
    this test with $p < e^{-40}$, so the two pin the *fan* the framework computed
    (``init.fans``).
``mean``, ``variance``
    CLT tests with the variant's exact variance and fourth moment (``variance_pvalue``); the
    exact $\chi^2$ test (``chi2_variance_pvalue``) for a plain normal.
``ks``
    Kolmogorov-Smirnov against the variant's CDF: tells the *shape* apart (plain normal,
    truncated normal with or without the variance correction, uniform).

Sample sizes and power
----------------------
Every kernel example draws $N \ge 2^{17} = 131072$ values (as many kernels of the drawn shape as
needed). The Kolmogorov distance between a plain normal and the corrected truncated normal of
equal variance is $D = 0.01667$ (0.0325 between the corrected and the uncorrected truncation,
0.0228 between the plain and the uncorrected one); $\sqrt N D = 6.03$ against the critical value
$\lambda_\alpha = 2.69$ at $\alpha = 10^{-6}$, so by the Dvoretzky-Kiefer-Wolfowitz inequality
(Massart's constant) a framework that draws the other shape passes the KS test with probability
at most $2e^{-2(6.03-2.69)^2} < 10^{-9}$ per example. A plain normal sample also fails a truncated
variant's exact bound test (2.3 % of its values lie beyond $2\sigma/0.8796$). For uniform rules
and fans the bound tests decide with far fewer values; they use the same $N$ so that the kernels
of every rule share shapes (below). Biases draw $2^{12}$ values; the variance rule one input and
2048 outputs of one layer. The ``thorough`` profile draws $N \ge 2^{20}$ kernel values
(:data:`THOROUGH_SAMPLES`): the exact $\chi^2$ test then detects a standard deviation off by
0.43 % (a ReLU gain of $\sqrt{2.02}$ is off by 0.5 %) with probability 0.9, against 1.2 % at
$2^{17}$ (``ci``); the report states each test's figure per row.

Shapes
------
Kernels come from a catalogue of explicit hard cases (:data:`KERNEL_LAYERS`): fan_in 1, fan_out 1,
strongly asymmetric fans both ways, a non-square kernel, 1-, 2- and 3-d convolutions, the notes'
784-300 layer. A catalogue rather than free sizes because JAX compiles every new shape (about a
second each on a loaded CI core), and it keeps counterexamples readable; Hypothesis shrinks
towards the first entry.

False alarms
------------
Each example runs at most four stochastic tests per variant at ``ALPHA`` $= 10^{-6}$ (the bound
tests are exact), so a framework that follows a variant exactly fails it on one example with
probability at most $4\times10^{-6}$ (Bonferroni). A row of the ``ci`` profile has 6 examples
(3 per check, ``example_scale`` 0.075): at most $2.4\times10^{-5}$; the 20 rows per backend of
this family at most $4.8\times10^{-4}$, the 60 rows of the three backends $1.5\times10^{-3}$ on a
fresh ``--seed``. The ``thorough`` profile (30 examples per check) multiplies these by 10. The
frameworks' RNGs are seeded from the drawn example, so the ``ci`` profile (derandomized) replays
the same samples on every run and never flakes.

``example_scale`` is 0.075 because every example draws and sorts $2^{17}$ values and, on JAX,
compiles the initialiser for its shape (about a CPU second per new shape and dtype); 3 examples
per check keep each backend's rows within the CI budget.

The variance rule through a layer
---------------------------------
``init.variance_rule`` builds a layer without bias (dense, or a convolution whose input has the
kernel's spatial size, so that it has one output position), initialised by the framework with
one of the six rules, and applies it to one input $x$ of $n$ values (mean 0). Given $x$ the
$m$ outputs are i.i.d. with $E[z^2] = \operatorname{Var}(w)\sum x_i^2 = n\operatorname{Var}(w)
\operatorname{Var}(x)$ and a known fourth moment
(:func:`~trainspec.reference.init.dense_output_moments`); the CLT test of $\overline{z^2}$ and the
test of $\bar z = 0$ check the rule at ``ALPHA``. A normal rule's fourth moment is taken as the
plain normal's ($3\sigma^4$, the largest of its two shapes), which makes the test conservative
for a truncated normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance import stats
from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import (
    ArrayOf,
    CaseField,
    KindContract,
    OptionKey,
    minimal_case,
)
from trainspec.conformance.kinds import Kind, register_kind
from trainspec.conformance.profiles import current_profile
from trainspec.conformance.tolerance import Comparison, Detectable
from trainspec.conformance.tracked import round_to, unit_roundoff
from trainspec.reference.init import InitDistribution, InitializerModel, Layer, dense_output_moments

__all__ = [
    "BOUND_SLACK_ULPS",
    "CONTRACT",
    "KERNEL_LAYERS",
    "KIND",
    "LAYER_INPUTS",
    "SAMPLES",
    "THOROUGH_SAMPLES",
    "InitCase",
    "InitResult",
    "distribution_power",
    "distribution_pvalues",
    "draw_init_case",
    "evaluate_init",
    "layer_output_pvalues",
]

SAMPLES = 2**17  # values per example for kernels: KS power (module docstring)
THOROUGH_SAMPLES = 2**20  # ``thorough``: a standard deviation off by 0.5 % is detected
BIAS_SAMPLES = 2**12  # biases: zero (exact test) or uniform (exact bound tests)
BOUND_SLACK_ULPS = 4.0
OUTPUTS = 2048  # outputs of the variance-rule layer (CLT over them)

#: kernels, as explicit hard cases (see "Shapes" in the module docstring); each has >= 1024 values
KERNEL_LAYERS: dict[str, tuple[Layer, ...]] = {
    "dense": (
        Layer(784, 300),  # the notes' MNIST layer
        Layer(1, 1024),  # fan_in 1
        Layer(1024, 1),  # fan_out 1
        Layer(17, 129),
    ),
    "conv": (
        Layer(3, 64, (3, 3)),
        Layer(1, 300, (5,)),
        Layer(4, 16, (3, 3, 3)),
        Layer(16, 20, (2, 5)),  # a non-square kernel
    ),
}
#: the inputs of the variance-rule layer (``out_features`` is ``OUTPUTS``)
LAYER_INPUTS: dict[str, tuple[Layer, ...]] = {
    "dense": tuple(Layer(n, OUTPUTS) for n in (784, 1, 64)),
    "conv": tuple(Layer(i, OUTPUTS, k) for i, k in ((3, (3, 3)), (1, (5,)), (2, (3, 3, 3)))),
}


@dataclass(frozen=True)
class InitCase:
    r"""One example: a layer, how many independent kernels (or biases) to draw, and a seed.

    ``choice`` is the fan mode (``init.fans``) or the rule the layer is initialised with
    (``init.variance_rule``); ``x`` (``init.variance_rule``) is the layer's input, logically
    channels-first: ``(in_features, *kernel_size)``.
    """

    target: str
    layer: Layer
    draws: int
    seed: int
    choice: str | None = None
    x: np.ndarray | None = None

    @property
    def samples(self) -> int:
        if self.target == "layer_output":
            return self.layer.out_features
        per = self.layer.out_features
        if self.target == "kernel":
            per *= self.layer.in_features * self.layer.receptive_field
        return self.draws * per

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "in_features": self.layer.in_features,
            "out_features": self.layer.out_features,
            "kernel_size": list(self.layer.kernel_size),
            "fan_in": self.layer.fan_in,
            "fan_out": self.layer.fan_out,
            "draws": self.draws,
            "samples": self.samples,
            "seed": self.seed,
        }
        if self.choice is not None:
            out["choice"] = self.choice
        if self.x is not None:
            out["x"] = {
                "shape": list(self.x.shape),
                "mean_square": float(np.mean(self.x**2)),
                "head": self.x.ravel()[:4].tolist(),
            }
        return out


#: What ``run`` returns for an :class:`InitCase`: the samples as one array (kernels, biases, or
#: the layer's outputs; the contract gives the shape).
InitResult: TypeAlias = FloatArray


def _draw_input(data: Any, layer: Layer, dtype: str) -> np.ndarray:
    """The variance-rule layer's input: mean 0, a drawn shape of distribution and magnitude."""
    form = data.draw(st.sampled_from(("normal", "uniform", "sparse", "spread")), label="x.form")
    exponent = data.draw(st.integers(-3, 3), label="x.exponent")
    seed = data.draw(st.integers(0, 2**32 - 1), label="x.seed")
    rng = np.random.default_rng(seed)
    shape = (layer.in_features, *layer.kernel_size)
    if form == "normal":
        x = rng.standard_normal(shape)
    elif form == "uniform":
        x = rng.uniform(-1.0, 1.0, shape)
    elif form == "sparse":  # most inputs exactly zero
        x = rng.standard_normal(shape) * (rng.random(shape) < 0.2)
    else:  # magnitudes over four decades
        x = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-2, 2, shape)
    x = x - np.mean(x) if x.size > 1 else x
    x = round_to(x * 10.0**exponent, dtype)
    if not np.any(x):
        x.flat[0] = round_to(np.array(10.0**exponent), dtype)
    return x


def draw_init_case(data: Any, entry: Any, dtype: str, check: str) -> InitCase:
    """One example for ``entry`` (checks ``dense`` and ``conv``), see the module docstring."""
    model: InitializerModel = entry.model
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    if model.target == "layer_output":
        rule = data.draw(st.sampled_from(model.rules), label="rule")
        layer = data.draw(st.sampled_from(LAYER_INPUTS[check]), label="layer")
        return InitCase("layer_output", layer, 1, seed, rule, _draw_input(data, layer, dtype))
    layer = data.draw(st.sampled_from(KERNEL_LAYERS[check]), label="layer")
    if model.target == "bias":
        return InitCase("bias", layer, -(-BIAS_SAMPLES // layer.out_features), seed)
    choice = data.draw(st.sampled_from(model.modes), label="mode") if model.modes else None
    elements = layer.in_features * layer.out_features * layer.receptive_field
    least = THOROUGH_SAMPLES if current_profile() == "thorough" else SAMPLES
    return InitCase("kernel", layer, -(-least // elements), seed, choice)


def distribution_pvalues(values: Any, dist: InitDistribution, dtype: str) -> dict[str, float]:
    """The tests of the module docstring for i.i.d. ``values`` against ``dist``."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        return {"finite": 0.0}
    if dist.family == "point_mass":
        return {"bounds": 1.0 if not np.any(x) else 0.0}
    p: dict[str, float] = {}
    top = float(np.max(np.abs(x)))
    if dist.bound is not None:
        b = dist.bound
        p["bounds"] = 1.0 if top <= b * (1.0 + BOUND_SLACK_ULPS * unit_roundoff(dtype)) else 0.0
        # the framework rounds its draws to the dtype: the largest may lie up to 2 u_d below
        # the value it was drawn as (rounded down, or drawn below b(1 - u_d) and then b rounded)
        reach = min(top * (1.0 + 2.0 * unit_roundoff(dtype)), b)
        p["bound_reached"] = float(min(1.0, dist.abs_cdf(reach) ** x.size))
    p["mean"] = stats.mean_pvalue(x, 0.0, dist.variance)
    if dist.family == "normal":
        p["variance"] = stats.chi2_variance_pvalue(x, dist.variance)
    else:
        p["variance"] = stats.variance_pvalue(x, dist.variance, dist.fourth_moment)
    p["ks"] = stats.ks_pvalue(x, dist.cdf)
    return p


def distribution_power(n: int, dist: InitDistribution) -> dict[str, Detectable]:
    r"""What :func:`distribution_pvalues` detects on $n$ values (``POWER``, ``ALPHA``): the
    standard deviation's relative error (the exact $\chi^2$ test for a plain normal, the CLT
    test with the distribution's kurtosis otherwise), the mean's shift in standard deviations
    and the Kolmogorov distance to the true distribution."""
    if dist.family == "point_mass":
        return {}
    if dist.family == "normal":
        sd = stats.detectable_normal_sd(n)
    else:
        sd = stats.detectable_sd(n, dist.fourth_moment / dist.variance**2)
    return {
        "variance": stats.detected("standard deviation", sd, n),
        "mean": stats.detected(
            "mean, in standard deviations", stats.detectable_mean(n), n, relative=False
        ),
        "ks": stats.detected(
            "Kolmogorov distance", stats.detectable_ks_distance(n), n, relative=False
        ),
    }


def layer_output_pvalues(z: Any, x: np.ndarray, weights: InitDistribution) -> dict[str, float]:
    """The variance rule for the outputs ``z`` of a layer with i.i.d. weights on input ``x``."""
    zz = np.asarray(z, dtype=np.float64).ravel()
    if zz.size == 0 or not np.all(np.isfinite(zz)):
        return {"finite": 0.0}
    ez2, ez4 = dense_output_moments(x, weights)
    return {
        "variance": stats.variance_pvalue(zz, ez2, ez4),
        "mean": stats.mean_pvalue(zz, 0.0, ez2),
    }


def _check_shape(impl: Any, case: InitCase, values: np.ndarray) -> None:
    layout = impl.options.get("layout") if impl.options else None
    if case.target == "kernel" and layout is not None:
        want = (case.draws, *case.layer.kernel_shape(layout))
    elif case.target == "bias":
        want = (case.draws, case.layer.out_features)
    elif case.target == "layer_output":
        want = (case.layer.out_features,)
    else:
        want = None
    if want is not None and tuple(values.shape) != want:
        raise ValueError(
            f"{impl.name}: returned shape {tuple(values.shape)}, expected {want} "
            f"({case.target}, layout {layout})"
        )
    if values.size != case.samples:
        raise ValueError(f"{impl.name}: returned {values.size} values, expected {case.samples}")


def evaluate_init(
    entry: Any, impl: Any, case: InitCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once; test its values against each variant's distribution."""
    values = np.asarray(impl.run(case, dtype, device), dtype=np.float64)
    _check_shape(impl, case, values)
    model: InitializerModel = entry.model
    out: dict[Any, Comparison] = {}
    for v in variants:
        dist = model.distribution(v.options, case.layer, case.choice)
        if case.target == "layer_output":
            assert case.x is not None
            p = layer_output_pvalues(values, case.x, dist)
            ez2, ez4 = dense_output_moments(case.x, dist)
            n = values.size
            power = {
                "variance": stats.detected(
                    "standard deviation of the layer's outputs",
                    stats.detectable_sd(n, ez4 / ez2**2),
                    n,
                )
            }
        else:
            p = distribution_pvalues(values, dist, dtype)
            power = distribution_power(values.size, dist)
        out[v] = stats.comparison_from_pvalues(p).with_detectable(power)
    return out


def _expected(entry: Any, impl: Any, case: InitCase, dtype: str, check: str) -> Any:
    layout = impl.options.get("layout") if impl.options else None
    if case.target == "kernel" and layout is not None:
        want: tuple[int, ...] | None = (case.draws, *case.layer.kernel_shape(layout))
    elif case.target == "bias":
        want = (case.draws, case.layer.out_features)
    elif case.target == "layer_output":
        want = (case.layer.out_features,)
    else:
        want = None
    return ArrayOf(want, size=case.samples)


def _canonical_case(entry: Any, dtype: str, check: str) -> InitCase:
    """The simplest draw with one kernel (or bias): the shapes of a real case, few values."""
    case: InitCase = minimal_case(draw_init_case, entry, dtype, check)
    return case if case.target == "layer_output" else replace(case, draws=1)


CONTRACT = KindContract(
    case_types=(InitCase,),
    result_type=InitResult,
    result_name="InitResult",
    fields=(
        CaseField(
            "target",
            "str",
            "'kernel' (initialise kernels), 'bias' (initialise biases) or 'layer_output' (the "
            "variance rule: initialise a layer and return its outputs on x)",
        ),
        CaseField(
            "layer",
            "Layer",
            "in_features, out_features, kernel_size (() for a dense layer); "
            "layer.kernel_shape(layout) gives a kernel's shape in a layout",
        ),
        CaseField("draws", "int", "how many independent kernels (or biases) to initialise"),
        CaseField("seed", "int", "seed the framework's RNG from it"),
        CaseField(
            "choice",
            "str | None",
            "init.fans: the fan mode; init.variance_rule: the rule the layer is initialised with",
        ),
        CaseField(
            "x",
            "ndarray | None",
            "init.variance_rule: the layer's input, channels-first (in_features, *kernel_size)",
        ),
    ),
    returns="the samples as one array: kernels (draws, *layer.kernel_shape(layout)) with the "
    "layout of options['layout'] (without it: any shape of case.samples values); biases (draws, "
    "out_features); the variance rule: the layer's (out_features,) outputs",
    expected=_expected,
    options=(
        OptionKey(
            "layout",
            "'torch' | 'channels_last'",
            "the framework's kernel layout: (out, in, *k) or (*k, in, out); fixes the shape of "
            "the returned kernels",
        ),
    ),
    canonical_case=_canonical_case,
)


KIND = register_kind(
    Kind(
        "init",
        ("dense", "conv"),
        draw_init_case,
        evaluate_init,
        "the distribution of initialised kernels (bounds, bound reached, mean, variance, KS) on "
        "dense and convolution layers in the framework's layout, 2^17 values per example for "
        "normal rules and 2^14 otherwise; the variance rule through a layer; alpha = 1e-6 per test",
        example_scale=0.075,
        contract=CONTRACT,
        statistical=True,
    )
)
