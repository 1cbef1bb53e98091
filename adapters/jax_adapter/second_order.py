r"""JAX's second derivatives (``opt.second_order``): two compositions, two rows.

* ``jax.hessian`` (``jacfwd(jacrev)``, forward-over-reverse) and $Hv$ as
  ``jax.jvp(jax.grad(f), (x,), (v,))`` (Pearlmutter's $R$-operator);
* ``jax.jacrev(jax.grad(f))`` (reverse-over-reverse) and $Hv$ as
  ``jax.grad(lambda x: jnp.vdot(jax.grad(f)(x), v))``.

Each model's loss is written in ``jax.numpy`` exactly as the reference writes it
(:func:`trainspec.reference.second_order.loss`). The three outputs are computed under one
``jax.jit`` (one compilation per example; eager dispatch compiles every operation for every
new shape, several times slower).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.second_order import SecondOrderCase

__all__ = [
    "implementations",
    "loss_function",
    "run_forward_over_reverse",
    "run_reverse_over_reverse",
]


def loss_function(model: str, data: Mapping[str, Any]) -> Callable[[Any], Any]:
    """``x -> J(x)`` for the case's model, in ``jax.numpy``."""
    if model == "quadratic":
        a, b = data["A"], data["b"]
        return lambda x: 0.5 * jnp.sum(x * (a @ x)) + jnp.sum(b * x)
    xs = data["X"]
    if model == "logistic_regression":
        y = data["y"]
        return lambda w: jnp.mean(jnp.log1p(jnp.exp(xs @ w)) - y * (xs @ w))
    t = data["t"]
    return lambda w: 0.5 * jnp.sum((jnp.tanh(xs @ w) - t) ** 2)


def _arrays(case: SecondOrderCase, dtype: str) -> tuple[dict[str, Any], Any, Any]:
    jdt = _DTYPES[dtype]
    data = {k: jnp.asarray(v, dtype=jdt) for k, v in case.data.items()}
    return data, jnp.asarray(case.x, dtype=jdt), jnp.asarray(case.v, dtype=jdt)


def _numpy(out: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


@functools.cache
def _forward_over_reverse(model: str, tangent_is_point: bool) -> Any:
    def outputs(data: Mapping[str, Any], x: Any, v: Any) -> dict[str, Any]:
        f = loss_function(model, data)
        g = jax.grad(f)
        _, hvp = jax.jvp(g, (x,), (x if tangent_is_point else v,))
        return {"grad": g(x), "hessian": jax.hessian(f)(x), "hvp": hvp}

    return jax.jit(outputs)


@functools.cache
def _reverse_over_reverse(model: str) -> Any:
    def outputs(data: Mapping[str, Any], x: Any, v: Any) -> dict[str, Any]:
        g = jax.grad(loss_function(model, data))
        hvp = jax.grad(lambda y: jnp.vdot(g(y), v))(x)
        return {"grad": g(x), "hessian": jax.jacrev(g)(x), "hvp": hvp}

    return jax.jit(outputs)


def run_forward_over_reverse(
    case: SecondOrderCase, dtype: str, device: str, *, tangent_is_point: bool = False
) -> dict[str, np.ndarray]:
    """``jax.grad``, ``jax.hessian`` and ``jax.jvp(jax.grad(f))``, under one ``jax.jit``.

    ``tangent_is_point`` is a planted fault: the jvp pushes $x$ instead of $v$."""
    with jax.default_device(_jax_device(device)):
        data, x, v = _arrays(case, dtype)
        return _numpy(_forward_over_reverse(case.model, tangent_is_point)(data, x, v))


def run_reverse_over_reverse(
    case: SecondOrderCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """``jax.jacrev(jax.grad(f))`` and ``jax.grad(x -> vdot(grad f(x), v))``, under one
    ``jax.jit``."""
    with jax.default_device(_jax_device(device)):
        data, x, v = _arrays(case, dtype)
        return _numpy(_reverse_over_reverse(case.model)(data, x, v))


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "opt.second_order",
            "hessian, jvp(grad)",
            run_forward_over_reverse,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
        Implementation(
            "opt.second_order",
            "jacrev(grad), grad(vdot(grad, v))",
            run_reverse_over_reverse,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        ),
    ]
