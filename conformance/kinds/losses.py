r"""The loss kind: a loss's value and its gradient with respect to the outputs (logits).

An example is a batch of ``m`` samples with ``K`` outputs each (``outputs``, shape ``(m, K)``) and
targets of the kind the entry's :class:`~trainspec.reference.losses.LossModel` asks for: real
targets (regression), integer class labels (softmax cross-entropy) or 0/1 labels per output
(one-vs-all logistic). The implementation returns ``{"value": L, "grad": dL/d outputs}``, the
gradient by the framework's autodiff; both are compared with every variant within the tolerance
policy.

Checks
------
``batch``
    regression outputs drawn with the strategies' magnitudes (1e-12 to 1e12 in float32);
    logits of magnitude $10^{-3}$ to $10$ (a network's outputs). Both include ``m = 1`` and
    ``K = 1`` (where the reductions coincide).
``huge_logits``
    outputs $\pm k\cdot 10^e$ for integers $k \in [1, 10]$ and $e \in [3, 4]$ (float32,
    bfloat16), $[3, 30]$ (float64) or $e = 3$ (float16; $k$ smaller where a sum over the batch
    of per-sample losses would leave float16's range), where a naive $\log\sum e^z$ or $\log\sigma(z)$ overflows: only the
    stable forms pass.

The subnormal range
-------------------
Every gradient drawn here is 0 (below ``exp(-745)``, zero in float64 as well) or a normal number
of the dtype. Where $\sigma(z)$ or a softmax probability is *subnormal* in the dtype (float32:
$-103 < z < -87$, or logit gaps in that range), PyTorch, TensorFlow and JAX all return 0 (they
evaluate $1/(1 + e^{-z})$, whose $e^{-z}$ overflows), a relative error of 1 that no first-order
rounding rule bounds. Huge logits are therefore integer multiples of $10^3$ or more (every gap
is 0 or at least $1000$), and the ``batch`` logits stay below $|z| = 40$.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import CaseField, KindContract, structure_of
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import draw_array, make_array
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import largest_finite, round_to, track_tree

__all__ = [
    "CONTRACT",
    "KIND",
    "LossCase",
    "LossResult",
    "draw_loss_case",
    "evaluate_loss",
    "fit_squares",
]

#: batch sizes and outputs per sample: fixed menus (including 1, where reductions coincide),
#: because frameworks that compile per shape (JAX) would otherwise compile for every example
SAMPLES = (1, 3, 8)
OUTPUTS = (1, 4, 10)
#: decimal exponents of the huge logits per dtype: $k\cdot 10^e \le 10^{e+1}$ stays finite
#: (float16: at most $10^4 < 65504$)
_HUGE_EXPONENTS = {
    "float16": (3, 3),
    "bfloat16": (3, 4),
    "float32": (3, 4),
    "float64": (3, 30),
}


@dataclass(frozen=True)
class LossCase:
    """One example: ``outputs`` ``(m, K)``; ``targets`` like it, or ``(m,)`` integer labels."""

    outputs: np.ndarray
    targets: np.ndarray
    target_kind: str

    def summary(self) -> dict[str, Any]:
        return {
            "outputs": summarize_array(self.outputs, max_elements=16),
            "targets": summarize_array(self.targets, max_elements=16),
            "target_kind": self.target_kind,
        }


class LossResult(TypedDict):
    """What ``run`` returns for a :class:`LossCase`: the loss (shape ``()``) and its autodiff
    gradient with respect to ``outputs``."""

    value: FloatArray
    grad: FloatArray


def draw_loss_case(data: Any, entry: Any, dtype: str, check: str) -> LossCase:
    """One example for a loss spec (see the module docstring)."""
    if check not in ("batch", "huge_logits"):
        raise ValueError(f"check={check!r}: must be 'batch' or 'huge_logits'")
    m = data.draw(st.sampled_from(SAMPLES), label="samples")
    k = data.draw(st.sampled_from(OUTPUTS), label="outputs per sample")
    kind = entry.model.targets
    if check == "batch" and kind == "real":
        y = draw_array(data, (m, k), dtype, "outputs")
    elif check == "batch":
        dist = data.draw(st.sampled_from(["normal", "uniform", "with_zeros"]), label="logits")
        e = data.draw(st.integers(-3, 1), label="decimal exponent of the logits")
        seed = data.draw(st.integers(0, 2**32 - 1), label="logits seed")
        y = np.clip(make_array((m, k), dtype, dist, e, seed), -40.0, 40.0)
    else:
        lo, hi = _HUGE_EXPONENTS[dtype]
        e = data.draw(st.integers(lo, hi), label="decimal exponent of the logits")
        seed = data.draw(st.integers(0, 2**32 - 1), label="logits seed")
        rng = np.random.default_rng(seed)
        # a sum over the batch of per-sample losses (each up to the largest gap, 2 k 10^e)
        # stays below a quarter of the dtype's range (float16: k = 1 for 8 samples)
        top = largest_finite(dtype) / (4.0 * 2.0 * m * 10.0**e)
        mult = rng.integers(1, int(min(10, max(1, top))) + 1, (m, k))
        mult = mult * rng.choice([-1.0, 1.0], (m, k))
        y = round_to(mult * 10.0**e, dtype)
    seed = data.draw(st.integers(0, 2**32 - 1), label="targets seed")
    rng = np.random.default_rng(seed)
    if kind == "labels":
        t = rng.integers(0, k, m)
    elif kind == "binary":
        t = (rng.random((m, k)) < 0.5).astype(np.float64)
    else:
        t = (
            draw_array(data, (m, k), dtype, "targets")
            if check == "batch"
            else round_to(y * rng.uniform(0.5, 1.5, y.shape), dtype)
        )
        y, t = fit_squares(y, t, dtype)
    return LossCase(y, t, kind)


def fit_squares(y: np.ndarray, t: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    r"""Real outputs and targets scaled by one power of two $2^{-j}$ (exact, but where a value
    leaves the normal range: it is then rounded to the dtype again) so that the sum of the
    squared errors, $\sum (y - t)^2 \le n \max (y - t)^2$, and every square stay below a quarter
    of the dtype's largest finite number: a regression loss never overflows the dtype under test
    (float16 holds $(y - t)^2$ only for $|y - t| < 128$). ``(y, t)`` unchanged where they fit."""
    with np.errstate(over="ignore", invalid="ignore"):
        worst = float(np.max(np.abs(y - t), initial=0.0))
    limit = largest_finite(dtype) / 4.0
    n = max(1, y.size)
    if not np.isfinite(worst) or worst == 0.0 or n * worst * worst <= limit:
        return y, t
    j = math.ceil(math.log2(worst * math.sqrt(n / limit)))
    return round_to(np.ldexp(y, -j), dtype), round_to(np.ldexp(t, -j), dtype)


def evaluate_loss(
    entry: Any, impl: Any, case: LossCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    """Run the framework once and compare its value and gradient with every variant's."""
    actual = impl.run(case, dtype, device)
    tracked = track_tree({"y": case.outputs}, dtype)
    y = tracked["y"]
    t = (
        case.targets
        if case.target_kind == "labels"
        else track_tree({"t": case.targets}, dtype)["t"]
    )
    return {
        v: compare_trees(actual, entry.model.evaluate(v.options, y, t), dtype) for v in variants
    }


def _expected(entry: Any, impl: Any, case: LossCase, dtype: str, check: str) -> Any:
    y = track_tree({"y": case.outputs}, dtype)["y"]
    t = (
        case.targets
        if case.target_kind == "labels"
        else track_tree({"t": case.targets}, dtype)["t"]
    )
    return structure_of(entry.model.evaluate(entry.default_variant.options, y, t))


CONTRACT = KindContract(
    case_types=(LossCase,),
    result_type=LossResult,
    fields=(
        CaseField("outputs", "ndarray", "the network's outputs (logits), (m, K)"),
        CaseField("targets", "ndarray", "(m, K) real or 0/1 targets, or (m,) integer class labels"),
        CaseField("target_kind", "str", "'real', 'binary' (0/1 per output) or 'labels'"),
    ),
    returns="{'value': the loss (shape ()), 'grad': its autodiff gradient with respect to "
    "outputs, (m, K)}",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "losses",
        ("batch", "huge_logits"),
        draw_loss_case,
        evaluate_loss,
        "loss value and autodiff gradient with respect to the outputs of a (samples, outputs) "
        "batch, within the tolerance policy; then logits of 1e3 and more",
        contract=CONTRACT,
    )
)
