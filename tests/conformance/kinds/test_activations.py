"""The activation kind, exercised with NumPy implementations computed in the dtype under test
(honest ones, and deliberately wrong ones that the kit must catch)."""

import numpy as np
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.activations import (
    REGIONS,
    TRAINING_BLOCK,
    ActivationCase,
    edge_values,
    hard_values,
    reference_outputs,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import representable

NP = {"float32": np.float32, "float64": np.float64}


def elementwise(value, derivative, *, ftz=False):
    """An implementation from NumPy functions of z (computed in the dtype); ``ftz`` flushes
    subnormal inputs and results as a processor in FTZ/DAZ mode does."""

    def run(case, dtype, device):
        t = NP[dtype]
        tiny = np.finfo(t).tiny
        z = case.z.astype(t)
        with np.errstate(all="ignore"):
            if ftz:
                z = np.where(np.abs(z) < tiny, t(0) * z, z)
            if case.check == "values":
                out = {"y": value(z, t, case.hyperparameters)}
            else:
                out = {"z": derivative(z, t, case.hyperparameters) * case.cotangent.astype(t)}
            if ftz:
                out = {k: np.where(np.abs(v) < tiny, t(0) * v, v) for k, v in out.items()}
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    return run


def leaky_value(z, t, hp):
    return np.where(z > 0, z, t(hp["alpha"]) * z)


def leaky_derivative(z, t, hp, at_zero="alpha"):
    a = t(hp["alpha"])
    zero = {"alpha": a, "one": t(1)}[at_zero]
    d = np.where(z > 0, t(1), np.where(z < 0, a, zero))
    return np.where(np.isnan(z), z, d)


def sigmoid_stable(z, t, hp):
    return np.where(z >= 0, t(1) / (t(1) + np.exp(-z)), np.exp(z) / (t(1) + np.exp(z)))


def sigmoid_naive_overflow(z, t, hp):
    return np.exp(z) / (t(1) + np.exp(z))  # NaN where exp(z) overflows


def sigmoid_derivative(z, t, hp):
    s = sigmoid_stable(z, t, hp)
    return s * (t(1) - s)


def elu_value(z, t, hp):
    return np.where(z > 0, z, t(hp["alpha"]) * np.expm1(z))


def elu_derivative_le(z, t, hp):
    d = np.where(z > 0, t(1), t(hp["alpha"]) * np.exp(z))
    return np.where(np.isnan(z), z, d)


def softmax_values(shifted):
    def value(z, t, hp):
        m = np.max(z, axis=-1, keepdims=True) if shifted else t(0)
        e = np.exp(np.where(z == -np.inf, z, z - m))
        return e / np.sum(e, axis=-1, keepdims=True)

    return value


def softmax_run(shifted=True):
    def run(case, dtype, device):
        t = NP[dtype]
        z = case.z.astype(t)
        with np.errstate(all="ignore"):
            s = softmax_values(shifted)(z, t, {})
            if case.check == "values":
                return {"y": s.astype(np.float64)}
            g = case.cotangent.astype(t)
            return {"z": (s * (g - np.sum(g * s, axis=-1, keepdims=True))).astype(np.float64)}

    return run


def impl(spec_id, run, **options):
    return Implementation(spec_id, "numpy", run, devices=("cpu",), options=options)


def row(spec_id, implementation, dtype="float32", profile="quick"):
    return check_row(reference.get(spec_id), implementation, "numpy", dtype, "cpu", profile=profile)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_honest_leaky_relu_conforms(dtype):
    r = row(
        "act.leaky_relu", impl("act.leaky_relu", elementwise(leaky_value, leaky_derivative)), dtype
    )
    assert r.verdict == "conforms", r


def test_a_derivative_of_one_at_zero_is_reported_as_that_variant():
    d = lambda z, t, hp: leaky_derivative(z, t, hp, at_zero="one")  # noqa: E731
    r = row("act.leaky_relu", impl("act.leaky_relu", elementwise(leaky_value, d)))
    assert r.verdict == "variant" and r.variant == "derivative_at_zero=one", r


def test_flush_to_zero_is_reported_as_that_variant():
    r = row(
        "act.leaky_relu",
        impl("act.leaky_relu", elementwise(leaky_value, leaky_derivative, ftz=True)),
    )
    assert r.verdict == "variant" and "subnormals=flushed" in r.variant, r


def test_leaky_slope_on_the_wrong_side_diverges():
    wrong = lambda z, t, hp: np.where(z > 0, t(hp["alpha"]) * z, z)  # noqa: E731
    r = row("act.leaky_relu", impl("act.leaky_relu", elementwise(wrong, leaky_derivative)))
    assert r.verdict == "diverges" and r.counterexample["check"] == "values", r


def test_a_derivative_that_ignores_nan_is_the_any_variant():
    def d(z, t, hp):
        return np.where(z > 0, t(1), t(hp["alpha"]))  # a NaN input takes the negative slope

    r = row("act.leaky_relu", impl("act.leaky_relu", elementwise(leaky_value, d)), profile="ci")
    assert r.verdict == "variant" and "nan_derivative=any" in r.variant, r


def test_stable_sigmoid_conforms_and_the_naive_one_diverges():
    ok = row("act.sigmoid", impl("act.sigmoid", elementwise(sigmoid_stable, sigmoid_derivative)))
    assert ok.verdict == "conforms", ok
    bad = row(
        "act.sigmoid",
        impl("act.sigmoid", elementwise(sigmoid_naive_overflow, sigmoid_derivative)),
    )
    assert bad.verdict == "diverges", bad
    assert "nan" in bad.message.lower() or bad.counterexample


def test_elu_derivative_at_zero_tells_the_branches_apart():
    r = row("act.elu", impl("act.elu", elementwise(elu_value, elu_derivative_le)), profile="ci")
    assert r.verdict == "variant" and r.variant == "negative_branch=z_le_0", r


def test_softmax_with_the_max_subtracted_conforms_and_without_diverges():
    assert row("act.softmax", impl("act.softmax", softmax_run(True))).verdict == "conforms"
    bad = row("act.softmax", impl("act.softmax", softmax_run(False)))
    assert bad.verdict == "diverges", bad
    assert bad.counterexample["region"] != "typical"


def test_an_implementation_without_derivatives_is_checked_on_values():
    def run(case, dtype, device):
        assert case.check == "values", "derivatives must not be asked of it"
        z = case.z
        return {"y": np.where(np.isnan(z), z, np.where(z > 0, 1.0, np.where(z < 0, 0.0, 1.0)))}

    r = row("act.step", impl("act.step", run, derivatives=False))
    assert r.verdict == "conforms" and r.examples > 0, r
    # and it is still a check: the value at 0 of the perceptron step is the other form
    perceptron = impl(
        "act.step",
        lambda c, d, dev: {"y": np.where(np.isnan(c.z), c.z, (c.z > 0).astype(float))},
        derivatives=False,
    )
    r = row("act.step", perceptron)
    assert r.verdict == "variant" and r.variant == "form=perceptron", r


def rrelu_training(lower_shift=0.0):
    def run(case, dtype, device):
        t = NP[dtype]
        x = case.training_input().astype(t)
        rng = np.random.default_rng(case.seed + 1)
        lo, hi = case.hyperparameters["lower"], case.hyperparameters["upper"]
        a = rng.uniform(lo - lower_shift * (hi - lo), hi, x.shape).astype(t)
        with np.errstate(all="ignore"):
            if case.check == "values":
                return {"y": np.where(x > 0, x, a * x).astype(np.float64)}
            return {"z": np.where(x > 0, t(1), a).astype(np.float64)}

    return run


def test_rrelu_training_is_checked_statistically():
    ok = row("act.rrelu", impl("act.rrelu", rrelu_training(), mode="training"))
    assert ok.verdict == "conforms", ok
    bad = row("act.rrelu", impl("act.rrelu", rrelu_training(lower_shift=0.5), mode="training"))
    assert bad.verdict == "diverges", bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("region", REGIONS[1:])
def test_hard_values_are_representable_and_cover_their_region(region, dtype):
    x = np.concatenate([hard_values(region, (64,), dtype, s) for s in range(8)])
    assert representable(x, dtype)
    tiny = np.finfo(NP[dtype]).tiny
    if region == "near_zero":
        assert np.any(x == 0) and np.any((x != 0) & (np.abs(x) < tiny))
    if region == "full_range":
        assert np.nanmax(np.abs(x)) == np.finfo(NP[dtype]).max
    if region == "special":
        assert np.any(np.isnan(x)) and np.any(x == np.inf) and np.any(x == -np.inf)
    none = hard_values("special", (256,), dtype, 1, allow_nan=False, allow_posinf=False)
    assert not np.any(np.isnan(none)) and not np.any(none == np.inf)


def test_unknown_region_and_check_are_errors():
    with pytest.raises(ValueError, match="region"):
        hard_values("everywhere", (2,), "float32", 0)
    with pytest.raises(ValueError, match="check"):
        get_kind("activations").draw(None, reference.get("act.relu"), "float32", "speed")


def test_reference_saturates_beyond_the_dtype_and_flushes_in_its_variant():
    entry = reference.get("act.selu")
    big = np.finfo(np.float32).max
    case = ActivationCase("values", np.array([big, -1e-40]), None, {}, "special", 0)
    out = reference_outputs(entry, entry.default_variant.options, case, "float32", "values")
    assert out["y"].value[0] == np.inf  # lambda * max overflows float32
    # denormals-are-zero: H(-1e-40) reads H(0) = 1 under "flushed" only
    step = reference.get("act.step")
    case = ActivationCase("values", np.array([-1e-40, -1.0]), None, {}, "special", 0)
    kept = reference_outputs(step, step.default_variant.options, case, "float32", "values")
    flushed = reference_outputs(
        step, step.variant(subnormals="flushed").options, case, "float32", "values"
    )
    assert kept["y"].value[0] == 0.0 and kept["y"].err[0] < 1e-30
    assert flushed["y"].err[0] >= 0.5 and flushed["y"].err[1] < 1e-30


def test_training_input_appends_the_distribution_block():
    case = ActivationCase("values", np.array([1.0, -2.0]), None, {}, "typical", 5)
    x = case.training_input()
    assert x.shape == (2 + TRAINING_BLOCK,)
    assert np.all(x[2:] < 0)
    np.testing.assert_array_equal(x, case.training_input())


def test_daz_comparison_with_a_passing_selection_is_the_flushed_variant():
    """In denormals-are-zero mode ``where(z >= 0, z, alpha*z)`` reads a subnormal z as 0 and
    passes it through: the value is z itself, not alpha*z and not 0."""

    def value(z, t, hp):
        tiny = np.finfo(t).tiny
        read = np.where(np.abs(z) < tiny, t(0), z)  # what the comparison sees
        return np.where(read >= 0, z, t(hp["alpha"]) * z)

    def derivative(z, t, hp):
        tiny = np.finfo(t).tiny
        read = np.where(np.abs(z) < tiny, t(0), z)
        return np.where(np.isnan(z), z, np.where(read >= 0, t(1), t(hp["alpha"])))

    r = row("act.leaky_relu", impl("act.leaky_relu", elementwise(value, derivative)), profile="ci")
    assert r.verdict == "variant" and "subnormals=flushed" in r.variant, r
    assert "derivative_at_zero=one" in r.variant


def test_a_subnormal_softmax_output_scaled_by_a_large_cotangent_is_rounding():
    # s_0 = e^(-92.46) is subnormal in float32; the vjp multiplies its rounding by |g - <g, s>|
    z = np.array([-1.0847852230072021, -101.06535339355469, -92.89906311035156, 91.37361907958984])
    g = np.array([125.730224609375, -132.1048583984375, 104.90011596679688, -535.6693725585938])
    c = ActivationCase(
        "derivatives", z.astype(np.float32).astype(np.float64), g, {}, "exp_range", 0
    )
    entry = reference.get("act.softmax")
    got = softmax_run(True)(c, "float32", "cpu")["z"]
    out = get_kind("activations").evaluate(
        entry, impl("act.softmax", softmax_run(True)), c, "float32", "cpu", [entry.default_variant]
    )
    assert out[entry.default_variant].passes, out
    exact = reference_outputs(entry, entry.default_variant.options, c, "float64", "derivatives")
    assert np.max(np.abs(got - exact["z"].value)) > 0  # float32 rounding is there to bound


def test_saturation_follows_round_to_nearest():
    entry = reference.get("act.leaky_relu")
    big = float(np.finfo(np.float32).max)
    # max*(1 + 2^-25) still rounds to max in float32; beyond the half unit it is inf
    c = ActivationCase("values", np.array([big]), None, {"alpha": 0.5}, "special", 0)
    out = reference_outputs(entry, entry.default_variant.options, c, "float32", "values")
    assert out["y"].value[0] == big
    sel = reference.get("act.selu")
    out = reference_outputs(sel, sel.default_variant.options, c, "float32", "values")
    assert out["y"].value[0] == np.inf


def test_the_counterexample_names_the_input_element():
    wrong = lambda z, t, hp: np.where(z > 0, t(hp["alpha"]) * z, z)  # noqa: E731
    r = row("act.leaky_relu", impl("act.leaky_relu", elementwise(wrong, leaky_derivative)))
    assert "at z=" in r.message and "reference" in r.message, r


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_edges_region_holds_every_edge_of_the_dtype(dtype):
    fi = np.finfo(NP[dtype])
    x = hard_values("edges", (), dtype, 3)
    for v in (0.0, fi.smallest_subnormal, fi.tiny, 1.0, fi.max, np.inf):
        assert np.any(x == v) and np.any(x == -v)
    assert not np.any(np.isnan(x)) and np.any(np.signbit(x) & (x == 0))
    assert np.any(np.isnan(edge_values(dtype)))
    assert representable(x, dtype)
    softmax_edges = hard_values("edges", (), dtype, 3, allow_nan=False, allow_posinf=False)
    assert not np.any(np.isnan(softmax_edges)) and not np.any(softmax_edges == np.inf)
