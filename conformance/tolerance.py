r"""The tolerance policy: every bound follows from the dtype's precision and the formula's conditioning.

How a comparison works
----------------------
1. The kit generates every input (parameters, gradients, state, hyperparameters, learning
   rates) *exactly representable* in the dtype under test, so rounding enters only inside the
   computation, as it does for a user of the framework. (Hyperparameters are representable in
   float32 too, because some frameworks keep them in a float32 variable whatever the parameters'
   dtype.)
2. The reference evaluates the formula in float64 on :class:`Tracked` arrays: each value carries
   a first-order bound on the error that rounding to unit roundoff $u$ at every operation can
   cause (running error analysis, Wilkinson 1963; Higham, *Accuracy and Stability of Numerical
   Algorithms*, 2002, §3.3). The rules per operation, with $e_x$ the bound carried by $x$:

   ================  ===========================================================================
   $a \pm b$         $e_a + e_b + u(\lvert a\rvert + \lvert b\rvert)$
   $a \cdot b$       $e_a\lvert b\rvert + \lvert a\rvert e_b + 2u\lvert ab\rvert$
   $a / b$           $e_a/\lvert b\rvert + \lvert a\rvert e_b / b^2 + 2u\lvert a/b\rvert$
   $\sqrt{a}$        $\min(e_a / (2\sqrt{a}),\ \sqrt{e_a}) + u\sqrt{a}$
   $a^2$             $2\lvert a\rvert e_a + e_a^2 + 2u a^2$
   $-a$, $\lvert a\rvert$, $\max$, $\min$   the operands' bound (no rounding; 1-Lipschitz)
   ================  ===========================================================================

   A sum counts the operands' magnitudes rather than the result's, so that the bound does not
   depend on the order in which a framework adds three or more terms. A product counts two
   roundings: its own, and that of a coefficient the framework may have computed from
   hyperparameters in the dtype (``1 - dampening``, ``1 + momentum``, ``lr * weight_decay``).
   The square root's $\sqrt{e_a}$ branch keeps the bound finite where $a$ is near zero.
3. The framework's result $y$ is compared with the reference value $\hat y$ element by element:

   .. math:: \lvert y - \hat y\rvert \le \mathrm{SAFETY}\cdot e + \mathrm{FLOOR}_d

   where $e$ is the tracked bound computed with $u = u_d + u_{\text{float64}}$ (the framework's
   rounding plus the reference's own), ``SAFETY`` $= 2$ covers the second-order terms and
   evaluation orders that the first-order rules do not see, and ``FLOOR`` is a few multiples of
   the dtype's smallest subnormal, for results that underflow.

What this does not do
---------------------
It never widens a bound to make a check pass. A framework that keeps a hyperparameter or a
state in a lower precision than the parameters is modelled by rounding that input (step 1), or
it shows up as a divergence with its counterexample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "SAFETY",
    "Tracked",
    "compare",
    "floor",
    "representable",
    "round_to",
    "unit_roundoff",
]

SAFETY = 2.0

_UNIT_ROUNDOFF = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "bfloat16": 2.0**-8,
    "float16": 2.0**-11,
}
_SMALLEST_SUBNORMAL = {
    "float64": 2.0**-1074,
    "float32": 2.0**-149,
    "bfloat16": 2.0**-133,
    "float16": 2.0**-24,
}


def unit_roundoff(dtype: str) -> float:
    """$u = 2^{-p}$ for a dtype with a $p$-bit significand (round to nearest)."""
    try:
        return _UNIT_ROUNDOFF[dtype]
    except KeyError:
        raise ValueError(f"dtype={dtype!r}: must be one of {sorted(_UNIT_ROUNDOFF)}") from None


def floor(dtype: str) -> float:
    """The absolute part of the bound: results within a few subnormals of zero are equal."""
    unit_roundoff(dtype)
    return 16 * _SMALLEST_SUBNORMAL[dtype]


def round_to(x: Any, dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` (nearest) and return them as float64 again."""
    a = np.asarray(x, dtype=np.float64)
    if dtype == "float64":
        return a.copy()
    if dtype == "float32":
        return a.astype(np.float32).astype(np.float64)
    if dtype == "float16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        # round to nearest even on the upper 16 bits of the float32 pattern
        f = a.astype(np.float32)
        bits = f.view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        out = rounded.astype(np.uint32).view(np.float32).astype(np.float64)
        return np.where(np.isfinite(f), out, f.astype(np.float64))
    raise ValueError(f"dtype={dtype!r}: must be one of {sorted(_UNIT_ROUNDOFF)}")


def representable(x: Any, dtype: str) -> bool:
    a = np.asarray(x, dtype=np.float64)
    return bool(np.array_equal(round_to(a, dtype), a, equal_nan=True))


class Tracked:
    """A float64 value with a first-order bound on its rounding error (see the module docstring).

    Works with Python operators and the NumPy ufuncs that the reference formulas use; any other
    ufunc raises ``TypeError`` naming it, so that a new formula cannot silently escape the policy.
    """

    __slots__ = ("err", "u", "value")
    __array_priority__ = 100.0

    def __init__(self, value: Any, err: Any = 0.0, u: float = 0.0) -> None:
        self.value = np.asarray(value, dtype=np.float64)
        e = np.asarray(err, dtype=np.float64)
        self.err = e if e.shape == self.value.shape else np.broadcast_to(e, self.value.shape).copy()
        self.u = float(u)

    # array-like surface used by the reference's argument checks
    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    def __repr__(self) -> str:
        return f"Tracked(value={self.value!r}, err={self.err!r})"

    # --- arithmetic -------------------------------------------------------------------------
    @classmethod
    def _make(cls, value: np.ndarray, err: np.ndarray, u: float) -> Tracked:
        """Internal fast constructor: ``value`` and ``err`` are float64 arrays of one shape."""
        t = object.__new__(cls)
        t.value, t.err, t.u = value, err, u
        return t

    def _lift(self, x: Any) -> Tracked:
        if isinstance(x, Tracked):
            return x
        return Tracked(x, 0.0, self.u)

    def __add__(self, o: Any) -> Tracked:
        return _add(self, self._lift(o), 1.0)

    def __radd__(self, o: Any) -> Tracked:
        return _add(self._lift(o), self, 1.0)

    def __sub__(self, o: Any) -> Tracked:
        return _add(self, self._lift(o), -1.0)

    def __rsub__(self, o: Any) -> Tracked:
        return _add(self._lift(o), self, -1.0)

    def __mul__(self, o: Any) -> Tracked:
        return _mul(self, self._lift(o))

    def __rmul__(self, o: Any) -> Tracked:
        return _mul(self._lift(o), self)

    def __truediv__(self, o: Any) -> Tracked:
        return _div(self, self._lift(o))

    def __rtruediv__(self, o: Any) -> Tracked:
        return _div(self._lift(o), self)

    def __neg__(self) -> Tracked:
        return Tracked._make(-self.value, self.err, self.u)

    def __pos__(self) -> Tracked:
        return self

    def __abs__(self) -> Tracked:
        return Tracked(np.abs(self.value), self.err, self.u)

    def __pow__(self, k: Any) -> Tracked:
        if isinstance(k, Tracked):
            raise TypeError("Tracked supports x**k for a plain number k only")
        if k == 2:
            return _square(self)
        return _power(self, float(k))

    def __rpow__(self, base: Any) -> Tracked:
        return _exp_base(float(base), self)

    # scalars (hyperparameters) are tracked too; comparisons and float() read the value
    def __float__(self) -> float:
        return float(self.value)

    def __lt__(self, o: Any) -> Any:
        return self.value < (o.value if isinstance(o, Tracked) else o)

    def __le__(self, o: Any) -> Any:
        return self.value <= (o.value if isinstance(o, Tracked) else o)

    def __gt__(self, o: Any) -> Any:
        return self.value > (o.value if isinstance(o, Tracked) else o)

    def __ge__(self, o: Any) -> Any:
        return self.value >= (o.value if isinstance(o, Tracked) else o)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self.value == (o.value if isinstance(o, Tracked) else o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self.value != (o.value if isinstance(o, Tracked) else o)

    __hash__ = None  # type: ignore[assignment]

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            raise TypeError(
                f"Tracked does not support {ufunc.__name__}.{method} with {sorted(kwargs)}"
            )
        handler = _UFUNCS.get(ufunc.__name__)
        if handler is None:
            raise TypeError(
                f"the tolerance policy has no rounding rule for numpy.{ufunc.__name__}; add one to "
                "trainspec.conformance.tolerance before using it in a reference formula"
            )
        u = next(x.u for x in inputs if isinstance(x, Tracked))
        args = [x if isinstance(x, Tracked) else Tracked(x, 0.0, u) for x in inputs]
        return handler(*args)


def _add(a: Tracked, b: Tracked, sign: float) -> Tracked:
    u = max(a.u, b.u)
    v = a.value + b.value if sign > 0 else a.value - b.value
    e = np.abs(a.value) + np.abs(b.value)
    e *= u
    e += a.err
    e += b.err
    return _result(v, e, u)


def _result(v: Any, e: Any, u: float) -> Tracked:
    v = np.asarray(v)
    e = np.asarray(e)
    return Tracked._make(v, e if e.shape == v.shape else np.broadcast_to(e, v.shape), u)


def _mul(a: Tracked, b: Tracked) -> Tracked:
    u = max(a.u, b.u)
    v = a.value * b.value
    e = np.abs(v) * (2 * u) + a.err * np.abs(b.value) + np.abs(a.value) * b.err
    return _result(v, e, u)


def _div(a: Tracked, b: Tracked) -> Tracked:
    u = max(a.u, b.u)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = a.value / b.value
        ab = np.abs(b.value)
        e = a.err / ab + np.abs(a.value) * b.err / (ab * ab) + 2 * u * np.abs(v)
    return Tracked(v, e, u)


def _sqrt(a: Tracked) -> Tracked:
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.sqrt(a.value)
        lin = np.where(v > 0, a.err / (2 * v), np.inf)
    return Tracked(v, np.minimum(lin, np.sqrt(a.err)) + a.u * np.abs(v), a.u)


def _square(a: Tracked) -> Tracked:
    v = a.value * a.value
    return Tracked(v, 2 * np.abs(a.value) * a.err + a.err * a.err + 2 * a.u * v, a.u)


def _power(a: Tracked, k: float) -> Tracked:
    """$a^k$ for a plain exponent: $|k a^{k-1}| e_a + 2u|a^k|$ (``pow`` rounds once or twice)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = np.power(a.value, k)
        d = np.abs(k * np.power(a.value, k - 1)) if k != 0 else np.zeros_like(v)
    return _result(v, d * a.err + 2 * a.u * np.abs(v), a.u)


def _exp_base(base: float, x: Tracked) -> Tracked:
    r"""$b^x$ for a plain base: $|b^x \ln b|\, e_x + 2u|b^x|$."""
    v = np.power(base, x.value)
    return _result(v, np.abs(v * np.log(base)) * x.err + 2 * x.u * np.abs(v), x.u)


def _lipschitz(fn: Callable[..., np.ndarray]) -> Callable[..., Tracked]:
    def handler(*args: Tracked) -> Tracked:
        return Tracked(
            fn(*(x.value for x in args)), np.maximum.reduce([x.err for x in args]), args[0].u
        )

    return handler


def _predicate(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda *args: fn(*(x.value for x in args))


_UFUNCS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: _add(a, b, 1.0),
    "subtract": lambda a, b: _add(a, b, -1.0),
    "multiply": _mul,
    "divide": _div,
    "true_divide": _div,
    "sqrt": _sqrt,
    "square": _square,
    "negative": lambda a: -a,
    "positive": lambda a: a,
    "absolute": abs,
    "maximum": _lipschitz(np.maximum),
    "minimum": _lipschitz(np.minimum),
    "isfinite": _predicate(np.isfinite),
    "isnan": _predicate(np.isnan),
    "greater": _predicate(np.greater),
    "less": _predicate(np.less),
    "greater_equal": _predicate(np.greater_equal),
    "less_equal": _predicate(np.less_equal),
}


def track_scalar(x: float, dtype: str) -> Tracked:
    """A hyperparameter as an exact tracked scalar: coefficients computed from it are bounded too
    (``1 - beta**t`` near ``beta**t = 1`` is badly conditioned, and frameworks may compute it in the
    dtype)."""
    return Tracked(float(x), 0.0, unit_roundoff(dtype) + unit_roundoff("float64"))


def track_tree(tree: Mapping[str, Any], dtype: str) -> dict[str, Tracked]:
    """Wrap exact inputs (error 0) for evaluation under ``dtype``'s unit roundoff."""
    u = unit_roundoff(dtype) + unit_roundoff("float64")
    return {k: Tracked(v, 0.0, u) for k, v in tree.items()}


def compare(actual: np.ndarray, expected: Tracked, dtype: str) -> tuple[float, float, float]:
    """Compare one array: ``(max |actual - expected|, tolerance at the worst element, worst ratio)``.

    The ratio is ``|actual - expected| / tolerance``; ``<= 1`` everywhere means within tolerance.
    A NaN where the reference is finite (or the reverse) gives an infinite ratio; NaN where the
    reference is NaN, and equal infinities, compare equal.
    """
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != expected.value.shape:
        raise ValueError(
            f"actual: shape {a.shape} must equal the reference's {expected.value.shape}"
        )
    ref = expected.value
    tol = SAFETY * expected.err + floor(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - ref)
        same = (a == ref) | (np.isnan(a) & np.isnan(ref))
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
        ratio = np.where(diff == 0, 0.0, diff / tol)
    if ratio.size == 0:
        return 0.0, float(floor(dtype)), 0.0
    i = int(np.argmax(ratio))
    return float(diff.flat[i]), float(tol.flat[i]), float(ratio.flat[i])
