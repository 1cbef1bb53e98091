r"""optax's gradient clipping: ``optax.clip`` (``clip.value``), ``optax.clip_by_block_rms``
(``clip.norm``, which compares each tensor's root mean square with the threshold: the ``measure``
variant ``rms``), ``optax.clip_by_global_norm`` and the same wrapped in ``optax.apply_if_finite``
(``clip.global_norm``; the wrapper rejects a step with non-finite updates: the ``skip`` variant).

optax has no per-tensor clipping by the Euclidean norm. Convention mapped here: none; the
transformations take the gradient tree as it is, the threshold in the gradients' dtype
(:func:`threshold_array`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trainspec.adapters.jax_adapter import JAX_DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.clipping import ClippingCase

__all__ = [
    "MAX_CONSECUTIVE_ERRORS",
    "implementations",
    "one_update",
    "run_optax_clipping",
    "threshold_array",
]

#: apply_if_finite gives up skipping after this many non-finite steps in a row; one example is
#: one step, so every non-finite step is skipped
MAX_CONSECUTIVE_ERRORS = 1_000_000


def threshold_array(value: float, dtype: str) -> jax.Array:
    """The threshold as a scalar of the gradients' dtype (as a user's ``jnp`` constant would be)."""
    return jnp.asarray(value, dtype=JAX_DTYPES[dtype])


Apply = Callable[[dict[str, jax.Array], jax.Array], dict[str, jax.Array]]


def one_update(make: Callable[[Any], optax.GradientTransformation]) -> Apply:
    """``(grads, K) -> updates``: one ``update`` of ``make(K)`` from its initial state."""

    def apply(grads: dict[str, jax.Array], k: jax.Array) -> dict[str, jax.Array]:
        t = make(k)
        return t.update(grads, t.init(grads), grads)[0]

    return apply


def run_optax_clipping(
    apply: Apply, case: ClippingCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """``apply`` (a :func:`one_update`) on the case's gradients."""
    with jax.default_device(_jax_device(device)):
        grads = {k: jnp.asarray(v, dtype=JAX_DTYPES[dtype]) for k, v in case.grads.items()}
        out = apply(grads, threshold_array(case.threshold, dtype))
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _impl(
    spec_id: str,
    name: str,
    make: Callable[[Any], optax.GradientTransformation],
) -> Implementation:
    # compiled once per tree of shapes and dtype (eager, every primitive compiles per shape and
    # apply_if_finite's lax.cond is traced anew on every call)
    apply = jax.jit(one_update(make))
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_optax_clipping(apply, case, dtype, device),
        dtypes=("float32", "float64", "float16"),
        devices=("cpu", "cuda"),
    )


def implementations() -> list[Implementation]:
    return [
        _impl("clip.value", "optax.clip", optax.clip),
        _impl("clip.norm", "optax.clip_by_block_rms", optax.clip_by_block_rms),
        _impl("clip.global_norm", "optax.clip_by_global_norm", optax.clip_by_global_norm),
        _impl(
            "clip.global_norm",
            "optax.apply_if_finite(clip_by_global_norm)",
            lambda k: optax.apply_if_finite(optax.clip_by_global_norm(k), MAX_CONSECUTIVE_ERRORS),
        ),
    ]
