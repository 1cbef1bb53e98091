r"""The tolerance policy: the verdict of one comparison, from the tracked reference's bound.

A framework's result $y$ passes against the reference value $\hat y$, element by element, when

.. math:: \lvert y - \hat y\rvert \le \mathrm{SAFETY}\cdot e + \mathrm{FLOOR}_d

(or, overflow, when $y = \pm\infty$ and the exact result may round to that infinity in the
dtype: $\hat y$ of the same sign with $\lvert\hat y\rvert + \mathrm{SAFETY}\cdot e \ge
\Omega_d$, the overflow threshold of round-to-nearest, :func:`rounds_to_infinity`), where $e$ is
the first-order rounding bound that :class:`~trainspec.conformance.tracked.Tracked` carried through the reference computation (with $u = u_d + u_{\text{float64}}$), ``SAFETY`` $= 2$
covers the second-order terms and evaluation orders the first-order rules do not see, and
``FLOOR`` is the dtype's flush level. The policy, every rule per operation and its reasons are
stated once, in ``docs/tolerance.md``. It never widens a bound to make a check pass.

:class:`Comparison` is one example's worst element against one variant; :func:`compare_trees`
compares a tree of arrays (the kinds' common case).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trainspec.conformance.tracked import Tracked, flush_level, largest_finite, unit_roundoff

__all__ = [
    "SAFETY",
    "Comparison",
    "Detectable",
    "compare",
    "compare_element",
    "compare_trees",
    "floor",
    "overflow_threshold",
    "rounds_to_infinity",
    "worse",
]

SAFETY = 2.0


@dataclass(frozen=True)
class Detectable:
    r"""The power of one statistical test, stated: the smallest deviation of ``quantity`` that the
    test detects at its false-alarm rate with probability at least ``power`` on one example of
    ``samples`` values (:mod:`trainspec.conformance.stats`). ``deviation`` is relative
    (``0.004``: the quantity off by $\pm 0.4\,\%$) unless ``relative`` is false (a Kolmogorov
    distance)."""

    quantity: str
    deviation: float
    samples: int
    power: float
    relative: bool = True

    def describe(self) -> str:
        """One line: ``keep probability within ±0.31% (n = 524288, power 0.9)``."""
        size = f"±{100 * self.deviation:.2g}%" if self.relative else f"{self.deviation:.2g}"
        return f"{self.quantity} within {size} (n = {self.samples}, power {self.power:g})"

    def to_json(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "deviation": self.deviation,
            "relative": self.relative,
            "samples": self.samples,
            "power": self.power,
            "text": self.describe(),
        }


@dataclass(frozen=True)
class Comparison:
    """The worst element of one example against one variant.

    ``detectable`` (statistical checks only): per test, the power of the example's test
    (:class:`Detectable`); the runner keeps, per test, the most sensitive example of a row.
    ``actual`` and ``expected`` (element-by-element checks) are the framework's and the
    reference's values at the worst element, ``index`` its position in the array ``where``, and
    ``input`` (where the kind states it) the input there; :meth:`explain` says it in words.
    """

    max_error: float
    tolerance: float
    ratio: float  # max over elements of error / tolerance; <= 1 passes
    where: str  # the name of the worst element (a parameter, an output)
    detectable: Mapping[str, Detectable] = field(default_factory=dict)
    actual: float | None = None
    expected: float | None = None
    index: tuple[int, ...] | None = None
    input: str = ""

    @property
    def passes(self) -> bool:
        return self.ratio <= 1.0

    @property
    def location(self) -> str:
        """``w[1, 2]``: the worst element's array and position (``w`` alone for a scalar)."""
        if not self.index:
            return self.where
        return f"{self.where}[{', '.join(str(i) for i in self.index)}]"

    def explain(self) -> str:
        r"""The worst element in words: ``at w[1]: the framework returned NaN where the reference
        is 0.31`` or ``at w[1]: the framework 0.3102 against the reference 0.31 (error 2e-4 =
        2e+03 x the tolerance 1e-07)``, then the input there when the kind states it."""
        if self.actual is None or self.expected is None:
            text = f"error {self.max_error:.3g} = {self.ratio:.3g} x the tolerance {self.tolerance:.3g}"
        else:
            a, e = self.actual, self.expected
            if not np.isfinite(a) or not np.isfinite(e):
                text = f"the framework returned {_num(a)} where the reference is {_num(e)}"
            else:
                digits = next((d + 1 for d in range(5, 17) if f"{a:.{d}g}" != f"{e:.{d}g}"), 17)
                text = (
                    f"the framework {_num(a, digits)} against the reference {_num(e, digits)} (error "
                    f"{self.max_error:.3g} = {self.ratio:.3g} x the tolerance {self.tolerance:.3g})"
                )
        where = self.location
        text = f"at {where}: {text}" if where else text
        return f"{text}; input there: {self.input}" if self.input else text

    def to_json(self) -> dict[str, Any]:
        """The comparison as plain JSON (non-finite values as ``'nan'``, ``'inf'``), with
        :meth:`explain`'s text."""
        out: dict[str, Any] = {
            "ratio": _json(self.ratio),
            "max_error": _json(self.max_error),
            "tolerance": _json(self.tolerance),
            "where": self.where,
        }
        if self.actual is not None:
            out["actual"] = _json(self.actual)
        if self.expected is not None:
            out["expected"] = _json(self.expected)
        if self.index is not None:
            out["index"] = list(self.index)
        if self.input:
            out["input"] = self.input
        out["text"] = self.explain()
        return out

    def with_detectable(self, detectable: Mapping[str, Detectable]) -> Comparison:
        """This comparison, carrying ``detectable`` as well."""
        return replace(self, detectable={**self.detectable, **detectable})


def _num(x: float, digits: int = 6) -> str:
    """A value in a sentence: ``NaN``, ``inf``, ``-inf`` named as such, else ``digits``
    significant digits (:meth:`Comparison.explain` shows as many as tell two values apart)."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _json(x: float) -> Any:
    return float(x) if np.isfinite(x) else repr(float(x))


def worse(a: Comparison | None, b: Comparison) -> Comparison:
    """The comparison of larger ratio, carrying per test the smaller detectable deviation of
    the two (a row is as sensitive as its most sensitive example)."""
    top = b if a is None or b.ratio > a.ratio else a
    if a is None or not (a.detectable or b.detectable):
        return top
    merged = dict(a.detectable)
    for name, d in b.detectable.items():
        if name not in merged or d.deviation < merged[name].deviation:
            merged[name] = d
    return replace(top, detectable=merged)


def floor(dtype: str) -> float:
    """The absolute part of the bound: the flush level (see "Underflow and flush-to-zero")."""
    return flush_level(dtype)


def overflow_threshold(dtype: str) -> float:
    r"""$\Omega_d = (2 - 2^{-p})\,2^{e_\max}$: the largest finite number plus half an ulp of it.

    Under round-to-nearest (IEEE 754-2019, section 4.3.1) an exact result of magnitude
    $\ge \Omega_d$ rounds to $\pm\infty$, a smaller one to a finite number: 65520 for float16,
    $(2 - 2^{-8})\,2^{127}$ for bfloat16; float64's lies beyond float64 and is $\infty$."""
    top = largest_finite(dtype)
    exponent = math.frexp(top)[1] - 1  # top = (2 - 2^(1-p)) 2^emax: frexp gives emax + 1
    with np.errstate(over="ignore"):
        return float(
            np.float64(top) + np.float64(unit_roundoff(dtype)) * np.float64(2.0) ** exponent
        )


def rounds_to_infinity(actual: np.ndarray, expected: Tracked, dtype: str) -> np.ndarray:
    r"""Where ``actual`` is $\pm\infty$ and the exact result may round to it in ``dtype``:
    $\hat y$ of the same sign and $\lvert\hat y\rvert + \mathrm{SAFETY}\cdot e \ge \Omega_d$
    (:func:`overflow_threshold`). The reference computes in float64, where these results are
    finite; the dtype's correctly rounded result is the infinity."""
    a = np.asarray(actual, dtype=np.float64)
    ref = expected.value
    with np.errstate(invalid="ignore", over="ignore"):
        reach = np.abs(ref) + SAFETY * expected.err >= overflow_threshold(dtype)
        out: np.ndarray = np.isinf(a) & ~np.isnan(ref) & (np.sign(a) == np.sign(ref)) & reach
    return out


def compare(actual: np.ndarray, expected: Tracked, dtype: str) -> tuple[float, float, float]:
    """Compare one array: ``(max |actual - expected|, tolerance at the worst element, worst ratio)``.

    The ratio is ``|actual - expected| / tolerance``; ``<= 1`` everywhere means within tolerance.
    A NaN where the reference is finite (or the reverse) gives an infinite ratio; NaN where the
    reference is NaN, and equal infinities, compare equal.
    """
    err, tol, ratio, _, _, _ = compare_element(actual, expected, dtype)
    return err, tol, ratio


def compare_element(
    actual: np.ndarray, expected: Tracked, dtype: str
) -> tuple[float, float, float, tuple[int, ...], float | None, float | None]:
    """:func:`compare`, then the worst element's index and the framework's and the reference's
    values there (``None`` for an empty array)."""
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != expected.value.shape:
        raise ValueError(
            f"actual: shape {a.shape} must equal the reference's {expected.value.shape}"
        )
    ref = expected.value
    tol = SAFETY * expected.err + floor(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - ref)
        same = (a == ref) | (np.isnan(a) & np.isnan(ref)) | rounds_to_infinity(a, expected, dtype)
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
        ratio = np.where(diff == 0, 0.0, diff / tol)
    if ratio.size == 0:
        return 0.0, float(floor(dtype)), 0.0, (), None, None
    i = int(np.argmax(ratio))
    index = tuple(int(k) for k in np.unravel_index(i, ratio.shape))
    return (
        float(diff.flat[i]),
        float(tol.flat[i]),
        float(ratio.flat[i]),
        index,
        float(a.flat[i]),
        float(ref.flat[i]),
    )


def compare_trees(
    actual: Mapping[str, np.ndarray], expected: Mapping[str, Tracked], dtype: str
) -> Comparison:
    """The worst element over every array of ``expected`` (``actual`` must have the same keys)."""
    if not isinstance(actual, Mapping):
        raise TypeError(
            f"the adapter returned {type(actual).__name__}, expected a mapping of "
            f"{sorted(expected)} to arrays"
        )
    if set(actual) != set(expected):
        raise ValueError(f"the adapter returned keys {sorted(actual)}, expected {sorted(expected)}")
    worst = Comparison(0.0, 0.0, 0.0, "")
    for k in expected:
        err, tol, ratio, index, a, e = compare_element(np.asarray(actual[k]), expected[k], dtype)
        if ratio > worst.ratio or not worst.where:
            worst = Comparison(err, tol, ratio, k, actual=a, expected=e, index=index)
    return worst
