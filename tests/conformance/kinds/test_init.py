"""The initializer kind, exercised with hand-written NumPy initialisers (honest and faulty)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds import init as K
from trainspec.conformance.runner import check_row
from trainspec.reference import init as I

C = 0.87962566103423978


def kernel_shape(case, layout):
    L = case.layer
    if layout == "torch":
        return (L.out_features, L.in_features, *L.kernel_size)
    return (*L.kernel_size, L.in_features, L.out_features)


def np_fans(shape, layout):
    rf = math.prod(shape[2:]) if layout == "torch" else math.prod(shape[:-2])
    if layout == "torch":
        return shape[1] * rf, shape[0] * rf
    return shape[-2] * rf, shape[-1] * rf


def np_initializer(scale, mode, shape_kind, *, layout="channels_last", fault=None):
    """A NumPy variance-scaling initialiser written out by hand, optionally with a planted fault."""

    def run(case, dtype, device):
        rng = np.random.default_rng(case.seed)
        shape = kernel_shape(case, layout)
        fi, fo = np_fans(shape, layout)
        if fault == "swap_fans":
            fi, fo = fo, fi
        m = case.choice or mode
        fan = {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2}[m]
        var = scale / fan
        size = (case.draws, *shape)
        if shape_kind == "uniform":
            r = math.sqrt(3 * var) * (math.sqrt(3) if fault == "bound_sqrt3" else 1.0)
            out = rng.uniform(-r, r, size)
        elif shape_kind == "normal":
            out = math.sqrt(var) * rng.standard_normal(size)
        else:  # truncated at 2 stddev, with (or, as a fault, without) the correction
            s = math.sqrt(var) / (1.0 if fault == "uncorrected" else C)
            z = rng.standard_normal(size)
            while np.any(bad := np.abs(z) >= 2):
                z[bad] = rng.standard_normal(int(bad.sum()))
            out = s * z
        return out.astype(np.float32 if dtype == "float32" else np.float64).astype(np.float64)

    return run


def impl(spec_id, run, layout="channels_last", name="numpy"):
    return Implementation(
        spec_id, name, run, ("float32", "float64"), ("cpu",), "", {"layout": layout}
    )


def verdict(spec_id, run, layout="channels_last", dtype="float64"):
    row = check_row(
        reference.get(spec_id), impl(spec_id, run, layout), "numpy", dtype, "cpu", profile="quick"
    )
    return row


def test_the_kind_is_registered_with_its_checks():
    kind = get_kind("init")
    assert kind.checks == ("dense", "conv") and kind.example_scale == 0.075


def test_honest_uniform_conforms_in_both_layouts():
    for layout in ("torch", "channels_last"):
        row = verdict(
            "init.he_uniform", np_initializer(2.0, "fan_in", "uniform", layout=layout), layout
        )
        assert row.verdict == "conforms", row.to_json()
        assert row.examples >= 2


def test_plain_and_truncated_normals_are_told_apart():
    row = verdict("init.he_normal", np_initializer(2.0, "fan_in", "normal"))
    assert (row.verdict, row.variant) == ("conforms", "default")
    assert row.consistent_variants == ["default"]
    row = verdict(
        "init.glorot_normal", np_initializer(1.0, "fan_avg", "truncated"), dtype="float32"
    )
    assert (row.verdict, row.variant) == ("variant", "distribution=truncated_normal")
    assert row.consistent_variants == ["distribution=truncated_normal"]


@pytest.mark.parametrize(
    "spec_id, scale, mode, kind_, fault",
    [
        ("init.he_normal", 2.0, "fan_in", "normal", "swap_fans"),
        ("init.lecun_uniform", 1.0, "fan_in", "uniform", "swap_fans"),
        ("init.glorot_uniform", 1.0, "fan_avg", "uniform", "bound_sqrt3"),
        ("init.he_normal", 2.0, "fan_in", "truncated", "uncorrected"),
    ],
)
def test_planted_faults_diverge(spec_id, scale, mode, kind_, fault):
    row = verdict(spec_id, np_initializer(scale, mode, kind_, fault=fault))
    assert row.verdict == "diverges", row.to_json()
    assert row.counterexample is not None and "fan_in" in row.counterexample


def test_fans_rows_follow_the_layout():
    good = np_initializer(1.0, None, "uniform", layout="torch")
    assert verdict("init.fans", good, "torch").verdict == "conforms"

    # the torch layout read as channels_last swaps in and out (and misreads conv kernels)
    def misread(case, dtype, device):
        shape = kernel_shape(case, "torch")
        fi, fo = np_fans(shape, "channels_last")
        fan = fi if case.choice == "fan_in" else fo
        r = math.sqrt(3 / fan)
        return np.random.default_rng(case.seed).uniform(-r, r, (case.draws, *shape))

    assert verdict("init.fans", misread, "torch").verdict == "diverges"


def test_bias_variants():
    def zeros(case, dtype, device):
        return np.zeros((case.draws, case.layer.out_features))

    def torch_like(case, dtype, device):
        r = 1 / math.sqrt(case.layer.fan_in)
        return np.random.default_rng(case.seed).uniform(
            -r, r, (case.draws, case.layer.out_features)
        )

    def tiny(case, dtype, device):
        return np.full((case.draws, case.layer.out_features), 1e-30)

    assert verdict("init.bias", zeros).verdict == "conforms"
    row = verdict("init.bias", torch_like)
    assert (row.verdict, row.variant) == ("variant", "bias=uniform_fan_in")
    assert verdict("init.bias", tiny).verdict == "diverges"


def _layer_run(var_scale):
    def run(case, dtype, device):
        rng = np.random.default_rng(case.seed)
        scale, mode, shape = I.RULES[case.choice]
        var = var_scale * scale / case.layer.fan(mode)
        n = case.x.size
        w = (
            rng.uniform(-math.sqrt(3 * var), math.sqrt(3 * var), (n, case.layer.out_features))
            if shape == "uniform"
            else math.sqrt(var) * rng.standard_normal((n, case.layer.out_features))
        )
        return case.x.ravel() @ w

    return run


def test_variance_rule_through_a_layer():
    assert verdict("init.variance_rule", _layer_run(1.0)).verdict == "conforms"
    assert verdict("init.variance_rule", _layer_run(0.77)).verdict == "diverges"


def test_a_wrong_shape_is_an_error_naming_the_layout():
    honest = np_initializer(2.0, "fan_in", "uniform", layout="torch")

    def transposed(case, dtype, device):  # right values, dimensions reversed
        w = honest(case, dtype, device)
        return np.transpose(w, (0, *range(w.ndim - 1, 0, -1)))

    row = verdict("init.he_uniform", transposed, "torch")
    assert row.verdict == "error" and "layout torch" in row.message


def test_distribution_pvalues_exact_bound_tests():
    d = I.uniform(1.0)
    r = d.bound
    rng = np.random.default_rng(0)
    x = rng.uniform(-r, r, 2**14)
    p = K.distribution_pvalues(x, d, "float64")
    assert min(p.values()) > stats.ALPHA
    # one value beyond the bound fails exactly; a bound 1 % short of r fails bound_reached
    assert K.distribution_pvalues(np.append(x, r * 1.0001), d, "float64")["bounds"] == 0.0
    assert K.distribution_pvalues(0.99 * x, d, "float64")["bound_reached"] < 1e-30
    # float32 rounding of the bound is allowed
    assert K.distribution_pvalues(np.append(x, r * (1 + 2**-24)), d, "float32")["bounds"] == 1.0
    assert K.distribution_pvalues(np.array([np.nan]), d, "float64") == {"finite": 0.0}
    assert K.distribution_pvalues(np.zeros(3), I.point_mass(), "float64") == {"bounds": 1.0}


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    spec=st.sampled_from([*sorted(I.RULES), "init.fans", "init.bias", "init.variance_rule"]),
    check=st.sampled_from(["dense", "conv"]),
)
def test_drawn_cases_have_the_stated_sizes(data, spec, check):
    entry = reference.get(spec)
    case = K.draw_init_case(data, entry, "float32", check)
    assert (case.layer.kernel_size == ()) == (check == "dense")
    if case.target == "kernel":
        assert case.layer in K.KERNEL_LAYERS[check]
        assert case.samples >= K.SAMPLES and case.samples // case.draws >= 1024
        assert (case.choice is not None) == (spec == "init.fans")
    elif case.target == "layer_output":
        assert case.samples == K.OUTPUTS and case.choice in I.RULES
        assert case.x.shape == (case.layer.in_features, *case.layer.kernel_size) and np.any(case.x)
        assert np.array_equal(case.x, case.x.astype(np.float32))
    else:
        assert case.samples >= K.BIAS_SAMPLES
    assert isinstance(case.summary()["fan_in"], int)
