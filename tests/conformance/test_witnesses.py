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
from trainspec.conformance.witnesses import (
    MARGIN,
    POOL_SIZE,
    reference_result,
    separation,
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
        assert len(plan.pool) == POOL_SIZE
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
