"""The NNX rows' conventions (flax.nnx BatchNorm, PReLU, Linear/Conv, Optimizer)."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from trainspec.adapters.jax_adapter.nnx import (
    ParamTree,
    linear_or_conv,
    load_nnx_optimizer,
    nnx_batchnorm,
    run_nnx_batchnorm,
    run_nnx_optimizer,
    set_prelu_slope,
)
from trainspec.conformance.kinds.norm import BatchNormCase
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.init import Layer
from trainspec.reference.optimizers.common import CanonicalState


def _bn_case(momentum: float = 0.75) -> BatchNormCase:
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    return BatchNormCase(
        layout="channels_last",
        batches=(x,),
        upstream=(np.ones_like(x),),
        test_batch=x,
        gamma=np.array([1.0, 2.0]),
        beta=np.array([0.0, 1.0]),
        eps=0.5,
        momentum=momentum,
        initial_mean=np.array([1.0, -1.0]),
        initial_var=np.array([2.0, 3.0]),
    )


def test_batchnorm_momentum_is_the_old_value_weight_and_statistics_keep_the_dtype():
    case = _bn_case()
    variables = {
        k: jnp.asarray(v, dtype=jnp.float64)
        for k, v in zip(
            ("scale", "bias", "mean", "var"),
            (case.gamma, case.beta, case.initial_mean, case.initial_var),
            strict=True,
        )
    }
    bn = nnx_batchnorm(variables, "channels_last", 0.75, 0.5, fast=True)
    assert bn.momentum == 0.75 and bn.mean.get_value().dtype == jnp.float64
    run = run_nnx_batchnorm(case, "float64", "cpu")
    batch_mean = case.batches[0].mean(axis=0)
    expected = 0.75 * case.initial_mean + 0.25 * batch_mean
    np.testing.assert_allclose(run.running_mean[0], expected, rtol=1e-15)
    var = case.batches[0].var(axis=0)
    np.testing.assert_allclose(run.running_var[0], 0.75 * case.initial_var + 0.25 * var)
    y = (case.batches[0] - batch_mean) / np.sqrt(var + 0.5) * case.gamma + case.beta
    np.testing.assert_allclose(run.outputs[0], y, rtol=1e-14)


def test_batchnorm_rejects_an_unknown_layout():
    with pytest.raises(ValueError, match="layout"):
        nnx_batchnorm({"scale": jnp.ones(2)}, "nhwc", 0.5, 0.5, fast=True)


def test_prelu_slope_is_the_shared_negative_slope():
    prelu = set_prelu_slope(nnx.PReLU(param_dtype=jnp.float64), jnp.asarray(0.25, jnp.float64))
    y = prelu(jnp.asarray([-4.0, 2.0], dtype=jnp.float64))
    assert np.asarray(y).tolist() == [-1.0, 2.0]


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(Layer(3, 5), (3, 5)), (Layer(3, 5, (2, 4)), (2, 4, 3, 5))],
)
def test_linear_or_conv_kernel_layout(layer, shape):
    import jax

    m = linear_or_conv(layer, jnp.float32, jax.random.key(0))
    assert m.kernel.get_value().shape == shape and m.kernel.get_value().dtype == jnp.float32
    assert np.all(np.asarray(m.bias.get_value()) == 0)


def test_load_nnx_optimizer_puts_the_state_where_update_reads_it():
    model = ParamTree({"w": jnp.asarray([1.0, 2.0], dtype=jnp.float64)})
    opt = nnx.Optimizer(model, optax.sgd(0.5, momentum=0.5), wrt=nnx.Param)
    state = nnx.as_pure(opt.opt_state)
    trace = nnx.State({"w": jnp.asarray([4.0, 8.0], dtype=jnp.float64)})
    state = (optax.TraceState(trace=trace), *state[1:])
    load_nnx_optimizer(opt, state)
    grads = nnx.grad(lambda m: jnp.sum(m.w.get_value()))(model)
    opt.update(model, grads)
    # b = 0.5 * [4, 8] + 1 = [3, 5]; w = [1, 2] - 0.5 * b
    assert np.asarray(model.w.get_value()).tolist() == [-0.5, -0.5]


def test_run_nnx_optimizer_one_momentum_step():
    case = OptimizerCase(
        {"w": np.array([[1.0, 2.0]])},
        [{"w": np.array([[1.0, -1.0]])}],
        [0.5],
        {"momentum": 0.5},
        CanonicalState(3, {"trace": {"w": np.array([[4.0, 8.0]])}}),
    )
    out = run_nnx_optimizer(lambda c, lr: optax.sgd(lr, momentum=0.5), None, case, "float64", "cpu")
    # b = 0.5 * [4, 8] + [1, -1] = [3, 3]
    assert out["w"].tolist() == [[-0.5, 0.5]]


def test_sixteen_bit_rows_are_declared():
    from trainspec.adapters.jax_adapter import JaxAdapter

    rows = JaxAdapter().implementations()
    optax_rows = [i for i in rows if i.spec_id.startswith("opt.") and i.name in {"adam", "sgd"}]
    assert optax_rows and all("bfloat16" in i.dtypes for i in optax_rows)
    for prefix in ("clip.", "loss."):
        mine = [i for i in rows if i.spec_id.startswith(prefix)]
        assert mine and all("float16" in i.dtypes for i in mine)
    assert {i.name for i in rows if i.name.startswith("flax.nnx.")} >= {
        "flax.nnx.BatchNorm(axis=-1)",
        "flax.nnx.PReLU",
        "flax.nnx.Linear/Conv default kernel_init",
        "flax.nnx.Optimizer(adam)",
    }


def test_optax_runs_in_bfloat16():
    from trainspec.adapters.jax_adapter import run_optax

    case = OptimizerCase({"w": np.array([1.0, 3.0])}, [{"w": np.array([0.5, 0.25])}], [0.5], {})
    out = run_optax(lambda c, lr: optax.sgd(lr), case, "bfloat16", "cpu")
    assert out["w"].tolist() == [0.75, 2.875]
