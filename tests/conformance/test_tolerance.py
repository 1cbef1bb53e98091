import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy_impls import heavy_ball

from trainspec import reference
from trainspec.conformance.kinds.optimizers import draw_optimizer_case, reference_optimizer_run
from trainspec.conformance.tolerance import SAFETY, compare, compare_trees, floor
from trainspec.conformance.tracked import Tracked, representable, round_to, unit_roundoff


def test_unit_roundoff_values():
    assert unit_roundoff("float32") == np.finfo(np.float32).eps / 2
    assert unit_roundoff("float64") == np.finfo(np.float64).eps / 2
    assert unit_roundoff("float16") == np.finfo(np.float16).eps / 2
    with pytest.raises(ValueError, match="dtype='int8': must be one of"):
        unit_roundoff("int8")


def test_round_to_bfloat16_is_round_to_nearest_even():
    one = 1.0
    assert round_to(one + 2**-9, "bfloat16") == 1.0  # tie -> even
    assert round_to(one + 3 * 2**-9, "bfloat16") == 1.0 + 2**-7  # tie -> even (up)
    assert round_to(one + 2**-8 + 2**-12, "bfloat16") == 1.0 + 2**-7
    assert representable(np.float32(0.1), "float32") and not representable(0.1, "float32")


def test_tracked_rules():
    u = 2.0**-24
    a, b = Tracked(3.0, 0.0, u), Tracked(-1.0, 0.0, u)
    s = a + b
    assert s.value == 2.0 and s.err == pytest.approx(4 * u)  # |a| + |b|, not |a + b|
    p = a * b
    assert p.value == -3.0 and p.err == pytest.approx(2 * 3 * u)
    r = np.sqrt(Tracked(0.0, 1e-20, u))  # near zero the bound stays finite: sqrt(err)
    assert np.isfinite(r.err) and r.err == pytest.approx(1e-10)
    with pytest.raises(TypeError, match="no rounding rule for numpy.sinh"):
        np.sinh(a)
    c = a**3  # d(a^3) = 3a^2 e_a, plus two roundings
    assert c.value == 27.0 and c.err == pytest.approx(2 * 27 * u)
    d = 2.0 ** Tracked(3.0, 1e-3, u)  # |2^x ln 2| e_x + 2u 2^x
    assert d.value == 8.0 and d.err == pytest.approx(8 * np.log(2) * 1e-3 + 16 * u)
    with pytest.raises(TypeError, match="plain number k only"):
        a**a


def test_hyperparameter_coefficients_carry_their_conditioning():
    # 1 - beta**t near beta**t = 1 loses digits: the bound is relative to the inputs, not the result
    u = unit_roundoff("float32") + unit_roundoff("float64")
    from trainspec.conformance.tracked import track_scalar

    c = 1.0 - track_scalar(0.999, "float32") ** 1
    assert c.value == pytest.approx(1e-3)
    assert c.err / c.value > 1000 * u  # relative bound far above u: the cancellation is priced in


def test_compare_reports_the_worst_element():
    ref = Tracked(np.array([1.0, 2.0]), np.array([1e-7, 1e-7]), 0.0)
    err, tol, ratio = compare(np.array([1.0, 2.0 + 1e-6]), ref, "float32")
    assert err == pytest.approx(1e-6) and tol == pytest.approx(SAFETY * 1e-7 + floor("float32"))
    assert ratio > 1
    nan_ref = Tracked(np.array([np.nan]), np.array([0.0]), 0.0)
    assert compare(np.array([np.nan]), nan_ref, "float32")[2] == 0.0
    assert compare(np.array([1.0]), nan_ref, "float32")[2] == np.inf
    with pytest.raises(ValueError, match="shape"):
        compare(np.zeros(3), nan_ref, "float32")


# The policy's two duties, as properties over the kit's own strategies:
# 1. a correct implementation computing in the dtype is always within the bound (no false alarm);
# 2. a relative error well above the dtype's precision is always caught.

SPECS = ["opt.gd", "opt.momentum", "opt.nesterov", "opt.weight_decay"]
VARIANT = {
    "opt.gd": {},
    "opt.momentum": {"form": "eta_outside"},
    "opt.nesterov": {"form": "eta_outside"},
    "opt.weight_decay": {"momentum_form": "eta_outside"},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec_id", SPECS)
@given(data=st.data())
def test_correct_float_arithmetic_is_within_tolerance(spec_id, dtype, data):
    entry = reference.get(spec_id)
    case = draw_optimizer_case(
        data, entry, dtype, data.draw(st.sampled_from(["one_step", "trajectory"]))
    )
    actual = heavy_ball(case, dtype, "cpu", nesterov=spec_id == "opt.nesterov")
    expected = reference_optimizer_run(entry.model, entry.variant(**VARIANT[spec_id]), case, dtype)
    c = compare_trees(actual, expected, dtype)
    assert c.passes, c


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data(), rel=st.floats(1e3, 1e6))
def test_an_error_of_a_thousand_ulps_of_the_inputs_is_caught(dtype, data, rel):
    # one momentum step b' = mu b + g, theta' = theta - eta b': the inputs' magnitude is
    # M = |theta| + eta (mu |b| + |g|); an error of `rel` ulps of M must never pass.
    entry = reference.get("opt.momentum")
    case = draw_optimizer_case(data, entry, dtype, "one_step")
    expected = reference_optimizer_run(entry.model, entry.variant(form="eta_outside"), case, dtype)
    mu, eta = case.hyperparameters["momentum"], case.learning_rates[0]
    k = data.draw(st.sampled_from(sorted(expected)), label="tensor")
    theta, g, b = case.params[k], case.grads[0][k], case.state.buffers["trace"][k]
    magnitude = np.abs(theta) + eta * (mu * np.abs(b) + np.abs(g))
    i = data.draw(st.integers(0, theta.size - 1), label="element")
    bump = rel * unit_roundoff(dtype) * magnitude.flat[i] + 10 * floor(dtype)
    actual = {kk: v.value.copy() for kk, v in expected.items()}
    actual[k].flat[i] += bump
    assert not compare_trees(actual, expected, dtype).passes


# --- reductions, matmul, elementary functions, selections, evaluation orders -------------------


def test_sum_bound_covers_any_order_and_mean_adds_a_division():
    u = 2.0**-24
    x = Tracked(np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]), 0.0, u)
    s = np.sum(x, axis=1)
    assert s.value.tolist() == [2.0, 3.0]
    assert s.err.tolist() == pytest.approx([2 * u * 6, 2 * u * 15])  # (n-1) u sum|x|
    m = x.mean(axis=0, keepdims=True)
    assert m.shape == (1, 3) and m.value.tolist() == [[2.5, 1.5, -1.5]]
    assert m.err[0, 0] == pytest.approx(u * 5 / 2 + 2 * u * 2.5)
    assert np.sum(x).value == 5.0 and np.sum(x).err == pytest.approx(5 * u * 21)


def test_matmul_bound_and_selections_are_exact():
    u = 2.0**-24
    a = Tracked(np.array([[1.0, -2.0]]), 0.0, u)
    b = Tracked(np.array([[3.0], [4.0]]), 0.0, u)
    p = a @ b
    assert p.value.tolist() == [[-5.0]] and p.err[0, 0] == pytest.approx(3 * u * 11)
    x = Tracked(np.array([3.0, -1.0, 7.0]), np.array([1e-3, 2e-3, 3e-3]), u)
    assert np.max(x).value == 7.0 and np.max(x).err == 3e-3
    w = np.where(x > 0, x, 0.0)
    assert w.value.tolist() == [3.0, 0.0, 7.0] and w.err.tolist() == [1e-3, 0.0, 3e-3]
    assert x[1:].err.tolist() == [2e-3, 3e-3] and x.reshape(3, 1).T.shape == (1, 3)
    assert np.concatenate([x, x]).err.shape == (6,)


def test_elementary_functions_price_conditioning_and_their_ulps():
    from trainspec.conformance.tracked import ELEMENTARY_ULPS

    u = 2.0**-24
    x = Tracked(np.array([2.0]), np.array([1e-6]), u)
    e = np.exp(x)
    assert e.err[0] == pytest.approx(np.exp(2.0) * 1e-6 + 2 * ELEMENTARY_ULPS * u * np.exp(2.0))
    t = np.tanh(Tracked(np.array([30.0]), np.array([1.0]), u))  # saturated: insensitive
    assert t.err[0] == pytest.approx(2 * ELEMENTARY_ULPS * u * np.tanh(30.0), rel=1e-6)
    lg = np.log(Tracked(np.array([1e-3]), np.array([1e-9]), u))
    assert lg.err[0] == pytest.approx(1e-6 + 2 * ELEMENTARY_ULPS * u * abs(np.log(1e-3)))


def test_either_covers_every_evaluation_order_and_plain_arrays_pass_through():
    from trainspec.reference.base import either_order

    u = 2.0**-24
    m, g = Tracked(np.array([1e3]), 0.0, u), Tracked(np.array([1e-3]), 0.0, u)
    b = Tracked(0.1, 0.0, u)
    ema = b * m + (1 - b) * g
    lerp = m + (1 - b) * (g - m)
    both = either_order(ema, lerp)
    assert both.value == ema.value and both.err[0] >= max(ema.err[0], lerp.err[0])
    plain = np.array([2.0])
    assert either_order(plain, np.array([3.0])) is plain


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _batchnorm(x, eps):
    mu = np.mean(x, axis=0, keepdims=True)
    var = np.mean(np.square(x - mu), axis=0, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


FORMULAS = {"softmax": _softmax, "batchnorm": lambda x: _batchnorm(x, 1e-5)}


@pytest.mark.parametrize("formula", sorted(FORMULAS))
@given(data=st.data())
def test_float32_evaluation_of_reductions_is_within_tolerance(formula, data):
    # duty 1 for the new rules: the same formula evaluated in float32 by NumPy (pairwise sums,
    # its own exp) stays within the tracked bound, on inputs exactly representable in float32
    from trainspec.conformance.strategies import draw_array
    from trainspec.conformance.tracked import track_tree

    shape = data.draw(st.tuples(st.integers(2, 64), st.integers(1, 8)), label="shape")
    x = draw_array(data, shape, "float32", label="x")
    fn = FORMULAS[formula]
    with np.errstate(all="ignore"):
        actual = fn(x.astype(np.float32)).astype(np.float64)
        expected = fn(track_tree({"x": x}, "float32")["x"])
    assert compare(actual, expected, "float32")[2] <= 1.0


@given(data=st.data(), rel=st.floats(1e3, 1e6))
def test_a_softmax_off_by_a_thousand_conditioned_ulps_is_caught(data, rel):
    from trainspec.conformance.strategies import draw_array
    from trainspec.conformance.tracked import track_tree

    x = draw_array(data, (8, 5), "float32", label="x")
    expected = _softmax(track_tree({"x": x}, "float32")["x"])
    actual = expected.value.copy()
    i = data.draw(st.integers(0, actual.size - 1), label="element")
    # softmax's relative condition number grows with the logits' spread (an error of u|z| in
    # z - max z moves e^(z - max z) by that much, relatively), so the error must exceed
    # `rel` ulps times that conditioning
    cond = 1.0 + 2.0 * float(np.max(np.abs(x)))
    # beyond cond * u ~ 1 the softmax of float32 logits is not determined at all (the bound is
    # rightly infinite there), so no error can be "caught"
    assume(cond * unit_roundoff("float32") < 1e-3)
    actual.flat[i] += rel * unit_roundoff("float32") * cond * max(actual.flat[i], 1e-30) + 1e-37
    assert compare(actual, expected, "float32")[2] > 1.0


def test_results_flushed_to_zero_are_within_the_bound_and_only_they():
    from trainspec.conformance.tracked import flush_level, track_tree

    assert flush_level("float32") == 2.0**-126 and flush_level("float64") == 2.0**-1022
    assert flush_level("float16") == 16 * 2.0**-24  # half precision keeps its subnormals
    t = track_tree({"g": np.array([1e-20, 1.0])}, "float32")["g"]
    sq = t * t  # 1e-40 is subnormal in float32: FTZ gives 0
    assert compare(np.array([0.0, 1.0]), sq, "float32")[2] <= 1.0
    # the flushed intermediate divided by a small eps: 1e-40/1e-30 vs 0/1e-30
    eps = track_tree({"e": np.array([1e-30, 1e-30])}, "float32")["e"]
    assert compare(np.array([0.0, 1e30]), sq / eps, "float32")[2] <= 1.0
    # a normal result that is zeroed is still caught
    assert compare(np.array([1e-38 * 0, 1.0]), t * 1e-18, "float32")[2] > 1.0


def test_a_quotient_whose_divisor_may_vanish_is_unbounded_and_otherwise_not_linearised():
    u = 2.0**-24
    q = Tracked(np.array([1.0, 1.0]), 0.0, u) / Tracked(
        np.array([1.0, 1.0]), np.array([0.5, 2.0]), u
    )
    assert q.err[0] == pytest.approx(0.5 * 1 / 0.5 + 2 * u)  # first-order 0.5, doubled
    assert np.isinf(q.err[1])  # the divisor's error exceeds it: it may be 0
    exact = Tracked(np.array([3.0]), 0.0, u) / Tracked(np.array([2.0]), 0.0, u)
    assert exact.err[0] == pytest.approx(2 * u * 1.5)


def test_an_unbounded_operand_times_an_exact_zero_is_exactly_zero():
    u = 2.0**-24
    unbounded = Tracked(np.array([1.0, 1.0]), np.array([np.inf, np.inf]), u)
    p = unbounded * Tracked(np.array([0.0, 2.0]), 0.0, u)
    assert p.err[0] == 0.0 and np.isinf(p.err[1])
