"""optax's clipping: the threshold conversion, hand-checked cases, variants, planted fault."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainspec import reference
from trainspec.adapters.jax_adapter.clipping import (
    implementations,
    one_update,
    run_optax_clipping,
    threshold_array,
)
from trainspec.conformance.kinds.clipping import ClippingCase
from trainspec.conformance.runner import check_row

CASE = ClippingCase({"a": np.array([3.0, 4.0]), "b": np.array([[0.0, 12.0]])}, {"threshold": 6.5})


def test_threshold_array_has_the_gradients_dtype():
    assert threshold_array(6.5, "float32").dtype == jnp.float32
    assert threshold_array(6.5, "float64").dtype == jnp.float64


def test_by_hand():
    out = run_optax_clipping(one_update(optax.clip_by_global_norm), CASE, "float64", "cpu")
    np.testing.assert_allclose(out["a"], [1.5, 2.0], rtol=1e-15)
    # block RMS: a has rms sqrt(12.5) = 3.54 <= 6.5 (kept); b has rms sqrt(72) = 8.49 > 6.5
    out = run_optax_clipping(one_update(optax.clip_by_block_rms), CASE, "float64", "cpu")
    np.testing.assert_array_equal(out["a"], [3.0, 4.0])
    np.testing.assert_allclose(out["b"], [[0.0, 12.0 * 6.5 / np.sqrt(72.0)]], rtol=1e-15)


def test_apply_if_finite_skips_the_step():
    bad = ClippingCase({"a": np.array([np.nan, 1.0])}, {"threshold": 1.0})
    impl = next(i for i in implementations() if i.name.startswith("optax.apply_if_finite"))
    np.testing.assert_array_equal(impl.run(bad, "float32", "cpu")["a"], [0.0, 0.0])


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("optax.clip_by_block_rms", "measure=rms"),
        ("optax.apply_if_finite(clip_by_global_norm)", "nonfinite=skip"),
        ("optax.clip", "default"),
    ],
)
def test_rows_follow_their_variants(name, variant):
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(reference.get(impl.spec_id), impl, "jax", "float64", "cpu", profile="quick")
    assert row.verdict in ("conforms", "variant") and row.variant == variant, row


def test_planted_fault_global_norm_per_tensor_diverges(assert_planted_fault_diverges):
    """optax.clip_by_global_norm applied to each tensor alone, registered as the global norm."""
    per_leaf = one_update(optax.clip_by_global_norm)

    def run(case, dtype, device):
        out = {}
        for k, g in case.grads.items():
            single = ClippingCase({k: g}, case.hyperparameters)
            out.update(run_optax_clipping(per_leaf, single, dtype, device))
        return out

    row = assert_planted_fault_diverges("jax", "clip.global_norm", "per tensor", run)
    assert len(row.counterexample["grads"]) >= 2
