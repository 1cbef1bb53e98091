r"""optax under ``jax.jit``: the update compiled by XLA, each optimizer its own row next to the
eager one (``jit(adam)`` next to ``adam``).

The eager rows (:mod:`~trainspec.adapters.jax_adapter.optimizers` and the SGD rows) call
``opt.update`` op by op; here the whole update and ``optax.apply_updates`` are one
``jax.jit``-compiled function, which XLA fuses and may evaluate in another order. How a case
runs (:func:`run_jitted`):

* the hyperparameters are arguments of the compiled function, each a *weakly typed* float64
  scalar (``jnp.asarray`` of a Python float): inside the graph they promote exactly as the
  Python floats of an eager call do (a weak scalar takes the parameters' dtype when it meets
  them), and the function is compiled once per row and dtype instead of once per value (the
  optimizer is built inside the traced function, as ``optax.inject_hyperparams`` does);
* the learning rates are a table (padded to :data:`MAX_STEPS` entries) read at
  ``count - start``, the schedule of the eager rows, also an argument;
* the case's tensors are concatenated and zero-padded into one flat vector of
  :data:`~trainspec.conformance.strategies.MAX_ELEMENTS` elements (:func:`to_flat`): these
  optimizers are elementwise, a zero parameter with zero gradient and state stays finite, and
  one shape means one compilation;
* the state is created by ``opt.init`` and loaded (one-step cases) eagerly, with the eager rows'
  conventions (:func:`~trainspec.adapters.jax_adapter.load_trace`,
  :func:`~trainspec.adapters.jax_adapter.optimizers.load_state`), then passed to the compiled
  update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trainspec.adapters.flat import from_flat
from trainspec.adapters.flat import to_flat as flat_vector
from trainspec.adapters.jax_adapter import _DTYPES, _jax_device, load_trace
from trainspec.adapters.jax_adapter.optimizers import (
    ADAPTIVE,
    JITTED_SGD,
    Buffers,
    Fields,
    load_state,
)
from trainspec.adapters.jax_adapter.optimizers import SGD as EAGER_SGD
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_variance_near_zero,
)
from trainspec.conformance.strategies import MAX_ELEMENTS

__all__ = ["MAX_STEPS", "from_flat", "implementations", "run_jitted", "to_flat"]

#: the learning-rate table's length (the kit's trajectories have at most 12 steps)
MAX_STEPS = 16
Make = Callable[[OptimizerCase, Callable[[Any], Any]], optax.GradientTransformation]
Loader = Callable[[Any, Buffers, Any, int], Any]


def to_flat(tree: Mapping[str, np.ndarray], size: int = MAX_ELEMENTS) -> dict[str, np.ndarray]:
    """``{"flat": v}``: the tree's tensors raveled, concatenated in key order, zero-padded
    (:func:`trainspec.adapters.flat.to_flat`)."""
    return {"flat": flat_vector(tree, size)}


def _with_hyperparameters(case: OptimizerCase, hps: Mapping[str, Any]) -> OptimizerCase:
    return OptimizerCase(case.params, case.grads, case.learning_rates, hps, case.state)


class JittedRow:
    """One optimizer's update and ``apply_updates``, compiled once per dtype (jax's cache)."""

    def __init__(self, make: Make, load: Loader) -> None:
        self.make, self.load = make, load

        def step(hps: Any, table: Any, start: Any, grads: Any, state: Any, params: Any) -> Any:
            opt = self._build(hps, table, start)
            updates, state = opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self.step = jax.jit(step)

    def _build(self, hps: Mapping[str, Any], table: Any, start: Any) -> Any:
        case = _with_hyperparameters(_SHELL, hps)
        return self.make(case, lambda count: table[count - start])

    def run(self, case: OptimizerCase, dtype: str, device: str) -> dict[str, np.ndarray]:
        jdt = _DTYPES[dtype]
        with jax.default_device(_jax_device(device)):
            params = {k: jnp.asarray(v, dtype=jdt) for k, v in to_flat(case.params).items()}
            start = 0 if case.state is None else case.state.count
            lrs = list(case.learning_rates)
            table = jnp.asarray(lrs + [lrs[-1]] * (MAX_STEPS - len(lrs)), dtype=jdt)
            hps = {k: jnp.asarray(float(v)) for k, v in case.hyperparameters.items()}
            start_arr = jnp.asarray(start, dtype=jnp.int32)
            opt = self._build(hps, table, start_arr)
            state = opt.init(params)
            if case.state is not None:
                buffers = {
                    b: {k: jnp.asarray(v, dtype=jdt) for k, v in to_flat(t).items()}
                    for b, t in case.state.buffers.items()
                }
                state = self.load(state, buffers, table[0], start)
            for g in case.grads:
                grads = {k: jnp.asarray(v, dtype=jdt) for k, v in to_flat(g).items()}
                params, state = self.step(hps, table, start_arr, grads, state, params)
            return from_flat(np.asarray(params["flat"], dtype=np.float64), case.params)


_SHELL = OptimizerCase({}, [], [0.0], {})


def _trace_loader(state: Any, buffers: Buffers, eta: Any, count: int) -> Any:
    return load_trace(state, buffers.get("trace", {}), count)


def _fields_loader(fields: Callable[[Buffers, Any], Fields]) -> Loader:
    return lambda state, buffers, eta, count: load_state(state, fields(buffers, eta), count)


#: the SGD rows of the eager adapter, under jit: spec ID, optax's call, how to build it
SGD: tuple[tuple[str, str, Make], ...] = tuple(row for row in EAGER_SGD if row[1] in JITTED_SGD)

_CENTERED_JIT_NAN = (
    "optax.rmsprop(centered=True) under jax.jit returns NaN where the centred variance "
    "nu - mu**2 is 0 in exact arithmetic, though eagerly it returns the exact step: compiled by "
    "XLA on the CPU, nu - mu * mu comes out as a negative rounding remainder (as a fused "
    "multiply-add gives) and its square root is NaN. Minimal counterexample: decay (rho) = 0, "
    "one step from the initial state, g = 64 standard normal draws (seed 0) in float32: 17 NaN "
    "updates under jit, none eagerly (docs/findings/optax_rmsprop_centered_jit_nan.py); the "
    "kit's ci run finds it in float64 too."
)


def _centred_jit_finding(dtype: str) -> Finding:
    return Finding(
        "optax-rmsprop-centered-jit-nan",
        _CENTERED_JIT_NAN,
        region=lambda case: centred_variance_near_zero(case, dtype),
        region_text=CENTRED_REGION_TEXT,
    )


#: implementations whose rows have a finding, by name: dtype -> finding
FINDINGS: dict[str, dict[str, str | Finding]] = {
    f"jit({name})": {d: _centred_jit_finding(d) for d in _DTYPES}
    for name in ("rmsprop(centered=True)", "rmsprop(centered=True, eps_in_sqrt=False)")
}


def run_jitted(row: JittedRow, case: OptimizerCase, dtype: str, device: str) -> Any:
    """``case`` through ``row``'s compiled update (see the module docstring)."""
    return row.run(case, dtype, device)


def _impl(spec_id: str, name: str, row: JittedRow) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=f"jit({name})",
        run=lambda case, dtype, device: run_jitted(row, case, dtype, device),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
        findings=FINDINGS.get(f"jit({name})", {}),
    )


def implementations() -> list[Implementation]:
    """The SGD rows and every adaptive optimizer of optax, each under ``jax.jit``."""
    return [_impl(s, n, JittedRow(m, _trace_loader)) for s, n, m in SGD] + [
        _impl(s, n, JittedRow(m, _fields_loader(f))) for s, n, m, f in ADAPTIVE
    ]
