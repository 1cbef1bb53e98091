"""optax's schedules and reduce_on_plateau: conversions, hand-checked runs, findings, planted faults."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax import contrib

from trainspec import reference
from trainspec.adapters.jax_adapter.schedules import (
    PLATEAU,
    STAIRCASE,
    annealing_arguments,
    implementations,
    padded_counts,
    piecewise_scales,
    plateau_arguments,
    run_plateau,
    run_schedule,
)
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.schedules import ScheduleCase
from trainspec.conformance.runner import check_row

HP = {
    "learning_rate": 1.0,
    "factor": 0.5,
    "patience": 1,
    "threshold": 0.25,
    "cooldown": 0,
    "min_learning_rate": 0.125,
}


def _case(check, hp, steps, metrics=()):
    return ScheduleCase("sched.test", check, hp, tuple(steps), tuple(metrics))


def test_piecewise_scales_and_annealing_arguments():
    assert piecewise_scales(0.5, (3, 9)) == {3: 0.5, 9: 0.5}
    args = annealing_arguments(1e-6, jnp.float64)
    assert args["transition_steps"] == 1
    assert args["decay_rate"].dtype == jnp.float64 and float(args["decay_rate"]) == 1 - 1e-6


def test_plateau_arguments_bound_the_scale():
    rel = plateau_arguments(HP, "relative")
    assert (rel["rtol"], rel["atol"], rel["min_scale"]) == (0.25, 0.0, 0.125)
    ab = plateau_arguments(HP, "absolute")
    assert (ab["rtol"], ab["atol"], ab["accumulation_size"]) == (0.0, 0.25, 1)


def test_padded_counts():
    c = padded_counts((0, 3, 7))
    assert c.dtype == jnp.int32 and c.shape == (64,) and int(c[-1]) == 7
    assert padded_counts(tuple(range(65))).shape == (128,)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_piecewise_switches_at_the_boundary_by_hand(dtype):
    def make(hp, jdt):
        return optax.piecewise_constant_schedule(jnp.asarray(1.0, jdt), {2: 0.5, 4: 0.5})

    for check in ("values", "through_optimizer"):
        got = run_schedule(make, _case(check, {}, range(6)), dtype, "cpu")
        np.testing.assert_array_equal(got, [1, 1, 0.5, 0.5, 0.25, 0.25])


def test_reduce_on_plateau_by_hand():
    # patience 1, relative threshold 0.25: 0.8 is not < 1.0 * 0.75, so it is a bad check
    case = _case("values", HP, range(4), [1.0, 0.8, 0.7, 0.5])
    np.testing.assert_array_equal(
        run_plateau("relative", case, "float32", "cpu"), [1, 0.5, 0.5, 0.5]
    )
    through = _case("through_optimizer", HP, range(4), [1.0, 0.8, 0.8, 0.8])
    np.testing.assert_array_equal(
        run_plateau("relative", through, "float64", "cpu"), [1, 0.5, 0.25, 0.125]
    )


# --- the findings, pinned (if optax changes, these fail and the report must be revisited) -------


def test_finding_staircase_count_over_transition_steps_is_rounded_down_on_cpu():
    s = optax.exponential_decay(1.0, 61, 0.5, staircase=True)
    assert float(jax.jit(s)(jnp.int32(61))) == 1.0  # the exact value is 0.5
    assert float(jax.jit(s)(jnp.int32(62))) == 0.5


def test_finding_plateau_with_patience_zero_reduces_on_improvements():
    hp = dict(HP, patience=0, min_learning_rate=0.0)
    case = _case("values", hp, range(4), [1.0, 0.5, 0.5, 0.25])
    # improvements at checks 0, 1, 3 reduce; the bad check 2 does not
    np.testing.assert_array_equal(
        run_plateau("relative", case, "float32", "cpu"), [0.5, 0.25, 0.25, 0.125]
    )


def test_finding_float64_schedule_divides_in_float32():
    s = optax.linear_schedule(jnp.asarray(1.0, jnp.float64), jnp.asarray(0.0, jnp.float64), 3)
    assert float(s(jnp.int32(1))) != 1.0 - 1.0 / 3.0
    assert float(s(jnp.int32(1))) == pytest.approx(2.0 / 3.0, rel=1e-7)


# --- apart from patience 0, optax's plateau follows the default conventions ----------------------


def _fixed_patience(run, patience):
    return Implementation(
        "sched.plateau",
        f"patience={patience}",
        run,
        devices=("cpu",),
        options={"fixed": {"patience": patience}},
    )


@pytest.mark.parametrize("patience", [1, 3])
def test_reduce_on_plateau_with_positive_patience_conforms(patience):
    impl = _fixed_patience(lambda c, d, dev: run_plateau("relative", c, d, dev), patience)
    row = check_row(reference.get("sched.plateau"), impl, "jax", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("conforms", "default"), row


def test_declares_its_rows():
    impls = implementations()
    names = {(i.spec_id, i.name) for i in impls}
    assert ("sched.exponential", "exponential_decay(staircase=True)") in names
    assert {n for s, n in names if s == "sched.plateau"} == {
        "contrib.reduce_on_plateau(rtol)",
        "contrib.reduce_on_plateau(atol)",
    }
    assert all(i.finding("float32") for i in impls if i.spec_id == "sched.plateau")
    assert {i.name for i in impls if i.finding("float64")} == {
        "exponential_decay(staircase=True)",
        "contrib.reduce_on_plateau(rtol)",
        "contrib.reduce_on_plateau(atol)",
    }
    # every finding names the region of the example where optax departs
    assert all(i.finding("float64").region for i in impls if i.finding("float64"))
    # float32 t/s is optax's formula, modelled as its own variant (no finding)
    rounded = {i.name: i.options.get("rounded") for i in impls if i.options.get("rounded")}
    assert rounded == {
        "linear_schedule": {"transition_steps": "float32"},
        "exponential_decay": {"decay_steps": "float32"},
    }


def test_the_staircase_region_is_the_reciprocal_sensitive_multiples():
    assert STAIRCASE.in_region(_case("values", {"decay_steps": 61}, [0, 60, 61]))
    assert not STAIRCASE.in_region(_case("values", {"decay_steps": 61}, [0, 60, 62]))
    assert not STAIRCASE.in_region(_case("values", {"decay_steps": 60}, [0, 60, 120]))
    assert PLATEAU.in_region(_case("values", dict(HP, patience=0), [0], [1.0]))
    assert not PLATEAU.in_region(_case("values", HP, [0], [1.0]))


# --- a second fault in a row with a known finding is still found ---------------------------------


def _longer_cooldown(**kw):
    """optax's reduce_on_plateau with a cooldown one check longer than asked (a second fault)."""
    return contrib.reduce_on_plateau(**{**kw, "cooldown": kw["cooldown"] + 1})


def _plateau_row(make):
    impl = Implementation(
        "sched.plateau",
        "contrib.reduce_on_plateau(rtol)",
        lambda c, d, dev: run_plateau("relative", c, d, dev, make=make),
        devices=("cpu",),
        findings={"*": PLATEAU},
    )
    return check_row(reference.get("sched.plateau"), impl, "jax", "float32", "cpu", profile="ci")


def test_the_patience_0_finding_is_hit_and_the_row_outside_it_conforms():
    row = _plateau_row(contrib.reduce_on_plateau)
    assert (row.verdict, row.variant, row.finding) == (
        "conforms",
        "default",
        "optax-plateau-patience-0",
    ), row
    assert row.finding_hits > 0


def test_a_longer_cooldown_is_found_despite_the_patience_0_finding():
    """Before findings had regions, the row diverged already and this fault changed nothing."""
    row = _plateau_row(_longer_cooldown)
    assert row.verdict == "diverges", row
    assert row.counterexample["hyperparameters"]["patience"] != 0  # outside the region


# --- planted faults ------------------------------------------------------------------------------


def _staircase_one_step_early(case, dtype, device):
    """Adapter bug: the staircase schedule is read at count + 1 (one step early)."""

    def make(hp, jdt):
        inner = optax.exponential_decay(
            jnp.asarray(hp["learning_rate"], jdt),
            hp["decay_steps"],
            hp["decay_rate"],
            staircase=True,
        )
        return lambda count: inner(count + 1)

    return run_schedule(make, case, dtype, device)


def _plateau_one_check_late(case, dtype, device):
    """Adapter bug: patience counted from the wrong check (each metric arrives one check late)."""
    late = _case(
        case.check, case.hyperparameters, case.steps, (case.metrics[0], *case.metrics[:-1])
    )
    return run_plateau("relative", late, dtype, device)


def test_planted_staircase_fault_diverges(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "jax", "sched.exponential", "staircase one step early", _staircase_one_step_early
    )


def test_planted_plateau_fault_diverges():
    impl = _fixed_patience(_plateau_one_check_late, 2)
    row = check_row(reference.get("sched.plateau"), impl, "jax", "float32", "cpu", profile="quick")
    assert row.verdict == "diverges", row
    assert row.counterexample and row.counterexample["metrics"]
