r"""Hypothesis strategies: small composable helpers with labelled draws.

Conventions (after array-api-tests' ``hypothesis_helpers.py``):

* ``*_st`` functions return strategies; ``draw_*`` functions take Hypothesis's ``data`` object
  and draw with a ``label``, so that a failure prints every draw by name.
* Every array is float64 holding values *exactly representable* in the dtype under test
  (see :mod:`trainspec.conformance.tolerance`, step 1).
* Large arrays are not drawn element by element (slow, and poor to shrink): an array is drawn as
  a shape, a magnitude, a distribution and a seed for NumPy's generator. Shrinking then moves
  towards small shapes, magnitude 1 and seed 0, which gives readable counterexamples, and
  "hard" regions (values near zero, huge or tiny magnitudes, exact zeros) are explicit choices
  rather than lucky draws.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.tracked import round_to
from trainspec.reference.optimizers.common import CanonicalState
from trainspec.reference.registry import HyperParameter, SpecEntry

__all__ = [
    "MAX_ELEMENTS",
    "array_st",
    "draw_array",
    "draw_canonical_state",
    "draw_hyperparameters",
    "draw_learning_rates",
    "draw_param_tree",
    "hyperparameter_st",
    "max_finite",
    "shape_st",
    "square_safe_bound",
    "square_safe_floor",
]

MAX_ELEMENTS = 4096
MAX_TENSORS = 4
# exponent ranges of the magnitudes per dtype, kept inside the normal range with headroom for
# the formulas (squares, products with learning rates) to stay finite and normal
_MAGNITUDE_EXPONENTS = {
    "float64": (-30, 30),
    "float32": (-12, 12),
    "float16": (-3, 3),
    "bfloat16": (-10, 10),
}
DISTRIBUTIONS = ("normal", "uniform", "log_spread", "with_zeros", "constant")
#: the largest finite value of each dtype: (2 - 2^(1-p)) 2^emax for p significand bits
_FORMATS = {"float64": (53, 1023), "float32": (24, 127), "float16": (11, 15), "bfloat16": (8, 127)}
#: how many squares of drawn magnitudes a formula may add up (an accumulator over a trajectory
#: of up to 12 steps, plus its start) and still be finite
SQUARES_SUMMED = 16


def max_finite(dtype: str) -> float:
    r"""The largest finite value of ``dtype``: $(2 - 2^{1-p})\,2^{e_\max}$ for its $p$ significand
    bits and largest exponent $e_\max$ (65504 for float16, about $3.39 \cdot 10^{38}$ for bfloat16)."""
    try:
        p, emax = _FORMATS[dtype]
    except KeyError:
        raise ValueError(f"dtype={dtype!r}: must be one of {list(_FORMATS)}") from None
    return (2.0 - 2.0 ** (1 - p)) * 2.0**emax


@functools.cache
def square_safe_bound(dtype: str) -> float:
    r"""The largest magnitude an array is drawn with in ``dtype``: the power of two
    $B = 2^{\lfloor \log_2 \sqrt{M / S} \rfloor}$ for the dtype's largest finite value $M$ and
    $S$ = :data:`SQUARES_SUMMED`, so that $S B^2 \le M$: a gradient's square, and a sum of up to
    $S$ of them (AdaGrad's accumulator, Adam's second moment over a trajectory), stays finite.

    Only float16 is bounded in practice ($B = 32$, $B^2 = 1024$); for the other dtypes $B$
    lies far beyond the magnitudes drawn ($2^{61}$ for float32)."""
    return 2.0 ** math.floor(math.log2(math.sqrt(max_finite(dtype) / SQUARES_SUMMED)))


@functools.cache
def square_safe_floor(dtype: str) -> float:
    r"""The smallest nonzero magnitude an array is drawn with in ``dtype``: the power of two
    $L = 2^{\lceil (1 - e_\max)/2 \rceil}$, the square root of the smallest normal number
    $2^{1 - e_\max}$ rounded up, so that the square of a drawn value is 0 or a normal number (a
    subnormal square loses significant bits that the first-order rounding bounds do not carry).
    Smaller nonzero magnitudes are drawn as $\pm L$ (a distribution without zeros keeps none).

    Only float16 is bounded in practice ($L = 2^{-7}$); for the other dtypes $L$ lies far below
    the magnitudes drawn ($2^{-63}$ for float32)."""
    max_finite(dtype)  # checks the name
    _, emax = _FORMATS[dtype]
    return 2.0 ** math.ceil((1 - emax) / 2)


@functools.cache
def shape_st(
    *, min_dims: int = 0, max_dims: int = 4, max_side: int = 64, max_elements: int = MAX_ELEMENTS
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes from a scalar ``()`` to ``max_dims`` dimensions with at most ``max_elements`` elements."""

    @st.composite
    def shapes(draw: Any) -> tuple[int, ...]:
        ndim = draw(st.integers(min_dims, max_dims))
        shape: list[int] = []
        budget = max_elements
        for _ in range(ndim):
            side = draw(st.integers(1, max(1, min(max_side, budget))))
            shape.append(side)
            budget = max(1, budget // side)
        return tuple(shape)

    return shapes()


@functools.cache
def magnitude_st(dtype: str) -> st.SearchStrategy[int]:
    """A decimal exponent for the typical magnitude of an array (0, i.e. 1.0, first when shrinking)."""
    lo, hi = _MAGNITUDE_EXPONENTS[dtype]
    hi = min(hi, math.floor(math.log10(square_safe_bound(dtype))))  # float16: 1 (B = 32)
    lo = max(lo, math.ceil(math.log10(square_safe_floor(dtype))))  # float16: -2 (L = 2^-7)
    return st.one_of(st.just(0), st.integers(max(-3, lo), min(3, hi)), st.integers(lo, hi))


@functools.cache
def array_recipe_st(dtype: str) -> st.SearchStrategy[tuple[str, int, int]]:
    """What an array is drawn as: ``(distribution, decimal exponent of its magnitude, seed)``."""
    return st.tuples(st.sampled_from(DISTRIBUTIONS), magnitude_st(dtype), st.integers(0, 2**32 - 1))


def array_st(
    shape: tuple[int, ...], dtype: str, *, nonnegative: bool = False
) -> st.SearchStrategy[np.ndarray]:
    """A float64 array of ``shape`` with values representable in ``dtype`` (see module docstring)."""
    return array_recipe_st(dtype).map(
        lambda r: make_array(shape, dtype, *r, nonnegative=nonnegative)
    )


def make_array(
    shape: tuple[int, ...],
    dtype: str,
    dist: str,
    exponent: int,
    seed: int,
    *,
    nonnegative: bool = False,
) -> np.ndarray:
    """The array a draw of :func:`array_st` stands for (deterministic in its arguments)."""
    rng = np.random.default_rng(seed)
    scale = 10.0**exponent
    if dist == "normal":
        x = rng.standard_normal(shape)
    elif dist == "uniform":
        x = rng.uniform(-1.0, 1.0, shape)
    elif dist == "log_spread":  # magnitudes spread over six decades, random signs
        lo, hi = _MAGNITUDE_EXPONENTS[dtype]
        span = min(3, hi - exponent, exponent - lo)
        x = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-span, span, shape)
    elif dist == "with_zeros":  # a third of the elements exactly zero
        x = rng.standard_normal(shape) * (rng.random(shape) > 1 / 3)
    elif dist == "constant":
        x = np.full(shape, 1.0)
    else:
        raise ValueError(f"dist={dist!r}: must be one of {list(DISTRIBUTIONS)}")
    bound, small = square_safe_bound(dtype), square_safe_floor(dtype)
    x = np.clip(np.asarray(x * scale, dtype=np.float64), -bound, bound)
    x = np.where((x != 0) & (np.abs(x) < small), np.copysign(small, x), x)
    if nonnegative:
        x = np.abs(x)
    return round_to(x, dtype)


def draw_array(
    data: Any, shape: tuple[int, ...], dtype: str, label: str, *, nonnegative: bool = False
) -> np.ndarray:
    """Draw an array's recipe (labelled) and build it; cheaper than a fresh strategy per draw."""
    dist, exponent, seed = data.draw(array_recipe_st(dtype), label=label)
    return make_array(shape, dtype, dist, exponent, seed, nonnegative=nonnegative)


def draw_param_tree(
    data: Any, dtype: str, *, label: str = "params", max_tensors: int = MAX_TENSORS
) -> dict[str, np.ndarray]:
    """1 to ``max_tensors`` named tensors, scalar to 4-D, at most :data:`MAX_ELEMENTS` elements in all."""
    n = data.draw(st.integers(1, max_tensors), label=f"{label}: number of tensors")
    shapes: dict[str, tuple[int, ...]] = {}
    budget = MAX_ELEMENTS
    for i in range(n):
        shape = data.draw(
            shape_st(max_elements=max(1, budget // (n - i))), label=f"{label}[w{i}].shape"
        )
        budget -= math.prod(shape)
        shapes[f"w{i}"] = shape
    return draw_tree(data, shapes, dtype, label)


def draw_tree(
    data: Any,
    shapes: Mapping[str, tuple[int, ...]],
    dtype: str,
    label: str,
    *,
    nonnegative: bool = False,
) -> dict[str, np.ndarray]:
    """A tree of arrays from one labelled recipe: one distribution and magnitude, a seed per tensor.

    One draw per tree (not per tensor) keeps generation cheap; magnitudes still differ between
    parameters, gradients and state, which is where the formulas' conditioning matters.
    """
    dist, exponent, seed = data.draw(array_recipe_st(dtype), label=label)
    return {
        k: make_array(shape, dtype, dist, exponent, (seed + i) % 2**32, nonnegative=nonnegative)
        for i, (k, shape) in enumerate(shapes.items())
    }


def draw_tree_like(
    data: Any, like: Mapping[str, np.ndarray], dtype: str, label: str, *, nonnegative: bool = False
) -> dict[str, np.ndarray]:
    return draw_tree(
        data, {k: v.shape for k, v in like.items()}, dtype, label, nonnegative=nonnegative
    )


@functools.cache
def hyperparameter_st(hp: HyperParameter, precision: str = "float32") -> st.SearchStrategy[float]:
    """Valid values of ``hp`` representable in ``precision``: its special values, then its typical range."""
    lo, hi = hp.sample_low, hp.sample_high
    if hp.log_scale:
        body = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)
    else:
        body = st.floats(lo, hi)

    def rnd(v: float) -> float:
        return float(round_to(v, precision))

    valid = body.map(rnd).filter(lambda v: _valid(hp, v))
    specials = sorted({rnd(v) for v in hp.special if _valid(hp, rnd(v))})
    return st.one_of(st.sampled_from(specials), valid) if specials else valid


def hyperparameter_precision(dtype: str) -> str:
    """Hyperparameters are drawn representable in float32 (Keras keeps the learning rate in a float32
    variable) and, for the 16-bit dtypes, in the dtype itself (frameworks cast hyperparameters to
    the variables' dtype): then every framework sees exactly the numbers the reference uses."""
    return dtype if dtype in ("float16", "bfloat16") else "float32"


def _valid(hp: HyperParameter, v: float) -> bool:
    if not math.isfinite(v):
        return False
    if hp.low is not None and (v < hp.low or (v == hp.low and not hp.low_closed)):
        return False
    return not (hp.high is not None and (v > hp.high or (v == hp.high and not hp.high_closed)))


def draw_hyperparameters(data: Any, entry: SpecEntry, dtype: str = "float32") -> dict[str, float]:
    """Every hyperparameter of ``entry`` except the learning rate (drawn per step)."""
    precision = hyperparameter_precision(dtype)
    return {
        hp.name: data.draw(hyperparameter_st(hp, precision), label=hp.name)
        for hp in entry.hyperparameters
        if hp.name != "learning_rate"
    }


def draw_learning_rates(
    data: Any, entry: SpecEntry, steps: int, dtype: str = "float32"
) -> list[float]:
    """A learning rate per step: constant, a few plateaus, or a new value every step."""
    hp = next(h for h in entry.hyperparameters if h.name == "learning_rate")
    pattern = data.draw(
        st.sampled_from(["constant", "every_step", "plateaus"]), label="learning_rate pattern"
    )
    one = hyperparameter_st(hp, hyperparameter_precision(dtype))
    if pattern == "constant" or steps == 1:
        return [data.draw(one, label="learning_rate")] * steps
    if pattern == "every_step":
        return list(
            data.draw(st.lists(one, min_size=steps, max_size=steps), label="learning_rates")
        )
    values = data.draw(st.lists(one, min_size=2, max_size=3), label="learning_rate plateaus")
    cuts = sorted(
        data.draw(
            st.lists(st.integers(1, steps - 1), min_size=len(values) - 1, max_size=len(values) - 1),
            label="plateau boundaries",
        )
    )
    out: list[float] = []
    bounds = [0, *cuts, steps]
    for v, a, b in zip(values, bounds[:-1], bounds[1:], strict=True):
        out.extend([v] * (b - a))
    return out


def draw_canonical_state(
    data: Any,
    buffers: Sequence[str],
    params: Mapping[str, np.ndarray],
    dtype: str,
    nonnegative: frozenset[str] = frozenset(),
) -> CanonicalState:
    """An arbitrary state after ``count >= 1`` steps: every buffer an arbitrary tree like ``params``
    (``>= 0`` for the buffers named in ``nonnegative``)."""
    count = data.draw(st.one_of(st.just(1), st.integers(1, 10_000)), label="state.count")
    bufs = {
        b: draw_tree_like(data, params, dtype, f"state.{b}", nonnegative=b in nonnegative)
        for b in buffers
    }
    return CanonicalState(count=count, buffers=bufs)


# ---------------------------------------------------------------------------------------------
# arrays with an exactly representable Euclidean norm (clipping, max-norm: "at the threshold")


def exact_norm_integers(
    rng: np.random.Generator, n: int, limit: int = 2**24
) -> tuple[np.ndarray, int]:
    r"""``n`` integers with an integer Euclidean norm $c$, and $c$; $c^2 < 2^{24}$ (and
    $c^2 \le$ ``limit``: a dtype that holds fewer integers exactly, see below).

    $n - 1$ integers $a_i$ in $[-A, A]$ with $A^2 (n-1) \le 8000$, then one more, $b$, with
    $S + b^2 = c^2$ for $S = \sum a_i^2$: $b = (S-1)/2$ when $S$ is odd, $S/4 - 1$ when $4 \mid S$
    ($S \equiv 2 \bmod 4$ is made odd first). Every partial sum of squares is an integer below
    $2^{24}$, so the sum of squares, in any order, and its square root are exact in float32 and
    float64: a framework computes exactly the norm $c$, and a threshold set to it is *exactly* at
    the norm. Positions and signs are shuffled.

    With ``limit`` below $2^{24}$ (float16 holds the integers up to $2^{11}$ exactly, bfloat16
    up to $2^8$) the $a_i$ are $0$ or $\pm 1$, at most $2\sqrt{\text{limit}} - 4$ of them
    nonzero, so that $c^2 \le$ ``limit`` and every integer involved is exact in that dtype.
    """
    if n < 1:
        raise ValueError(f"n={n}: must be >= 1")
    if limit < 4:
        raise ValueError(f"limit={limit}: must be at least 4")
    if n == 1:
        c = int(rng.integers(1, min(8, math.isqrt(limit) + 1)))
        return np.array([c * rng.choice([-1, 1])], dtype=np.int64), c
    if limit < 2**24:
        nonzero = min(n - 1, max(1, 2 * math.isqrt(limit) - 4))
        a = np.zeros(n - 1, dtype=np.int64)
        a[:nonzero] = rng.choice([-1, 1], nonzero)
        bound = 1
    else:
        bound = max(1, min(7, math.isqrt(8000 // (n - 1))))
        a = rng.integers(-bound, bound + 1, n - 1)
    s = int(np.sum(a * a))
    if s % 4 == 2:
        a[0] += 1 if a[0] < bound else -1
        s = int(np.sum(a * a))
    b, c = ((s - 1) // 2, (s + 1) // 2) if s % 2 else (s // 4 - 1, s // 4 + 1)
    v = np.concatenate([a, [b]]) * rng.choice([-1, 1], n)
    return rng.permutation(v), c


def make_exact_norm_array(
    shape: tuple[int, ...], seed: int, exponent: int, limit: int = 2**24
) -> tuple[np.ndarray, float]:
    """An array of ``shape`` whose norm is exact (:func:`exact_norm_integers`, with ``limit``),
    scaled by ``2**exponent`` (exact), and that norm."""
    rng = np.random.default_rng(seed)
    v, c = exact_norm_integers(rng, max(1, math.prod(shape)), limit)
    scale = 2.0**exponent
    return (v.astype(np.float64) * scale).reshape(shape), float(c) * scale
