r"""Weight initialisation: Glorot, He and LeCun rules, fans, biases, the variance rule (NumPy, float64).

Every rule draws each weight independently from a zero-mean distribution whose variance is a
scale over a *fan* of the kernel:

.. math::
    \operatorname{Var}(w) = \frac{s}{\text{fan}}, \qquad
    \text{fan} \in \{\text{fan}_\text{in},\ \text{fan}_\text{out},\
    \text{fan}_\text{avg} = \tfrac12(\text{fan}_\text{in} + \text{fan}_\text{out})\}

=============  =====  ===============  ============================================
rule           $s$    fan              uniform bound $r = \sqrt{3 s/\text{fan}}$
=============  =====  ===============  ============================================
Glorot/Xavier  1      fan_avg          $\sqrt{6/(\text{fan}_\text{in}+\text{fan}_\text{out})}$
He/Kaiming     2      fan_in           $\sqrt{6/\text{fan}_\text{in}}$
LeCun          1      fan_in           $\sqrt{3/\text{fan}_\text{in}}$
=============  =====  ===============  ============================================

A rule fixes the *variance*; the shape of the distribution is a named choice:

``uniform``
    $U(-r, r)$ with $r = \sqrt{3\sigma^2}$.
``normal``
    $N(0, \sigma^2)$ (the lecture notes; PyTorch's ``xavier_normal_``/``kaiming_normal_``).
``truncated_normal``
    $N(0, (\sigma/c)^2)$ truncated at two of *its* standard deviations, with
    $c = 0.87962566103423978$ the standard deviation of a standard normal truncated to
    $(-2, 2)$, so that the variance is again $\sigma^2$ (Keras's ``VarianceScaling``,
    ``jax.nn.initializers.variance_scaling``).
``truncated_normal_uncorrected``
    $N(0, \sigma^2)$ truncated at $\pm 2\sigma$ (TensorFlow 1's ``tf.truncated_normal(stddev=σ)``):
    its variance is $c^2\sigma^2 \approx 0.774\,\sigma^2$, so it does *not* follow a rule that
    states $\sigma^2$. It is offered to model what documents print, never as a variant of a rule.

Fans depend on the framework's weight layout (:func:`fans`): PyTorch stores a dense kernel as
``(out, in)`` and a convolution kernel as ``(out, in, *k)``; Keras and flax store
``(in, out)`` and ``(*k, in, out)``. In both, a convolution's fans are the channels times the
receptive field $\prod k$.

Every sampler takes an explicit :class:`numpy.random.Generator`; the distributions are exposed
as :class:`InitDistribution` objects (CDF, variance, fourth moment, support bound) for the
statistical tests of the conformance kit.

The module is laid out in cards: what the IDs share (distributions, fans and layouts, variance
scaling, the model the kit drives), then each ``init.*`` ID: its function followed by its entry.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number, check_rng
from trainspec.reference.registry import (
    Erratum,
    ErratumEvidence,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "DISTRIBUTIONS",
    "LAYOUTS",
    "MODES",
    "TRUNCATED_NORMAL_STDDEV",
    "InitDistribution",
    "Initializer",
    "InitializerModel",
    "Layer",
    "dense_output_moments",
    "fans",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "point_mass",
    "truncated_normal",
    "uniform",
    "variance_rule",
    "variance_scaling",
    "zeros",
]

#: the standard deviation of a standard normal truncated to (-2, 2)
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978
#: where the truncated normals are cut, in standard deviations of the untruncated normal
TRUNCATION = 2.0
LAYOUTS = ("torch", "channels_last")
MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("uniform", "normal", "truncated_normal", "truncated_normal_uncorrected")

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _phi_cdf(x: Any) -> np.ndarray:
    """The standard normal CDF, accurate in both tails."""
    a = np.asarray(x, dtype=np.float64)
    return 0.5 * np.asarray(_erfc(-a / math.sqrt(2.0)), dtype=np.float64)


def _phi_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# distributions


@dataclass(frozen=True)
class InitDistribution:
    r"""A zero-mean, symmetric distribution of one weight, with what the statistical tests need.

    ``family`` is one of ``"normal"``, ``"truncated_normal"``, ``"uniform"``, ``"point_mass"``;
    ``scale`` is the standard deviation of the (untruncated) normal, or the bound $r$ of the
    uniform. ``bound`` is the half-width of the support (``None``: unbounded); ``variance`` and
    ``fourth_moment`` are the central moments $\sigma^2$ and $\mu_4$.
    """

    family: str
    scale: float

    def __post_init__(self) -> None:
        check_choice("family", self.family, ("normal", "truncated_normal", "uniform", "point_mass"))
        if self.family == "point_mass":
            if self.scale != 0.0:
                raise ValueError(f"scale={self.scale!r}: a point mass at 0 has scale 0")
        else:
            check_number("scale", self.scale, low=0.0, low_closed=False)

    @property
    def bound(self) -> float | None:
        if self.family == "normal":
            return None
        if self.family == "truncated_normal":
            return TRUNCATION * self.scale
        return self.scale  # uniform: r; point mass: 0

    @property
    def variance(self) -> float:
        s = self.scale
        if self.family == "normal":
            return s * s
        if self.family == "truncated_normal":
            z = 2.0 * float(_phi_cdf(TRUNCATION)) - 1.0
            return s * s * (1.0 - 2.0 * TRUNCATION * _phi_pdf(TRUNCATION) / z)
        if self.family == "uniform":
            return s * s / 3.0
        return 0.0

    @property
    def fourth_moment(self) -> float:
        r"""$E[w^4]$: $3\sigma^4$ (normal), $r^4/5$ (uniform), and for the normal truncated at
        $\pm c s$: $s^4\,(3 - 2(c^3 + 3c)\varphi(c)/(2\Phi(c) - 1))$."""
        s = self.scale
        if self.family == "normal":
            return 3.0 * s**4
        if self.family == "truncated_normal":
            c = TRUNCATION
            z = 2.0 * float(_phi_cdf(c)) - 1.0
            return s**4 * (3.0 - 2.0 * (c**3 + 3.0 * c) * _phi_pdf(c) / z)
        if self.family == "uniform":
            return s**4 / 5.0
        return 0.0

    @property
    def stddev(self) -> float:
        return math.sqrt(self.variance)

    def cdf(self, x: Any) -> np.ndarray:
        """$P(w \\le x)$, elementwise (a point mass has the step at 0)."""
        a = np.asarray(x, dtype=np.float64)
        s = self.scale
        if self.family == "normal":
            return _phi_cdf(a / s)
        if self.family == "truncated_normal":
            c = TRUNCATION
            lo = float(_phi_cdf(-c))
            z = 1.0 - 2.0 * lo
            return np.clip((_phi_cdf(np.clip(a / s, -c, c)) - lo) / z, 0.0, 1.0)
        if self.family == "uniform":
            return np.clip((a + s) / (2.0 * s), 0.0, 1.0)
        return (a >= 0).astype(np.float64)

    def abs_cdf(self, t: float) -> float:
        """$P(|w| \\le t)$ for $t \\ge 0$ (the distribution of the sample maximum of $|w|$)."""
        t = float(t)
        if t < 0:
            return 0.0
        return float(self.cdf(t) - self.cdf(-t)) if self.family != "point_mass" else 1.0

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
        """Independent draws from ``rng`` (a :class:`numpy.random.Generator`)."""
        check_rng(rng)
        shape = tuple(int(s) for s in shape)
        s = self.scale
        if self.family == "normal":
            return s * rng.standard_normal(shape)
        if self.family == "uniform":
            return rng.uniform(-s, s, shape)
        if self.family == "point_mass":
            return np.zeros(shape)
        # truncated normal: redraw every value outside (-2, 2) until none is left
        z = rng.standard_normal(shape)
        bad = np.abs(z) >= TRUNCATION
        while np.any(bad):
            z[bad] = rng.standard_normal(int(np.sum(bad)))
            bad = np.abs(z) >= TRUNCATION
        return s * z

    def describe(self) -> str:
        if self.family == "uniform":
            return f"U(-{self.scale:.6g}, {self.scale:.6g})"
        if self.family == "normal":
            return f"N(0, {self.scale:.6g}^2)"
        if self.family == "truncated_normal":
            return f"N(0, {self.scale:.6g}^2) truncated to ±{self.bound:.6g}"
        return "0"


def normal(variance: float) -> InitDistribution:
    r"""$N(0, \sigma^2)$ with $\sigma^2$ = ``variance``."""
    v = check_number("variance", variance, low=0.0, low_closed=False)
    return InitDistribution("normal", math.sqrt(v))


def truncated_normal(variance: float, *, corrected: bool = True) -> InitDistribution:
    r"""A normal truncated at two of its standard deviations.

    ``corrected=True``: the untruncated standard deviation is $\sigma/c$ ($c$ =
    :data:`TRUNCATED_NORMAL_STDDEV`), so that the variance is $\sigma^2$ = ``variance``.
    ``corrected=False``: the untruncated standard deviation is $\sigma$, and the variance is
    $c^2\sigma^2$ (TensorFlow 1's ``tf.truncated_normal(stddev=σ)``).
    """
    v = check_number("variance", variance, low=0.0, low_closed=False)
    s = math.sqrt(v)
    return InitDistribution("truncated_normal", s / TRUNCATED_NORMAL_STDDEV if corrected else s)


def uniform(variance: float) -> InitDistribution:
    r"""$U(-r, r)$ with $r = \sqrt{3\sigma^2}$, $\sigma^2$ = ``variance``."""
    v = check_number("variance", variance, low=0.0, low_closed=False)
    return InitDistribution("uniform", math.sqrt(3.0 * v))


def point_mass() -> InitDistribution:
    """Every value exactly 0."""
    return InitDistribution("point_mass", 0.0)


def _distribution_of(distribution: str, variance: float) -> InitDistribution:
    d = check_choice("distribution", distribution, DISTRIBUTIONS)
    if d == "uniform":
        return uniform(variance)
    if d == "normal":
        return normal(variance)
    return truncated_normal(variance, corrected=d == "truncated_normal")


# ---------------------------------------------------------------------------------------------
# fans and layouts, variance scaling, the model the kit drives


def _check_shape(name: str, shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name}={shape!r}: must be a sequence of integers") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"{name}={shape!r}: every dimension must be an integer >= 1")
    return tuple(int(d) for d in dims)


def fans(shape: Sequence[int], layout: str = "channels_last") -> tuple[int, int]:
    r"""``(fan_in, fan_out)`` of a kernel of ``shape`` in the framework weight ``layout``.

    .. math::
        \text{torch: } (o, i, k_1, \dots):\ \text{fan}_\text{in} = i\prod k,\
        \text{fan}_\text{out} = o\prod k; \qquad
        \text{channels\_last: } (k_1, \dots, i, o):\ \text{the same with } i, o \text{ last}

    A dense kernel is the case without $k$: ``(out, in)`` in PyTorch, ``(in, out)`` in Keras and
    flax. Glorot & Bengio (2010) and He et al. (2015) define the fans of a dense layer; the
    receptive-field product for convolutions is what every framework computes.

    .. warning:: the same array means different fans in the two layouts: a ``(3, 5)`` dense
       kernel has fan_in 5 in PyTorch and 3 in Keras. Kernels need at least two dimensions here
       (Keras reads a vector as fan_in = fan_out = its length; PyTorch refuses it).
    """
    dims = _check_shape("shape", shape)
    lay = check_choice("layout", layout, LAYOUTS)
    if len(dims) < 2:
        raise ValueError(f"shape={shape!r}: a kernel needs at least 2 dimensions (in and out)")
    if lay == "torch":
        out_c, in_c, k = dims[0], dims[1], dims[2:]
    else:
        in_c, out_c, k = dims[-2], dims[-1], dims[:-2]
    rf = math.prod(k)
    return in_c * rf, out_c * rf


@dataclass(frozen=True)
class Layer:
    r"""A dense (``kernel_size == ()``) or convolution layer, independent of any layout."""

    in_features: int
    out_features: int
    kernel_size: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_shape("(in_features, out_features)", (self.in_features, self.out_features))
        _check_shape("kernel_size", self.kernel_size)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.kernel_size)

    @property
    def fan_in(self) -> int:
        return self.in_features * self.receptive_field

    @property
    def fan_out(self) -> int:
        return self.out_features * self.receptive_field

    def fan(self, mode: str) -> float:
        m = check_choice("mode", mode, MODES)
        if m == "fan_in":
            return float(self.fan_in)
        if m == "fan_out":
            return float(self.fan_out)
        return 0.5 * (self.fan_in + self.fan_out)

    def kernel_shape(self, layout: str) -> tuple[int, ...]:
        """The kernel's shape in ``layout``: ``(out, in, *k)`` or ``(*k, in, out)``."""
        lay = check_choice("layout", layout, LAYOUTS)
        if lay == "torch":
            return (self.out_features, self.in_features, *self.kernel_size)
        return (*self.kernel_size, self.in_features, self.out_features)


class Initializer(NamedTuple):
    """A rule fixed by its factory: ``distribution(shape)`` and ``sample(rng, shape)``."""

    distribution: Callable[[Sequence[int]], InitDistribution]
    sample: Callable[[np.random.Generator, Sequence[int]], np.ndarray]


def variance_scaling(
    scale: float, mode: str, distribution: str, *, layout: str = "channels_last"
) -> Initializer:
    r"""Every weight drawn independently with variance $s/\text{fan}$.

    Symbols: $s$ = ``scale``, fan = ``mode`` of the kernel's :func:`fans` in ``layout``;
    ``distribution`` is one of :data:`DISTRIBUTIONS` (see the module docstring).

    .. math:: \operatorname{Var}(w) = \frac{s}{\text{fan}}

    .. warning:: ``truncated_normal_uncorrected`` has variance $0.774\,s/\text{fan}$, not
       $s/\text{fan}$; it models what TensorFlow 1 code prints, not a rule.
    """
    s = check_number("scale", scale, low=0.0, low_closed=False)
    m = check_choice("mode", mode, MODES)
    d = check_choice("distribution", distribution, DISTRIBUTIONS)
    lay = check_choice("layout", layout, LAYOUTS)

    def dist(shape: Sequence[int]) -> InitDistribution:
        fi, fo = fans(shape, lay)
        fan = {"fan_in": fi, "fan_out": fo, "fan_avg": 0.5 * (fi + fo)}[m]
        return _distribution_of(d, s / fan)

    def sample(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
        return dist(shape).sample(rng, shape)

    return Initializer(dist, sample)


def _normal_form(distribution: str) -> str:
    return check_choice("distribution", distribution, DISTRIBUTIONS[1:])


@dataclass(frozen=True)
class InitializerModel:
    r"""What the ``initializer`` kind needs of an ``init.*`` entry.

    ``target`` says what the framework returns: ``"kernel"`` (weights drawn for a layer's
    kernel), ``"bias"`` (a layer's bias) or ``"layer_output"`` (a dense layer's output for a
    fixed input, for the variance rule). ``distribution(options, layer, mode)`` is the
    distribution of every value of one variant for ``layer``; ``mode`` is the fan the case
    asks for (``init.fans`` only, else ``None``). ``rules`` lists the rules a
    ``layer_output`` case may initialise the layer with.
    """

    target: str
    distribution: Callable[[Mapping[str, str], Layer, str | None], InitDistribution]
    modes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


RULES: dict[str, tuple[float, str, str]] = {
    # rule id: (scale, fan mode, shape)
    "init.glorot_uniform": (1.0, "fan_avg", "uniform"),
    "init.glorot_normal": (1.0, "fan_avg", "normal"),
    "init.he_normal": (2.0, "fan_in", "normal"),
    "init.he_uniform": (2.0, "fan_in", "uniform"),
    "init.lecun_normal": (1.0, "fan_in", "normal"),
    "init.lecun_uniform": (1.0, "fan_in", "uniform"),
}


def rule_distribution(rule: str, layer: Layer, distribution: str | None = None) -> InitDistribution:
    """The distribution of ``rule`` (an ``init.*`` rule id) for ``layer``; ``distribution``
    overrides a normal rule's shape (``normal`` or ``truncated_normal``)."""
    scale, mode, shape = RULES[check_choice("rule", rule, tuple(RULES))]
    if shape == "normal" and distribution is not None:
        shape = _normal_form(distribution)
    return _distribution_of(shape, scale / layer.fan(mode))


_DISTRIBUTION_AXIS = VariantAxis("distribution", (
    VariantOption("normal", "plain normal N(0, sigma^2)", r"w \sim \mathcal N(0, \sigma^2)",
                  ("Vitay", "Zheng", "torch.nn.init")),
    VariantOption("truncated_normal",
                  "normal truncated at 2 of its standard deviations, stddev divided by "
                  "0.8796 so that the variance stays sigma^2",
                  r"w \sim \mathcal N(0, (\sigma/0.87962566)^2)\ \text{truncated to}\ \pm 2\sigma/0.87962566",
                  ("keras.initializers", "jax.nn.initializers")),
))

_NORMAL_NOTE = (
    " A normal truncated at 2 sigma *without* the 1/0.8796 correction (TensorFlow 1's "
    "tf.truncated_normal(stddev=sigma)) has variance 0.774 sigma^2: it is not this rule and is "
    "reported as diverges, not as a variant."
)


def _rule_model(rule: str) -> InitializerModel:
    normal_rule = RULES[rule][2] == "normal"

    def dist(o: Mapping[str, str], layer: Layer, choice: str | None) -> InitDistribution:
        return rule_distribution(rule, layer, o["distribution"] if normal_rule else None)

    return InitializerModel("kernel", dist)


def _register_rule(
    rule: str, title: str, formula: str, citations: tuple[Any, ...], notes: str = ""
) -> None:
    normal_rule = RULES[rule][2] == "normal"
    register(SpecEntry(
        id=rule, title=title, tier="core", kind="init",
        formula=formula,
        citations=citations,
        variant_axes=(_DISTRIBUTION_AXIS,) if normal_rule else (),
        notes=notes + (_NORMAL_NOTE if normal_rule else ""),
        model=_rule_model(rule),
    ))


# ---------------------------------------------------------------------------------------------
# init.glorot_uniform


def glorot_uniform(*, layout: str = "channels_last") -> Initializer:
    r"""Glorot (Xavier) uniform, ``init.glorot_uniform``.

    Symbols: $r$ the bound, fan_in/fan_out of the kernel in ``layout`` (:func:`fans`).

    .. math:: w \sim U(-r, r),\quad r = \sqrt{\frac{6}{\text{fan}_\text{in} + \text{fan}_\text{out}}}
              = \sqrt{\frac{3}{\text{fan}_\text{avg}}}

    Vitay, *Neurocomputing* ("Weight initialization"); Zheng, *CS286 Lecture 6* ("Glorot and He
    initialization"); Glorot & Bengio (2010).
    """
    return variance_scaling(1.0, "fan_avg", "uniform", layout=layout)


_register_rule(
    "init.glorot_uniform",
    "Glorot (Xavier) uniform initialisation",
    r"w \sim U(-r, r),\ r = \sqrt{6/(\text{fan}_\text{in} + \text{fan}_\text{out})} = \sqrt{3/\text{fan}_\text{avg}}",
    (
        C.at(C.VITAY, "Weight initialization (Xavier)"),
        C.at(C.ZHENG, "Glorot and He initialization"),
        C.GLOROT_BENGIO,
    ),
)


# ---------------------------------------------------------------------------------------------
# init.glorot_normal


def glorot_normal(*, distribution: str = "normal", layout: str = "channels_last") -> Initializer:
    r"""Glorot (Xavier) normal, ``init.glorot_normal``.

    .. math:: \operatorname{Var}(w) = \sigma^2 = \frac{1}{\text{fan}_\text{avg}}
              = \frac{2}{\text{fan}_\text{in} + \text{fan}_\text{out}}

    Zheng, *CS286 Lecture 6*; Glorot & Bengio (2010).

    .. warning:: ``distribution``: PyTorch's ``xavier_normal_`` draws a plain ``normal``; Keras's
       ``GlorotNormal`` and ``jax.nn.initializers.glorot_normal`` a ``truncated_normal`` (with the
       variance correction). Both have variance $\sigma^2$.
    """
    return variance_scaling(1.0, "fan_avg", _normal_form(distribution), layout=layout)


_register_rule(
    "init.glorot_normal",
    "Glorot (Xavier) normal initialisation",
    r"w \sim \mathcal N(0, \sigma^2),\ \sigma^2 = 1/\text{fan}_\text{avg} = 2/(\text{fan}_\text{in} + \text{fan}_\text{out})",
    (C.at(C.ZHENG, "Glorot and He initialization"), C.GLOROT_BENGIO),
    "PyTorch draws a plain normal; Keras and JAX a truncated normal with the variance correction.",
)


# ---------------------------------------------------------------------------------------------
# init.he_normal


def he_normal(*, distribution: str = "normal", layout: str = "channels_last") -> Initializer:
    r"""He (Kaiming) normal, ``init.he_normal``.

    .. math:: \operatorname{Var}(w) = \sigma^2 = \frac{2}{\text{fan}_\text{in}}

    Vitay, *Neurocomputing* (writes the standard deviation: $\mathcal N(0, \sqrt{2/N_\text{in}})$);
    Zheng, *CS286 Lecture 6*; He et al. (2015).

    .. warning:: PyTorch's ``kaiming_normal_`` is a plain ``normal``; Keras's ``HeNormal`` and
       ``jax.nn.initializers.he_normal`` are ``truncated_normal`` with the variance correction.
    """
    return variance_scaling(2.0, "fan_in", _normal_form(distribution), layout=layout)


_register_rule(
    "init.he_normal",
    "He (Kaiming) normal initialisation",
    r"w \sim \mathcal N(0, \sigma^2),\ \sigma^2 = 2/\text{fan}_\text{in}",
    (
        C.at(C.VITAY, "Weight initialization (He)"),
        C.at(C.ZHENG, "Initialization for different activation functions"),
        C.HE,
    ),
    "Vitay writes the standard deviation as the second argument: N(0, sqrt(2/N_in)). "
    "PyTorch draws a plain normal; Keras and JAX a truncated normal with the variance correction. "
    "Printed forms that differ are recorded under init.errata.",
)


# ---------------------------------------------------------------------------------------------
# init.he_uniform


def he_uniform(*, layout: str = "channels_last") -> Initializer:
    r"""He (Kaiming) uniform, ``init.he_uniform``.

    .. math:: w \sim U(-r, r),\quad r = \sqrt{\frac{6}{\text{fan}_\text{in}}}

    Zheng, *CS286 Lecture 6* (the uniform form of the rule: $r = \sqrt{3\sigma^2}$); He et al. (2015).
    """
    return variance_scaling(2.0, "fan_in", "uniform", layout=layout)


_register_rule(
    "init.he_uniform",
    "He (Kaiming) uniform initialisation",
    r"w \sim U(-r, r),\ r = \sqrt{6/\text{fan}_\text{in}}",
    (C.at(C.ZHENG, "Initialization for different activation functions"), C.HE),
)


# ---------------------------------------------------------------------------------------------
# init.lecun_normal


def lecun_normal(*, distribution: str = "normal", layout: str = "channels_last") -> Initializer:
    r"""LeCun normal, ``init.lecun_normal``.

    .. math:: \operatorname{Var}(w) = \sigma^2 = \frac{1}{\text{fan}_\text{in}}

    Zheng, *CS286 Lecture 6* (LeCun for SELU); Solberg, *INF 5860 Lecture 9* ("Weight
    initialization": $\operatorname{Var}(w_i) = 1/n$, which it calls Xavier); LeCun et al. (1998).

    .. warning:: PyTorch has no LeCun initialiser by name; ``kaiming_normal_(nonlinearity='linear')``
       (gain 1) is this rule with a plain ``normal``. Keras and JAX use ``truncated_normal``.
    """
    return variance_scaling(1.0, "fan_in", _normal_form(distribution), layout=layout)


_register_rule(
    "init.lecun_normal",
    "LeCun normal initialisation",
    r"w \sim \mathcal N(0, \sigma^2),\ \sigma^2 = 1/\text{fan}_\text{in}",
    (
        C.at(C.ZHENG, "Glorot and He initialization (LeCun, SELU)"),
        C.at(C.SOLBERG, "Weight initialization (Var(w) = 1/n, called Xavier there)"),
        C.LECUN_EFFICIENT_BACKPROP,
    ),
    "Solberg calls Var(w) = 1/n 'Xavier initialization'; Zheng pairs LeCun with SELU. PyTorch has no "
    "LeCun initialiser by name: kaiming_normal_(nonlinearity='linear') (gain 1) is this rule.",
)


# ---------------------------------------------------------------------------------------------
# init.lecun_uniform


def lecun_uniform(*, layout: str = "channels_last") -> Initializer:
    r"""LeCun uniform, ``init.lecun_uniform``.

    .. math:: w \sim U(-r, r),\quad r = \sqrt{\frac{3}{\text{fan}_\text{in}}}

    Zheng, *CS286 Lecture 6*; LeCun et al. (1998).
    """
    return variance_scaling(1.0, "fan_in", "uniform", layout=layout)


_register_rule(
    "init.lecun_uniform",
    "LeCun uniform initialisation",
    r"w \sim U(-r, r),\ r = \sqrt{3/\text{fan}_\text{in}}",
    (C.at(C.ZHENG, "Glorot and He initialization (LeCun)"), C.LECUN_EFFICIENT_BACKPROP),
    "PyTorch: kaiming_uniform_(nonlinearity='linear') (gain 1) is this rule.",
)


# ---------------------------------------------------------------------------------------------
# init.fans


_FANS = r"\text{fan}_\text{in} = i\prod k,\ \text{fan}_\text{out} = o\prod k"


def _fans_distribution(o: Mapping[str, str], layer: Layer, choice: str | None) -> InitDistribution:
    # the uniform variance-scaling initialiser with scale 1: bound sqrt(3 / fan_mode), whose
    # support reveals the fan the framework computed
    return uniform(1.0 / layer.fan(check_choice("mode", choice, MODES)))


register(SpecEntry(
    id="init.fans", title="Fans of dense and convolution kernels in each framework's layout",
    tier="core", kind="init",
    formula=_FANS
    + r";\quad \text{torch } (o, i, k_1, \dots),\ \text{Keras/flax } (k_1, \dots, i, o)",
    citations=(
        C.at(C.ZHENG, "Glorot and He initialization (fan_in, fan_out)"),
        C.GLOROT_BENGIO,
        C.HE,
    ),
    notes="Layouts differ: PyTorch (out, in, *k) and dense (out, in); Keras and flax (*k, in, out) and "
    "dense (in, out). The frameworks' fan functions are private, so the kit measures the fan through "
    "the uniform variance-scaling initialiser U(-r, r), r = sqrt(3/fan_mode): no value may exceed r "
    "and the sample maximum must reach it (exact tests), which pins the fan.",
    model=InitializerModel("kernel", _fans_distribution, modes=("fan_in", "fan_out")),
))


# ---------------------------------------------------------------------------------------------
# init.bias


def zeros() -> Initializer:
    r"""Biases at zero, ``init.bias``: $b = 0$ (Vitay; Solberg, "Bias initialization").

    The entry also cites Goodfellow et al. (2016).
    """

    def sample(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
        check_rng(rng)
        return np.zeros(_check_shape("shape", shape))

    return Initializer(lambda shape: point_mass(), sample)


def _bias_distribution(o: Mapping[str, str], layer: Layer, choice: str | None) -> InitDistribution:
    if o["bias"] == "zeros":
        return point_mass()
    return uniform(1.0 / (3.0 * layer.fan_in))  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))


register(SpecEntry(
    id="init.bias", title="Biases start at zero", tier="doc", kind="init",
    formula=r"b = 0",
    citations=(
        C.at(
            C.VITAY, "Weight initialization (when using BN, the bias can be initialized to 0)"
        ),
        C.at(C.SOLBERG, "Bias initialization"),
        C.at(C.GOODFELLOW, "§8.4 (biases set to zero)"),
    ),
    variant_axes=(
        VariantAxis("bias", (
            VariantOption("zeros", "every bias exactly 0", r"b = 0",
                          ("Vitay", "Solberg", "keras.layers.Dense", "flax.linen.Dense")),
            VariantOption("uniform_fan_in",
                          "uniform in +-1/sqrt(fan_in) of the layer's kernel",
                          r"b \sim U(-1/\sqrt{\text{fan}_\text{in}}, 1/\sqrt{\text{fan}_\text{in}})",
                          ("torch.nn.Linear / Conv default reset_parameters",)),
        )),
    ),
    notes="PyTorch's layers do not start their bias at zero by default: nn.Linear and nn.ConvNd draw "
    "it from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); torch.nn.init.zeros_ sets it to zero.",
    model=InitializerModel("bias", _bias_distribution),
))


# ---------------------------------------------------------------------------------------------
# init.variance_rule


def variance_rule(n: int, weight_variance: float, input_variance: float) -> float:
    r"""Solberg's variance rule, ``init.variance_rule``.

    Symbols: $n$ = ``n`` (the fan-in), $\operatorname{Var}(w)$ = ``weight_variance``,
    $\operatorname{Var}(x)$ = ``input_variance``; $z = \sum_{i=1}^n w_i x_i$ with independent,
    zero-mean terms.

    .. math:: \operatorname{Var}(z) = n \operatorname{Var}(w) \operatorname{Var}(x)

    Solberg, *INF 5860 Lecture 9* ("Weight initialization"); Glorot & Bengio (2010).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n={n!r}: must be an integer >= 1 (the number of inputs)")
    vw = check_number("weight_variance", weight_variance, low=0.0)
    vx = check_number("input_variance", input_variance, low=0.0)
    return n * vw * vx


def dense_output_moments(x: Any, weights: InitDistribution) -> tuple[float, float]:
    r"""$(E[z^2], E[z^4])$ of $z = \sum_i w_i x_i$ for a *fixed* input $x$ and i.i.d. weights.

    .. math::
        E[z^2] = \sigma^2 \sum_i x_i^2, \qquad
        E[z^4] = 3\sigma^4 \Big(\sum_i x_i^2\Big)^2 + (\mu_4 - 3\sigma^4) \sum_i x_i^4

    With $\sum_i x_i^2 = n \operatorname{Var}(x)$ (an input of empirical variance
    $\operatorname{Var}(x)$ and mean 0), $E[z^2]$ is :func:`variance_rule`; the outputs of a dense
    layer are i.i.d. given $x$, so these two moments test the rule through a layer.
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size < 1 or not np.all(np.isfinite(a)):
        raise ValueError("x: must hold at least one finite value")
    s2, m4 = weights.variance, weights.fourth_moment
    q2 = float(np.sum(a * a))
    q4 = float(np.sum(a**4))
    return s2 * q2, 3.0 * s2 * s2 * q2 * q2 + (m4 - 3.0 * s2 * s2) * q4


# ---------------------------------------------------------------------------------------------


def _variance_rule_distribution(
    o: Mapping[str, str], layer: Layer, choice: str | None
) -> InitDistribution:
    # the weights' distribution; ``choice`` is the rule the case initialises the layer with. A
    # normal rule is taken as the plain normal: only its variance enters E[z^2], and its fourth
    # moment (3 sigma^4) is the largest of the two shapes, so the test of z^2 is conservative for
    # the truncated one.
    return rule_distribution(check_choice("rule", choice, tuple(RULES)), layer, "normal")


register(SpecEntry(
    id="init.variance_rule", title="The variance rule Var(z) = n Var(w) Var(x)", tier="core",
    kind="init",
    formula=r"z = \sum_{i=1}^n w_i x_i:\quad \operatorname{Var}(z) = n\operatorname{Var}(w)\operatorname{Var}(x)",
    citations=(C.at(C.SOLBERG, "Weight initialization"), C.GLOROT_BENGIO),
    notes="Checked through a layer: a dense layer without bias, its kernel initialised by the framework "
    "with one of the six rules, applied to one input x of mean 0 and empirical variance Var(x); its "
    "outputs are i.i.d. given x with E[z^2] = n Var(w) Var(x) and a known fourth moment "
    "(dense_output_moments). Only the variance of w enters, so plain and truncated normals agree.",
    model=InitializerModel(
        "layer_output",
        _variance_rule_distribution,
        # He first: the example Hypothesis shrinks towards uses a fan-in rule
        rules=(
            "init.he_normal",
            "init.he_uniform",
            "init.lecun_normal",
            "init.lecun_uniform",
            "init.glorot_normal",
            "init.glorot_uniform",
        ),
    ),
))


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# init.errata


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def _solberg_check() -> ErratumEvidence:
    n = 100  # the witness fan-in
    he = he_normal().distribution((n, 1))  # N(0, 2/n): He's rule for ReLU
    printed = (0.5 * math.sqrt(n / 2.0), (n / 2.0) / 12.0)  # rand(n)/sqrt(2/n) ~ U(0, sqrt(n/2))
    corrected = normal(2.0 / n)  # randn(n) * sqrt(2/n)
    # sampled evidence with a fixed generator, on top of the exact moments
    rng = np.random.default_rng(2017)
    w = rng.random(200_000) / math.sqrt(2.0 / n)
    err_printed = max(_relative(printed[1], he.variance), abs(printed[0]) / he.stddev)
    return ErratumEvidence(
        printed_error=err_printed,
        corrected_error=_relative(corrected.variance, he.variance),
        detail=f"n = {n}: the printed rand(n)/sqrt(2/n) is U(0, sqrt(n/2)) with mean "
        f"{printed[0]:.4g} and variance n/24 = {printed[1]:.4g} (sampled: mean {np.mean(w):.4g}, "
        f"variance {np.var(w):.4g}); He's rule for ReLU is N(0, 2/n), variance {he.variance:.4g}: "
        "randn(n)*sqrt(2/n)",
    )


def _zheng_check() -> ErratumEvidence:
    n_inputs = 28 * 28  # the notes' MNIST input layer
    he = he_normal().distribution((n_inputs, 300))
    printed = truncated_normal((2.0 / math.sqrt(n_inputs)) ** 2, corrected=False)
    corrected = truncated_normal(2.0 / n_inputs, corrected=True)
    return ErratumEvidence(
        printed_error=_relative(printed.variance, he.variance),
        corrected_error=_relative(corrected.variance, he.variance),
        detail=f"n_inputs = 784: tf.truncated_normal(stddev=2/sqrt(n)) has variance 4/n * 0.774 = "
        f"{printed.variance:.4g} (4/n = {4 / n_inputs:.4g} before the truncation); He's rule, which the "
        f"notes' table gives for ReLU, is 2/n = {he.variance:.4g}: stddev sqrt(2/n), divided by 0.8796 "
        "when truncated",
    )


def _padilla_montani_check() -> ErratumEvidence:
    fan_in, fan_out = 784, 300  # a witness dense layer (MNIST inputs, 300 hidden units)
    he = he_normal().distribution((fan_in, fan_out))
    printed = variance_scaling(1.0, "fan_avg", "truncated_normal").distribution((fan_in, fan_out))
    printed_scale2 = variance_scaling(2.0, "fan_avg", "truncated_normal").distribution(
        (fan_in, fan_out)
    )
    corrected = variance_scaling(2.0, "fan_in", "truncated_normal").distribution((fan_in, fan_out))
    return ErratumEvidence(
        printed_error=min(
            _relative(printed.variance, he.variance),
            _relative(printed_scale2.variance, he.variance),
        ),
        corrected_error=_relative(corrected.variance, he.variance),
        detail=f"fan_in = {fan_in}, fan_out = {fan_out}: variance_scaling(mode=fan_avg) has variance "
        f"scale/fan_avg = {printed.variance:.4g} (scale 1, the default) or {printed_scale2.variance:.4g} "
        f"(scale 2); He is 2/fan_in = {he.variance:.4g} (mode fan_in, scale 2). fan_avg equals fan_in "
        "only when fan_out = fan_in. Keras 3's VarianceScaling also rejects the upper-case mode 'FAN_AVG'",
    )


INIT_ERRATA = (
    Erratum(
        source=C.at(C.SOLBERG, "Weight initialization"),
        printed="Glorot et al. propose to use: w = np.random.rand(n)/sqrt(2/n) for ReLU because of "
        "the max-operation that will alter the distribution.",
        correct=r"w = \text{np.random.randn}(n)\cdot\text{sqrt}(2/n)\ \text{(He et al. 2015)}: w \sim \mathcal N(0, 2/n)",
        explanation="rand draws U(0, 1), not N(0, 1), and dividing by sqrt(2/n) multiplies by sqrt(n/2): the "
        "printed weights have mean sqrt(n/8) and variance n/24 instead of mean 0 and variance 2/n. The ReLU "
        "rule is He et al.'s (2015), not Glorot & Bengio's (2010).",
        check=_solberg_check,
    ),
    Erratum(
        source=C.at(C.ZHENG, "Construction phase (neuron_layer)"),
        printed="stddev = 2 / np.sqrt(n_inputs)\n"
        "init = tf.truncated_normal((n_inputs, n_neurons), stddev=stddev)",
        correct=r"\text{stddev} = \sqrt{2/n_\text{inputs}}\ (\sigma^2 = 2/\text{fan}_\text{in},\ \text{the notes' He rule for ReLU})",
        explanation="2/sqrt(n) is the standard deviation of variance 4/n, twice He's 2/n; "
        "tf.truncated_normal then cuts at 2 stddev without correction, leaving 0.774 * 4/n = 3.09/n.",
        check=_zheng_check,
    ),
    Erratum(
        source=C.at(C.PADILLA_MONTANI, "Xavier/Glorot and He Initialization"),
        printed='he_init = tf.variance_scaling_initializer(mode = "FAN_AVG")',
        correct=r"\text{He: variance\_scaling}(\text{scale}=2, \text{mode}=\text{fan\_in}):\ \sigma^2 = 2/\text{fan}_\text{in}",
        explanation="A fan-avg variance-scaling initialiser is Glorot's rule (variance scale/fan_avg), not He's "
        "(2/fan_in): the two agree only for scale 2 and fan_out = fan_in.",
        check=_padilla_montani_check,
    ),
)

register(SpecEntry(
    id="init.errata", title="Printed initialisation formulas that differ from the rule they name",
    tier="doc", kind="reference",
    formula=r"\text{He: } w \sim \mathcal N(0, 2/\text{fan}_\text{in});\ "
    r"\text{Glorot: } \operatorname{Var}(w) = 2/(\text{fan}_\text{in} + \text{fan}_\text{out})",
    citations=(
        C.at(C.SOLBERG, "Weight initialization"),
        C.at(C.ZHENG, "Construction phase"),
        C.at(C.PADILLA_MONTANI, "Xavier/Glorot and He Initialization"),
        C.HE,
        C.GLOROT_BENGIO,
    ),
    errata=INIT_ERRATA,
    notes="Each erratum's check compares the printed initialiser's exact moments with the rule it names.",
))
