r"""The regularizer kind: weight penalties (value and gradient) and weight constraints (max-norm).

An example is one weight matrix in the spec's layout ``(units, fan_in)`` (row $j$ holds unit
$j$'s incoming weights, as PyTorch's ``Linear.weight``) and the entry's coefficient ($\lambda$ or
$c$). A penalty's implementation returns ``{"value": R(w), "grad": dR/dw}`` (the gradient by the
framework's autodiff); a constraint's returns ``{"weights": projected}``, in the spec's layout
again: each adapter converts to its framework's layout (Keras's kernels are ``(in, out)``) in one
small, tested function. Everything is compared within the tolerance policy.

Hard regions (explicit choices): weights with exact zeros (the L1 subgradient at 0), all-zero
weights, rows whose norm is exactly representable with $c$ set exactly at one of them (a unit on
the max-norm bound), and a coefficient of 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import CaseField, KindContract, structure_of
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import (
    draw_array,
    hyperparameter_precision,
    hyperparameter_st,
    make_exact_norm_array,
)
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import round_to, track_scalar, track_tree

__all__ = [
    "CONTRACT",
    "KIND",
    "RegularizerCase",
    "RegularizerResult",
    "draw_regularizer_case",
    "evaluate_regularizer",
]

#: units and inputs per unit: a fixed menu (frameworks that compile per shape stay fast)
SIDES = (1, 3, 8)
CONTENTS = ("random", "with_zeros", "zeros", "exact_row_norms")


@dataclass(frozen=True)
class RegularizerCase:
    """One example: ``weights`` of shape ``(units, fan_in)`` and the entry's coefficient."""

    weights: np.ndarray
    hyperparameters: dict[str, float]
    content: str = "random"

    def summary(self) -> dict[str, Any]:
        return {
            "weights": summarize_array(self.weights, max_elements=16),
            "hyperparameters": dict(self.hyperparameters),
            "content": self.content,
        }


class RegularizerResult(TypedDict, total=False):
    """What ``run`` returns for a :class:`RegularizerCase`: a penalty's ``value`` (shape ``()``)
    and ``grad`` (shaped like ``weights``), or a constraint's constrained ``weights``."""

    value: FloatArray
    grad: FloatArray
    weights: FloatArray


def _exact_rows(data: Any, units: int, fan_in: int) -> np.ndarray:
    seed = data.draw(st.integers(0, 2**32 - 1), label="exact-norm seed")
    exponent = data.draw(st.integers(-6, 6), label="exact-norm exponent of 2")
    return np.stack(
        [make_exact_norm_array((fan_in,), (seed + j) % 2**32, exponent)[0] for j in range(units)]
    )


def draw_regularizer_case(data: Any, entry: Any, dtype: str, check: str) -> RegularizerCase:
    """One example for a penalty or constraint spec (see the module docstring)."""
    if check != "weights":
        raise ValueError(f"check={check!r}: must be 'weights'")
    units = data.draw(st.sampled_from(SIDES), label="units")
    fan_in = data.draw(st.sampled_from(SIDES), label="fan_in")
    content = data.draw(st.sampled_from(CONTENTS), label="content")
    if content == "zeros":
        w = np.zeros((units, fan_in))
    elif content == "exact_row_norms":
        w = _exact_rows(data, units, fan_in)
    else:
        w = draw_array(data, (units, fan_in), dtype, "weights")
        if content == "with_zeros":
            seed = data.draw(st.integers(0, 2**32 - 1), label="zero-mask seed")
            mask = np.random.default_rng(seed).random(w.shape) < 0.4
            w = np.where(mask, 0.0, w)
    hp = next(h for h in entry.hyperparameters if h.name == entry.model.coefficient)
    norms = np.sqrt(np.sum(w * w, axis=1))
    at_row = entry.model.constraint and content == "exact_row_norms"
    if at_row and data.draw(st.booleans(), label="bound exactly at a row's norm"):
        j = data.draw(st.integers(0, units - 1), label="row on the bound")
        value = float(round_to(norms[j], dtype))
    else:
        value = data.draw(hyperparameter_st(hp, hyperparameter_precision(dtype)), label=hp.name)
        if not entry.model.constraint and data.draw(st.booleans(), label="coefficient 0"):
            value = 0.0
    return RegularizerCase(w, {hp.name: value}, content)


def evaluate_regularizer(
    entry: Any, impl: Any, case: RegularizerCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once and compare its outputs with every variant's."""
    actual = impl.run(case, dtype, device)
    w = track_tree({"w": case.weights}, dtype)["w"]
    hp = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    return {
        v: compare_trees(actual, entry.model.evaluate(v.options, hp, w), dtype) for v in variants
    }


def _expected(entry: Any, impl: Any, case: RegularizerCase, dtype: str, check: str) -> Any:
    w = track_tree({"w": case.weights}, dtype)["w"]
    hp = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    return structure_of(entry.model.evaluate(entry.default_variant.options, hp, w))


CONTRACT = KindContract(
    case_types=(RegularizerCase,),
    result_type=RegularizerResult,
    fields=(
        CaseField("weights", "ndarray", "one weight matrix, (units, fan_in)"),
        CaseField(
            "hyperparameters", "dict[str, float]", "the spec's coefficient (l1, l2, max_value)"
        ),
        CaseField("content", "str", "how the weights were drawn (informative)"),
    ),
    returns="a penalty: {'value': the penalty (shape ()), 'grad': its autodiff gradient, shaped "
    "like weights}; a constraint: {'weights': the constrained weights}",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "regularizers",
        ("weights",),
        draw_regularizer_case,
        evaluate_regularizer,
        "penalty value and autodiff gradient, or the constrained weights, of one (units, fan_in) "
        "weight matrix, within the tolerance policy",
        contract=CONTRACT,
    )
)
