"""Every convention the Paddle adapter maps, measured against Paddle itself (no mocks)."""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from trainspec_paddle import PaddleAdapter, norm
from trainspec_paddle import activations as act
from trainspec_paddle import clipping as clip
from trainspec_paddle import dropout as drop
from trainspec_paddle import init as ini
from trainspec_paddle import optimizers as opt
from trainspec_paddle import schedules as sch

from trainspec.conformance import load_adapters
from trainspec.reference.clipping import NonFiniteNormError


def _param(values: list[float], dtype: str = "float64") -> paddle.Tensor:
    return paddle.create_parameter(
        [len(values)], dtype, default_initializer=paddle.nn.initializer.Assign(np.array(values))
    )


def _step(o: paddle.optimizer.Optimizer, p: paddle.Tensor, g: list[float]) -> None:
    p.grad = paddle.to_tensor(np.array(g), dtype=p.dtype)
    o.step()
    o.clear_grad()


# --- entry point ---------------------------------------------------------------------------------


def test_the_entry_point_loads_the_adapter() -> None:
    adapters, failures = load_adapters(["paddle"])
    assert failures == {}
    assert isinstance(adapters["paddle"], PaddleAdapter)
    ids = {i.spec_id for i in adapters["paddle"].implementations()}
    assert {"opt.adam", "sched.plateau", "norm.batch.grad", "drop.mc", "act.relu"} <= ids


# --- optimizers ---------------------------------------------------------------------------------


def test_set_learning_rate_is_the_step_size() -> None:
    p = _param([1.0])
    o = paddle.optimizer.SGD(0.5, [p])
    opt.set_learning_rate(o, 0.25)
    _step(o, p, [1.0])
    assert float(p.numpy()[0]) == 0.75


@pytest.mark.parametrize(
    ("spec_id", "make"),
    [
        ("opt.momentum", lambda p: paddle.optimizer.Momentum(0.1, 0.9, [p])),
        ("opt.adagrad", lambda p: paddle.optimizer.Adagrad(0.1, parameters=[p])),
        (
            "opt.rmsprop",
            lambda p: paddle.optimizer.RMSProp(0.1, momentum=0.5, centered=True, parameters=[p]),
        ),
        ("opt.adam", lambda p: paddle.optimizer.Adam(0.1, parameters=[p], amsgrad=True)),
        ("opt.adamw", lambda p: paddle.optimizer.AdamW(0.1, parameters=[p], amsgrad=True)),
        ("opt.adamax", lambda p: paddle.optimizer.Adamax(0.1, parameters=[p])),
        ("opt.adadelta", lambda p: paddle.optimizer.Adadelta(0.1, parameters=[p])),
    ],
)
def test_state_keys_name_paddles_accumulators(spec_id: str, make: object) -> None:
    p = _param([1.0, 2.0])
    o = make(p)  # type: ignore[operator]
    _step(o, p, [0.1, 0.2])
    keys = set(o.state_dict())
    for acc in opt.ACCUMULATORS[spec_id].values():
        assert opt.state_key(p, acc) in keys


def test_beta_pow_after_count_steps() -> None:
    p = _param([1.0])
    o = paddle.optimizer.Adam(0.1, beta1=0.5, beta2=0.75, parameters=[p])
    for count in range(3):
        _step(o, p, [0.1])
        sd = o.state_dict()
        assert float(sd[opt.state_key(p, "beta1_pow_acc")].numpy()[0]) == opt.beta_pow_from_count(
            0.5, count + 1
        )
        assert float(sd[opt.state_key(p, "beta2_pow_acc")].numpy()[0]) == opt.beta_pow_from_count(
            0.75, count + 1
        )
    with pytest.raises(ValueError, match="count"):
        opt.beta_pow_from_count(0.5, -1)


def test_rmsprop_momentum_holds_the_learning_rate() -> None:
    # one step from zero state: Paddle's momentum accumulator is lr * g / sqrt(s + eps)
    lr, g, rho, eps = 0.5, 0.25, 0.5, 0.0625
    p = _param([1.0])
    o = paddle.optimizer.RMSProp(lr, rho=rho, epsilon=eps, momentum=0.5, parameters=[p])
    _step(o, p, [g])
    s = (1 - rho) * g * g
    b = g / np.sqrt(s + eps)  # the canonical learning-rate-free buffer
    got = float(o.state_dict()[opt.state_key(p, "momentum")].numpy()[0])
    assert got == pytest.approx(float(opt.rmsprop_momentum_from_buffer(np.array(b), lr)), rel=1e-15)
    assert float(p.numpy()[0]) == pytest.approx(1.0 - got, rel=1e-15)


def test_a_loaded_momentum_state_is_the_canonical_trace() -> None:
    p = _param([1.0])
    o = paddle.optimizer.Momentum(0.5, 0.5, [p])
    o.set_state_dict({opt.state_key(p, "velocity"): paddle.to_tensor([2.0], dtype="float64")})
    _step(o, p, [1.0])
    # b = 0.5 * 2 + 1 = 2; theta = 1 - 0.5 * 2
    assert float(p.numpy()[0]) == 0.0


# --- schedules ----------------------------------------------------------------------------------


def test_linear_lr_arguments_reach_both_ends() -> None:
    for eta0, eta_tau in ((0.5, 0.125), (0.125, 0.5)):
        base, start, end = sch.linear_lr_arguments(eta0, eta_tau)
        s = paddle.optimizer.lr.LinearLR(base, 4, start_factor=start, end_factor=end)
        values = [s()]
        for _ in range(5):
            s.step()
            values.append(s())
        assert values[0] == pytest.approx(eta0) and values[4] == pytest.approx(eta_tau)
        assert values[5] == pytest.approx(eta_tau)


def test_inverse_time_gamma_is_one_over_s() -> None:
    s = paddle.optimizer.lr.InverseTimeDecay(1.0, sch.inverse_time_gamma(4))
    for _ in range(4):
        s.step()
    assert s() == pytest.approx(0.5, rel=1e-15)


def test_piecewise_values() -> None:
    assert sch.piecewise_values(0.5, 0.5, 2) == [0.5, 0.25, 0.125]
    s = paddle.optimizer.lr.PiecewiseDecay([2], sch.piecewise_values(0.5, 0.5, 1))
    seen = [s()]
    for _ in range(2):
        s.step()
        seen.append(s())
    assert seen == [0.5, 0.5, 0.25]


def test_plateau_arguments_skip_no_reduction() -> None:
    hp = {
        "learning_rate": 1.0,
        "factor": 0.5,
        "patience": 0,
        "threshold": 0.0,
        "cooldown": 0,
        "min_learning_rate": 1.0 - 2.0**-30,  # a reduction of 2^-30 < Paddle's default epsilon
    }
    args = sch.plateau_arguments(hp, "min", "absolute")
    assert (
        args["epsilon"] == 0.0
        and args["threshold_mode"] == "abs"
        and args["min_lr"] == hp["min_learning_rate"]
    )
    s = paddle.optimizer.lr.ReduceOnPlateau(**args)
    s.step(1.0)
    s.step(1.0)
    assert s() == hp["min_learning_rate"]


# --- clipping -----------------------------------------------------------------------------------


def test_nonfinite_error_converts_paddles_error() -> None:
    p = paddle.create_parameter([2], "float32")
    p.grad = paddle.to_tensor([np.inf, 1.0], dtype="float32")
    with pytest.raises(RuntimeError) as info:
        paddle.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert isinstance(clip.nonfinite_error(info.value), NonFiniteNormError)
    other = ValueError("x")
    assert clip.nonfinite_error(other) is other


def test_gradient_shape_restores_a_0d_gradient() -> None:
    p = paddle.create_parameter([], "float32")
    g = paddle.to_tensor(3.0, dtype="float32")
    ((_, out),) = paddle.nn.ClipGradByGlobalNorm(1.0)([(p, g)])
    assert tuple(out.shape) == (1,)  # what Paddle does
    assert clip.gradient_shape(out.numpy(), ()).shape == ()
    with pytest.raises(ValueError, match="shape"):
        clip.gradient_shape(np.zeros(2), (3,))


# --- batch norm ---------------------------------------------------------------------------------


def test_paddle_momentum_weights_the_old_value() -> None:
    bn = paddle.nn.BatchNorm1D(1, momentum=norm.paddle_momentum(0.75))
    bn.train()
    bn(paddle.to_tensor([[1.0], [3.0]], dtype="float32"))
    # 0.75 * 0 + 0.25 * 2
    assert float(bn.state_dict()["_mean"].numpy()[0]) == 0.5


def test_paddle_input_shapes() -> None:
    x = np.zeros((2, 3))
    assert norm.paddle_input(x, "2d", False).shape == (2, 3, 1, 1)
    assert norm.paddle_input(x, "2d", True).shape == (2, 1, 1, 3)
    img = np.zeros((2, 3, 4, 5))
    assert norm.paddle_input(img, "1d", False).shape == (2, 3, 20)
    assert norm.paddle_input(np.zeros((2, 4, 5, 3)), "1d", True).shape == (2, 20, 3)
    with pytest.raises(ValueError, match="layer"):
        norm.paddle_input(x, "3d", False)


def test_default_dtype_builds_float64_layers_and_restores() -> None:
    before = paddle.get_default_dtype()
    with norm.default_dtype("float64"):
        bn = paddle.nn.BatchNorm2D(2)
    assert bn.weight.dtype == paddle.float64
    assert paddle.get_default_dtype() == before


# --- dropout ------------------------------------------------------------------------------------


def test_dropout_p_is_the_drop_probability() -> None:
    paddle.seed(0)
    y = paddle.nn.functional.dropout(paddle.ones([40000]), **drop.dropout_arguments(0.25)).numpy()
    assert abs(float(np.mean(y == 0)) - 0.25) < 0.01


def test_as_batch() -> None:
    assert drop.as_batch(np.zeros(3)).shape == (1, 3)
    assert drop.as_batch(np.zeros((2, 3))).shape == (2, 3)


# --- init ---------------------------------------------------------------------------------------


def test_paddle_kernel_shapes_are_the_layers_weights() -> None:
    assert list(paddle.nn.Linear(3, 5).weight.shape) == ini.paddle_kernel_shape(3, 5, ())
    assert list(paddle.nn.Conv2D(3, 5, (2, 4)).weight.shape) == ini.paddle_kernel_shape(
        3, 5, (2, 4)
    )
    assert ini.torch_layout(np.zeros((3, 5)), ()).shape == (5, 3)
    assert ini.torch_layout(np.zeros((5, 3, 2)), (2,)).shape == (5, 3, 2)


def test_kaiming_arguments_give_the_gains() -> None:
    # the uniform bound is gain * sqrt(3 / fan_in); fan_in of a [in, out] kernel is in = 1000
    for rule, gain in (("init.he_uniform", np.sqrt(2.0)), ("init.lecun_uniform", 1.0)):
        paddle.seed(0)
        w = paddle.create_parameter(
            [1000, 100],
            "float64",
            default_initializer=paddle.nn.initializer.KaimingUniform(**ini.kaiming_arguments(rule)),
        ).numpy()
        bound = gain * np.sqrt(3.0 / 1000)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    with pytest.raises(ValueError, match="rule"):
        ini.kaiming_arguments("init.glorot_uniform")


# --- activations --------------------------------------------------------------------------------


def test_paddle_kwargs() -> None:
    assert act.paddle_kwargs("act.leaky_relu", {"alpha": 0.25}) == {"negative_slope": 0.25}
    assert act.paddle_kwargs("act.elu", {"alpha": 0.5}) == {"alpha": 0.5}
    assert act.paddle_kwargs("act.relu", {}) == {}
    y = paddle.nn.functional.leaky_relu(
        paddle.to_tensor([-4.0]), **act.paddle_kwargs("act.leaky_relu", {"alpha": 0.25})
    )
    assert float(y.numpy()[0]) == -1.0


def test_prelu_weight_gets_the_slope_gradient() -> None:
    w = act.prelu_weight(0.25, "float64")
    x = paddle.to_tensor([-2.0, 3.0], dtype="float64")
    x.stop_gradient = False  # (paddle.grad with respect to w alone crashes Paddle 3.3.1)
    y = paddle.nn.functional.prelu(x, w)
    gx, gw = paddle.grad([y], [x, w], [paddle.ones_like(y)])
    assert list(w.shape) == [1] and float(gw.numpy()[0]) == -2.0
    assert gx.numpy().tolist() == [0.25, 1.0]
