r"""Weight penalties and constraints: L2, L1 and max-norm (pure NumPy, float64).

* :func:`l2_penalty` / :func:`l2_penalty_gradient`: $\lambda\sum\theta^2$ and $2\lambda\theta$, or,
  in the other convention, $\tfrac{\lambda}{2}\sum\theta^2$ and $\lambda\theta$. The same pair is
  written "$\lambda$", "$2\lambda$" or "$\lambda/2$" depending on whether one names the penalty's
  coefficient or the gradient's: the ``convention`` axis of ``reg.l2`` says which penalty a
  framework computes for a given ``l2``.
* :func:`l1_penalty` / :func:`l1_penalty_gradient`: $\lambda\sum\lvert\theta\rvert$ and its
  subgradient $\lambda\operatorname{sign}(\theta)$; the value at $\theta = 0$ is a convention.
* :func:`max_norm`: the projection of each unit's incoming weight vector onto the ball of radius $c$.
  Which axis of a weight array holds a unit's incoming weights depends on the framework's layout:
  PyTorch's ``Linear.weight`` is ``(out, in)`` (a unit's incoming weights are a row), Keras's
  ``Dense`` kernel is ``(in, out)`` (a column, ``keras.constraints.MaxNorm(axis=0)``).
* Biases are not regularised (Solberg, "Bias regularization"): :func:`regularization_loss` and
  :func:`add_penalty_gradient` apply a penalty to the tensors that :func:`is_regularized` selects
  (every name but biases) and leave the rest alone.

The module is laid out in cards: what the three IDs share (argument checks, trees, the model the
kit drives), then each ID's functions, evaluation and entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import (
    GradientTransformation,
    Tree,
    check_choice,
    check_number,
    check_same_structure,
    check_tree,
    either_order,
)
from trainspec.reference.registry import (
    Erratum,
    ErratumEvidence,
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "L1_AT_ZERO",
    "L2_CONVENTIONS",
    "MAX_NORM_EPS",
    "PenaltyModel",
    "add_penalty_gradient",
    "is_regularized",
    "l1_penalty",
    "l1_penalty_gradient",
    "l2_penalty",
    "l2_penalty_gradient",
    "max_norm",
    "regularization_loss",
]

L2_CONVENTIONS = ("lambda", "half_lambda")
L1_AT_ZERO = ("zero", "plus_lambda")
MAX_NORM_EPS = ("none", "1e-7_when_above", "1e-7_always")


def _array(name: str, w: Any) -> Any:
    dtype = getattr(w, "dtype", None)
    if dtype is None or not hasattr(w, "shape"):
        raise TypeError(f"{name}: must be an array, got {type(w).__name__}")
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{name}: must have a real floating-point dtype, got {dtype}")
    return w


def _coefficient(name: str, value: Any) -> Any:
    return check_number(name, value, low=0.0)


# ---------------------------------------------------------------------------------------------
# trees: biases are not regularised


def is_regularized(name: str) -> bool:
    """Every parameter but the biases: names ``b``, ``bias`` or ending in ``.bias``/``_bias``/``/bias``."""
    last = name.replace("/", ".").split(".")[-1]
    return not (last in ("b", "bias") or last.endswith("_bias"))


def regularization_loss(
    params: Tree,
    penalty: Callable[[Any], Any],
    *,
    regularize: Callable[[str], bool] = is_regularized,
) -> Any:
    r"""$J_r = \sum_{k\ \text{regularised}} R(\theta_k)$: the penalty summed over the weights, not the biases."""
    check_tree("params", params)
    terms = [penalty(v) for k, v in params.items() if regularize(k)]
    if not terms:
        return 0.0
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


class PenaltyState(NamedTuple):
    """The state of :func:`add_penalty_gradient` (it has none)."""


def add_penalty_gradient(
    penalty_gradient: Callable[[Any], Any],
    *,
    regularize: Callable[[str], bool] = is_regularized,
) -> GradientTransformation:
    r"""$g_k \leftarrow g_k + \partial R/\partial\theta_k$ for the regularised tensors; biases untouched.

    Example: ``chain(add_penalty_gradient(lambda w: l2_penalty_gradient(w, 1e-4)), sgd(0.1))``.
    """

    def init(params: Tree) -> PenaltyState:
        check_tree("params", params)
        return PenaltyState()

    def update(updates: Tree, state: PenaltyState, params: Tree | None = None):
        if params is None:
            raise ValueError("params: add_penalty_gradient needs the parameters (got None)")
        check_same_structure("updates", updates, "params", params)
        out = {
            k: (g + penalty_gradient(params[k])) if regularize(k) else g for k, g in updates.items()
        }
        return out, state

    return GradientTransformation(init, update)


@dataclass(frozen=True)
class PenaltyModel:
    r"""What the regularizer kind needs of an entry.

    ``evaluate(options, hyperparameters, weights)`` returns the reference outputs of one variant:
    ``{"value": R(w), "grad": dR/dw}`` for a penalty, ``{"weights": projected}`` for a constraint.
    ``weights`` is a ``(units, fan_in)`` array: row $j$ holds unit $j$'s incoming weights (the
    layout of PyTorch's ``Linear.weight``). ``coefficient`` names the hyperparameter.
    """

    evaluate: Callable[[Mapping[str, str], Mapping[str, Any], Any], dict[str, Any]]
    coefficient: str
    constraint: bool = False


def _coefficient_hp(name: str, symbol: str, description: str) -> HyperParameter:
    return HyperParameter(name, symbol, description, low=0.0, high=None, sample_low=1e-5,
                          sample_high=1.0, log_scale=True, special=(0.01, 1e-4))


# ---------------------------------------------------------------------------------------------
# reg.l2


def l2_penalty(weights: Any, l2: float, *, convention: str = "lambda") -> Any:
    r"""The L2 penalty of one weight tensor, ``reg.l2``.

    Symbols: $\theta$ = ``weights``, $\lambda$ = ``l2`` ($\ge 0$).

    .. math:: R(\theta) = \lambda\sum_i \theta_i^2 \quad(\texttt{lambda}) \qquad
              R(\theta) = \tfrac{\lambda}{2}\sum_i \theta_i^2 \quad(\texttt{half\_lambda})

    Vitay, *Neurocomputing* ("L2 Regularization": $\lambda\lVert\theta\rVert^2$); Solberg,
    *INF 5860 Lecture 9* ("L2 regularization": $\lambda\sum\Theta^2$); *Neural network
    architectures* ($\lambda\lVert\theta\rVert_2^2$); Goodfellow et al. (2016) §7.1.1
    ($\tfrac{\alpha}{2}\lVert w\rVert^2$); Krogh & Hertz (1992).

    The entry also cites Zheng (2020).

    .. warning:: Keras's ``L2(l2)`` is ``lambda``; a weight decay $\lambda\theta$ added to the
       gradient (PyTorch ``weight_decay``, optax ``add_decayed_weights``) is the gradient of
       ``half_lambda`` (see ``opt.weight_decay``). Solberg prints the ``half_lambda`` derivative
       next to the ``lambda`` penalty (an erratum).
    """
    w = _array("weights", weights)
    lam = _coefficient("l2", l2)
    conv = check_choice("convention", convention, L2_CONVENTIONS)
    s = np.sum(np.square(w))
    return lam * s if conv == "lambda" else (lam * 0.5) * s


def l2_penalty_gradient(weights: Any, l2: float, *, convention: str = "lambda") -> Any:
    r"""$\partial R/\partial\theta$ of :func:`l2_penalty`: $2\lambda\theta$ (``lambda``) or $\lambda\theta$ (``half_lambda``)."""
    w = _array("weights", weights)
    lam = _coefficient("l2", l2)
    conv = check_choice("convention", convention, L2_CONVENTIONS)
    if conv == "half_lambda":
        return lam * w
    return either_order((2.0 * lam) * w, lam * (2.0 * w))


def _solberg_l2_check() -> ErratumEvidence:
    """Central differences of Solberg's penalty lambda*sum(Theta^2) against the printed and the
    corrected derivative. For a quadratic the central difference is exact; with these binary
    fractions every operation is exact in float64."""
    lam, h = 0.5, 1.0
    theta = np.array([1.0, -2.0, 3.0, 0.5])
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        numeric[i] = (l2_penalty(theta + e, lam) - l2_penalty(theta - e, lam)) / (2 * h)
    printed = lam * theta
    corrected = l2_penalty_gradient(theta, lam)
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - numeric))),
        corrected_error=float(np.max(np.abs(corrected - numeric))),
        detail="theta=[1,-2,3,0.5], lambda=0.5: the derivative of lambda*sum(theta^2) is "
        f"{numeric.tolist()} (central differences, exact for a quadratic); the printed lambda*theta "
        f"gives {printed.tolist()}, half of it",
    )


def _eval_l2(o: Mapping[str, str], hp: Mapping[str, Any], w: Any) -> dict[str, Any]:
    conv = o["convention"]
    return {
        "value": l2_penalty(w, hp["l2"], convention=conv),
        "grad": l2_penalty_gradient(w, hp["l2"], convention=conv),
    }


register(SpecEntry(
    id="reg.l2", title="L2 regularisation (penalty and its gradient)", tier="core",
    kind="regularizers",
    formula=r"J = J_0 + \lambda\sum\theta^2,\quad \partial J/\partial\theta = \partial J_0/\partial\theta + 2\lambda\theta",
    citations=(
        C.at(C.VITAY, "L2 Regularization"),
        C.at(C.SOLBERG, "L2 regularization; Bias regularization"),
        C.at(C.ARCHITECTURES, "Deep neural networks: regularization"),
        C.at(C.ZHENG, "Other methods of regularization"),
        C.KROGH_HERTZ,
        C.GOODFELLOW,
    ),
    variant_axes=(
        VariantAxis("convention", (
            VariantOption("lambda", "penalty lambda * sum(theta^2), gradient 2 lambda theta",
                          r"R = \lambda\sum\theta^2,\ \partial R = 2\lambda\theta",
                          ("Vitay", "Solberg, cost", "Neural network architectures",
                           "keras.regularizers.L2")),
            VariantOption("half_lambda",
                          "penalty lambda/2 * sum(theta^2), gradient lambda theta",
                          r"R = \tfrac{\lambda}{2}\sum\theta^2,\ \partial R = \lambda\theta",
                          ("Goodfellow et al. (2016) 7.1.1", "weight decay g + lambda theta")),
        )),
    ),
    errata=(
        Erratum(
            source=C.at(C.SOLBERG, "L2 regularization"),
            printed=r"\partial J/\partial\Theta = \partial J_i/\partial\Theta + \lambda\Theta"
            r"\ \text{for}\ J = J_i + \lambda\sum\Theta^2",
            correct=r"\partial J/\partial\Theta = \partial J_i/\partial\Theta + 2\lambda\Theta",
            explanation="d/dTheta of lambda*Theta^2 is 2*lambda*Theta; the printed lambda*Theta is the "
            "derivative of the lambda/2 convention, not of the penalty printed above it.",
            check=_solberg_l2_check,
        ),
    ),
    hyperparameters=(_coefficient_hp("l2", r"\lambda", "L2 penalty coefficient"),),
    notes="Biases are not regularised (Solberg, 'Bias regularization'): regularization_loss and "
    "add_penalty_gradient skip them. PyTorch and optax offer L2 only as weight decay (opt.weight_decay).",
    model=PenaltyModel(evaluate=_eval_l2, coefficient="l2"),
))


# ---------------------------------------------------------------------------------------------
# reg.l1


def l1_penalty(weights: Any, l1: float) -> Any:
    r"""The L1 penalty $R(\theta) = \lambda\sum_i\lvert\theta_i\rvert$, ``reg.l1``.

    Symbols: $\theta$ = ``weights``, $\lambda$ = ``l1`` ($\ge 0$).

    Vitay ("L1 Regularization"); Solberg ("L1 regularization"); *Neural network architectures*
    ($\lambda\lVert\theta\rVert_1$); Zheng ("Other methods of regularization").

    The entry also cites Tibshirani (1996); Goodfellow et al. (2016).
    """
    w = _array("weights", weights)
    lam = _coefficient("l1", l1)
    return lam * np.sum(np.abs(w))


def l1_penalty_gradient(weights: Any, l1: float, *, at_zero: str = "zero") -> Any:
    r"""A subgradient of :func:`l1_penalty`: $\lambda\operatorname{sign}(\theta)$.

    At $\theta_i = 0$ every value in $[-\lambda, \lambda]$ is a subgradient; ``at_zero`` picks one:
    ``zero`` ($\operatorname{sign}(0) = 0$, what the autodiff of ``abs`` gives in PyTorch,
    TensorFlow and JAX) or ``plus_lambda`` (the right derivative, $+\lambda$).
    """
    w = _array("weights", weights)
    lam = _coefficient("l1", l1)
    mode = check_choice("at_zero", at_zero, L1_AT_ZERO)
    sign = np.sign(w)
    if mode == "plus_lambda":
        sign = np.where(w == 0, 1.0, sign)
    return lam * sign


def _eval_l1(o: Mapping[str, str], hp: Mapping[str, Any], w: Any) -> dict[str, Any]:
    return {
        "value": l1_penalty(w, hp["l1"]),
        "grad": l1_penalty_gradient(w, hp["l1"], at_zero=o["at_zero"]),
    }


register(SpecEntry(
    id="reg.l1", title="L1 regularisation (penalty and its subgradient)", tier="core",
    kind="regularizers",
    formula=r"J = J_0 + \lambda\sum\lvert\theta\rvert,\quad \partial J/\partial\theta \ni \partial J_0/\partial\theta + \lambda\operatorname{sign}(\theta)",
    citations=(
        C.at(C.VITAY, "L1 Regularization"),
        C.at(C.SOLBERG, "L1 regularization"),
        C.at(C.ARCHITECTURES, "Deep neural networks: regularization"),
        C.at(C.ZHENG, "Other methods of regularization"),
        C.TIBSHIRANI_LASSO,
        C.at(C.GOODFELLOW, "7.1.2"),
    ),
    variant_axes=(
        VariantAxis("at_zero", (
            VariantOption("zero", "subgradient 0 at theta = 0 (sign(0) = 0)",
                          r"\lambda\operatorname{sign}(0) = 0",
                          ("autodiff of abs in PyTorch, TensorFlow, JAX",)),
            VariantOption("plus_lambda", "the right derivative at theta = 0", r"+\lambda",
                          ("where(theta >= 0, lambda, -lambda)",)),
        )),
    ),
    hyperparameters=(_coefficient_hp("l1", r"\lambda", "L1 penalty coefficient"),),
    notes="Any value in [-lambda, lambda] is a subgradient at 0; which one is a convention.",
    model=PenaltyModel(evaluate=_eval_l1, coefficient="l1"),
))


# ---------------------------------------------------------------------------------------------
# reg.max_norm


def max_norm(
    weights: Any, max_value: float, *, incoming_axis: int = 1, norm_eps: str = "none"
) -> Any:
    r"""Project every unit's incoming weight vector onto the ball of radius $c$, ``reg.max_norm``.

    Symbols: $w$ = one unit's incoming weights (the slice of ``weights`` along ``incoming_axis``),
    $c$ = ``max_value`` ($> 0$).

    .. math:: w \leftarrow w\cdot\frac{c}{\max(\lVert w\rVert_2, c)}
        \quad(\text{if } \lVert w\rVert_2 > c:\ w \leftarrow c\, w/\lVert w\rVert_2)

    Solberg ("Maxnorm regularization"); Zheng ("Max-Norm regularization":
    $\lVert w\rVert_2 \le r$); Srebro & Shraibman (2005); Srivastava et al. (2014).

    ``incoming_axis``: the axis that indexes a unit's inputs (1 for PyTorch's ``(out, in)``
    weight, 0 for Keras's ``(in, out)`` kernel). ``norm_eps``: ``none``; ``1e-7_when_above``
    ($c/(\lVert w\rVert + 10^{-7})$ when the norm exceeds $c$, else unchanged: ``torch.renorm``);
    ``1e-7_always`` ($\min(\lVert w\rVert, c)/(\lVert w\rVert + 10^{-7})$ on every unit, which also
    shrinks units below the bound slightly: ``keras.constraints.MaxNorm``).

    .. warning:: A max-norm along the wrong axis constrains each *input's* outgoing weights
       instead; frameworks' layouts differ, so the axis is converted in each adapter.
    """
    w = _array("weights", weights)
    c = check_number("max_value", max_value, low=0.0, low_closed=False)
    eps = check_choice("norm_eps", norm_eps, MAX_NORM_EPS)
    if not isinstance(incoming_axis, int) or not -w.ndim <= incoming_axis < w.ndim:
        raise ValueError(
            f"incoming_axis={incoming_axis!r}: must be an axis of weights (ndim {w.ndim})"
        )
    norm = np.sqrt(np.sum(np.square(w), axis=incoming_axis, keepdims=True))
    cap = np.broadcast_to(c, np.shape(norm))  # elementwise max/min need operands of one shape
    if eps == "1e-7_always":
        return w * (np.minimum(norm, cap) / (norm + 1e-7))
    if eps == "1e-7_when_above":
        return w * np.where(norm > cap, cap / (norm + 1e-7), 1.0)
    safe = np.where(norm == 0, cap, norm)
    return either_order(
        w * (cap / np.maximum(safe, cap)),
        w * np.minimum(np.ones(np.shape(safe)), cap / safe),
        (w * cap) / np.maximum(safe, cap),
    )


def _eval_max_norm(o: Mapping[str, str], hp: Mapping[str, Any], w: Any) -> dict[str, Any]:
    return {"weights": max_norm(w, hp["max_value"], incoming_axis=1, norm_eps=o["norm_eps"])}


register(SpecEntry(
    id="reg.max_norm", title="Max-norm constraint on each unit's incoming weights", tier="core",
    kind="regularizers",
    formula=r"\text{if } \lVert w\rVert_2 > c:\ w \leftarrow c\, w/\lVert w\rVert_2\quad(w = \text{a unit's incoming weights})",
    citations=(
        C.at(C.SOLBERG, "Maxnorm regularization"),
        C.at(C.ZHENG, "Max-Norm regularization"),
        C.SREBRO_MAX_NORM,
        C.SRIVASTAVA,
    ),
    variant_axes=(
        VariantAxis("norm_eps", (
            VariantOption("none", "exact projection", r"w\, c/\max(\lVert w\rVert, c)",
                          ("Solberg", "Zheng")),
            VariantOption("1e-7_when_above",
                          "1e-7 added to the norm, only units above the bound are rescaled",
                          r"w\, c/(\lVert w\rVert + 10^{-7})\ \text{if}\ \lVert w\rVert > c",
                          ("torch.renorm",)),
            VariantOption("1e-7_always",
                          "every unit is multiplied by min(norm, c)/(norm + 1e-7)",
                          r"w\, \min(\lVert w\rVert, c)/(\lVert w\rVert + 10^{-7})",
                          ("keras.constraints.MaxNorm",)),
        )),
    ),
    hyperparameters=(
        HyperParameter("max_value", "c", "bound on the norm of a unit's incoming weights",
                       low=0.0, high=None, low_closed=False, sample_low=0.1, sample_high=10.0,
                       log_scale=True, special=(2.0, 3.0)),
    ),
    notes="The case holds a (units, fan_in) array; each adapter converts it to its layout and "
    "picks the axis of a unit's incoming weights.",
    model=PenaltyModel(evaluate=_eval_max_norm, coefficient="max_value", constraint=True),
))
