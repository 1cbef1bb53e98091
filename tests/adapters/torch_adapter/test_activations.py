"""PyTorch's activations: the conversions, hand-checked values and derivatives, the defaults read
from the API, and planted faults that the kit must report as diverging."""

import numpy as np
import pytest
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.activations import (
    implementations,
    prelu_weight,
    run_activation,
    torch_kwargs,
)
from trainspec.conformance.kinds.activations import ActivationCase
from trainspec.conformance.runner import check_row

Z = np.array([-2.0, -0.0, 0.0, 3.0])


def case(check, z=Z, hp=None, cotangent=None):
    g = np.ones(z.shape) if check == "derivatives" and cotangent is None else cotangent
    return ActivationCase(check, z, g, hp or {}, "typical", 0)


def test_torch_kwargs_maps_the_spec_names():
    assert torch_kwargs("act.leaky_relu", {"alpha": 0.2}) == {"negative_slope": 0.2}
    assert torch_kwargs("act.elu", {"alpha": 2.0}) == {"alpha": 2.0}
    assert torch_kwargs("act.rrelu", {"lower": 0.1, "upper": 0.3}) == {"lower": 0.1, "upper": 0.3}
    assert torch_kwargs("act.selu", {}) == {}


def test_prelu_weight_is_one_shared_slope():
    w = prelu_weight(0.25, torch.float64, torch.device("cpu"))
    assert w.shape == (1,) and w.requires_grad and float(w.detach()[0]) == 0.25


def by_name(name):
    return next(i for i in implementations() if i.name == name)


def test_leaky_relu_by_hand():
    impl = by_name("torch.nn.functional.leaky_relu")
    y = impl.run(case("values", hp={"alpha": 0.25}), "float64", "cpu")["y"]
    np.testing.assert_array_equal(y, [-0.5, 0.0, 0.0, 3.0])
    d = impl.run(case("derivatives", hp={"alpha": 0.25}), "float64", "cpu")["z"]
    np.testing.assert_array_equal(d, [0.25, 0.25, 0.25, 1.0])  # f'(0) = alpha (x > 0 is false)


def test_prelu_gives_the_slope_gradient_by_hand():
    g = np.array([1.0, 2.0, 3.0, 4.0])
    for name in ("torch.nn.functional.prelu", "torch.nn.PReLU"):
        out = by_name(name).run(
            case("derivatives", hp={"alpha": 0.5}, cotangent=g), "float64", "cpu"
        )
        assert float(out["alpha"]) == -2.0  # sum g * min(z, 0) = 1 * -2
        np.testing.assert_array_equal(out["z"], [0.5, 1.0, 1.5, 4.0])


def test_softmax_vjp_by_hand():
    z = np.array([[0.0, 0.0]])
    out = run_activation(
        lambda x, hp, p: torch.softmax(x, -1),
        case("derivatives", z=z, cotangent=np.array([[1.0, 0.0]])),
        "float64",
        "cpu",
    )
    # s = [.5, .5]; s * (g - <g, s>) = [.25, -.25]
    np.testing.assert_array_equal(out["z"], [[0.25, -0.25]])


def test_heaviside_has_no_derivative_and_says_so():
    impl = by_name("torch.heaviside(values=1)")
    assert impl.options["derivatives"] is False
    with pytest.raises(RuntimeError, match="not implemented"):
        impl.run(case("derivatives"), "float32", "cpu")


def test_elu_derivative_at_zero_is_alpha():
    d = by_name("torch.nn.functional.elu").run(
        case("derivatives", hp={"alpha": 2.0}), "float64", "cpu"
    )
    np.testing.assert_array_equal(d["z"][1:3], [2.0, 2.0])  # the z <= 0 branch (Padilla Montani)


@pytest.mark.parametrize("spec_id", ["act.elu", "act.leaky_relu", "act.step"])
def test_rows_follow_their_named_variants(spec_id):
    expected = {
        "act.elu": "negative_branch=z_le_0",
        "act.leaky_relu": "nan_derivative=any",
        "act.step": "nan_value=zero",
    }[spec_id]
    impl = next(i for i in implementations() if i.spec_id == spec_id)
    row = check_row(reference.get(spec_id), impl, "torch", "float32", "cpu", profile="quick")
    assert row.verdict == "variant" and expected in row.variant, row


def _wrong_side_leaky(c, dtype, device):
    def fn(x, hp, params):
        return torch.where(x > 0, hp["alpha"] * x, x)  # the slope applied to the positive side

    return run_activation(fn, c, dtype, device)


def _naive_sigmoid(c, dtype, device):
    return run_activation(lambda x, hp, p: torch.exp(x) / (1 + torch.exp(x)), c, dtype, device)


def test_planted_fault_leaky_slope_on_the_wrong_side(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges(
        "torch", "act.leaky_relu", "slope on z > 0", _wrong_side_leaky
    )
    assert row.counterexample["check"] == "values"


def test_planted_fault_naive_sigmoid_overflows(assert_planted_fault_diverges):
    row = assert_planted_fault_diverges("torch", "act.sigmoid", "exp(z)/(1+exp(z))", _naive_sigmoid)
    assert "nan" in row.message
