r"""JAX's activations (``act.*``): ``jax.nn.*``, ``jax.numpy`` and flax's ``PReLU``; derivatives by
``jax.vjp``.

Conventions mapped here (each one small function, tested in
``tests/adapters/jax_adapter/test_activations.py``):

* the spec's hyperparameter names to JAX's arguments (the leaky slope $\alpha$ is
  ``negative_slope``; ELU's is ``alpha``): :func:`jax_kwargs`;
* flax's ``PReLU`` keeps its one shared slope as the parameter ``params["negative_slope"]``, a
  scalar created from ``negative_slope_init``: :func:`prelu_params` builds the parameter tree
  for a given $\alpha$ (the cotangent of that leaf is the spec's cotangent of ``alpha``).

JAX has no RReLU (``act.rrelu`` is not offered).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from trainspec.adapters.jax_adapter import _jax_device
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.activations import MAX_ELEMENTS, MAX_SIDE, ActivationCase

__all__ = [
    "implementations",
    "jax_kwargs",
    "pad_case",
    "prelu_params",
    "run_activation",
]

_DTYPES = {"float32": jnp.float32, "float64": jnp.float64, "float16": jnp.float16}
_ARGUMENT = {"act.leaky_relu": {"alpha": "negative_slope"}, "act.elu": {"alpha": "alpha"}}

# fn(x, hyperparameters, params) -> y, with ``params`` a dict of the differentiable parameters
Fn = Callable[[Any, Mapping[str, float], dict[str, Any]], Any]


def jax_kwargs(spec_id: str, hyperparameters: Mapping[str, float]) -> dict[str, float]:
    """The spec's hyperparameters as JAX's keyword arguments (``alpha`` -> ``negative_slope``
    for the leaky ReLU)."""
    names = _ARGUMENT.get(spec_id, {})
    return {names[k]: float(v) for k, v in hyperparameters.items() if k in names}


def prelu_params(alpha: Any, dtype: Any) -> dict[str, Any]:
    """flax ``PReLU``'s variables with the slope set to ``alpha`` (a scalar of ``dtype``; a
    traced value inside ``jax.vjp``, whose cotangent is then the spec's cotangent of ``alpha``)."""
    return {"params": {"negative_slope": jnp.asarray(alpha, dtype=dtype)}}


def pad_case(z: np.ndarray, g: np.ndarray | None, rowwise: bool) -> tuple[Any, Any, Any]:
    r"""The case at one fixed shape, so that ``jax.jit`` compiles once per function and dtype.

    Elementwise: ``z`` flattened and padded with zeros to
    :data:`~trainspec.conformance.kinds.activations.MAX_ELEMENTS` (the cotangent with zeros, so
    padding adds nothing to a parameter's cotangent). Row-wise (softmax over the last axis):
    rows padded to ``MAX_SIDE x MAX_SIDE`` with $-\infty$ logits (whose exponential is an exact
    0, so a row's sum and product are unchanged) and cotangent 0. Returns the padded input, the
    padded cotangent (or ``None``) and the function that crops a result back.
    """
    if rowwise:
        z2 = z.reshape(1, -1) if z.ndim == 1 else z
        r, c = z2.shape
        zp: np.ndarray = np.full((MAX_SIDE, MAX_SIDE), -np.inf)
        zp[:r, :c] = z2
        gp: np.ndarray | None = None
        if g is not None:
            gp = np.zeros((MAX_SIDE, MAX_SIDE))
            gp[:r, :c] = g.reshape(r, c)
        return zp, gp, lambda a: np.asarray(a)[:r, :c].reshape(z.shape)
    n = z.size
    zp = np.zeros(MAX_ELEMENTS)
    zp[:n] = z.ravel()
    gp = None
    if g is not None:
        gp = np.zeros(MAX_ELEMENTS)
        gp[:n] = g.ravel()
    return zp, gp, lambda a: np.asarray(a)[:n].reshape(z.shape)


@functools.cache
def _compiled(fn: Fn) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``fn`` and its vector-Jacobian product, jitted (hyperparameters are traced arguments)."""

    def vjp(x: Any, hp: Any, p: Any, g: Any) -> Any:
        _, pullback = jax.vjp(lambda x_, p_: fn(x_, hp, p_), x, p)
        return pullback(g)

    return jax.jit(fn), jax.jit(vjp)


def run_activation(
    fn: Fn,
    case: ActivationCase,
    dtype: str,
    device: str,
    params: Callable[[Mapping[str, float], Any], dict[str, Any]] | None = None,
    *,
    rowwise: bool = False,
) -> dict[str, np.ndarray]:
    """Run ``fn`` (jitted, at the padded shape of :func:`pad_case`) on the case's input; for
    ``derivatives`` the ``jax.vjp`` with the case's cotangent, for the input and for every leaf
    of ``params`` (named by its key)."""
    jdt = _DTYPES[dtype]
    value, vjp = _compiled(fn)
    zp, gp, crop = pad_case(case.z, case.cotangent, rowwise)
    with jax.default_device(_jax_device(device)):
        x = jnp.asarray(zp, dtype=jdt)
        p = params(case.hyperparameters, jdt) if params else {}
        hp = {k: jnp.asarray(v, dtype=jdt) for k, v in case.hyperparameters.items()}
        if case.check == "values":
            return {"y": crop(np.asarray(value(x, hp, p), dtype=np.float64))}
        gx, gparams = vjp(x, hp, p, jnp.asarray(gp, dtype=jdt))
        out = {"z": crop(np.asarray(gx, dtype=np.float64))}
        for name, g in gparams.items():
            out[name] = np.asarray(g, dtype=np.float64).reshape(())
        return out


@functools.cache
def _f(spec_id: str, op: Callable[..., Any]) -> Fn:
    names = _ARGUMENT.get(spec_id, {})
    return lambda x, hp, p: op(x, **{names[k]: v for k, v in hp.items() if k in names})


def _prelu(x: Any, hp: Mapping[str, float], p: dict[str, Any]) -> Any:
    return nn.PReLU(param_dtype=x.dtype).apply(prelu_params(p["alpha"], x.dtype), x)


def _impl(
    spec_id: str,
    name: str,
    fn: Fn,
    *,
    params: Callable[[Mapping[str, float], Any], dict[str, Any]] | None = None,
    description: str = "",
    findings: dict[str, Finding] | None = None,
    rowwise: bool = False,
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_activation(
            fn, case, dtype, device, params, rowwise=rowwise
        ),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
        description=description,
        findings=findings or {},
    )


#: flax's PReLU: NaN slope cotangent where an input is +inf (a region of the example)
PRELU_POSINF = Finding(
    "flax-prelu-posinf-slope-cotangent",
    "the cotangent of the slope is NaN whenever an input is +inf "
    "(expected sum g*min(z, 0), e.g. 0 for z = [inf]): the vjp of "
    "where(x >= 0, x, slope * x) multiplies the masked zero cotangent by x = inf",
    region=lambda case: case.check == "derivatives" and bool(np.any(np.isposinf(case.z))),
    region_text="derivatives of an input with an element +inf",
)


def implementations() -> list[Implementation]:
    return [
        _impl("act.step", "jnp.heaviside(x, 1)", lambda x, hp, p: jnp.heaviside(x, 1.0)),
        _impl("act.step", "jnp.heaviside(x, 0)", lambda x, hp, p: jnp.heaviside(x, 0.0)),
        _impl("act.step", "jnp.sign", lambda x, hp, p: jnp.sign(x)),
        _impl("act.sigmoid", "jax.nn.sigmoid", lambda x, hp, p: jax.nn.sigmoid(x)),
        _impl("act.tanh", "jnp.tanh", lambda x, hp, p: jnp.tanh(x)),
        _impl("act.relu", "jax.nn.relu", lambda x, hp, p: jax.nn.relu(x)),
        _impl("act.leaky_relu", "jax.nn.leaky_relu", _f("act.leaky_relu", jax.nn.leaky_relu)),
        _impl(
            "act.prelu",
            "flax.linen.PReLU",
            _prelu,
            params=lambda hp, dt: {"alpha": jnp.asarray(hp["alpha"], dtype=dt)},
            findings={"*": PRELU_POSINF},
        ),
        _impl("act.elu", "jax.nn.elu", _f("act.elu", jax.nn.elu)),
        _impl("act.selu", "jax.nn.selu", lambda x, hp, p: jax.nn.selu(x)),
        _impl(
            "act.softmax",
            "jax.nn.softmax(axis=-1)",
            lambda x, hp, p: jax.nn.softmax(x, axis=-1),
            rowwise=True,
        ),
    ]
