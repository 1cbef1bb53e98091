r"""Activation functions: values and derivatives, with every convention at the kinks named.

Each activation is a factory that checks its hyperparameters and options and returns an
:class:`Activation`: three pure functions ``value(z)``, ``derivative(z)`` (elementwise
$f'(z)$; ``None`` for the softmax, whose Jacobian is not diagonal) and ``vjp(z, g)`` (the
vector-Jacobian product a framework's autodiff computes: a dict with the cotangent of ``z``, and
of ``alpha`` for the parametric ReLU).

Conventions that frameworks split on are explicit options, reported as named variants:

* ``derivative_at_zero``: the piecewise-linear functions are not differentiable at 0; autodiff
  returns the slope of whichever branch the framework's comparison selects there;
* ``negative_branch``: Zheng writes ELU's exponential branch for $z < 0$, Padilla Montani for
  $z \le 0$. The *values* agree everywhere (both branches are 0 at 0), the *derivatives* at 0 do
  not when $\alpha \ne 1$: $1$ against $\alpha$ (:func:`elu`);
* ``form`` of the step function: Heaviside with $H(0) = 1$ (Zheng), the perceptron step with
  $0$ at $0$ (*Neural network architectures*), and $\operatorname{sgn}$ with $\operatorname{sgn}(0) = 0$;
  ``nan_value``: what the step gives a NaN (NaN, 0, or its value at 0);
* ``evaluation`` of ELU and SELU: $\operatorname{expm1}(z)$ or $e^z - 1$ as printed (which
  cancels for small $|z|$);
* kit-level axes, applied by the activation kind: ``subnormals`` (``flushed``: a subnormal input
  may be read as 0, see :func:`flush_subnormals`) and ``nan_derivative`` (``any``: the
  derivative at a NaN input is not required to be NaN).

Non-finite inputs follow IEEE-754: a NaN input gives a NaN value and a NaN derivative; the
infinities give the limits ($\sigma(\pm\infty) \in \{0, 1\}$, $\mathrm{ELU}(-\infty) = -\alpha$).

The formulas use only the operations the tolerance policy tracks
(:mod:`trainspec.conformance.tolerance`): ``np.exp``, ``np.expm1``, ``np.tanh``, ``np.where``,
``np.maximum``, ``np.max``, ``np.sum`` and the arithmetic operators. They branch only on the
input (exact). Where frameworks evaluate a derivative from the saved *output* (TensorFlow's ELU
gradient is $y + \alpha$ for $y = \alpha(e^z - 1)$, the logistic's is $y(1 - y)$), the
reference uses that order too or names both with :func:`~trainspec.reference.base.either_order`,
so that the tolerance bounds the rounding of each.

The module is laid out in cards: what the IDs share (the elementwise machinery, the subnormals,
the model the kit drives, the shared axes and citations), then ``act.step`` ... ``act.softmax``,
each function followed by the hyperparameters only it uses and its entry
(the framework defaults the notes state, ``act.defaults``, are in :mod:`~trainspec.reference.defaults`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number, either_order
from trainspec.reference.registry import (
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "Activation",
    "ActivationModel",
    "RReLUSample",
    "elu",
    "flush_subnormals",
    "leaky_relu",
    "logistic",
    "prelu",
    "relu",
    "rrelu",
    "rrelu_training",
    "selu",
    "sigmoid",
    "softmax",
    "step",
    "tanh",
    "tanh_from_sigmoid",
]

#: Klambauer et al. (2017), eq. (14): the fixed point $(\mu, \nu) = (0, 1)$ of the SELU map.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946

STEP_FORMS = ("heaviside", "perceptron", "sgn")
STEP_NAN_VALUES = ("nan", "zero", "value_at_zero")
NEGATIVE_BRANCHES = ("z_lt_0", "z_le_0")
ELU_EVALUATIONS = ("expm1", "exp_minus_one")


class Activation(NamedTuple):
    """The pure functions of one activation (see the module docstring)."""

    value: Callable[[Any], Any]
    derivative: Callable[[Any], Any] | None
    vjp: Callable[[Any, Any], dict[str, Any]]
    elementwise: bool = True


def _check_z(name: str, z: Any) -> Any:
    """``z`` must be a real floating-point array (or the kit's tracked array)."""
    dtype = getattr(z, "dtype", None)
    if dtype is None or not hasattr(z, "shape"):
        raise TypeError(f"{name}: must be an array, got {type(z).__name__}")
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{name}: must have a real floating-point dtype, got {dtype}")
    return z


def _elementwise(value: Callable[[Any], Any], derivative: Callable[[Any], Any]) -> Activation:
    def checked_value(z: Any) -> Any:
        _check_z("z", z)
        with np.errstate(over="ignore", invalid="ignore"):
            return value(z)

    def checked_derivative(z: Any) -> Any:
        _check_z("z", z)
        with np.errstate(over="ignore", invalid="ignore"):
            return derivative(z)

    def vjp(z: Any, g: Any) -> dict[str, Any]:
        _check_z("z", z)
        _check_z("g", g)
        if tuple(np.shape(g)) != tuple(np.shape(z)):
            raise ValueError(f"g: shape {np.shape(g)} must equal the shape of z, {np.shape(z)}")
        with np.errstate(over="ignore", invalid="ignore"):
            return {"z": g * checked_derivative(z)}

    return Activation(checked_value, checked_derivative, vjp)


def _nan_propagating(z: Any, d: Any) -> Any:
    """``d`` where ``z`` is a number, NaN where ``z`` is NaN."""
    return np.where(np.isnan(z), z, d)


def _piecewise_derivative(z: Any, positive: Any, negative: Any, at_zero: Any) -> Any:
    r"""$f'(z)$ = ``positive`` for $z > 0$, ``negative`` for $z < 0$, ``at_zero`` at $\pm 0$."""
    return _nan_propagating(z, np.where(z > 0, positive, np.where(z < 0, negative, at_zero)))


# ---------------------------------------------------------------------------------------------


RELU_AT_ZERO = ("zero", "one")
SLOPE_AT_ZERO = ("alpha", "one", "zero")


def _slope_at_zero(option: str, alpha: Any) -> Any:
    o = check_choice("derivative_at_zero", option, SLOPE_AT_ZERO)
    return {"alpha": alpha, "one": 1.0, "zero": 0.0}[o]


def _leaky_value(z: Any, alpha: Any) -> Any:
    return np.where(z > 0, z, alpha * z)


def _elu_parts(
    alpha: Any, negative_branch: str, evaluation: str
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    branch = check_choice("negative_branch", negative_branch, NEGATIVE_BRANCHES)
    how = check_choice("evaluation", evaluation, ELU_EVALUATIONS)

    def value(z: Any) -> Any:
        negative = alpha * np.expm1(z) if how == "expm1" else alpha * (np.exp(z) - 1.0)
        if branch == "z_lt_0":
            return np.where(z < 0, negative, z)
        return np.where(z <= 0, negative, z)

    def derivative(z: Any) -> Any:
        # alpha*e^z, or from the output y = alpha*(e^z - 1) as y + alpha (TensorFlow's EluGrad)
        negative = either_order(alpha * np.exp(z), alpha * np.expm1(z) + alpha)
        at_zero = 1.0 if branch == "z_lt_0" else alpha
        return _piecewise_derivative(z, 1.0, negative, at_zero)

    return value, derivative


# ---------------------------------------------------------------------------------------------
# subnormals and what the cards share


def flush_subnormals(x: Any, smallest_normal: float) -> Any:
    r"""$x$ with every magnitude below ``smallest_normal`` replaced by a zero of the same sign:
    what a processor in flush-to-zero / denormals-are-zero mode (FTZ/DAZ) does to inputs and
    results. Used by the ``subnormals="flushed"`` variant of every ``act.*`` entry."""
    return np.where(abs(x) < smallest_normal, 0.0 * x, x)


@dataclass(frozen=True)
class ActivationModel:
    r"""What the kit needs of an activation spec.

    ``build(options, hyperparameters)`` returns the :class:`Activation` of one variant (the
    options of the entry's axes that are not kit-level: ``subnormals`` and ``nan_derivative``
    are applied by the kind). ``extra_cotangents`` names the parameters ``vjp`` also returns
    (``("alpha",)`` for PReLU). ``allow_nan`` and ``allow_posinf`` say whether NaN and $+\infty$
    inputs are drawn (not for the softmax, whose row result the frameworks define differently).
    ``identity_branch``: the positive side is the identity, chosen by a comparison; in
    denormals-are-zero mode a comparison reads a subnormal input as 0 while the selection passes
    the input through, so ``subnormals="flushed"`` also accepts $f(z) = z$ there.
    """

    build: Callable[[Mapping[str, str], Mapping[str, Any]], Activation]
    extra_cotangents: tuple[str, ...] = ()
    allow_nan: bool = True
    allow_posinf: bool = True
    training: Callable[..., RReLUSample] | None = None
    identity_branch: bool = False


def _opt(name: str, description: str, formula: str, stated_by: tuple[str, ...]) -> VariantOption:
    return VariantOption(name, description, formula, stated_by)


SUBNORMALS = VariantAxis("subnormals", (
    _opt(
        "kept",
        "subnormal inputs are numbers (a comparison sees -1e-40 < 0); a result below the "
        "normal range is bounded by the tolerance policy's flush level",
        r"f(z) \text{ for every finite } z",
        ("IEEE-754",),
    ),
    _opt(
        "flushed",
        "subnormal inputs may be read as zero (denormals-are-zero), so that the branch at 0 "
        "applies to them, and results within a few smallest normals may be flushed (a "
        "subnormal power of two inside an elementary function)",
        r"f(\mathrm{ftz}(z)) \text{ or } \mathrm{ftz}(f(z))",
        ("TensorFlow and XLA on CPU (FTZ/DAZ)",),
    ),
))
NAN_DERIVATIVE = VariantAxis("nan_derivative", (
    _opt(
        "nan",
        "a NaN input gives a NaN derivative",
        r"f'(\mathrm{NaN}) = \mathrm{NaN}",
        ("IEEE-754",),
    ),
    _opt(
        "any",
        "the derivative at a NaN input is not propagated: the branch that the framework's "
        "comparison selects gives its slope (the value is still NaN)",
        r"f'(\mathrm{NaN}) \in \text{branch slopes}",
        ("PyTorch and TensorFlow rectifiers",),
    ),
))


def _at_zero_axis(options: tuple[str, ...], stated: Mapping[str, tuple[str, ...]]) -> VariantAxis:
    values = {"zero": "0", "one": "1", "alpha": r"\alpha"}
    return VariantAxis(
        "derivative_at_zero",
        tuple(
            _opt(o, f"autodiff returns {values[o]} at z = 0", f"f'(0) = {values[o]}", stated[o])
            for o in options
        ),
    )


EVALUATION = VariantAxis("evaluation", (
    _opt(
        "expm1",
        "the exponential branch evaluated with expm1: accurate for small |z|",
        r"\alpha\,\operatorname{expm1}(z)",
        ("PyTorch", "JAX"),
    ),
    _opt(
        "exp_minus_one",
        "the exponential branch evaluated as printed, e^z - 1: cancels for small |z| "
        "(an absolute error of order u)",
        r"\alpha\,(e^z - 1)",
        ("Zheng", "Padilla Montani", "TensorFlow Elu/Selu kernels"),
    ),
))


def _branch_axis(scale: str) -> VariantAxis:
    return VariantAxis("negative_branch", (
        _opt(
            "z_lt_0",
            f"the exponential branch for z < 0: f'(0) = {scale or '1'}",
            r"\alpha(e^z - 1) \text{ if } z < 0",
            ("Zheng", "TensorFlow tf.nn.elu, tf.nn.selu"),
        ),
        _opt(
            "z_le_0",
            f"the exponential branch for z <= 0: f'(0) = {scale}alpha",
            r"\alpha(e^z - 1) \text{ if } z \le 0",
            ("Padilla Montani", "PyTorch", "JAX"),
        ),
    ))


_ZHENG_ACT = C.at(C.ZHENG, "New activation functions")
_ZHENG_NONSAT = C.at(C.ZHENG, "Nonsaturating activation function")
_ZHENG_STEP = C.at(C.ZHENG, "Linear threshold unit (LTU); Common step functions")
_PM_NONSAT = C.at(C.PADILLA_MONTANI, "Nonsaturating Activation Functions")
_VITAY_CHOICE = C.at(C.VITAY, "Choice of the activation function")
_ARCH_PERCEPTRON = C.at(
    C.ARCHITECTURES, "Deep neural networks (the perceptron, activation with threshold)"
)
_ARCH_ACT = C.at(C.ARCHITECTURES, "Deep neural networks: activation")
_SOLBERG_LOSS = C.at(C.SOLBERG, "The feedforward net problem (loss: softmax)")

_PIECEWISE = (SUBNORMALS, NAN_DERIVATIVE)


def _slope_options(o: Mapping[str, str]) -> str:
    return o.get("derivative_at_zero", "alpha")


_SLOPE_STATED = {
    "alpha": ("Vitay: f'(x) = alpha if x <= 0", "PyTorch", "TensorFlow"),
    "one": ("JAX jax.nn.leaky_relu, flax PReLU (x >= 0)",),
    "zero": ("Keras PReLU: relu(x) - alpha*relu(-x)",),
}


# ---------------------------------------------------------------------------------------------
# act.step


def step(form: str = "heaviside", nan_value: str = "nan") -> Activation:
    r"""The step functions of the linear threshold unit and the perceptron, ``act.step``.

    Symbols: $z$ = ``z``.

    .. math::
        \text{heaviside}(z) = \begin{cases} 0 & z < 0 \\ 1 & z \ge 0 \end{cases}\qquad
        \text{perceptron}(z) = \begin{cases} 0 & z \le 0 \\ 1 & z > 0 \end{cases}\qquad
        \operatorname{sgn}(z) = \begin{cases} -1 & z < 0 \\ 0 & z = 0 \\ 1 & z > 0 \end{cases}

    Heaviside and sgn: Zheng, *CS286 Lecture 6*, "Common step functions"; the perceptron step:
    *Neural network architectures, part one*, "Perceptron" (where it is written $\sigma$).

    The entry also cites Rosenblatt (1958).

    .. warning:: The value at 0 is the difference between the forms: ``torch.heaviside`` and
       ``jnp.heaviside`` take it as an argument. The derivative is 0 wherever it exists; at 0 it
       does not (the notes replace the step by the logistic "for backpropagation to work"), and
       the spec takes the 0 that autodiff returns. ``nan_value``: a NaN input gives NaN
       (``"nan"``, IEEE-754, NumPy, JAX, TensorFlow), 0 (``"zero"``: every comparison is
       false; ``torch.heaviside``, ``torch.sign``) or the value at 0 (``"value_at_zero"``:
       neither $z < 0$ nor $z > 0$ holds; ``keras.ops.heaviside``).
    """
    f = check_choice("form", form, STEP_FORMS)
    at_nan = check_choice("nan_value", nan_value, STEP_NAN_VALUES)

    def value(z: Any) -> Any:
        if f == "sgn":
            y = np.sign(z)
        else:
            at_zero = 1.0 if f == "heaviside" else 0.0
            y = np.where(z > 0, 1.0, np.where(z < 0, 0.0, at_zero))
        if at_nan != "nan":
            fill = 0.0 if at_nan == "zero" or f == "sgn" else at_zero
            return np.where(np.isnan(z), fill, y)
        return _nan_propagating(z, y)

    def derivative(z: Any) -> Any:
        return _nan_propagating(z, np.zeros(np.shape(z)))

    return _elementwise(value, derivative)


# ---------------------------------------------------------------------------------------------


register(SpecEntry(
    id="act.step", title="Step functions: Heaviside, the perceptron step, sgn", tier="doc",
    kind="activations",
    formula=r"H(z) = [z \ge 0];\ \text{perceptron}(z) = [z > 0];\ \operatorname{sgn}(z) \in \{-1, 0, 1\}",
    citations=(_ZHENG_STEP, _ARCH_PERCEPTRON, C.ROSENBLATT),
    variant_axes=(
        VariantAxis("form", (
            _opt("heaviside", "0 for z < 0, 1 for z >= 0", r"[z \ge 0]", ("Zheng",)),
            _opt(
                "perceptron",
                "0 for z <= 0, 1 for z > 0",
                r"[z > 0]",
                ("Neural network architectures",),
            ),
            _opt(
                "sgn",
                "-1, 0, 1 with sgn(0) = 0",
                r"\operatorname{sgn}(z)",
                ("Zheng",),
            ),
        )),
        VariantAxis("nan_value", (
            _opt(
                "nan",
                "a NaN input gives NaN",
                r"H(\mathrm{NaN}) = \mathrm{NaN}",
                ("IEEE-754", "NumPy", "JAX", "TensorFlow"),
            ),
            _opt(
                "zero",
                "a NaN input gives 0 (every comparison is false)",
                r"H(\mathrm{NaN}) = 0",
                ("PyTorch",),
            ),
            _opt(
                "value_at_zero",
                "a NaN input gives the value at 0 (neither z < 0 nor z > 0 holds)",
                r"H(\mathrm{NaN}) = H(0)",
                ("keras.ops.heaviside",),
            ),
        )),
        *_PIECEWISE,
    ),
    notes="The value at 0 is the only difference between heaviside and the perceptron step. "
    "The derivative is 0 wherever it exists; torch.heaviside has no derivative at all.",
    model=ActivationModel(build=lambda o, hp: step(o["form"], o["nan_value"])),
))


# ---------------------------------------------------------------------------------------------
# act.sigmoid


def logistic(z: Any) -> Any:
    r"""$\sigma(z) = 1/(1 + e^{-z})$, evaluated as $e^{z}/(1 + e^{z})$ for $z < 0$ so that no
    exponential overflows (the naive form is exact for $z \ge 0$ only)."""
    _check_z("z", z)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))


def sigmoid() -> Activation:
    r"""The logistic function, ``act.sigmoid``.

    .. math::
        \sigma(z) = \frac{1}{1 + e^{-z}},\qquad \sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \le \tfrac14

    Zheng, *CS286 Lecture 6*, "New activation functions". Stable for large $|z|$: see
    :func:`logistic`. The derivative is written from the output, $y(1-y)$, as frameworks
    compute it: where $\sigma(z)$ rounds to 1 it is 0 to within the rounding of $1 - y$.

    The entry also cites Rumelhart et al. (1986); LeCun et al. (1998).
    """

    def derivative(z: Any) -> Any:
        s = logistic(z)
        return s * (1.0 - s)

    return _elementwise(logistic, derivative)


register(SpecEntry(
    id="act.sigmoid", title="Logistic sigmoid", tier="doc", kind="activations",
    formula=r"\sigma(z) = 1/(1 + e^{-z}),\quad \sigma' = \sigma(1 - \sigma) \le 1/4",
    citations=(_ZHENG_ACT, C.RUMELHART, C.LECUN_EFFICIENT_BACKPROP),
    variant_axes=(SUBNORMALS,),
    notes="Stable for large |z|: e^z/(1+e^z) for z < 0. A result below the normal range "
    "(z < -87.3 in float32) may come back as 0 when 1/(1+e^{-z}) overflows: subnormals=flushed.",
    model=ActivationModel(build=lambda o, hp: sigmoid()),
))


# ---------------------------------------------------------------------------------------------
# act.tanh


def tanh() -> Activation:
    r"""The hyperbolic tangent, ``act.tanh``.

    .. math::
        \tanh(z) = 2\sigma(2z) - 1,\qquad \tanh'(z) = 1 - \tanh^2(z)

    Zheng, *CS286 Lecture 6*, "New activation functions" (the identity with the logistic:
    :func:`tanh_from_sigmoid`, a property test). The derivative is written from the output, as
    frameworks compute it.

    The entry also cites LeCun et al. (1998).
    """

    def derivative(z: Any) -> Any:
        t = np.tanh(z)
        return 1.0 - t**2

    return _elementwise(np.tanh, derivative)


def tanh_from_sigmoid(z: Any) -> Any:
    r"""$2\sigma(2z) - 1$: Zheng's identity, equal to $\tanh(z)$ (checked by the reference's tests)."""
    return 2.0 * logistic(2.0 * z) - 1.0


# ---------------------------------------------------------------------------------------------


register(SpecEntry(
    id="act.tanh", title="Hyperbolic tangent", tier="doc", kind="activations",
    formula=r"\tanh(z) = 2\sigma(2z) - 1,\quad \tanh' = 1 - \tanh^2",
    citations=(_ZHENG_ACT, C.LECUN_EFFICIENT_BACKPROP),
    variant_axes=(SUBNORMALS,),
    notes="The identity tanh(z) = 2 sigma(2z) - 1 is a property test of the reference.",
    model=ActivationModel(build=lambda o, hp: tanh()),
))


# ---------------------------------------------------------------------------------------------
# act.relu


def relu(derivative_at_zero: str = "zero") -> Activation:
    r"""The rectified linear unit, ``act.relu``.

    .. math::
        \mathrm{ReLU}(z) = \max(0, z),\qquad
        \mathrm{ReLU}'(z) = \begin{cases} 1 & z > 0 \\ 0 & z < 0 \\ c_0 & z = 0 \end{cases}

    Zheng, *CS286 Lecture 6*; Vitay, *Neurocomputing*; *Neural network architectures, part one*
    ("non-differentiable at zero"). Nair & Hinton (2010).

    .. warning:: $c_0$ = ``derivative_at_zero`` is a convention: ``"zero"`` ($c_0 = 0$) or
       ``"one"`` ($c_0 = 1$).
    """
    c0 = (
        0.0
        if check_choice("derivative_at_zero", derivative_at_zero, RELU_AT_ZERO) == "zero"
        else 1.0
    )
    return _elementwise(
        lambda z: np.maximum(z, np.zeros(np.shape(z))),
        lambda z: _piecewise_derivative(z, 1.0, 0.0, c0),
    )


register(SpecEntry(
    id="act.relu", title="Rectified linear unit", tier="doc", kind="activations",
    formula=r"\mathrm{ReLU}(z) = \max(0, z)",
    citations=(_ZHENG_ACT, _VITAY_CHOICE, _ARCH_ACT, C.NAIR_HINTON),
    variant_axes=(
        _at_zero_axis(
            RELU_AT_ZERO,
            {"zero": ("PyTorch", "TensorFlow", "JAX"), "one": ("[z >= 0] as the derivative",)},
        ),
        *_PIECEWISE,
    ),
    notes="Non-differentiable at zero (architectures notes); the derivative there is a convention.",
    model=ActivationModel(
        build=lambda o, hp: relu(o["derivative_at_zero"]), identity_branch=True
    ),
))


# ---------------------------------------------------------------------------------------------
# act.leaky_relu


def leaky_relu(alpha: Any = 0.01, derivative_at_zero: str = "alpha") -> Activation:
    r"""Leaky ReLU, ``act.leaky_relu``.

    Symbols: $\alpha$ = ``alpha`` (the slope of the negative side, "usually set to 0.01").

    .. math::
        \mathrm{LeakyReLU}_\alpha(z) = \max(\alpha z, z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}
        \quad (0 < \alpha \le 1)

    Zheng, *CS286 Lecture 6*, "Nonsaturating activation function"; Padilla Montani,
    *Neural Networks Tricks-Of-The-Trade*. Maas et al. (2013).

    The entry also cites *Neural network architectures, part one: deep NNs & CNNs*.

    .. warning:: $\max(\alpha z, z)$ is the leaky ReLU only for $\alpha \le 1$ (for $\alpha > 1$
       it takes $\alpha z$ on the positive side), hence the range. The default slope differs
       between frameworks (``act.defaults``). The derivative at 0 (``derivative_at_zero``) is
       $\alpha$ (``"alpha"``, Vitay's $f'(x) = \alpha$ for $x \le 0$), 1 or 0.
    """
    a = check_number("alpha", alpha, low=0.0, high=1.0, low_closed=False)
    c0 = _slope_at_zero(derivative_at_zero, a)
    return _elementwise(
        lambda z: _leaky_value(z, a), lambda z: _piecewise_derivative(z, 1.0, a, c0)
    )


ALPHA_LEAKY = HyperParameter("alpha", r"\alpha", "slope of the negative side", low=0.0, high=1.0,
                             low_closed=False, sample_low=1e-3, sample_high=1.0, log_scale=True,
                             special=(0.01, 0.2, 0.3))


register(SpecEntry(
    id="act.leaky_relu", title="Leaky ReLU", tier="doc", kind="activations",
    formula=r"\mathrm{LeakyReLU}_\alpha(z) = \max(\alpha z, z),\ 0 < \alpha \le 1",
    citations=(_ZHENG_NONSAT, _PM_NONSAT, _ARCH_ACT, C.MAAS),
    variant_axes=(_at_zero_axis(SLOPE_AT_ZERO, _SLOPE_STATED), *_PIECEWISE),
    hyperparameters=(ALPHA_LEAKY,),
    notes="alpha is usually 0.01 (Zheng); the framework defaults differ (act.defaults).",
    model=ActivationModel(
        build=lambda o, hp: leaky_relu(hp["alpha"], _slope_options(o)),
        identity_branch=True,
    ),
))


# ---------------------------------------------------------------------------------------------
# act.prelu


def prelu(alpha: Any = 0.25, derivative_at_zero: str = "alpha") -> Activation:
    r"""Parametric ReLU, ``act.prelu``: the leaky ReLU with a learned slope $\alpha$ = ``alpha``.

    .. math::
        f(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases},\qquad
        \frac{\partial f}{\partial z} = \begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases},\qquad
        \frac{\partial f}{\partial \alpha} = \min(z, 0)

    Vitay, *Neurocomputing*, "Choice of the activation function" (the derivative);
    Zheng, *CS286 Lecture 6*. He et al. (2015), who initialise $\alpha = 0.25$.

    ``vjp(z, g)`` returns the cotangents of ``z`` and of the (one, shared) ``alpha``:
    $\sum_i g_i \min(z_i, 0)$.

    .. warning:: Any real $\alpha$ is allowed (it is learned). The derivative at 0 is Vitay's
       $\alpha$ by default; flax's ``PReLU`` gives 1, Keras's ``PReLU`` (written
       $\mathrm{relu}(z) - \alpha\,\mathrm{relu}(-z)$) gives 0: ``derivative_at_zero``.
    """
    a = check_number("alpha", alpha)
    c0 = _slope_at_zero(derivative_at_zero, a)
    act = _elementwise(lambda z: _leaky_value(z, a), lambda z: _piecewise_derivative(z, 1.0, a, c0))

    def vjp(z: Any, g: Any) -> dict[str, Any]:
        out = act.vjp(z, g)
        with np.errstate(over="ignore", invalid="ignore"):
            out["alpha"] = np.sum(g * np.where(z > 0, 0.0, z))
        return out

    return act._replace(vjp=vjp)


ALPHA_PRELU = HyperParameter("alpha", r"\alpha",
                             "learned slope of the negative side (any real number)", low=None,
                             high=None, sample_low=-1.0, sample_high=2.0,
                             special=(0.25, 0.01, 0.0))


register(SpecEntry(
    id="act.prelu", title="Parametric ReLU (learned slope)", tier="doc", kind="activations",
    formula=r"f(z) = \max(0, z) + \alpha \min(0, z);\ f'(z) = 1 \text{ if } z > 0,\ \alpha \text{ if } z \le 0;\ "
    r"\partial f/\partial\alpha = \min(0, z)",
    citations=(_VITAY_CHOICE, _ZHENG_NONSAT, C.HE),
    variant_axes=(_at_zero_axis(SLOPE_AT_ZERO, _SLOPE_STATED), *_PIECEWISE),
    hyperparameters=(ALPHA_PRELU,),
    notes="The derivatives check compares the cotangent of alpha too (one shared slope).",
    model=ActivationModel(
        build=lambda o, hp: prelu(hp["alpha"], _slope_options(o)),
        extra_cotangents=("alpha",),
        identity_branch=True,
    ),
))


# ---------------------------------------------------------------------------------------------
# act.rrelu


def _check_bounds(lower: Any, upper: Any) -> tuple[Any, Any]:
    lo = check_number("lower", lower, low=0.0, high=1.0)
    hi = check_number("upper", upper, low=0.0, high=1.0)
    if float(lo) > float(hi):
        raise ValueError(f"lower={float(lo)!r}, upper={float(hi)!r}: must satisfy lower <= upper")
    return lo, hi


def rrelu(lower: Any = 1 / 8, upper: Any = 1 / 3, derivative_at_zero: str = "alpha") -> Activation:
    r"""Randomized leaky ReLU at test time, ``act.rrelu``: the leaky ReLU with the mean slope.

    Symbols: $l$ = ``lower``, $u$ = ``upper`` ($0 \le l \le u \le 1$).

    .. math::
        \text{training: } \alpha \sim U(l, u) \text{ per element};\qquad
        \text{test: } f(z) = \begin{cases} z & z > 0 \\ \frac{l + u}{2} z & z \le 0 \end{cases}

    Zheng, *CS286 Lecture 6* ("picked randomly in a given range during training, and fixed
    during testing"). Xu et al. (2015), whose $1/\alpha \sim U(3, 8)$ gives the bounds
    $1/8$ and $1/3$. Training mode: :func:`rrelu_training`.
    """
    lo, hi = _check_bounds(lower, upper)
    a = (lo + hi) / 2.0
    c0 = _slope_at_zero(derivative_at_zero, a)
    return _elementwise(
        lambda z: _leaky_value(z, a), lambda z: _piecewise_derivative(z, 1.0, a, c0)
    )


class RReLUSample(NamedTuple):
    """One training-mode evaluation: the outputs and the slope drawn for every element."""

    value: np.ndarray
    slopes: np.ndarray


def rrelu_training(z: Any, lower: float, upper: float, rng: np.random.Generator) -> RReLUSample:
    r"""RReLU in training mode: $\alpha_i \sim U(l, u)$ independently, $f(z_i) = \alpha_i z_i$ for
    $z_i \le 0$ and $z_i$ otherwise. The randomness comes from ``rng`` only (no hidden state);
    ``slopes`` holds $\alpha_i$ for every element (1 where $z_i > 0$)."""
    _check_z("z", z)
    lo, hi = _check_bounds(lower, upper)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    zz = np.asarray(z, dtype=np.float64)
    alpha = rng.uniform(float(lo), float(hi), zz.shape)
    slopes = np.where(zz > 0, 1.0, alpha)
    with np.errstate(invalid="ignore"):
        return RReLUSample(np.where(zz > 0, zz, alpha * zz), slopes)


# ---------------------------------------------------------------------------------------------


RRELU_LOWER = HyperParameter(
    "lower", "l", "lower bound of the random slope", low=0.0, high=1.0, special=(0.125,)
)
RRELU_UPPER = HyperParameter(
    "upper", "u", "upper bound of the random slope", low=0.0, high=1.0, special=(1 / 3,)
)


register(SpecEntry(
    id="act.rrelu", title="Randomized leaky ReLU (test mode: the mean slope)", tier="doc",
    kind="activations",
    formula=r"\alpha \sim U(l, u) \text{ (training)};\ \alpha = (l + u)/2 \text{ (test)}",
    citations=(_ZHENG_NONSAT, C.XU_RRELU),
    variant_axes=(_at_zero_axis(SLOPE_AT_ZERO, _SLOPE_STATED), *_PIECEWISE),
    hyperparameters=(RRELU_LOWER, RRELU_UPPER),
    notes="Test mode is deterministic and checked element by element; training mode draws "
    "alpha per element (rrelu_training, with an explicit Generator).",
    model=ActivationModel(
        build=lambda o, hp: rrelu(hp["lower"], hp["upper"], _slope_options(o)),
        training=rrelu_training,
        identity_branch=True,
    ),
))


# ---------------------------------------------------------------------------------------------
# act.elu


def elu(alpha: Any = 1.0, negative_branch: str = "z_lt_0", evaluation: str = "expm1") -> Activation:
    r"""The exponential linear unit, ``act.elu``.

    Symbols: $\alpha$ = ``alpha`` ($> 0$).

    .. math::
        \mathrm{ELU}_\alpha(z) = \begin{cases} \alpha(e^z - 1) & z < 0 \\ z & z \ge 0 \end{cases},\qquad
        \mathrm{ELU}'_\alpha(z) = \begin{cases} \alpha e^z & z < 0 \\ 1 & z > 0 \end{cases}

    Zheng, *CS286 Lecture 6* ($z < 0$); Padilla Montani, *Neural Networks Tricks-Of-The-Trade*
    ($z \le 0$). Clevert et al. (2016).

    .. warning:: Does $z < 0$ against $z \le 0$ matter? Not for the value: both branches give 0
       at 0. It matters for the derivative at 0, which autodiff takes from the branch that holds
       0: 1 for $z < 0$ (``negative_branch="z_lt_0"``, TensorFlow's ``tf.nn.elu``), $\alpha$
       for $z \le 0$ (``"z_le_0"``, PyTorch, JAX); they differ unless $\alpha = 1$.

    .. warning:: ``evaluation``: $e^z - 1$ as printed cancels for small $|z|$ (relative error
       up to 1 for $|z| < u$; TensorFlow's ``Elu`` kernel computes it so); ``"expm1"`` is
       accurate there (PyTorch, JAX). Both are bounded by their own rounding.
    """
    a = check_number("alpha", alpha, low=0.0, low_closed=False)
    return _elementwise(*_elu_parts(a, negative_branch, evaluation))


ALPHA_ELU = HyperParameter("alpha", r"\alpha", "value of the negative saturation (-alpha)", low=0.0,
                           high=None, low_closed=False, sample_low=0.05, sample_high=5.0,
                           log_scale=True, special=(1.0, 2.0))


register(SpecEntry(
    id="act.elu", title="Exponential linear unit", tier="doc", kind="activations",
    formula=r"\mathrm{ELU}_\alpha(z) = \alpha(e^z - 1) \text{ if } z < 0,\ z \text{ otherwise}",
    citations=(_ZHENG_NONSAT, _PM_NONSAT, C.CLEVERT),
    variant_axes=(_branch_axis(""), EVALUATION, *_PIECEWISE),
    hyperparameters=(ALPHA_ELU,),
    notes="z < 0 (Zheng) against z <= 0 (Padilla Montani): the same values; the derivative at 0 is 1 "
    "against alpha.",
    model=ActivationModel(
        build=lambda o, hp: elu(hp["alpha"], o["negative_branch"], o["evaluation"])
    ),
))


# ---------------------------------------------------------------------------------------------
# act.selu


def selu(negative_branch: str = "z_lt_0", evaluation: str = "expm1") -> Activation:
    r"""The scaled ELU, ``act.selu``, with Klambauer et al.'s self-normalising constants.

    .. math::
        \mathrm{SELU}(z) = \lambda\,\mathrm{ELU}_\alpha(z),\quad
        \lambda \approx 1.0507009873554805,\ \alpha \approx 1.6732632423543772

    Zheng, *CS286 Lecture 6*; Padilla Montani, *Neural Networks Tricks-Of-The-Trade*
    (``tf.nn.selu``). Klambauer et al. (2017), eq. (14) (:data:`SELU_LAMBDA`, :data:`SELU_ALPHA`).

    .. warning:: As for :func:`elu`, ``negative_branch`` decides the derivative at 0:
       $\lambda$ (``"z_lt_0"``, TensorFlow) or $\lambda\alpha$ (``"z_le_0"``, PyTorch, JAX);
       ``evaluation`` is $\operatorname{expm1}$ or $e^z - 1$.
    """
    value, derivative = _elu_parts(SELU_ALPHA, negative_branch, evaluation)
    return _elementwise(lambda z: SELU_LAMBDA * value(z), lambda z: SELU_LAMBDA * derivative(z))


# ---------------------------------------------------------------------------------------------


register(SpecEntry(
    id="act.selu", title="Scaled exponential linear unit", tier="doc", kind="activations",
    formula=r"\mathrm{SELU}(z) = \lambda\,\mathrm{ELU}_\alpha(z),\ \lambda \approx 1.0507,\ \alpha \approx 1.6733",
    citations=(_ZHENG_NONSAT, _PM_NONSAT, C.KLAMBAUER),
    variant_axes=(_branch_axis("lambda*"), EVALUATION, *_PIECEWISE),
    notes="Frameworks round lambda and alpha to the dtype; a product's bound covers that.",
    model=ActivationModel(build=lambda o, hp: selu(o["negative_branch"], o["evaluation"])),
))


# ---------------------------------------------------------------------------------------------
# act.softmax


def softmax(axis: int = -1) -> Activation:
    r"""The softmax over ``axis``, ``act.softmax``.

    .. math::
        \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_j e^{z_j}} = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}},
        \quad m = \max_j z_j;\qquad
        \bar z = s \odot (g - \langle g, s\rangle)

    Solberg, *INF 5860 Lecture 9*; Zheng, *CS286 Lecture 6*. Shift-invariant (any $m$ gives the
    same value); subtracting the maximum keeps every exponential in $(0, 1]$, so no overflow.
    ``vjp(z, g)`` is the vector-Jacobian product $s \odot (g - \sum_j g_j s_j)$.

    The entry also cites Bridle (1990); Goodfellow et al. (2016).
    """
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"axis={axis!r}: must be an int")

    def value(z: Any) -> Any:
        _check_z("z", z)
        if np.ndim(z) == 0 or not -np.ndim(z) <= axis < np.ndim(z):
            raise ValueError(f"axis={axis}: must index one of the {np.ndim(z)} axes of z")
        with np.errstate(over="ignore", invalid="ignore"):
            m = np.max(z, axis=axis, keepdims=True)
            d = z - m
            # exact cases, so that the bounds stay finite where z - m overflows: the maximum
            # itself (0), and a masked (-inf) logit or one so far below the maximum that its
            # exponential is an exact 0 in every dtype (e^d underflows for d < -746)
            d = np.where(
                z == m,
                np.zeros(np.shape(z)),
                np.where((z == -np.inf) | (d < -1e4), -np.inf, d),
            )
            e = np.exp(d)
            return e / np.sum(e, axis=axis, keepdims=True)

    def vjp(z: Any, g: Any) -> dict[str, Any]:
        _check_z("g", g)
        s = value(z)
        if tuple(np.shape(g)) != tuple(np.shape(z)):
            raise ValueError(f"g: shape {np.shape(g)} must equal the shape of z, {np.shape(z)}")
        with np.errstate(over="ignore", invalid="ignore"):
            return {"z": s * (g - np.sum(g * s, axis=axis, keepdims=True))}

    return Activation(value, None, vjp, elementwise=False)


# ---------------------------------------------------------------------------------------------


register(SpecEntry(
    id="act.softmax", title="Softmax", tier="doc", kind="activations",
    formula=r"\mathrm{softmax}(z)_k = e^{z_k - m} / \textstyle\sum_j e^{z_j - m},\ m = \max_j z_j",
    citations=(
        _SOLBERG_LOSS,
        C.at(C.ZHENG, "Activation functions (output layer: softmax)"),
        C.BRIDLE,
        C.at(C.GOODFELLOW, "section 4.1, Overflow and underflow"),
    ),
    variant_axes=(SUBNORMALS,),
    notes="Over the last axis. Inputs include -inf (masked logits), never a whole row of it; "
    "+inf and NaN are not drawn: frameworks define that row differently (PyTorch and JAX "
    "return NaN everywhere, TensorFlow NaN at the +inf and 0 elsewhere).",
    model=ActivationModel(build=lambda o, hp: softmax(-1), allow_nan=False, allow_posinf=False),
))
