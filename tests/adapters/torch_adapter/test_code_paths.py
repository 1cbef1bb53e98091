"""torch.optim's differentiable=True and capturable=True rows: what they run, where."""

import numpy as np
import torch

from trainspec.adapters.torch_adapter.code_paths import (
    CAPTURABLE,
    differentiable_param,
    implementations,
)


def test_a_differentiable_param_is_a_non_leaf_that_requires_grad_and_the_optimizer_takes_it():
    p = differentiable_param(torch.tensor([1.0, 2.0]))
    assert not p.is_leaf and p.requires_grad
    opt = torch.optim.SGD([p], lr=0.5, differentiable=True)
    p.grad = torch.tensor([1.0, -1.0])
    opt.step()
    assert p.detach().tolist() == [0.5, 2.5] and p.grad_fn is not None  # the step is on the tape


def test_the_differentiable_momentum_step_by_hand(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    impl = next(i for i in implementations() if i.name == "SGD(momentum, differentiable=True)")
    out = impl.run(case, "float64", "cpu")
    np.testing.assert_array_equal(out["w"], expected)


def test_capturable_rows_are_cuda_only_and_differentiable_rows_run_on_both():
    impls = implementations()
    cap = [i for i in impls if "capturable=True" in i.name]
    diff = [i for i in impls if "differentiable=True" in i.name]
    assert len(cap) == 2 * len(CAPTURABLE) and all(i.devices == ("cuda",) for i in cap)
    assert len(diff) == 4 + 10 and all(i.devices == ("cpu", "cuda") for i in diff)
    assert len({i.name for i in impls}) == len(impls)


def test_float64_bias_corrections_are_a_finding_of_the_tensor_step_rows_only():
    by_name = {i.name: i for i in implementations()}
    assert by_name["Adam(differentiable=True)"].finding("float64")
    assert by_name["Adam(differentiable=True)"].finding("float32") is None
    assert by_name["Adadelta(differentiable=True)"].finding("float64") is None
    assert by_name["NAdam(capturable=True)[foreach]"].finding("float64")
