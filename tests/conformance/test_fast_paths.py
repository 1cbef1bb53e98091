"""The kit's fast paths give the same numbers as the straightforward ones.

:data:`trainspec.conformance.tracked.FAST` switches the scalar fast paths of the tracked
arithmetic (Python floats for 0-d operands) and the flush shortcut; with it off, every operation
runs its array rule. Both must give the same values and bounds, bit for bit, on edge values
(zeros of both signs, subnormals, huge values, infinities, NaN) and on drawn examples of every
kind, so that no verdict, variant or tolerance depends on which path ran.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from test_honest_numpy import IMPLEMENTATIONS, _rounded

from trainspec import reference
from trainspec.conformance import tracked
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.optimizers import reference_optimizer_run
from trainspec.conformance.profiles import hypothesis_settings
from trainspec.conformance.tracked import Tracked, unit_roundoff

EDGE_VALUES = (0.0, -0.0, 5e-324, -1e-310, 1e-30, 1.0, -2.5, 3e38, -1e300, np.inf, -np.inf, np.nan)
EDGE_ERRORS = (0.0, 1e-320, 1e-12, 0.5, 10.0, np.inf, np.nan)
UNITS = (
    unit_roundoff("float16") + unit_roundoff("float64"),
    unit_roundoff("float32") + unit_roundoff("float64"),
    unit_roundoff("float64"),
    0.0,
)


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN where NaN, and the same sign of every zero (a NaN's sign bit means
    nothing to a comparison)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (
        a.shape == b.shape
        and bool(np.array_equal(a, b, equal_nan=True))
        and bool(np.array_equal(np.signbit(a) & ~np.isnan(a), np.signbit(b) & ~np.isnan(b)))
    )


def _both(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """``fn()`` with the fast paths, then without."""
    fast = fn()
    tracked.FAST = False
    try:
        slow = fn()
    finally:
        tracked.FAST = True
    return fast, slow


OPS: dict[str, Callable[[Tracked, Tracked], Tracked]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "rsub literal": lambda a, b: 1 - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sqrt": lambda a, b: np.sqrt(a),
    "square": lambda a, b: a**2,
}


def _operands() -> Iterator[tuple[float, float, float, float, float]]:
    pairs = list(itertools.product(EDGE_VALUES, EDGE_ERRORS))
    for u in UNITS:
        for (x, ex), (y, ey) in itertools.product(pairs, pairs[::5]):
            yield u, x, ex, y, ey


@pytest.mark.parametrize("op", sorted(OPS))
def test_scalar_fast_paths_equal_the_array_rules_on_edge_values(op):
    fn = OPS[op]
    checked = 0
    with np.errstate(all="ignore"):
        for u, x, ex, y, ey in _operands():
            a, b = Tracked(x, ex, u), Tracked(y, ey, u)
            fast, slow = _both(lambda a=a, b=b: fn(a, b))
            assert _same(fast.value, slow.value), (op, u, x, ex, y, ey)
            assert _same(fast.err, slow.err), (op, u, x, ex, y, ey, fast.err, slow.err)
            checked += 1
    assert checked > 1000


def test_the_flush_shortcut_equals_the_array_rule():
    rng = np.random.default_rng(0)
    u = UNITS[1]
    for scale in (1e-40, 1e-38, 1.0):
        a = Tracked(rng.standard_normal(64) * scale, np.abs(rng.standard_normal(64)) * 1e-45, u)
        b = Tracked(rng.standard_normal(64) * scale, 0.0, u)
        for fn in OPS.values():
            with np.errstate(all="ignore"):
                fast, slow = _both(lambda fn=fn, a=a, b=b: fn(a, b))
            assert _same(fast.value, slow.value) and _same(fast.err, slow.err)


def _cases(spec_id: str, dtype: str, check: str, n: int) -> list[Any]:
    entry = reference.get(spec_id)
    draw = get_kind(entry.kind).draw
    assert draw is not None
    out: list[Any] = []

    @seed(0)
    @settings(hypothesis_settings("ci"), max_examples=n)
    @given(st.data())
    def collect(data: Any) -> None:
        out.append(draw(data, entry, dtype, check))

    collect()
    return out


@pytest.mark.parametrize("spec_id", ["opt.adam", "opt.rmsprop", "opt.nadam", "opt.adadelta"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_every_optimizer_variant_is_bit_identical_on_drawn_cases(spec_id, dtype):
    entry = reference.get(spec_id)
    variants = list(entry.variants())
    for check in get_kind(entry.kind).checks:
        for case in _cases(spec_id, dtype, check, 6):
            for v in variants:
                with np.errstate(all="ignore"):
                    fast, slow = _both(
                        lambda v=v, case=case: reference_optimizer_run(entry.model, v, case, dtype)
                    )
                for k in fast:
                    assert _same(fast[k].value, slow[k].value), (spec_id, v.name, k)
                    assert _same(fast[k].err, slow[k].err), (spec_id, v.name, k)


def _comparisons(per_variant: Mapping[Any, Any]) -> dict[str, tuple[str, str, str, str]]:
    """Per variant, ``(max_error, tolerance, ratio, where)`` exactly (``repr``: NaN equals NaN)."""
    return {
        v.name: (repr(c.max_error), repr(c.tolerance), repr(c.ratio), c.where)
        for v, c in per_variant.items()
    }


@pytest.mark.parametrize(
    "spec_id, run",
    [(s, r) for kind, s, r in IMPLEMENTATIONS if kind not in ("dropout", "init")],
    ids=[s for kind, s, _ in IMPLEMENTATIONS if kind not in ("dropout", "init")],
)
def test_every_kind_compares_identically_on_drawn_cases(spec_id, run):
    """The kinds' evaluate (the honest NumPy implementation, every variant): the same
    ``(max_error, tolerance, ratio, where)`` with and without the fast paths."""
    entry = reference.get(spec_id)
    kind = get_kind(entry.kind)
    assert kind.evaluate is not None
    impl = Implementation(
        spec_id,
        "honest numpy",
        lambda c, d, dev: _rounded(run(c, d, dev), d),
        ("float32",),
        ("cpu",),
        "",
        {},
    )
    variants = list(entry.variants())
    for check in kind.checks:
        for case in _cases(spec_id, "float32", check, 5):
            fast, slow = _both(
                lambda case=case: _comparisons(
                    kind.evaluate(entry, impl, case, "float32", "cpu", variants)
                )
            )
            assert fast == slow, (spec_id, check)
