"""PyTorch's adaptive optimizers: the convention conversions, hand-checked steps, the finding,
and a planted fault per optimizer (real torch, wrong mapping) that the kit reports as diverges."""

import math

import numpy as np
import pytest
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter import TorchAdapter
from trainspec.adapters.torch_adapter.optimizers import (
    ADAPTIVE,
    DTYPES,
    FINDINGS,
    FLOAT16_ROWS,
    _adadelta,
    _adagrad,
    _adam,
    _adamax,
    _nadam,
    _rmsprop,
    adaptive_loader,
    buffer_from_canonical,
    implementations,
    mu_product_from_count,
    run_adaptive,
    state_keys,
    step_from_count,
)
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.runner import check_row
from trainspec.reference.optimizers.common import CanonicalState
from trainspec.reference.optimizers.nadam import nadam_mu


def test_step_is_the_count_placed_as_init_group_places_it():
    p = torch.zeros(2, dtype=torch.float64)
    plain = step_from_count(7, p, {"fused": None, "capturable": False})
    assert (plain.item(), plain.dtype, plain.device.type, plain.dim()) == (
        7.0,
        torch.float32,
        "cpu",
        0,
    )
    fused = step_from_count(7, p, {"fused": True})
    assert (fused.item(), fused.dtype, fused.device) == (7.0, torch.float32, p.device)


def test_mu_product_is_the_product_of_torchs_momentum_schedule():
    p = torch.zeros(1)
    b1, psi = 0.9, 0.004
    assert mu_product_from_count(0, b1, psi, p, {}).item() == 1.0
    # mu_i = beta1 (1 - 0.5 * 0.96^(i psi)), the formula of torch.optim.nadam
    mus = [b1 * (1.0 - 0.5 * 0.96 ** (i * psi)) for i in (1, 2, 3)]
    assert mus == [nadam_mu(i, b1, psi, "dozat_decay") for i in (1, 2, 3)]
    t = mu_product_from_count(3, b1, psi, p, {})
    assert t.dtype == torch.float32 and t.device.type == "cpu"
    assert t.item() == pytest.approx(math.prod(mus), rel=1e-7)


def test_state_keys_follow_the_groups_flags():
    assert state_keys("opt.adam", {"amsgrad": False}) == {"m": "exp_avg", "v": "exp_avg_sq"}
    assert state_keys("opt.adamw", {"amsgrad": True})["v_max"] == "max_exp_avg_sq"
    assert state_keys("opt.rmsprop", {"momentum": 0.0, "centered": False}) == {
        "square_avg": "square_avg"
    }
    assert state_keys("opt.rmsprop", {"momentum": 0.5, "centered": True}) == {
        "square_avg": "square_avg",
        "momentum_buffer": "momentum_buffer",
        "grad_avg": "grad_avg",
    }
    assert state_keys("opt.adagrad", {}) == {"accumulator": "sum"}
    assert state_keys("opt.nadam", {}) == {"m": "exp_avg", "v": "exp_avg_sq"}
    assert state_keys("opt.adamax", {}) == {"m": "exp_avg", "u": "exp_inf"}
    assert state_keys("opt.adadelta", {}) == {"square_avg": "square_avg", "acc_delta": "acc_delta"}


def test_buffers_are_the_canonical_values_in_the_parameters_dtype():
    p = torch.zeros(2, dtype=torch.bfloat16)
    t = buffer_from_canonical(np.array([0.5, -3.0]), p)
    assert t.dtype == torch.bfloat16
    np.testing.assert_array_equal(t.double().numpy(), [0.5, -3.0])


def _case(spec_id, count, **hp_changes):
    """Every hyperparameter and buffer of ``spec_id``, one parameter of two elements."""
    entry = reference.get(spec_id)
    hp = {h.name: h.special[0] for h in entry.hyperparameters if h.name != "learning_rate"}
    hp["momentum"] = 0.5  # so that RMSprop keeps its momentum buffer (ignored elsewhere)
    hp.update(hp_changes)
    bufs = {b: {"w": np.array([0.25, 0.5])} for b in entry.model.buffers}
    state = None if count is None else CanonicalState(count, bufs)
    return OptimizerCase(
        {"w": np.array([1.0, 2.0])}, [{"w": np.array([1.0, -1.0])}], [0.1], hp, state
    )


def _entries(opt):
    (state,) = opt.state.values()
    return {k: (v.dtype, v.device, tuple(v.shape)) for k, v in state.items()}


@pytest.mark.parametrize(
    ("spec_id", "maker", "flags"),
    [
        pytest.param(spec_id, maker, flags, id=f"{name}[{path}]")
        for spec_id, name, maker, paths in ADAPTIVE
        for path, flags in paths.items()
    ],
)
def test_loaded_state_has_the_entries_torchs_init_group_creates(spec_id, maker, flags):
    """Each entry's name, dtype, device and shape as torch creates them on its first step."""
    make = maker(**flags)
    for dtype in (torch.float32, torch.float64):
        own = [torch.nn.Parameter(torch.ones(2, dtype=dtype))]
        opt = make(own, _case(spec_id, None))
        own[0].grad = torch.ones(2, dtype=dtype)
        opt.step()
        mine = [torch.nn.Parameter(torch.ones(2, dtype=dtype))]
        loaded = make(mine, _case(spec_id, 3))
        adaptive_loader(spec_id)(loaded, {"w": mine[0]}, _case(spec_id, 3))
        assert _entries(loaded) == _entries(opt)


def test_the_loader_needs_a_state():
    opt = _adam()([torch.nn.Parameter(torch.ones(2))], _case("opt.adam", None))
    with pytest.raises(ValueError, match="case.state"):
        adaptive_loader("opt.adam")(opt, {}, _case("opt.adam", None))


@pytest.mark.parametrize("path", ["single_tensor", "foreach", "fused"])
def test_one_adam_step_from_a_state_by_hand(path):
    flags = {"fused": True} if path == "fused" else {"foreach": path == "foreach"}
    case = OptimizerCase(
        params={"w": np.array([1.0, 2.0])},
        grads=[{"w": np.array([4.0, -4.0])}],
        learning_rates=[0.5],
        hyperparameters={"beta1": 0.5, "beta2": 0.5, "eps": 4.0},
        state=CanonicalState(
            1, {"m": {"w": np.array([2.0, -2.0])}, "v": {"w": np.array([8.0, 8.0])}}
        ),
    )
    out = run_adaptive("opt.adam", _adam(**flags), case, "float64", "cpu")
    # step t = 2: 1 - beta^2 = 0.75 for both moments
    # m = 0.5*2 + 0.5*4 = 3, m_hat = 4;  v = 0.5*8 + 0.5*16 = 12, v_hat = 16
    # theta = 1 - 0.5 * 4 / (sqrt(16) + 4) = 0.75 (and the mirror image for the second element)
    np.testing.assert_allclose(out["w"], [0.75, 2.25], rtol=1e-15)


def test_rows_cover_every_optimizer_code_path_and_dtype():
    names = {(i.spec_id, i.name) for i in TorchAdapter().implementations()}
    mine = {(i.spec_id, i.name) for i in implementations()}
    assert mine <= names and len(mine) == 25
    assert ("opt.adam", "Adam[fused]") in mine and ("opt.nadam", "NAdam[foreach]") in mine
    assert ("opt.adamw", "AdamW(amsgrad=True)[fused]") in mine
    for i in implementations():
        f16 = ("float16",) if i.name.split("[")[0] in FLOAT16_ROWS else ()
        assert i.dtypes == tuple(DTYPES) + f16
    assert {i.name for i in implementations() if "float16" in i.dtypes} >= {
        "Adagrad[fused]",
        "Adadelta[foreach]",
        "Adam(amsgrad=True)[single_tensor]",
        "Adam[fused]",
        "AdamW[foreach]",
        "NAdam[single_tensor]",
        "Adamax[foreach]",
    }
    described = {i.name for i in implementations() if i.findings}
    assert (
        described
        == set(FINDINGS)
        == {
            "RMSprop(centered=True)[single_tensor]",
            "RMSprop(centered=True)[foreach]",
        }
    )


def test_the_finding_centered_rmsprop_nan_where_the_variance_is_exactly_zero():
    """The minimal counterexample of the finding, on the real optimizer: rho = 0, one step."""
    g = 0.1257302165031433
    case = OptimizerCase(
        {"w": np.array([0.0])},
        [{"w": np.array([g])}],
        [0.001],
        {"rho": 0.0, "eps": 1e-8, "momentum": 0.0},
    )
    out = run_adaptive(
        "opt.rmsprop", _rmsprop(centered=True, foreach=False), case, "float32", "cpu"
    )
    assert np.isnan(out["w"][0])
    assert float(np.float32(g) * np.float32(g)) - float(np.float32(g)) ** 2 < 0  # fl(g*g) < g*g
    # the reference's exact variance is 0, so its step is -lr*g/eps: finite
    entry = reference.get("opt.rmsprop")
    t = entry.model.build(
        entry.variant(centered="centered", momentum_form="eta_outside").options,
        {"learning_rate": lambda s: 0.001, "rho": 0.0, "eps": 1e-8, "momentum": 0.0},
    )
    u, _ = t.update(case.grads[0], t.init(case.params), case.params)
    assert np.isfinite(u["w"][0]) and u["w"][0] == pytest.approx(-0.001 * g / 1e-8)


# --- planted faults: real torch, wrong mapping; the kit must report diverges -------------------


def _hp(case, **changes):
    hp = {**case.hyperparameters, **changes}
    return OptimizerCase(case.params, case.grads, case.learning_rates, hp, case.state)


def _wrong(spec_id, make, wrong):
    """The real torch optimizer and this family's loader, fed a deliberately wrong copy of the
    case (the adapter bug: a wrong mapping of hyperparameters or state)."""
    return lambda case, dtype, device: run_adaptive(spec_id, make, wrong(case), dtype, device)


def _betas_swapped(case):
    return _hp(case, beta1=case.hyperparameters["beta2"], beta2=case.hyperparameters["beta1"])


def _count_plus_one(case):
    """The bias correction one step late: the state's count loaded as count + 1 (trajectories:
    torch's own count is kept, so only one-step examples carry the fault)."""
    if case.state is None:
        return case
    state = CanonicalState(case.state.count + 1, case.state.buffers)
    return OptimizerCase(case.params, case.grads, case.learning_rates, case.hyperparameters, state)


def _eps_squared_root(case):
    """eps "moved under the root" by passing sqrt(eps) to an optimizer with eps outside."""
    return _hp(case, eps=math.sqrt(case.hyperparameters["eps"]))


def _rho_complement(case):
    """The decay given the weight of the new term, 1 - rho, instead of rho."""
    return _hp(case, rho=1.0 - case.hyperparameters["rho"])


def _no_bias_correction(spec_id, make):
    """Bias correction dropped: torch's step count set to 10^9 before every run, so that
    1 - beta^t = 1 from the first step on."""

    def run(case, dtype, device):
        entry = reference.get(spec_id)
        buffers = (
            case.state.buffers
            if case.state is not None
            else {
                b: {k: np.zeros_like(v) for k, v in case.params.items()}
                for b in entry.model.buffers
            }
        )
        late = CanonicalState(10**9, buffers)
        wrong = OptimizerCase(
            case.params, case.grads, case.learning_rates, case.hyperparameters, late
        )
        return run_adaptive(spec_id, make, wrong, dtype, device)

    return run


PLANTED = {
    "Adagrad: eps passed as sqrt(eps)": (
        "opt.adagrad",
        _wrong("opt.adagrad", _adagrad(foreach=False), _eps_squared_root),
    ),
    "RMSprop: alpha = 1 - rho": (
        "opt.rmsprop",
        _wrong("opt.rmsprop", _rmsprop(foreach=False), _rho_complement),
    ),
    "Adam: beta1 and beta2 swapped": (
        "opt.adam",
        _wrong("opt.adam", _adam(foreach=False), _betas_swapped),
    ),
    "Adam: bias correction one step late": (
        "opt.adam",
        _wrong("opt.adam", _adam(fused=True), _count_plus_one),
    ),
    "AdamW: bias correction one step late": (
        "opt.adamw",
        _wrong("opt.adamw", _adam(torch.optim.AdamW, foreach=True), _count_plus_one),
    ),
    "NAdam: bias correction one step late": (
        "opt.nadam",
        _wrong("opt.nadam", _nadam(foreach=False), _count_plus_one),
    ),
    "Adamax: beta1 and beta2 swapped": (
        "opt.adamax",
        _wrong("opt.adamax", _adamax(foreach=False), _betas_swapped),
    ),
    "Adadelta: eps passed as sqrt(eps)": (
        "opt.adadelta",
        _wrong("opt.adadelta", _adadelta(foreach=False), _eps_squared_root),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("torch", spec_id, fault, run)


@pytest.mark.parametrize(
    ("name", "verdict", "variant"),
    [
        ("Adam[single_tensor]", "conforms", "default"),
        ("NAdam[foreach]", "conforms", "default"),
        ("Adagrad[single_tensor]", "conforms", "default"),
    ],
)
def test_the_real_optimizers_pass_where_their_planted_faults_diverge(name, verdict, variant):
    """The control of the planted faults above: same profile, dtype and examples, right mapping."""
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(reference.get(impl.spec_id), impl, "torch", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == (verdict, variant)


def test_a_moved_epsilon_is_named_not_hidden():
    """Moving epsilon by rescaling it each step is a named variant: torch's eps/sqrt(1 - beta2^t)
    outside sqrt(v-hat) is Keras's epsilon-hat outside sqrt(v)."""

    def adam_with_eps_hat(case, dtype, device):
        b2, eps = case.hyperparameters["beta2"], case.hyperparameters["eps"]

        def make(params, c):
            opt = _adam(foreach=False)(params, c)

            def rescale(optimizer, args, kwargs):
                states = list(optimizer.state.values())  # empty before torch's first step
                t = (states[0]["step"].item() if states else 0) + 1
                optimizer.param_groups[0]["eps"] = eps / math.sqrt(1.0 - b2**t)

            opt.register_step_pre_hook(rescale)
            return opt

        return run_adaptive("opt.adam", make, case, dtype, device)

    impl = Implementation("opt.adam", "eps rescaled", adam_with_eps_hat, devices=("cpu",))
    row = check_row(reference.get("opt.adam"), impl, "torch", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", "eps=eps_hat")


def test_adam_with_its_bias_correction_dropped_is_the_named_variant_not_a_fault():
    """Dropping Adam's bias correction is Vitay's printed form (bias_correction=off), a named
    variant; moving it by one step is a fault (PLANTED)."""
    run = _no_bias_correction("opt.adam", _adam(fused=True))
    impl = Implementation("opt.adam", "bias correction dropped", run, devices=("cpu",))
    row = check_row(reference.get("opt.adam"), impl, "torch", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", "bias_correction=off")
