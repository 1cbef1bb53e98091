r"""Tracked arithmetic: float64 values that carry a first-order bound on their rounding error.

The reference evaluates every formula on :class:`Tracked` arrays; each NumPy operation applies one
rule of running error analysis (Wilkinson 1963; Higham, *Accuracy and Stability of Numerical
Algorithms*, SIAM, 2002, §3.3), so that the bound follows the formula's conditioning. The rules
per operation, the flush-to-zero level and why a comparison adds ``SAFETY`` are stated once, in
``docs/tolerance.md``; :mod:`trainspec.conformance.tolerance` turns the bound into the verdict.

This module also holds the facts of each dtype the arithmetic needs: its unit roundoff
(:func:`unit_roundoff`), its flush level (:func:`flush_level`) and rounding to it
(:func:`round_to`, :func:`representable`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "ELEMENTARY_ULPS",
    "Tracked",
    "flush_level",
    "representable",
    "round_to",
    "track_scalar",
    "track_tree",
    "unit_roundoff",
]

#: Accuracy, in units of $u$ of the result, assumed of a framework's elementary functions
#: ($\exp$, $\log$, $\tanh$, $\operatorname{expm1}$, $\operatorname{log1p}$). The CUDA math
#: library documents at most 2 ulp for ``expf``, ``tanhf``, ``expm1f`` and 1 ulp for ``logf``,
#: ``log1pf``; glibc, SLEEF and Eigen's vectorised kernels stay within 1-3 ulp over the range.
#: One ulp is $2u$, so 4 ulp is $8u$. A framework beyond that is a finding, not a rounding.
ELEMENTARY_ULPS = 4.0
_ELEMENTARY_U = 2.0 * ELEMENTARY_ULPS

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


_LARGEST_FINITE = {
    "float64": float(np.finfo(np.float64).max),
    "float32": float(np.finfo(np.float32).max),
    "bfloat16": (2.0 - 2.0**-7) * 2.0**127,
    "float16": 65504.0,
}


def largest_finite(dtype: str) -> float:
    """The dtype's largest finite number: an exact result beyond it overflows."""
    unit_roundoff(dtype)
    return _LARGEST_FINITE[dtype]


_SMALLEST_NORMAL = {
    "float16": 2.0**-14,
    "float64": 2.0**-1022,
    "float32": 2.0**-126,
    "bfloat16": 2.0**-126,
}


def flush_level(dtype: str) -> float:
    """$t_d$: the absolute error of one operation whose result may underflow or be flushed."""
    unit_roundoff(dtype)
    return 16 * _SMALLEST_SUBNORMAL[dtype] if dtype == "float16" else _SMALLEST_NORMAL[dtype]


def smallest_normal(dtype: str) -> float:
    """The dtype's smallest positive normal number."""
    unit_roundoff(dtype)
    return _SMALLEST_NORMAL[dtype]


# the flush level of the dtype whose unit roundoff a Tracked value carries (u = u_d + u_float64)
_TINY_BY_U = {_UNIT_ROUNDOFF[d] + _UNIT_ROUNDOFF["float64"]: flush_level(d) for d in _UNIT_ROUNDOFF}


def _tiny(u: float) -> float:
    return _TINY_BY_U.get(u, 0.0)


def _flush(v: Any, e: Any, u: float) -> Any:
    """``e`` plus the flush level where the exact result may lie below the smallest normal number
    (an exact zero, with no error, stays exact: no operation flushes a true zero)."""
    t = _tiny(u)
    if t == 0.0:
        return e
    with np.errstate(invalid="ignore"):
        near = np.abs(v) - e < t
        if FAST and not near.any():  # nothing near the flush level: e + 0 everywhere
            return e + 0.0
        near &= ~((v == 0) & (e == 0))
    return e + np.where(near, t, 0.0)


#: the scalar fast paths below (0-d operands in Python floats): the same IEEE operations in the
#: same order as the array rules, so the same bits; ``False`` runs the array rules only (the
#: tests compare the two)
FAST = True


def _scalars(*ts: Tracked) -> bool:
    """Whether every operand is 0-d (a hyperparameter, a schedule's value): the fast path."""
    return FAST and all(t.value.ndim == 0 and t.err.ndim == 0 for t in ts)


def _flush_scalar(v: float, e: float, u: float) -> float:
    """:func:`_flush` of one element, in Python floats (no exception: ``-`` and ``<`` of floats
    never raise)."""
    t = _tiny(u)
    if t == 0.0:
        return e
    near = abs(v) - e < t and not (v == 0 and e == 0)
    return e + (t if near else 0.0)


def _scalar(v: float, e: float, u: float) -> Tracked:
    return Tracked._make(np.asarray(v, dtype=np.float64), np.asarray(e, dtype=np.float64), u)


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

    @property
    def size(self) -> int:
        return int(self.value.size)

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        return f"Tracked(value={self.value!r}, err={self.err!r})"

    # --- selections and reshapes (exact) ----------------------------------------------------
    def __getitem__(self, key: Any) -> Tracked:
        return Tracked._make(np.asarray(self.value[key]), np.asarray(self.err[key]), self.u)

    def reshape(self, *shape: Any) -> Tracked:
        return Tracked._make(self.value.reshape(*shape), self.err.reshape(*shape), self.u)

    def transpose(self, *axes: Any) -> Tracked:
        return Tracked._make(self.value.transpose(*axes), self.err.transpose(*axes), self.u)

    @property
    def T(self) -> Tracked:
        return self.transpose()

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tracked:
        return _sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tracked:
        return _mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tracked:
        return _select_reduce(self, np.argmax, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tracked:
        return _select_reduce(self, np.argmin, axis, keepdims)

    def either(self, *others: Any) -> Tracked:
        """The same quantity in other evaluation orders that frameworks use: this value, with a
        bound that covers each order (``e = max_k (e_k + |v_k - v|)``).

        The reference calls it through :func:`trainspec.reference.base.either_order`, so that a
        formula such as the moving average $\beta m + (1-\beta) g$ (one order) and
        $m + (1-\beta)(g - m)$ (Keras, ``torch.lerp``) is bounded for both.
        """
        e = self.err.copy()
        for o in others:
            t = self._lift(o)
            with np.errstate(invalid="ignore"):
                e = np.maximum(e, t.err + np.abs(t.value - self.value))
        return _result(self.value, e, self.u)

    def __matmul__(self, o: Any) -> Tracked:
        return _matmul(self, self._lift(o))

    def __rmatmul__(self, o: Any) -> Tracked:
        return _matmul(self._lift(o), self)

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
        if type(x) is float or type(x) is int:  # a literal (1 - beta): exact, 0-d
            return Tracked._make(np.asarray(x, dtype=np.float64), np.asarray(0.0), self.u)
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

    def __eq__(self, o: Any) -> Any:
        return self.value == (o.value if isinstance(o, Tracked) else o)

    def __ne__(self, o: Any) -> Any:
        return self.value != (o.value if isinstance(o, Tracked) else o)

    __hash__ = None  # type: ignore[assignment]

    def __array_function__(
        self, func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        handler = _FUNCTIONS.get(func.__name__)
        if handler is None:
            raise TypeError(
                f"the tolerance policy has no rule for numpy.{func.__name__}; add one to "
                "trainspec.conformance.tolerance before using it in a reference formula"
            )
        return handler(*args, **kwargs)

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
    if _scalars(a, b):
        x, y = float(a.value), float(b.value)
        sv = x + y if sign > 0 else x - y
        se = (abs(x) + abs(y)) * u + float(a.err) + float(b.err)
        return _scalar(sv, _flush_scalar(sv, se, u), u)
    v = a.value + b.value if sign > 0 else a.value - b.value
    e = np.abs(a.value) + np.abs(b.value)
    e *= u
    e += a.err
    e += b.err
    return _result(v, _flush(v, e, u), u)


def _result(v: Any, e: Any, u: float) -> Tracked:
    v = np.asarray(v)
    e = np.asarray(e)
    return Tracked._make(v, e if e.shape == v.shape else np.broadcast_to(e, v.shape), u)


def _mul(a: Tracked, b: Tracked) -> Tracked:
    u = max(a.u, b.u)
    if _scalars(a, b):
        x, y, ea, eb = float(a.value), float(b.value), float(a.err), float(b.err)
        sv = x * y
        se = abs(sv) * (2 * u) + ea * abs(y) + abs(x) * eb
        if se != se:  # NaN: an unbounded operand times an exact zero (as below)
            se = 0.0
        if ea and eb:
            se = se + (ea * eb if ea > 0 and eb > 0 else 0.0)
        return _scalar(sv, _flush_scalar(sv, se, u), u)
    v = a.value * b.value
    with np.errstate(invalid="ignore"):
        e = np.abs(v) * (2 * u) + a.err * np.abs(b.value) + np.abs(a.value) * b.err
    if np.isnan(e).any():  # an unbounded operand times an exact zero: the product is exactly 0
        e = np.nan_to_num(e, nan=0.0, posinf=np.inf)
    if (a.err.any() if a.err.ndim else a.err) and (b.err.any() if b.err.ndim else b.err):
        with np.errstate(invalid="ignore"):  # inf * 0 where an operand is unbounded
            e = e + np.where((a.err > 0) & (b.err > 0), a.err * b.err, 0.0)
    return _result(v, _flush(v, e, u), u)


def _div(a: Tracked, b: Tracked) -> Tracked:
    u = max(a.u, b.u)
    if _scalars(a, b):
        x, y, ea, eb = float(a.value), float(b.value), float(a.err), float(b.err)
        sab = abs(y)
        if sab * sab != 0.0:  # else the array rule (a Python float division by 0 raises)
            sv = x / y
            sfirst = ea / sab + abs(x) * eb / (sab * sab)
            sgrow = 1.0 if eb == 0 else (sab / (sab - eb) if eb < sab else math.inf)
            sbounded = sfirst * sgrow if sfirst > 0 else 0.0
            return _scalar(sv, _flush_scalar(sv, sbounded + 2 * u * abs(sv), u), u)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = a.value / b.value
        ab = np.abs(b.value)
        first = a.err / ab + np.abs(a.value) * b.err / (ab * ab)
        # not linearised: |Δ(a/b)| <= first * |b| / (|b| - e_b) while e_b < |b|; a divisor whose
        # error reaches its magnitude may be 0, and nothing bounds the quotient
        grow = np.where(b.err == 0, 1.0, np.where(b.err < ab, ab / (ab - b.err), np.inf))
        bounded = np.where(first > 0, first * grow, 0.0)  # an exact zero numerator stays exact
        e = _flush(v, bounded + 2 * u * np.abs(v), u)
    return Tracked(v, e, u)


def _sqrt(a: Tracked) -> Tracked:
    if _scalars(a):
        x, ea = float(a.value), float(a.err)
        if x >= 0 and ea >= 0:  # else the array rule (NaN, and math.sqrt raises below 0)
            sv = math.sqrt(x)
            slin = ea / (2 * sv) if sv > 0 else math.inf
            se = min(slin, math.sqrt(ea)) + a.u * abs(sv)
            return _scalar(sv, _flush_scalar(sv, se, a.u), a.u)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.sqrt(a.value)
        lin = np.where(v > 0, a.err / (2 * v), np.inf)
    e = np.minimum(lin, np.sqrt(a.err)) + a.u * np.abs(v)
    return Tracked(v, _flush(v, e, a.u), a.u)


def _square(a: Tracked) -> Tracked:
    if _scalars(a):
        x, ea = float(a.value), float(a.err)
        sv = x * x
        se = 2 * abs(x) * ea + ea * ea + 2 * a.u * sv
        return _scalar(sv, _flush_scalar(sv, se, a.u), a.u)
    v = a.value * a.value
    e = 2 * np.abs(a.value) * a.err + a.err * a.err + 2 * a.u * v
    return Tracked(v, _flush(v, e, a.u), a.u)


def _power(a: Tracked, k: float) -> Tracked:
    """$a^k$ for a plain exponent: $|k a^{k-1}| e_a + 2u|a^k|$ (``pow`` rounds once or twice)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = np.power(a.value, k)
        d = np.abs(k * np.power(a.value, k - 1)) if k != 0 else np.zeros_like(v)
    e = d * a.err + 2 * a.u * np.abs(v)
    return _result(v, _flush(v, e, a.u), a.u)


def _exp_base(base: float, x: Tracked) -> Tracked:
    r"""$b^x$ for a plain base: $|b^x \ln b|\, e_x + 2u|b^x|$."""
    v = np.power(base, x.value)
    e = np.abs(v * np.log(base)) * x.err + 2 * x.u * np.abs(v)
    return _result(v, _flush(v, e, x.u), x.u)


def _lipschitz(fn: Callable[..., np.ndarray]) -> Callable[..., Tracked]:
    def handler(*args: Tracked) -> Tracked:
        errs = np.broadcast_arrays(*(x.err for x in args))
        return Tracked(fn(*(x.value for x in args)), np.maximum.reduce(errs), args[0].u)

    return handler


def _predicate(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda *args: fn(*(x.value for x in args))


def _as_tracked(x: Any, u: float) -> Tracked:
    return x if isinstance(x, Tracked) else Tracked(x, 0.0, u)


def _count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def _sum(a: Tracked, axis: Any = None, keepdims: bool = False) -> Tracked:
    r"""$\sum e_i + (n-1)u\sum|a_i|$: the bound of any order of summation (Higham (4.4))."""
    n = _count(a.value.shape, axis)
    v = np.sum(a.value, axis=axis, keepdims=keepdims)
    e = np.sum(a.err, axis=axis, keepdims=keepdims) + max(n - 1, 0) * a.u * np.sum(
        np.abs(a.value), axis=axis, keepdims=keepdims
    )
    e = _flush(v, e, a.u)
    return _result(v, e, a.u)


def _mean(a: Tracked, axis: Any = None, keepdims: bool = False) -> Tracked:
    n = _count(a.value.shape, axis)
    return _sum(a, axis, keepdims) / Tracked(float(n), 0.0, a.u)


def _select_reduce(a: Tracked, arg: Callable[..., Any], axis: Any, keepdims: bool) -> Tracked:
    if axis is None:
        i = int(arg(a.value))
        v: np.ndarray | np.float64 = a.value.flat[i]
        e: np.ndarray | np.float64 = a.err.flat[i]
        if keepdims:
            v = np.reshape(v, (1,) * a.value.ndim)
            e = np.reshape(e, (1,) * a.value.ndim)
        return _result(v, e, a.u)
    if not isinstance(axis, int):
        raise TypeError("Tracked.max/min: axis must be None or one int")
    idx = np.expand_dims(arg(a.value, axis=axis), axis)
    v = np.take_along_axis(a.value, idx, axis)
    e = np.take_along_axis(a.err, idx, axis)
    if not keepdims:
        v, e = np.squeeze(v, axis), np.squeeze(e, axis)
    return _result(v, e, a.u)


def _matmul(a: Tracked, b: Tracked) -> Tracked:
    u = max(a.u, b.u)
    k = a.value.shape[-1] if a.value.ndim else 1
    aa, ab = np.abs(a.value), np.abs(b.value)
    v = a.value @ b.value
    e = a.err @ ab + aa @ b.err + (k + 1) * u * (aa @ ab)
    e = np.where(e > 0, e + (k + 1) * _tiny(u), e)  # a product of exact zeros is exact
    return _result(v, e, u)


def _elementary(
    fn: Callable[[np.ndarray], np.ndarray], derivative: Callable[[np.ndarray, np.ndarray], Any]
) -> Callable[[Tracked], Tracked]:
    """$|f'(a)| e_a + c_f u |f(a)|$ (see ``ELEMENTARY_ULPS``)."""

    def handler(a: Tracked) -> Tracked:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = fn(a.value)
            d = np.abs(derivative(a.value, v))
            e = np.where(a.err > 0, d * a.err, 0.0) + _ELEMENTARY_U * a.u * np.abs(v)
            e = _flush(v, e, a.u)
        return _result(v, e, a.u)

    return handler


def _where(cond: Any, a: Any, b: Any) -> Tracked:
    u = next(x.u for x in (a, b) if isinstance(x, Tracked))
    ta, tb = _as_tracked(a, u), _as_tracked(b, u)
    c = np.asarray(cond.value if isinstance(cond, Tracked) else cond, dtype=bool)
    return _result(np.where(c, ta.value, tb.value), np.where(c, ta.err, tb.err), u)


def _join(fn: Callable[..., np.ndarray]) -> Callable[..., Tracked]:
    def handler(arrays: Any, *args: Any, **kwargs: Any) -> Tracked:
        u = max(x.u for x in arrays if isinstance(x, Tracked))
        ts = [_as_tracked(x, u) for x in arrays]
        return _result(
            fn([t.value for t in ts], *args, **kwargs), fn([t.err for t in ts], *args, **kwargs), u
        )

    return handler


def _reshaping(fn: Callable[..., np.ndarray]) -> Callable[..., Tracked]:
    def handler(a: Tracked, *args: Any, **kwargs: Any) -> Tracked:
        return Tracked._make(
            np.asarray(fn(a.value, *args, **kwargs)), np.asarray(fn(a.err, *args, **kwargs)), a.u
        )

    return handler


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sum": _sum,
    "mean": _mean,
    "max": lambda a, axis=None, keepdims=False: _select_reduce(a, np.argmax, axis, keepdims),
    "amax": lambda a, axis=None, keepdims=False: _select_reduce(a, np.argmax, axis, keepdims),
    "min": lambda a, axis=None, keepdims=False: _select_reduce(a, np.argmin, axis, keepdims),
    "amin": lambda a, axis=None, keepdims=False: _select_reduce(a, np.argmin, axis, keepdims),
    "where": _where,
    "reshape": _reshaping(np.reshape),
    "transpose": _reshaping(np.transpose),
    "moveaxis": _reshaping(np.moveaxis),
    "expand_dims": _reshaping(np.expand_dims),
    "squeeze": _reshaping(np.squeeze),
    "broadcast_to": lambda a, shape: Tracked(
        np.broadcast_to(a.value, shape), np.broadcast_to(a.err, shape), a.u
    ),
    "ravel": _reshaping(np.ravel),
    "concatenate": _join(np.concatenate),
    "stack": _join(np.stack),
    "dot": lambda a, b: _matmul(
        _as_tracked(a, b.u if isinstance(b, Tracked) else a.u),
        _as_tracked(b, a.u if isinstance(a, Tracked) else b.u),
    ),
    "shape": lambda a: a.value.shape,
    "ndim": lambda a: a.value.ndim,
    "size": lambda a: a.value.size,
}

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
    "equal": _predicate(np.equal),
    "not_equal": _predicate(np.not_equal),
    "signbit": _predicate(np.signbit),
    "isinf": _predicate(np.isinf),
    "sign": lambda a: Tracked(np.sign(a.value), 0.0, a.u),  # exact inputs only (see above)
    "matmul": _matmul,
    "exp": _elementary(np.exp, lambda x, v: v),
    "expm1": _elementary(np.expm1, lambda x, v: v + 1.0),
    "log": _elementary(np.log, lambda x, v: 1.0 / x),
    "log1p": _elementary(np.log1p, lambda x, v: 1.0 / (1.0 + x)),
    "tanh": _elementary(np.tanh, lambda x, v: 1.0 - v * v),
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
