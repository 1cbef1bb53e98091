"""PyTorch's gradient clipping: conversions, hand-checked cases, planted faults."""

import numpy as np
import pytest
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.clipping import (
    _global,
    _per_parameter,
    _value,
    implementations,
    nonfinite_error,
    run_clipping,
)
from trainspec.conformance.kinds.clipping import ClippingCase
from trainspec.conformance.runner import check_row
from trainspec.reference.clipping import NonFiniteNormError

CASE = ClippingCase({"a": np.array([3.0, 4.0]), "b": np.array([[0.0, 12.0]])}, {"threshold": 6.5})


def test_nonfinite_error_converts_only_the_nonfinite_runtime_error():
    e = nonfinite_error(RuntimeError("The total norm of order 2.0 ... is non-finite, so it cannot"))
    assert isinstance(e, NonFiniteNormError)
    other = RuntimeError("foreach=True was passed")
    assert nonfinite_error(other) is other
    assert isinstance(nonfinite_error(ValueError("non-finite")), ValueError)


def test_by_hand():
    out = run_clipping(_value(False)(CASE), CASE, "float64", "cpu")
    np.testing.assert_array_equal(out["b"], [[0.0, 6.5]])
    out = run_clipping(_global(True)(CASE), CASE, "float64", "cpu")  # global norm 13
    np.testing.assert_allclose(out["a"], np.array([3.0, 4.0]) * 6.5 / (13 + 1e-6), rtol=1e-15)
    out = run_clipping(_per_parameter(False)(CASE), CASE, "float64", "cpu")  # norms 5, 12
    np.testing.assert_array_equal(out["a"], [3.0, 4.0])
    np.testing.assert_allclose(out["b"], [[0.0, 12.0 * 6.5 / (12 + 1e-6)]], rtol=1e-15)


def test_error_if_nonfinite_raises_the_spec_error():
    bad = ClippingCase({"a": np.array([np.inf, 1.0])}, {"threshold": 1.0})
    with pytest.raises(NonFiniteNormError):
        run_clipping(_global(False, error_if_nonfinite=True)(bad), bad, "float32", "cpu")
    out = run_clipping(_global(False)(bad), bad, "float32", "cpu")
    np.testing.assert_array_equal(out["a"], [np.nan, 0.0])  # the ieee variant


def test_every_code_path_is_a_row():
    names = {(i.spec_id, i.name) for i in implementations()}
    assert ("clip.global_norm", "clip_grad_norm_[foreach]") in names
    assert ("clip.value", "clip_grad_value_[single_tensor]") in names
    assert len(names) == 8


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("clip_grad_norm_[single_tensor]", "norm_eps=plus_1e-6"),
        (
            "clip_grad_norm_(error_if_nonfinite=True)[foreach]",
            "norm_eps=plus_1e-6, nonfinite=raise",
        ),
    ],
)
def test_rows_follow_their_variants(name, variant):
    impl = next(i for i in implementations() if i.name == name)
    row = check_row(reference.get(impl.spec_id), impl, "torch", "float64", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", variant), row


def _torch_dtype(dtype):
    return {"float32": torch.float32, "float64": torch.float64}[dtype]


def test_planted_fault_global_norm_per_tensor_diverges(assert_planted_fault_diverges):
    """clip_grad_norm_ applied to each parameter alone, registered as the global norm."""

    def run(case, dtype, device):
        return run_clipping(_per_parameter(False)(case), case, dtype, device)

    row = assert_planted_fault_diverges("torch", "clip.global_norm", "global norm per tensor", run)
    assert len(row.counterexample["grads"]) >= 2


def test_clipping_and_loss_rows_declare_float16():
    from trainspec.adapters.torch_adapter import clipping, losses

    for module in (clipping, losses):
        assert all("float16" in i.dtypes for i in module.implementations())
