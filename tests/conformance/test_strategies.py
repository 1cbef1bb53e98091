import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.kinds.optimizers import draw_optimizer_case
from trainspec.conformance.strategies import (
    DISTRIBUTIONS,
    MAX_ELEMENTS,
    MAX_TENSORS,
    draw_learning_rates,
    draw_param_tree,
    hyperparameter_st,
    make_array,
    shape_st,
)
from trainspec.conformance.tracked import representable


@given(shape=shape_st())
def test_shapes_are_scalar_to_4d_within_the_budget(shape):
    assert 0 <= len(shape) <= 4 and math.prod(shape) <= MAX_ELEMENTS and all(s >= 1 for s in shape)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@given(data=st.data())
def test_param_trees_are_representable_and_finite(dtype, data):
    tree = draw_param_tree(data, dtype)
    assert 1 <= len(tree) <= MAX_TENSORS
    assert sum(v.size for v in tree.values()) <= MAX_ELEMENTS
    for v in tree.values():
        assert v.dtype == np.float64 and representable(v, dtype) and np.all(np.isfinite(v))


def test_make_array_is_deterministic_and_covers_hard_regions():
    a = make_array((50,), "float32", "with_zeros", 0, 7)
    np.testing.assert_array_equal(a, make_array((50,), "float32", "with_zeros", 0, 7))
    assert np.any(a == 0)
    spread = make_array((1000,), "float64", "log_spread", 0, 1)
    assert np.max(np.abs(spread)) / np.min(np.abs(spread)) > 1e4
    with pytest.raises(ValueError, match="dist='cauchy'"):
        make_array((2,), "float32", "cauchy", 0, 0)


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
@given(data=st.data())
def test_hyperparameters_are_valid_and_float32_representable(entry, data):
    for hp in entry.hyperparameters:
        v = data.draw(hyperparameter_st(hp), label=hp.name)
        assert float(np.float32(v)) == v
        if hp.low is not None:
            assert v > hp.low or (hp.low_closed and v == hp.low)
        if hp.high is not None:
            assert v < hp.high or (hp.high_closed and v == hp.high)


@given(data=st.data(), steps=st.integers(1, 12))
def test_learning_rate_sequences_have_one_value_per_step(data, steps):
    lrs = draw_learning_rates(data, reference.get("opt.momentum"), steps)
    assert len(lrs) == steps and all(v > 0 and float(np.float32(v)) == v for v in lrs)


@pytest.mark.parametrize("check", ["one_step", "trajectory"])
@given(data=st.data())
def test_optimizer_cases_are_consistent(check, data):
    entry = reference.get("opt.weight_decay")
    case = draw_optimizer_case(data, entry, "float32", check)
    assert len(case.grads) == len(case.learning_rates) >= 1
    for g in case.grads:
        assert {k: v.shape for k, v in g.items()} == {k: v.shape for k, v in case.params.items()}
    if check == "one_step":
        assert case.steps == 1 and case.state is not None and case.state.count >= 1
        assert set(case.state.buffers) == set(entry.model.buffers)
    else:
        assert case.state is None and case.steps >= 2
    assert set(case.hyperparameters) == {"momentum", "weight_decay"}


def test_unknown_check_is_named():
    with pytest.raises(ValueError, match="check='two_step'"):
        draw_optimizer_case(None, reference.get("opt.gd"), "float32", "two_step")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@given(data=st.data())
def test_low_precision_hyperparameters_are_representable_in_the_dtype(dtype, data):
    entry = reference.get("opt.adam")
    case = draw_optimizer_case(data, entry, dtype, "trajectory")
    for v in [*case.hyperparameters.values(), *case.learning_rates]:
        assert representable(v, dtype), (v, dtype)
    assert 0 <= case.hyperparameters["beta2"] < 1 and case.hyperparameters["eps"] > 0


def test_max_finite_is_each_formats_largest_value():
    from trainspec.conformance.strategies import max_finite

    for name in ("float16", "float32", "float64"):
        assert max_finite(name) == float(np.finfo(name).max)
    assert max_finite("bfloat16") == float.fromhex("0x1.fep127")
    with pytest.raises(ValueError, match="dtype='int8'"):
        max_finite("int8")


def test_the_square_safe_bound_keeps_summed_squares_finite_and_is_a_power_of_two():
    from trainspec.conformance.strategies import SQUARES_SUMMED, max_finite, square_safe_bound

    for name in ("float16", "bfloat16", "float32", "float64"):
        b = square_safe_bound(name)
        assert math.log2(b).is_integer()
        # S B^2 <= M < S (2B)^2, in log2 (float64's products would overflow)
        s, m = math.log2(SQUARES_SUMMED), math.log2(max_finite(name))
        assert s + 2 * math.log2(b) <= m < s + 2 * (math.log2(b) + 1)
    assert square_safe_bound("float16") == 32.0
    # the largest draws of float16 stay within it, and their squares (in float16) are finite
    for dist in DISTRIBUTIONS:
        x = make_array((64,), "float16", dist, 3, 7)
        assert np.max(np.abs(x)) <= 32.0
        squares = np.square(x.astype(np.float16))
        assert np.isfinite(squares).all()
        assert np.isfinite(np.sum(squares[:SQUARES_SUMMED], dtype=np.float16))


def test_the_square_safe_floor_keeps_squares_normal_and_distributions_without_zeros_keep_none():
    from trainspec.conformance.strategies import square_safe_floor

    assert square_safe_floor("float16") == 2.0**-7
    for name in ("float16", "float32", "float64"):
        low = square_safe_floor(name)
        assert low * low >= float(np.finfo(name).tiny) > (low / 2) ** 2
    x = make_array((4096,), "float16", "log_spread", -2, 3)
    nonzero = np.abs(x[x != 0])
    assert nonzero.size and nonzero.min() >= 2.0**-7
    assert np.all(np.square(nonzero.astype(np.float16)) >= np.finfo(np.float16).tiny)
    for dist in ("normal", "uniform", "log_spread", "constant"):  # no zeros drawn, none made
        assert np.all(make_array((4096,), "float16", dist, -2, 5) != 0), dist
    assert np.any(make_array((4096,), "float16", "with_zeros", -2, 5) == 0)
