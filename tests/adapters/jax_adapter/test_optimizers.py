"""optax's adaptive optimizers: the state conversions, hand-checked steps, and a planted fault per
optimizer (real optax, wrong mapping) that the kit reports as diverges."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainspec import reference
from trainspec.adapters.jax_adapter import JaxAdapter
from trainspec.adapters.jax_adapter.optimizers import (
    adadelta_fields,
    adam_fields,
    adamax_fields,
    amsgrad_fields,
    eta_inside_velocity,
    from_bucket,
    implementations,
    load_state,
    rms_fields,
    rss_fields,
    run_adaptive,
    to_bucket,
)
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.runner import check_row
from trainspec.reference.optimizers.common import CanonicalState

W = {"w": jnp.zeros(2)}
A = {"w": jnp.asarray([1.0, 2.0])}
B = {"w": jnp.asarray([3.0, 4.0])}
C = {"w": jnp.asarray([5.0, 6.0])}
LR = optax.constant_schedule(0.1)  # a schedule: scale_by_learning_rate keeps a count


def test_load_state_fills_the_named_fields_of_the_given_types_and_every_counter():
    opt = optax.adam(LR)  # chain(ScaleByAdamState, ScaleByScheduleState)
    st = load_state(opt.init(W), {optax.ScaleByAdamState: {"mu": A, "nu": B}}, 7)
    assert np.array_equal(st[0].mu["w"], [1.0, 2.0]) and np.array_equal(st[0].nu["w"], [3.0, 4.0])
    assert int(st[0].count) == 7 and int(st[-1].count) == 7
    assert st[0].count.dtype == jnp.int32 and st[-1].count.dtype == jnp.int32


def test_rss_fields_put_the_accumulator_into_sum_of_squares():
    st = load_state(optax.adagrad(LR).init(W), rss_fields({"accumulator": A}, None), 3)
    assert np.array_equal(st[0].sum_of_squares["w"], [1.0, 2.0]) and int(st[1].count) == 3


def test_eta_inside_velocity_is_minus_eta_times_the_buffer():
    v = eta_inside_velocity({"w": jnp.asarray([2.0, -4.0])}, jnp.asarray(0.25))
    np.testing.assert_array_equal(v["w"], [-0.5, 1.0])


def test_rms_fields_fill_nu_mu_and_the_eta_inside_trace():
    bufs = {"square_avg": A, "grad_avg": B, "momentum_buffer": C}
    plain = load_state(optax.rmsprop(LR, momentum=0.5).init(W), rms_fields(bufs, 0.5), 4)
    assert isinstance(plain[0], optax.ScaleByRmsState) and isinstance(plain[2], optax.TraceState)
    assert np.array_equal(plain[0].nu["w"], [1.0, 2.0])
    assert np.array_equal(plain[2].trace["w"], [-2.5, -3.0]) and int(plain[1].count) == 4
    centered = optax.rmsprop(LR, momentum=0.5, centered=True).init(W)
    centered = load_state(centered, rms_fields(bufs, 0.5), 4)
    assert isinstance(centered[0], optax.ScaleByRStdDevState)
    assert np.array_equal(centered[0].nu["w"], [1.0, 2.0])
    assert np.array_equal(centered[0].mu["w"], [3.0, 4.0])


def test_adam_fields_fill_mu_and_nu_of_adam_adamw_and_nadam():
    for opt in (optax.adam(LR), optax.adamw(LR), optax.nadam(LR)):
        st = load_state(opt.init(W), adam_fields({"m": A, "v": B, "v_max": C}, None), 5)
        assert np.array_equal(st[0].mu["w"], [1.0, 2.0]) and np.array_equal(st[0].nu["w"], [3, 4])
        assert int(st[0].count) == 5 and int(st[-1].count) == 5


def test_amsgrad_fields_fill_mu_nu_and_nu_max():
    st = load_state(
        optax.amsgrad(LR).init(W), amsgrad_fields({"m": A, "v": B, "v_max": C}, None), 2
    )
    assert isinstance(st[0], optax.ScaleByAmsgradState) and int(st[0].count) == 2
    assert np.array_equal(st[0].mu["w"], [1.0, 2.0]) and np.array_equal(st[0].nu["w"], [3, 4])
    assert np.array_equal(st[0].nu_max["w"], [5.0, 6.0])


def test_adamax_fields_put_the_infinity_norm_into_nu():
    st = load_state(optax.adamax(LR).init(W), adamax_fields({"m": A, "u": B}, None), 9)
    assert np.array_equal(st[0].mu["w"], [1.0, 2.0]) and np.array_equal(st[0].nu["w"], [3, 4])
    assert int(st[0].count) == 9


def test_adadelta_fields_fill_e_g_and_e_x():
    st = optax.adadelta(LR).init(W)
    st = load_state(st, adadelta_fields({"square_avg": A, "acc_delta": B}, None), 1)
    unit = next(s for s in st if isinstance(s, optax.ScaleByAdaDeltaState))
    assert np.array_equal(unit.e_g["w"], [1.0, 2.0]) and np.array_equal(unit.e_x["w"], [3, 4])


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3), (4, 4), (5, 1, 7)])
def test_tensors_run_flat_in_power_of_two_buckets_and_come_back(shape):
    x = np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape)
    b = to_bucket(x)
    assert b.ndim == 1 and b.size >= x.size and b.size & (b.size - 1) == 0
    assert b.size < 2 * max(x.size, 1) and np.all(b[x.size :] == 0)
    np.testing.assert_array_equal(from_bucket(b, shape), x)


def test_the_padding_leaves_every_real_element_as_optax_computes_it_unpadded():
    rng = np.random.default_rng(0)
    case = OptimizerCase(
        {"a": rng.standard_normal((3, 5)), "b": rng.standard_normal(())},
        [{"a": rng.standard_normal((3, 5)), "b": rng.standard_normal(())} for _ in range(3)],
        [0.1, 0.05, 0.01],
        {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8},
    )
    make = lambda c, lr: optax.adam(lr, b1=0.9, b2=0.99, eps=1e-8)  # noqa: E731
    bucketed = run_adaptive(make, adam_fields, case, "float64", "cpu")
    from trainspec.adapters.jax_adapter import run_optax

    plain = run_optax(make, case, "float64", "cpu")
    for k in case.params:
        assert bucketed[k].shape == np.shape(case.params[k])
        np.testing.assert_array_equal(bucketed[k], plain[k])


def test_one_adam_step_from_a_state_by_hand():
    """beta1 = beta2 = 0.5, count 1 (step t = 2: both corrections 1 - 0.25 = 0.75), eta 0.5.

    w[0]: m = 0.5*1 + 0.5*2 = 1.5, v = 0.5*2 + 0.5*4 = 3: m-hat = 2, v-hat = 4, step 2/(2 + eps);
    w[1]: m = 0.5*3 - 0.5*2 = 0.5, v = 3: m-hat = 2/3, v-hat = 4, step (2/3)/(2 + eps).
    """
    eps = 1e-8
    case = OptimizerCase(
        params={"w": np.array([1.0, 2.0])},
        grads=[{"w": np.array([2.0, -2.0])}],
        learning_rates=[0.5],
        hyperparameters={"beta1": 0.5, "beta2": 0.5, "eps": eps},
        state=CanonicalState(
            1, {"m": {"w": np.array([1.0, 3.0])}, "v": {"w": np.array([2.0, 2.0])}}
        ),
    )
    make = lambda c, lr: optax.adam(lr, b1=0.5, b2=0.5, eps=eps)  # noqa: E731
    out = run_adaptive(make, adam_fields, case, "float64", "cpu")
    np.testing.assert_allclose(
        out["w"], [1.0 - 0.5 * 2.0 / (2.0 + eps), 2.0 - 0.5 * (2.0 / 3.0) / (2.0 + eps)], rtol=1e-15
    )


def test_one_rmsprop_momentum_step_from_a_state_by_hand():
    """rho 0.5, momentum 0.5, eta 0.5, canonical b = 2: optax's trace starts at -eta*b = -1.

    s = 0.5*1 + 0.5*9 = 5 (eps inside: D = sqrt(5 + eps)); v = 0.5*(-1) - 0.5*3/D; w += v.
    """
    eps = 1e-7
    case = OptimizerCase(
        params={"w": np.array([1.0])},
        grads=[{"w": np.array([3.0])}],
        learning_rates=[0.5],
        hyperparameters={"rho": 0.5, "eps": eps, "momentum": 0.5},
        state=CanonicalState(
            6,
            {
                "square_avg": {"w": np.array([1.0])},
                "grad_avg": {"w": np.array([0.0])},
                "momentum_buffer": {"w": np.array([2.0])},
            },
        ),
    )
    make = lambda c, lr: optax.rmsprop(lr, decay=0.5, eps=eps, momentum=0.5)  # noqa: E731
    out = run_adaptive(make, rms_fields, case, "float64", "cpu")
    np.testing.assert_allclose(out["w"], [1.0 - 0.5 - 1.5 / np.sqrt(5.0 + eps)], rtol=1e-15)


def test_rows_cover_every_optax_optimizer_and_flag():
    mine = {(i.spec_id, i.name) for i in implementations()}
    assert mine <= {(i.spec_id, i.name) for i in JaxAdapter().implementations()}
    assert len(mine) == 15
    for spec_id, name in [
        ("opt.adam", "amsgrad"),
        ("opt.adam", "amsgrad(bias_correction_nu=False)"),
        ("opt.nadam", "nadam"),
        ("opt.adadelta", "adadelta"),
        ("opt.rmsprop", "rmsprop(centered=True, eps_in_sqrt=False)"),
    ]:
        assert (spec_id, name) in mine


# --- planted faults: real optax, wrong mapping; the kit must report diverges -------------------


def _hp(c, name):
    return c.hyperparameters[name]


def _count_plus_one(case):
    """The state's step count loaded as count + 1: bias correction one step late (the schedule
    starts at that count too, so the learning rates stay right)."""
    if case.state is None:
        return case
    return dataclasses.replace(case, state=CanonicalState(case.state.count + 1, case.state.buffers))


def _run(make, fields, shift=lambda c: c):
    return lambda c, d, dev: run_adaptive(make, fields, shift(c), d, dev)


def _betas(c, swap=False):
    b1, b2 = _hp(c, "beta1"), _hp(c, "beta2")
    return {"b1": b2, "b2": b1} if swap else {"b1": b1, "b2": b2}


PLANTED = {
    "adagrad: eps passed as sqrt(eps)": (
        "opt.adagrad",
        _run(
            lambda c, lr: optax.adagrad(
                lr,
                initial_accumulator_value=_hp(c, "initial_accumulator_value"),
                eps=float(np.float32(np.sqrt(_hp(c, "eps")))),
            ),
            rss_fields,
        ),
    ),
    "rmsprop: momentum loaded as the canonical b (no eta-inside conversion)": (
        "opt.rmsprop",
        _run(
            lambda c, lr: optax.rmsprop(
                lr, decay=_hp(c, "rho"), eps=_hp(c, "eps"), momentum=_hp(c, "momentum")
            ),
            lambda b, eta: {
                **rms_fields(b, eta),
                optax.TraceState: {"trace": b["momentum_buffer"]},
            },
        ),
    ),
    "adam: beta1 and beta2 swapped": (
        "opt.adam",
        _run(lambda c, lr: optax.adam(lr, **_betas(c, swap=True), eps=_hp(c, "eps")), adam_fields),
    ),
    "adamw: bias correction one step late": (
        "opt.adamw",
        _run(
            lambda c, lr: optax.adamw(
                lr, **_betas(c), eps=_hp(c, "eps"), weight_decay=_hp(c, "weight_decay")
            ),
            adam_fields,
            _count_plus_one,
        ),
    ),
    "nadam: bias correction one step late": (
        "opt.nadam",
        _run(
            lambda c, lr: optax.nadam(lr, **_betas(c), eps=_hp(c, "eps")),
            adam_fields,
            _count_plus_one,
        ),
    ),
    "adamax: beta1 and beta2 swapped": (
        "opt.adamax",
        _run(
            lambda c, lr: optax.adamax(lr, **_betas(c, swap=True), eps=_hp(c, "eps")),
            adamax_fields,
        ),
    ),
    "adadelta: rho replaced by 1 - rho": (
        "opt.adadelta",
        _run(
            lambda c, lr: optax.adadelta(
                lr, rho=float(np.float32(1.0 - _hp(c, "rho"))), eps=_hp(c, "eps")
            ),
            adadelta_fields,
        ),
    ),
    "amsgrad: nu_max loaded from v (the maximum reset)": (
        "opt.adam",
        _run(
            lambda c, lr: optax.amsgrad(lr, **_betas(c), eps=_hp(c, "eps")),
            lambda b, eta: amsgrad_fields({**b, "v_max": b["v"]}, eta),
        ),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("jax", spec_id, fault, run)


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("adam(eps=0, eps_root=eps)", "eps=inside"),
        ("amsgrad(bias_correction_nu=False)", "amsgrad=max_never_corrected"),
    ],
)
def test_the_real_optimizers_are_named_variants_where_their_faults_diverge(name, variant):
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(reference.get(impl.spec_id), impl, "jax", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", variant)


def test_planted_rows_are_implementations_of_the_spec_ids():
    impl = Implementation("opt.adam", "x", PLANTED["adam: beta1 and beta2 swapped"][1])
    case = OptimizerCase(
        {"w": np.array([1.0])},
        [{"w": np.array([1.0])}],
        [0.1],
        {"beta1": 0.5, "beta2": 0.25, "eps": 1e-8},
    )
    assert impl.run(case, "float32", "cpu")["w"].dtype == np.float64
