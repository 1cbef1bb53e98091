r"""flax's batch normalisation: ``flax.linen.BatchNorm``, ``use_running_average=False``/``True``.

One run of a :class:`~trainspec.conformance.kinds.norm.BatchNormCase` applies the module to
each training batch with ``use_running_average=False`` and ``mutable=["batch_stats"]`` starting
from the case's $\gamma$ (``scale``), $\beta$ (``bias``) and initial ``batch_stats``; the
gradients of $\sum dy\cdot y$ with respect to the input, ``scale`` and ``bias`` come from
``jax.vjp``; then ``use_running_average=True`` evaluates the test batch. Both steps are
``jax.jit``-compiled, as a training loop would be, with ``momentum`` and ``epsilon`` passed as
arrays of the dtype (traced, so that one compiled step serves every example of a shape; the
arithmetic is the same as with Python floats, which flax casts to the dtype).

Conventions mapped here, each in one small tested function:

* :func:`flax_momentum`: flax's ``momentum`` is the weight of the OLD running value, as in the
  spec (``ra = momentum * ra + (1 - momentum) * batch``): passed unchanged;
* :func:`flax_axis`: the layout picks ``axis`` (``-1`` channels-last, the flax default; ``1``
  channels-first).

``use_fast_variance`` (default ``True``) computes the variance in one pass,
$\max(0, E[x^2] - E[x]^2)$; both settings are rows, so the report shows which one matches.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.norm import (
    BatchNormCase,
    BatchNormRun,
    from_layout,
    to_layout,
)

__all__ = ["flax_axis", "flax_momentum", "implementations", "run_flax_batchnorm"]

IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")


def flax_momentum(old_value_weight: float) -> float:
    """flax's ``momentum`` for the spec's momentum (the weight of the OLD value): unchanged."""
    return old_value_weight


def flax_axis(layout: str) -> int:
    """The ``axis`` argument of ``BatchNorm`` for a layout."""
    if layout == "channels_last":
        return -1
    if layout == "channels_first":
        return 1
    raise ValueError(f"layout={layout!r}: must be 'channels_first' or 'channels_last'")


def _module(
    use_running_average: bool, axis: int, momentum: Any, eps: Any, fast: bool, dt: Any
) -> Any:
    return nn.BatchNorm(
        use_running_average=use_running_average,
        axis=axis,
        momentum=momentum,
        epsilon=eps,
        dtype=dt,
        param_dtype=dt,
        use_fast_variance=fast,
    )


@partial(jax.jit, static_argnames=("axis", "fast"))
def _train_step(
    x: Any, dy: Any, params: Any, stats: Any, momentum: Any, eps: Any, *, axis: int, fast: bool
) -> Any:
    """One ``use_running_average=False`` step and its vector-Jacobian product for ``dy``."""
    module = _module(False, axis, momentum, eps, fast, x.dtype)

    def forward(xx: Any, p: Any) -> Any:
        y, updated = module.apply({"params": p, "batch_stats": stats}, xx, mutable=["batch_stats"])
        return y, updated["batch_stats"]

    y, vjp, new_stats = jax.vjp(forward, x, params, has_aux=True)
    dx, dp = vjp(dy)
    return y, dx, dp, new_stats


@partial(jax.jit, static_argnames=("axis",))
def _test_step(x: Any, params: Any, stats: Any, eps: Any, *, axis: int) -> Any:
    module = _module(True, axis, 0.0, eps, True, x.dtype)
    return module.apply({"params": params, "batch_stats": stats}, x)


def run_flax_batchnorm(
    case: BatchNormCase,
    dtype: str,
    device: str,
    *,
    layout: str = "channels_last",
    use_fast_variance: bool = True,
    momentum: Any = flax_momentum,
) -> BatchNormRun:
    """Run the case through ``flax.linen.BatchNorm`` (see the module docstring)."""
    jdt = _DTYPES[dtype]
    axis = flax_axis(layout)

    def arr(a: Any) -> jax.Array:
        return jnp.asarray(a, dtype=jdt)

    def back(t: jax.Array) -> np.ndarray:
        return from_layout(np.asarray(t, dtype=np.float64), case.layout, layout)

    def vec(t: jax.Array) -> np.ndarray:
        return np.array(t, dtype=np.float64)

    with jax.default_device(_jax_device(device)):
        params = {"scale": arr(case.gamma), "bias": arr(case.beta)}
        stats = {"mean": arr(case.initial_mean), "var": arr(case.initial_var)}
        mom, eps = arr(momentum(case.momentum)), arr(case.eps)
        run = BatchNormRun([], [], [], [], [], [], np.zeros(0))
        for x, dy in zip(case.batches, case.upstream, strict=True):
            y, dx, dp, stats = _train_step(
                arr(to_layout(x, case.layout, layout)),
                arr(to_layout(dy, case.layout, layout)),
                params,
                stats,
                mom,
                eps,
                axis=axis,
                fast=use_fast_variance,
            )
            run.outputs.append(back(y))
            run.dx.append(back(dx))
            run.dgamma.append(vec(dp["scale"]))
            run.dbeta.append(vec(dp["bias"]))
            run.running_mean.append(vec(stats["mean"]))
            run.running_var.append(vec(stats["var"]))
        test = _test_step(
            arr(to_layout(case.test_batch, case.layout, layout)), params, stats, eps, axis=axis
        )
    return BatchNormRun(
        run.outputs, run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, back(test)
    )


def _impl(spec_id: str, layout: str, use_fast_variance: bool = True) -> Implementation:
    name = f"flax.linen.BatchNorm(axis={flax_axis(layout)})"
    if not use_fast_variance:
        name = f"flax.linen.BatchNorm(axis={flax_axis(layout)}, use_fast_variance=False)"
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_flax_batchnorm(
            case, dtype, device, layout=layout, use_fast_variance=use_fast_variance
        ),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
        description="use_running_average=False steps (jax.vjp), then use_running_average=True",
    )


def implementations() -> list[Implementation]:
    """The default module (one-pass variance) on every ID, channels-first too where the layout
    changes the reductions (outputs); ``use_fast_variance=False`` wherever the variance enters
    (outputs, running statistics, gradients)."""
    out = [_impl(spec_id, "channels_last") for spec_id in IDS]
    out.append(_impl("norm.batch.train", "channels_first"))
    for spec_id in ("norm.batch.train", "norm.batch.running", "norm.batch.grad"):
        out.append(_impl(spec_id, "channels_last", use_fast_variance=False))
    return out
