"""The optimizer kind: drawn states satisfy the models' invariants exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_impls import heavy_ball

from trainspec import reference
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.optimizers import (
    _run,
    clip_to_root,
    draw_optimizer_case,
    evaluate_example,
    reference_optimizer_run,
)
from trainspec.conformance.tolerance import compare_trees
from trainspec.conformance.tracked import Tracked, round_to, unit_roundoff


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "float16"])
def test_clip_to_root_gives_squares_at_most_s_exactly(dtype):
    rng = np.random.default_rng(0)
    s = round_to(np.abs(rng.standard_normal(2000)) * 10.0 ** rng.integers(-3, 3, 2000), dtype)
    s[:5] = 0.0
    a = round_to(rng.standard_normal(2000) * 10.0 ** rng.integers(-3, 3, 2000), dtype)
    c = clip_to_root(a, s, dtype)
    np.testing.assert_array_equal(round_to(c, dtype), c)  # representable
    if dtype == "float64":  # exact comparison of a**2 with s: Fractions
        from fractions import Fraction

        assert all(Fraction(float(x)) ** 2 <= Fraction(float(y)) for x, y in zip(c, s, strict=True))
    else:  # a has at most 24 significant bits: a**2 is exact in float64
        assert np.all(c * c <= s)
    keep = np.abs(a) <= np.sqrt(s) * (1 - 8 * unit_roundoff(dtype))
    np.testing.assert_array_equal(c[keep], a[keep])  # already valid elements are not moved
    assert np.all(c[:5] == 0.0) and np.all(np.sign(c) * np.sign(a) >= 0)
    clipped = ~keep & (s > 0)
    assert np.all(s[clipped] - c[clipped] ** 2 <= 1e-1 * s[clipped])  # near the boundary


@settings(max_examples=30, deadline=None)
@given(st.data(), st.sampled_from(["float32", "float64"]))
def test_drawn_rmsprop_states_have_square_avg_at_least_grad_avg_squared(data, dtype):
    entry = reference.get("opt.rmsprop")
    case = get_kind("optimizers").draw(data, entry, dtype, "one_step")
    s, a = case.state.buffers["square_avg"], case.state.buffers["grad_avg"]
    for k in s:
        assert np.all(s[k] >= 0) and np.all(a[k] * a[k] <= s[k])
    traj = get_kind("optimizers").draw(data, entry, dtype, "trajectory")
    assert traj.state is None


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_entries_without_the_invariant_keep_their_drawn_state(data):
    entry = reference.get("opt.adam")
    assert getattr(entry.model, "square_dominates", ()) == ()
    case = get_kind("optimizers").draw(data, entry, "float32", "one_step")
    assert set(case.state.buffers) == {"m", "v", "v_max"}


@given(data=st.data())
def test_flattened_reference_equals_the_per_tensor_reference(data):
    """The speed-up for elementwise optimizers must not change a single number or bound."""
    entry = reference.get(
        data.draw(st.sampled_from(["opt.momentum", "opt.weight_decay", "opt.adam"]))
    )
    variant = data.draw(st.sampled_from(list(entry.variants())), label="variant")
    case = draw_optimizer_case(
        data, entry, "float32", data.draw(st.sampled_from(["one_step", "trajectory"]))
    )
    flat = reference_optimizer_run(entry.model, variant, case, "float32")
    per_tensor = _run(entry.model, variant, case, "float32")
    for k in case.params:
        np.testing.assert_array_equal(flat[k].value, per_tensor[k].value)
        np.testing.assert_array_equal(flat[k].err, per_tensor[k].err)


@given(data=st.data())
def test_evaluate_example_compares_every_requested_variant(data):
    entry = reference.get("opt.momentum")
    case = draw_optimizer_case(data, entry, "float64", "trajectory")
    from trainspec.conformance.adapter import Implementation

    impl = Implementation(
        "opt.momentum", "np", lambda c, d, dev: heavy_ball(c, d, dev), devices=("cpu",)
    )
    variants = list(entry.variants())
    result = evaluate_example(entry, impl, case, "float64", "cpu", variants)
    assert set(result) == set(variants)
    assert result[entry.variant(form="eta_outside")].passes


def test_compare_trees_names_the_worst_tensor_and_rejects_other_names():
    exp = {"a": Tracked(np.zeros(2), 1e-9, 0.0), "b": Tracked(np.zeros(2), 1e-9, 0.0)}
    c = compare_trees({"a": np.zeros(2), "b": np.array([0.0, 1.0])}, exp, "float32")
    assert c.where == "b" and not c.passes
    try:
        compare_trees({"a": np.zeros(2)}, exp, "float32")
    except ValueError as e:
        assert "expected ['a', 'b']" in str(e)
    else:
        raise AssertionError("a missing tensor must be an error")
