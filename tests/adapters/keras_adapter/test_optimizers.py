"""Keras's adaptive optimizers: the convention conversions, hand-checked steps, and a planted
fault per optimizer (real Keras, wrong mapping) that the kit reports as diverges."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter import KerasAdapter
from trainspec.adapters.keras_adapter import run_keras_optimizer as _run
from trainspec.adapters.keras_adapter.optimizers import (
    LOADERS,
    SLOTS,
    _adadelta,
    _adagrad,
    _adam,
    _adamax,
    _adamw,
    _nadam,
    _rmsprop,
    _slot_loader,
    assign_slots,
    implementations,
    nadam_u_product,
    rmsprop_momentum_from_buffer,
    run_adaptive,
)
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.runner import check_row
from trainspec.reference.optimizers.common import CanonicalState
from trainspec.reference.optimizers.nadam import NADAM_DECAY_FLOAT32, nadam_mu


def test_rmsprop_momentum_is_plus_learning_rate_times_buffer():
    np.testing.assert_array_equal(
        rmsprop_momentum_from_buffer(np.array([2.0, -4.0]), 0.25), [0.5, -1.0]
    )


def test_rmsprop_momentum_slot_is_what_keras_accumulates():
    # from zero state, one Keras step leaves momentum = lr * g / sqrt(s + eps): lr times b
    lr, rho, eps, g = 0.5, 0.75, 1.0, 2.0
    w = keras.Variable(np.array([0.0]), dtype="float64")
    opt = keras.optimizers.RMSprop(learning_rate=lr, rho=rho, momentum=0.5, epsilon=eps)
    opt.apply([tf.constant([g], dtype="float64")], [w])
    b = g / np.sqrt((1 - rho) * g**2 + eps)  # the canonical buffer after the same step
    np.testing.assert_allclose(opt._momentums[0].numpy(), rmsprop_momentum_from_buffer(b, lr))


@pytest.mark.parametrize("beta1", [0.9, 0.5])
def test_nadam_u_product_is_what_keras_holds(beta1):
    w = keras.Variable(np.array([1.0, -2.0]), dtype="float64")
    opt = keras.optimizers.Nadam(learning_rate=0.1, beta_1=beta1)
    opt.build([w])
    assert nadam_u_product(0, beta1) == 1.0 == float(opt._u_product.numpy())
    for count in range(1, 6):
        opt.apply([tf.constant([0.5, 0.25], dtype="float64")], [w])
        np.testing.assert_allclose(
            float(opt._u_product.numpy()), nadam_u_product(count, beta1), rtol=1e-15
        )
    # by hand: mu_1 = beta1 (1 - 0.5 * 0.96), mu_2 = beta1 (1 - 0.5 * 0.96^2): 0.96 exactly
    assert nadam_u_product(2, beta1) == pytest.approx(beta1**2 * 0.52 * (1 - 0.5 * 0.9216))


def test_nadam_step_uses_0_96_rounded_to_float32_but_the_product_does_not():
    """The source of schedule_precision=decay_float32: Keras's update_step casts the Python 0.96
    through float32, its _backend_update_step does not."""
    assert float(keras.ops.cast(0.96, "float64")) == NADAM_DECAY_FLOAT32 != 0.96
    b1, b2, eps, lr = 0.5, 0.75, 2.0**-27, 2.0**-10  # float32-representable, as the kit draws
    case = OptimizerCase(
        {"w": np.array([0.125])},
        [{"w": np.array([0.0])}],
        [lr],
        {"beta1": b1, "beta2": b2, "eps": eps, "momentum_decay": 0.004},
        CanonicalState(1, {"m": {"w": np.array([0.125])}, "v": {"w": np.array([0.125])}}),
    )
    out = run_adaptive("opt.nadam", _nadam, case, "float64", "cpu")["w"][0]
    # by hand, step t = 2 with g = 0: mu_3 from float32 0.96, the product from 0.96 exactly
    m, v = b1 * 0.125, b2 * 0.125
    mu_next = nadam_mu(3, b1, 1.0, "dozat_decay_psi1", decay=NADAM_DECAY_FLOAT32)
    prod_t = nadam_u_product(2, b1)
    expected = 0.125 - lr * (mu_next * m / (1 - prod_t * mu_next)) / (
        math.sqrt(v / (1 - b2**2)) + eps
    )
    assert out == pytest.approx(expected, rel=1e-15, abs=0)
    exact_mu = nadam_mu(3, b1, 1.0, "dozat_decay_psi1")
    other = 0.125 - lr * (exact_mu * m / (1 - prod_t * exact_mu)) / (
        math.sqrt(v / (1 - b2**2)) + eps
    )
    assert abs(out - other) > 1e3 * abs(out - expected)


def test_assign_slots_follows_the_parameter_order():
    names = ["b", "a"]
    variables = [keras.Variable(np.zeros(n), dtype="float32") for n in (2, 3)]
    opt = keras.optimizers.Adam()
    opt.build(variables)
    assign_slots(opt._momentums, {"a": np.arange(3.0), "b": np.array([7.0, 8.0])}, names, "float32")
    np.testing.assert_array_equal(opt._momentums[0].numpy(), [7.0, 8.0])
    np.testing.assert_array_equal(opt._momentums[1].numpy(), [0.0, 1.0, 2.0])
    assert opt._momentums[0].dtype == "float32"


def _full(spec_id):  # every flag on, so that build creates every slot SLOTS names
    return {
        "opt.adagrad": keras.optimizers.Adagrad,
        "opt.rmsprop": lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
        "opt.adam": lambda: keras.optimizers.Adam(amsgrad=True),
        "opt.adamw": lambda: keras.optimizers.AdamW(amsgrad=True),
        "opt.nadam": keras.optimizers.Nadam,
        "opt.adamax": keras.optimizers.Adamax,
        "opt.adadelta": keras.optimizers.Adadelta,
    }[spec_id]()


@pytest.mark.parametrize("spec_id", list(SLOTS))
def test_slots_name_every_canonical_buffer_and_a_real_keras_slot(spec_id):
    assert set(SLOTS[spec_id]) == set(reference.get(spec_id).model.buffers)
    opt = _full(spec_id)
    variables = [keras.Variable(np.zeros(2)), keras.Variable(np.zeros(3))]
    opt.build(variables)
    for attr in SLOTS[spec_id].values():
        slots = getattr(opt, attr)
        assert [tuple(s.shape) for s in slots] == [(2,), (3,)], attr


def test_the_loader_needs_a_state_and_skips_unbuilt_slots():
    w = [keras.Variable(np.zeros(2))]
    opt = keras.optimizers.RMSprop()  # no momentum, not centered: those slots are empty
    opt.build(w)
    case = OptimizerCase(
        {"w": np.zeros(2)},
        [{"w": np.ones(2)}],
        [0.1],
        {"rho": 0.9, "eps": 1e-7, "momentum": 0.0},
        CanonicalState(2, {b: {"w": np.full(2, 0.5)} for b in SLOTS["opt.rmsprop"]}),
    )
    LOADERS["opt.rmsprop"](opt, case, ["w"], "float64")
    np.testing.assert_array_equal(opt._velocities[0].numpy(), [0.5, 0.5])
    assert opt._momentums == [] and opt._average_gradients == []
    with pytest.raises(ValueError, match="case.state"):
        _slot_loader("opt.adam")(opt, OptimizerCase({}, [], [], {}), [], "float64")


def test_one_adam_step_from_a_state_by_hand():
    # hyperparameters representable in float32: Keras casts Python floats through float32
    case = OptimizerCase(
        params={"w": np.array([1.0, 2.0])},
        grads=[{"w": np.array([1.0, -2.0])}],
        learning_rates=[0.75],
        hyperparameters={"beta1": 0.5, "beta2": 0.5, "eps": 1.0},
        state=CanonicalState(
            1, {"m": {"w": np.array([3.0, -4.0])}, "v": {"w": np.array([1.0, 4.0])}}
        ),
    )
    # step t = 2: m = 0.5 m + 0.5 g = [2, -3]; v = 0.5 v + 0.5 g^2 = [1, 4]
    # Keras (eps_hat): alpha = lr sqrt(1 - 0.5^2) / (1 - 0.5^2) = 0.75 sqrt(0.75) / 0.75 = sqrt(3)/2
    # theta -= alpha m / (sqrt(v) + eps) = sqrt(3)/2 * [2/2, -3/3]
    out = run_adaptive("opt.adam", _adam(), case, "float64", "cpu")
    r = np.sqrt(3.0) / 2
    np.testing.assert_allclose(out["w"], [1.0 - r, 2.0 + r], rtol=1e-15)
    # eps outside the corrected root (PyTorch): 0.75 (2/0.75) / (1/sqrt(0.75) + 1) = 0.928...
    assert abs((1.0 - out["w"][0]) - 0.75 * (2 / 0.75) / (1 / r + 1)) > 0.06


def test_rows_cover_every_adaptive_optimizer():
    mine = {(i.spec_id, i.name) for i in implementations()}
    assert mine <= {(i.spec_id, i.name) for i in KerasAdapter().implementations()}
    assert {s for s, _ in mine} == set(SLOTS) and len(mine) == 10
    assert ("opt.rmsprop", "keras.optimizers.RMSprop(centered=True)") in mine


# --- planted faults: real Keras, wrong mapping; the kit must report diverges -------------------


def _hp(case, **changes):
    hp = {**case.hyperparameters, **changes}
    return OptimizerCase(case.params, case.grads, case.learning_rates, hp, case.state)


def _wrong(spec_id, make, wrong):
    return lambda case, dtype, device: run_adaptive(spec_id, make, wrong(case), dtype, device)


def _betas_swapped(case):
    return _hp(case, beta1=case.hyperparameters["beta2"], beta2=case.hyperparameters["beta1"])


def _count_plus_one(case):
    """Bias correction one step late: the state's count loaded as count + 1."""
    if case.state is None:
        return case
    state = CanonicalState(case.state.count + 1, case.state.buffers)
    return OptimizerCase(case.params, case.grads, case.learning_rates, case.hyperparameters, state)


def _sqrt_eps(case):
    """eps passed as sqrt(eps): "eps under the root" applied twice."""
    return _hp(case, eps=float(np.float32(math.sqrt(case.hyperparameters["eps"]))))


def _rho_complement(case):
    return _hp(case, rho=float(np.float32(1.0 - case.hyperparameters["rho"])))


def _rmsprop_momentum_as_velocity(case, dtype, device):
    """Keras's RMSprop momentum loaded as SGD's velocity -lr*b (the wrong sign convention)."""
    load = _slot_loader(
        "opt.rmsprop", {"momentum_buffer": lambda b, c: -c.learning_rates[0] * np.asarray(b)}
    )
    return _run(_rmsprop(), case, dtype, device, load=load)


PLANTED = {
    "Adagrad: eps passed as sqrt(eps)": (
        "opt.adagrad",
        _wrong("opt.adagrad", _adagrad, _sqrt_eps),
    ),
    "RMSprop: momentum loaded as -lr*b": ("opt.rmsprop", _rmsprop_momentum_as_velocity),
    "Adam: beta1 and beta2 swapped": (
        "opt.adam",
        _wrong("opt.adam", _adam(), _betas_swapped),
    ),
    "AdamW: bias correction one step late": (
        "opt.adamw",
        _wrong("opt.adamw", _adamw(), _count_plus_one),
    ),
    "Nadam: bias correction one step late": (
        "opt.nadam",
        _wrong("opt.nadam", _nadam, _count_plus_one),
    ),
    "Adamax: beta1 and beta2 swapped": (
        "opt.adamax",
        _wrong("opt.adamax", _adamax, _betas_swapped),
    ),
    "Adadelta: rho given as 1 - rho": (
        "opt.adadelta",
        _wrong("opt.adadelta", _adadelta, _rho_complement),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("tensorflow", spec_id, fault, run)


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("keras.optimizers.Adamax", "default"),
        ("keras.optimizers.RMSprop", "eps=inside"),
    ],
)
def test_the_real_optimizers_pass_where_their_planted_faults_diverge(name, variant):
    """The control of the planted faults above: same profile, dtype and examples, right mapping."""
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(
        reference.get(impl.spec_id), impl, "tensorflow", "float32", "cpu", profile="quick"
    )
    assert row.verdict in ("conforms", "variant") and row.variant == variant, row
