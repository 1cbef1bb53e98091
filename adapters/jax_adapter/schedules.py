r"""optax's schedules and ``optax.contrib.reduce_on_plateau`` for the ``sched.*`` entries.

``values`` evaluates the schedule on the case's steps (an int32 array, as optax's ``count``);
``through_optimizer`` runs ``optax.sgd(schedule)`` with gradient 1 and reads the learning rate
applied at ``count = 0, 1, ...`` from the updates. ``reduce_on_plateau`` is a gradient
transformation that scales the updates: it is chained after ``optax.sgd(eta0)`` and fed each
metric as ``value=`` (one metric per update, ``accumulation_size=1``); the learning rate after a
check is $\eta_0$ times its ``scale`` (``values``) or the update it returns (``through_optimizer``).

Conventions mapped here (each one small function, tested in
``tests/adapters/jax_adapter/test_schedules.py``):

* :func:`piecewise_scales`: ``piecewise_constant_schedule`` multiplies the value by a scale at each
  boundary: the kit's geometric values are ``{b: gamma}``;
* :func:`annealing_arguments`: annealing is ``exponential_decay(transition_steps=1,
  decay_rate=1-beta)`` over epochs;
* :func:`plateau_arguments`: ``reduce_on_plateau``'s ``rtol`` (relative threshold) or ``atol``
  (absolute), and ``min_scale = min_learning_rate / eta0`` (optax bounds the scale, not the
  learning rate).

optax has no inverse-time (``sched.power``) or legacy ``decay=`` schedule, and its plateau
transformation has no ``mode='max'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax import contrib

from trainspec.adapters.jax_adapter import _DTYPES, _jax_device
from trainspec.conformance.adapter import Finding, Implementation

__all__ = [
    "annealing_arguments",
    "implementations",
    "padded_counts",
    "piecewise_scales",
    "plateau_arguments",
    "run_plateau",
    "run_schedule",
]

MakeSchedule = Callable[[Mapping[str, Any], Any], optax.Schedule]

SCHEDULE_FINDINGS = (
    "optax divides its int32 count by transition_steps, and JAX "
    "promotes int32 / int to float32 even with jax_enable_x64, so a float64 schedule carries "
    "float32 rounding in t/s"
)
STAIRCASE_FINDING = (
    "on CPU, XLA computes the int32 count / transition_steps as a product with the "
    "rounded reciprocal (61 / 61 = 0.99999994 in float32, also under jax.jit), so "
    "exponential_decay(staircase=True) stays one step too long at some multiples of "
    "transition_steps (s = 41, 47, 55, 61, ...: value at count 61 with s = 61 is init_value)"
)
PLATEAU_FINDING = (
    "with patience=0 optax.contrib.reduce_on_plateau reduces the scale on every check "
    "that *improves* (its test is `plateau_count == patience`, and an improvement sets the count "
    "to 0) and never on a check that does not"
)


def staircase_sensitive(case: Any) -> bool:
    r"""Whether a step of ``case`` is a multiple $t = ks$ of ``decay_steps`` $s$ at which
    $\lfloor \mathrm{fl}_{32}(t)\,\mathrm{fl}_{32}(1/s) \rfloor < k$: where XLA's product with
    the rounded reciprocal stays one step too long (:data:`STAIRCASE_FINDING`)."""
    s = int(case.hyperparameters["decay_steps"])
    r = np.float32(1.0) / np.float32(s)
    return any(t > 0 and t % s == 0 and np.floor(np.float32(t) * r) < t // s for t in case.steps)


#: the findings as regions of the example (see :class:`~trainspec.conformance.adapter.Finding`)
STAIRCASE = Finding(
    "optax-staircase-reciprocal",
    STAIRCASE_FINDING,
    region=staircase_sensitive,
    region_text="a step t = k*decay_steps where floor(fl32(t) * fl32(1/decay_steps)) < k",
)
PLATEAU = Finding(
    "optax-plateau-patience-0",
    PLATEAU_FINDING,
    region=lambda case: int(case.hyperparameters["patience"]) == 0,
    region_text="patience = 0",
)
#: ``SCHEDULE_FINDINGS`` is a formula, not a region: optax computes t/s in float32 in every dtype,
#: so these rows declare it (``options["rounded"]``) and the kit bounds t/s, and what is computed
#: from it, as float32 arithmetic (:mod:`trainspec.conformance.kinds.schedules`)
FLOAT32_QUOTIENT = "optax evaluates t/s in float32 in every dtype: " + SCHEDULE_FINDINGS


def piecewise_scales(gamma: float, boundaries: tuple[int, ...]) -> dict[int, float]:
    r"""``piecewise_constant_schedule``'s ``boundaries_and_scales`` for the values $\eta_0\gamma^i$."""
    return {int(b): float(gamma) for b in boundaries}


def annealing_arguments(decay_rate: float, jdt: Any) -> dict[str, Any]:
    r"""Annealing $\eta \leftarrow (1-\beta)\eta$ per epoch: ``exponential_decay`` with one epoch per
    step; $1-\beta$ is an array of the dtype under test (a Python float would be weakly typed and
    computed in float32 with the float32 exponent ``count / 1``)."""
    return {"transition_steps": 1, "decay_rate": jnp.asarray(1.0 - float(decay_rate), dtype=jdt)}


def plateau_arguments(hp: Mapping[str, Any], threshold_mode: str) -> dict[str, Any]:
    """``reduce_on_plateau``'s keyword arguments for the spec's hyperparameters."""
    relative = threshold_mode == "relative"
    return {
        "factor": hp["factor"],
        "patience": hp["patience"],
        "rtol": hp["threshold"] if relative else 0.0,
        "atol": 0.0 if relative else hp["threshold"],
        "cooldown": hp["cooldown"],
        "accumulation_size": 1,
        "min_scale": hp["min_learning_rate"] / hp["learning_rate"],
    }


def padded_counts(steps: Any, block: int = 64) -> Any:
    """The steps as optax's int32 counts, padded (with the last step) to a multiple of ``block``
    elements, so that eager evaluation reuses one compiled kernel per shape."""
    n = max(1, -(-len(steps) // block)) * block
    padded = list(steps) + [steps[-1]] * (n - len(steps))
    return jnp.asarray(padded, dtype=jnp.int32)


def run_schedule(make: MakeSchedule, case: Any, dtype: str, device: str) -> np.ndarray:
    """A schedule case through an optax schedule (see the module docstring)."""
    jdt = _DTYPES[dtype]
    with jax.default_device(_jax_device(device)):
        schedule = make(case.hyperparameters, jdt)
        if case.check == "through_optimizer":
            opt = optax.sgd(schedule)
            params = jnp.zeros((), dtype=jdt)
            state = opt.init(params)
            out = []
            for _ in case.steps:
                updates, state = opt.update(jnp.ones((), dtype=jdt), state, params)
                out.append(-float(updates))
            return np.asarray(out, dtype=np.float64)
        steps = padded_counts(case.steps)
        # under jax.jit, as inside a training step: eager op-by-op evaluation of the same
        # schedule may or may not fold the division by a constant into a multiplication by its
        # reciprocal depending on what ran before, and a row must not depend on that
        return np.asarray(jax.jit(schedule)(steps), dtype=np.float64)[: len(case.steps)]


def run_plateau(
    threshold_mode: str,
    case: Any,
    dtype: str,
    device: str,
    make: Callable[..., Any] = contrib.reduce_on_plateau,
) -> np.ndarray:
    """``sgd(eta0)`` then ``reduce_on_plateau`` (or ``make``, called with its keyword arguments),
    one metric per update (see the module docstring)."""
    hp = case.hyperparameters
    jdt = _DTYPES[dtype]
    eta0 = float(hp["learning_rate"])
    # jax.disable_jit: the transformation's lax.cond would otherwise be traced anew on every
    # update (its branches close over this case's hyperparameters), ~0.5 s per update on a busy
    # CPU; without jit, cond runs the branch it selects with the same jnp operations
    with jax.default_device(_jax_device(device)), jax.disable_jit():
        plateau = make(**plateau_arguments(hp, threshold_mode))
        opt = optax.chain(optax.sgd(eta0), plateau)
        params = jnp.zeros((), dtype=jdt)
        state = opt.init(params)
        out = []
        for m in case.metrics:
            updates, state = opt.update(
                jnp.ones((), dtype=jdt), state, params, value=jnp.asarray(m, dtype=jdt)
            )
            if case.check == "through_optimizer":
                out.append(-float(updates))
            else:
                out.append(eta0 * float(state[1].scale))
        return np.asarray(out, dtype=np.float64)


def _impl(spec_id: str, name: str, run: Callable[..., np.ndarray], **kw: Any) -> Implementation:
    return Implementation(spec_id, name, run, dtypes=tuple(_DTYPES), devices=("cpu", "cuda"), **kw)


def _scheduled(make: MakeSchedule) -> Callable[..., np.ndarray]:
    return lambda case, dtype, device: run_schedule(make, case, dtype, device)


def _eta0(hp: Mapping[str, Any], jdt: Any) -> Any:
    return jnp.asarray(hp["learning_rate"], dtype=jdt)


def implementations() -> list[Implementation]:
    out = [
        _impl(
            "sched.linear",
            "linear_schedule",
            _scheduled(
                lambda hp, jdt: optax.linear_schedule(
                    _eta0(hp, jdt),
                    jnp.asarray(hp["final_learning_rate"], dtype=jdt),
                    hp["transition_steps"],
                )
            ),
            options={"rounded": {"transition_steps": "float32"}},
            description=FLOAT32_QUOTIENT,
        ),
        _impl(
            "sched.exponential",
            "exponential_decay",
            _scheduled(
                lambda hp, jdt: optax.exponential_decay(
                    _eta0(hp, jdt), hp["decay_steps"], jnp.asarray(hp["decay_rate"], dtype=jdt)
                )
            ),
            options={"rounded": {"decay_steps": "float32"}},
            description=FLOAT32_QUOTIENT,
        ),
        _impl(
            "sched.exponential",
            "exponential_decay(staircase=True)",
            _scheduled(
                lambda hp, jdt: optax.exponential_decay(
                    _eta0(hp, jdt),
                    hp["decay_steps"],
                    jnp.asarray(hp["decay_rate"], dtype=jdt),
                    staircase=True,
                )
            ),
            findings={"*": STAIRCASE},
        ),
        _impl(
            "sched.piecewise_constant",
            "piecewise_constant_schedule",
            _scheduled(
                lambda hp, jdt: optax.piecewise_constant_schedule(
                    _eta0(hp, jdt), piecewise_scales(hp["gamma"], hp["boundaries"])
                )
            ),
        ),
        _impl(
            "sched.annealing",
            "exponential_decay(transition_steps=1, decay_rate=1-beta)",
            _scheduled(
                lambda hp, jdt: optax.exponential_decay(
                    _eta0(hp, jdt), **annealing_arguments(hp["decay_rate"], jdt)
                )
            ),
        ),
    ]
    for tm, arg in (("relative", "rtol"), ("absolute", "atol")):
        out.append(
            _impl(
                "sched.plateau",
                f"contrib.reduce_on_plateau({arg})",
                lambda case, dtype, device, tm=tm: run_plateau(tm, case, dtype, device),
                findings={"*": PLATEAU},
                pinned={"accumulation_size": 1},
            )
        )
    return out
