r"""Gradient clipping: by value, by norm per tensor, by one norm over all tensors (pure NumPy, float64).

Each factory fixes and checks its threshold and returns a pure
:class:`~trainspec.reference.base.GradientTransformation`, so that clipping chains with the
optimizers of :mod:`trainspec.reference.optimizers` (``chain(clip_by_global_norm(1.0), sgd(0.1))``),
as in optax.

Where frameworks split
----------------------
* ``norm_eps``: PyTorch's ``clip_grad_norm_`` scales by $\min(1, K/(\lVert g\rVert + 10^{-6}))$;
  TensorFlow, Keras and optax add nothing. The two differ at the threshold itself (PyTorch
  scales a gradient whose norm is exactly $K$ by $K/(K + 10^{-6}) < 1$) and for tiny thresholds.
* ``measure`` (per-tensor clipping): optax's ``clip_by_block_rms`` compares the root mean square
  $\sqrt{\operatorname{mean}(g^2)} = \lVert g\rVert/\sqrt{n}$ with the threshold, not the norm.
* ``nonfinite`` (global norm): with an infinite or NaN gradient the norm is not finite.
  ``ieee``: the scale $K/\lVert g\rVert$ is computed anyway (finite components become 0, infinite
  ones NaN; a NaN norm makes everything NaN): PyTorch's default, optax. ``all_nan``: every
  component of every tensor becomes NaN (TensorFlow's ``clip_by_global_norm`` adds
  ``use_norm - use_norm`` to the scale on purpose; Keras's ``global_clipnorm`` copies it).
  ``raise``: an error (PyTorch ``error_if_nonfinite=True``; here :class:`NonFiniteNormError`).
  ``skip``: the step is rejected and the updates are zero (optax ``apply_if_finite``).
* The scale is written in several exactly equal orders, $g\cdot K/\max(\lVert g\rVert, K)$,
  $g \min(1, K/\lVert g\rVert)$, $g\cdot K\min(1/\lVert g\rVert, 1/K)$ (TensorFlow),
  $(gK)/\max(\lVert g\rVert, K)$ (``tf.clip_by_norm``), $(g/\lVert g\rVert)K$ (optax): these
  differ by rounding only and are covered by :func:`~trainspec.reference.base.either_order`,
  not by a variant.

A zero gradient stays zero in every form (no $0/0$): the spec's own form
$K/\max(\lVert g\rVert, K)$ never divides by a zero norm.

The module is laid out in cards: what the three IDs share (norms, the scale, the model the kit
drives, the threshold), then each ID's transformation, its measures and its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import (
    EmptyState,
    GradientTransformation,
    Tree,
    check_choice,
    check_number,
    check_tree,
    either_order,
    tree_map,
)
from trainspec.reference.registry import (
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "MEASURES",
    "NONFINITE",
    "NORM_EPS",
    "ClippingModel",
    "NonFiniteNormError",
    "clip_by_global_norm",
    "clip_by_norm",
    "clip_by_value",
    "global_norm",
    "tensor_norm",
]

#: the constant a framework adds to the norm before dividing (``norm_eps`` axis)
NORM_EPS: dict[str, float] = {"none": 0.0, "plus_1e-6": 1e-6}
MEASURES = ("l2", "rms")
NONFINITE = ("ieee", "all_nan", "raise", "skip")


class NonFiniteNormError(ValueError):
    """The ``raise`` variant: the gradients' norm is infinite or NaN, so they cannot be clipped."""


def _threshold(value: Any) -> Any:
    return check_number("threshold", value, low=0.0, low_closed=False)


def tensor_norm(g: Any) -> Any:
    r"""$\lVert g\rVert_2 = \sqrt{\sum_i g_i^2}$ over every element of one tensor."""
    return np.sqrt(np.sum(np.square(g)))


def global_norm(tree: Tree) -> Any:
    r"""$\lVert g\rVert_2$ over all tensors together: $\sqrt{\sum_k\sum_i g_{k,i}^2}$.

    PyTorch computes it as the norm of the per-tensor norms, $\sqrt{\sum_k \lVert g_k\rVert^2}$:
    the same number in exact arithmetic, one more rounding per tensor (covered by
    :func:`~trainspec.reference.base.either_order`).
    """
    check_tree("updates", tree)
    squares = [np.sum(np.square(g)) for g in tree.values()]
    flat = np.sqrt(_add_all(squares))
    nested = np.sqrt(_add_all([np.square(np.sqrt(s)) for s in squares]))
    return either_order(flat, nested)


def _add_all(terms: list[Any]) -> Any:
    return np.sum(np.stack(terms)) if len(terms) > 1 else terms[0]


def _scaled(g: Any, norm: Any, k: Any, eps: float) -> Any:
    r"""$g\cdot\min(1, K/(\lVert g\rVert + \epsilon))$ in the orders frameworks use (module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # non-finite norms
        if eps > 0.0:
            return g * np.minimum(1.0, k / (norm + eps))
        safe = np.where(norm == 0, k, norm)  # a zero gradient: every order gives g * 1
        return either_order(
            g * (k / np.maximum(safe, k)),
            g * np.minimum(1.0, k / safe),
            g * (k * np.minimum(1.0 / safe, 1.0 / k)),
            (g * k) / np.maximum(safe, k),
            g / np.maximum(1.0, safe / k),
            np.where(safe < k, g, (g / safe) * k),
        )


@dataclass(frozen=True)
class ClippingModel:
    """What the clipping kind needs of a clipping spec.

    ``build(options, hyperparameters)`` returns the reference transformation of one variant
    (``hyperparameters["threshold"]`` is $K$). ``measures(grads)`` lists the quantities that $K$ is
    compared with (every component's magnitude, every tensor's norm, the global norm), so that
    the kit can put $K$ exactly at one of them.
    """

    build: Callable[[Mapping[str, str], Mapping[str, Any]], GradientTransformation]
    measures: Callable[[Mapping[str, np.ndarray]], list[float]]


THRESHOLD = HyperParameter("threshold", "K",
                           "clipping threshold (a component's magnitude, a tensor's norm, or the "
                           "global norm)",
                           low=0.0, high=None, low_closed=False, sample_low=1e-3, sample_high=1e3,
                           log_scale=True, special=(1.0, 5.0))

_NORM_EPS_AXIS = VariantAxis("norm_eps", (
    VariantOption("none", "nothing added to the norm", r"g \cdot \min(1, K/\lVert g\rVert)",
                  ("Vitay", "Pascanu et al. (2013)", "tf.clip_by_norm", "optax")),
    VariantOption("plus_1e-6", "1e-6 added to the norm before dividing",
                  r"g \cdot \min(1, K/(\lVert g\rVert + 10^{-6}))",
                  ("torch.nn.utils.clip_grad_norm_",)),
))


# ---------------------------------------------------------------------------------------------
# clip.value


def clip_by_value(threshold: float) -> GradientTransformation:
    r"""Clip every component to $[-K, K]$, ``clip.value``.

    Symbols: $K$ = ``threshold`` ($> 0$), $g$ = the incoming updates (gradients).

    .. math:: g_i \leftarrow \max(-K, \min(g_i, K))

    Padilla Montani, *Neural Networks Tricks-Of-The-Trade* ("Gradient Clipping":
    ``tf.clip_by_value(grad, -threshold, threshold)``); Pascanu et al. (2013).
    A NaN component stays NaN (IEEE ``max``/``min`` propagate NaN); $\pm\infty$ becomes $\pm K$.

    .. warning:: Clipping by value changes the gradient's direction; clipping by norm does not.
    """
    k = _threshold(threshold)

    def init(params: Tree) -> EmptyState:
        check_tree("params", params)
        return EmptyState()

    def update(updates: Tree, state: EmptyState, params: Tree | None = None):
        check_tree("updates", updates)
        return tree_map(_clamp, updates), state

    def _clamp(g: Any) -> Any:
        kk = np.broadcast_to(k, np.shape(g))  # elementwise max/min need operands of one shape
        return np.minimum(np.maximum(g, -kk), kk)

    return GradientTransformation(init, update)


def _value_measures(grads: Mapping[str, np.ndarray]) -> list[float]:
    return sorted({float(abs(x)) for g in grads.values() for x in np.ravel(g)[:64]})


register(SpecEntry(
    id="clip.value", title="Gradient clipping by value", tier="core", kind="clipping",
    formula=r"g_i \leftarrow \max(-K, \min(g_i, K))",
    citations=(C.at(C.PADILLA_MONTANI, "Gradient Clipping"), C.PASCANU),
    hyperparameters=(THRESHOLD,),
    notes="Changes the direction of the gradient. NaN components stay NaN.",
    model=ClippingModel(
        build=lambda o, hp: clip_by_value(hp["threshold"]), measures=_value_measures
    ),
))


# ---------------------------------------------------------------------------------------------
# clip.norm


def clip_by_norm(
    threshold: float, *, norm_eps: str = "none", measure: str = "l2"
) -> GradientTransformation:
    r"""Rescale each tensor whose norm exceeds $K$ to norm $K$, ``clip.norm``.

    Symbols: $K$ = ``threshold``, $g$ = one gradient tensor, $\epsilon$ = ``NORM_EPS[norm_eps]``.

    .. math:: g \leftarrow g\cdot\min\Bigl(1, \frac{K}{\lVert g\rVert_2 + \epsilon}\Bigr)
        \qquad\text{(the direction is kept, the norm is at most } K\text{)}

    ``measure="rms"`` compares $\sqrt{\tfrac1n\sum_i g_i^2}$ with $K$ instead of the norm (optax
    ``clip_by_block_rms``). Vitay, *Neurocomputing: Modern neural networks* ("Vanishing Gradient
    problem": $\lVert\partial\mathcal L/\partial W^k\rVert \leftarrow \min(\lVert\cdot\rVert, K)$);
    Pascanu et al. (2013).

    .. warning:: Frameworks differ in $\epsilon$ (PyTorch adds $10^{-6}$) and in the measure; see
       the module docstring.
    """
    k = _threshold(threshold)
    eps = NORM_EPS[check_choice("norm_eps", norm_eps, tuple(NORM_EPS))]
    meas = check_choice("measure", measure, MEASURES)

    def one(g: Any) -> Any:
        norm = tensor_norm(g) if meas == "l2" else np.sqrt(np.mean(np.square(g)))
        return _scaled(g, norm, k, eps)

    def init(params: Tree) -> EmptyState:
        check_tree("params", params)
        return EmptyState()

    def update(updates: Tree, state: EmptyState, params: Tree | None = None):
        check_tree("updates", updates)
        return tree_map(one, updates), state

    return GradientTransformation(init, update)


def _norm_measures(grads: Mapping[str, np.ndarray]) -> list[float]:
    return [float(np.sqrt(np.sum(np.square(g)))) for g in grads.values()]


register(SpecEntry(
    id="clip.norm", title="Gradient clipping by norm, per tensor", tier="core", kind="clipping",
    formula=r"g \leftarrow g \cdot \min\bigl(1, K/\lVert g\rVert_2\bigr)\ \text{for each tensor}",
    citations=(C.at(C.VITAY, "Vanishing Gradient problem (gradient clipping)"), C.PASCANU),
    variant_axes=(
        _NORM_EPS_AXIS,
        VariantAxis("measure", (
            VariantOption("l2", "the tensor's Euclidean norm is compared with K",
                          r"\lVert g\rVert_2 = \sqrt{\sum_i g_i^2}",
                          ("Vitay", "tf.clip_by_norm", "Keras clipnorm")),
            VariantOption("rms", "the tensor's root mean square is compared with K",
                          r"\sqrt{\tfrac{1}{n}\sum_i g_i^2} = \lVert g\rVert_2/\sqrt{n}",
                          ("optax.clip_by_block_rms",)),
        )),
    ),
    hyperparameters=(THRESHOLD,),
    notes="The direction of each tensor is kept and its norm is at most K.",
    model=ClippingModel(
        build=lambda o, hp: clip_by_norm(
            hp["threshold"], norm_eps=o["norm_eps"], measure=o["measure"]
        ),
        measures=_norm_measures,
    ),
))


# ---------------------------------------------------------------------------------------------
# clip.global_norm


def clip_by_global_norm(
    threshold: float, *, norm_eps: str = "none", nonfinite: str = "ieee"
) -> GradientTransformation:
    r"""Rescale all tensors together when their joint norm exceeds $K$, ``clip.global_norm``.

    Symbols: $K$ = ``threshold``, $g_k$ = the gradient tensors, $\epsilon$ = ``NORM_EPS[norm_eps]``.

    .. math:: \lVert g\rVert = \sqrt{\textstyle\sum_k \lVert g_k\rVert_2^2}, \qquad
        g_k \leftarrow g_k\cdot\min\Bigl(1, \frac{K}{\lVert g\rVert + \epsilon}\Bigr)

    Pascanu et al. (2013), Algorithm 1; the form of ``tf.clip_by_global_norm``,
    ``torch.nn.utils.clip_grad_norm_`` and ``optax.clip_by_global_norm``.

    The entry also cites Vitay, *Neurocomputing: Modern neural networks*.

    .. warning:: With a non-finite gradient frameworks part ways (``nonfinite``: ``ieee``,
       ``all_nan``, ``raise``, ``skip``; module docstring), and PyTorch adds $\epsilon = 10^{-6}$.
    """
    k = _threshold(threshold)
    eps = NORM_EPS[check_choice("norm_eps", norm_eps, tuple(NORM_EPS))]
    mode = check_choice("nonfinite", nonfinite, NONFINITE)

    def init(params: Tree) -> EmptyState:
        check_tree("params", params)
        return EmptyState()

    def update(updates: Tree, state: EmptyState, params: Tree | None = None):
        norm = global_norm(updates)
        finite = bool(np.isfinite(norm))
        if not finite and mode == "raise":
            raise NonFiniteNormError(
                f"updates: the global norm is {float(norm)}, not finite, so it cannot be clipped "
                "(nonfinite='raise')"
            )
        out = tree_map(lambda g: _scaled(g, norm, k, eps), updates)
        if not finite and mode == "all_nan":
            out = tree_map(lambda g: np.where(np.isfinite(norm), g, np.nan), out)
        elif not finite and mode == "skip":
            out = tree_map(lambda g: np.where(np.isfinite(norm), g, 0.0), out)
        return out, state

    return GradientTransformation(init, update)


def _global_measures(grads: Mapping[str, np.ndarray]) -> list[float]:
    return [float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))]


register(SpecEntry(
    id="clip.global_norm", title="Gradient clipping by the global norm over all tensors",
    tier="core", kind="clipping",
    formula=r"\lVert g\rVert = \sqrt{\textstyle\sum_k \lVert g_k\rVert_2^2},\quad "
    r"g_k \leftarrow g_k \cdot \min\bigl(1, K/\lVert g\rVert\bigr)",
    citations=(C.PASCANU, C.at(C.VITAY, "Vanishing Gradient problem (gradient clipping)")),
    variant_axes=(
        _NORM_EPS_AXIS,
        VariantAxis("nonfinite", (
            VariantOption("ieee",
                          "the scale is computed from the non-finite norm: finite components "
                          "become 0, infinite ones NaN; a NaN norm makes every component NaN",
                          r"g_k \cdot \min(1, K/\infty) = g_k \cdot 0",
                          ("torch clip_grad_norm_ (default)", "optax.clip_by_global_norm")),
            VariantOption("all_nan", "every component of every tensor becomes NaN",
                          r"g_k \cdot (\text{scale} + (\lVert g\rVert - \lVert g\rVert)) = \text{NaN}",
                          ("tf.clip_by_global_norm", "Keras global_clipnorm")),
            VariantOption("raise", "an error is raised",
                          r"\text{error if } \lVert g\rVert \notin \mathbb{R}",
                          ("torch clip_grad_norm_(error_if_nonfinite=True)",)),
            VariantOption("skip", "the step is rejected: the updates are zero",
                          r"g_k \leftarrow 0", ("optax.apply_if_finite",)),
        )),
    ),
    hyperparameters=(THRESHOLD,),
    notes="One norm over all gradient tensors; the relative sizes of the tensors are kept.",
    model=ClippingModel(
        build=lambda o, hp: clip_by_global_norm(
            hp["threshold"], norm_eps=o["norm_eps"], nonfinite=o["nonfinite"]
        ),
        measures=_global_measures,
    ),
))
