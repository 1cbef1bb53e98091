r"""``trainspec repro``: a diverging row (or a known finding) as a standalone Python script.

The script uses only the framework and NumPy: it holds the example's inputs in full (``CASE``),
calls the framework as the adapter does (the code comes from the adapter,
:meth:`~trainspec.conformance.adapter.Adapter.repro_call`, a :class:`ReproCall`), computes the
expected value with NumPy in float64 from the spec's formula written out inline (per spec ID,
:data:`EXPECTED`; for an optimizer the update rule of the row's variant), prints both, the
formula and the versions, and exits 1 printing ``DISCREPANCY`` where they differ beyond the
tolerance: ``|got - expected| <= tolerance`` elementwise, NaN equal to NaN, an infinity equal to
itself. The tolerance is the row's (the kit's bound at the row's counterexample) when the row
has one; otherwise (a finding's minimal example, which the report does not store) the adapter's
:attr:`ReproCall.tolerance`, or $16\,u\,\max(1, |\text{expected}|)$ with $u$ the dtype's unit
roundoff.

Where the row has no counterexample (a finding's hits inside a conforming or variant row), the
adapter supplies the finding's minimal counterexample (:attr:`ReproCall.case`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainspec.conformance import precision

__all__ = [
    "EXPECTED",
    "ReproCall",
    "ReproError",
    "example_of",
    "expected_code",
    "find_row",
    "finding_example",
    "finding_rows",
    "python_literal",
    "script",
    "unreproduced_findings",
    "unreproducible_findings",
]


class ReproError(ValueError):
    """A reproduction that cannot be written (the message names the argument and the rule)."""


def finding_example(
    impl: Any, dtype: str, examples: Mapping[Any, Mapping[str, Any]], *, by_spec: bool = False
) -> tuple[Any, dict[str, Any]]:
    """The known finding of ``impl``'s row in ``dtype`` and a copy of its minimal example in
    ``examples`` (keyed by the finding's id, or with ``by_spec`` by ``(id, impl.spec_id)``); a
    :class:`ReproError` names the row when it has neither a counterexample nor such an example."""
    f = impl.finding(dtype)
    key = None if f is None else ((f.id, impl.spec_id) if by_spec else f.id)
    if key is None or key not in examples:
        raise ReproError(
            f"counterexample: the row of {impl.name!r} ({dtype}) has none, nor a finding with a "
            "minimal example"
        )
    return f, dict(examples[key])


@dataclass(frozen=True)
class ReproCall:
    """How one implementation's call is written as code, for one example.

    ``imports``: lines that import (and configure) the framework; ``versions``: a Python
    expression, evaluated by the script, giving the framework's versions as a string;
    ``call``: lines that read ``CASE``, ``DTYPE`` and ``DEVICE`` and set ``GOT``, a dict of
    result name -> array (the kind's result names: parameter names for an optimizer, ``y``,
    ``z`` and slope names for an activation, ``lr`` for a schedule); ``case``: the example, in
    the kind's JSON form (the row's counterexample, or the finding's minimal one);
    ``tolerance``: an absolute tolerance for ``case`` where the row states none (``None``: the
    default, see the module docstring).
    """

    imports: str
    versions: str
    call: str
    case: Mapping[str, Any]
    tolerance: float | None = None
    #: the variant whose formula gives the expected value when the row names none (a finding's
    #: row measured in another variant, or a diverging row): the implementation's variant
    variant: str | None = None


# --- the expected values: each spec's formula in NumPy, float64 ---------------------------------

_OPT_HEAD = """\
hp = CASE["hyperparameters"]
lrs = [float(x) for x in CASE["learning_rates"]]
state = CASE.get("state") or {"count": 0, "buffers": {}}
count0 = int(state["count"])


def buf(name, key, like):
    value = state["buffers"].get(name, {}).get(key)
    return np.zeros_like(like) if value is None else np.asarray(value, dtype=np.float64)


EXPECTED = {}
for key, p in CASE["params"].items():
    theta = np.asarray(p, dtype=np.float64)
"""


def _options(spec_id: str, variant: str) -> dict[str, str]:
    """The variant's options (``axis=option, ...``) over the spec's defaults."""
    from trainspec import reference

    entry = reference.get(spec_id)
    opts = {a.name: a.options[0].name for a in entry.variant_axes}
    if variant and variant != "default":
        for part in variant.split(", "):
            axis, _, option = part.partition("=")
            if axis not in opts:
                raise ReproError(f"variant {variant!r}: {spec_id} has no axis {axis!r}")
            opts[axis] = option
    return opts


def _unsupported(
    spec_id: str, opts: Mapping[str, str], allowed: Mapping[str, tuple[str, ...]]
) -> None:
    """A ReproError for a variant option that :data:`EXPECTED` does not write (those of axes not
    in ``allowed`` must be the default)."""
    defaults = _options(spec_id, "default")
    bad = {k: v for k, v in opts.items() if k in allowed and v not in allowed[k]}
    bad |= {k: v for k, v in opts.items() if k not in allowed and v != defaults[k]}
    if bad:
        raise ReproError(
            f"variant: repro writes {spec_id} for {dict(allowed)}; not for {bad} "
            "(add it to trainspec.conformance.repro.EXPECTED)"
        )


def _rmsprop(variant: str) -> tuple[str, str]:
    o = _options("opt.rmsprop", variant)
    _unsupported(
        "opt.rmsprop",
        o,
        {
            "eps": ("outside", "inside"),
            "centered": ("plain", "centered"),
            "momentum_form": ("eta_inside", "eta_outside"),
        },
    )
    centered, inside, outside_form = (
        o["centered"] == "centered",
        o["eps"] == "inside",
        o["momentum_form"] == "eta_outside",
    )
    d = "s - a * a" if centered else "s"
    denom = f"np.sqrt({d} + eps)" if inside else f"(np.sqrt({d}) + eps)"
    formula = (
        "s <- rho s + (1 - rho) g^2"
        + ("; a <- rho a + (1 - rho) g" if centered else "")
        + f"; D = {denom.replace('np.', '')}; "
        + (
            "b <- mu b + g / D; theta <- theta - eta_t b"
            if outside_form
            else "v <- mu v - eta_t g / D; theta <- theta + v"
        )
    )
    code = _OPT_HEAD + "\n".join(
        "    " + line
        for line in [
            'rho, eps, mu = float(hp["rho"]), float(hp["eps"]), float(hp.get("momentum", 0.0))',
            's, a = buf("square_avg", key, theta), buf("grad_avg", key, theta)',
            'b = buf("momentum_buffer", key, theta)',
            "v = -lrs[0] * b  # eta_inside stores eta * b (loaded at the first step's rate)",
            "for lr, grads in zip(lrs, CASE['grads']):",
            "    g = np.asarray(grads[key], dtype=np.float64)",
            "    s = rho * s + (1.0 - rho) * g * g",
            "    a = rho * a + (1.0 - rho) * g" if centered else "    pass",
            f"    D = {denom}",
            *(
                ["    b = mu * b + g / D", "    theta = theta - lr * b"]
                if outside_form
                else ["    v = mu * v - lr * g / D", "    theta = theta + v"]
            ),
            "EXPECTED[key] = theta",
        ]
    )
    return formula, code + "\n"


def _adam(spec_id: str, variant: str) -> tuple[str, str]:
    o = _options(spec_id, variant)
    allowed = {
        "eps": ("outside", "inside", "eps_hat"),
        "amsgrad": ("off", "max_uncorrected", "max_corrected", "max_never_corrected"),
        "bias_correction": ("on", "off"),
        "decay_scaling": ("lr_times_lambda", "lambda_only"),
    }
    _unsupported(spec_id, o, allowed)
    eps, ams = o.get("eps", "outside"), o.get("amsgrad", "off")
    if eps == "eps_hat" and ams in ("max_corrected", "max_never_corrected"):
        raise ReproError(f"variant: repro does not write eps=eps_hat with amsgrad={ams}")
    corrected = o.get("bias_correction", "on") == "on"
    c1 = "(1.0 - b1**t)" if corrected else "1.0"
    c2 = "(1.0 - b2**t)" if corrected else "1.0"
    shat = {
        "off": f"v / {c2}",
        "max_uncorrected": f"vmax / {c2}",
        "max_corrected": "vmax",
        "max_never_corrected": "vmax",
    }[ams]
    vmax_update = {
        "off": "vmax = vmax",
        "max_uncorrected": "vmax = np.maximum(vmax, v)",
        "max_corrected": f"vmax = np.maximum(vmax, v / {c2})",
        "max_never_corrected": "vmax = np.maximum(vmax, v)",
    }[ams]
    if eps == "outside":
        step = f"lr * (m / {c1}) / (np.sqrt({shat}) + eps)"
    elif eps == "inside":
        step = f"lr * (m / {c1}) / np.sqrt({shat} + eps)"
    else:
        step = f"lr * np.sqrt({c2}) / {c1} * m / (np.sqrt({shat.replace(f' / {c2}', '')}) + eps)"
    decoupled = spec_id == "opt.adamw"
    decay = "lr * wd * theta" if o.get("decay_scaling") != "lambda_only" else "wd * theta"
    formula = (
        "m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; "
        + (f"{vmax_update.replace('np.', '')}; " if ams != "off" else "")
        + f"theta <- theta - {step.replace('np.', '')}"
        + (f"; theta <- theta - {decay.replace(' * ', ' ')} (decoupled)" if decoupled else "")
        + "; t = count + step number"
    )
    code = _OPT_HEAD + "\n".join(
        "    " + line
        for line in [
            'b1, b2, eps = float(hp["beta1"]), float(hp["beta2"]), float(hp["eps"])',
            'wd = float(hp.get("weight_decay", 0.0))',
            'm, v, vmax = buf("m", key, theta), buf("v", key, theta), buf("v_max", key, theta)',
            "for k, (lr, grads) in enumerate(zip(lrs, CASE['grads'])):",
            "    t = count0 + k + 1",
            "    g = np.asarray(grads[key], dtype=np.float64)",
            "    m = b1 * m + (1.0 - b1) * g",
            "    v = b2 * v + (1.0 - b2) * g * g",
            f"    {vmax_update}",
            f"    theta = theta - {step}" + (f" - {decay}" if decoupled else ""),
            "EXPECTED[key] = theta",
        ]
    )
    return formula, code + "\n"


def _weight_decay(variant: str) -> tuple[str, str]:
    o = _options("opt.weight_decay", variant)
    _unsupported(
        "opt.weight_decay",
        o,
        {
            "decay": ("l2_gradient", "l2_gradient_2lambda", "decoupled", "decoupled_unscaled"),
            "momentum_form": ("eta_inside", "eta_outside"),
        },
    )
    decay, outside_form = o["decay"], o["momentum_form"] == "eta_outside"
    l2 = {"l2_gradient": "g + wd * theta", "l2_gradient_2lambda": "g + 2.0 * wd * theta"}
    grad = l2.get(decay, "g")
    coupled = {"decoupled": " - lr * wd * theta", "decoupled_unscaled": " - wd * theta"}
    decoupled = coupled.get(decay, "")
    formula = (
        (f"g <- {grad.replace(' * ', ' ')}; " if decay in l2 else "")
        + ("b <- mu b + g; u = -eta_t b" if outside_form else "v <- mu v - eta_t g; u = v")
        + f"; theta <- theta + u{decoupled.replace(' * ', ' ').replace('lr', 'eta_t')}"
        + (" (decoupled, theta before the step)" if decoupled else "")
    )
    code = _OPT_HEAD + "\n".join(
        "    " + line
        for line in [
            'mu, wd = float(hp.get("momentum", 0.0)), float(hp["weight_decay"])',
            'b = buf("trace", key, theta)',
            "v = -lrs[0] * b  # eta_inside stores -eta b (loaded at the first step's rate)",
            "for lr, grads in zip(lrs, CASE['grads']):",
            "    g = np.asarray(grads[key], dtype=np.float64)",
            f"    g = {grad}",
            *(
                ["    b = mu * b + g", "    u = -lr * b"]
                if outside_form
                else ["    v = mu * v - lr * g", "    u = v"]
            ),
            f"    theta = theta + u{decoupled}",
            "EXPECTED[key] = theta",
        ]
    )
    return formula, code + "\n"


def _nadam(variant: str) -> tuple[str, str]:
    o = _options("opt.nadam", variant)
    _unsupported("opt.nadam", o, {"momentum_schedule": ("dozat_decay",)})
    formula = (
        "mu_t = b1 (1 - 0.96^(t psi) / 2); Pi_t = prod_{i<=t} mu_i; m <- b1 m + (1 - b1) g; "
        "v <- b2 v + (1 - b2) g^2; m_hat = mu_{t+1} m / (1 - Pi_t mu_{t+1}) + (1 - mu_t) g / "
        "(1 - Pi_t); theta <- theta - lr m_hat / (sqrt(v / (1 - b2^t)) + eps)"
    )
    code = _OPT_HEAD + "\n".join(
        "    " + line
        for line in [
            'b1, b2, eps = float(hp["beta1"]), float(hp["beta2"]), float(hp["eps"])',
            'psi = float(hp["momentum_decay"])',
            "mu = lambda i: b1 * (1.0 - 0.5 * 0.96 ** (i * psi))",
            "pi = 1.0",
            "for i in range(1, count0 + 1):",
            "    pi *= mu(i)",
            'm, v = buf("m", key, theta), buf("v", key, theta)',
            "for k, (lr, grads) in enumerate(zip(lrs, CASE['grads'])):",
            "    t = count0 + k + 1",
            "    g = np.asarray(grads[key], dtype=np.float64)",
            "    pi *= mu(t)",
            "    m = b1 * m + (1.0 - b1) * g",
            "    v = b2 * v + (1.0 - b2) * g * g",
            "    m_hat = mu(t + 1) * m / (1.0 - pi * mu(t + 1)) + (1.0 - mu(t)) * g / (1.0 - pi)",
            "    theta = theta - lr * m_hat / (np.sqrt(v / (1.0 - b2**t)) + eps)",
            "EXPECTED[key] = theta",
        ]
    )
    return formula, code + "\n"


def _selu(variant: str) -> tuple[str, str]:
    o = _options("act.selu", variant)
    _unsupported(
        "act.selu",
        o,
        {
            "negative_branch": ("z_lt_0", "z_le_0"),
            "evaluation": ("expm1", "exp_minus_one"),
            "subnormals": ("kept", "flushed"),
            "nan_derivative": ("nan", "any"),
        },
    )
    le = o["negative_branch"] == "z_le_0"
    neg = "z <= 0" if le else "z < 0"
    em1 = "np.expm1(z)" if o["evaluation"] == "expm1" else "(np.exp(z) - 1.0)"
    formula = (
        f"f(z) = lam z (z {'>' if le else '>='} 0), lam alpha "
        f"{'expm1(z)' if o['evaluation'] == 'expm1' else '(e^z - 1)'} ({neg}); "
        f"f'(z) = lam, lam alpha e^z ({neg}); lam = 1.0507009873554805, alpha = 1.6732632423543772"
    )
    code = f"""\
lam, alpha = 1.0507009873554805, 1.6732632423543772
z = np.asarray(CASE["z"], dtype=np.float64)
neg = {neg}
with np.errstate(all="ignore"):
    if CASE["check"] == "values":
        EXPECTED = {{"y": np.where(neg, lam * alpha * {em1}, lam * z)}}
    else:
        cot = np.ones_like(z) if CASE.get("cotangent") is None else np.asarray(CASE["cotangent"])
        EXPECTED = {{"z": cot * np.where(neg, lam * alpha * np.exp(z), lam)}}
"""
    return formula, code


def _prelu(variant: str) -> tuple[str, str]:
    o = _options("act.prelu", variant)
    at_zero = o.get("derivative_at_zero", "alpha")
    zero = {"alpha": "alpha", "one": "1.0", "zero": "0.0"}[at_zero]
    formula = (
        "f(z) = z (z > 0), alpha z (z <= 0); df/dz = 1 (z > 0), alpha (z < 0), "
        f"{zero} (z = 0); the slope's cotangent sum_i g_i min(z_i, 0)"
    )
    code = f"""\
alpha = float(CASE["hyperparameters"]["alpha"])
z = np.asarray(CASE["z"], dtype=np.float64)
with np.errstate(all="ignore"):
    if CASE["check"] == "values":
        EXPECTED = {{"y": np.where(z > 0, z, alpha * z)}}
    else:
        cot = np.ones_like(z) if CASE.get("cotangent") is None else np.asarray(CASE["cotangent"])
        dz = np.where(z > 0, 1.0, np.where(z < 0, alpha, {zero}))
        dz = np.where(np.isnan(z), np.nan, dz)
        EXPECTED = {{"z": cot * dz, "alpha": np.sum(np.where(z < 0, cot * z, 0.0))}}
"""
    return formula, code


def _exponential(variant: str) -> tuple[str, str]:
    o = _options("sched.exponential", variant)
    stair = o.get("staircase") == "staircase"
    p = "np.floor(t / s)" if stair else "t / s"
    formula = f"eta_t = eta0 r^p, p = {'floor(t/s)' if stair else 't/s'}"
    code = f"""\
hp = CASE["hyperparameters"]
eta0, r, s = float(hp["learning_rate"]), float(hp["decay_rate"]), float(hp["decay_steps"])
t = np.asarray(CASE["steps"], dtype=np.float64)
EXPECTED = {{"lr": eta0 * r ** ({p})}}
"""
    return formula, code


def _legacy_decay(variant: str) -> tuple[str, str]:
    _options("opt.legacy_decay", variant)
    code = """\
hp = CASE["hyperparameters"]
t = np.asarray(CASE["steps"], dtype=np.float64)
EXPECTED = {"lr": float(hp["learning_rate"]) / (1.0 + float(hp["decay"]) * t)}
"""
    return "eta_t = eta0 / (1 + d t), t the number of updates taken", code


def _plateau(variant: str) -> tuple[str, str]:
    o = _options("sched.plateau", variant)
    _unsupported(
        "sched.plateau",
        o,
        {
            "threshold_mode": ("relative", "absolute"),
            "mode": ("min", "max"),
            "patience_count": ("reaches", "exceeds"),
            "cooldown_count": ("full", "one_less"),
        },
    )
    rel, mn = o["threshold_mode"] == "relative", o["mode"] == "min"
    better = (
        ("x < best * (1 - e)" if rel else "x < best - e")
        if mn
        else ("x > best * (1 + e)" if rel else "x > best + e")
    )
    due = "bad > pat" if o["patience_count"] == "exceeds" else "bad >= max(pat, 1)"
    formula = (
        f"after each metric x: improvement if {better} (best m*); n <- 0 on an improvement, "
        f"else n + 1; the counter is held at 0 for the {'C' if o['cooldown_count'] == 'full' else 'C - 1'}"
        f" checks after a reduction; reduce when {due.replace('bad', 'n').replace('pat', 'P')}: "
        "eta <- max(factor eta, min_lr)"
    )
    full = o["cooldown_count"] == "full"
    code = f"""\
hp = CASE["hyperparameters"]
lr, lam = float(hp["learning_rate"]), float(hp["factor"])
pat, cool, e = int(hp["patience"]), int(hp["cooldown"]), float(hp["threshold"])
lr_min = float(hp["min_learning_rate"])
best, bad, left, lrs = None, 0, 0, []
for x in CASE["metrics"]:
    x = float(x)
    improved = best is None or {better}
    if {full!r}:
        best, bad = (x, 0) if improved else (best, bad + 1)
        if left > 0:
            left, bad = left - 1, 0
        if {due}:
            lr, bad, left = max(lr * lam, lr_min), 0, cool
    else:
        if left > 0:
            left, bad = left - 1, 0
        if improved:
            best, bad = x, 0
        elif left == 0:
            bad += 1
        if left == 0 and bad > 0 and {due}:
            lr, bad, left = max(lr * lam, lr_min), 0, cool
    lrs.append(lr)
EXPECTED = {{"lr": np.asarray(lrs)}}
"""
    return formula, code


#: spec ID -> variant -> (the formula in words, NumPy code that sets ``EXPECTED`` from ``CASE``)
EXPECTED: dict[str, Callable[[str], tuple[str, str]]] = {
    "opt.rmsprop": _rmsprop,
    "opt.adam": lambda v: _adam("opt.adam", v),
    "opt.adamw": lambda v: _adam("opt.adamw", v),
    "opt.nadam": _nadam,
    "opt.weight_decay": _weight_decay,
    "act.selu": _selu,
    "act.prelu": _prelu,
    "sched.exponential": _exponential,
    "sched.plateau": _plateau,
    "opt.legacy_decay": _legacy_decay,
}


def expected_code(spec_id: str, variant: str) -> tuple[str, str]:
    """The formula (text) and the NumPy code of ``spec_id``'s ``variant``, or a ReproError."""
    if spec_id not in EXPECTED:
        raise ReproError(
            f"spec: repro has no NumPy formula for {spec_id!r} (it writes {sorted(EXPECTED)})"
        )
    return EXPECTED[spec_id](variant or "default")


# --- the script -----------------------------------------------------------------------------------


def example_of(check: str, case: Any) -> dict[str, Any]:
    """A kind's case as a repro example (``{"check": ..., **case.summary()}``): how a finding's
    ``examples`` (:class:`~trainspec.conformance.adapter.Finding`) become its script's ``CASE``."""
    summary = getattr(case, "summary", None)
    if summary is None:
        raise ReproError(f"case: {type(case).__name__} has no summary() to write a repro from")
    return {"check": check, **summary()}


def python_literal(x: Any) -> str:
    """``x`` (JSON-like: dicts, lists, numbers, strings; ``"nan"``/``"inf"`` strings as the report
    writes non-finite numbers) as a Python literal, floats exactly (``repr``)."""
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{k!r}: {python_literal(v)}" for k, v in x.items()) + "}"
    if isinstance(x, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in x) + "]"
    if isinstance(x, bool) or x is None:
        return repr(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "float('nan')"
        if math.isinf(x):
            return "float('inf')" if x > 0 else "-float('inf')"
        return repr(x)
    if x in ("nan", "inf", "-inf"):
        return f"float({x!r})"
    if hasattr(x, "tolist"):
        return python_literal(x.tolist())
    return repr(x)


def _is_summary(x: Any) -> bool:
    """Whether a counterexample holds an array summary (``summarize_array``'s shape, extremes and
    first values of an array of more than 8 elements): not the input itself."""
    if isinstance(x, Mapping):
        if "shape" in x and "head" in x:
            return True
        return any(_is_summary(v) for v in x.values())
    if isinstance(x, list):
        return any(_is_summary(v) for v in x)
    return False


_COMPARE = """\
# the comparison: NaN equals NaN, an infinity itself, otherwise |got - expected| <= tolerance
def _show(a):
    a = np.asarray(a, dtype=np.float64)
    return np.array2string(a.ravel()[:16], precision=17) + (" ..." if a.size > 16 else "")


bad = []
for key in sorted(EXPECTED):
    want = np.asarray(EXPECTED[key], dtype=np.float64)
    got = np.asarray(GOT[key], dtype=np.float64).reshape(want.shape)
    tol = TOLERANCE if TOLERANCE is not None else 16 * UNIT * np.maximum(1.0, np.abs(want))
    with np.errstate(all="ignore"):
        ok = (got == want) | (np.isnan(got) & np.isnan(want)) | (np.abs(got - want) <= tol)
    print(f"{key}: framework {_show(got)}")
    print(f"{key}: expected  {_show(want)}")
    if not np.all(ok):
        k = int(np.argmin(ok.ravel()))
        bad.append(f"{key}[{k}]: framework {float(got.ravel()[k])!r}, expected {float(want.ravel()[k])!r}")
if bad:
    told = f"{TOLERANCE!r} (absolute)" if TOLERANCE is not None else "16 units of roundoff (relative)"
    print(f"DISCREPANCY beyond the tolerance {told}:", "; ".join(bad))
    sys.exit(1)
print("no discrepancy: the framework agrees with the formula within the tolerance")
"""

_UNIT = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}


def script(
    row: Mapping[str, Any],
    call: ReproCall,
    *,
    variant: str | None = None,
    finding_text: str = "",
) -> str:
    r"""The standalone script for ``row`` (a report.json row) with ``call``'s framework code.

    ``variant``: the spec variant whose formula gives the expected value (default: the row's
    variant when its verdict is ``variant``, else the spec's default form).
    """
    spec, dtype = row["spec_id"], row["dtype"]
    if dtype not in _UNIT:
        raise ReproError(f"dtype: {dtype!r} has no repro (one of {sorted(_UNIT)})")
    if variant is None:
        variant = row.get("variant") if row.get("verdict") == "variant" else call.variant
    # a float64 row computed in float32 (precision=float32_internal): the expected value is the
    # entry's own variant in float64, the discrepancy the framework's float32 rounding
    variant = ", ".join(
        p for p in (variant or "").split(", ") if p and not p.startswith(f"{precision.AXIS.name}=")
    ) or ("default" if variant else variant)
    formula, expected = expected_code(spec, variant or "default")
    case = dict(call.case)
    tol = row.get("tolerance") if row.get("counterexample") else None
    if tol is None or (isinstance(tol, float) and not math.isfinite(tol)):
        tol = call.tolerance
    finding = finding_text or (row.get("message", "") if row.get("finding") else "")
    doc = [
        f"{spec} on {row['backend']}: {row['implementation']} ({dtype}, {row['device']}).",
        "",
        "Standalone reproduction written by `trainspec repro`: it needs only the framework and",
        "NumPy. It runs the example CASE through the framework as the conformance kit does,",
        "computes the expected value in float64 with NumPy from the formula below, prints both",
        "and exits 1 (printing DISCREPANCY) where they differ beyond the tolerance.",
        "",
        f"Formula ({spec}, variant {variant or 'default'}): {formula}",
    ]
    if finding:
        doc += ["", "Known finding: " + finding]
    if row.get("message") and not finding:
        doc += ["", "The kit's verdict: " + str(row["message"]).splitlines()[0]]
    body = [
        '"""' + "\n".join(doc).replace('"""', "'''").replace("\\", "\\\\") + '\n"""',
        "",
        "import sys",
        "",
        "import numpy as np",
        "",
        call.imports.rstrip(),
        "",
        f"CASE = {python_literal(case)}",
        f"DTYPE = {dtype!r}",
        f"DEVICE = {row['device']!r}",
        f"TOLERANCE = {tol!r}  # absolute; None: 16 units of roundoff of DTYPE, relative",
        f"UNIT = {_UNIT[dtype]!r}  # the unit roundoff of DTYPE",
        "",
        f'print("versions:", {call.versions}, "| numpy", np.__version__, "| python", sys.version.split()[0])',
        f'print("formula ({spec}, {variant or "default"}):", {formula!r})',
        "",
        "# the framework, called as the conformance kit's adapter calls it",
        call.call.rstrip(),
        "",
        "# the expected value: the formula in NumPy, float64",
        expected.rstrip(),
        "",
        _COMPARE.rstrip(),
        "",
    ]
    return "\n".join(body)


# --- rows -----------------------------------------------------------------------------------------


def find_row(
    report: Mapping[str, Any],
    *,
    row_id: str | None = None,
    spec: str | None = None,
    impl: str | None = None,
    backend: str | None = None,
    dtype: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The one row of ``report`` named by ``row_id`` (``backend/spec/impl/dtype/device``) or by
    the fields; a ReproError naming what matched when not exactly one row does."""
    if row_id is not None:
        parts = row_id.split("/")
        if len(parts) < 5:
            raise ReproError(f"row: {row_id!r} must be backend/spec/implementation/dtype/device")
        backend, spec, dtype, device = parts[0], parts[1], parts[-2], parts[-1]
        impl = "/".join(parts[2:-2])
    hits = [
        r
        for r in report.get("results", [])
        if (spec is None or r["spec_id"] == spec)
        and (impl is None or r["implementation"] == impl)
        and (backend is None or r["backend"] == backend)
        and (dtype is None or r["dtype"] == dtype)
        and r["device"] == device
    ]
    if len(hits) != 1:
        names = sorted(
            {
                f"{r['backend']}/{r['spec_id']}/{r['implementation']}/{r['dtype']}/{r['device']}"
                for r in hits
            }
        )
        raise ReproError(
            f"row: {len(hits)} rows match (need exactly one; name --spec, --impl, --backend, "
            f"--dtype): {names[:10]}"
        )
    return dict(hits[0])


def finding_rows(adapter: Any) -> list[tuple[Any, str, Any]]:
    """Every (implementation, dtype, finding) an adapter declares, dtypes ``"*"`` expanded."""
    out = []
    for impl in adapter.implementations():
        for dtype in impl.dtypes:
            f = impl.finding(dtype)
            if f is not None:
                out.append((impl, dtype, f))
    return out


def row_for(adapter: Any, impl: Any, dtype: str, device: str = "cpu") -> dict[str, Any]:
    """A report row's fields for an implementation not measured (the finding's repro)."""
    f = impl.finding(dtype)
    return {
        "spec_id": impl.spec_id,
        "backend": adapter.name,
        "implementation": impl.name,
        "dtype": dtype,
        "device": device,
        "verdict": "diverges",
        "variant": "default",
        "counterexample": None,
        "tolerance": None,
        "finding": f.id if f else None,
        "message": f"finding: {f.text}" if f else "",
    }


def generate(
    adapter: Any,
    row: Mapping[str, Any],
    *,
    variant: str | None = None,
) -> str:
    """The script for ``row`` of ``adapter``'s backend (see :func:`script`)."""
    impls = [
        i
        for i in adapter.implementations()
        if i.spec_id == row["spec_id"] and i.name == row["implementation"]
    ]
    if not impls:
        raise ReproError(
            f"row: backend {adapter.name!r} has no implementation {row['implementation']!r} "
            f"of {row['spec_id']}"
        )
    impl = impls[0]
    case = row.get("counterexample")
    if case is not None and _is_summary(case):
        case = None  # a summary is not the input: the finding's minimal example stands in
    call = adapter.repro_call(impl, row["dtype"], row["device"], case)
    if call is None:
        raise ReproError(
            f"implementation: {adapter.name} writes no repro for {impl.name!r} "
            f"({row['spec_id']}); its adapter's repro_call returns None"
        )
    f = impl.finding(row["dtype"])
    return script(row, call, variant=variant, finding_text=f.text if f else "")


def load_report(path: str) -> dict[str, Any]:
    """A report.json, or a ReproError naming the file."""
    try:
        with open(path) as fh:
            data: dict[str, Any] = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise ReproError(f"--report: cannot read {path}: {e}") from e
    if not isinstance(data, dict) or "results" not in data:
        raise ReproError(f"--report: {path} is not a report.json (no 'results')")
    return data


REPRO_HELP = """\
Write a standalone Python script (the framework and NumPy only) that reproduces one row: it
builds the row's counterexample in full, calls the framework as the adapter does, computes the
expected value with NumPy (float64) from the spec's formula (for an optimizer the update rule of
the row's variant), prints both, the formula and the versions, and exits 1 printing DISCREPANCY
where they differ beyond the kit's tolerance. A row is named by --row
backend/spec/implementation/dtype/device of a --report, or by --backend, --spec, --impl and
--dtype; a row without a stored counterexample (a known finding's hits) uses the finding's
minimal example. Run it in the backend's environment (e.g. tox exec -e torch -- trainspec
repro ...): the adapter is loaded to write the call.

  trainspec repro --report docs/reports/cpu/report.json \\
      --row 'torch/opt.rmsprop/RMSprop(centered=True)[foreach]/float32/cpu' -o repro.py
  trainspec repro --backend jax --spec sched.plateau \\
      --impl 'contrib.reduce_on_plateau(rtol)' --dtype float32
"""


def add_parser(sub: Any) -> None:
    """The ``trainspec repro`` subcommand's options (``sub``: argparse's subparsers)."""
    import argparse

    r = sub.add_parser(
        "repro",
        help="write a standalone framework+NumPy script that reproduces a row or a finding",
        description=REPRO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--report", help="a report.json holding the row")
    r.add_argument("--row", help="backend/spec/implementation/dtype/device (with --report)")
    r.add_argument("--backend", help="the backend (e.g. torch, tensorflow, jax)")
    r.add_argument("--spec", help="the spec ID (e.g. opt.rmsprop)")
    r.add_argument("--impl", help="the implementation's name as the report writes it")
    r.add_argument("--dtype", help="float64, float32, float16 or bfloat16")
    r.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    r.add_argument("--variant", help="the variant whose formula is expected (default: the row's)")
    r.add_argument("-o", "--output", help="write the script here (default: stdout)")


def cmd_repro(args: Any) -> int:
    """``trainspec repro``: 0 when the script is written, 2 for a usage error (the message names
    the argument)."""
    import sys

    from trainspec.conformance.discovery import load_adapters

    try:
        if args.report:
            row = find_row(
                load_report(args.report),
                row_id=args.row,
                spec=args.spec,
                impl=args.impl,
                backend=args.backend,
                dtype=args.dtype,
                device=args.device,
            )
        elif args.row:
            raise ReproError("--row: names a row of a --report (give --report)")
        else:
            missing = [n for n in ("backend", "spec", "impl", "dtype") if not getattr(args, n)]
            if missing:
                raise ReproError(
                    f"--{missing[0]}: without --report, --backend, --spec, --impl and --dtype "
                    "name the row"
                )
            row = None
        backend = row["backend"] if row else args.backend
        try:
            adapters, failed = load_adapters([backend])
        except ValueError as e:
            raise ReproError(str(e)) from e
        if backend not in adapters:
            raise ReproError(f"--backend: {backend} cannot be loaded here: {failed.get(backend)}")
        adapter = adapters[backend]
        if row is None:
            impls = [
                i
                for i in adapter.implementations()
                if i.spec_id == args.spec and i.name == args.impl
            ]
            if not impls:
                raise ReproError(f"--impl: {backend} has no {args.impl!r} of {args.spec}")
            row = row_for(adapter, impls[0], args.dtype, args.device)
        text = generate(adapter, row, variant=args.variant)
    except ReproError as e:
        print(f"trainspec repro: {e}", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        print(f"trainspec repro: wrote {args.output} (run it with python; exit 1 = discrepancy)")
    else:
        sys.stdout.write(text)
    return 0


def representatives(adapter: Any, device: str = "cpu") -> list[tuple[Any, str]]:
    """One (implementation, dtype) per (finding id, spec ID) that ``adapter`` declares on
    ``device``: the reproductions a test runs (float32 first, as findings show there most)."""
    order = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
    out: dict[tuple[str, str], tuple[Any, str]] = {}
    for impl, dtype, f in sorted(
        finding_rows(adapter), key=lambda t: (t[0].spec_id, t[0].name, order.get(t[1], 9))
    ):
        if device in impl.devices:
            out.setdefault((f.id, impl.spec_id), (impl, dtype))
    return list(out.values())


def unreproducible_findings(
    adapter: Any, check: Callable[[Any, str, str], str | None] | None = None
) -> list[str]:
    """What is wrong with the repro of each finding ``adapter`` declares, one line each (``[]``:
    every finding has a script that compiles, imports no trainspec and quotes the finding).
    ``check(impl, dtype, source)`` adds a backend's own rule (a message, or ``None``). An
    adapter's test suite asserts this is empty, so a finding added without a repro fails."""
    rows = finding_rows(adapter)
    if not rows:
        return [f"{adapter.name}: the adapter declares no finding"]
    out = []
    for impl, dtype, finding in rows:
        device = "cpu" if "cpu" in impl.devices else impl.devices[0]
        where = f"{impl.name} ({dtype})"
        try:
            source = generate(adapter, row_for(adapter, impl, dtype, device))
            compile(source, f"repro of {where}", "exec")
        except (ReproError, SyntaxError) as exc:
            out.append(f"{where}: {exc}")
            continue
        if imports_trainspec(source):
            out.append(f"{where}: the script imports trainspec")
        if finding.text.split(":")[0][:40].replace('"""', "") not in source:
            out.append(f"{where}: the script does not quote finding {finding.id}")
        extra = check(impl, dtype, source) if check is not None else None
        if extra:
            out.append(f"{where}: {extra}")
    return out


def unreproduced_findings(
    adapter: Any,
    directory: Any,
    check: Callable[[Any, str, str], str | None] | None = None,
) -> list[str]:
    """Run the repro of one implementation per CPU finding of ``adapter``
    (:func:`representatives`) in ``directory``; what failed, one entry each (``[]``: every script
    exited 1 with ``DISCREPANCY``). ``check(impl, dtype, output)`` adds a backend's own rule."""
    picked = representatives(adapter)
    declared = {f.id for i, _d, f in finding_rows(adapter) if "cpu" in i.devices}
    missing = declared - {impl.finding(dtype).id for impl, dtype in picked}
    out = [f"findings without a representative: {sorted(missing)}"] if missing else []
    for impl, dtype in picked:
        try:
            source = generate(adapter, row_for(adapter, impl, dtype))
        except ReproError as exc:
            out.append(f"{impl.name} ({dtype}): {exc}")
            continue
        rc, text = run_script(source, directory)
        if rc != 1 or "DISCREPANCY" not in text:
            out.append(f"{impl.name} ({dtype}): exit {rc}\n{text[-2000:]}")
            continue
        extra = check(impl, dtype, text) if check is not None else None
        if extra:
            out.append(f"{impl.name} ({dtype}): {extra}")
    return out


def imports_trainspec(source: str) -> bool:
    """Whether a script's source imports trainspec (a standalone one must not)."""
    import ast

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "trainspec" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "trainspec":
            return True
    return False


def run_script(source: str, directory: Any, python: str | None = None) -> tuple[int, str]:
    """Run ``source`` as ``python -I`` (isolated: no user site, no PYTHONPATH, the script's own
    folder first on the path) in ``directory``; its exit status and its output."""
    import subprocess
    import sys
    from pathlib import Path

    path = Path(directory) / "repro.py"
    path.write_text(source)
    done = subprocess.run(
        [python or sys.executable, "-I", str(path)],
        capture_output=True,
        text=True,
        cwd=str(directory),
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr
