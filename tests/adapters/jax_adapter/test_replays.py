"""Replays printed in the committed matrix reproduce their rows in this environment."""

import pytest


@pytest.mark.parametrize(
    ("spec_id", "implementation", "dtype"),
    [
        ("act.prelu", "flax.linen.PReLU", "float32"),
        ("sched.exponential", "exponential_decay(staircase=True)", "float32"),
    ],
)
def test_a_replay_reproduces_its_committed_row(
    replay_committed_row, spec_id, implementation, dtype
):
    row, again = replay_committed_row("jax", spec_id, implementation, dtype)
    assert (again["verdict"], again["variant"]) == (row["verdict"], row["variant"])
    assert again["message"].split("|")[0] == row["message"].split("|")[0]
