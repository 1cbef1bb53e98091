r"""The clipping kind: gradient clipping by value, by norm per tensor and by the global norm.

An example is a tree of 1-3 gradient tensors and a threshold $K$; the framework clips the
gradients and the result is compared, element by element within the tolerance policy, with
every variant of the reference (:mod:`trainspec.reference.clipping`).

Checks
------
``finite``
    finite gradients. The hard regions are explicit choices: gradients that are all zero;
    gradients whose norm (per tensor and over the tree) is exactly representable
    (:func:`~trainspec.conformance.strategies.exact_norm_integers`), with $K$ set *exactly* at
    a measured quantity (an element's magnitude, a tensor's norm, the global norm), or at half
    or twice it; $K$ drawn freely.
``nonfinite``
    the same trees with one or two components replaced by $+\infty$, $-\infty$ or NaN: what a
    framework then returns (or raises) is the ``nonfinite`` variant axis. A framework that raises
    is expected to raise :class:`~trainspec.reference.clipping.NonFiniteNormError` (its adapter
    converts the framework's own exception, in one small tested function).

Comparison: the reference's output is a tracked tree; a variant that raises matches a framework
that raises, and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import ArrayOf, CaseField, KindContract, MappingOf
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import (
    draw_tree,
    hyperparameter_precision,
    hyperparameter_st,
    make_exact_norm_array,
)
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import (
    largest_finite,
    round_to,
    smallest_normal,
    track_scalar,
    track_tree,
)
from trainspec.reference.clipping import NonFiniteNormError

__all__ = [
    "CONTRACT",
    "KIND",
    "RAISED",
    "TREES",
    "ClippingCase",
    "ClippingResult",
    "compare_outcomes",
    "draw_clipping_case",
    "evaluate_clipping",
]

#: the gradient trees' shapes: one to three tensors, scalar to 3-D, 1 to 128 elements. A fixed
#: menu, because frameworks that compile per shape (JAX) would otherwise compile anew for almost
#: every example; the values, the thresholds and the hard regions carry the variety
TREES: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((),),
    ((7,),),
    ((3, 4),),
    ((64,),),
    ((1,), (2, 3, 4)),
    ((5,), (5,)),
    ((3, 4), (7,), ()),
    ((64,), (2, 32), (1,)),
)
CONTENTS = ("random", "exact_norm", "zeros")
PLACEMENTS = ("free", "at", "half", "twice")
NONFINITE_VALUES = (np.inf, -np.inf, np.nan)
#: what :func:`evaluate_clipping` records for an implementation or variant that raised
RAISED = "raised NonFiniteNormError"


@dataclass(frozen=True)
class ClippingCase:
    """One example: the gradients and the threshold ``K`` (``hyperparameters["threshold"]``)."""

    grads: Mapping[str, np.ndarray]
    hyperparameters: Mapping[str, float]
    content: str = "random"
    placement: str = "free"

    @property
    def threshold(self) -> float:
        return float(self.hyperparameters["threshold"])

    def summary(self) -> dict[str, Any]:
        return {
            "grads": {k: summarize_array(v) for k, v in self.grads.items()},
            "threshold": self.threshold,
            "content": self.content,
            "placement": self.placement,
        }


#: What ``run`` returns for a :class:`ClippingCase`: the clipped tree, ``{name: array shaped like
#: grads[name]}``.
ClippingResult: TypeAlias = Mapping[str, FloatArray]


def _draw_shapes(data: Any) -> dict[str, tuple[int, ...]]:
    tree = data.draw(st.sampled_from(TREES), label="tensor shapes")
    return {f"g{i}": shape for i, shape in enumerate(tree)}


#: the largest square of an integer whose partial sums of squares the dtype holds exactly
#: (float16: integers up to 2^11, bfloat16: up to 2^8; float32, float64: the default 2^24)
EXACT_SQUARES = {"float16": 2**11, "bfloat16": 2**8}


def _exponent_range(dtype: str, limit: int, *, whole_tree: bool) -> tuple[int, int]:
    r"""The powers of two that keep every square of an exact-norm tree inside the dtype's normal
    range (at most a quarter of its largest number, at least its smallest normal): per tensor
    the elements are integers up to $\sqrt{\text{limit}}$ times $2^e$; over the whole tree the
    norm lies in $[2^e, 2^{e+1})$ and the smallest element is at least the norm over
    $\sqrt{\text{limit}}$."""
    top = math.log2(largest_finite(dtype) / 4.0)
    tiny = math.log2(smallest_normal(dtype))
    if whole_tree:
        return math.ceil((tiny + math.log2(limit)) / 2), math.floor(top / 2) - 1
    return math.ceil(tiny / 2), math.floor((top - math.log2(limit)) / 2)


def _exact_norm_tree(
    data: Any, shapes: Mapping[str, tuple[int, ...]], entry: Any, dtype: str
) -> dict[str, np.ndarray]:
    """Per tensor (clip.value, clip.norm) or over the whole tree (clip.global_norm) the norm is
    exact, in the dtype too (:data:`EXACT_SQUARES`; no square leaves its normal range)."""
    seed = data.draw(st.integers(0, 2**32 - 1), label="exact-norm seed")
    exponent = data.draw(st.integers(-8, 8), label="exact-norm exponent of 2")
    limit = EXACT_SQUARES.get(dtype, 2**24)
    lo, hi = _exponent_range(dtype, limit, whole_tree=entry.id == "clip.global_norm")
    exponent = min(max(exponent, lo), hi)
    if entry.id != "clip.global_norm":
        return {
            k: make_exact_norm_array(s, (seed + i) % 2**32, exponent, limit)[0]
            for i, (k, s) in enumerate(shapes.items())
        }
    sizes = [math.prod(s) for s in shapes.values()]
    flat, norm = make_exact_norm_array((sum(sizes),), seed, 0, limit)
    # the exponent sets the global norm's magnitude (2**exponent <= norm < 2**(exponent+1)):
    # near 1 an epsilon added to the norm is visible in float32 too
    flat = flat * 2.0 ** (exponent - math.frexp(norm)[1] + 1)
    out, i = {}, 0
    for (k, s), n in zip(shapes.items(), sizes, strict=True):
        out[k] = flat[i : i + n].reshape(s)
        i += n
    return out


def _inject_nonfinite(data: Any, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
    names = list(out)
    for j in range(data.draw(st.integers(1, 2), label="non-finite components")):
        k = names[data.draw(st.integers(0, len(names) - 1), label=f"non-finite[{j}] tensor")]
        flat = out[k].reshape(-1)
        i = data.draw(st.integers(0, flat.size - 1), label=f"non-finite[{j}] index")
        flat[i] = data.draw(st.sampled_from(NONFINITE_VALUES), label=f"non-finite[{j}] value")
        out[k] = flat.reshape(out[k].shape)
    return out


def draw_clipping_case(data: Any, entry: Any, dtype: str, check: str) -> ClippingCase:
    """One example for a clipping spec (see the module docstring)."""
    if check not in ("finite", "nonfinite"):
        raise ValueError(f"check={check!r}: must be 'finite' or 'nonfinite'")
    shapes = _draw_shapes(data)
    content = data.draw(st.sampled_from(CONTENTS), label="content")
    if content == "zeros":
        grads = {k: np.zeros(s) for k, s in shapes.items()}
    elif content == "exact_norm":
        grads = _exact_norm_tree(data, shapes, entry, dtype)
    else:
        grads = draw_tree(data, shapes, dtype, "grads")
    measures = [m for m in entry.model.measures(grads) if m > 0]
    placement = data.draw(st.sampled_from(PLACEMENTS), label="threshold placement")
    hp = entry.hyperparameters[0]
    if placement == "free" or not measures:
        placement = "free"
        k = data.draw(hyperparameter_st(hp, hyperparameter_precision(dtype)), label="threshold")
    else:
        m = measures[data.draw(st.integers(0, len(measures) - 1), label="measured quantity")]
        k = float(round_to({"at": m, "half": m / 2, "twice": 2 * m}[placement], dtype))
    if check == "nonfinite":
        grads = _inject_nonfinite(data, grads)
    return ClippingCase(grads, {hp.name: k}, content, placement)


def compare_outcomes(actual: Any, expected: Any, dtype: str) -> Comparison:
    """Compare two outcomes, each a tree or :data:`RAISED`."""
    if isinstance(actual, str) or isinstance(expected, str):
        if actual == expected:
            return Comparison(0.0, 0.0, 0.0, RAISED)
        who = "the framework" if isinstance(actual, str) else "the reference variant"
        return Comparison(math.inf, 0.0, math.inf, f"only {who} raised NonFiniteNormError")
    return compare_trees(actual, expected, dtype)


def _reference(entry: Any, variant: Any, case: ClippingCase, dtype: str) -> Any:
    hp = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    transform = entry.model.build(variant.options, hp)
    grads = track_tree(case.grads, dtype)
    try:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return transform.update(grads, transform.init(grads))[0]
    except NonFiniteNormError:
        return RAISED


def evaluate_clipping(
    entry: Any, impl: Any, case: ClippingCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once (a raised :class:`NonFiniteNormError` is an outcome) and compare."""
    try:
        actual: Any = impl.run(case, dtype, device)
    except NonFiniteNormError:
        actual = RAISED
    return {v: compare_outcomes(actual, _reference(entry, v, case, dtype), dtype) for v in variants}


def _expected(entry: Any, impl: Any, case: ClippingCase, dtype: str, check: str) -> Any:
    return MappingOf({k: ArrayOf(tuple(np.shape(v))) for k, v in case.grads.items()})


CONTRACT = KindContract(
    case_types=(ClippingCase,),
    result_type=ClippingResult,
    result_name="ClippingResult",
    fields=(
        CaseField(
            "grads", "Mapping[str, ndarray]", "the gradient tree: 1-3 tensors, scalar to 3-d"
        ),
        CaseField("hyperparameters", "Mapping[str, float]", "{'threshold': K}"),
        CaseField("content", "str", f"how grads were drawn, one of {list(CONTENTS)} (informative)"),
        CaseField(
            "placement",
            "str",
            f"where K was put, one of {list(PLACEMENTS)} (informative)",
        ),
    ),
    returns="the clipped tree, {name: array shaped like grads[name]}; or raise "
    "NonFiniteNormError (convert the framework's own exception) where the framework refuses a "
    "non-finite norm",
    expected=_expected,
    may_raise=(NonFiniteNormError,),
)


KIND = register_kind(
    Kind(
        "clipping",
        ("finite", "nonfinite"),
        draw_clipping_case,
        evaluate_clipping,
        "clipped gradients of 1-3 tensors, element by element within the tolerance policy: zero "
        "gradients, thresholds exactly at a norm, then non-finite components",
        contract=CONTRACT,
    )
)
