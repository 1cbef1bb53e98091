"""torch.autograd on an MLP (train.backprop): by hand, rows, planted fault."""

import math

import numpy as np
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.training import ACTIVATIONS, implementations, run_backprop
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.runner import check_row


def test_one_tanh_neuron_by_hand():
    # y = tanh(0.5*2 - 0.25), E = 1/2 (1 - y)^2: dE/dw = -(1 - y)(1 - y^2) * 2 (Zheng)
    case = BackpropCase(
        {"W1": np.array([[0.5]]), "b1": np.array([-0.25])},
        np.array([[2.0]]),
        np.array([[1.0]]),
        ("tanh",),
        "half_sse",
    )
    out = run_backprop(case, "float64", "cpu")
    y = math.tanh(0.75)
    np.testing.assert_allclose(out["W1"], [[-(1 - y) * (1 - y * y) * 2.0]], rtol=1e-15)
    np.testing.assert_allclose(out["b1"], [-(1 - y) * (1 - y * y)], rtol=1e-15)


def test_relu_derivative_at_zero_is_zero():
    case = BackpropCase(
        {"W1": np.array([[1.0]]), "b1": np.array([0.0])},
        np.array([[0.0]]),
        np.array([[1.0]]),
        ("relu",),
        "mse",
    )
    assert run_backprop(case, "float32", "cpu")["b1"].tolist() == [0.0]


def test_rows_conform():
    (impl,) = implementations()
    for dtype in ("float32", "float64"):
        row = check_row(reference.get(impl.spec_id), impl, "torch", dtype, "cpu", profile="quick")
        assert row.verdict == "conforms", row


class _TanhAtOutput(torch.autograd.Function):
    """tanh whose backward evaluates the derivative at the output h instead of at z."""

    @staticmethod
    def forward(ctx, z):
        h = torch.tanh(z)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, grad):
        (h,) = ctx.saved_tensors
        return grad * (1 - torch.tanh(h) ** 2)


def test_planted_fault_derivative_at_the_wrong_point_diverges(assert_planted_fault_diverges):
    act = {**ACTIVATIONS, "tanh": _TanhAtOutput.apply}

    def run(case, dtype, device):
        return run_backprop(case, dtype, device, act)

    row = assert_planted_fault_diverges("torch", "train.backprop", "tanh' at the output", run)
    assert "tanh" in row.counterexample["activations"]
