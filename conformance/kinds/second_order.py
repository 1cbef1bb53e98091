r"""The second-order kind: a framework's autodiff Hessian and Hessian-vector product (and the
gradient) of a small model against their closed forms (:mod:`trainspec.reference.second_order`).

Each example draws one of the three models (``quadratic``, ``logistic_regression``,
``tanh_neuron``) with 1 to 4 parameters and 1 to 8 samples, the point $x_0$ and a direction $v$.
The framework writes the model's loss with its own operations (the same expression as
:func:`~trainspec.reference.second_order.loss`) and returns ``{"grad": (n,), "hessian": (n, n),
"hvp": (n,)}`` from its autodiff (reverse-over-reverse or forward-over-reverse), or the subset
its API offers (``OUTPUTS``; a code path that only forms Hessian-vector products returns
``grad`` and ``hvp``). Each is compared
element by element with the tracked closed form (the tolerance policy,
:mod:`trainspec.conformance.tolerance`); where autodiff forms a quantity in another order than the
closed form (the logistic curvature $\sigma - \sigma^2$ instead of $\sigma(1-\sigma)$; $Hv$ as
$X^\top(d \odot Xv)$ or $(X^\top D X) v$) the reference's bound covers both orders.

Magnitudes: the quadratic's $A$, $b$, $x_0$ and $v$ come from the general array recipes (any
magnitude the dtype holds with headroom); for the two data models, $X$ and $x_0$ are of magnitude
$10^{-1}$ or $1$, so that $|z| = |X x_0|$ stays far below $\exp$'s overflow in float32 (the
logistic loss is written $\log(1 + e^z)$, as a user would); targets are labels in $\{0, 1\}$ or
values in $[-1, 1]$.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import CaseField, KindContract, MappingOf, structure_of
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import draw_array, make_array
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import round_to, track_tree
from trainspec.reference.second_order import (
    MODELS,
    gradient,
    hessian,
    hessian_vector_product,
)

__all__ = [
    "CONTRACT",
    "KIND",
    "OUTPUTS",
    "SecondOrderCase",
    "SecondOrderResult",
    "draw_second_order_case",
    "reference_outputs",
]

#: what an implementation may return; an API that offers only Hessian-vector products (and the
#: gradient) returns those, and is compared on them
OUTPUTS = ("grad", "hessian", "hvp")

_DISTS = ("normal", "uniform", "with_zeros", "constant")


@dataclass(frozen=True)
class SecondOrderCase:
    """One example: the model, its data, the point ``x`` and the direction ``v``."""

    model: str
    x: np.ndarray
    data: Mapping[str, np.ndarray]
    v: np.ndarray

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "x": summarize_array(self.x, 16),
            "v": summarize_array(self.v, 16),
            "data": {k: summarize_array(a, 16) for k, a in self.data.items()},
        }


class SecondOrderResult(TypedDict, total=False):
    """What ``run`` returns for a :class:`SecondOrderCase`: every quantity the framework's
    autodiff offers (a non-empty subset): ``grad`` ``(n,)``, ``hessian`` ``(n, n)``, ``hvp``
    ``(n,)``."""

    grad: FloatArray
    hessian: FloatArray
    hvp: FloatArray


def _moderate(data: Any, shape: tuple[int, ...], dtype: str, label: str) -> np.ndarray:
    dist, exponent, seed = data.draw(
        st.tuples(st.sampled_from(_DISTS), st.sampled_from([0, -1]), st.integers(0, 2**32 - 1)),
        label=label,
    )
    return make_array(shape, dtype, dist, exponent, seed)


def draw_second_order_case(data: Any, entry: Any, dtype: str, check: str) -> SecondOrderCase:
    """One example (see the module docstring)."""
    if check != "hessian":
        raise ValueError(f"check={check!r}: must be 'hessian'")
    model = data.draw(st.sampled_from(MODELS), label="model")
    n = data.draw(st.integers(1, 4), label="parameters")
    if model == "quadratic":
        x = draw_array(data, (n,), dtype, "x")
        d = {"A": draw_array(data, (n, n), dtype, "A"), "b": draw_array(data, (n,), dtype, "b")}
        v = draw_array(data, (n,), dtype, "v")
        return SecondOrderCase(model, x, d, v)
    m = data.draw(st.integers(1, 8), label="samples")
    x = _moderate(data, (n,), dtype, "x")
    xs = _moderate(data, (m, n), dtype, "X")
    seed = data.draw(st.integers(0, 2**32 - 1), label="targets seed")
    rng = np.random.default_rng(seed)
    if model == "logistic_regression":
        d = {"X": xs, "y": rng.integers(0, 2, m).astype(np.float64)}
    else:
        d = {"X": xs, "t": round_to(rng.uniform(-1.0, 1.0, m), dtype)}
    v = _moderate(data, (n,), dtype, "v")
    return SecondOrderCase(model, x, d, v)


def reference_outputs(case: SecondOrderCase, dtype: str) -> dict[str, Any]:
    """The tracked closed forms: ``{"grad", "hessian", "hvp"}``."""
    t = track_tree({"x": case.x, "v": case.v, **case.data}, dtype)
    d = {k: t[k] for k in case.data}
    return {
        "grad": gradient(case.model, t["x"], d),
        "hessian": hessian(case.model, t["x"], d),
        "hvp": hessian_vector_product(case.model, t["x"], d, t["v"]),
    }


def evaluate_second_order(
    entry: Any, impl: Any, case: SecondOrderCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once; compare with the closed forms (the entry has one variant)."""
    actual = impl.run(case, dtype, device)
    unknown = set(actual) - set(OUTPUTS)
    if not actual or unknown:
        raise ValueError(
            f"the adapter must return some of {list(OUTPUTS)}; it returned {sorted(actual)}"
        )
    expected = reference_outputs(case, dtype)
    comparison = compare_trees(actual, {k: expected[k] for k in actual}, dtype)
    return {v: comparison for v in variants}


def _expected(entry: Any, impl: Any, case: SecondOrderCase, dtype: str, check: str) -> Any:
    full = structure_of(reference_outputs(case, dtype))
    return MappingOf(full.items, subset=True)


CONTRACT = KindContract(
    case_types=(SecondOrderCase,),
    result_type=SecondOrderResult,
    fields=(
        CaseField(
            "model",
            "str",
            "'quadratic', 'logistic_regression' or 'tanh_neuron': the model whose loss to differentiate",
        ),
        CaseField("x", "ndarray", "the point (n,) at which to differentiate"),
        CaseField("data", "Mapping[str, ndarray]", "the model's data by name (quadratic: A and b)"),
        CaseField("v", "ndarray", "the direction (n,) of the Hessian-vector product"),
    ),
    returns="some of {'grad': (n,), 'hessian': (n, n), 'hvp': (n,)} from the framework's "
    "autodiff: every quantity its API offers (a non-empty subset)",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "second_order",
        ("hessian",),
        draw_second_order_case,
        evaluate_second_order,
        "gradient, Hessian and Hessian-vector product from the framework's autodiff against "
        "the closed forms of a quadratic, logistic regression and a tanh neuron, within the "
        "tolerance policy",
        contract=CONTRACT,
    )
)
