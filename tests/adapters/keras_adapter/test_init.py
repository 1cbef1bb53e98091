"""Keras's initialisers: layout and seeding, the variant it follows, planted faults."""

import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.adapters.keras_adapter import KerasAdapter
from trainspec.adapters.keras_adapter import init as A
from trainspec.conformance.runner import check_row
from trainspec.reference.init import Layer, fans

layers = st.builds(
    Layer,
    st.integers(1, 12),
    st.integers(1, 12),
    st.lists(st.integers(1, 4), max_size=3).map(tuple),
)


@settings(max_examples=15, deadline=None)
@given(layer=layers)
def test_kernel_shape_is_keras_layout(layer):
    shape = A.keras_kernel_shape(layer)
    assert fans(shape, "channels_last") == (layer.fan_in, layer.fan_out)
    module = A.make_layer(layer, "float32")  # what Keras's own layers allocate
    assert tuple(module.kernel.shape) == shape
    assert tuple(module.bias.shape) == (layer.out_features,)


def test_input_is_channels_last_with_a_batch_of_one():
    x = np.arange(12.0).reshape(3, 2, 2)  # (in, kh, kw)
    t = A.keras_input(x, "float64")
    assert t.shape == (1, 2, 2, 3) and t[0, 1, 0, 2] == x[2, 1, 0]


def test_seeded_initialisers_draw_fresh_values_reproducibly():
    a = A.seeded(keras.initializers.HeUniform, 3)
    b = A.seeded(keras.initializers.HeUniform, 3)
    first, second = (keras.ops.convert_to_numpy(a((4, 5))) for _ in range(2))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, keras.ops.convert_to_numpy(b((4, 5))))
    assert np.max(np.abs(first)) <= math.sqrt(6 / 4)  # fan_in = 4 in (in, out)


def test_every_init_id_has_a_row():
    ids = {i.spec_id for i in KerasAdapter().implementations() if i.spec_id.startswith("init.")}
    assert ids == {
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


def test_he_normal_is_the_corrected_truncated_normal():
    impl = next(
        i for i in KerasAdapter().implementations() if i.name == "keras.initializers.HeNormal"
    )
    row = check_row(
        reference.get("init.he_normal"), impl, "tensorflow", "float32", "cpu", profile="quick"
    )
    assert (row.verdict, row.consistent_variants) == ("variant", ["distribution=truncated_normal"])


# --- planted faults: real Keras initialisers, wrong mapping; the kit must report diverges ------


def _std(case):
    return math.sqrt(2 / case.layer.fan_in)


def swapped_fans(case, dtype, device):
    init = A.seeded(
        keras.initializers.VarianceScaling,
        case.seed,
        scale=2.0,
        mode="fan_out",
        distribution="truncated_normal",
    )
    return A.sample_kernels(init, case, dtype)


def bound_off_by_sqrt3(case, dtype, device):
    s = _std(case)
    return A.sample_kernels(
        A.seeded(keras.initializers.RandomUniform, case.seed, minval=-s, maxval=s), case, dtype
    )


def truncation_uncorrected(case, dtype, device):
    return A.sample_kernels(
        A.seeded(keras.initializers.TruncatedNormal, case.seed, stddev=_std(case)), case, dtype
    )


def default_kernel_initializer(case, dtype, device):
    """The layer keeps Keras's default kernel_initializer (GlorotUniform) whatever the rule."""
    return A.layer_output(
        case, dtype, device, A.seeded(keras.initializers.GlorotUniform, case.seed)
    )


@pytest.mark.parametrize(
    "spec_id, fault, run",
    [
        ("init.he_normal", "fan_in and fan_out swapped", swapped_fans),
        ("init.he_uniform", "uniform bound off by sqrt(3)", bound_off_by_sqrt3),
        ("init.he_normal", "TruncatedNormal without the correction", truncation_uncorrected),
        ("init.variance_rule", "default kernel_initializer", default_kernel_initializer),
    ],
)
def test_planted_faults_diverge(assert_planted_fault_diverges, spec_id, fault, run):
    row = assert_planted_fault_diverges("tensorflow", spec_id, fault, run)
    assert row.counterexample["fan_in"] >= 1
