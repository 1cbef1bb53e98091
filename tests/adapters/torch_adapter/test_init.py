"""PyTorch's initialisers: layout and argument mappings, the variant it follows, planted faults."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.adapters.torch_adapter import TorchAdapter
from trainspec.adapters.torch_adapter import init as A
from trainspec.conformance.kinds.init import InitCase
from trainspec.conformance.runner import check_row
from trainspec.reference.init import Layer, fans

layers = st.builds(
    Layer,
    st.integers(1, 40),
    st.integers(1, 40),
    st.lists(st.integers(1, 5), max_size=3).map(tuple),
)


@settings(max_examples=30, deadline=None)
@given(layer=layers)
def test_kernel_shape_is_pytorchs_layout(layer):
    shape = A.torch_kernel_shape(layer)
    assert fans(shape, "torch") == (layer.fan_in, layer.fan_out)
    # and what PyTorch's own layers allocate
    if len(layer.kernel_size) <= 3 and math.prod(shape) <= 20_000:
        module = A.make_layer(layer, bias=True, dtype="float32", device="cpu")
        assert tuple(module.weight.shape) == shape
        assert tuple(module.bias.shape) == (layer.out_features,)


def test_input_is_channels_first_with_a_batch_of_one():
    x = np.arange(12.0).reshape(3, 2, 2)
    t = A.torch_input(x, torch.float64, torch.device("cpu"))
    assert tuple(t.shape) == (1, 3, 2, 2) and t[0, 2, 1, 0].item() == x[2, 1, 0]


def test_kaiming_arguments_give_the_rules_gains():
    for rule, gain in [("init.he_normal", math.sqrt(2)), ("init.lecun_uniform", 1.0)]:
        args = A.kaiming_arguments(rule)
        assert args["mode"] == "fan_in"
        assert torch.nn.init.calculate_gain(args["nonlinearity"]) == pytest.approx(gain)
    with pytest.raises(ValueError, match="rule='init.glorot_normal'"):
        A.kaiming_arguments("init.glorot_normal")


def test_samples_by_hand():
    case = InitCase("kernel", Layer(3, 5, (2,)), draws=4, seed=1)
    w = A.sample_kernels(RULE("init.he_uniform"), case, "float64", "cpu")
    assert w.shape == (4, 5, 3, 2)
    assert np.max(np.abs(w)) <= math.sqrt(6 / 6)  # fan_in = 3 * 2
    again = A.sample_kernels(RULE("init.he_uniform"), case, "float64", "cpu")
    np.testing.assert_array_equal(w, again)  # seeded from the example


def RULE(rule):
    return A.RULE_FUNCTIONS[rule][1]


def test_every_init_id_has_a_row():
    rows = {
        (i.spec_id, i.name)
        for i in TorchAdapter().implementations()
        if i.spec_id.startswith("init.")
    }
    assert {s for s, _ in rows} == {
        "init.glorot_uniform",
        "init.glorot_normal",
        "init.he_normal",
        "init.he_uniform",
        "init.lecun_normal",
        "init.lecun_uniform",
        "init.fans",
        "init.bias",
        "init.variance_rule",
    }


def _row(spec_id, impl_name, dtype="float32"):
    impl = next(i for i in TorchAdapter().implementations() if i.name == impl_name)
    return check_row(reference.get(spec_id), impl, "torch", dtype, "cpu", profile="quick")


def test_he_normal_is_the_plain_normal_and_the_default_bias_is_not_zero():
    row = _row("init.he_normal", "kaiming_normal_(nonlinearity='relu')")
    assert (row.verdict, row.consistent_variants) == ("conforms", ["default"])
    row = _row("init.bias", "nn.Linear/ConvNd default bias")
    assert (row.verdict, row.variant) == ("variant", "bias=uniform_fan_in")


# --- planted faults: real torch.nn.init calls, wrong mapping; the kit must report diverges -----


def _fan_in(case):
    return case.layer.fan_in


def swapped_fans(case, dtype, device):
    """He normal with mode='fan_out': fan_in and fan_out swapped."""
    return A.sample_kernels(
        lambda t, generator: torch.nn.init.kaiming_normal_(
            t, mode="fan_out", nonlinearity="relu", generator=generator
        ),
        case,
        dtype,
        device,
    )


def bound_off_by_sqrt3(case, dtype, device):
    """He uniform drawn from U(-std, std): the bound sqrt(6/fan_in) divided by sqrt(3)."""
    std = math.sqrt(2 / _fan_in(case))
    return A.sample_kernels(
        lambda t, generator: torch.nn.init.uniform_(t, -std, std, generator=generator),
        case,
        dtype,
        device,
    )


def truncation_uncorrected(case, dtype, device):
    """He normal truncated at 2 sigma without the 1/0.8796 correction (variance 0.774 * 2/fan_in)."""
    std = math.sqrt(2 / _fan_in(case))
    return A.sample_kernels(
        lambda t, generator: torch.nn.init.trunc_normal_(
            t, std=std, a=-2 * std, b=2 * std, generator=generator
        ),
        case,
        dtype,
        device,
    )


def fans_of_the_transposed_kernel(case, dtype, device):
    """The kernel initialised through its transpose (the Keras layout handed to PyTorch)."""
    return A.sample_kernels(
        lambda t, generator: torch.nn.init.kaiming_uniform_(
            t.transpose(0, 1), mode=case.choice, nonlinearity="linear", generator=generator
        ),
        case,
        dtype,
        device,
    )


def variance_rule_on_a_copy(case, dtype, device):
    """The rule initialises a clone of the weight: the layer keeps its default initialisation."""
    return A.layer_output(
        case,
        dtype,
        device,
        init=lambda w, generator: RULE(case.choice)(w.detach().clone(), generator=generator),
    )


@pytest.mark.parametrize(
    "spec_id, fault, run",
    [
        ("init.he_normal", "fan_in and fan_out swapped", swapped_fans),
        ("init.he_uniform", "uniform bound off by sqrt(3)", bound_off_by_sqrt3),
        ("init.he_normal", "truncation without its correction", truncation_uncorrected),
        ("init.fans", "fans of the transposed kernel", fans_of_the_transposed_kernel),
        ("init.variance_rule", "rule applied to a copy of the weight", variance_rule_on_a_copy),
    ],
)
def test_planted_faults_diverge(assert_planted_fault_diverges, spec_id, fault, run):
    row = assert_planted_fault_diverges("torch", spec_id, fault, run)
    assert row.counterexample["fan_in"] >= 1
