"""flax's dropout: the parameter mapping, keys, values by hand, and planted faults."""

from typing import Any

import jax
import numpy as np
from flax import linen, nnx

from trainspec import reference
from trainspec.adapters.jax_adapter import JaxAdapter
from trainspec.adapters.jax_adapter.dropout import (
    dropout_arguments,
    pass_keys,
    run_linen_dropout,
    run_mc_dropout,
    run_nnx_dropout,
)
from trainspec.conformance import stats
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.dropout import DropoutCase, LinearDropoutCase
from trainspec.conformance.runner import check_row


def test_dropout_arguments_pass_the_rate_as_rate_a_drop_probability():
    assert dropout_arguments(0.25) == {"rate": 0.25}
    ones = jax.numpy.ones(100_000, dtype="float64")
    linen_y = linen.Dropout(**dropout_arguments(0.25)).apply(
        {}, ones, deterministic=False, rngs={"dropout": jax.random.key(0)}
    )
    nnx_y = nnx.Dropout(**dropout_arguments(0.25), rngs=nnx.Rngs(dropout=0))(ones)
    for y in (linen_y, nnx_y):
        kept = int(np.sum(np.asarray(y) != 0))
        assert stats.binomial_pvalue(kept, 100_000, 0.75) > stats.ALPHA  # q = 1 - rate
        assert stats.binomial_pvalue(kept, 100_000, 0.25) < stats.ALPHA


def test_pass_keys_are_fresh_and_reproducible():
    keys = pass_keys(5, 3)
    data = [tuple(np.asarray(jax.random.key_data(k)).ravel()) for k in keys]
    assert len(set(data)) == 3
    again = [tuple(np.asarray(jax.random.key_data(k)).ravel()) for k in pass_keys(5, 3)]
    assert data == again and pass_keys(5, 0) == []


def test_dropouts_by_hand_and_reproducible():
    x = np.array([1.0, -2.0, 4.0, 1.0 + 2.0**-40] * 64)  # the last is float64 only
    case = DropoutCase(x, 0.5, 3, 4)
    for run in (run_linen_dropout, run_nnx_dropout):
        out = run(case, "float64", "cpu")
        np.testing.assert_array_equal(out["test"], x)
        train = out["train"]
        assert train.shape == (4, 256)
        assert np.all((train == 0) | (train == 2 * x))
        assert not np.array_equal(train[0], train[1])  # a fresh mask per call
        np.testing.assert_array_equal(train, run(case, "float64", "cpu")["train"])


def test_a_dropped_infinity_is_selected_away():
    """flax selects (masking=select): a dropped inf or nan becomes 0."""
    case = DropoutCase(np.array([np.inf, np.nan] * 32), 0.5, 0, 2)
    for run in (run_linen_dropout, run_nnx_dropout):
        train = run(case, "float32", "cpu")["train"]
        kept = ~np.isnan(train[:, 1::2])
        assert set(np.unique(train[:, ::2])) == {0.0, np.inf}
        assert kept.any() and (~kept).any() and np.all(train[:, 1::2][kept] == 0)


def test_mc_dropout_by_hand():
    x = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]])
    w = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0]])
    b = np.array([0.25, -0.5])
    out = run_mc_dropout(LinearDropoutCase(x, w, b, 0.5, 0, 3), "float64", "cpu")
    np.testing.assert_allclose(out["test"], x @ w + b, rtol=1e-15)
    assert out["train"].shape == (3, 2, 2)


def test_declares_its_rows():
    names = {(i.spec_id, i.name) for i in JaxAdapter().implementations()}
    assert {
        ("drop.inverted", "flax.linen.Dropout"),
        ("drop.inverted", "flax.nnx.Dropout"),
        ("drop.mc", "flax.linen Dropout+Dense(deterministic=False)"),
    } <= names


# --- the kit measures the meaning of rate; planted faults diverge -----------------------------


class _Scaled(linen.Module):
    """``linen.Dropout`` whose training output is multiplied by ``factor``."""

    rate: float
    factor: float

    @linen.compact
    def __call__(self, x: Any, deterministic: bool) -> Any:
        y = linen.Dropout(rate=self.rate)(x, deterministic=deterministic)
        return y if deterministic else y * self.factor


def _faulty(factor):
    def run(case, dtype, device):
        module = lambda rate: _Scaled(rate=rate, factor=factor(rate))  # noqa: E731
        return run_linen_dropout(case, dtype, device, module=module)

    return run


def test_a_keep_probability_passed_as_rate_is_reported_as_the_keep_variant():
    def run(case, dtype, device):
        return run_linen_dropout(case, dtype, device, module=lambda r: linen.Dropout(rate=1.0 - r))

    impl = Implementation("drop.inverted", "rate=1-rate", run, devices=("cpu",))
    row = check_row(reference.get("drop.inverted"), impl, "jax", "float32", "cpu", profile="quick")
    assert row.verdict == "variant" and row.variant == "rate_meaning=keep, masking=select", row


def test_planted_fault_not_rescaled(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "jax", "drop.inverted", "not rescaled", _faulty(lambda rate: 1.0 - rate)
    )
    assert "kept values" in row.message


def test_planted_fault_rescaled_by_p(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "jax", "drop.inverted", "rescaled by p", _faulty(lambda rate: (1.0 - rate) * rate)
    )


class _MCNotRescaled(linen.Module):
    rate: float
    features: int
    dtype: Any

    @linen.compact
    def __call__(self, x: Any, deterministic: bool) -> Any:
        h = linen.Dropout(rate=self.rate)(x, deterministic=deterministic)
        h = h if deterministic else h * (1.0 - self.rate)
        return linen.Dense(self.features, dtype=self.dtype, param_dtype=self.dtype)(h)


def test_planted_fault_mc_passes_not_rescaled(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "jax",
        "drop.mc",
        "MC passes not rescaled",
        lambda c, d, dev: run_mc_dropout(c, d, dev, module=_MCNotRescaled),
    )
    assert "mc_" in row.message
