r"""flax's dropout: ``flax.linen.Dropout`` (``deterministic=False/True``), ``flax.nnx.Dropout``, and
MC dropout through ``linen.Dropout`` + ``linen.Dense`` applied with ``deterministic=False``.

Conventions mapped here (each in one small, tested function):

* the spec's ``rate`` is flax's ``rate`` unchanged (flax documents it as "the dropout
  probability (*not* the keep rate!)"); whether it acts as a drop or a keep probability is
  *measured* by the kit (variant axis ``rate_meaning``), not assumed: :func:`dropout_arguments`;
* the keys of the passes: ``linen`` takes an explicit key per ``apply``; a user draws a fresh one
  per step, here ``jax.random.split(jax.random.key(seed), passes)``: :func:`pass_keys`.
  ``nnx.Dropout`` holds an ``nnx.Rngs(dropout=seed)`` stream that advances on every call.

Both ``Dropout`` classes select (``lax.select(mask, x / keep_prob, 0)``), so a dropped ``inf`` or
``nan`` becomes 0: the kit reports ``masking=select``. ``Dense``'s kernel is ``(in, out)``, the spec's $W$ as it is; every array and parameter is created
in the dtype under test (float64 needs ``jax_enable_x64``, which the package turns on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax import linen, nnx

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation

__all__ = [
    "MCDropoutDense",
    "dropout_arguments",
    "implementations",
    "pass_keys",
    "run_linen_dropout",
    "run_mc_dropout",
    "run_nnx_dropout",
]


def dropout_arguments(rate: float) -> dict[str, float]:
    """flax's keyword for the spec's ``rate``: ``rate``, the same number."""
    return {"rate": float(rate)}


def pass_keys(seed: int, passes: int) -> list[Any]:
    """One fresh key per training-mode pass, all from the example's seed."""
    if passes == 0:
        return []
    return list(jax.random.split(jax.random.key(seed), passes))


def _np(y: Any) -> np.ndarray:
    return np.asarray(y, dtype=np.float64)


def _stack(train: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    return np.stack(train) if train else np.zeros((0, *shape))


def run_linen_dropout(
    case: Any, dtype: str, device: str, *, module: Callable[[float], Any] | None = None
) -> dict[str, np.ndarray]:
    """``apply`` with ``deterministic=False`` and a fresh key per pass; then ``deterministic=True``."""
    drop = (module or (lambda r: linen.Dropout(**dropout_arguments(r))))(case.rate)
    with jax.default_device(_jax_device(device)):
        x = jax.numpy.asarray(case.x, dtype=_DTYPES[dtype])
        train = [
            _np(drop.apply({}, x, deterministic=False, rngs={"dropout": k}))
            for k in pass_keys(case.seed, case.passes)
        ]
        test = _np(drop.apply({}, x, deterministic=True))
    return {"train": _stack(train, case.x.shape), "test": test}


def run_nnx_dropout(case: Any, dtype: str, device: str) -> dict[str, np.ndarray]:
    """``nnx.Dropout(rate, rngs=nnx.Rngs(dropout=seed))`` called ``passes`` times, then deterministic."""
    with jax.default_device(_jax_device(device)):
        drop = nnx.Dropout(**dropout_arguments(case.rate), rngs=nnx.Rngs(dropout=case.seed))
        x = jax.numpy.asarray(case.x, dtype=_DTYPES[dtype])
        train = [_np(drop(x, deterministic=False)) for _ in range(case.passes)]
        test = _np(drop(x, deterministic=True))
    return {"train": _stack(train, case.x.shape), "test": test}


class MCDropoutDense(linen.Module):
    """``Dense(Dropout(x))``: MC dropout keeps ``deterministic=False`` at prediction time."""

    rate: float
    features: int
    dtype: Any

    @linen.compact
    def __call__(self, x: Any, deterministic: bool) -> Any:
        h = linen.Dropout(**dropout_arguments(self.rate))(x, deterministic=deterministic)
        return linen.Dense(self.features, dtype=self.dtype, param_dtype=self.dtype)(h)


def run_mc_dropout(
    case: Any, dtype: str, device: str, *, module: type[linen.Module] = MCDropoutDense
) -> dict[str, np.ndarray]:
    """MC dropout: ``passes`` applications with ``deterministic=False``, then one deterministic."""
    jdt = _DTYPES[dtype]
    net = module(rate=case.rate, features=case.weight.shape[1], dtype=jdt)
    with jax.default_device(_jax_device(device)):
        params = {
            "params": {
                "Dense_0": {
                    "kernel": jax.numpy.asarray(case.weight, dtype=jdt),
                    "bias": jax.numpy.asarray(case.bias, dtype=jdt),
                }
            }
        }
        x = jax.numpy.asarray(case.x, dtype=jdt)
        train = [
            _np(net.apply(params, x, deterministic=False, rngs={"dropout": k}))
            for k in pass_keys(case.seed, case.passes)
        ]
        test = _np(net.apply(params, x, deterministic=True))
    return {"train": _stack(train, (case.x.shape[0], case.weight.shape[1])), "test": test}


def implementations() -> list[Implementation]:
    both = ("cpu", "cuda")
    return [
        Implementation(
            "drop.inverted",
            "flax.linen.Dropout",
            run_linen_dropout,
            dtypes=tuple(_DTYPES),
            devices=both,
        ),
        Implementation(
            "drop.inverted",
            "flax.nnx.Dropout",
            run_nnx_dropout,
            dtypes=tuple(_DTYPES),
            devices=both,
        ),
        Implementation(
            "drop.mc",
            "flax.linen Dropout+Dense(deterministic=False)",
            run_mc_dropout,
            dtypes=tuple(_DTYPES),
            devices=both,
        ),
    ]
