import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optimizer_steps import G1, P, run, w

from trainspec import reference
from trainspec.conformance.kinds.optimizers import OptimizerCase, reference_optimizer_run
from trainspec.conformance.tracked import Tracked, track_tree
from trainspec.reference.base import apply_updates
from trainspec.reference.optimizers.adadelta import adadelta
from trainspec.reference.optimizers.adagrad import adagrad
from trainspec.reference.optimizers.adam import (
    adam,
    adamw,
)
from trainspec.reference.optimizers.adamax import adamax
from trainspec.reference.optimizers.common import (
    NONNEGATIVE_BUFFERS,
    CanonicalState,
    decoupled_weight_decay,
    moving_average,
)
from trainspec.reference.optimizers.hyperparameters import LEARNING_RATE
from trainspec.reference.optimizers.nadam import nadam
from trainspec.reference.optimizers.rmsprop import rmsprop

CARDS = {"opt.adamw": "adam"}  # the card of an ID, where it is not named after it

NEW_IDS = (
    "opt.adagrad",
    "opt.rmsprop",
    "opt.adam",
    "opt.adamw",
    "opt.nadam",
    "opt.adamax",
    "opt.adadelta",
)


grad_seq = st.lists(
    st.lists(st.floats(-10.0, 10.0).filter(lambda x: abs(x) > 1e-3), min_size=3, max_size=3),
    min_size=1,
    max_size=5,
)


def _hyperparameters(entry):
    values = {
        "beta1": 0.9,
        "beta2": 0.99,
        "eps": 1e-6,
        "rho": 0.9,
        "momentum": 0.5,
        "initial_accumulator_value": 0.1,
        "momentum_decay": 0.004,
        "weight_decay": 0.01,
    }
    return {h.name: values[h.name] for h in entry.hyperparameters if h.name != "learning_rate"}


def _all_variants():
    return [(spec_id, v) for spec_id in NEW_IDS for v in reference.get(spec_id).variants()]


def _canonical_for(entry, params, rng):
    bufs = {}
    for b in entry.model.buffers:
        bufs[b] = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        if b in NONNEGATIVE_BUFFERS:
            bufs[b] = {k: np.abs(x) for k, x in bufs[b].items()}
    if entry.id == "opt.rmsprop":
        bufs["square_avg"] = {k: bufs["grad_avg"][k] ** 2 + bufs["square_avg"][k] for k in params}
    return CanonicalState(count=5, buffers=bufs)


def _f32(x):
    return np.float32(x)


@given(grads=grad_seq)
def test_eps_inside_and_outside_agree_as_eps_vanishes(grads):
    gs = [{"w": np.array(g)} for g in grads]
    tiny = 1e-300  # below the rounding of any root here: the two placements give the same numbers
    pairs = [
        (adagrad(0.1, tiny), adagrad(0.1, tiny, eps_placement="inside")),
        (rmsprop(0.1, 0.9, tiny), rmsprop(0.1, 0.9, tiny, eps_placement="inside")),
        (
            rmsprop(0.1, 0.9, tiny, centered=True),
            rmsprop(0.1, 0.9, tiny, centered=True, eps_placement="inside"),
        ),
        (adam(0.1, eps=tiny), adam(0.1, eps=tiny, eps_placement="inside")),
        (adam(0.1, eps=tiny), adam(0.1, eps=tiny, eps_placement="eps_hat")),
        (adamax(0.1, eps=tiny), adamax(0.1, eps=tiny, eps_placement="in_max")),
    ]
    # The placements agree to rounding of the operands, not of the result: theta - eta * step can
    # cancel to ~1e-15 (from |theta| <= 2 and steps of ~0.5), where one rounding of an operand is
    # an absolute 2**-52 * 2 and a relative error of several percent. So the bound is relative to
    # the operands' scale: a few roundings of max |theta| plus every step's magnitude.
    scale = np.max(np.abs(P["w"])) + 0.1 * len(gs) * 10.0
    for a, b in pairs:
        np.testing.assert_allclose(
            w(run(a, P, gs)[0]), w(run(b, P, gs)[0]), rtol=1e-13, atol=8 * 2.0**-53 * scale
        )


@pytest.mark.parametrize(
    ("factory", "kwargs", "name"),
    [
        (adam, {"beta1": 1.0}, "beta1"),
        (adam, {"beta2": -0.1}, "beta2"),
        (adam, {"eps": -1e-8}, "eps"),
        (adam, {"eps": 0.0}, "eps"),
        (adam, {"eps": float("nan")}, "eps"),
        (adam, {"eps_placement": "under"}, "eps_placement"),
        (adam, {"amsgrad": "on"}, "amsgrad"),
        (adam, {"learning_rate": -0.1}, "learning_rate"),
        (adamw, {"weight_decay": -1.0}, "weight_decay"),
        (adamw, {"decay_scaling": "lr"}, "decay_scaling"),
        (adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
        (adagrad, {"eps_placement": "eps_hat"}, "eps_placement"),
        (rmsprop, {"rho": 1.0}, "rho"),
        (rmsprop, {"momentum": 1.0}, "momentum"),
        (rmsprop, {"momentum_form": "exponential_average"}, "momentum_form"),
        (nadam, {"momentum_decay": -0.004}, "momentum_decay"),
        (nadam, {"momentum_schedule": "keras"}, "momentum_schedule"),
        (nadam, {"beta1": 1.0}, "beta1"),
        (adamax, {"eps_placement": "inside"}, "eps_placement"),
        (adamax, {"beta2": 1.5}, "beta2"),
        (adadelta, {"rho": 1.0}, "rho"),
        (adadelta, {"eps": 0.0}, "eps"),
    ],
)
def test_invalid_hyperparameters_are_rejected_when_built(factory, kwargs, name):
    kw = {"learning_rate": 0.01, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}="):
        factory(**kw)


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="centered"):
        rmsprop(0.1, centered="yes")
    with pytest.raises(TypeError, match="bias_correction"):
        adam(0.1, bias_correction="on")
    with pytest.raises(TypeError, match="beta1"):
        adam(0.1, beta1="0.9")


@pytest.mark.parametrize(
    "transform",
    [
        adagrad(0.1),
        rmsprop(0.1, centered=True),
        adam(0.1, amsgrad="max_corrected"),
        adamw(0.1),
        nadam(0.1),
        adamax(0.1),
        adadelta(),
    ],
    ids=["adagrad", "rmsprop", "adam", "adamw", "nadam", "adamax", "adadelta"],
)
def test_wrong_tree_shapes_and_names_are_rejected(transform):
    state = transform.init(P)
    with pytest.raises(ValueError, match=r"shape \(2,\) must equal|shape \(3,\) must equal"):
        transform.update({"w": np.zeros(2)}, state, P)
    with pytest.raises(ValueError, match="must have the same names"):
        transform.update({"v": np.zeros(3)}, state, P)
    with pytest.raises(TypeError, match="updates"):
        transform.update({"w": np.zeros(3, dtype=np.int64)}, state, P)


def test_a_bad_state_count_is_rejected():
    t = adam(0.1)
    state = t.init(P)
    bad = state._replace(inner=(state.inner[0]._replace(count=-1), state.inner[1]))
    with pytest.raises(ValueError, match="state.count"):
        t.update(G1, bad, P)


def test_every_optimizer_card_documents_its_buffers():
    for e in reference.entries_matching("opt"):
        if e.kind != "optimizers":
            continue
        card = importlib.import_module(
            f"trainspec.reference.optimizers.{CARDS.get(e.id, e.id[4:])}"
        )
        assert set(e.model.buffers) == set(getattr(card, "BUFFERS", {})), e.id
        assert e.hyperparameters[0] is LEARNING_RATE
    assert {"v", "v_max", "accumulator", "square_avg", "u", "acc_delta"} <= NONNEGATIVE_BUFFERS
    assert not {"m", "grad_avg", "momentum_buffer"} & NONNEGATIVE_BUFFERS


def test_expected_axes_and_defaults():
    axes = {
        spec_id: {a.name: [o.name for o in a.options] for a in reference.get(spec_id).variant_axes}
        for spec_id in NEW_IDS
    }
    assert axes["opt.adam"] == {
        "eps": ["outside", "inside", "eps_hat"],
        "bias_correction": ["on", "off"],
        "amsgrad": ["off", "max_uncorrected", "max_corrected", "max_never_corrected"],
    }
    assert axes["opt.adagrad"] == {"eps": ["outside", "inside"]}
    assert axes["opt.rmsprop"]["centered"] == ["plain", "centered"]
    assert axes["opt.nadam"] == {
        "momentum_schedule": ["dozat_decay", "dozat_decay_psi1", "none"],
        "schedule_precision": ["as_params", "decay_float32", "product_float32"],
    }
    assert axes["opt.adamax"] == {"eps": ["outside", "in_max"]}
    assert axes["opt.adamw"]["decay_scaling"] == ["lr_times_lambda", "lambda_only"]
    assert axes["opt.adadelta"] == {}
    for spec_id in NEW_IDS:
        names = {c.title for c in reference.get(spec_id).citations}
        assert any(c.document for c in reference.get(spec_id).citations)
        assert names & {
            "Adaptive subgradient methods for online learning and stochastic optimization",
            "Lecture 6.5 - RMSProp: Divide the gradient by a running average of its recent magnitude",
            "Adam: A method for stochastic optimization",
            "Incorporating Nesterov momentum into Adam",
            "ADADELTA: An adaptive learning rate method",
        }, spec_id


@pytest.mark.parametrize(("spec_id", "variant"), _all_variants(), ids=lambda x: str(x))
def test_every_variant_runs_on_arrays_and_on_tracked_arrays(spec_id, variant):
    entry = reference.get(spec_id)
    rng = np.random.default_rng(0)
    params = {"a": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.array([0.75, -0.125])}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    hp = dict(_hyperparameters(entry), learning_rate=lambda t: 0.01)
    opts = variant.options
    cs = _canonical_for(entry, params, rng)
    for start in ("init", "loaded"):
        results = []
        for kind in ("float64", "tracked"):
            t = entry.model.build(opts, hp)
            p = params if kind == "float64" else track_tree(params, "float32")
            g = grads if kind == "float64" else track_tree(grads, "float32")
            if start == "init":
                state = t.init(p)
            else:
                c = (
                    cs
                    if kind == "float64"
                    else CanonicalState(
                        cs.count, {b: track_tree(x, "float32") for b, x in cs.buffers.items()}
                    )
                )
                state = entry.model.load_state(opts, hp, c, p)
            updates, _ = t.update(g, state, p)
            new = apply_updates(p, updates)
            results.append(new)
        plain, tracked = results
        for k in params:
            assert isinstance(tracked[k], Tracked)
            assert np.all(np.isfinite(plain[k])), (start, k)
            np.testing.assert_allclose(tracked[k].value, plain[k], rtol=0, atol=0)
            assert np.all(np.isfinite(tracked[k].err)) and np.all(tracked[k].err >= 0)
            assert np.any(tracked[k].err > 0)  # rounding was tracked
            assert not np.array_equal(plain[k], params[k])  # the step moved the parameters


@pytest.mark.parametrize("spec_id", NEW_IDS)
def test_the_kit_runs_every_variant_one_step_and_a_trajectory(spec_id):
    entry = reference.get(spec_id)
    rng = np.random.default_rng(1)
    params = {"w0": np.array([0.5, -1.0, 2.0]), "w1": np.array([[0.25]])}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(3)]
    hps = _hyperparameters(entry)
    one = OptimizerCase(params, grads[:1], [0.01], hps, state=_canonical_for(entry, params, rng))
    traj = OptimizerCase(params, grads, [0.01, 0.005, 0.001], hps)
    for v in entry.variants():
        for case in (one, traj):
            out = reference_optimizer_run(entry.model, v, case, "float32")
            for k in params:
                assert np.all(np.isfinite(out[k].value)) and np.all(np.isfinite(out[k].err))


def test_moving_average_bound_covers_the_interpolation_order_and_only_rounding():
    from trainspec.conformance.tolerance import compare
    from trainspec.conformance.tracked import track_scalar

    beta = 0.0009765625  # small beta: the two orders round differently
    a = np.array([1.0e6, -3.0, 7.5, 1.0e-3], dtype=np.float32)
    x = np.array([1.0e-2, 2.0, -7.25, 5.0e3], dtype=np.float32)
    one_minus = _f32(1.0) - _f32(beta)
    lerp = (a + one_minus * (x - a)).astype(np.float64)  # Keras, torch.lerp
    plain = (_f32(beta) * a + one_minus * x).astype(np.float64)
    exact = beta * a.astype(np.float64) + (1.0 - beta) * x.astype(np.float64)
    tracked = moving_average(
        track_scalar(beta, "float32"), *track_tree({"a": a, "x": x}, "float32").values()
    )
    np.testing.assert_array_equal(tracked.value, exact)
    assert compare(lerp, tracked, "float32")[2] <= 1.0
    assert compare(plain, tracked, "float32")[2] <= 1.0
    assert not np.array_equal(lerp, plain)  # the orders do round differently here
    # the bound is a rounding bound, not a licence: a wrong beta is far outside it
    wrong = (_f32(1.0 - beta) * a + _f32(beta) * x).astype(np.float64)
    assert compare(wrong, tracked, "float32")[2] > 1e3
    np.testing.assert_allclose(moving_average(0.25, 4.0, 8.0), 7.0, rtol=0)


def test_decoupled_decay_bound_covers_torch_and_keras_orders_and_not_a_missing_lr():
    from trainspec.conformance.tolerance import compare
    from trainspec.conformance.tracked import track_scalar

    rng = np.random.default_rng(3)
    theta = rng.standard_normal(64).astype(np.float32) * 100
    step = (rng.standard_normal(64) * 1e-4).astype(np.float32)  # the lr-scaled Adam step
    lr, lam = 0.001, 0.5
    torch_order = (theta * (_f32(1.0) - _f32(lr * lam)) + step).astype(np.float64)
    keras_order = ((theta - theta * _f32(lam) * _f32(lr)) + step).astype(np.float64)
    unit = decoupled_weight_decay(track_scalar(lam, "float32"), learning_rate=lr)
    p = track_tree({"w": theta}, "float32")
    u, _ = unit.update(track_tree({"w": step}, "float32"), unit.init(p), p)
    new = apply_updates(p, u)["w"]
    np.testing.assert_allclose(new.value, theta + step - lr * lam * theta.astype(np.float64))
    assert compare(torch_order, new, "float32")[2] <= 1.0
    assert compare(keras_order, new, "float32")[2] <= 1.0
    no_lr = (theta - theta * _f32(lam) + step).astype(np.float64)
    assert compare(no_lr, new, "float32")[2] > 1e3
    with pytest.raises(ValueError, match="weight_decay"):
        decoupled_weight_decay(-1.0)
    with pytest.raises(ValueError, match="params"):
        unit.update({"w": step}, unit.init({"w": theta}), None)
