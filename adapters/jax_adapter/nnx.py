r"""flax NNX next to linen: ``nnx.BatchNorm``, ``nnx.PReLU``, ``nnx.Linear``/``nnx.Conv``
initialisers and the ``nnx.Optimizer`` wrapper (``nnx.Dropout``'s row is in :mod:`.dropout`).

NNX modules are Python objects holding their variables (``nnx.Param``, ``nnx.BatchStat``);
each row drives the module's own ``__call__`` (or constructor) as a user would, and reads the
variables back. Conventions mapped here, each in one small tested function:

* :func:`nnx_batchnorm`: ``nnx.BatchNorm``'s ``momentum`` is the weight of the OLD running value
  (``ra = momentum * ra + (1 - momentum) * batch``), as linen's and the spec's, passed unchanged;
  ``axis`` from the layout as linen's (:func:`~.norm.flax_axis`). NNX creates the running
  ``mean``/``var`` as float32 zeros and ones whatever ``param_dtype``; the case's initial
  statistics are assigned in the dtype under test (``bn.mean.set_value(...)``), so a float64 run
  keeps float64 statistics. The module is built inside the ``jax.jit``-compiled step from the
  carried variables, ``momentum`` and ``epsilon`` arrays of the dtype.
* :func:`set_prelu_slope`: ``nnx.PReLU`` keeps its one shared slope as ``negative_slope`` (an
  ``nnx.Param`` scalar); the row assigns the case's $\alpha$ to it, and the derivative with
  respect to $\alpha$ is the ``nnx.grad``-style cotangent of that variable (``jax.vjp`` of a
  function of the slope).
* :func:`linear_or_conv`: ``nnx.Linear(in, out)`` for a dense layer, ``nnx.Conv(in, out,
  kernel_size, padding="VALID")`` otherwise; kernels ``(in, out)`` / ``(*k, in, out)`` as
  linen's. The randomness: ``nnx.Rngs(params=key)`` for each of the example's keys
  (:func:`~.init.draw_keys`); the module draws its kernel from that stream.
* :func:`load_nnx_optimizer`: ``nnx.Optimizer(model, tx, wrt=nnx.Param)`` keeps optax's state
  as ``OptArray`` variables in ``opt_state``; the canonical state is loaded into optax's state
  exactly as for plain optax (:func:`~.optimizers.load_state`), then wrapped back the way the
  constructor does (``to_opt_state``). The gradients come from ``nnx.grad`` of
  $\sum_k \langle g_k, \theta_k\rangle$, whose gradient is $g$ exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from flax.nnx.training.optimizer import to_opt_state

from trainspec.adapters.jax_adapter import _DTYPES, JAX_DTYPES, OPTIMIZER_DTYPES, _jax_device
from trainspec.adapters.jax_adapter.activations import PRELU_POSINF, run_activation
from trainspec.adapters.jax_adapter.init import draw_keys, jax_input
from trainspec.adapters.jax_adapter.norm import IDS as NORM_IDS
from trainspec.adapters.jax_adapter.norm import flax_axis
from trainspec.adapters.jax_adapter.optimizers import (
    Buffers,
    Fields,
    _bucketed,
    adam_fields,
    from_bucket,
    load_state,
)
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun, from_layout, to_layout
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.init import Layer

__all__ = [
    "ParamTree",
    "implementations",
    "linear_or_conv",
    "load_nnx_optimizer",
    "nnx_batchnorm",
    "run_nnx_batchnorm",
    "run_nnx_optimizer",
    "set_prelu_slope",
]


# --- BatchNorm ----------------------------------------------------------------------------------


def nnx_batchnorm(
    variables: Mapping[str, Any], layout: str, momentum: Any, epsilon: Any, *, fast: bool
) -> nnx.BatchNorm:
    r"""``nnx.BatchNorm`` holding ``variables`` (``scale`` $\gamma$, ``bias`` $\beta$, running
    ``mean`` and ``var``, arrays of one dtype, which is the module's ``dtype`` and
    ``param_dtype``): the spec's momentum unchanged, ``axis`` from the layout."""
    dtype = variables["scale"].dtype
    bn = nnx.BatchNorm(
        variables["scale"].shape[0],
        axis=flax_axis(layout),
        momentum=momentum,
        epsilon=epsilon,
        dtype=dtype,
        param_dtype=dtype,
        use_fast_variance=fast,
        rngs=nnx.Rngs(0),
    )
    for name in ("scale", "bias", "mean", "var"):
        getattr(bn, name).set_value(variables[name])
    return bn


@partial(jax.jit, static_argnames=("layout", "fast"))
def _train_step(
    x: Any, dy: Any, variables: Any, momentum: Any, eps: Any, *, layout: str, fast: bool
) -> Any:
    """One ``use_running_average=False`` call, its ``jax.vjp`` for ``dy`` (input, ``scale``,
    ``bias``) and the updated running statistics."""

    def forward(xx: Any, scale: Any, bias: Any) -> Any:
        bn = nnx_batchnorm(
            {**variables, "scale": scale, "bias": bias}, layout, momentum, eps, fast=fast
        )
        y = bn(xx, use_running_average=False)
        return y, {"mean": bn.mean.get_value(), "var": bn.var.get_value()}

    y, vjp, stats = jax.vjp(forward, x, variables["scale"], variables["bias"], has_aux=True)
    dx, dscale, dbias = vjp(dy)
    return y, dx, dscale, dbias, stats


@partial(jax.jit, static_argnames=("layout",))
def _test_step(x: Any, variables: Any, eps: Any, *, layout: str) -> Any:
    bn = nnx_batchnorm(variables, layout, jnp.zeros((), x.dtype), eps, fast=True)
    return bn(x, use_running_average=True)


def run_nnx_batchnorm(
    case: BatchNormCase,
    dtype: str,
    device: str,
    *,
    layout: str = "channels_last",
    use_fast_variance: bool = True,
) -> BatchNormRun:
    """Training-mode calls (``use_running_average=False``) with ``jax.vjp`` for the upstream
    gradient, the running statistics carried from call to call; then one
    ``use_running_average=True`` call on the test batch. Both are ``jax.jit``-compiled with the
    module built inside, ``momentum`` and ``epsilon`` arrays of the dtype (traced, so one
    compiled step serves every example of a shape; the arithmetic is that of Python floats,
    which compute in the input's dtype)."""
    jdt = _DTYPES[dtype]

    def arr(a: Any) -> Any:
        return jnp.asarray(a, dtype=jdt)

    def back(t: Any) -> np.ndarray:
        return from_layout(np.asarray(t, dtype=np.float64), case.layout, layout)

    def vec(t: Any) -> np.ndarray:
        return np.array(t, dtype=np.float64)

    with jax.default_device(_jax_device(device)):
        variables = {
            "scale": arr(case.gamma),
            "bias": arr(case.beta),
            "mean": arr(case.initial_mean),
            "var": arr(case.initial_var),
        }
        mom, eps = arr(case.momentum), arr(case.eps)
        run = BatchNormRun([], [], [], [], [], [], np.zeros(0))
        for x, dy in zip(case.batches, case.upstream, strict=True):
            y, dx, dscale, dbias, stats = _train_step(
                arr(to_layout(x, case.layout, layout)),
                arr(to_layout(dy, case.layout, layout)),
                variables,
                mom,
                eps,
                layout=layout,
                fast=use_fast_variance,
            )
            variables = {**variables, **stats}
            run.outputs.append(back(y))
            run.dx.append(back(dx))
            run.dgamma.append(vec(dscale))
            run.dbeta.append(vec(dbias))
            run.running_mean.append(vec(stats["mean"]))
            run.running_var.append(vec(stats["var"]))
        test = _test_step(
            arr(to_layout(case.test_batch, case.layout, layout)), variables, eps, layout=layout
        )
    return BatchNormRun(
        run.outputs, run.dx, run.dgamma, run.dbeta, run.running_mean, run.running_var, back(test)
    )


def _batchnorm_impl(spec_id: str, layout: str, fast: bool = True) -> Implementation:
    flag = "" if fast else ", use_fast_variance=False"
    return Implementation(
        spec_id=spec_id,
        name=f"flax.nnx.BatchNorm(axis={flax_axis(layout)}{flag})",
        run=lambda case, dtype, device: run_nnx_batchnorm(
            case, dtype, device, layout=layout, use_fast_variance=fast
        ),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
        description="use_running_average=False calls (jax.vjp over nnx.split/merge), "
        "then use_running_average=True",
    )


# --- PReLU --------------------------------------------------------------------------------------


def set_prelu_slope(prelu: nnx.PReLU, alpha: Any) -> nnx.PReLU:
    """``prelu`` with its shared slope ``negative_slope`` set to ``alpha`` (a scalar array, or a
    traced value whose cotangent is then the spec's cotangent of ``alpha``)."""
    prelu.negative_slope.set_value(alpha)
    return prelu


def _nnx_prelu(x: Any, hp: Mapping[str, float], p: dict[str, Any]) -> Any:
    return set_prelu_slope(nnx.PReLU(param_dtype=x.dtype), p["alpha"])(x)


def _prelu_impl() -> Implementation:
    return Implementation(
        spec_id="act.prelu",
        name="flax.nnx.PReLU",
        run=lambda case, dtype, device: run_activation(
            _nnx_prelu,
            case,
            dtype,
            device,
            lambda hp, dt: {"alpha": jnp.asarray(hp["alpha"], dtype=dt)},
        ),
        dtypes=("float32", "float64", "float16"),
        devices=("cpu", "cuda"),
        description="nnx.PReLU(param_dtype=dtype) with negative_slope set to alpha",
        findings={"*": PRELU_POSINF},
    )


# --- Linear / Conv initialisers -----------------------------------------------------------------


def linear_or_conv(layer: Layer, dtype: Any, key: Any, **kwargs: Any) -> nnx.Module:
    """``nnx.Linear`` for a dense layer, ``nnx.Conv(padding="VALID")`` otherwise, parameters in
    ``dtype``, drawn from ``nnx.Rngs(params=key)``."""
    common = {"dtype": dtype, "param_dtype": dtype, "rngs": nnx.Rngs(params=key), **kwargs}
    if not layer.kernel_size:
        return nnx.Linear(layer.in_features, layer.out_features, **common)
    return nnx.Conv(
        layer.in_features, layer.out_features, layer.kernel_size, padding="VALID", **common
    )


def _layer_draws(case: Any, dtype: str, device: str, read: Callable[[Any], Any]) -> np.ndarray:
    """``read(module)`` of one freshly constructed module per key of the example."""
    jdt = _DTYPES[dtype]
    with jax.default_device(_jax_device(device)):
        keys = draw_keys(case.seed, case.draws)
        out = jax.vmap(lambda k: read(linear_or_conv(case.layer, jdt, k)))(keys)
        return np.asarray(out, dtype=np.float64)


def _default_kernels(case: Any, dtype: str, device: str) -> np.ndarray:
    return _layer_draws(case, dtype, device, lambda m: m.kernel.get_value())


def _default_biases(case: Any, dtype: str, device: str) -> np.ndarray:
    return _layer_draws(case, dtype, device, lambda m: m.bias.get_value())


def _layer_output(case: Any, dtype: str, device: str) -> np.ndarray:
    """A bias-free nnx layer whose ``kernel_init`` is the rule's initialiser, applied to ``x``."""
    from trainspec.adapters.jax_adapter.init import RULE_INITIALIZERS

    init = RULE_INITIALIZERS[case.choice][1]()
    with jax.default_device(_jax_device(device)):
        module = linear_or_conv(
            case.layer, _DTYPES[dtype], jax.random.key(case.seed), use_bias=False, kernel_init=init
        )
        z = module(jax_input(case.x, dtype))
        return np.asarray(z, dtype=np.float64).reshape(-1)


def _init_impls() -> list[Implementation]:
    both, dts = ("cpu", "cuda"), tuple(_DTYPES)
    return [
        Implementation(
            "init.lecun_normal",
            "flax.nnx.Linear/Conv default kernel_init",
            _default_kernels,
            dts,
            both,
            "the kernel nnx.Linear/nnx.Conv(padding='VALID') draws at construction",
            {"layout": "channels_last"},
        ),
        Implementation(
            "init.bias",
            "flax.nnx.Linear/Conv default bias_init",
            _default_biases,
            dts,
            both,
            "the bias nnx.Linear/nnx.Conv draws at construction (zeros by default)",
        ),
        Implementation(
            "init.variance_rule",
            "flax.nnx.Linear/Conv(use_bias=False) + jax.nn.initializers",
            _layer_output,
            dts,
            both,
            "outputs of an nnx layer whose kernel_init is the rule's initialiser",
        ),
    ]


# --- nnx.Optimizer ------------------------------------------------------------------------------


class ParamTree(nnx.Module):
    """A model whose parameters are the case's named tensors (``nnx.Param`` attributes)."""

    def __init__(self, tree: Mapping[str, Any]) -> None:
        for name, value in tree.items():
            setattr(self, name, nnx.Param(value))


def load_nnx_optimizer(optimizer: nnx.Optimizer, state: Any) -> None:
    """Replace ``optimizer``'s optax state by ``state`` (a loaded optax state), wrapped in
    ``OptArray`` variables as ``nnx.Optimizer.__init__`` wraps ``tx.init``'s."""
    optimizer.opt_state = nnx.data(to_opt_state(state))


Make = Callable[[OptimizerCase, Callable[[Any], Any]], optax.GradientTransformation]


def run_nnx_optimizer(
    make: Make,
    fields: Callable[[Buffers, Any], Fields] | None,
    case: OptimizerCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """Every step of the case through ``nnx.Optimizer(model, make(case, lr), wrt=nnx.Param)``;
    tensors run flattened in their buckets (:func:`~.optimizers.to_bucket`)."""
    from trainspec.adapters.jax_adapter import load_trace, schedule_from_values

    jdt = JAX_DTYPES[dtype]
    run = _bucketed(case)
    with jax.default_device(_jax_device(device)):
        model = ParamTree({k: jnp.asarray(v, dtype=jdt) for k, v in run.params.items()})
        start = 0 if run.state is None else run.state.count
        lr = schedule_from_values(run.learning_rates, start, jdt)
        optimizer = nnx.Optimizer(model, make(run, lr), wrt=nnx.Param)
        if run.state is not None:
            # optax's state mirrors the parameters' tree, an ``nnx.State``: so do the buffers
            buffers = {
                b: nnx.State({k: jnp.asarray(v, dtype=jdt) for k, v in tree.items()})
                for b, tree in run.state.buffers.items()
            }
            state = nnx.as_pure(optimizer.opt_state)
            if fields is None:
                state = load_trace(state, buffers.get("trace", nnx.State({})), start)
            else:
                state = load_state(state, fields(buffers, lr(jnp.asarray(start))), start)
            load_nnx_optimizer(optimizer, state)
        for grads in run.grads:
            g = {k: jnp.asarray(v, dtype=jdt) for k, v in grads.items()}

            def loss(m: ParamTree, g: dict[str, Any] = g) -> Any:
                return sum(jnp.sum(gk * getattr(m, k).get_value()) for k, gk in g.items())

            optimizer.update(model, nnx.grad(loss)(model))
        out = {k: np.asarray(getattr(model, k).get_value(), dtype=np.float64) for k in run.params}
    return {k: from_bucket(out[k], np.shape(v)) for k, v in case.params.items()}


def _mu(c: OptimizerCase) -> float:
    return c.hyperparameters.get("momentum", 0.0)


def _hp(c: OptimizerCase, name: str) -> float:
    return c.hyperparameters[name]


#: spec ID, the optax transformation inside nnx.Optimizer, how to build it, state fields
OPTIMIZERS: tuple[tuple[str, str, Make, Callable[[Buffers, Any], Fields] | None], ...] = (
    ("opt.gd", "sgd", lambda c, lr: optax.sgd(lr), None),
    ("opt.momentum", "sgd(momentum)", lambda c, lr: optax.sgd(lr, momentum=_mu(c)), None),
    (
        "opt.adam",
        "adam",
        lambda c, lr: optax.adam(lr, b1=_hp(c, "beta1"), b2=_hp(c, "beta2"), eps=_hp(c, "eps")),
        adam_fields,
    ),
    (
        "opt.adamw",
        "adamw",
        lambda c, lr: optax.adamw(
            lr,
            b1=_hp(c, "beta1"),
            b2=_hp(c, "beta2"),
            eps=_hp(c, "eps"),
            weight_decay=_hp(c, "weight_decay"),
        ),
        adam_fields,
    ),
)


def _optimizer_impl(
    spec_id: str, name: str, make: Make, fields: Callable[[Buffers, Any], Fields] | None
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=f"flax.nnx.Optimizer({name})",
        run=lambda case, dtype, device: run_nnx_optimizer(make, fields, case, dtype, device),
        dtypes=OPTIMIZER_DTYPES,
        devices=("cpu", "cuda"),
        description="nnx.Optimizer(model, tx, wrt=nnx.Param).update(model, nnx.grad(loss)(model))",
    )


def implementations() -> list[Implementation]:
    """NNX's BatchNorm (as linen's rows), PReLU, Linear/Conv initialisers, nnx.Optimizer."""
    out = [_batchnorm_impl(spec_id, "channels_last") for spec_id in NORM_IDS]
    out.append(_batchnorm_impl("norm.batch.train", "channels_first"))
    out += [
        _batchnorm_impl(s, "channels_last", fast=False)
        for s in ("norm.batch.train", "norm.batch.running", "norm.batch.grad")
    ]
    out.append(_prelu_impl())
    out += _init_impls()
    out += [_optimizer_impl(*row) for row in OPTIMIZERS]
    return out
