"""Replays printed in the committed matrix reproduce their rows in this environment (names with
quotes included: they used to break the printed command)."""

import pytest


@pytest.mark.parametrize(
    ("spec_id", "implementation", "dtype"),
    [
        ("opt.legacy_decay", "SGD(decay=) as in Vitay's notes", "float32"),
        ("sched.plateau", "callbacks.ReduceLROnPlateau(mode='min')", "float64"),
    ],
)
def test_a_replay_reproduces_its_committed_row(
    replay_committed_row, spec_id, implementation, dtype
):
    row, again = replay_committed_row("tensorflow", spec_id, implementation, dtype)
    assert (again["verdict"], again["variant"]) == (row["verdict"], row["variant"])
    assert again["message"].split("|")[0] == row["message"].split("|")[0]
