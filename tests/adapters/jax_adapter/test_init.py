"""JAX's initialisers and flax layers: layout and keys, the variant JAX follows, planted faults."""

import math

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.adapters.jax_adapter import JaxAdapter
from trainspec.adapters.jax_adapter import init as A
from trainspec.conformance.kinds.init import InitCase
from trainspec.conformance.runner import check_row
from trainspec.reference.init import Layer, fans

layers = st.builds(
    Layer,
    st.integers(1, 40),
    st.integers(1, 40),
    st.lists(st.integers(1, 5), max_size=3).map(tuple),
)


@given(layer=layers)
def test_kernel_shape_is_jax_layout(layer):
    assert fans(A.jax_kernel_shape(layer), "channels_last") == (layer.fan_in, layer.fan_out)


def test_flax_layers_allocate_that_layout():
    for layer in (Layer(3, 5), Layer(2, 4, (3, 2))):
        module = A.make_layer(layer, "float32")
        params = jax.eval_shape(
            module.init,
            jax.random.key(0),
            A.jax_input(np.zeros((layer.in_features, *layer.kernel_size)), "float32"),
        )
        assert params["params"]["kernel"].shape == A.jax_kernel_shape(layer)


def test_input_is_channels_last_with_a_batch_of_one():
    x = np.arange(12.0).reshape(3, 2, 2)  # (in, kh, kw)
    t = A.jax_input(x, "float64")
    assert t.shape == (1, 2, 2, 3) and float(t[0, 1, 0, 2]) == x[2, 1, 0]


def test_keys_are_independent_and_reproducible():
    case = InitCase("kernel", Layer(4, 6), draws=3, seed=7)
    w = A.sample(jax.nn.initializers.he_uniform(), (4, 6), case, "float64", "cpu")
    assert w.shape == (3, 4, 6) and not np.array_equal(w[0], w[1])
    np.testing.assert_array_equal(
        w, A.sample(jax.nn.initializers.he_uniform(), (4, 6), case, "float64", "cpu")
    )
    assert np.max(np.abs(w)) <= math.sqrt(6 / 4)  # fan_in = 4 in (in, out)


def test_every_init_id_has_a_row():
    ids = {i.spec_id for i in JaxAdapter().implementations() if i.spec_id.startswith("init.")}
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
        i for i in JaxAdapter().implementations() if i.name == "jax.nn.initializers.he_normal"
    )
    row = check_row(reference.get("init.he_normal"), impl, "jax", "float32", "cpu", profile="quick")
    assert (row.verdict, row.consistent_variants) == ("variant", ["distribution=truncated_normal"])


# --- planted faults: real jax.nn.initializers, wrong arguments; the kit must report diverges ---


def _kernels(init):
    return lambda case, dtype, device: A.sample(
        init(case), A.jax_kernel_shape(case.layer), case, dtype, device
    )


swapped_fans = _kernels(
    lambda case: jax.nn.initializers.variance_scaling(2.0, "fan_out", "truncated_normal")
)
"""He normal with mode fan_out: fan_in and fan_out swapped."""

bound_off_by_sqrt3 = _kernels(
    lambda case: jax.nn.initializers.variance_scaling(2.0 / 3.0, "fan_in", "uniform")
)
"""He uniform with the bound sqrt(2/fan_in) (the standard deviation used as the bound)."""

truncation_uncorrected = _kernels(
    lambda case: jax.nn.initializers.truncated_normal(math.sqrt(2.0 / case.layer.fan_in))
)
"""He normal as truncated_normal(stddev=sqrt(2/fan_in)): cut at 2 sigma, no correction."""


def layer_with_default_kernel_init(case, dtype, device):
    """flax's default kernel_init (lecun_normal) whatever rule the example asks for."""
    return A.layer_output(case, dtype, device, kernel_init=jax.nn.initializers.lecun_normal())


@pytest.mark.parametrize(
    "spec_id, fault, run",
    [
        ("init.he_normal", "fan_in and fan_out swapped", swapped_fans),
        ("init.he_uniform", "uniform bound off by sqrt(3)", bound_off_by_sqrt3),
        ("init.he_normal", "truncation without its correction", truncation_uncorrected),
        ("init.variance_rule", "flax's default kernel_init", layer_with_default_kernel_init),
    ],
)
def test_planted_faults_diverge(assert_planted_fault_diverges, spec_id, fault, run):
    row = assert_planted_fault_diverges("jax", spec_id, fault, run)
    assert row.counterexample["fan_in"] >= 1
