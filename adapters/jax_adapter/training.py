r"""JAX's training procedure: flax's early-stopping helper (``train.early_stopping``) and
``jax.grad`` of an MLP (``train.backprop``).

Early stopping
    ``flax.training.early_stopping.EarlyStopping(min_delta=, patience=)`` is a pure PyTree:
    ``update(metric)`` returns a new one with ``should_stop`` and ``has_improved``. The loop is
    the one its docstring shows: ``update`` after each epoch with the validation loss (a JAX
    scalar of the dtype under test), break when ``should_stop``. flax returns no parameters; its
    user saves them when ``has_improved`` (:func:`run_early_stopping`), so the restored epoch is
    the last epoch with ``has_improved``.

Backprop
    The MLP in ``jax.numpy`` with the reference's layout ($z = h W^\top + b$), activations
    ``jnp.tanh``, ``jax.nn.sigmoid``, ``jax.nn.relu``, and optax's losses:
    ``optax.losses.l2_loss`` ($\tfrac12 (y-t)^2$) summed for ``half_sse``,
    ``optax.losses.squared_error`` averaged for ``mse``; gradients from ``jax.grad``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.early_stopping import EarlyStopping

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.kinds.training.early_stopping import EarlyStoppingCase

__all__ = ["ACTIVATIONS", "implementations", "mlp_loss", "run_backprop", "run_early_stopping"]

ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "identity": lambda z: z,
}


def run_early_stopping(
    case: EarlyStoppingCase, dtype: str, device: str, *, patience_offset: int = 0
) -> dict[str, int]:
    """flax's ``EarlyStopping`` over the case's losses, saving at every ``has_improved``.

    ``patience_offset`` builds a planted fault (the patience counted from the wrong check)."""
    jdt = _DTYPES[dtype]
    with jax.default_device(_jax_device(device)):
        es = EarlyStopping(min_delta=case.min_delta, patience=case.patience + patience_offset)
        saved, stop = -1, -1
        for epoch, loss in enumerate(case.losses):
            es = es.update(jnp.asarray(loss, dtype=jdt))
            if es.has_improved:
                saved = epoch  # the user saves the parameters here
            if es.should_stop:
                stop = epoch
                break
    last = stop if stop >= 0 else len(case.losses) - 1
    return {"stop_epoch": stop, "restored_epoch": saved if saved >= 0 else last}


def mlp_loss(
    params: Mapping[str, Any],
    x: Any,
    t: Any,
    activations: tuple[str, ...],
    loss: str,
    act: Mapping[str, Callable[[Any], Any]] = ACTIVATIONS,
) -> Any:
    """The case's MLP in ``jax.numpy`` and its loss from ``optax.losses``."""
    h = x
    for k, a in enumerate(activations, start=1):
        h = act[a](h @ params[f"W{k}"].T + params[f"b{k}"])
    if loss == "mse":
        return jnp.mean(optax.losses.squared_error(h, t))
    return jnp.sum(optax.losses.l2_loss(h, t))


@functools.cache
def _jitted_grad(activations: tuple[str, ...], loss: str, act_key: tuple[Any, ...]) -> Any:
    act = dict(act_key)
    return jax.jit(jax.grad(lambda p, x, t: mlp_loss(p, x, t, activations, loss, act)))


def run_backprop(
    case: BackpropCase,
    dtype: str,
    device: str,
    act: Mapping[str, Callable[[Any], Any]] = ACTIVATIONS,
) -> dict[str, np.ndarray]:
    """``jax.jit(jax.grad(loss))`` with respect to every weight and bias (jitted, as a training
    step is: one compilation per example instead of one per operation and shape)."""
    jdt = _DTYPES[dtype]
    with jax.default_device(_jax_device(device)):
        params = {k: jnp.asarray(v, dtype=jdt) for k, v in case.params.items()}
        x, t = jnp.asarray(case.x, dtype=jdt), jnp.asarray(case.t, dtype=jdt)
        grad = _jitted_grad(case.activations, case.loss, tuple(sorted(act.items())))
        grads = grad(params, x, t)
    return {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "train.early_stopping",
            "flax.training.early_stopping.EarlyStopping",
            run_early_stopping,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
        Implementation(
            "train.backprop",
            "jit(grad(jnp MLP, optax.losses))",
            run_backprop,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
    ]
