"""Replays printed in the committed matrix reproduce their rows in this environment."""

import pytest


@pytest.mark.parametrize(
    ("spec_id", "implementation", "dtype"),
    [
        ("opt.rmsprop", "RMSprop(centered=True)[single_tensor]", "float32"),
        ("opt.momentum", "SGD(momentum)[foreach]", "float64"),
    ],
)
def test_a_replay_reproduces_its_committed_row(
    replay_committed_row, spec_id, implementation, dtype
):
    row, again = replay_committed_row("torch", spec_id, implementation, dtype)
    assert (again["verdict"], again["variant"]) == (row["verdict"], row["variant"])
    assert again["message"].split("|")[0] == row["message"].split("|")[0]
