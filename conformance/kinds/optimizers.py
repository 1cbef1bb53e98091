"""The optimizer kind: one step from an arbitrary state, then trajectories with a schedule.

The case (:class:`OptimizerCase`), its draws (:func:`draw_optimizer_case`) and its evaluation
(:func:`evaluate_example`: the framework once, the tracked reference once per variant) live here.
A generated state satisfies every invariant its entry's model declares: buffers named in
``nonnegative_buffers`` are drawn ``>= 0`` (:func:`~trainspec.conformance.strategies.draw_canonical_state`),
and for each pair ``(s, a)`` in ``square_dominates`` (RMSprop's centered moments) ``a`` is
clipped so that ``a**2 <= s`` holds exactly in the dtype under test (:func:`clip_to_root`).

For an optimizer spec the property is: the framework's parameters after the example's steps
equal, within the tolerance policy, those of the reference variant.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias, cast

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray, Implementation
from trainspec.conformance.contracts import ArrayOf, CaseField, KindContract, MappingOf
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import (
    draw_canonical_state,
    draw_hyperparameters,
    draw_learning_rates,
    draw_param_tree,
    draw_tree_like,
)
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import Tracked, round_to, track_scalar, track_tree, unit_roundoff
from trainspec.reference.base import apply_updates, piecewise_schedule
from trainspec.reference.optimizers.common import CanonicalState, OptimizerModel
from trainspec.reference.registry import SpecEntry, Variant

__all__ = [
    "CONTRACT",
    "COUNT_MEANING",
    "KIND",
    "OptimizerCase",
    "OptimizerResult",
    "buffer_meanings",
    "centred_absorbing_example",
    "centred_bfloat16_example",
    "centred_variance_near_zero",
    "clip_to_root",
    "draw_optimizer_case",
    "evaluate_example",
    "reference_optimizer_run",
]


@dataclass(frozen=True)
class OptimizerCase:
    r"""One generated example for an optimizer spec.

    ``state`` is ``None`` for a trajectory from the optimizer's own initial state, or a
    :class:`~trainspec.reference.optimizers.common.CanonicalState` (one step from an arbitrary state).
    ``learning_rates[t]`` and ``grads[t]`` are the learning rate and the gradients of step ``t``;
    the gradients do not depend on the parameters, so that the comparison isolates the update
    formula. ``hyperparameters`` holds every hyperparameter of the spec but the learning rate.
    """

    params: Mapping[str, np.ndarray]
    grads: Sequence[Mapping[str, np.ndarray]]
    learning_rates: Sequence[float]
    hyperparameters: Mapping[str, float]
    state: CanonicalState | None = None

    @property
    def steps(self) -> int:
        return len(self.grads)

    def summary(self, max_elements: int = 8) -> dict[str, Any]:
        """A JSON-able description; arrays longer than ``max_elements`` are summarised."""

        def arr(a: np.ndarray) -> Any:
            return summarize_array(a, max_elements)

        out: dict[str, Any] = {
            "params": {k: arr(v) for k, v in self.params.items()},
            "grads": [{k: arr(v) for k, v in g.items()} for g in self.grads],
            "learning_rates": list(self.learning_rates),
            "hyperparameters": dict(self.hyperparameters),
        }
        if self.state is not None:
            out["state"] = {
                "count": self.state.count,
                "buffers": {
                    b: {k: arr(v) for k, v in t.items()} for b, t in self.state.buffers.items()
                },
            }
        return out


#: What ``run`` returns for an :class:`OptimizerCase`: the final parameters, ``{name: array shaped
#: like params[name]}``.
OptimizerResult: TypeAlias = Mapping[str, FloatArray]


def draw_optimizer_case(
    data: Any, entry: SpecEntry, dtype: str, check: str, *, max_steps: int = 12
) -> OptimizerCase:
    """One example for an optimizer spec.

    ``check="one_step"``: one step from an arbitrary canonical state at one learning rate.
    ``check="trajectory"``: 2 to ``max_steps`` steps from the initial state, with a learning rate
    per step (constant, plateaus, or a new value every step).
    """
    if check not in ("one_step", "trajectory"):
        raise ValueError(f"check={check!r}: must be 'one_step' or 'trajectory'")
    params = draw_param_tree(data, dtype)
    hps = draw_hyperparameters(data, entry, dtype)
    if check == "one_step":
        state = draw_canonical_state(
            data, entry.model.buffers, params, dtype, entry.model.nonnegative_buffers
        )
        lrs = draw_learning_rates(data, entry, 1, dtype)
        grads = [draw_tree_like(data, params, dtype, "grads[0]")]
    else:
        state = None
        steps = data.draw(st.integers(2, max_steps), label="steps")
        lrs = draw_learning_rates(data, entry, steps, dtype)
        grads = [draw_tree_like(data, params, dtype, f"grads[{t}]") for t in range(steps)]
    return OptimizerCase(
        params=params, grads=grads, learning_rates=lrs, hyperparameters=hps, state=state
    )


def reference_optimizer_run(
    model: OptimizerModel, variant: Variant, case: OptimizerCase, dtype: str
) -> dict[str, Tracked]:
    """The reference parameters after ``case``'s steps, with their tracked error bounds.

    For an elementwise optimizer the tensors are concatenated and the reference runs once on the
    whole vector (the same numbers, far fewer NumPy calls), then the result is split back.
    """
    if model.elementwise and len(case.params) > 1:
        flat = _run(model, variant, _flatten_case(case), dtype)["flat"]
        return _unflatten(flat, case.params)
    return _run(model, variant, case, dtype)


def _flat(tree: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"flat": np.concatenate([np.ravel(v) for v in tree.values()])}


def _flatten_case(case: OptimizerCase) -> OptimizerCase:
    state = None
    if case.state is not None:
        state = CanonicalState(
            case.state.count, {b: _flat(t) for b, t in case.state.buffers.items()}
        )
    return OptimizerCase(
        _flat(case.params),
        [_flat(g) for g in case.grads],
        case.learning_rates,
        case.hyperparameters,
        state,
    )


def _unflatten(flat: Tracked, like: Mapping[str, np.ndarray]) -> dict[str, Tracked]:
    out: dict[str, Tracked] = {}
    i = 0
    for k, v in like.items():
        n = v.size
        out[k] = Tracked(
            flat.value[i : i + n].reshape(v.shape), flat.err[i : i + n].reshape(v.shape), flat.u
        )
        i += n
    return out


def _run(
    model: OptimizerModel, variant: Variant, case: OptimizerCase, dtype: str
) -> dict[str, Tracked]:
    hp: dict[str, Any] = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    schedule = _shifted_schedule(case)
    hp["learning_rate"] = lambda t: track_scalar(schedule(t), dtype)
    opts = variant.options
    transform = model.build(opts, hp)
    params = track_tree(case.params, dtype)
    if case.state is None:
        state = transform.init(params)
    else:
        # the reference's formulas run on Tracked arrays as on ndarrays (duck typing)
        tracked = CanonicalState(
            count=case.state.count,
            buffers=cast(
                "dict[str, dict[str, np.ndarray]]",
                {b: track_tree(t, dtype) for b, t in case.state.buffers.items()},
            ),
        )
        state = model.load_state(opts, hp, tracked, params)
    for g in case.grads:
        updates, state = transform.update(track_tree(g, dtype), state, params)
        params = apply_updates(params, updates)
    return params


def _shifted_schedule(case: OptimizerCase) -> Any:
    """The case's learning rates as a schedule over absolute step counts (a state may start at t > 0)."""
    start = 0 if case.state is None else case.state.count
    inner = piecewise_schedule(case.learning_rates)
    return lambda t: inner(t - start)


def evaluate_example(
    entry: SpecEntry,
    impl: Implementation,
    case: OptimizerCase,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
) -> dict[Variant, Comparison]:
    """Run the framework once and compare with each of ``variants``."""
    actual = impl.run(case, dtype, device)
    return {
        v: _with_input(
            compare_trees(actual, reference_optimizer_run(entry.model, v, case, dtype), dtype),
            case,
        )
        for v in variants
    }


def _with_input(c: Comparison, case: OptimizerCase) -> Comparison:
    """``c`` with the worst element's inputs: its parameter, and its gradient at each step."""
    if c.index is None or c.where not in case.params:
        return c
    p = np.asarray(case.params[c.where])
    if p.shape != np.shape(case.grads[0].get(c.where, p)) or len(c.index) != p.ndim:
        return c
    g = [float(np.asarray(step[c.where])[c.index]) for step in case.grads if c.where in step]
    shown = ", ".join(f"{x!r}" for x in g[:4]) + (", ..." if len(g) > 4 else "")
    return replace(c, input=f"parameter {float(p[c.index])!r}, gradient(s) {shown}")


#: how close to 0 (relative to square_avg, in units of the dtype's unit roundoff) the exact
#: centred variance is inside the region of the centred-RMSprop findings: the dtype's own rounding of
#: square_avg and grad_avg over a few steps moves the remainder by a few units
CENTRED_ZERO_UNITS = 16.0


def centred_variance_near_zero(case: OptimizerCase, dtype: str) -> bool:
    r"""Whether, at some step and element, the centred variance $s - m^2$ of RMSprop (computed
    exactly in float64 from the case) is within ``CENTRED_ZERO_UNITS`` $\cdot u \cdot s$ of 0,
    $u$ the unit roundoff of ``dtype``: where a framework that evaluates it with a fused multiply-add
    (``torch.optim.RMSprop(centered=True)``, optax's ``rmsprop(centered=True)`` under ``jax.jit``)
    may take the square root of a negative rounding remainder: the region of their findings."""
    rho = float(case.hyperparameters["rho"])
    u = unit_roundoff(dtype)
    for k, p in case.params.items():
        if case.state is not None:
            s = np.asarray(case.state.buffers["square_avg"][k], dtype=np.float64)
            m = np.asarray(case.state.buffers["grad_avg"][k], dtype=np.float64)
        else:
            s = m = np.zeros_like(np.asarray(p, dtype=np.float64))
        for grads in case.grads:
            g = np.asarray(grads[k], dtype=np.float64)
            s = rho * s + (1.0 - rho) * g * g
            m = rho * m + (1.0 - rho) * g
            if np.any(s - m * m <= CENTRED_ZERO_UNITS * u * s):
                return True
    return False


#: the words of that region, for a :class:`~trainspec.conformance.adapter.Finding`
CENTRED_REGION_TEXT = (
    "the centred variance square_avg - grad_avg**2 is 0 up to the dtype's rounding "
    f"({CENTRED_ZERO_UNITS:g} u square_avg) at some step"
)


def centred_bfloat16_example() -> tuple[str, OptimizerCase]:
    r"""The minimal counterexample of the bfloat16 centred-RMSprop findings (Keras 3 and optax
    step by NaN): ``("trajectory", case)``, two steps of $g = 0.640625$ from the initial state at
    $\rho = 0.0625$, $\epsilon \approx 10^{-8}$. The exact centred variance is 4 % of $s$; the
    bfloat16 running averages make the rounded difference negative. In
    :func:`centred_variance_near_zero`'s region; a finding's ``examples`` (so every profile meets
    it) and its ``trainspec repro`` example."""
    g = {"w0": np.array([0.640625])}
    return "trajectory", OptimizerCase(
        params={"w0": np.array([0.640625])},
        grads=[g, g],
        learning_rates=[0.00099945068359375, 0.00099945068359375],
        hyperparameters={"rho": 0.0625, "eps": 1.0011717677116394e-08, "momentum": 0.0},
    )


def centred_absorbing_example() -> tuple[str, OptimizerCase]:
    r"""The minimal counterexample of the compiled centred-RMSprop findings of Keras 3 on
    TensorFlow (``tf.function`` with and without XLA): ``("trajectory", case)``, two steps from the initial state at $\rho = 0$ (so the centred variance is exactly 0
    after each step), $\epsilon \approx 10^{-8}$, the second gradient $10^5$ times the first: then
    velocity $= g^2 \approx 1.6 \cdot 10^8$, whose half unit exceeds $\epsilon$ in float32 and
    float64 (Grappler's rewrite gives inf), and XLA's fused difference is a negative remainder
    (NaN). In :func:`centred_variance_near_zero`'s region in both dtypes."""
    theta = 0.1257302210933933
    return "trajectory", OptimizerCase(
        params={"w0": np.array([theta])},
        grads=[{"w0": np.array([theta])}, {"w0": np.array([12573.02210933933])}],
        learning_rates=[0.0010000000474974513, 0.0010000000474974513],
        hyperparameters={"rho": 0.0, "eps": 9.99999993922529e-09, "momentum": 0.0},
    )


def clip_to_root(a: np.ndarray, s: np.ndarray, dtype: str) -> np.ndarray:
    r"""``a`` with every element of magnitude above $r = \mathrm{fl}(\sqrt{s}\,(1 - 4u))$ replaced
    by $\pm r$, so that $a^2 \le s$ exactly (``s >= 0``, both representable in ``dtype``).

    $r < \sqrt{s}$ exactly: the square root and the product round by at most $u_{64}$ each and the
    rounding to ``dtype`` by at most $u$, so $r \le \sqrt{s}(1-4u)(1+u)(1+u_{64})^2 < \sqrt{s}$
    ($r$ is normal or zero for the strategies' magnitudes). Elements already within $r$ keep
    their value; where $s = 0$, $a$ becomes 0. The clipped elements have $s - a^2 \approx 8us$,
    the hard region of the centered variance estimate $s - a^2$.
    """
    u = unit_roundoff(dtype)
    root = round_to(np.sqrt(s) * (1.0 - 4.0 * u), dtype)
    return np.where(np.abs(a) <= root, a, np.copysign(root, a))


def _satisfy_invariants(entry: Any, case: OptimizerCase, dtype: str) -> OptimizerCase:
    pairs = getattr(entry.model, "square_dominates", ())
    if case.state is None or not pairs:
        return case
    buffers = dict(case.state.buffers)
    for s_name, a_name in pairs:
        s, a = buffers[s_name], buffers[a_name]
        buffers[a_name] = {k: clip_to_root(a[k], s[k], dtype) for k in a}
    return OptimizerCase(
        case.params,
        case.grads,
        case.learning_rates,
        case.hyperparameters,
        CanonicalState(case.state.count, buffers),
    )


def _draw(data: Any, entry: Any, dtype: str, check: str) -> OptimizerCase:
    return _satisfy_invariants(entry, draw_optimizer_case(data, entry, dtype, check), dtype)


#: what ``CanonicalState.count`` means, for every optimizer
COUNT_MEANING = (
    "the number of steps already taken: the case's first step is step count + 1 (bias "
    "corrections and momentum schedules use it); its learning rate is learning_rates[0]"
)


def buffer_meanings(entry: SpecEntry) -> dict[str, str]:
    """``{buffer: meaning}`` for every canonical buffer of an optimizer entry, in the model's order.

    The meanings are the ``BUFFERS`` table (``{buffer: meaning}``) of the card that registers the
    entry (the module named by ``entry.source``); a buffer without a meaning is an error.
    """
    path = entry.source.rsplit(":", 1)[0]
    if not path.startswith("reference/") or not path.endswith(".py"):
        raise KeyError(f"{entry.id}: its source {entry.source!r} is not a reference module")
    module = importlib.import_module("trainspec." + path[: -len(".py")].replace("/", "."))
    table: Mapping[str, str] = getattr(module, "BUFFERS", {})
    out: dict[str, str] = {}
    for b in entry.model.buffers:
        if b not in table:
            raise KeyError(f"{entry.id}: canonical buffer {b!r} has no documented meaning")
        out[b] = table[b]
    return out


def _expected(entry: Any, impl: Any, case: OptimizerCase, dtype: str, check: str) -> Any:
    return MappingOf({k: ArrayOf(tuple(np.shape(v))) for k, v in case.params.items()})


CONTRACT = KindContract(
    case_types=(OptimizerCase,),
    result_type=OptimizerResult,
    result_name="OptimizerResult",
    fields=(
        CaseField("params", "Mapping[str, ndarray]", "name -> the initial parameter tensor"),
        CaseField(
            "grads",
            "Sequence[Mapping[str, ndarray]]",
            "grads[t]: the gradients of step t, shaped like params (they do not depend on the "
            "parameters, so that the comparison isolates the update formula)",
        ),
        CaseField(
            "learning_rates",
            "Sequence[float]",
            "learning_rates[t]: the learning rate of step t; it changes between steps, feed it "
            "as a scheduler of your framework would",
        ),
        CaseField(
            "hyperparameters",
            "Mapping[str, float]",
            "every hyperparameter of the spec but the learning rate, by the spec's names "
            "(trainspec spec --id ID)",
        ),
        CaseField(
            "state",
            "CanonicalState | None",
            "None: start from the optimizer's own initial state (check trajectory); else "
            "CanonicalState(count, buffers) in the spec's convention (check one_step): count is "
            f"{COUNT_MEANING}; buffers[name] is a tree shaped like params (below, per spec ID)",
        ),
    ),
    returns="the final parameters after every step: {name: array shaped like params[name]}",
    expected=_expected,
    buffers=buffer_meanings,
)


KIND = register_kind(
    Kind(
        "optimizers",
        ("one_step", "trajectory"),
        _draw,
        evaluate_example,
        "parameters after one step from a generated state, and after trajectories of 2-12 steps "
        "with a changing learning rate, element by element within the tolerance policy",
        contract=CONTRACT,
    )
)
