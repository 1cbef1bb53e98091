r"""optax's losses, value and ``jax.value_and_grad`` gradient with respect to the outputs.

``optax.losses`` returns one loss per element (``squared_error``, ``l2_loss``,
``sigmoid_binary_cross_entropy``) or per sample (``softmax_cross_entropy_with_integer_labels``);
the user reduces. Each row names its reduction: ``mean`` (every element, as optax's examples do)
or ``sum`` for ``l2_loss``, whose $\tfrac12(y - t)^2$ summed is the half sum of squared errors.

Convention mapped here: integer labels are passed as ``int32`` (:func:`labels_array`).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trainspec.adapters.jax_adapter import JAX_DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.losses import LossCase

__all__ = ["implementations", "labels_array", "run_loss", "value_and_gradient"]


def labels_array(labels: np.ndarray) -> jax.Array:
    """Class indices as the integer array optax's integer-label losses expect."""
    return jnp.asarray(np.asarray(labels), dtype=jnp.int32)


def value_and_gradient(
    loss: Callable[[jax.Array, jax.Array], jax.Array],
) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """``jit(value_and_grad(loss))``: built once per implementation, so that XLA compiles once per
    shape and dtype rather than every primitive on every call."""
    return jax.jit(jax.value_and_grad(loss))


def run_loss(
    loss: Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]],
    case: LossCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """``loss(outputs, targets)`` (a :func:`value_and_gradient`): the value and the gradient with
    respect to the outputs."""
    with jax.default_device(_jax_device(device)):
        y = jnp.asarray(case.outputs, dtype=JAX_DTYPES[dtype])
        if case.target_kind == "labels":
            t = labels_array(case.targets)
        else:
            t = jnp.asarray(case.targets, dtype=JAX_DTYPES[dtype])
        value, grad = loss(y, t)
        return {
            "value": np.asarray(value, dtype=np.float64),
            "grad": np.asarray(grad, dtype=np.float64),
        }


def _impl(spec_id: str, name: str, loss: Callable[..., jax.Array]) -> Implementation:
    compiled = value_and_gradient(loss)
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_loss(compiled, case, dtype, device),
        dtypes=("float32", "float64", "float16"),
        devices=("cpu", "cuda"),
    )


def implementations() -> list[Implementation]:
    L = optax.losses
    return [
        _impl(
            "loss.mse", "mean(losses.squared_error)", lambda y, t: jnp.mean(L.squared_error(y, t))
        ),
        _impl("loss.half_sse", "sum(losses.l2_loss)", lambda y, t: jnp.sum(L.l2_loss(y, t))),
        _impl(
            "loss.softmax_ce",
            "mean(losses.softmax_cross_entropy_with_integer_labels)",
            lambda z, y: jnp.mean(L.softmax_cross_entropy_with_integer_labels(z, y)),
        ),
        _impl(
            "loss.logistic",
            "mean(losses.sigmoid_binary_cross_entropy)",
            lambda z, t: jnp.mean(L.sigmoid_binary_cross_entropy(z, t)),
        ),
    ]
