"""Keras's optimizers on the JAX or PyTorch backend (run in the keras-jax / keras-torch env)."""

import os

import numpy as np
import pytest

from trainspec.adapters import keras_backends
from trainspec.conformance import discovery
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.optimizers.common import CanonicalState

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


def test_every_row_runs_in_float32_float64_and_bfloat16_unless_keras_raises():
    removed = keras_backends.NOT_OFFERED[f"keras-{BACKEND}"]
    for i in _adapter().implementations():
        gone = removed.get(i.name, ())
        assert i.dtypes == tuple(d for d in ("float32", "float64", "bfloat16") if d not in gone)
    with pytest.raises(ValueError, match="no implementation named"):
        keras_backends.without_dtypes(_adapter().implementations(), {"nonesuch": ()})


@pytest.mark.skipif(BACKEND != "torch", reason="keras-torch's Nadam")
def test_keras_torch_nadam_still_raises_in_bfloat16():
    # when Keras fixes torch_nadam, this fails: declare the bfloat16 row again
    import keras

    w = keras.Variable(np.array([1.0, -2.0]), dtype="bfloat16")
    opt = keras.optimizers.Nadam(learning_rate=0.001)
    with pytest.raises(TypeError, match="_foreach_div"):
        opt.apply([keras.ops.convert_to_tensor(np.array([0.5, 0.25]), dtype="bfloat16")], [w])


def test_the_backends_findings_are_on_their_rows():
    impls = {i.name: i for i in _adapter().implementations()}
    findings = keras_backends.FINDINGS[f"keras-{BACKEND}"]
    for name, by_dtype in findings.items():
        for dtype, finding in by_dtype.items():
            assert impls[name].finding(dtype) is finding
    from trainspec.adapters.keras_adapter.optimizers import FINDINGS as KERAS_FINDINGS

    for name in set(impls) - set(findings):  # the findings of Keras's own code, on any backend
        assert impls[name].findings == KERAS_FINDINGS.get(
            name.removeprefix("keras.optimizers."), {}
        )
    with pytest.raises(ValueError, match="no implementation named"):
        keras_backends.with_findings(list(impls.values()), {"nonesuch": {}})


def test_a_case_of_several_tensors_gives_the_same_parameters_through_the_flat_run():
    # keras-jax runs every case on one flat parameter; the result is the per-tensor one
    impl = next(i for i in _adapter().implementations() if i.name == "keras.optimizers.Adam")
    case = OptimizerCase(
        params={"w": np.array([[1.0, -2.0], [0.5, 4.0]]), "b": np.array(0.25)},
        grads=[{"w": np.array([[0.5, 0.25], [-1.0, 2.0]]), "b": np.array(-0.5)}] * 2,
        learning_rates=[0.5, 0.25],
        hyperparameters={"beta1": 0.5, "beta2": 0.75, "eps": 0.125},
        state=CanonicalState(
            1,
            {
                "m": {"w": np.full((2, 2), 0.5), "b": np.array(0.25)},
                "v": {"w": np.full((2, 2), 1.0), "b": np.array(2.0)},
                "v_max": {"w": np.zeros((2, 2)), "b": np.array(0.0)},
            },
        ),
    )
    out = impl.run(case, "float64", "cpu")
    direct = keras_backends.flat_implementations([impl])[0].run if BACKEND == "torch" else None
    assert set(out) == {"w", "b"} and out["w"].shape == (2, 2) and out["b"].shape == ()
    from trainspec.adapters.keras_adapter.optimizers import _adam, run_adaptive

    per_tensor = run_adaptive("opt.adam", _adam(), case, "float64", "cpu")
    for k in out:
        np.testing.assert_array_equal(out[k], per_tensor[k])
    if direct is not None:  # on torch: the flat run of the same case agrees too
        for k, v in direct(case, "float64", "cpu").items():
            np.testing.assert_array_equal(v, per_tensor[k])
