r"""A tree of tensors as one zero-padded vector, for compiled code (``torch.compile``, ``jax.jit``)
that should see one shape whatever the case's: framework-neutral, shared by the compiled rows of
the adapters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trainspec.conformance.strategies import MAX_ELEMENTS

__all__ = ["from_flat", "to_flat"]


def to_flat(tree: Mapping[str, np.ndarray], size: int = MAX_ELEMENTS) -> np.ndarray:
    """The tree's tensors raveled, concatenated in key order and zero-padded to ``size``."""
    flat = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in tree.values()])
    if flat.size > size:
        raise ValueError(f"tree: {flat.size} elements, at most size={size} fit the flat vector")
    return np.concatenate([flat, np.zeros(size - flat.size)])


def from_flat(flat: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`to_flat` for tensors shaped as ``like``'s."""
    out: dict[str, np.ndarray] = {}
    i = 0
    for k, v in like.items():
        n = int(np.size(v))
        out[k] = np.asarray(flat[i : i + n], dtype=np.float64).reshape(np.shape(v))
        i += n
    return out
