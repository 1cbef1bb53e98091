"""Keras's optimizers inside a compiled train step (the backend tensorflow-compiled): the wrapper
is the one Keras's trainer uses, every optimizer row is there per jit_compile, a hand-checked
step through each, and the bfloat16 conversion the optimizer rows share."""

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

from trainspec.adapters.keras_adapter import (
    OPTIMIZER_DTYPES,
    run_keras_optimizer,
    to_dtype,
)
from trainspec.adapters.keras_adapter.compiled import (
    JIT_COMPILE,
    KerasCompiledAdapter,
    compile_step_with,
    compiled_implementations,
    row_name,
)
from trainspec.adapters.keras_adapter.optimizers import ADAPTIVE, SGD_ROWS, _sgd
from trainspec.conformance import discovery
from trainspec.conformance.kinds.optimizers import OptimizerCase


def test_the_wrapper_is_a_tf_function_with_keras_trainers_jit_compile():
    for jit in JIT_COMPILE:
        f = compile_step_with(jit)(lambda xs: xs[0] * 2.0)
        assert isinstance(f, tf.types.experimental.PolymorphicFunction)
        assert float(f([tf.constant(1.5)])) == 3.0
    with pytest.raises(TypeError, match="jit_compile must be a bool"):
        compile_step_with("auto")  # type: ignore[arg-type]


def test_the_wrapper_sets_tf_functions_jit_compile():
    # tf.function keeps its jit_compile argument (private attribute; Keras's trainer passes it)
    for jit in JIT_COMPILE:
        assert compile_step_with(jit)(lambda xs: xs[0])._jit_compile is jit


def test_every_optimizer_row_is_there_once_per_jit_compile():
    impls = compiled_implementations()
    names = {i.name for i in impls}
    base = [name for _, name, _ in SGD_ROWS] + [f"keras.optimizers.{n}" for _, n, _ in ADAPTIVE]
    assert names == {row_name(n, jit) for n in base for jit in JIT_COMPILE}
    assert len(impls) == len(names) == 2 * len(base)
    assert all(i.dtypes == OPTIMIZER_DTYPES for i in impls)


def test_the_backend_is_registered_and_runs_on_tensorflow():
    adapters, failures = discovery.load_adapters(["tensorflow-compiled"])
    assert not failures, failures
    assert isinstance(adapters["tensorflow-compiled"], KerasCompiledAdapter)


@pytest.mark.parametrize("jit", JIT_COMPILE)
def test_one_momentum_step_by_hand_in_the_compiled_step(momentum_case_by_hand, jit):
    case, expected = momentum_case_by_hand
    out = run_keras_optimizer(_sgd(), case, "float64", "cpu", compile_step=compile_step_with(jit))
    np.testing.assert_array_equal(out["w"], expected)


def test_the_compiled_step_runs_every_step_of_a_trajectory(momentum_case_by_hand):
    case, _ = momentum_case_by_hand
    two = type(case)(
        case.params, [case.grads[0], case.grads[0]], [0.5, 0.25], {"momentum": 0.0}, None
    )
    # plain SGD: theta - 0.5 g - 0.25 g = [1, 2] - 0.75 [0.5, -1]
    for jit in JIT_COMPILE:
        out = run_keras_optimizer(
            _sgd(), two, "float64", "cpu", compile_step=compile_step_with(jit)
        )
        np.testing.assert_array_equal(out["w"], [0.625, 2.75])


def test_to_dtype_rounds_once_to_nearest_even():
    # 1 + 2^-8 is halfway between bfloat16's 1 and 1 + 2^-7: ties to even gives 1;
    # 1 + 2^-8 + 2^-30 is above the tie (float32 first would round it to the tie, then to 1)
    x = np.array([1.0 + 2.0**-8, 1.0 + 2.0**-8 + 2.0**-30, 3.0])
    out = to_dtype(x, "bfloat16")
    assert out.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(out.astype(np.float64), [1.0, 1.0 + 2.0**-7, 3.0])
    assert to_dtype(x, "float32").dtype == np.float32
    with pytest.raises(ValueError, match="dtype must be one of"):
        to_dtype(x, "float16")


def test_a_bfloat16_step_by_hand():
    # bfloat16 keeps 8 significant bits: 1 - 0.5 * 2^-6 = 1 - 2^-7 is exact, the step is too
    c = OptimizerCase({"w": np.array([1.0, 2.0])}, [{"w": np.array([2.0**-6, 0.5])}], [0.5], {})
    out = run_keras_optimizer(_sgd(), c, "bfloat16", "cpu")
    np.testing.assert_array_equal(out["w"], [1.0 - 2.0**-7, 1.75])


def test_every_finding_of_the_compiled_rows_has_a_repro_and_xlas_shows_its_nan(tmp_path):
    from trainspec.conformance.repro import (
        finding_rows,
        generate,
        row_for,
        run_script,
        unreproducible_findings,
    )

    adapter = KerasCompiledAdapter()
    rows = finding_rows(adapter)
    ids = {f.id for _, _, f in rows}
    assert {
        "keras-xla-rmsprop-centered-nan",
        "keras-graph-rmsprop-centered-eps-absorbed",
        "keras-rmsprop-centered-bfloat16-nan",
    } <= ids

    def compiled_as_named(impl, dtype, source):
        wanted = f"jit_compile={impl.name.endswith('(jit_compile=True)')}"
        return None if wanted in source else f"the script lacks {wanted}"

    # registry-driven: a finding without a repro fails here
    assert unreproducible_findings(adapter, compiled_as_named) == []
    xla = next(i for i, d, f in rows if f.id == "keras-xla-rmsprop-centered-nan" and d == "float64")
    rc, out = run_script(generate(adapter, row_for(adapter, xla, "float64", "cpu")), tmp_path)
    assert rc == 1 and "DISCREPANCY" in out and "nan" in out.lower(), out[-2000:]
    graph = next(
        i
        for i, d, f in rows
        if f.id == "keras-graph-rmsprop-centered-eps-absorbed" and d == "float32"
    )
    rc, out = run_script(generate(adapter, row_for(adapter, graph, "float32", "cpu")), tmp_path)
    assert rc == 1 and "DISCREPANCY" in out and "inf" in out.lower(), out[-2000:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_graph_step_absorbs_eps_where_the_centred_variance_is_0(dtype):
    # Grappler's constant folding: (velocity + eps) - avg**2 with velocity = g**2 = 1.6e8, whose
    # half unit exceeds eps in both dtypes: the second step divides by 0 (eagerly it is finite)
    from trainspec.adapters.keras_adapter.optimizers import _rmsprop
    from trainspec.conformance.kinds.optimizers import centred_absorbing_example

    _, case = centred_absorbing_example()
    make = _rmsprop(centered=True)
    graph = run_keras_optimizer(make, case, dtype, "cpu", compile_step=compile_step_with(False))
    eager = run_keras_optimizer(make, case, dtype, "cpu")
    assert np.isinf(graph["w0"]).all() and np.isfinite(eager["w0"]).all()
    impl = next(
        i
        for i in compiled_implementations()
        if i.name == row_name("keras.optimizers.RMSprop(centered=True)", False)
    )
    finding = impl.finding(dtype)
    assert finding is not None and finding.id == "keras-graph-rmsprop-centered-eps-absorbed"
    assert finding.in_region(case)
