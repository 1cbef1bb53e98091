"""Keras/TensorFlow activations: the conversions, hand-checked values and derivatives, the
defaults read from the API, the SELU finding, and planted faults that must diverge."""

import numpy as np
import pytest
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter.activations import (
    implementations,
    keras_kwargs,
    prelu_input,
    run_activation,
)
from trainspec.conformance.kinds.activations import ActivationCase
from trainspec.conformance.runner import check_row
from trainspec.reference.activations import SELU_ALPHA, SELU_LAMBDA

Z = np.array([-2.0, -0.0, 0.0, 3.0])


def case(check, z=Z, hp=None, cotangent=None):
    g = np.ones(z.shape) if check == "derivatives" and cotangent is None else cotangent
    return ActivationCase(check, z, g, hp or {}, "typical", 0)


def by_name(name):
    return next(i for i in implementations() if i.name == name)


def test_keras_kwargs_maps_the_leaky_slope_per_api():
    hp = {"alpha": 0.25}
    assert keras_kwargs("tf.nn.leaky_relu", hp) == {"alpha": 0.25}
    assert keras_kwargs("keras.activations.leaky_relu", hp) == {"negative_slope": 0.25}
    assert keras_kwargs("keras.layers.LeakyReLU", hp) == {"negative_slope": 0.25}
    assert keras_kwargs("keras.activations.sigmoid", hp) == {}


def test_prelu_input_is_one_feature_rows():
    assert tuple(prelu_input(tf.zeros((3, 4))).shape) == (12, 1)


def test_keras_prelu_by_hand_has_derivative_zero_at_zero():
    g = np.array([1.0, 2.0, 3.0, 4.0])
    out = by_name("keras.layers.PReLU").run(
        case("derivatives", hp={"alpha": 0.5}, cotangent=g), "float64", "cpu"
    )
    # relu(x) - alpha*relu(-x): both relu' are 0 at 0
    np.testing.assert_array_equal(out["z"], [0.5, 0.0, 0.0, 4.0])
    assert float(out["alpha"]) == -2.0  # sum g * min(z, 0)
    y = by_name("keras.layers.PReLU").run(case("values", hp={"alpha": 0.5}), "float64", "cpu")
    np.testing.assert_array_equal(y["y"], [-1.0, 0.0, 0.0, 3.0])


def test_tf_elu_evaluates_exp_minus_one():
    # e^z - 1 cancels: ELU(-1e-30) reads 0 in float32 (expm1 would give -1e-30)
    y = by_name("keras.activations.elu").run(
        case("values", z=np.array([-1e-30]), hp={"alpha": 1.0}), "float32", "cpu"
    )
    assert y["y"][0] == 0.0


def test_selu_gradient_takes_the_branch_of_the_rounded_output():
    """FINDING (reported): SeluGrad picks the branch from the sign of the output, which e^z - 1
    rounds to 0 for |z| below the unit roundoff, so the derivative there is lambda, not
    lambda*alpha*e^z."""
    out = by_name("tf.nn.selu").run(case("derivatives", z=np.array([-1e-9])), "float32", "cpu")
    assert out["z"][0] == pytest.approx(SELU_LAMBDA, rel=1e-6)
    assert abs(out["z"][0] - SELU_LAMBDA * SELU_ALPHA) > 0.5


def test_heaviside_has_no_gradient_and_says_so():
    impl = by_name("keras.ops.heaviside(x, 1)")
    assert impl.options["derivatives"] is False
    with pytest.raises(RuntimeError, match="no gradient"):
        impl.run(case("derivatives"), "float32", "cpu")


def test_tf_flushes_subnormals():
    impl = by_name("tf.nn.relu")
    row = check_row(
        reference.get("act.relu"), impl, "tensorflow", "float32", "cpu", profile="quick"
    )
    assert row.verdict == "variant" and "subnormals=flushed" in row.variant, row


def _wrong_side_leaky(c, dtype, device):
    return run_activation(lambda x, hp, d, p: tf.where(x > 0, hp["alpha"] * x, x), c, dtype, device)


def _naive_sigmoid(c, dtype, device):
    return run_activation(lambda x, hp, d, p: tf.exp(x) / (1 + tf.exp(x)), c, dtype, device)


def test_planted_fault_leaky_slope_on_the_wrong_side(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "tensorflow", "act.leaky_relu", "slope on z > 0", _wrong_side_leaky
    )
    assert row.counterexample["check"] == "values"


def test_planted_fault_naive_sigmoid_overflows(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "tensorflow", "act.sigmoid", "exp(z)/(1+exp(z))", _naive_sigmoid
    )
    assert "nan" in row.message
