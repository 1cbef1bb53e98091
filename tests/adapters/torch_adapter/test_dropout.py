"""PyTorch's dropout: the parameter mapping, values by hand, seeding, and planted faults."""

import numpy as np
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter import TorchAdapter
from trainspec.adapters.torch_adapter.dropout import (
    DROPOUTS,
    dropout_arguments,
    linear_weight,
    mc_model,
    run_dropout,
    run_mc_dropout,
)
from trainspec.conformance import stats
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.dropout import DropoutCase, LinearDropoutCase
from trainspec.conformance.runner import check_row

F = torch.nn.functional


def test_dropout_arguments_pass_the_rate_as_p_a_drop_probability():
    assert dropout_arguments(0.25) == {"p": 0.25}
    torch.manual_seed(0)
    y = F.dropout(torch.ones(100_000, dtype=torch.float64), **dropout_arguments(0.25))
    kept = int((y != 0).sum())
    assert stats.binomial_pvalue(kept, 100_000, 0.75) > stats.ALPHA  # q = 1 - p
    assert stats.binomial_pvalue(kept, 100_000, 0.25) < stats.ALPHA
    assert set(y.unique().tolist()) == {0.0, 1 / 0.75}


def test_linear_weight_is_the_transpose():
    w = np.arange(6.0).reshape(3, 2)  # (in, out)
    np.testing.assert_array_equal(linear_weight(w), w.T)


def test_each_dropout_by_hand_and_reproducible():
    case = DropoutCase(np.array([1.0, -2.0, 4.0, 0.5] * 64), 0.5, 3, 4)
    for apply in DROPOUTS.values():
        out = run_dropout(apply, case, "float64", "cpu")
        np.testing.assert_array_equal(out["test"], case.x)
        train = out["train"]
        assert train.shape == (4, 256)
        assert np.all((train == 0) | (train == 2 * case.x))
        assert not np.array_equal(train[0], train[1])  # a fresh mask per call
        np.testing.assert_array_equal(train, run_dropout(apply, case, "float64", "cpu")["train"])


def test_a_dropped_infinity_becomes_nan():
    """PyTorch multiplies by the scaled mask (masking=multiply): a dropped inf is inf * 0 = nan."""
    case = DropoutCase(np.full(64, np.inf), 0.5, 0, 2)
    for apply in DROPOUTS.values():
        train = run_dropout(apply, case, "float32", "cpu")["train"]
        assert np.isinf(train).any() and np.isnan(train).any()
        assert np.all(np.isinf(train) | np.isnan(train))


def test_the_callers_rng_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run_dropout(
        DROPOUTS["nn.functional.dropout"], DropoutCase(np.ones(8), 0.5, 9, 2), "float32", "cpu"
    )
    torch.testing.assert_close(torch.rand(3), expected)


def test_mc_model_by_hand():
    x = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
    w = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0]])
    b = np.array([0.25, -0.5])
    case = LinearDropoutCase(x, w, b, 0.5, 0, 3)
    net = mc_model(case, "float64", "cpu").eval()
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.tensor(x)).numpy(), x @ w + b, rtol=1e-15)
    out = run_mc_dropout(case, "float64", "cpu")
    np.testing.assert_allclose(out["test"], x @ w + b, rtol=1e-15)
    assert out["train"].shape == (3, 2, 2)


def test_declares_its_rows():
    names = {(i.spec_id, i.name) for i in TorchAdapter().implementations()}
    assert {
        ("drop.inverted", "nn.functional.dropout"),
        ("drop.inverted", "nn.functional.dropout(inplace=True)"),
        ("drop.inverted", "nn.Dropout(train/eval)"),
        ("drop.mc", "nn.Dropout+nn.Linear(train mode at prediction)"),
    } <= names


# --- the kit measures the meaning of p; planted faults diverge --------------------------------


def _run(apply):
    return lambda case, dtype, device: run_dropout(apply, case, dtype, device)


def test_a_keep_probability_passed_as_p_is_reported_as_the_keep_variant():
    wrong = _run(lambda x, rate, training: F.dropout(x, p=1.0 - rate, training=training))
    impl = Implementation("drop.inverted", "p=1-rate", wrong, devices=("cpu",))
    row = check_row(
        reference.get("drop.inverted"), impl, "torch", "float32", "cpu", profile="quick"
    )
    assert row.verdict == "variant" and row.variant == "rate_meaning=keep", row


def test_planted_fault_not_rescaled(assert_planted_fault_diverges):
    def not_rescaled(x, rate, training):  # undoes the 1/q of the kept values in training
        return F.dropout(x, rate, training) * ((1.0 - rate) if training else 1.0)

    row = assert_planted_fault_diverges(
        "torch", "drop.inverted", "not rescaled", _run(not_rescaled)
    )
    assert "kept values" in row.message


def test_planted_fault_rescaled_by_p(assert_planted_fault_diverges):
    def by_p(x, rate, training):  # kept values x * p instead of x / q
        return F.dropout(x, rate, training) * ((1.0 - rate) * rate if training else 1.0)

    assert_planted_fault_diverges("torch", "drop.inverted", "rescaled by p", _run(by_p))


class _NotRescaled(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        y = F.dropout(x, self.p, self.training)
        return y * (1.0 - self.p) if self.training else y


def test_planted_fault_mc_passes_not_rescaled(assert_planted_fault_diverges):
    def model(case, dtype, device):
        net = mc_model(case, dtype, device)
        net[0] = _NotRescaled(case.rate)
        return net

    row = assert_planted_fault_diverges(
        "torch",
        "drop.mc",
        "MC passes not rescaled",
        lambda c, d, dev: run_mc_dropout(c, d, dev, model=model),
    )
    assert "mc_" in row.message
