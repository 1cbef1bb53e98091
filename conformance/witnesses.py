r"""Witnesses: explicit examples that separate every pair of variants, tried before random search.

Random examples separate two variants of a spec only when one happens to land where they differ
by more than the tolerance. The witness phase makes that deliberate. For every (spec ID, dtype,
check) the kit draws a deterministic *pool* of candidate cases (``POOL_SIZE`` draws from a fixed
seed, the same in every profile and every run) and computes, from the reference alone, how far
apart every ordered pair of variants is on each case:

.. math::

    \operatorname{sep}_c(A \to B) = \frac{\lvert \mathrm{fl}(A(c)) - B(c) \rvert}{\tau_B(c)}

the error/tolerance ratio a framework computing $A$ exactly (its result rounded to the dtype)
would get against $B$'s tracked reference $B(c)$ and tolerance $\tau_B(c)$: the kind's own
comparison (``Kind.evaluate``) run on a framework that *is* the reference of $A$. A case with
$\operatorname{sep}_c(A \to B) > 1$ eliminates $B$ when the framework computes $A$. The witnesses
of a check are the kind's boundary cases (``KindWitness.boundaries``: thresholds exactly at, one
ulp below and above; zero, subnormals, infinities and NaN) and a small set of pool cases, chosen
greedily, that together separate every ordered
pair the pool can separate (each case by a margin of ``MARGIN``: well clear of the tolerance when
it can be). The runner (:func:`~trainspec.conformance.runner.check_row`) evaluates them on the
framework before Hypothesis generates its own examples, and records them like any example, so
every profile sees them.

A pair that no pool case separates is *indistinguishable* in that dtype: the tolerance of the
dtype covers their difference on every case the pool holds (bfloat16's 8 bits cannot resolve
an $\epsilon$ placed inside or outside a maximum, for example). A row whose surviving variants
are indistinguishable says so, with the best separation the pool reached, instead of a plain
``conforms``.

The pool is computed once per process per (spec ID, dtype, check) (:func:`witness_plan` is
cached); the pool's cases in a known finding's region are that finding's witnesses
(:func:`finding_witnesses`). Kinds whose reference is statistical (dropout, initialisers) or
depends on the framework's own outputs (batch normalisation's test output) have no reference
result to separate variants with: :func:`witness_plan` returns ``None`` for them. Their exact axes
get hand-made cases instead (:data:`FIXED_WITNESSES`, :func:`fixed_witnesses`): dropout's
``masking`` (what a dropped ``inf`` or ``nan`` becomes) is decided by one training pass over
non-finite inputs only, so that no profile depends on a random draw putting one where the
framework's mask drops it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.dropout import DropoutCase
from trainspec.conformance.profiles import without_local_constants
from trainspec.conformance.tolerance import Comparison
from trainspec.conformance.tracked import Tracked, round_to, smallest_normal, unit_roundoff
from trainspec.reference.registry import SpecEntry, Variant, get

__all__ = [
    "DROPOUT_NON_FINITE_COPIES",
    "FIXED_WITNESSES",
    "KIND_WITNESSES",
    "MARGIN",
    "POOL_SEED",
    "POOL_SIZE",
    "KindWitness",
    "WitnessPlan",
    "finding_witnesses",
    "fixed_witnesses",
    "indistinguishable",
    "reference_result",
    "separation",
    "ulp_neighbours",
    "witness_plan",
]

#: candidate cases drawn per (spec ID, dtype, check)
POOL_SIZE = 16
#: the fixed seed of the pool's draws (the same pool in every profile)
POOL_SEED = 0x5EED
#: a witness is chosen for a pair when it separates it by this ratio (else the best the pool has)
MARGIN = 4.0
#: at most this many witnesses of a known finding's region per check
FINDING_WITNESSES = 2
#: where the pool holds fewer, the first ones among this many draws (the same seed: the pool's
#: cases come first)
FINDING_POOL_SIZE = 256


def _materialize(x: Any, dtype: str) -> Any:
    """A reference output as a framework returns it: every tracked value rounded to ``dtype``."""
    if isinstance(x, Tracked):
        return round_to(np.asarray(x.value, dtype=np.float64), dtype)
    if isinstance(x, Mapping):
        return {k: _materialize(v, dtype) for k, v in x.items()}
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return round_to(x, dtype)
    if isinstance(x, list | tuple):
        return type(x)(_materialize(v, dtype) for v in x)
    return x


def _optimizers(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.optimizers import reference_optimizer_run

    return reference_optimizer_run(entry.model, v, case, dtype)


def _clipping(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.clipping import _reference

    return _reference(entry, v, case, dtype)  # a tree, or RAISED (a string) where it refuses


def _losses(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.tracked import track_tree

    y = track_tree({"y": case.outputs}, dtype)["y"]
    t = (
        case.targets
        if case.target_kind == "labels"
        else track_tree({"t": case.targets}, dtype)["t"]
    )
    return entry.model.evaluate(v.options, y, t)


def _regularizers(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.tracked import track_scalar, track_tree

    w = track_tree({"w": case.weights}, dtype)["w"]
    hp = {k: track_scalar(x, dtype) for k, x in case.hyperparameters.items()}
    return entry.model.evaluate(v.options, hp, w)


def _schedules(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.schedules import reference_values

    return reference_values(entry, v, case, dtype)


def _activations(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.activations import reference_outputs

    return reference_outputs(entry, v.options, case, dtype, case.check)


def _early_stopping(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.training.early_stopping import reference_decisions

    return reference_decisions(case, v.options)


def _backprop(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.training.backprop import tracked_inputs
    from trainspec.reference.training import mlp_backprop

    tp, tx, tt = tracked_inputs(case, dtype)
    return mlp_backprop(
        tp, tx, tt, case.activations, case.loss, relu_grad_at_zero=v.options["relu_grad_at_zero"]
    )


def _norm(entry: SpecEntry, v: Variant, case: Any, dtype: str) -> Any:
    from trainspec.conformance.kinds.norm import expected

    # every part but the test output is a function of the case alone (``run`` is not read)
    return expected(entry.model.compares, case, None, dtype, v.options)  # type: ignore[arg-type]


def _trees(actual: Any, expected: Any, v: Variant, case: Any, dtype: str) -> Comparison:
    from trainspec.conformance.tolerance import compare_trees

    return compare_trees(actual, expected, dtype)


def _clipping_compare(actual: Any, expected: Any, v: Variant, case: Any, dtype: str) -> Comparison:
    from trainspec.conformance.kinds.clipping import compare_outcomes

    return compare_outcomes(actual, expected, dtype)


def _schedules_compare(actual: Any, expected: Any, v: Variant, case: Any, dtype: str) -> Comparison:
    from trainspec.conformance.tolerance import compare

    err, tol, ratio = compare(np.asarray(actual, dtype=np.float64), expected, dtype)
    return Comparison(err, tol, ratio, "")


def _activations_compare(
    actual: Any, expected: Any, v: Variant, case: Any, dtype: str
) -> Comparison:
    from trainspec.conformance.kinds.activations import compare_outputs

    return compare_outputs(actual, expected, v.options, case, dtype, case.check)


def _decisions(actual: Any, expected: Any, v: Variant, case: Any, dtype: str) -> Comparison:
    from trainspec.conformance.kinds.training.early_stopping import compare_decisions

    return compare_decisions(actual, expected)


def _decided(r: Any, dtype: str) -> Any:
    return {"stop_epoch": r.stop_epoch, "restored_epoch": r.restored_epoch}


def ulp_neighbours(x: float, dtype: str) -> tuple[float, float]:
    r"""The numbers of ``dtype`` one ulp below and one ulp above ``x`` (a positive normal number
    of ``dtype``): $x - \mathrm{ulp}^-$ and $x + \mathrm{ulp}$, with $\mathrm{ulp} =
    2^{\lfloor \log_2 x \rfloor} \cdot 2u$ and $\mathrm{ulp}^- = \mathrm{ulp}/2$ when $x$ is a
    power of two above the smallest normal number (the spacing halves below it)."""
    if not (np.isfinite(x) and x >= smallest_normal(dtype)):
        raise ValueError(f"x={x!r}: must be a positive normal number of {dtype}")
    if float(round_to(x, dtype)) != x:
        raise ValueError(f"x={x!r}: must be representable in {dtype}")
    m, e = np.frexp(x)  # x = m 2^e, m in [1/2, 1)
    ulp = float(np.ldexp(1.0, int(e) - 1)) * 2.0 * unit_roundoff(dtype)
    below = x - (ulp / 2.0 if m == 0.5 and x > smallest_normal(dtype) else ulp)
    return below, x + ulp


def _activation_boundaries(
    entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]
) -> list[Any]:
    r"""Zero in activations: $\pm 0$, the smallest subnormal and normal numbers of the dtype
    (one ulp either side of 0), $\pm 1$; then, for an elementwise activation, the same with the
    kind's edge values (``edge_values``: the infinities and NaN where the model allows them)."""
    if not pool:
        return []
    from dataclasses import replace

    from trainspec.conformance.kinds.activations import edge_values

    tiny = smallest_normal(dtype)
    sub = tiny * 2.0 * unit_roundoff(dtype)
    finite = np.array([0.0, -0.0, sub, -sub, tiny, -tiny, 1.0, -1.0])
    zs = [finite]
    model = entry.model
    hps = dict(pool[0].hyperparameters)
    if model.build(entry.default_variant.options, hps).elementwise:
        # the kind's own edge values (with the infinities and NaN its model allows); a
        # normalising activation keeps a finite element in every row, as the kind draws it
        edges = edge_values(dtype, allow_nan=model.allow_nan, allow_posinf=model.allow_posinf)
        zs.append(np.concatenate([finite, edges]))
    out = []
    for z in zs:
        cot = np.ones_like(z) if check == "derivatives" else None
        out.append(replace(pool[0], z=z, cotangent=cot, region="edges"))
    return out


def _clipping_boundaries(
    entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]
) -> list[Any]:
    r"""Clip norm = max norm: one tensor of a drawn case with the threshold exactly at its norm
    (rounded to the dtype), one ulp below and one ulp above; and the tensor scaled by
    $2^{-10}$ (exactly) with the threshold at half its norm (a small norm, where an
    $\epsilon$ added to it shows)."""
    if check != "finite":
        return []
    from trainspec.conformance.kinds.clipping import ClippingCase

    out = []
    for base in pool[:3]:
        name, g = next(iter(base.grads.items()))
        g = np.asarray(g, dtype=np.float64)
        with np.errstate(all="ignore"):
            norm = float(round_to(np.sqrt(np.sum(g * g)), dtype))
        if not (np.isfinite(norm) and norm >= smallest_normal(dtype)):
            continue
        below, above = ulp_neighbours(norm, dtype)
        for k in (below, norm, above):
            out.append(ClippingCase({name: g}, {"threshold": k}, "exact_norm", "at"))
        small = g * 2.0**-10
        if np.all((small == 0) | (np.abs(small) >= smallest_normal(dtype))):
            k = float(round_to(norm * 2.0**-11, dtype))
            if k >= smallest_normal(dtype):
                out.append(ClippingCase({name: small}, {"threshold": k}, "random", "half"))
    return out


#: the gradient ladder of the optimizers' boundary case, in units of the case's $\epsilon$
EPS_LADDER = (0.01, 0.1, 1.0, 10.0, 100.0)
#: the ladder is built on this many drawn cases (their other hyperparameters), of this many steps
LADDER_CASES = 2
LADDER_STEPS = 3
#: the $\beta_2$ of one step from the earliest state: $1 - \beta_2^2 = 0.12$, well conditioned
#: in bfloat16, and far enough from 1 to change $\sqrt{\hat v}$ by a factor 2.9
EARLY_STATE_BETA2 = 1.0 - 2.0**-4
#: the learning rates of the falling ladder: the first step small, so that the parameter holds
#: mostly the later steps, which a running maximum from the first step governs
LADDER_LEARNING_RATES = (2.0**-10, 2.0**-3, 2.0**-3)
#: float16's smallest normal number is 6.1e-5: an epsilon below this is raised to it for the ladder
LADDER_MIN_EPS = {"float16": 2.0**-4}
#: the ladder's $\beta_2$ (where the entry has one), each a case: the larger separates $\epsilon$
#: from $\hat\epsilon$ by more, but $1 - \beta_2^t$ is then ill-conditioned in a 16-bit dtype
LADDER_BETA2 = (0.75, 1.0 - 2.0**-7)


def _optimizer_boundaries(
    entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]
) -> list[Any]:
    r"""Where $\epsilon$ takes over, and AMSGrad's running maximum governs.

    ``trajectory``: from parameters 0, gradients whose elements are $\pm\epsilon \cdot
    \{10^{-2}, 10^{-1}, 1, 10, 10^{2}\}$ (``EPS_LADDER``, rounded to the dtype), with the
    hyperparameters of each of the first ``LADDER_CASES`` drawn cases (with $\epsilon > 0$; in
    float16 at least ``LADDER_MIN_EPS``) but $\beta_2 \in \{3/4, 1 - 2^{-7}\}$ (``LADDER_BETA2``,
    where the entry has one: exact in every dtype); as one step at the learning rate $2^{-3}$,
    and as ``LADDER_STEPS`` steps whose gradient falls by 4 each step (exact) at
    ``LADDER_LEARNING_RATES``. Where $\sqrt{\hat v}$ and $\epsilon$ are of one size, where
    $\epsilon$ goes (inside or outside the root, or Kingma and Ba's $\hat\epsilon$ on the
    uncorrected $\sqrt{v}$, an effective $\epsilon/\sqrt{1 - \beta_2^t}$) changes the step by up
    to $1/\sqrt{1 - \beta_2}$ (2 or 11: bfloat16 resolves that, where random gradients of
    ordinary size leave every placement within its rounding); after falling gradients the
    running maximum is the first step's, kept corrected or not. The rungs whose $(1 -
    \beta_2) g^2$ is not a normal number of the dtype at the last step are left out.
    ``one_step``: see :func:`_early_state_boundaries`."""
    from dataclasses import replace

    if check == "one_step":
        return _early_state_boundaries(pool, dtype)
    if check != "trajectory":
        return []
    out = _decay_boundaries(pool)
    bases = [c for c in pool if float(c.hyperparameters.get("eps", 0.0)) > 0.0]
    tiny = smallest_normal(dtype)
    for base, beta2 in itertools.product(bases[:LADDER_CASES], LADDER_BETA2):
        hps = dict(base.hyperparameters)
        if "beta2" in hps:
            hps["beta2"] = beta2
        elif beta2 != LADDER_BETA2[0]:
            continue  # one ladder per base without a beta2
        # float16 holds no square of a gradient near a small epsilon: a larger one there
        eps = max(float(hps["eps"]), LADDER_MIN_EPS.get(dtype, 0.0))
        hps["eps"] = eps
        rungs = round_to(np.array([eps * k for k in EPS_LADDER]), dtype).astype(np.float64)
        for steps, lrs in ((1, [2.0**-3]), (LADDER_STEPS, LADDER_LEARNING_RATES)):
            last = rungs * 4.0 ** -(steps - 1)
            with np.errstate(all="ignore"):
                keep = (last * last * (1.0 - beta2) >= tiny) & np.isfinite(rungs * rungs)
            if not keep.any():
                continue
            g = np.concatenate([rungs[keep], -rungs[keep]])
            out.append(
                replace(
                    base,
                    params={"w0": np.zeros_like(g)},
                    grads=[{"w0": g * 4.0**-t} for t in range(steps)],
                    learning_rates=list(lrs),
                    hyperparameters=hps,
                    state=None,
                )
            )
    return out


def _decay_boundaries(pool: Sequence[Any]) -> list[Any]:
    r"""Weight decay alone: three steps with gradient 0 from parameters $\pm\{1, 2, 4, 8\}$ at
    the learning rate $2^{-1}$, $\lambda = 2^{-1}$ and (where the entry has one) momentum
    $3/4$, for an entry with a ``weight_decay``. Coupled decay ($\lambda\theta$ added to the
    gradient, so it passes through the momentum buffer) takes $\theta$ to $0.375\,\theta_0$
    and then $0$ where decoupled decay takes it to $0.5625\,\theta_0$ and $0.42\,\theta_0$;
    $\lambda$, $2\lambda$ or $\lambda/2$ differ by a factor 2: far above any dtype's rounding."""
    from dataclasses import replace

    base = next((c for c in pool if "weight_decay" in c.hyperparameters), None)
    if base is None:
        return []
    hps = dict(base.hyperparameters)
    hps["weight_decay"] = 2.0**-1
    if "momentum" in hps:
        hps["momentum"] = 0.75
    theta = np.array([1.0, 2.0, 4.0, 8.0, -1.0, -2.0, -4.0, -8.0])
    steps = LADDER_STEPS
    return [
        replace(
            base,
            params={"w0": theta},
            grads=[{"w0": np.zeros_like(theta)} for _ in range(steps)],
            learning_rates=[2.0**-1] * steps,
            hyperparameters=hps,
            state=None,
        )
    ]


def _early_state_boundaries(pool: Sequence[Any], dtype: str) -> list[Any]:
    r"""One step from an arbitrary state at its earliest count: the first ``LADDER_CASES`` drawn
    one-step cases with ``state.count = 1`` (the case's step is the second), parameters 0 and
    the learning rate $2^{-3}$ (the parameter is the step) and, where the entry has one,
    $\beta_2 = 1 - 2^{-4}$ (``EARLY_STATE_BETA2``). The bias correction $1 - \beta_2^2$ is then far
    from 1, so a buffer kept corrected or uncorrected (AMSGrad's running maximum: optax's
    corrected $\hat v$ against PyTorch's and Keras's uncorrected $v$) changes the step by
    $\sqrt{1 - \beta_2^2}$ wherever the maximum is the state's: so that it is, AMSGrad's
    ``v_max`` buffer is set to $2^8 (v + g^2)$ (rounded to the dtype), far above the step's
    $v$ and even above its corrected $\hat v$."""
    from dataclasses import replace

    out = []
    for base in pool[:LADDER_CASES]:
        if base.state is None:
            continue
        hps = dict(base.hyperparameters)
        if "beta2" in hps:
            hps["beta2"] = EARLY_STATE_BETA2
        state = base.state._replace(count=1)
        if "v_max" in state.buffers:  # AMSGrad's maximum, well above any v of this step
            v, grads = state.buffers["v"], base.grads[0]
            top = {
                k: round_to(2.0**8 * (np.asarray(v[k]) + np.asarray(grads[k]) ** 2), dtype)
                for k in v
            }
            if all(np.all(np.isfinite(t)) for t in top.values()):
                state = state._replace(buffers={**state.buffers, "v_max": top})
        zeros = {k: np.zeros_like(np.asarray(p, dtype=np.float64)) for k, p in base.params.items()}
        out.append(
            replace(base, params=zeros, learning_rates=[2.0**-3], hyperparameters=hps, state=state)
        )
    return out


def _plateau_boundaries(entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]) -> list[Any]:
    r"""Plateau ties and counts, for ``sched.plateau`` (a step schedule's boundaries need no
    witness: every ``values`` case reads the steps at, before and after each of them).

    With the hyperparameters of two drawn cases (patience $P$, cooldown $C$, threshold
    $\epsilon$) and $m = 2$ (so that $m(1 \mp \epsilon) \neq m \mp \epsilon$): a constant
    metric from the first check; and after $m$, each tie exactly at the threshold ($m(1 -
    \epsilon)$, $m - \epsilon$, $m(1 + \epsilon)$, $m + \epsilon$), or a clear fall ($m/2$) or rise
    ($2m$: an improvement only for ``mode=max``), held to the end. Every
    sequence is as long as the check allows, so its plateau passes through the counts $P$, $P + 1$
    (reduce when the count reaches or exceeds the patience) and, after each reduction, $C - 1$
    and $C$ (the cooldown). The metrics stay dyadic (module docstring of the schedule kind)."""
    if not pool or not getattr(pool[0], "metrics", ()):
        return []
    from dataclasses import replace

    from trainspec.conformance.kinds.schedules import MAX_METRICS

    n = MAX_METRICS[check]
    m = 2.0
    out = []
    for base in pool[:2]:
        eps = float(base.hyperparameters["threshold"])
        ties = (m * (1 - eps), m - eps, m * (1 + eps), m + eps)
        firsts = [[m], *([m, t] for t in (*ties, m / 2, 2 * m))]
        for seq in firsts:
            metrics = tuple(seq + [seq[-1]] * (n - len(seq)))
            out.append(replace(base, steps=tuple(range(n)), metrics=metrics))
    return out


def _early_stopping_boundaries(
    entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]
) -> list[Any]:
    r"""Patience counts and ``min_delta`` ties: for patience $P \in \{0, 1, 2, 3\}$ and
    $\delta \in \{0, 2c\}$ ($c$: the dtype's coarse step), a first loss $L$, then one of: nothing,
    an exact tie $L$, a tie at the threshold $L - \delta$, the smallest strict improvement
    $L - \delta - q$ ($q$: the grid unit), each followed by $P + 2$ epochs that get worse by
    $c$ (so the wait passes through $P$ and $P + 1$: stop when it reaches or when it exceeds
    the patience; which of tied epochs is restored). Every loss is on the kind's exact grid."""
    from trainspec.conformance.kinds.training.early_stopping import (
        EarlyStoppingCase,
        coarse_step,
        grid_unit,
    )

    q, c = grid_unit(dtype), coarse_step(dtype)
    first = 16.0 * c
    out = []
    for patience in (0, 1, 2, 3):
        for delta in (0.0, 2.0 * c):
            for second in ((), (first,), (first - delta,), (first - delta - q,)):
                if delta == 0.0 and second == (first - delta,):
                    continue  # the same as the exact tie
                head = [first, *second]
                worse = [head[-1] + k * c for k in range(1, patience + 3)]
                out.append(EarlyStoppingCase(tuple(head + worse), patience, delta))
    return out


def _norm_boundaries(entry: SpecEntry, dtype: str, check: str, pool: Sequence[Any]) -> list[Any]:
    r"""The largest offsets: the first ``LADDER_CASES`` drawn cases with every training batch's
    channels moved to the largest offset the first-order domain allows
    (:func:`~trainspec.conformance.kinds.norm.offsets_at_the_limit`), where a one-pass variance
    is furthest from a two-pass one."""
    from dataclasses import replace

    from trainspec.conformance.kinds.norm import offsets_at_the_limit

    out = []
    for base in pool[:LADDER_CASES]:
        caxis = base.channel_axis
        batches = tuple(offsets_at_the_limit(x, caxis, dtype, base.eps) for x in base.batches)
        out.append(replace(base, batches=batches, regime="large_offset"))
    return out


@dataclass(frozen=True)
class KindWitness:
    """How to separate the variants of a kind from the reference alone: ``reference(entry,
    variant, case, dtype)`` (what the kind's ``evaluate`` compares with), ``result(reference,
    dtype)`` (what a framework computing that variant exactly returns) and ``compare(actual,
    reference, variant, case, dtype)`` (the kind's comparison of one variant)."""

    reference: Callable[[SpecEntry, Variant, Any, str], Any]
    compare: Callable[[Any, Any, Variant, Any, str], Comparison]
    result: Callable[[Any, str], Any] = _materialize
    #: hand-made cases at the kind's thresholds, added to the pool: ``boundaries(entry, dtype,
    #: check, drawn) -> [case]`` (``drawn``: the pool's drawn cases, to take valid fields from)
    boundaries: Callable[[SpecEntry, str, str, Sequence[Any]], list[Any]] | None = None
    #: whether an entry of the kind has a reference result without the framework's outputs
    applies: Callable[[SpecEntry], bool] = lambda entry: True


#: the kinds whose variants witnesses separate; a kind not listed has no reference result
#: (statistical kinds); batch normalisation's test output reads the framework's own statistics
KIND_WITNESSES: dict[str, KindWitness] = {
    "optimizers": KindWitness(_optimizers, _trees, boundaries=_optimizer_boundaries),
    "clipping": KindWitness(_clipping, _clipping_compare, boundaries=_clipping_boundaries),
    "losses": KindWitness(_losses, _trees),
    "regularizers": KindWitness(_regularizers, _trees),
    "schedules": KindWitness(_schedules, _schedules_compare, boundaries=_plateau_boundaries),
    "activations": KindWitness(
        _activations, _activations_compare, boundaries=_activation_boundaries
    ),
    "training.early_stopping": KindWitness(
        _early_stopping, _decisions, _decided, boundaries=_early_stopping_boundaries
    ),
    "training.backprop": KindWitness(_backprop, _trees),
    # batch normalisation but its test output (computed from the framework's own statistics)
    "norm": KindWitness(
        _norm,
        _trees,
        boundaries=_norm_boundaries,
        applies=lambda entry: entry.model.compares != "test",
    ),
}


#: copies of each of inf, -inf and nan in the dropout witness: a dropped infinity decides
#: ``masking`` (NaN multiplied, 0 selected; a dropped NaN only tells selecting apart), and a
#: training pass at keep probability 1/2 keeps all 32 infinities with probability 2^-32 (the
#: framework's RNG is seeded from the case, so the witness is the same in every run)
DROPOUT_NON_FINITE_COPIES = 16


def _dropout_witnesses(entry: SpecEntry, dtype: str, check: str) -> list[Any]:
    """One ``train`` pass over ``inf``, ``-inf`` and ``nan`` only, at rate 1/2 (keep probability
    1/2 under either meaning of the rate): a dropped element reads NaN under
    ``masking=multiply`` and 0 under ``masking=select`` (``drop.mc``'s linear layer has no such
    axis)."""
    if check != "train" or getattr(entry.model, "mc", False):
        return []
    (rate_hp,) = entry.hyperparameters
    rate = 0.5
    if not rate_hp.sample_low <= rate <= rate_hp.sample_high:
        rate = 0.5 * (rate_hp.sample_low + rate_hp.sample_high)
    x = np.tile(np.array([np.inf, -np.inf, np.nan]), DROPOUT_NON_FINITE_COPIES)
    return [DropoutCase(x=x, rate=rate, seed=POOL_SEED, passes=1)]


#: kinds without a reference result (:data:`KIND_WITNESSES`) whose exact axes have hand-made
#: cases: ``cases(entry, dtype, check) -> [case]``
FIXED_WITNESSES: dict[str, Callable[[SpecEntry, str, str], list[Any]]] = {
    "dropout": _dropout_witnesses,
}


def fixed_witnesses(spec_id: str, dtype: str, check: str) -> list[Any]:
    """The hand-made witnesses of ``spec_id``'s ``check`` (:data:`FIXED_WITNESSES`; none for a
    kind not listed), run first in every profile as the other witnesses are."""
    entry = get(spec_id)
    make = FIXED_WITNESSES.get(entry.kind)
    return [] if make is None else make(entry, dtype, check)


def reference_result(entry: SpecEntry, variant: Variant, case: Any, dtype: str) -> Any:
    """What a framework computing ``variant`` exactly returns for ``case`` (its reference result
    rounded to ``dtype``); ``KeyError`` for a kind not in :data:`KIND_WITNESSES`."""
    kw = KIND_WITNESSES[entry.kind]
    with np.errstate(all="ignore"):
        return kw.result(kw.reference(entry, variant, case, dtype), dtype)


def separation(entry: SpecEntry, case: Any, dtype: str) -> dict[tuple[Variant, Variant], float]:
    r"""$\operatorname{sep}_c(A \to B)$ for every ordered pair of ``entry``'s variants on
    ``case`` (see the module docstring): the ratio the kind's comparison gives variant $B$ when
    the framework returns $A$'s reference rounded to the dtype. A pair the comparison cannot
    judge (one reference raised, the results differ in structure) is ``inf``; a reference that
    raises for every variant separates nothing (0)."""
    kw = KIND_WITNESSES[entry.kind]
    variants = list(entry.variants())
    refs: dict[Variant, Any] = {}
    with np.errstate(all="ignore"):
        for v in variants:
            try:
                refs[v] = kw.reference(entry, v, case, dtype)
            except Exception:  # the reference refuses the case for this variant
                refs[v] = None
        out: dict[tuple[Variant, Variant], float] = {}
        for a in variants:
            actual = None if refs[a] is None else kw.result(refs[a], dtype)
            for b in variants:
                if b == a:
                    continue
                if actual is None or refs[b] is None:
                    out[(a, b)] = 0.0 if actual is None and refs[b] is None else float("inf")
                    continue
                try:
                    r = float(kw.compare(actual, refs[b], b, case, dtype).ratio)
                except Exception:
                    r = float("inf")
                out[(a, b)] = float("inf") if np.isnan(r) else r
    return out


@dataclass(frozen=True)
class WitnessPlan:
    """The witnesses of one (spec ID, dtype, check), and what the pool could separate.

    ``best[(a, b)]``: the largest $\\operatorname{sep}_c(a \\to b)$ over the pool (variant names);
    ``cases``: the chosen witnesses, in the pool's order; ``pool``: every candidate drawn."""

    spec_id: str
    dtype: str
    check: str
    pool: tuple[Any, ...]
    cases: tuple[Any, ...]
    best: dict[tuple[str, str], float] = field(default_factory=dict)

    def separates(self, a: str, b: str) -> bool:
        """Whether some pool case separates ``a`` (the framework) from ``b`` (eliminates ``b``)."""
        return self.best.get((a, b), 0.0) > 1.0


def _draw_pool(entry: SpecEntry, dtype: str, check: str, n: int) -> list[Any]:
    draw = get_kind(entry.kind).draw
    assert draw is not None
    cases: list[Any] = []

    @seed(POOL_SEED)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def collect(data: Any) -> None:
        cases.append(draw(data, entry, dtype, check))

    with without_local_constants():
        collect()
    return cases[:n]


@functools.lru_cache(maxsize=512)
def witness_plan(spec_id: str, dtype: str, check: str) -> WitnessPlan | None:
    r"""The witnesses of ``spec_id``'s ``check`` in ``dtype`` (cached: computed once per process).

    ``None`` for an entry with a single variant, or of a kind without a reference result
    (:data:`KIND_WITNESSES`). Greedy choice: repeatedly the pool case that separates the most
    still-unseparated ordered pairs by ``MARGIN``; then, for a pair no case separates by the
    margin, the case that separates it best (if that exceeds 1)."""
    entry = get(spec_id)
    variants = list(entry.variants())
    if len(variants) < 2 or entry.kind not in KIND_WITNESSES:
        return None
    if not KIND_WITNESSES[entry.kind].applies(entry):
        return None
    try:
        pool = _draw_pool(entry, dtype, check, POOL_SIZE)
    except (KeyError, ValueError):  # the kind draws no case in this dtype (none offers it)
        return None
    kw = KIND_WITNESSES[entry.kind]
    drawn = len(pool)
    if kw.boundaries is not None:
        pool = [*pool, *kw.boundaries(entry, dtype, check, pool)]
    seps = [separation(entry, c, dtype) for c in pool]
    pairs = [(a, b) for a in variants for b in variants if a != b]
    best = {(a.name, b.name): max((s[(a, b)] for s in seps), default=0.0) for a, b in pairs}
    chosen: list[int] = []
    todo = {p for p in pairs if best[(p[0].name, p[1].name)] > 1.0}
    while todo:
        score = [sum(1 for p in todo if s[p] > MARGIN) for s in seps]
        i = int(np.argmax(score))
        if score[i] == 0:
            break
        chosen.append(i)
        todo = {p for p in todo if seps[i][p] <= MARGIN}
    for p in sorted(todo):
        i = int(np.argmax([s[p] for s in seps]))
        if seps[i][p] > 1.0 and i not in chosen:
            chosen.append(i)
    # every boundary case is a witness too: a framework may depart from every variant exactly
    # there (a relaxed variant, "any value at NaN", is separated by the framework, not the pool)
    cases = tuple(pool[i] for i in sorted({*chosen, *range(drawn, len(pool))}))
    return WitnessPlan(spec_id, dtype, check, tuple(pool), cases, best)


def finding_witnesses(spec_id: str, dtype: str, check: str, region: Any) -> list[Any]:
    """Up to ``FINDING_WITNESSES`` cases of the pool inside a known finding's ``region`` (a
    :class:`~trainspec.conformance.adapter.Finding`), so that the finding is met in every profile;
    where the pool holds fewer, the first ones of ``FINDING_POOL_SIZE`` draws. The finding's own
    ``examples`` of ``check`` (its minimal counterexamples) come first; a finding of the whole
    row (no region) has those only."""
    own = [case for c, case in getattr(region, "examples", ()) if c == check]
    if getattr(region, "region", None) is None:
        return own
    plan = witness_plan(spec_id, dtype, check)
    if plan is not None:
        pool = plan.pool
    else:
        try:
            pool = _pool_only(spec_id, dtype, check)
        except (KeyError, ValueError):  # the kind draws no case in this dtype
            return []
    found = [c for c in pool if region.in_region(c)][:FINDING_WITNESSES]
    if len(found) < FINDING_WITNESSES:  # a small region: search a larger pool for it
        try:
            more = _pool_only(spec_id, dtype, check, FINDING_POOL_SIZE)
        except (KeyError, ValueError):
            more = ()
        found += [c for c in more if region.in_region(c)][: FINDING_WITNESSES - len(found)]
    return own + found


@functools.lru_cache(maxsize=512)
def _pool_only(spec_id: str, dtype: str, check: str, n: int = POOL_SIZE) -> tuple[Any, ...]:
    return tuple(_draw_pool(get(spec_id), dtype, check, n))


def indistinguishable(
    plans: Sequence[WitnessPlan | None], chosen: str, others: Sequence[str], dtype: str
) -> dict[str, str]:
    """``{other: reason}`` for every variant in ``others`` that no pool case of any check
    separates from ``chosen`` in either direction: the dtype's tolerance covers their difference."""
    out: dict[str, str] = {}
    real = [p for p in plans if p is not None]
    if not real:
        return out
    for o in others:
        if o == chosen:
            continue
        if any(p.separates(chosen, o) or p.separates(o, chosen) for p in real):
            continue
        ratio = max(max(p.best.get((chosen, o), 0.0), p.best.get((o, chosen), 0.0)) for p in real)
        n = sum(len(p.pool) for p in real)
        out[o] = (
            f"indistinguishable in {dtype}: on none of {n} candidate cases does {o!r} differ "
            f"from {chosen!r} by more than the {dtype} tolerance (best separation "
            f"{ratio:.3g} x tolerance)"
        )
    return out
