r"""One optimizer case on one flat parameter of a fixed length, for code that compiles per shape.

A framework that compiles its operations for each new shape (JAX dispatches every eager
operation as an XLA computation compiled per shape and dtype; ``jax.jit`` and
``torch.compile`` trace per shape) pays a compile for each shape the kit draws. The optimizers
of ``opt.*`` are elementwise: no element of the update reads another, so a case runs unchanged
on one parameter ``flat`` of :data:`~trainspec.conformance.strategies.MAX_ELEMENTS` elements
holding every tensor of the case, raveled and concatenated in key order and zero-padded
(:func:`flat_case`), and its result is cut back to the case's shapes (:func:`from_flat`). The
padding (parameter, gradients and state 0) never reaches the case's elements, whatever it
computes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.strategies import MAX_ELEMENTS
from trainspec.reference.optimizers.common import CanonicalState

__all__ = ["FLAT_NAME", "flat_case", "from_flat", "to_flat"]

#: the name of the one parameter of a flat case
FLAT_NAME = "flat"


def to_flat(tree: Mapping[str, np.ndarray], size: int = MAX_ELEMENTS) -> np.ndarray:
    r"""The tree's tensors raveled, concatenated in key order and zero-padded to ``size``:
    $(\operatorname{vec} x_1, \dots, \operatorname{vec} x_k, 0, \dots, 0) \in \mathbb{R}^{size}$."""
    parts = [np.ravel(np.asarray(v, dtype=np.float64)) for v in tree.values()]
    flat = np.concatenate(parts) if parts else np.zeros(0)
    if flat.size > size:
        raise ValueError(f"tree: {flat.size} elements, at most size={size} fit the flat parameter")
    return np.concatenate([flat, np.zeros(size - flat.size)])


def from_flat(flat: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`to_flat` for tensors shaped as ``like``'s (the padding dropped)."""
    out: dict[str, np.ndarray] = {}
    i = 0
    for k, v in like.items():
        n = int(np.size(v))
        out[k] = np.asarray(flat[i : i + n], dtype=np.float64).reshape(np.shape(v))
        i += n
    return out


def flat_case(case: OptimizerCase, size: int = MAX_ELEMENTS) -> OptimizerCase:
    """``case`` with every tree (parameters, each step's gradients, each state buffer) replaced by
    the one-parameter tree ``{FLAT_NAME: to_flat(tree, size)}``; learning rates, hyperparameters
    and the step count unchanged."""

    def one(tree: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {FLAT_NAME: to_flat(tree, size)}

    state = None
    if case.state is not None:
        buffers = {b: one(t) for b, t in case.state.buffers.items()}
        state = CanonicalState(case.state.count, buffers)
    return OptimizerCase(
        params=one(case.params),
        grads=[one(g) for g in case.grads],
        learning_rates=case.learning_rates,
        hyperparameters=case.hyperparameters,
        state=state,
    )
