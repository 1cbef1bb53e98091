r"""The activation kind: values and derivatives over the whole floating-point range of the dtype.

Checks
    ``values``: the framework's $f(z)$; ``derivatives``: its autodiff's vector-Jacobian product
    (``torch.autograd``, ``tf.GradientTape``, ``jax.vjp``). For an elementwise activation the
    cotangent is all ones, so the result is $f'(z)$ itself; for the softmax it is a drawn array
    (with ones the product is identically 0). PReLU's check also compares the cotangent of the
    slope $\alpha$.

Inputs (hard regions are explicit choices, so that shrinking reports the simplest region)
    ``typical``: an array of the shared strategies (normal, uniform, log-spread, with zeros);
    ``near_zero``: $\pm 0$, subnormals, the smallest normals and small numbers, where the kinks
    and the conventions at 0 live; ``exp_range``: $|z|$ up to $1.05 \ln(\max)$ of the dtype, and
    between $|\ln(\text{smallest normal})|$ and $1.05|\ln(\text{smallest subnormal})|$, where
    $e^{\pm z}$ over- and underflows (the logistic's and the softmax's stability);
    ``full_range``: magnitudes log-uniform over every finite number of the dtype, subnormals to
    the largest; ``special``: all of these mixed with $\pm\infty$ and NaN; ``edges``: every edge
    value of the dtype at once (:func:`edge_values`) but NaN, which would hide the rest of a
    reduction such as PReLU's slope cotangent, in a drawn order. Every value is exactly
    representable in the dtype. The softmax draws no NaN and no $+\infty$ and keeps a finite
    element in every row (see ``act.softmax``).

Comparison
    The reference variant runs on tracked arrays (:mod:`trainspec.conformance.tolerance`);
    equal infinities and NaN against NaN compare equal. Where the reference rounds beyond the
    dtype's largest finite number (round to nearest) the framework's result is $\pm\infty$ (the
    reference is saturated to it). The variant axes ``subnormals`` (``flushed``: inputs and
    results below the smallest normal may read as 0 (results up to ``FLUSHED_RESULTS_BELOW``
    smallest normals, for a subnormal power of two inside an elementary function), via
    :func:`~trainspec.reference.activations.flush_subnormals` and
    :func:`~trainspec.reference.base.either_order`; for the rectifiers, whose identity branch is
    chosen by a comparison, a subnormal input may also pass through unchanged, as a comparison in
    denormals-are-zero mode reads it as 0 while the selection passes it on) and
    ``nan_derivative`` (``any``: derivatives at NaN inputs are not compared) are applied here;
    the other axes are the reference's. Under ``flushed`` the softmax's vector-Jacobian product
    also allows for outputs up to ``FLUSHED_RESULTS_BELOW`` smallest normals read as 0
    (``_gradual_underflow``); results below the normal range are bounded by the tolerance
    policy's flush level in every variant.

Implementations that cannot do a check say so in ``Implementation.options``:
``{"derivatives": False}`` (``torch.heaviside`` has no derivative): the ``derivatives``
examples then compare values, so every example still checks something.

RReLU in training mode (``options={"mode": "training"}``) is random and checked statistically:
every finite $z > 0$ gives $z$, $\pm 0$ gives 0, NaN gives NaN, and every negative normal $z$ a
slope $f(z)/z \in [l, u]$ (widened by the dtype's rounding); a block of 256 negative inputs added
to the case gives 256 slopes whose distribution is tested against $U(l, u)$ by
Kolmogorov-Smirnov (:func:`~trainspec.conformance.stats.ks_pvalue`, one test per example at
``ALPHA``). Derivatives in training mode: 1 for $z > 0$, and for negative $z$ slopes in
$[l, u]$ distributed as $U(l, u)$ (the same two tests). The framework's RNG is seeded from the
example's ``seed``. A ``ci`` row runs at most 80 such tests: a correct framework fails one with
probability below $8\cdot 10^{-5}$, and since ``ci`` seeds are fixed it never flakes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.adapter import FloatArray
from trainspec.conformance.contracts import (
    ArrayOf,
    CaseField,
    KindContract,
    MappingOf,
    OptionKey,
    structure_of,
)
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.profiles import current_profile
from trainspec.conformance.stats import (
    ALPHA,
    comparison_from_pvalues,
    detectable_ks_distance,
    detected,
    ks_pvalue,
)
from trainspec.conformance.strategies import draw_array, draw_hyperparameters, shape_st
from trainspec.conformance.tolerance import SAFETY, Comparison, Detectable, floor
from trainspec.conformance.tracked import Tracked, round_to, track_scalar, track_tree, unit_roundoff
from trainspec.reference.activations import flush_subnormals
from trainspec.reference.base import either_order

__all__ = [
    "CONTRACT",
    "MAX_ELEMENTS",
    "MAX_SIDE",
    "REGIONS",
    "THOROUGH_TRAINING_BLOCK",
    "TRAINING_BLOCK",
    "ActivationCase",
    "ActivationResult",
    "draw_activation_case",
    "edge_values",
    "hard_values",
    "reference_outputs",
]

REGIONS = ("typical", "near_zero", "exp_range", "full_range", "special", "edges")
TRAINING_BLOCK = 256
#: the block under ``thorough``: the KS test then sees a Kolmogorov distance of 0.015
THOROUGH_TRAINING_BLOCK = 2**16
MAX_ELEMENTS = 64
MAX_SIDE = 16
_NP: dict[str, type[np.floating[Any]]] = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
}


@dataclass(frozen=True)
class ActivationCase:
    """One example: the input ``z``, the cotangent (``derivatives`` only), the hyperparameters,
    the region it was drawn from, and the seed of the framework's RNG (training mode)."""

    check: str
    z: np.ndarray
    cotangent: np.ndarray | None
    hyperparameters: Mapping[str, float]
    region: str
    seed: int
    block: int = TRAINING_BLOCK

    def training_input(self) -> np.ndarray:
        """The input of a training-mode pass: ``z`` flattened, then a block of ``block`` negative
        inputs (uniform in $[-4, -1/4]$, from ``seed``) for the distribution test of the slopes."""
        rng = np.random.default_rng(self.seed)
        block = -rng.uniform(0.25, 4.0, self.block)
        return np.concatenate([np.ravel(self.z), block.astype(self.z.dtype)])

    def summary(self) -> dict[str, Any]:
        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else summarize_array(a, 16)

        return {
            "check": self.check,
            "region": self.region,
            "z": arr(self.z),
            "cotangent": arr(self.cotangent),
            "hyperparameters": dict(self.hyperparameters),
            "seed": self.seed,
            "block": self.block,
        }


class ActivationResult(TypedDict, total=False):
    """What ``run`` returns for an :class:`ActivationCase`: ``{'y': f(z)}`` for ``values``;
    ``{'z': the VJP}`` for ``derivatives``, with ``'alpha'`` (the cotangent of the slope) for a
    parametrised activation (PReLU); every array shaped like ``z`` (``alpha``: shape ``()``)."""

    y: FloatArray
    z: FloatArray
    alpha: FloatArray


@dataclass(frozen=True)
class _Finfo:
    """The facts of a dtype NumPy has no ``finfo`` for (bfloat16), as ``np.finfo`` names them."""

    smallest_subnormal: float
    tiny: float
    max: float
    eps: float
    nmant: int
    maxexp: int


#: bfloat16: 8 exponent bits as float32's, 7 stored significand bits
_BFLOAT16 = _Finfo(2.0**-133, 2.0**-126, (2.0 - 2.0**-7) * 2.0**127, 2.0**-7, 7, 128)


def _finfo(dtype: str) -> np.finfo[np.floating[Any]] | _Finfo:
    if dtype == "bfloat16":
        return _BFLOAT16
    return np.finfo(_NP[dtype])


def smallest_normal(dtype: str) -> float:
    return float(_finfo(dtype).tiny)


_CLASSES = {
    "typical": ("moderate",),
    "near_zero": ("zero", "subnormal", "tiny", "small"),
    "exp_range": ("exp", "exp_edge", "moderate"),
    "full_range": ("full", "zero", "max"),
    "special": ("zero", "subnormal", "tiny", "exp", "full", "max", "inf", "nan"),
}


def edge_values(dtype: str, *, allow_nan: bool = True, allow_posinf: bool = True) -> np.ndarray:
    r"""Every edge of the dtype at once: $\pm 0$, the smallest and largest subnormals, the smallest
    normal, $\pm 1$, the unit roundoff, the largest finite number, where $e^z$ overflows and
    leaves the normal and the subnormal range, $\pm\infty$ and NaN (each rounded to the dtype)."""
    fi = _finfo(dtype)
    sub, tiny, big = float(fi.smallest_subnormal), float(fi.tiny), float(fi.max)
    mags = [0.0, sub, tiny - sub, tiny, 1.0, float(fi.eps) / 2, big]
    log_max, log_tiny, log_sub = float(np.log(big)), float(np.log(tiny)), float(np.log(sub))
    # e^z overflows; e^-z leaves the normal range; between: e^-z is subnormal while e^z
    # overflows (1/(1 + e^-z) cannot be formed); e^-z underflows to 0
    mags += [log_max, -log_tiny, (log_max - log_sub) / 2, -log_sub, np.inf]
    x = np.array([m * sign for m in mags for sign in (1.0, -1.0)])
    if allow_nan:
        x = np.append(x, np.nan)
    if not allow_posinf:
        x = x[x != np.inf]
    return round_to(x, dtype)


def hard_values(
    region: str,
    shape: tuple[int, ...],
    dtype: str,
    seed: int,
    *,
    allow_nan: bool = True,
    allow_posinf: bool = True,
) -> np.ndarray:
    """The inputs of a hard ``region`` (see the module docstring), exactly representable in ``dtype``."""
    if region == "edges":  # every edge value but NaN (drawn in "special"), in a drawn order
        edges = edge_values(dtype, allow_nan=False, allow_posinf=allow_posinf)
        return np.random.default_rng(seed).permutation(edges)
    if region not in _CLASSES:
        raise ValueError(f"region={region!r}: must be one of {[*_CLASSES, 'edges']}")
    fi = _finfo(dtype)
    rng = np.random.default_rng(seed)
    classes = [c for c in _CLASSES[region] if c != "nan" or allow_nan]
    pick = rng.integers(0, len(classes), shape)
    sign = rng.choice([-1.0, 1.0], shape)
    sub = float(fi.smallest_subnormal)
    tiny, big = float(fi.tiny), float(fi.max)
    log_max = float(np.log(big))
    emin = np.log2(sub)
    emax = np.log2(big)
    cands = {
        "moderate": rng.standard_normal(shape) * 3.0,
        "zero": np.zeros(shape),
        "subnormal": rng.integers(1, 2 ** (fi.nmant), shape).astype(np.float64) * sub,
        "tiny": tiny * rng.uniform(1.0, 16.0, shape),
        "small": 10.0 ** rng.uniform(-8.0, -1.0, shape),
        "exp": rng.uniform(0.0, 1.05 * log_max, shape),
        # where e^z leaves the normal range: from ln(smallest normal) past ln(smallest subnormal)
        "exp_edge": rng.uniform(-np.log(tiny), -1.05 * np.log(sub), shape),
        "full": 2.0 ** rng.uniform(emin, emax, shape),
        "max": np.full(shape, big),
        "inf": np.full(shape, np.inf),
        "nan": np.full(shape, np.nan),
    }
    x = np.zeros(shape)
    for i, c in enumerate(classes):
        x = np.where(pick == i, cands[c], x)
    x = sign * x
    if not allow_posinf:
        x = np.where(x == np.inf, -np.inf, x)
    return round_to(x, dtype)


@functools.cache
def _region_st() -> st.SearchStrategy[str]:
    return st.sampled_from(REGIONS)


def draw_activation_case(data: Any, entry: Any, dtype: str, check: str) -> ActivationCase:
    """One example for an ``act.*`` entry (see the module docstring)."""
    if check not in ("values", "derivatives"):
        raise ValueError(f"check={check!r}: must be 'values' or 'derivatives'")
    model = entry.model
    hps = draw_hyperparameters(data, entry, dtype)
    if "lower" in hps and "upper" in hps and hps["lower"] > hps["upper"]:
        hps["lower"], hps["upper"] = hps["upper"], hps["lower"]
    region = data.draw(_region_st(), label="region")
    shape = data.draw(
        shape_st(min_dims=1, max_dims=2, max_side=MAX_SIDE, max_elements=MAX_ELEMENTS),
        label="shape",
    )
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    if region == "typical":
        z = draw_array(data, shape, dtype, label="z")
    elif region == "edges":
        z = hard_values(
            region, (), dtype, seed, allow_nan=model.allow_nan, allow_posinf=model.allow_posinf
        )
        shape = z.shape
        if not entry.model.build(entry.default_variant.options, hps).elementwise:
            shape = (z.size // 4, 4)  # rows of four for the softmax
            z = z[: shape[0] * 4].reshape(shape)
    else:
        z = hard_values(
            region,
            shape,
            dtype,
            seed,
            allow_nan=model.allow_nan,
            allow_posinf=model.allow_posinf,
        )
    elementwise = entry.model.build(entry.default_variant.options, hps).elementwise
    if not elementwise:  # every row keeps a finite element
        rows = np.all(~np.isfinite(z), axis=-1, keepdims=True)
        first = np.zeros(z.shape, dtype=bool)
        first[..., 0] = True
        z = np.where(rows & first, 0.0, z)
    cotangent = None
    if check == "derivatives":
        cotangent = (
            np.ones(shape) if elementwise else draw_array(data, shape, dtype, label="cotangent")
        )
    block = THOROUGH_TRAINING_BLOCK if current_profile() == "thorough" else TRAINING_BLOCK
    return ActivationCase(check, z, cotangent, hps, region, seed, block)


# ---------------------------------------------------------------------------------------------
# the reference side


def _saturate(t: Tracked, dtype: str) -> Tracked:
    """Values that round beyond the dtype's largest finite number (by more than half its last
    unit: round to nearest) are what the dtype holds: infinities."""
    fi = _finfo(dtype)
    with np.errstate(over="ignore"):
        limit = float(fi.max) + 2.0 ** (fi.maxexp - fi.nmant - 2)
    with np.errstate(invalid="ignore"):
        v = np.where(np.abs(t.value) >= limit, np.sign(t.value) * np.inf, t.value)
    return Tracked(v, t.err, t.u)


#: under ``subnormals="flushed"`` results below this many smallest normals may read 0: an
#: elementary function may build its result as $p \cdot 2^n$ from a power of two that is itself
#: subnormal when the result is within a small factor of the normal range (TensorFlow's float32
#: softmax returns 0 for $e^{-86.9} = 1.8\cdot 10^{-38}$, 1.5 smallest normals)
FLUSHED_RESULTS_BELOW = 4.0


def _flushable(
    outputs: dict[str, Any], flushed_inputs: dict[str, Any], tiny: float
) -> dict[str, Any]:
    """Each output as computed from the input or from the flushed input, itself or flushed."""
    out = {}
    for k, y in outputs.items():
        y = either_order(y, flushed_inputs[k])
        out[k] = either_order(y, flush_subnormals(y, FLUSHED_RESULTS_BELOW * tiny))
    return out


def _gradual_underflow(
    act: Any, z: np.ndarray, g: np.ndarray, vjp: Tracked, dtype: str, flushed: bool
) -> Tracked:
    r"""The softmax's $\bar z = s \odot (g - \langle g, s\rangle)$ when small $s_j$ read as 0.

    The tolerance policy bounds a result below the normal range by its flush level. Under
    ``subnormals="flushed"`` an output up to ``FLUSHED_RESULTS_BELOW`` smallest normals may be 0
    (a loss $\ell_j = |s_j|$), and both places $s$ enters the product carry it: the bound of
    $\bar z_k$ adds $\ell_k |g_k - \langle g, s\rangle| + |s_k| \sum_j |g_j| \ell_j$.
    """
    if not flushed:
        return vjp
    s = np.asarray(act.value(np.asarray(z, dtype=np.float64)))
    lost = np.where(np.abs(s) < FLUSHED_RESULTS_BELOW * smallest_normal(dtype), np.abs(s), 0.0)
    dot = np.sum(g * s, axis=-1, keepdims=True)
    spread = np.sum(np.abs(g) * lost, axis=-1, keepdims=True)
    extra = lost * np.abs(g - dot) + np.abs(s) * spread
    return Tracked(vjp.value, vjp.err + extra, vjp.u)


def reference_outputs(
    entry: Any, options: Mapping[str, str], case: ActivationCase, dtype: str, check: str
) -> dict[str, Tracked]:
    """The reference's tracked outputs of one variant: ``{"y"}`` for values, ``{"z"}`` (and
    ``{"alpha"}``) for derivatives."""
    hp = {k: track_scalar(v, dtype) for k, v in case.hyperparameters.items()}
    act = entry.model.build(options, hp)

    def run(z: np.ndarray) -> dict[str, Any]:
        t = track_tree({"z": z}, dtype)["z"]
        if check == "values":  # an exact result (a step) may come back as a plain array
            y = act.value(t)
            return {"y": y if isinstance(y, Tracked) else Tracked(y, 0.0, t.u)}
        g = track_tree({"g": case.cotangent}, dtype)["g"]
        out: dict[str, Any] = act.vjp(t, g)
        if not act.elementwise:
            flushed = options.get("subnormals") == "flushed"
            cotangent = cast(np.ndarray, case.cotangent)  # derivatives: never None
            out["z"] = _gradual_underflow(act, z, cotangent, out["z"], dtype, flushed)
        return out

    # IEEE arithmetic on infinities and NaN is intended here (0 * inf in a bound is NaN)
    with np.errstate(all="ignore"):
        out = run(case.z)
        if options.get("subnormals") == "flushed":
            tiny = smallest_normal(dtype)
            out = _flushable(out, run(np.asarray(flush_subnormals(case.z, tiny))), tiny)
            if check == "values" and entry.model.identity_branch:
                # DAZ: the comparison reads a subnormal z as 0, the selection passes z through
                sub = (np.abs(case.z) < tiny) & (case.z != 0)
                out["y"] = either_order(out["y"], np.where(sub, case.z, out["y"]))
    return {
        k: _saturate(v if isinstance(v, Tracked) else Tracked(v), dtype) for k, v in out.items()
    }


def _compare(
    actual: Any, expected: Tracked, dtype: str, z: np.ndarray | None, key: str
) -> Comparison:
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != expected.value.shape:
        raise ValueError(
            f"the adapter returned {key} of shape {a.shape}, expected {expected.value.shape}"
        )
    ref = expected.value
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        tol = SAFETY * expected.err + floor(dtype)
        diff = np.abs(a - ref)
        same = (a == ref) | (np.isnan(a) & np.isnan(ref))
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
        ratio = np.where(diff == 0, 0.0, diff / tol)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
    if ratio.size == 0:
        return Comparison(0.0, floor(dtype), 0.0, key)
    i = int(np.argmax(ratio))
    where = key
    if z is not None and z.size == ratio.size:
        where = f"{key} at z={float(np.ravel(z)[i])!r} (got {float(a.flat[i])!r}, reference {float(ref.flat[i])!r})"
    return Comparison(
        float(diff.flat[i]),
        float(tol.flat[i]),
        float(ratio.flat[i]),
        where,
        actual=float(a.flat[i]),
        expected=float(ref.flat[i]),
        input="" if z is None or z.size != ratio.size else f"z = {float(np.ravel(z)[i])!r}",
    )


def _worst(comparisons: Sequence[Comparison]) -> Comparison:
    return max(comparisons, key=lambda c: c.ratio)


def _deterministic(
    entry: Any, impl: Any, case: ActivationCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    check = case.check
    if check == "derivatives" and impl.options.get("derivatives") is False:
        case = ActivationCase(
            "values", case.z, None, case.hyperparameters, case.region, case.seed, case.block
        )
        check = "values"
    actual = impl.run(case, dtype, device)
    out: dict[Any, Comparison] = {}
    for v in variants:
        expected = reference_outputs(entry, v.options, case, dtype, check)
        out[v] = compare_outputs(actual, expected, v.options, case, dtype, check)
    return out


def compare_outputs(
    actual: Mapping[str, Any],
    expected: Mapping[str, Any],
    options: Mapping[str, str],
    case: ActivationCase,
    dtype: str,
    check: str,
) -> Comparison:
    """The worst comparison of the framework's outputs with one variant's tracked outputs
    (:func:`reference_outputs` of ``options``)."""
    if set(actual) != set(expected):
        raise ValueError(f"the adapter returned {sorted(actual)}, expected {sorted(expected)}")
    nan_in = np.isnan(case.z)
    comps = []
    for k, ref in expected.items():
        a = np.asarray(actual[k], dtype=np.float64)
        z = case.z
        if check == "derivatives" and options.get("nan_derivative") == "any" and nan_in.any():
            if k != "z":  # a parameter's cotangent sums over the NaN elements too
                continue
            keep = ~nan_in
            a, ref, z = a[keep], ref[keep], z[keep]
        comps.append(_compare(a, ref, dtype, z, k))
    return _worst(comps) if comps else Comparison(0.0, floor(dtype), 0.0, "no element")


# ---------------------------------------------------------------------------------------------
# RReLU in training mode


def _training(
    entry: Any, impl: Any, case: ActivationCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    lo, hi = case.hyperparameters["lower"], case.hyperparameters["upper"]
    x = case.training_input()
    got = impl.run(case, dtype, device)
    key = "y" if case.check == "values" else "z"
    y = np.asarray(got[key], dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"the adapter returned {key} of shape {y.shape}, expected {x.shape}")
    u = unit_roundoff(dtype)
    tiny = smallest_normal(dtype)
    fl = floor(dtype)
    bad: list[tuple[float, str]] = []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        pos = np.isfinite(x) & (x > 0)
        neg = np.isfinite(x) & (x < 0) & (np.abs(x) * max(lo, 1e-30) >= tiny)
        if case.check == "values":
            expect_pos = x
            slope = y / x
        else:
            expect_pos = np.ones_like(x)
            slope = y
        err_pos = np.abs(y - expect_pos) / (4 * u * np.abs(expect_pos) + fl)
        bad += [
            (float(r), f"{key} at z={float(z)!r}: {float(v)!r}")
            for r, z, v in zip(err_pos[pos], x[pos], y[pos], strict=True)
        ]
        # a slope outside [l, u] (widened by two roundings)
        slack = 8 * u * max(hi, 1e-30)
        outside = np.maximum(lo - slack - slope, slope - hi - slack) / slack
        bad += [
            (1.0 + float(r), f"slope at z={float(z)!r}: {float(s)!r} outside [{lo}, {hi}]")
            for r, z, s in zip(outside[neg], x[neg], slope[neg], strict=True)
            if r > 0 or np.isnan(r)
        ]
        if case.check == "values":
            if not np.isnan(y[np.isnan(x)]).all():
                bad.append((np.inf, "a NaN input did not give NaN"))
            if np.any(y[x == 0] != 0):
                bad.append((np.inf, "a zero input did not give 0"))
    worst = max(bad, default=(0.0, key))
    exact = Comparison(worst[0], 1.0, worst[0], worst[1])
    block = slice(case.z.size, None)
    slopes = y[block] / x[block] if case.check == "values" else y[block]
    stat: Comparison
    if hi - lo <= 1e-6 * max(hi, 1e-30):
        stat = Comparison(0.0, 1.0, 0.0, "degenerate range: slopes checked exactly")
    elif not np.all(np.isfinite(slopes)):
        stat = Comparison(np.inf, 1.0, np.inf, "non-finite slope in the distribution block")
    else:
        cdf = lambda s: np.clip((s - lo) / (hi - lo), 0.0, 1.0)  # noqa: E731
        stat = comparison_from_pvalues(
            {"slopes ~ U(lower, upper) (KS)": ks_pvalue(slopes, cdf)}, ALPHA
        ).with_detectable(_slope_power(slopes.size, lo, hi))
    result = _worst([exact, stat]).with_detectable(stat.detectable)
    return dict.fromkeys(variants, result)


def _slope_power(n: int, lo: float, hi: float) -> dict[str, Detectable]:
    r"""What the KS test of $n$ slopes against $U(l, u)$ detects: a Kolmogorov distance $D$
    (:func:`~trainspec.conformance.stats.detectable_ks_distance`), and so an upper bound $u$ off
    by $\delta$, whose distance $|u' - u|/(\max(u, u') - l)$ reaches $D$ for
    $\delta = D (u - l) / (u (1 - D))$."""
    d = detectable_ks_distance(n)
    out = {"ks": detected("Kolmogorov distance of the slopes", d, n, relative=False)}
    if d < 1.0 and hi > 0.0:
        out["ks (upper)"] = detected("upper slope bound", d * (hi - lo) / (hi * (1.0 - d)), n)
    return out


def _evaluate(
    entry: Any, impl: Any, case: ActivationCase, dtype: str, device: str, variants: Sequence[Any]
) -> dict[Any, Comparison]:
    if impl.options.get("mode") == "training":
        return _training(entry, impl, case, dtype, device, variants)
    return _deterministic(entry, impl, case, dtype, device, variants)


def _as_run_receives(impl: Any, case: ActivationCase) -> ActivationCase:
    """The case the kind hands to ``impl.run``: values instead of derivatives where the
    implementation says it has none."""
    if case.check == "derivatives" and impl.options.get("derivatives") is False:
        return ActivationCase("values", case.z, None, case.hyperparameters, case.region, case.seed)
    return case


def _expected(entry: Any, impl: Any, case: ActivationCase, dtype: str, check: str) -> Any:
    if impl.options.get("mode") == "training":
        key = "y" if case.check == "values" else "z"
        return MappingOf({key: ArrayOf(case.training_input().shape)}, extra=True)
    return structure_of(
        reference_outputs(entry, entry.default_variant.options, case, dtype, case.check)
    )


CONTRACT = KindContract(
    case_types=(ActivationCase,),
    result_type=ActivationResult,
    fields=(
        CaseField("check", "str", "'values' (return f(z)) or 'derivatives' (return the VJP)"),
        CaseField("z", "ndarray", "the input, 1-d or 2-d (the softmax normalises the last axis)"),
        CaseField(
            "cotangent",
            "ndarray | None",
            "derivatives: the cotangent of the vector-Jacobian product (all ones for an "
            "elementwise activation); None for values",
        ),
        CaseField(
            "hyperparameters", "Mapping[str, float]", "the spec's hyperparameters (alpha, ...)"
        ),
        CaseField("region", "str", f"where z was drawn from, one of {list(REGIONS)} (informative)"),
        CaseField(
            "seed",
            "int",
            "seed the framework's RNG with it (training mode); the input of a training-mode pass "
            "is case.training_input(): z flattened, then a block of case.block negative inputs",
        ),
        CaseField(
            "block",
            "int",
            "how many negative inputs training_input() appends for the distribution test of the "
            "slopes (256; more under the thorough profile)",
        ),
    ),
    returns="values: {'y': f(z)}; derivatives: {'z': the VJP with respect to z} and, for a "
    "parametrised activation (PReLU), {'alpha': its cotangent}; shapes as z's (training mode: "
    "as training_input())",
    expected=_expected,
    options=(
        OptionKey(
            "derivatives",
            "False",
            "the framework has no derivative: derivatives examples are run as values examples",
        ),
        OptionKey(
            "mode",
            "'training'",
            "the activation is random in training mode (RReLU): run(case) applies it in training "
            "mode to case.training_input(); checked statistically",
        ),
    ),
    prepare=_as_run_receives,
)


KIND = register_kind(
    Kind(
        "activations",
        ("values", "derivatives"),
        draw_activation_case,
        _evaluate,
        "values and autodiff derivatives over the whole float range (zeros, subnormals, huge "
        "values, infinities, NaN), element by element within the tolerance policy; the "
        "conventions at 0 are named variants; RReLU in training mode statistically",
        contract=CONTRACT,
    )
)
