"""The optimizer kind: drawn states satisfy the models' invariants exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.optimizer import clip_to_root
from trainspec.conformance.tolerance import round_to, unit_roundoff


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
    case = get_kind("optimizer").draw(data, entry, dtype, "one_step")
    s, a = case.state.buffers["square_avg"], case.state.buffers["grad_avg"]
    for k in s:
        assert np.all(s[k] >= 0) and np.all(a[k] * a[k] <= s[k])
    traj = get_kind("optimizer").draw(data, entry, dtype, "trajectory")
    assert traj.state is None


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_entries_without_the_invariant_keep_their_drawn_state(data):
    entry = reference.get("opt.adam")
    assert getattr(entry.model, "square_dominates", ()) == ()
    case = get_kind("optimizer").draw(data, entry, "float32", "one_step")
    assert set(case.state.buffers) == {"m", "v", "v_max"}
