import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import track_tree
from trainspec.reference.activations import (
    SELU_ALPHA,
    SELU_LAMBDA,
    elu,
    flush_subnormals,
    leaky_relu,
    logistic,
    prelu,
    relu,
    rrelu,
    rrelu_training,
    selu,
    sigmoid,
    softmax,
    step,
    tanh,
    tanh_from_sigmoid,
)

Z = np.array([-2.0, -0.5, -0.0, 0.0, 0.5, 2.0])
finite = st.floats(-30.0, 30.0, allow_nan=False)


def test_step_forms_differ_only_at_zero():
    h = step("heaviside").value(Z)
    p = step("perceptron").value(Z)
    s = step("sgn").value(Z)
    np.testing.assert_array_equal(h, [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(p, [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(s, [-1, -1, 0, 0, 1, 1])
    assert np.isnan(step("sgn").value(np.array([np.nan]))[0])
    assert np.isnan(step("heaviside").value(np.array([np.nan]))[0])
    np.testing.assert_array_equal(step().derivative(Z), np.zeros(6))
    nan = np.array([np.nan])
    assert step("sgn", nan_value="zero").value(nan)[0] == 0.0
    assert step("heaviside", nan_value="value_at_zero").value(nan)[0] == 1.0
    assert step("perceptron", nan_value="value_at_zero").value(nan)[0] == 0.0


def test_logistic_is_stable_for_large_magnitudes():
    z = np.array([-1000.0, -745.0, -700.0, 0.0, 700.0, 1000.0, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = logistic(z)
    assert s[0] == 0.0 and s[-4] == 1.0 and s[-2] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(s[2], np.exp(-700.0), rtol=1e-14)
    assert s[1] > 0.0  # a subnormal, not flushed
    assert s[3] == 0.5


@given(z=finite)
def test_logistic_symmetry_and_derivative_bound(z):
    a = np.array([z])
    s = logistic(a)[0]
    assert abs(s + logistic(-a)[0] - 1.0) <= 4.5e-16
    d = sigmoid().derivative(a)[0]
    assert 0.0 <= d <= 0.25


@given(z=st.floats(-20.0, 20.0, allow_nan=False))
def test_tanh_equals_two_sigma_two_z_minus_one(z):
    a = np.array([z])
    assert abs(tanh().value(a)[0] - tanh_from_sigmoid(a)[0]) <= 4e-16


def _central_difference(f, z, h=1e-6):
    return (f(z + h) - f(z - h)) / (2 * h)


ELEMENTWISE = [
    ("sigmoid", sigmoid()),
    ("tanh", tanh()),
    ("relu", relu()),
    ("leaky", leaky_relu(0.1)),
    ("prelu", prelu(-0.3)),
    ("rrelu", rrelu(0.1, 0.3)),
    ("elu", elu(1.7)),
    ("selu", selu()),
]


@pytest.mark.parametrize("name,act", ELEMENTWISE, ids=[n for n, _ in ELEMENTWISE])
@given(z=st.floats(-8.0, 8.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3))
def test_derivative_is_the_slope_away_from_the_kink(name, act, z):
    a = np.array([z])
    np.testing.assert_allclose(
        act.derivative(a), _central_difference(act.value, a), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_array_equal(act.vjp(a, np.ones(1))["z"], act.derivative(a))


def test_derivative_at_zero_is_a_named_convention():
    zero = np.array([0.0, -0.0])
    assert list(relu("zero").derivative(zero)) == [0.0, 0.0]
    assert list(relu("one").derivative(zero)) == [1.0, 1.0]
    for option, expected in (("alpha", 0.2), ("one", 1.0), ("zero", 0.0)):
        assert list(leaky_relu(0.2, option).derivative(zero)) == [expected] * 2
        assert list(prelu(0.2, option).derivative(zero)) == [expected] * 2
    assert list(rrelu(0.1, 0.3, "alpha").derivative(zero)) == [0.2, 0.2]


def test_nan_propagates_through_values_and_derivatives():
    nan = np.array([np.nan])
    for _, act in ELEMENTWISE:
        assert np.isnan(act.value(nan)[0]) and np.isnan(act.derivative(nan)[0])


@given(z=finite, alpha=st.floats(1e-3, 1.0))
def test_leaky_relu_is_max_of_alpha_z_and_z(z, alpha):
    a = np.array([z])
    assert leaky_relu(alpha).value(a)[0] == max(alpha * z, z)


def test_max_alpha_z_z_is_not_leaky_above_one():
    # max(2z, z) = 2z for z > 0: that is why alpha <= 1
    assert max(2.0 * 3.0, 3.0) != 3.0
    with pytest.raises(ValueError, match="alpha"):
        leaky_relu(2.0)


def test_prelu_vjp_gives_the_slope_gradient():
    z = np.array([-2.0, -0.5, 0.0, 1.5])
    g = np.array([1.0, 3.0, 5.0, 7.0])
    out = prelu(0.25).vjp(z, g)
    assert out["alpha"] == pytest.approx(1.0 * -2.0 + 3.0 * -0.5)
    # against a central difference in alpha
    h = 1e-6
    fd = np.sum(g * (prelu(0.25 + h).value(z) - prelu(0.25 - h).value(z))) / (2 * h)
    assert out["alpha"] == pytest.approx(fd, rel=1e-8)
    np.testing.assert_array_equal(out["z"], g * np.array([0.25, 0.25, 0.25, 1.0]))


def test_rrelu_test_mode_is_leaky_with_the_mean_slope():
    np.testing.assert_array_equal(rrelu(0.1, 0.3).value(Z), leaky_relu(0.2).value(Z))


def test_rrelu_training_draws_slopes_from_the_given_generator():
    z = -np.abs(np.random.default_rng(1).standard_normal(20000)) - 0.1
    a = rrelu_training(z, 0.125, 1 / 3, np.random.default_rng(7))
    b = rrelu_training(z, 0.125, 1 / 3, np.random.default_rng(7))
    np.testing.assert_array_equal(a.value, b.value)  # no hidden RNG
    np.testing.assert_allclose(a.value, a.slopes * z, rtol=1e-15)
    assert a.slopes.min() >= 0.125 and a.slopes.max() <= 1 / 3
    # the mean of U(l, u) within 6 standard errors (a fixed seed: deterministic)
    se = (1 / 3 - 0.125) / np.sqrt(12 * z.size)
    assert abs(a.slopes.mean() - (0.125 + 1 / 3) / 2) < 6 * se
    pos = rrelu_training(np.array([1.0, 2.0]), 0.1, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(pos.value, [1.0, 2.0])


@given(z=finite, alpha=st.floats(0.05, 5.0))
def test_elu_branches_agree_on_values_everywhere(z, alpha):
    a = np.array([z])
    assert elu(alpha, "z_lt_0").value(a)[0] == elu(alpha, "z_le_0").value(a)[0]
    if z != 0:
        assert elu(alpha, "z_lt_0").derivative(a)[0] == elu(alpha, "z_le_0").derivative(a)[0]


def test_elu_branches_differ_in_the_derivative_at_zero_unless_alpha_is_one():
    zero = np.array([0.0])
    assert elu(2.0, "z_lt_0").derivative(zero)[0] == 1.0
    assert elu(2.0, "z_le_0").derivative(zero)[0] == 2.0
    assert elu(1.0, "z_lt_0").derivative(zero)[0] == elu(1.0, "z_le_0").derivative(zero)[0]
    assert selu("z_lt_0").derivative(zero)[0] == pytest.approx(SELU_LAMBDA)
    assert selu("z_le_0").derivative(zero)[0] == pytest.approx(SELU_LAMBDA * SELU_ALPHA)


def test_selu_constants_make_the_standard_normal_a_fixed_point():
    # Klambauer et al.: for z ~ N(0, 1), E[selu(z)] = 0 and E[selu(z)^2] = 1 (midpoint rule on
    # [-12, 12]; the tails beyond carry less than 1e-30)
    z = np.linspace(-12, 12, 2_400_001)
    pdf = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    y = selu().value(z)
    dz = z[1] - z[0]
    assert abs(np.sum(y * pdf) * dz) < 1e-9
    assert abs(np.sum(y**2 * pdf) * dz - 1.0) < 1e-9


@given(shift=st.floats(-500.0, 500.0), seed=st.integers(0, 100))
def test_softmax_is_shift_invariant_and_sums_to_one(shift, seed):
    z = np.random.default_rng(seed).standard_normal((3, 5)) * 4
    s = softmax().value(z)
    np.testing.assert_allclose(softmax().value(z + shift), s, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-15)


def test_softmax_is_stable_for_huge_logits_and_masks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = softmax().value(np.array([[1000.0, 1000.0], [-np.inf, 3.0]]))
    np.testing.assert_array_equal(s, [[0.5, 0.5], [0.0, 1.0]])


def test_softmax_vjp_is_the_jacobian_product():
    rng = np.random.default_rng(3)
    z, g = rng.standard_normal(4), rng.standard_normal(4)
    jac = np.zeros((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = 1e-6
        jac[:, j] = (softmax().value(z + e) - softmax().value(z - e)) / 2e-6
    np.testing.assert_allclose(softmax().vjp(z, g)["z"], g @ jac, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(softmax().vjp(z, np.ones(4))["z"], 0.0, atol=1e-16)


def test_flush_subnormals():
    tiny = np.finfo(np.float32).tiny
    x = np.array([1e-40, -1e-40, tiny, -3.0, 0.0])
    out = flush_subnormals(x, float(tiny))
    np.testing.assert_array_equal(out, [0.0, -0.0, tiny, -3.0, 0.0])
    assert np.signbit(out[1])


def test_every_variant_evaluates_on_tracked_arrays():
    z = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1e-310, -3.0, 800.0, -800.0])
    hp = {"alpha": 0.5, "lower": 0.1, "upper": 0.3}
    for entry in reference.entries_matching("act"):
        if entry.kind != "activations":
            continue
        for v in entry.variants():
            act = entry.model.build(v.options, hp)
            x = z if act.elementwise else np.array([[1.0, -np.inf, 3.0], [0.0, -0.0, 1e-310]])
            t = track_tree({"z": x, "g": np.ones_like(x)}, "float32")
            # an exact result (a step) may come back as a plain array
            y = act.value(t["z"])
            np.testing.assert_array_equal(getattr(y, "value", y), act.value(x))
            for k, out in act.vjp(t["z"], t["g"]).items():
                np.testing.assert_array_equal(out.value, act.vjp(x, np.ones_like(x))[k])


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="z"):
        relu().value([1.0, 2.0])
    with pytest.raises(TypeError, match="z"):
        sigmoid().value(np.array([1, 2]))
    with pytest.raises(ValueError, match="form"):
        step("signum")
    with pytest.raises(ValueError, match="nan_value"):
        step(nan_value="one")
    with pytest.raises(ValueError, match="derivative_at_zero"):
        relu("half")
    with pytest.raises(ValueError, match="alpha"):
        elu(float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        elu(0.0)
    with pytest.raises(ValueError, match="lower"):
        rrelu(0.5, 0.2)
    with pytest.raises(TypeError, match="rng"):
        rrelu_training(Z, 0.1, 0.2, 42)
    with pytest.raises(ValueError, match="axis"):
        softmax(axis=2).value(np.ones((2, 2)))
    with pytest.raises(ValueError, match="axis"):
        softmax().value(np.array(1.0))
    with pytest.raises(ValueError, match="g"):
        relu().vjp(Z, np.ones(2))
    with pytest.raises(ValueError, match="negative_branch"):
        selu("z_ge_0")


def test_entries_are_registered_with_their_axes():
    ids = {e.id for e in reference.entries_matching("act")}
    assert ids == {
        "act.defaults",
        "act.step",
        "act.sigmoid",
        "act.tanh",
        "act.relu",
        "act.leaky_relu",
        "act.prelu",
        "act.rrelu",
        "act.elu",
        "act.selu",
        "act.softmax",
    }
    elu_entry = reference.get("act.elu")
    assert [a.name for a in elu_entry.variant_axes] == [
        "negative_branch",
        "evaluation",
        "subnormals",
        "nan_derivative",
    ]
    assert elu_entry.variant(negative_branch="z_le_0").name == "negative_branch=z_le_0"


def test_softmax_bounds_stay_finite_at_the_extremes():
    big = np.finfo(np.float64).max
    z = np.array([[big, big, -big, -np.inf, 0.0]])
    t = track_tree({"z": z, "g": np.ones_like(z)}, "float64")
    y = softmax().value(t["z"])
    np.testing.assert_array_equal(y.value, [[0.5, 0.5, 0.0, 0.0, 0.0]])
    # exact zeros: at most the tolerance policy's flush level per operation
    assert np.all(np.isfinite(y.err)) and np.all(y.err[0, 2:] <= 4 * 2.0**-1022)
    assert np.all(np.isfinite(softmax().vjp(t["z"], t["g"])["z"].err))
