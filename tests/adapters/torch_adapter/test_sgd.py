"""The PyTorch adapter: its convention conversions, a hand-checked step, and planted faults."""

from functools import partial

import numpy as np
import pytest
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter import (
    TorchAdapter,
    momentum_buffer_from_trace,
    run_torch_optimizer,
    set_learning_rate,
)
from trainspec.adapters.torch_adapter.optimizers import _sgd
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.runner import check_row


def test_momentum_buffer_is_the_canonical_trace():
    b = np.array([[1.5, -2.0]])
    t = momentum_buffer_from_trace(b, torch.float64, torch.device("cpu"))
    np.testing.assert_array_equal(t.numpy(), b)


def test_set_learning_rate_reaches_every_group():
    p = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": p[:1]}, {"params": p[1:]}], lr=0.1)
    set_learning_rate(opt, 0.25)
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]


def test_one_step_from_a_state_by_hand(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    out = run_torch_optimizer(_sgd(foreach=False), case, "float64", "cpu")
    # b = 0.5*2 + g = [1.5, 0.0]; theta = theta - 0.5*b
    np.testing.assert_array_equal(out["w"], expected)


def test_declares_every_code_path_as_its_own_row():
    names = {i.name for i in TorchAdapter().implementations() if i.spec_id == "opt.momentum"}
    assert {
        "SGD(momentum)[single_tensor]",
        "SGD(momentum)[foreach]",
        "SGD(momentum)[fused]",
    } <= names
    assert TorchAdapter().devices()[0] == "cpu"
    assert TorchAdapter().versions()["torch"].startswith("2.13.0")


# --- planted faults: real torch, wrong mapping; the kit must report diverges -------------------


def _lr_one_step_late(case, dtype, device):
    """Adapter bug: each step uses the previous step's learning rate (schedule off by one)."""
    lrs = [case.learning_rates[0], *case.learning_rates[:-1]]
    late = OptimizerCase(case.params, case.grads, lrs, case.hyperparameters, case.state)
    return run_torch_optimizer(_sgd(foreach=False), late, dtype, device)


def _sgd_with_decay_hook(case, dtype, device, *, decay):
    """torch SGD(momentum) without its own weight decay; ``decay`` adds ours by hand."""
    tdt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    lam, mu = case.hyperparameters["weight_decay"], case.hyperparameters["momentum"]
    names = list(case.params)
    ps = [torch.nn.Parameter(torch.tensor(case.params[k], dtype=tdt)) for k in names]
    opt = torch.optim.SGD(ps, lr=case.learning_rates[0], momentum=mu, foreach=False)
    if case.state is not None and mu != 0:
        for k, p in zip(names, ps, strict=True):
            opt.state[p]["momentum_buffer"] = torch.tensor(
                case.state.buffers["trace"][k], dtype=tdt
            )
    for lr, grads in zip(case.learning_rates, case.grads, strict=True):
        set_learning_rate(opt, lr)
        before = [p.detach().clone() for p in ps]
        for k, p in zip(names, ps, strict=True):
            g = torch.tensor(grads[k], dtype=tdt)
            p.grad = g - lam * p.detach() if decay == "wrong_sign" else g
        opt.step()
        if decay == "after_momentum":
            with torch.no_grad():
                for p, b in zip(ps, before, strict=True):
                    p.sub_(lr * lam * b)
    return {k: p.detach().numpy().astype(np.float64) for k, p in zip(names, ps, strict=True)}


PLANTED = {
    "nesterov without the look-ahead": (
        "opt.nesterov",
        lambda c, d, dev: run_torch_optimizer(_sgd(foreach=False), c, d, dev),
    ),
    "learning rate one step late": ("opt.momentum", _lr_one_step_late),
    "weight decay with the wrong sign": (
        "opt.weight_decay",
        partial(_sgd_with_decay_hook, decay="wrong_sign"),
    ),
}


@pytest.mark.parametrize("fault", list(PLANTED))
def test_planted_fault_is_reported_as_diverges(fault, assert_planted_fault_diverges):
    spec_id, run = PLANTED[fault]
    assert_planted_fault_diverges("torch", spec_id, fault, run)


def test_momentum_applied_before_weight_decay_is_recognised_as_decoupled_decay():
    """Taking the momentum step and then subtracting lr*lambda*theta is not a fault: it *is* the
    decoupled form (the decay bypasses the buffer), and the kit names it so."""
    impl = Implementation(
        "opt.weight_decay",
        "decay after momentum",
        partial(_sgd_with_decay_hook, decay="after_momentum"),
        devices=("cpu",),
    )
    row = check_row(
        reference.get("opt.weight_decay"), impl, "torch", "float32", "cpu", profile="quick"
    )
    assert (row.verdict, row.variant) == ("variant", "decay=decoupled, momentum_form=eta_outside")


def test_the_real_optimizer_is_a_variant_not_a_fault():
    impl = next(
        i for i in TorchAdapter().implementations() if i.name == "SGD(momentum)[single_tensor]"
    )
    row = check_row(reference.get("opt.momentum"), impl, "torch", "float32", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", "form=eta_outside")
