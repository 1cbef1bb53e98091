"""The batchnorm kind, exercised with honest and faulty NumPy layers computed in the dtype."""

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.kinds.norm import (
    REGIMES,
    BatchNormCase,
    BatchNormRun,
    draw_batchnorm_case,
    expected,
    from_layout,
    observed,
    to_layout,
    within_first_order_domain,
)
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import representable

NP = {"float32": np.float32, "float64": np.float64}
IDS = ("norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad")


def numpy_layer(
    case,
    dtype,
    device,
    *,
    one_pass=False,
    folded=False,
    unbiased_running=False,
    unbiased_normalisation=False,
    flip_momentum=False,
    test_with_batch_statistics=False,
):
    """A BN layer written out by hand in the dtype (channels-last internally), faults optional."""
    t = NP[dtype]
    tl = lambda a: to_layout(np.asarray(a), case.layout, "channels_last").astype(t)  # noqa: E731
    back = lambda a: from_layout(a, case.layout, "channels_last").astype(np.float64)  # noqa: E731
    g, b, eps = case.gamma.astype(t), case.beta.astype(t), t(case.eps)
    w = t(1.0 - case.momentum) if flip_momentum else t(case.momentum)
    rm, rv = case.initial_mean.astype(t), case.initial_var.astype(t)
    axes = tuple(range(case.batches[0].ndim - 1))
    out = BatchNormRun([], [], [], [], [], [], np.zeros(0))

    def normalise(x, mu, var):
        r = t(1) / np.sqrt(var + eps)
        if folded:
            a = g * r
            return x * a + (b - mu * a)
        return (x - mu) * (g * r) + b

    for x, dy in zip(case.batches, case.upstream, strict=True):
        x, dy = tl(x), tl(dy)
        m = x.size // x.shape[-1]
        mu = np.mean(x, axis=axes, dtype=t)
        if one_pass:
            var = np.maximum(np.mean(x * x, axis=axes, dtype=t) - mu * mu, t(0))
        else:
            var = np.mean((x - mu) ** 2, axis=axes, dtype=t)
        if unbiased_normalisation:
            var = var * t(m / (m - 1))
        out.outputs.append(back(normalise(x, mu, var)))
        r = t(1) / np.sqrt(var + eps)
        xhat = (x - mu) * r
        sdy, sdyx = np.sum(dy, axis=axes, dtype=t), np.sum(dy * xhat, axis=axes, dtype=t)
        out.dx.append(back(g * r / t(m) * (t(m) * dy - sdy - xhat * sdyx)))
        out.dgamma.append(sdyx.astype(np.float64))
        out.dbeta.append(sdy.astype(np.float64))
        vb = var * t(m / (m - 1)) if unbiased_running else var
        rm = w * rm + (t(1) - w) * mu
        rv = w * rv + (t(1) - w) * vb
        out.running_mean.append(rm.astype(np.float64))
        out.running_var.append(rv.astype(np.float64))
    xt = tl(case.test_batch)
    if test_with_batch_statistics:
        mu = np.mean(xt, axis=axes, dtype=t)
        y = normalise(xt, mu, np.mean((xt - mu) ** 2, axis=axes, dtype=t))
    else:
        y = normalise(xt, rm, rv)
    return BatchNormRun(
        out.outputs,
        out.dx,
        out.dgamma,
        out.dbeta,
        out.running_mean,
        out.running_var,
        back(y),
    )


def row(spec_id, dtype="float32", **faults):
    impl = Implementation(spec_id, "numpy BN", partial(numpy_layer, **faults), devices=("cpu",))
    return check_row(reference.get(spec_id), impl, "numpy", dtype, "cpu", profile="quick")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec_id", IDS)
def test_an_honest_layer_conforms(spec_id, dtype):
    r = row(spec_id, dtype)
    assert r.verdict == "conforms", r
    assert 0 <= r.ratio <= 1 and r.examples > 0


@pytest.mark.parametrize("spec_id", ["norm.batch.train", "norm.batch.test"])
def test_a_folded_affine_step_is_rounding_of_the_centred_form(spec_id):
    # y = x a + (beta - mu a): its rounding is of the order the rounded mean already costs
    r = row(spec_id, "float32", folded=True)
    assert r.verdict == "conforms", r


@pytest.mark.parametrize(
    "spec_id,fault,variant",
    [
        ("norm.batch.train", {"one_pass": True}, "variance=one_pass"),
        ("norm.batch.running", {"unbiased_running": True}, "running_variance=unbiased"),
    ],
)
def test_a_convention_is_reported_as_its_variant(spec_id, fault, variant):
    r = row(spec_id, **fault)
    assert r.verdict == "variant" and r.variant == variant, r


@pytest.mark.parametrize(
    "spec_id,fault",
    [
        ("norm.batch.train", "unbiased_normalisation"),
        ("norm.batch.running", "flip_momentum"),
        ("norm.batch.test", "test_with_batch_statistics"),
        ("norm.batch.grad", "unbiased_normalisation"),
    ],
)
def test_a_fault_diverges_with_a_counterexample(spec_id, fault):
    r = row(spec_id, **{fault: True})
    assert r.verdict == "diverges", r
    assert r.counterexample and r.counterexample["check"] in ("one_step", "train_steps")
    assert r.ratio > 1


def test_layout_conversion_round_trips_and_moves_only_the_channel_axis():
    x = np.arange(24.0).reshape(2, 3, 2, 2)  # NCHW, 3 channels
    nhwc = to_layout(x, "channels_first", "channels_last")
    assert nhwc.shape == (2, 2, 2, 3) and nhwc[1, 0, 1, 2] == x[1, 2, 0, 1]
    np.testing.assert_array_equal(from_layout(nhwc, "channels_first", "channels_last"), x)
    np.testing.assert_array_equal(to_layout(nhwc, "channels_last", "channels_first"), x)
    feats = np.ones((4, 3))
    assert to_layout(feats, "channels_last", "channels_first") is feats
    with pytest.raises(ValueError, match="framework_layout"):
        to_layout(x, "channels_first", "NHWC")


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(["float32", "float64"]),
    check=st.sampled_from(["one_step", "train_steps"]),
)
def test_cases_are_representable_and_well_formed(data, dtype, check):
    entry = reference.get("norm.batch.running")
    case = draw_batchnorm_case(data, entry, dtype, check)
    arrays = [*case.batches, *case.upstream, case.test_batch, case.gamma, case.beta]
    assert all(representable(a, dtype) for a in arrays)
    assert representable(np.array([case.eps, case.momentum]), "float32")
    assert case.eps > 0 and 0 <= case.momentum < 1
    assert np.all(case.initial_var >= 0)
    assert (case.steps == 1) == (check == "one_step")
    assert case.regime in REGIMES
    m = case.batches[0].size // case.channels
    assert m >= 2 and case.batches[0].shape[case.channel_axis] == case.channels
    if check == "train_steps":
        assert np.all(case.initial_mean == 0) and np.all(case.initial_var == 1)
    if case.regime == "constant_channel":
        idx = [slice(None)] * case.batches[0].ndim
        idx[case.channel_axis] = 0
        assert np.ptp(case.batches[0][tuple(idx)]) == 0
    assert case.summary()["regime"] == case.regime


def test_every_regime_and_layout_is_drawn():
    seen = set()
    entry = reference.get("norm.batch.train")

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(data=st.data())
    def collect(data):
        case = draw_batchnorm_case(data, entry, "float32", "train_steps")
        seen.add((case.regime, case.layout, case.batches[0].ndim))

    collect()
    assert {r for r, _, _ in seen} == set(REGIMES)
    assert {(lay, nd) for _, lay, nd in seen} >= {
        ("channels_first", 4),
        ("channels_last", 4),
        ("channels_first", 2),
    }


def test_first_order_domain_clips_only_offsets_the_dtype_cannot_resolve():
    u64 = 2.0**-53 + 2.0**-53
    # a constant channel of 1e22 in float64: even the mean's rounding (~16 u 1e22) dwarfs sqrt(eps)
    x = np.stack([np.full(16, 1e22), np.linspace(-1.0, 1.0, 16) + 1e3], axis=1)
    out = within_first_order_domain(x, 1, "float64", 1e-5)
    assert np.ptp(out[:, 0]) == 0 and abs(out[0, 0]) < 1e22  # still constant, offset clipped
    assert 16 * u64 * out[0, 0] ** 2 <= 2.0**-6 * 1e-5 * (1 + 1e-9)
    np.testing.assert_array_equal(out[:, 1], x[:, 1])  # resolvable in float64: unchanged
    # float32: an offset of 1e4 over a spread of ~0.6 breaks a one-pass variance's bound ...
    y = (np.linspace(-1.0, 1.0, 8)[:, None] + 1e4).astype(np.float32).astype(np.float64)
    z = within_first_order_domain(y, 1, "float32", 1e-5)
    np.testing.assert_allclose(z - np.median(z), y - np.median(y), atol=1e-3)  # same spread
    assert 50 < np.median(z) < 1e3  # ... so it is clipped to ~100 sigma, still a large offset
    u32 = 2.0**-24 + 2.0**-53
    assert 8 * u32 * np.max(z**2) <= 2.0**-6 * (np.var(z) + 1e-5) * (1 + 1e-6)
    # channels-last images: the channel axis is found
    img = np.full((2, 2, 2, 3), 1e12)
    clipped = within_first_order_domain(img, 3, "float32", 1e-8)
    assert np.all(np.abs(clipped) < 1e12) and representable(clipped, "float32")


def _case():
    x = np.array([[1.0, 10.0], [3.0, 10.0]])
    return BatchNormCase(
        "channels_first",
        (x,),
        (np.array([[1.0, 0.0], [0.0, 1.0]]),),
        x,
        np.ones(2),
        np.zeros(2),
        0.25,
        0.5,
        np.zeros(2),
        np.ones(2),
    )


def test_expected_and_observed_name_the_same_values():
    case = _case()
    run = numpy_layer(case, "float64", "cpu")
    for compares in ("outputs", "running", "test", "grads"):
        exp = expected(compares, case, run, "float64", {})
        assert set(exp) == set(observed(compares, run))
    # by hand: channel 0 has mu 2, var 1: y = -+1/sqrt(1.25); channel 1 is constant: y = 0
    y = expected("outputs", case, run, "float64", {})["y[0]"].value
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1.25), 0.0], [1 / np.sqrt(1.25), 0.0]])
    r = expected("running", case, run, "float64", {"running_variance": "unbiased"})
    np.testing.assert_allclose(r["running_var[0]"].value, [0.5 + 0.5 * 2.0, 0.5])
    with pytest.raises(ValueError, match="compares"):
        observed("everything", run)


def test_an_adapter_that_returns_the_wrong_thing_is_an_error():
    kind = get_kind("norm")
    entry = reference.get("norm.batch.train")
    bad = Implementation(entry.id, "bad", lambda c, d, dev: {"y": 1}, devices=("cpu",))
    with pytest.raises(TypeError, match="BatchNormRun"):
        kind.evaluate(entry, bad, _case(), "float64", "cpu", [entry.default_variant])

    def short(c, d, dev):
        run = numpy_layer(c, d, dev)
        return BatchNormRun(
            [], run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, run.test_output
        )

    impl = Implementation(entry.id, "short", short, devices=("cpu",))
    with pytest.raises(ValueError, match="one per training step"):
        kind.evaluate(entry, impl, _case(), "float64", "cpu", [entry.default_variant])
    r = check_row(entry, impl, "numpy", "float64", "cpu", profile="quick")
    assert r.verdict == "error" and "one per training step" in r.message


def test_the_kind_is_registered():
    kind = get_kind("norm")
    assert kind.checks == ("one_step", "train_steps") and 0 < kind.example_scale <= 1
