"""The early-stopping kind: exact losses on a grid, exact decisions, verdicts on hand-written loops."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.training.early_stopping import (
    COARSE_STEP,
    EarlyStoppingCase,
    coarse_step,
    compare_decisions,
    grid_unit,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import representable
from trainspec.reference.training import EarlyStoppingResult

ENTRY = reference.get("train.early_stopping")


def _loop(case, dtype, device, *, extra_patience=0, restore_best=True, as_float32=False):
    """An independent early-stopping loop written out by hand (Keras's rule: wait >= patience)."""
    cast = np.float32 if (as_float32 or dtype == "float32") else np.float64
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(case.losses):
        current = cast(loss)
        wait += 1
        if best is None or cast(current + cast(case.min_delta)) < best:
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= case.patience + extra_patience:
            return {"stop_epoch": epoch, "restored_epoch": best_epoch if restore_best else epoch}
    last = len(case.losses) - 1
    return {"stop_epoch": -1, "restored_epoch": best_epoch if restore_best else last}


def _impl(run, name="loop"):
    return Implementation("train.early_stopping", name, run, devices=("cpu",))


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["float16", "bfloat16", "float32", "float64"]))
def test_drawn_losses_are_exact_on_the_grid(data, dtype):
    case = get_kind("training.early_stopping").draw(data, ENTRY, dtype, "validation_losses")
    q = grid_unit(dtype)
    losses = np.array(case.losses)
    assert 1 <= len(losses) <= 30 and np.all(losses > 0) and np.all(losses < 64)
    assert representable(losses, dtype)
    np.testing.assert_array_equal(np.round(losses / q) * q, losses)  # multiples of q
    assert case.min_delta / coarse_step(dtype) in (0, 1, 2, 4)
    # sums and differences used by any evaluation order are exact in the dtype
    assert representable(losses + case.min_delta, dtype)


def test_moves_produce_ties_and_min_delta_sized_improvements():
    seen = {"tie": False, "by_min_delta": False}

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.data())
    def probe(data):
        case = get_kind("training.early_stopping").draw(data, ENTRY, "float64", "validation_losses")
        ls = case.losses
        for i in range(1, len(ls)):
            best = min(ls[:i])
            seen["tie"] |= ls[i] == best
            seen["by_min_delta"] |= case.min_delta > 0 and best - ls[i] == case.min_delta

    probe()
    assert all(seen.values()), seen


def test_compare_decisions_is_exact():
    exp = EarlyStoppingResult(stop_epoch=4, restored_epoch=1, epochs_run=5)
    assert compare_decisions({"stop_epoch": 4, "restored_epoch": 1}, exp).ratio == 0
    c = compare_decisions({"stop_epoch": 5, "restored_epoch": 1}, exp)
    assert c.ratio == 2.0 and c.where == "stop_epoch" and not c.passes
    with pytest.raises(ValueError, match="restored_epoch"):
        compare_decisions({"stop_epoch": 4}, exp)


def test_evaluate_scores_every_variant():
    case = EarlyStoppingCase((1.0, 0.5, 0.5, 0.75, 0.75), 2, 0.0)
    result = get_kind("training.early_stopping").evaluate(
        ENTRY, _impl(_loop), case, "float64", "cpu", list(ENTRY.variants())
    )
    assert result[ENTRY.default_variant].passes
    assert not result[ENTRY.variant(stop_rule="wait_exceeds_patience")].passes
    assert not result[ENTRY.variant(improvement="at_least")].passes  # would restore epoch 2


def test_kit_reports_a_faithful_loop_as_conforming():
    row = check_row(ENTRY, _impl(_loop), "numpy", "float32", "cpu", profile="quick")
    assert row.verdict == "conforms", row


def test_kit_names_the_restore_variant():
    run = lambda c, d, dev: _loop(c, d, dev, restore_best=False)  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float64", "cpu", profile="quick")
    assert row.verdict == "variant" and "restore=last" in row.variant, row


def test_kit_names_the_float32_comparison_in_float64_rows():
    run = lambda c, d, dev: _loop(c, d, dev, as_float32=True)  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float64", "cpu", profile="ci")
    assert row.verdict == "variant" and row.variant == "compare_in=float32", row


def test_kit_reports_a_patience_counted_two_checks_late_as_diverging():
    run = lambda c, d, dev: _loop(c, d, dev, extra_patience=2)  # noqa: E731
    row = check_row(ENTRY, _impl(run), "numpy", "float32", "cpu", profile="quick")
    assert row.verdict == "diverges" and row.counterexample, row


def test_unsupported_dtype_is_named():
    with pytest.raises(ValueError, match="dtype='float8'"):
        grid_unit("float8")
    assert coarse_step("float32") == COARSE_STEP and coarse_step("bfloat16") > grid_unit("bfloat16")
