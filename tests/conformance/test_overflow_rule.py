"""The overflow rule of the tolerance policy: an infinity matches an exact result that rounds to it."""

import numpy as np
import pytest

from trainspec.conformance.tolerance import compare, overflow_threshold, rounds_to_infinity
from trainspec.conformance.tracked import Tracked, largest_finite


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_the_threshold_is_where_round_to_nearest_overflows(dtype):
    omega = overflow_threshold(dtype)
    top = largest_finite(dtype)
    assert top < omega < 2 * top
    if dtype in ("float16", "float32"):  # NumPy rounds these itself
        np_dtype = np.dtype(dtype).type
        with np.errstate(over="ignore"):
            assert np.isinf(np_dtype(omega))
        assert np_dtype(np.nextafter(omega, 0.0)) == np_dtype(top)
    assert overflow_threshold("float16") == 65520.0
    assert overflow_threshold("float64") == np.inf


def test_an_infinity_matches_only_an_exact_result_that_rounds_to_it():
    # exact 1e6 and -70000 overflow float16; 65519 rounds to 65504; NaN never matches
    ref = Tracked(np.array([1e6, -7e4, 65519.0, 1e6, np.nan]), np.zeros(5), 0.0)
    got = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf])
    assert rounds_to_infinity(got, ref, "float16").tolist() == [True, True, False, False, False]
    assert compare(got[:2], Tracked(ref.value[:2], 0.0), "float16")[2] == 0.0
    assert compare(got[2:3], Tracked(ref.value[2:3], 0.0), "float16")[2] == np.inf
    # a finite result where the exact one overflows is still wrong
    assert compare(np.array([65504.0]), Tracked(np.array([1e6]), 0.0), "float16")[2] > 1
    # in float32 the same values are ordinary numbers: an infinity is a divergence
    assert compare(got[:1], Tracked(ref.value[:1], 0.0), "float32")[2] == np.inf


def test_the_bound_decides_a_result_near_the_threshold():
    # 65510 with a bound of 10: the exact value may lie at or beyond 65520, so both roundings pass
    ref = Tracked(np.array([65510.0]), np.array([10.0]), 0.0)
    assert compare(np.array([np.inf]), ref, "float16")[2] == 0.0
    assert compare(np.array([65504.0]), ref, "float16")[2] <= 1.0
    tight = Tracked(np.array([65510.0]), np.array([1.0]), 0.0)
    assert compare(np.array([np.inf]), tight, "float16")[2] == np.inf
