r"""The backprop kind: a framework's autodiff gradients of a small MLP against the hand-derived
chain rule (:func:`~trainspec.reference.training.mlp_backprop`).

Each example draws an MLP of 1 to 3 dense layers $z_k = h_{k-1}W_k^\top + b_k$ (1 to 5 units per
layer, 1 to 3 outputs), an activation per layer among tanh, sigmoid, relu and identity, a loss
(``half_sse`` or ``mse``), a batch of 1 to 6 inputs and targets. Weights, biases, inputs and
targets are of magnitude $10^{-1}$ or $1$ (normal, uniform, a third exactly zero, or constant);
through three identity or ReLU layers pre-activations still reach a few hundred, where sigmoid
and tanh saturate. Every value is exactly representable in the dtype. The framework
returns $\partial l/\partial W_k$ and $\partial l/\partial b_k$, compared element by element
with the tracked reference (the tolerance policy, :mod:`trainspec.conformance.tolerance`).

Hard regions, as explicit choices
    * ``zero_first_row``: the first input row is exactly 0, and with ``zero_first_bias`` the
      first unit's bias too, so that a first-layer ReLU sees an exact $z = 0$ and the convention
      ``relu_grad_at_zero`` is observable (biases drawn with zeros do the same elsewhere);
    * saturating units: large $|z|$ after unbounded (identity, ReLU) layers.

ReLU's derivative is a step: where a pre-activation is *computed* (rounded) and lies within its
rounding bound of 0, its sign, hence the derivative, is not determined by the dtype's rounding,
and no tolerance can cover it. Such examples are rejected (``hypothesis.assume``); an exact 0
(a zero error bound) is kept, because every framework computes it exactly.

``run(case, dtype, device)`` returns ``{"W1": ..., "b1": ..., ...}`` in the reference's layout:
``W_k`` of shape ``(n_out, n_in)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import CaseField, KindContract, structure_of
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import make_array
from trainspec.conformance.tolerance import SAFETY, Comparison, compare_trees, floor
from trainspec.conformance.tracked import Tracked, track_tree
from trainspec.reference.training import ACTIVATIONS, LOSSES, mlp_backprop, mlp_forward

__all__ = [
    "CONTRACT",
    "KIND",
    "BackpropCase",
    "BackpropResult",
    "draw_backprop_case",
    "relu_sign_is_determined",
]

_DISTS = ("normal", "uniform", "with_zeros", "constant")


@dataclass(frozen=True)
class BackpropCase:
    """One example: the MLP's parameters, a batch ``x`` and targets ``t``, activations, loss."""

    params: Mapping[str, np.ndarray]
    x: np.ndarray
    t: np.ndarray
    activations: tuple[str, ...]
    loss: str

    @property
    def layers(self) -> int:
        return len(self.activations)

    def summary(self) -> dict[str, Any]:
        return {
            "activations": list(self.activations),
            "loss": self.loss,
            "x": summarize_array(self.x, 12),
            "t": summarize_array(self.t, 12),
            "params": {k: summarize_array(v, 12) for k, v in self.params.items()},
        }


#: What ``run`` returns for a :class:`BackpropCase`: the gradient of the loss with respect to every
#: parameter, ``{name: array shaped like params[name]}``.
BackpropResult: TypeAlias = Mapping[str, FloatArray]


def _draw(
    data: Any, shape: tuple[int, ...], dtype: str, label: str, exponents: Sequence[int]
) -> np.ndarray:
    dist, exponent, seed = data.draw(
        st.tuples(
            st.sampled_from(_DISTS), st.sampled_from(list(exponents)), st.integers(0, 2**32 - 1)
        ),
        label=label,
    )
    return make_array(shape, dtype, dist, exponent, seed)


def tracked_inputs(case: BackpropCase, dtype: str) -> tuple[dict[str, Tracked], Tracked, Tracked]:
    """The case's exact inputs as tracked arrays under ``dtype``'s unit roundoff."""
    tp = track_tree(case.params, dtype)
    u = next(iter(tp.values())).u
    return tp, Tracked(case.x, 0.0, u), Tracked(case.t, 0.0, u)


def relu_sign_is_determined(case: BackpropCase, dtype: str) -> bool:
    """Every ReLU pre-activation is an exact 0 or farther from 0 than its rounding bound."""
    if "relu" not in case.activations:
        return True
    tp, tx, _ = tracked_inputs(case, dtype)
    zs, _ = mlp_forward(tp, tx, case.activations)
    for z, a in zip(zs, case.activations, strict=True):
        if a != "relu":
            continue
        exact_zero = (z.value == 0) & (z.err == 0)
        clear = np.abs(z.value) > SAFETY * z.err + floor(dtype)
        if not np.all(exact_zero | clear):
            return False
    return True


def draw_backprop_case(data: Any, entry: Any, dtype: str, check: str) -> BackpropCase:
    """One example (see the module docstring)."""
    if check != "gradients":
        raise ValueError(f"check={check!r}: must be 'gradients'")
    layers = data.draw(st.integers(1, 3), label="layers")
    sizes = [data.draw(st.integers(1, 5), label="inputs")]
    sizes += [data.draw(st.integers(1, 5), label=f"units[{k}]") for k in range(1, layers)]
    sizes.append(data.draw(st.integers(1, 3), label="outputs"))
    acts = tuple(
        data.draw(st.sampled_from(ACTIVATIONS), label=f"activation[{k}]") for k in range(layers)
    )
    loss = data.draw(st.sampled_from(LOSSES), label="loss")
    batch = data.draw(st.integers(1, 6), label="batch")
    params: dict[str, np.ndarray] = {}
    for k in range(1, layers + 1):
        params[f"W{k}"] = _draw(data, (sizes[k], sizes[k - 1]), dtype, f"W{k}", (-1, 0))
        params[f"b{k}"] = _draw(data, (sizes[k],), dtype, f"b{k}", (-1, 0))
    x = _draw(data, (batch, sizes[0]), dtype, "x", (0, -1))
    if data.draw(st.booleans(), label="zero_first_row"):
        x = x.copy()
        x[0] = 0.0
        if data.draw(st.booleans(), label="zero_first_bias"):  # z = 0 exactly in unit 0
            params["b1"] = params["b1"].copy()
            params["b1"][0] = 0.0
    t = _draw(data, (batch, sizes[-1]), dtype, "t", (0, -1))
    case = BackpropCase(params, x, t, acts, loss)
    assume(relu_sign_is_determined(case, dtype))
    return case


def evaluate_backprop(
    entry: Any, impl: Any, case: BackpropCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once; compare its gradients with every variant's tracked reference."""
    actual = impl.run(case, dtype, device)
    out: dict[Any, Comparison] = {}
    for v in variants:
        tp, tx, tt = tracked_inputs(case, dtype)
        expected = mlp_backprop(
            tp,
            tx,
            tt,
            case.activations,
            case.loss,
            relu_grad_at_zero=v.options["relu_grad_at_zero"],
        )
        out[v] = compare_trees(actual, expected, dtype)
    return out


def _expected(entry: Any, impl: Any, case: BackpropCase, dtype: str, check: str) -> Any:
    tp, tx, tt = tracked_inputs(case, dtype)
    options = entry.default_variant.options
    return structure_of(
        mlp_backprop(
            tp,
            tx,
            tt,
            case.activations,
            case.loss,
            relu_grad_at_zero=options["relu_grad_at_zero"],
        )
    )


CONTRACT = KindContract(
    case_types=(BackpropCase,),
    result_type=BackpropResult,
    result_name="BackpropResult",
    fields=(
        CaseField(
            "params",
            "Mapping[str, ndarray]",
            "the MLP's weights and biases: W1, b1, W2, b2, ... (W_k is (in, out))",
        ),
        CaseField("x", "ndarray", "the input batch, (m, in)"),
        CaseField("t", "ndarray", "the targets, (m, out)"),
        CaseField("activations", "tuple[str, ...]", f"one per layer, among {list(ACTIVATIONS)}"),
        CaseField("loss", "str", f"the loss, one of {list(LOSSES)}"),
    ),
    returns="the gradient of the loss with respect to every parameter, from the framework's "
    "autodiff: {name: array shaped like params[name]}",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "training.backprop",
        ("gradients",),
        draw_backprop_case,
        evaluate_backprop,
        "autodiff gradients of every weight and bias of a drawn 1-3 layer MLP (tanh, sigmoid, "
        "relu, identity; half_sse or mse) against the hand-derived chain rule, within the "
        "tolerance policy",
        contract=CONTRACT,
    )
)
