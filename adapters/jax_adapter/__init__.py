r"""JAX adapter: drives ``optax`` (and, for layers, ``flax``) through their public APIs.

Conventions mapped here (each in one small function, tested in ``tests/adapters/jax_adapter/``):

* the momentum buffer: optax's ``TraceState.trace`` (and ``EmaState.ema``) is the spec's
  canonical trace $b$ unchanged: :func:`load_trace`;
* the learning rate of step $t$ comes from a schedule ``count -> learning_rates[count - start]``
  in the parameters' dtype (as a user's schedule would return): :func:`schedule_from_values`;
* float64 needs ``jax_enable_x64``, which the adapter turns on when it is imported; every array
  is created with an explicit dtype, so float32 runs stay float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from trainspec.adapters.devices import jax_devices, jax_full_precision  # noqa: E402
from trainspec.conformance.adapter import Adapter, Implementation, family_implementations  # noqa: E402
from trainspec.conformance.kinds.optimizers import OptimizerCase  # noqa: E402

__all__ = ["JAX_DTYPES", "OPTIMIZER_DTYPES", "JaxAdapter", "load_trace", "schedule_from_values"]

#: the dtypes every JAX row runs in
_DTYPES = {"float32": jnp.float32, "float64": jnp.float64}
#: every dtype a row may declare (16-bit rows are declared family by family)
JAX_DTYPES = {**_DTYPES, "float16": jnp.float16, "bfloat16": jnp.bfloat16}
#: the dtypes of optax's optimizer rows: optax keeps its state in the parameters' dtype, so
#: bfloat16 parameters run the whole update in bfloat16
OPTIMIZER_DTYPES = ("float32", "float64", "bfloat16")


def schedule_from_values(values: Sequence[float], start: int, dtype: Any) -> Callable[[Any], Any]:
    """An optax schedule giving ``values[count - start]`` in ``dtype`` (the run may start at ``count > 0``)."""
    table = jnp.asarray(values, dtype=dtype)
    return lambda count: table[count - start]


def load_trace(state: Any, trace: dict[str, Any], count: int) -> Any:
    """Put the canonical trace into every ``TraceState``/``EmaState`` and ``count`` into every counter."""

    def fix(s: Any) -> Any:
        if isinstance(s, optax.TraceState):
            return optax.TraceState(trace=trace)
        if isinstance(s, optax.EmaState):
            return optax.EmaState(count=jnp.asarray(count, dtype=s.count.dtype), ema=trace)
        if hasattr(s, "_fields") and "count" in s._fields:
            return s._replace(count=jnp.asarray(count, dtype=s.count.dtype))
        return s

    return jax.tree_util.tree_map(fix, state, is_leaf=lambda s: hasattr(s, "_fields"))


def _jax_device(device: str) -> Any:
    return jax.devices("gpu")[0] if device == "cuda" else jax.devices("cpu")[0]


def run_optax(
    make: Callable[[OptimizerCase, Callable[[Any], Any]], optax.GradientTransformation],
    case: OptimizerCase,
    dtype: str,
    device: str,
    *,
    load: Callable[[Any, dict[str, dict[str, Any]], Any, int], Any] | None = None,
) -> dict[str, np.ndarray]:
    """Build the transformation, load its state, take every step, read back.

    ``load(state, buffers, eta, count)`` returns the optax state holding the canonical
    ``buffers`` (in the dtype under test), given the learning rate ``eta`` of the step being
    taken (as the schedule returns it); default: the momentum trace (:func:`load_trace`)."""
    jdt = JAX_DTYPES[dtype]
    dev = _jax_device(device)
    with jax.default_device(dev):
        params = {k: jnp.asarray(v, dtype=jdt) for k, v in case.params.items()}
        start = 0 if case.state is None else case.state.count
        lr = schedule_from_values(case.learning_rates, start, jdt)
        opt = make(case, lr)
        state = opt.init(params)
        if case.state is not None and load is not None:
            buffers = {
                b: {k: jnp.asarray(v, dtype=jdt) for k, v in tree.items()}
                for b, tree in case.state.buffers.items()
            }
            state = load(state, buffers, lr(jnp.asarray(start)), start)
        elif case.state is not None:
            trace = {
                k: jnp.asarray(v, dtype=jdt) for k, v in case.state.buffers.get("trace", {}).items()
            }
            state = load_trace(state, trace, case.state.count)
        for grads in case.grads:
            g = {k: jnp.asarray(v, dtype=jdt) for k, v in grads.items()}
            updates, state = opt.update(g, state, params)
            params = optax.apply_updates(params, updates)
        return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


class JaxAdapter(Adapter):
    """optax gradient transformations on JAX (CPU, and GPU where present)."""

    name = "jax"

    def versions(self) -> dict[str, str]:
        import flax

        return {
            "jax": jax.__version__,
            "jaxlib": getattr(jax.lib, "__version__", jax.__version__),
            "optax": optax.__version__,
            "flax": flax.__version__,
            "numpy": np.__version__,
        }

    def devices(self) -> list[str]:
        return jax_devices()

    def prepare_device(self, device: str) -> None:
        jax_full_precision()

    def repro_call(self, implementation: Implementation, dtype: str, device: str, case: Any) -> Any:
        """The calls of the rows with findings as code for ``trainspec repro`` (:mod:`.repro`)."""
        from trainspec.adapters.jax_adapter.repro import repro_call

        return repro_call(implementation, dtype, device, case)

    def implementations(self) -> list[Implementation]:
        """SGD's rows, then those of every family module of this package."""
        from trainspec.adapters.jax_adapter.optimizers import sgd_implementations

        return sgd_implementations() + family_implementations(__name__)
