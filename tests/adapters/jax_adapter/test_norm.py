"""flax batch normalisation: momentum and axis mappings, a run by hand, planted faults."""

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainspec import reference
from trainspec.adapters.jax_adapter.norm import (
    flax_axis,
    flax_momentum,
    implementations,
    run_flax_batchnorm,
)
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun, to_layout
from trainspec.conformance.runner import check_row


def test_flax_momentum_weights_the_old_value():
    assert flax_momentum(0.9) == 0.9
    bn = nn.BatchNorm(
        use_running_average=False, momentum=flax_momentum(0.75), param_dtype=jnp.float64
    )
    x = jnp.array([[1.0], [3.0]], dtype=jnp.float64)
    variables = bn.init(jax.random.key(0), x)
    _, updated = bn.apply(variables, x, mutable=["batch_stats"])
    # ra_mean = momentum * ra_mean + (1 - momentum) * mean, from 0
    assert float(updated["batch_stats"]["mean"][0]) == 0.25 * 2.0


def test_flax_axis_follows_the_layout():
    assert flax_axis("channels_last") == -1 and flax_axis("channels_first") == 1
    with pytest.raises(ValueError, match="layout"):
        flax_axis("NCHW")


def _case(layout="channels_last", x=None, gamma=None):
    x = np.array([[1.0, 10.0], [3.0, 10.0]]) if x is None else x
    c = x.shape[1 if layout == "channels_first" else -1]
    return BatchNormCase(
        layout,
        (x,),
        (np.arange(x.size, dtype=float).reshape(x.shape) % 3,),
        x[::-1].copy(),
        np.ones(c) if gamma is None else gamma,
        np.zeros(c),
        0.25,
        0.75,
        np.zeros(c),
        np.ones(c),
    )


@pytest.mark.parametrize("fast", [True, False])
def test_one_step_by_hand(fast):
    case = _case()
    run = run_flax_batchnorm(case, "float64", "cpu", use_fast_variance=fast)
    s = np.sqrt(1.25)
    np.testing.assert_allclose(run.outputs[0], [[-1 / s, 0.0], [1 / s, 0.0]], rtol=1e-14)
    np.testing.assert_allclose(run.running_mean[0], [0.5, 2.5], rtol=1e-15)
    # flax's running variance is the biased one: 0.75 * 1 + 0.25 * 1
    np.testing.assert_allclose(run.running_var[0], [1.0, 0.75], rtol=1e-15)
    np.testing.assert_allclose(run.dbeta[0], [2.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(run.dgamma[0], [2.0 / s, 0.0], atol=1e-15)
    np.testing.assert_allclose(run.test_output[:, 0], (np.array([3.0, 1.0]) - 0.5) / np.sqrt(1.25))


def test_image_layouts_agree():
    rng = np.random.default_rng(0)
    case = _case("channels_first", rng.normal(size=(2, 3, 2, 2)), np.array([1.0, 2.0, -1.0]))
    a = run_flax_batchnorm(case, "float64", "cpu", layout="channels_first")
    b = run_flax_batchnorm(case, "float64", "cpu", layout="channels_last")
    np.testing.assert_allclose(a.outputs[0], b.outputs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.dx[0], b.dx[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.outputs[0].mean(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_the_default_one_pass_variance_loses_a_large_offset():
    # offset 1e4, spread 1, float32: E[x^2] - E[x]^2 keeps no correct digit of the variance
    x = (1e4 + np.array([-1.0, 1.0, -1.0, 1.0]))[:, None]
    case = _case("channels_last", x.astype(np.float32).astype(np.float64), np.ones(1))
    fast = run_flax_batchnorm(case, "float32", "cpu")
    exact = run_flax_batchnorm(case, "float32", "cpu", use_fast_variance=False)
    np.testing.assert_allclose(exact.outputs[0][:, 0], [-1, 1, -1, 1] / np.sqrt(1.25), rtol=1e-5)
    assert np.max(np.abs(fast.outputs[0] - exact.outputs[0])) > 1e-2


def test_rows_include_both_variance_computations():
    names = {(i.spec_id, i.name) for i in implementations()}
    assert ("norm.batch.train", "flax.linen.BatchNorm(axis=-1)") in names
    assert ("norm.batch.train", "flax.linen.BatchNorm(axis=-1, use_fast_variance=False)") in names
    assert ("norm.batch.train", "flax.linen.BatchNorm(axis=1)") in names
    assert {s for s, _ in names} == {
        "norm.batch.train",
        "norm.batch.running",
        "norm.batch.test",
        "norm.batch.grad",
    }


def test_flax_default_is_measured_as_the_one_pass_variant():
    impl = next(
        i
        for i in implementations()
        if i.spec_id == "norm.batch.train" and i.name == "flax.linen.BatchNorm(axis=-1)"
    )
    row = check_row(reference.get(impl.spec_id), impl, "jax", "float32", "cpu", profile="ci")
    assert row.verdict == "variant" and row.variant == "variance=one_pass", row


# --- planted faults: real flax, wrong use; the kit must report diverges -----------------------


def _unbiased_normalisation(case, dtype, device):
    """Fault: the test-mode module fed the batch mean and the unbiased batch variance."""
    honest = run_flax_batchnorm(case, dtype, device, use_fast_variance=False)
    dt = jnp.float32 if dtype == "float32" else jnp.float64
    outs = []
    for x in case.batches:
        xl = jnp.asarray(to_layout(x, case.layout, "channels_last"), dtype=dt)
        axes = tuple(range(xl.ndim - 1))
        m = x.size // case.channels
        mean, var = xl.mean(axis=axes), xl.var(axis=axes) * (m / (m - 1))
        bn = nn.BatchNorm(use_running_average=True, epsilon=case.eps, dtype=dt, param_dtype=dt)
        y = bn.apply(
            {
                "params": {
                    "scale": jnp.asarray(case.gamma, dt),
                    "bias": jnp.asarray(case.beta, dt),
                },
                "batch_stats": {"mean": mean, "var": var},
            },
            xl,
        )
        outs.append(to_layout(np.asarray(y, dtype=np.float64), "channels_last", case.layout))
    return BatchNormRun(
        outs,
        honest.dx,
        honest.dgamma,
        honest.dbeta,
        honest.running_mean,
        honest.running_var,
        honest.test_output,
    )


def test_planted_unbiased_normalisation_diverges(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "jax", "norm.batch.train", "unbiased variance in the normalisation", _unbiased_normalisation
    )


def test_planted_flipped_momentum_diverges(assert_planted_fault_diverges):
    flipped = partial(run_flax_batchnorm, use_fast_variance=False, momentum=lambda w: 1.0 - w)
    assert_planted_fault_diverges("jax", "norm.batch.running", "momentum flipped", flipped)
