"""Keras's optimizers on the JAX or PyTorch backend (run in the keras-jax / keras-torch env)."""

import os

import numpy as np
import pytest

from trainspec.adapters import keras_backends
from trainspec.conformance import discovery

BACKEND = os.environ.get("KERAS_BACKEND", "")
pytestmark = pytest.mark.skipif(
    BACKEND not in ("jax", "torch"), reason="runs in the keras-jax or keras-torch environment"
)


def _adapter():
    adapters, failures = discovery.load_adapters([f"keras-{BACKEND}"])
    assert not failures, failures
    return adapters[f"keras-{BACKEND}"]


def test_the_adapter_loads_on_its_backend_and_refuses_the_other():
    import keras

    assert keras.backend.backend() == BACKEND
    assert _adapter().name == f"keras-{BACKEND}"
    other = {"jax": keras_backends.KerasTorchAdapter, "torch": keras_backends.KerasJaxAdapter}
    with pytest.raises(RuntimeError, match="KERAS_BACKEND="):
        other[BACKEND]()


def test_only_optimizer_rows_are_declared_each_once():
    impls = _adapter().implementations()
    assert impls and all(i.spec_id.startswith("opt.") for i in impls)
    assert len({(i.spec_id, i.name) for i in impls}) == len(impls)


def test_the_momentum_step_by_hand_keeps_float64(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    impl = next(i for i in _adapter().implementations() if i.name == "SGD(momentum)")
    out = impl.run(case, "float64", "cpu")["w"]
    np.testing.assert_array_equal(out, expected)
    # a float64 variable stays float64 (on JAX: jax_enable_x64): 1 + 2^-40 survives a step of 0
    tiny = type(case)(
        {"w": np.array([1.0 + 2.0**-40])}, [{"w": np.array([0.0])}], [0.5], {"momentum": 0.0}
    )
    assert impl.run(tiny, "float64", "cpu")["w"][0] == 1.0 + 2.0**-40
