"""Witnesses: explicit separating examples tried before random search, in every profile.

The pool and its separations are computed from the reference alone; the rows here run
implementations that compute one variant exactly (the reference's result rounded to the dtype,
:func:`~trainspec.conformance.witnesses.reference_result`) through ``check_row`` at the ``quick``
profile, where random search alone is too short to separate every variant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import round_to, smallest_normal, unit_roundoff
from trainspec.conformance.witnesses import (
    MARGIN,
    POOL_SIZE,
    WitnessPlan,
    indistinguishable,
    reference_result,
    separation,
    ulp_neighbours,
    witness_plan,
)

#: entries of every kind with witnesses (a few variants each, to keep the test short)
ENTRIES = (
    "opt.adamax",
    "opt.nesterov",
    "clip.norm",
    "act.relu",
    "loss.logistic",
    "reg.max_norm",
    "sched.power",
    "sched.plateau",
    "train.early_stopping",
)


def _variant_impl(spec_id: str, options: dict[str, str], **kw: Any) -> Implementation:
    entry = reference.get(spec_id)
    variant = entry.variant(**options)

    def run(case: Any, dtype: str, device: str) -> Any:
        return reference_result(entry, variant, case, dtype)

    return Implementation(spec_id, f"computes {variant}", run, devices=("cpu",), **kw)


@pytest.mark.parametrize("spec_id", ENTRIES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_every_pair_the_pool_separates_has_a_witness(spec_id, dtype):
    entry = reference.get(spec_id)
    names = [v.name for v in entry.variants()]
    for check in get_kind(entry.kind).checks:
        plan = witness_plan(spec_id, dtype, check)
        if plan is None:  # the kind draws no case of this check in this dtype
            continue
        assert len(plan.pool) >= POOL_SIZE  # the drawn cases, then the kind's boundaries
        assert set(plan.best) == {(a, b) for a in names for b in names if a != b}
        seps = [separation(entry, c, dtype) for c in plan.cases]
        for (a, b), best in plan.best.items():
            got = max(
                (s[(va, vb)] for s in seps for (va, vb) in s if (va.name, vb.name) == (a, b)),
                default=0.0,
            )
            if best > 1.0:  # separable: some witness separates, by the margin when it can
                assert got > min(best, MARGIN) or got > 1.0, (check, a, b, best, got)
            else:  # indistinguishable: no case of the pool separates them
                assert got <= 1.0


def test_witness_plans_are_computed_once_and_deterministic():
    a = witness_plan("opt.adamax", "float32", "one_step")
    assert witness_plan("opt.adamax", "float32", "one_step") is a
    witness_plan.cache_clear()
    b = witness_plan("opt.adamax", "float32", "one_step")
    assert a is not None and b is not None and a is not b
    assert a.best == b.best
    assert [c.summary() for c in a.cases] == [c.summary() for c in b.cases]


def test_adamax_eps_placement_is_separable_in_float32():
    plan = witness_plan("opt.adamax", "float32", "one_step")
    assert plan is not None and plan.cases
    assert plan.separates("default", "eps=in_max") and plan.separates("eps=in_max", "default")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_variant_is_named_at_the_quick_profile_thanks_to_its_witness(dtype):
    impl = _variant_impl("opt.adamax", {"eps": "in_max"}, dtypes=(dtype,))
    row = check_row(
        reference.get("opt.adamax"), impl, "numpy", dtype, "cpu", profile="quick", seed_=0
    )
    assert row.witnesses >= 1
    assert (row.verdict, row.variant, row.consistent_variants) == (
        "variant",
        "eps=in_max",
        ["eps=in_max"],
    )
    assert row.to_json()["witnesses"] == row.witnesses


def test_a_default_implementation_conforms_and_names_what_it_cannot_tell_apart():
    entry = reference.get("act.relu")
    impl = _variant_impl("act.relu", {}, dtypes=("float32",))
    row = check_row(entry, impl, "numpy", "float32", "cpu", profile="quick", seed_=0)
    assert row.verdict == "conforms"
    for v in row.consistent_variants:
        if v == "default":
            continue
        # a survivor the pool could separate would have been eliminated by its witness
        assert v in row.indistinguishable, (v, row.consistent_variants)
        assert row.indistinguishable[v].startswith("indistinguishable in float32")
    assert set(row.indistinguishable) <= set(row.consistent_variants)


def test_a_known_finding_is_met_at_the_quick_profile():
    """A finding's region cases of the pool are witnesses: an implementation that departs only
    there (NaN where RMSprop's centred variance is 0 up to rounding) is caught at ``quick``."""
    from trainspec.conformance.kinds.optimizers import (
        CENTRED_REGION_TEXT,
        centred_variance_near_zero,
    )

    entry = reference.get("opt.rmsprop")
    variant = entry.variant(centered="centered")
    dtype = "float32"

    def run(case: Any, dt: str, device: str) -> Any:
        out = reference_result(entry, variant, case, dt)
        if centred_variance_near_zero(case, dt):
            return {k: np.full_like(v, np.nan) for k, v in out.items()}
        return out

    finding = Finding(
        "nan-at-zero-variance",
        "NaN where the centred variance rounds below 0",
        lambda c: centred_variance_near_zero(c, dtype),
        CENTRED_REGION_TEXT,
    )
    impl = Implementation(
        "opt.rmsprop",
        "centred, NaN at zero variance",
        run,
        devices=("cpu",),
        findings={dtype: finding},
    )
    row = check_row(entry, impl, "numpy", dtype, "cpu", profile="quick", seed_=0)
    assert row.finding == "nan-at-zero-variance" and row.finding_hits >= 1
    assert row.verdict in ("conforms", "variant")


def test_a_finding_met_only_at_its_own_example_is_found_at_the_quick_profile():
    """A departure exactly at one input that no pool or random case holds: the finding's own
    ``examples`` are witnesses, so every profile meets it."""
    from trainspec.conformance.kinds.optimizers import centred_bfloat16_example

    entry = reference.get("opt.rmsprop")
    variant = entry.variant(centered="centered")
    check, example = centred_bfloat16_example()

    def at_the_example(case: Any) -> bool:
        return (
            case.state is None
            and len(case.grads) == 2
            and [np.asarray(g["w0"]).tolist() for g in case.grads] == [[0.640625]] * 2
        )

    def run(case: Any, dt: str, device: str) -> Any:
        out = reference_result(entry, variant, case, dt)
        if at_the_example(case):
            return {k: np.full_like(v, np.nan) for k, v in out.items()}
        return out

    def row(examples: Any) -> Any:
        finding = Finding("nan-there", "NaN at one input", at_the_example, "that input", examples)
        impl = Implementation(
            "opt.rmsprop", "centred", run, devices=("cpu",), findings={"bfloat16": finding}
        )
        return check_row(entry, impl, "numpy", "bfloat16", "cpu", profile="quick", seed_=0)

    assert row(((check, example),)).finding == "nan-there"
    assert row(()).finding is None  # without its example no profile draws that input

    # a finding of the whole row (no region): its example runs first too, so the row diverges
    # and names it in every profile
    def whole_row(examples: Any) -> Any:
        finding = Finding("nan-there", "NaN at one input", examples=examples)
        impl = Implementation(
            "opt.rmsprop", "centred", run, devices=("cpu",), findings={"bfloat16": finding}
        )
        return check_row(entry, impl, "numpy", "bfloat16", "cpu", profile="quick", seed_=0)

    found = whole_row(((check, example),))
    assert (found.verdict, found.finding) == ("diverges", "nan-there")
    assert whole_row(()).verdict == "variant"  # not met: the row reads as the variant it computes


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("x", [1.0, 0.75, 3.0, 1e-3, 2.0**-14])
def test_ulp_neighbours_are_exactly_one_ulp_away(dtype, x):
    x = float(round_to(x, dtype))
    below, above = ulp_neighbours(x, dtype)
    for y in (below, above):
        assert float(round_to(y, dtype)) == y != x
    # nothing of the dtype lies between: the midpoints round back to x (ties to even aside)
    for y in (below, above):
        mid = (x + y) / 2.0
        assert float(round_to(mid, dtype)) in (x, y)
        assert float(round_to(x + (y - x) / 4.0, dtype)) == x


def test_ulp_neighbours_refuse_what_is_not_a_normal_number_of_the_dtype():
    with pytest.raises(ValueError, match="x=0.0: must be a positive normal number"):
        ulp_neighbours(0.0, "float32")
    with pytest.raises(ValueError, match="must be representable in float16"):
        ulp_neighbours(0.1, "float16")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_clipping_boundaries_put_the_threshold_at_the_norm_and_one_ulp_either_side(dtype):
    plan = witness_plan("clip.norm", dtype, "finite")
    assert plan is not None
    at = [c for c in plan.pool if c.placement == "at" and c.content == "exact_norm"]
    assert len(at) >= 3
    for below, exact, above in zip(at[0::3], at[1::3], at[2::3], strict=True):
        (g,) = exact.grads.values()
        norm = float(round_to(np.sqrt(np.sum(np.asarray(g, dtype=np.float64) ** 2)), dtype))
        assert exact.threshold == norm
        assert (below.threshold, above.threshold) == ulp_neighbours(norm, dtype)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_activation_boundaries_hold_zero_and_the_smallest_numbers_either_side(dtype):
    plan = witness_plan("act.relu", dtype, "derivatives")
    assert plan is not None
    edges = plan.pool[-2:]  # the kind's boundaries follow the drawn cases
    assert [c.region for c in edges] == ["edges", "edges"]
    assert not np.isnan(edges[0].z).any()
    z = edges[1].z
    assert 0.0 in z and np.isnan(z).any() and np.isinf(z).any()
    tiny = smallest_normal(dtype)
    assert tiny in z and -tiny in z and tiny * 2 * unit_roundoff(dtype) in z


@pytest.mark.parametrize("check", ["values", "through_optimizer"])
def test_plateau_boundaries_separate_every_count_and_threshold_variant(check):
    # before the boundaries, the drawn pool left patience/cooldown counts and mode=max
    # unseparated on the short through_optimizer sequences
    plan = witness_plan("sched.plateau", "float32", check)
    assert plan is not None
    names = [v.name for v in reference.get("sched.plateau").variants()]
    assert all(plan.separates(a, b) for a in names for b in names if a != b)
    ties = [c for c in plan.pool[POOL_SIZE:] if len(set(c.metrics)) == 2]
    assert ties, "a boundary case holds a tie after its first metric"
    for c in ties:
        m, t = c.metrics[0], c.metrics[1]
        eps = c.hyperparameters["threshold"]
        assert t in (m * (1 - eps), m - eps, m * (1 + eps), m + eps, m / 2, 2 * m)
        assert set(c.metrics[1:]) == {t} and len(c.metrics) == len(c.steps)
        assert all(x * 1024 == int(x * 1024) and 0 < x < 64 for x in c.metrics)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_early_stopping_boundaries_pass_through_the_patience_on_the_exact_grid(dtype):
    from trainspec.conformance.kinds.training.early_stopping import (
        MAX_LOSS,
        coarse_step,
        grid_unit,
    )

    plan = witness_plan("train.early_stopping", dtype, "validation_losses")
    assert plan is not None
    boundary = plan.pool[POOL_SIZE:]
    assert {c.patience for c in boundary} == {0, 1, 2, 3}
    q, c = grid_unit(dtype), coarse_step(dtype)
    for case in boundary:
        losses = np.array(case.losses)
        assert np.all(losses / q == np.round(losses / q)) and np.all(losses < MAX_LOSS)
        assert np.all(round_to(losses, dtype) == losses)  # exact in the dtype
        # the last P + 2 epochs get worse by c: the wait passes through P and P + 1
        assert np.all(np.diff(losses[-(case.patience + 2) :]) == c)
    # the threshold itself: a loss exactly min_delta below the best
    assert any(
        case.min_delta > 0 and case.losses[1] == case.losses[0] - case.min_delta
        for case in boundary
    )
    names = [v.name for v in reference.get("train.early_stopping").variants()]
    stop = [n for n in names if "wait_exceeds_patience" in n]
    assert all(plan.separates(a, b) for a in stop for b in names if b not in stop)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("spec_id", ["opt.adam", "opt.adamw"])
def test_the_epsilon_ladder_separates_where_epsilon_goes_in_16_bits(spec_id, dtype):
    # before the ladder, no pool case separated Kingma and Ba's eps-hat from the default form in
    # bfloat16 (Keras's Adam read `conforms` at quick and `eps=eps_hat` at ci)
    plan = witness_plan(spec_id, dtype, "trajectory")
    assert plan is not None
    assert plan.separates("default", "eps=eps_hat") or plan.separates("eps=eps_hat", "default")
    ladders = [
        c
        for c in plan.pool[POOL_SIZE:]
        if set(c.params) == {"w0"} and c.state is None and np.any(c.grads[0]["w0"] != 0)
    ]
    assert ladders and {len(c.grads) for c in ladders} == {1, 3}
    for c in ladders:
        assert c.hyperparameters["beta2"] in (0.75, 1.0 - 2.0**-7)
        for g in c.grads:
            g = np.asarray(g["w0"])
            assert np.all(round_to(g, dtype) == g)  # exact in the dtype
            v = g * g * (1.0 - c.hyperparameters["beta2"])
            assert np.all(v >= smallest_normal(dtype))


def test_weight_decay_alone_separates_coupled_from_decoupled_decay_in_bfloat16():
    plan = witness_plan("opt.weight_decay", "bfloat16", "trajectory")
    assert plan is not None
    (alone,) = [c for c in plan.pool[POOL_SIZE:] if not np.any(c.grads[0]["w0"])]
    assert alone.hyperparameters["momentum"] == 0.75
    # a decoupled framework eliminates the coupled default (the reverse is left to the
    # decoupled bound, which compounds the parameter's rounding at every step)
    assert plan.separates("decay=decoupled", "default")


@pytest.mark.parametrize("spec_id", ["norm.batch.train", "norm.batch.grad"])
def test_batch_norm_witnesses_hold_the_largest_offsets_of_the_first_order_domain(spec_id):
    from trainspec.conformance.kinds.norm import within_first_order_domain

    plan = witness_plan(spec_id, "float64", "train_steps")
    assert plan is not None and plan.separates("variance=one_pass", "default")
    far = plan.pool[POOL_SIZE:]
    assert far and all(c.regime == "large_offset" for c in far)
    for c in far:
        for x in c.batches:
            inside = within_first_order_domain(x, c.channel_axis, "float64", c.eps)
            assert np.array_equal(inside, x)  # in the domain
            # and at its edge: every channel's offset 1% further is clipped back
            moved = np.moveaxis(x, c.channel_axis, -1)
            center = np.median(moved.reshape(-1, moved.shape[-1]), axis=0)
            further = np.moveaxis(moved + 0.01 * center, -1, c.channel_axis)
            clipped = within_first_order_domain(further, c.channel_axis, "float64", c.eps)
            assert np.all(
                np.abs(clipped - further).max(
                    axis=tuple(a for a in range(x.ndim) if a != c.channel_axis)
                )
                > 0
            )
    assert witness_plan("norm.batch.test", "float64", "train_steps") is None


def test_an_early_state_separates_amsgrads_corrected_maximum_in_bfloat16():
    plan = witness_plan("opt.adam", "bfloat16", "one_step")
    assert plan is not None
    early = [c for c in plan.pool[POOL_SIZE:] if c.state is not None]
    assert early and all(c.state.count == 1 for c in early)
    a, b = "amsgrad=max_corrected", "amsgrad=max_uncorrected"
    assert plan.separates(a, b) or plan.separates(b, a)


def test_indistinguishable_names_only_pairs_no_check_separates():
    def plan(check: str, best: dict[tuple[str, str], float]) -> WitnessPlan:
        return WitnessPlan("opt.adamax", "bfloat16", check, pool=(1, 2), cases=(), best=best)

    one = plan("one_step", {("default", "a"): 0.5, ("a", "default"): 0.2, ("default", "b"): 3.0})
    two = plan("trajectory", {("default", "a"): 0.7, ("b", "default"): 0.1})
    got = indistinguishable([one, None, two], "default", ["default", "a", "b"], "bfloat16")
    assert list(got) == ["a"]
    assert got["a"].startswith("indistinguishable in bfloat16: on none of 4 candidate cases")
    assert "best separation 0.7 x tolerance" in got["a"]
    assert indistinguishable([None], "default", ["default", "a"], "bfloat16") == {}
