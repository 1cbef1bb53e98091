r"""``trainspec repro`` for JAX: the calls of the rows with known findings written as code.

``jit(rmsprop(centered=...))`` (the update and ``apply_updates`` under one ``jax.jit``, as
:class:`~trainspec.adapters.jax_adapter.jitted.JittedRow`) and eager ``rmsprop(centered=...)``
(the same without ``jit``), ``flax.linen.PReLU`` and ``flax.nnx.PReLU`` (its value,
or ``jax.vjp`` for the input and the slope, jitted), ``exponential_decay(staircase=True)`` (the
schedule jitted over int32 counts) and ``contrib.reduce_on_plateau`` (after ``sgd(eta0)``, one
metric per update, the learning rate ``eta0 * scale``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import centred_bfloat16_example
from trainspec.conformance.repro import ReproCall, ReproError, example_of, finding_example

__all__ = ["FINDING_EXAMPLES", "repro_call"]

_IMPORTS = """\
import jax

jax.config.update("jax_enable_x64", True)  # float64 arrays (the kit's adapter does the same)

import jax.numpy as jnp  # noqa: E402
"""
_VERSIONS = "'jax ' + jax.__version__"

#: per dtype, (gradients, eps) where optax's centred RMSprop under jit returns NaN from the
#: initial state with rho = 0, eps inside the root or outside (the first two such elements of 64
#: standard normal draws, seed 0; in float64 an eps above the remainder ~1e-18 hides it inside)
CENTERED_JIT_NAN_GRADIENTS: dict[str, tuple[list[float], float]] = {
    "float32": ([-0.5356693863868713, 0.9470809698104858], 1e-8),
    "float64": ([0.1257302210933933, -0.1321048632913019], 1e-30),
}

#: a minimal counterexample per finding id (the kind's JSON case), for rows that store none
FINDING_EXAMPLES: dict[str, dict[str, Any]] = {
    "optax-rmsprop-centered-jit-nan": {
        "check": "one_step",
        "params": {"w0": [0.0]},
        "grads": [{"w0": [0.0]}],
        "learning_rates": [0.001],
        "hyperparameters": {"rho": 0.0, "eps": 1e-8, "momentum": 0.0},
        "state": {"count": 0, "buffers": {}},
    },
    # bfloat16 (docs/findings/optax_rmsprop_centered_bfloat16_nan.py): two steps of one gradient
    "optax-rmsprop-centered-bfloat16-nan": example_of(*centred_bfloat16_example()),
    "flax-prelu-posinf-slope-cotangent": {
        "check": "derivatives",
        "z": [float("inf"), -0.5],
        "cotangent": [1.0, 1.0],
        "hyperparameters": {"alpha": 0.25},
    },
    "optax-staircase-reciprocal": {
        "check": "values",
        "spec_id": "sched.exponential",
        "hyperparameters": {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 61},
        "steps": [60, 61, 62],
    },
    "optax-plateau-patience-0": {
        "check": "values",
        "spec_id": "sched.plateau",
        "hyperparameters": {
            "learning_rate": 0.1,
            "factor": 0.5,
            "patience": 0,
            "threshold": 0.0625,
            "cooldown": 0,
            "min_learning_rate": 0.0,
        },
        "steps": [0, 1, 2],
        "metrics": [1.0, 2.0, 0.5],
    },
}


def _example(impl: Implementation[Any, Any], dtype: str) -> dict[str, Any]:
    f, example = finding_example(impl, dtype, FINDING_EXAMPLES)
    if f.id == "optax-rmsprop-centered-jit-nan":
        g, eps = CENTERED_JIT_NAN_GRADIENTS[dtype]
        example |= {
            "params": {"w0": [0.0] * len(g)},
            "grads": [{"w0": g}],
            "hyperparameters": {"rho": 0.0, "eps": eps, "momentum": 0.0},
        }
    return example


def _rmsprop(impl: Implementation[Any, Any], case: Mapping[str, Any]) -> tuple[str, str]:
    state = case.get("state") or {"count": 0, "buffers": {}}
    if state["count"] != 0 or any(
        any(v != 0 for x in t.values() for v in (x if isinstance(x, list) else [x]))
        for t in state["buffers"].values()
    ):
        raise ReproError("counterexample: repro writes optax's rmsprop from the initial state only")
    centered = "centered=True" in impl.name
    in_sqrt = "eps_in_sqrt=False" not in impl.name
    jit = "@jax.jit\n" if impl.name.startswith("jit(") else ""  # the eager rows: no jit
    code = f"""\
import optax

jdt = getattr(jnp, DTYPE)
hp, lrs = CASE["hyperparameters"], CASE["learning_rates"]
table = jnp.asarray(lrs, dtype=jdt)
opt = optax.rmsprop(
    lambda count: table[jnp.minimum(count, len(lrs) - 1)],
    decay=hp["rho"], eps=hp["eps"], momentum=hp.get("momentum", 0.0),
    centered={centered!r}, eps_in_sqrt={in_sqrt!r},
)
params = {{k: jnp.asarray(v, dtype=jdt) for k, v in CASE["params"].items()}}
state = opt.init(params)


{jit}def step(params, state, grads):
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state


for grads in CASE["grads"]:
    params, state = step(params, state, {{k: jnp.asarray(v, dtype=jdt) for k, v in grads.items()}})
GOT = {{k: np.asarray(v, dtype=np.float64) for k, v in params.items()}}
"""
    variant = ", ".join(["eps=inside"] * in_sqrt + ["centered=centered"] * centered) or "default"
    return code, variant


#: what both PReLU scripts do with ``prelu``: its values, or its vector-Jacobian product
_PRELU_RESULT = """
if CASE["check"] == "values":
    GOT = {"y": np.asarray(jax.jit(prelu)(z, alpha), dtype=np.float64)}
else:
    cot = jnp.asarray(CASE["cotangent"], dtype=jdt)
    gz, ga = jax.jit(lambda x, a, g: jax.vjp(prelu, x, a)[1](g))(z, alpha, cot)
    GOT = {"z": np.asarray(gz, dtype=np.float64), "alpha": np.asarray(ga, dtype=np.float64)}
"""

_PRELU = """\
import flax.linen as nn

jdt = getattr(jnp, DTYPE)
z = jnp.asarray(CASE["z"], dtype=jdt)
alpha = jnp.asarray(CASE["hyperparameters"]["alpha"], dtype=jdt)


def prelu(x, a):
    return nn.PReLU(param_dtype=x.dtype).apply({"params": {"negative_slope": a}}, x)

""" + _PRELU_RESULT

_NNX_PRELU = """\
from flax import nnx

jdt = getattr(jnp, DTYPE)
z = jnp.asarray(CASE["z"], dtype=jdt)
alpha = jnp.asarray(CASE["hyperparameters"]["alpha"], dtype=jdt)


def prelu(x, a):
    module = nnx.PReLU(param_dtype=x.dtype)
    module.negative_slope.set_value(a)  # the one shared slope, as the kit's adapter sets it
    return module(x)

""" + _PRELU_RESULT

_STAIRCASE = """\
import optax

jdt = getattr(jnp, DTYPE)
hp = CASE["hyperparameters"]
schedule = optax.exponential_decay(
    jnp.asarray(hp["learning_rate"], dtype=jdt), hp["decay_steps"],
    jnp.asarray(hp["decay_rate"], dtype=jdt), staircase=True,
)
# under jax.jit, as inside a training step
GOT = {"lr": np.asarray(jax.jit(schedule)(jnp.asarray(CASE["steps"], dtype=jnp.int32)), np.float64)}
"""

_PLATEAU = """\
import optax
from optax import contrib

jdt = getattr(jnp, DTYPE)
hp = CASE["hyperparameters"]
eta0 = float(hp["learning_rate"])
plateau = contrib.reduce_on_plateau(
    factor=hp["factor"], patience=hp["patience"], rtol={rtol}, atol={atol},
    cooldown=hp["cooldown"], accumulation_size=1, min_scale=hp["min_learning_rate"] / eta0,
)
opt = optax.chain(optax.sgd(eta0), plateau)
params = jnp.zeros((), dtype=jdt)
state = opt.init(params)
lrs = []
for m in CASE["metrics"]:
    updates, state = opt.update(
        jnp.ones((), dtype=jdt), state, params, value=jnp.asarray(m, dtype=jdt)
    )
    lrs.append(eta0 * float(state[1].scale))  # the learning rate after the metric
GOT = {{"lr": np.asarray(lrs)}}
"""


def repro_call(
    impl: Implementation[Any, Any], dtype: str, device: str, case: Mapping[str, Any] | None
) -> ReproCall | None:
    """The code of ``impl``'s call, or None for the rows this module does not write."""
    if case is None:
        case = _example(impl, dtype)
    if impl.spec_id == "opt.rmsprop" and impl.name.startswith(("jit(rmsprop", "rmsprop(")):
        code, variant = _rmsprop(impl, case)
    elif impl.name == "flax.linen.PReLU":
        code, variant = _PRELU, "derivative_at_zero=one, nan_derivative=any"
    elif impl.name == "flax.nnx.PReLU":
        code, variant = _NNX_PRELU, "derivative_at_zero=one, nan_derivative=any"
    elif impl.name == "exponential_decay(staircase=True)":
        code, variant = _STAIRCASE, "staircase=staircase"
    elif impl.name.startswith("contrib.reduce_on_plateau("):
        relative = "(rtol)" in impl.name
        code = _PLATEAU.format(
            rtol='hp["threshold"]' if relative else "0.0",
            atol="0.0" if relative else 'hp["threshold"]',
        )
        variant = "default" if relative else "threshold_mode=absolute"
    else:
        return None
    if case.get("check") == "through_optimizer":
        raise ReproError("counterexample: repro writes the schedules' 'values' checks only")
    return ReproCall(imports=_IMPORTS, versions=_VERSIONS, call=code, case=case, variant=variant)
