"""JAX/flax activations: the conversions (names, flax's PReLU parameter, the fixed padded shape),
hand-checked values and derivatives, the defaults, and planted faults that must diverge."""

import jax.numpy as jnp
import numpy as np
import pytest

from trainspec import reference
from trainspec.adapters.jax_adapter.activations import (
    implementations,
    jax_kwargs,
    pad_case,
    prelu_params,
    run_activation,
)
from trainspec.conformance.kinds.activations import MAX_ELEMENTS, MAX_SIDE, ActivationCase
from trainspec.conformance.runner import check_row
from trainspec.reference.activations import softmax

Z = np.array([-2.0, -0.0, 0.0, 3.0])


def case(check, z=Z, hp=None, cotangent=None):
    g = np.ones(z.shape) if check == "derivatives" and cotangent is None else cotangent
    return ActivationCase(check, z, g, hp or {}, "typical", 0)


def by_name(name):
    return next(i for i in implementations() if i.name == name)


def test_jax_kwargs_maps_the_spec_names():
    assert jax_kwargs("act.leaky_relu", {"alpha": 0.2}) == {"negative_slope": 0.2}
    assert jax_kwargs("act.elu", {"alpha": 2.0}) == {"alpha": 2.0}
    assert jax_kwargs("act.selu", {}) == {}


def test_prelu_params_hold_one_scalar_slope():
    p = prelu_params(0.25, jnp.float64)
    assert (
        p["params"]["negative_slope"].shape == () and float(p["params"]["negative_slope"]) == 0.25
    )


def test_pad_case_round_trips_and_keeps_the_softmax():
    z = np.arange(6.0).reshape(2, 3)
    zp, gp, crop = pad_case(z, np.ones((2, 3)), rowwise=False)
    assert zp.shape == (MAX_ELEMENTS,) and gp[6:].sum() == 0
    np.testing.assert_array_equal(crop(zp), z)
    zp, gp, crop = pad_case(z, None, rowwise=True)
    assert zp.shape == (MAX_SIDE, MAX_SIDE) and gp is None
    # -inf padding leaves every row's softmax unchanged
    np.testing.assert_allclose(crop(softmax().value(zp)[:2]), softmax().value(z), rtol=1e-15)


def test_leaky_relu_by_hand_takes_one_at_zero():
    impl = by_name("jax.nn.leaky_relu")
    y = impl.run(case("values", hp={"alpha": 0.25}), "float64", "cpu")["y"]
    np.testing.assert_array_equal(y, [-0.5, 0.0, 0.0, 3.0])
    d = impl.run(case("derivatives", hp={"alpha": 0.25}), "float64", "cpu")["z"]
    np.testing.assert_array_equal(d, [0.25, 1.0, 1.0, 1.0])  # x >= 0: derivative_at_zero=one


def test_flax_prelu_gives_the_slope_gradient_by_hand():
    g = np.array([1.0, 2.0, 3.0, 4.0])
    out = by_name("flax.linen.PReLU").run(
        case("derivatives", hp={"alpha": 0.5}, cotangent=g), "float64", "cpu"
    )
    assert float(out["alpha"]) == -2.0
    np.testing.assert_array_equal(out["z"], [0.5, 2.0, 3.0, 4.0])


def test_softmax_vjp_by_hand():
    out = by_name("jax.nn.softmax(axis=-1)").run(
        case("derivatives", z=np.array([[0.0, 0.0]]), cotangent=np.array([[1.0, 0.0]])),
        "float64",
        "cpu",
    )
    np.testing.assert_array_equal(out["z"], [[0.25, -0.25]])


@pytest.mark.parametrize(
    "name,spec_id,expected",
    [
        ("jax.nn.elu", "act.elu", "negative_branch=z_le_0"),
        ("jax.nn.leaky_relu", "act.leaky_relu", "derivative_at_zero=one"),
    ],
)
def test_rows_follow_their_named_variants(name, spec_id, expected):
    row = check_row(reference.get(spec_id), by_name(name), "jax", "float32", "cpu", profile="quick")
    assert row.verdict == "variant" and expected in row.variant, row


def _wrong_side(x, hp, p):
    return jnp.where(x > 0, hp["alpha"] * x, x)  # the slope applied to the positive side


def _naive(x, hp, p):
    return jnp.exp(x) / (1 + jnp.exp(x))  # NaN where exp overflows


def _wrong_side_leaky(c, dtype, device):
    return run_activation(_wrong_side, c, dtype, device)


def _naive_sigmoid(c, dtype, device):
    return run_activation(_naive, c, dtype, device)


def test_planted_fault_leaky_slope_on_the_wrong_side(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "jax", "act.leaky_relu", "slope on z > 0", _wrong_side_leaky
    )
    assert row.counterexample["check"] == "values"


def test_planted_fault_naive_sigmoid_overflows(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges("jax", "act.sigmoid", "exp(z)/(1+exp(z))", _naive_sigmoid)
    assert "nan" in row.message
