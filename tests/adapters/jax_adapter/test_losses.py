"""optax's losses: the label conversion, hand-checked values and gradients, planted fault."""

import jax.numpy as jnp
import numpy as np
import optax

from trainspec import reference
from trainspec.adapters.jax_adapter.losses import (
    implementations,
    labels_array,
    run_loss,
    value_and_gradient,
)
from trainspec.conformance.kinds.losses import LossCase
from trainspec.conformance.runner import check_row


def test_labels_array_is_integer():
    a = labels_array(np.array([0, 2], dtype=np.int64))
    assert jnp.issubdtype(a.dtype, jnp.integer) and a.tolist() == [0, 2]


def test_by_hand():
    case = LossCase(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0]]), "real")
    half = value_and_gradient(lambda y, t: jnp.sum(optax.losses.l2_loss(y, t)))
    out = run_loss(half, case, "float64", "cpu")
    assert out["value"] == 4.0  # half of 0 + 4 + 0 + 4: optax's l2_loss has the 1/2
    np.testing.assert_array_equal(out["grad"], [[0.0, 2.0], [0.0, -2.0]])


def test_rows():
    expected = {
        "loss.mse": "reduction=mean_over_elements",
        "loss.half_sse": "default",
        "loss.softmax_ce": "default",
        "loss.logistic": "reduction=mean_over_elements",
    }
    for impl in implementations():
        if impl.spec_id not in ("loss.mse", "loss.logistic"):
            continue  # the registry-driven suite runs the others
        row = check_row(reference.get(impl.spec_id), impl, "jax", "float32", "cpu", profile="quick")
        assert row.verdict in ("conforms", "variant") and row.variant == expected[impl.spec_id], row


def test_planted_fault_squared_error_as_half_sse_diverges(assert_planted_fault_diverges):
    """optax.losses.squared_error summed, registered as the half SSE (the 1/2 forgotten)."""
    full = value_and_gradient(lambda y, t: jnp.sum(optax.losses.squared_error(y, t)))
    assert_planted_fault_diverges(
        "jax", "loss.half_sse", "1/2 forgotten", lambda c, d, dev: run_loss(full, c, d, dev)
    )
