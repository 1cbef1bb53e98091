"""PyTorch batch normalisation: the momentum mapping, the input shapes, a run by hand, planted faults."""

from functools import partial

import numpy as np
import pytest
import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.norm import (
    implementations,
    run_torch_batchnorm,
    torch_input,
    torch_momentum,
)
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun, to_layout
from trainspec.conformance.runner import check_row


def test_torch_momentum_weights_the_new_value():
    assert torch_momentum(0.9) == pytest.approx(0.1) and torch_momentum(0.0) == 1.0
    # what PyTorch does with it: running = (1 - momentum) * running + momentum * batch_mean
    bn = torch.nn.BatchNorm1d(1, momentum=torch_momentum(0.75), dtype=torch.float64)
    bn(torch.tensor([[1.0], [3.0]], dtype=torch.float64))
    assert bn.running_mean.item() == 0.75 * 0.0 + 0.25 * 2.0


def test_torch_input_shapes_are_exact_reshapes():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    assert torch_input(x, "1d").shape == (2, 3, 4)
    np.testing.assert_array_equal(torch_input(x, "1d")[1, 2], x[1, 2].ravel())
    assert torch_input(np.ones((5, 3)), "2d").shape == (5, 3, 1, 1)
    assert torch_input(np.ones((5, 3)), "1d").shape == (5, 3)
    with pytest.raises(ValueError, match="layer"):
        torch_input(x, "3d")


def _case(layout="channels_first"):
    # channel 0: x = [1, 3] (mu 2, var 1, unbiased 2); channel 1: x = [10, 10] (var 0)
    x = np.array([[1.0, 10.0], [3.0, 10.0]])
    return BatchNormCase(
        layout,
        (x,),
        (np.array([[1.0, 0.5], [0.0, 1.0]]),),
        np.array([[2.0, 10.0], [0.0, 11.0]]),
        np.ones(2),
        np.zeros(2),
        0.25,
        0.75,
        np.zeros(2),
        np.ones(2),
    )


@pytest.mark.parametrize("layer", ["1d", "2d"])
def test_one_step_by_hand(layer):
    run = run_torch_batchnorm(_case(), "float64", "cpu", layer=layer)
    s = np.sqrt(1.25)
    np.testing.assert_allclose(run.outputs[0], [[-1 / s, 0.0], [1 / s, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(run.running_mean[0], [0.5, 2.5], rtol=1e-15)
    # PyTorch's running variance is the unbiased one: 0.75 * 1 + 0.25 * 2
    np.testing.assert_allclose(run.running_var[0], [1.25, 0.75], rtol=1e-15)
    np.testing.assert_allclose(run.dbeta[0], [1.0, 1.5], rtol=1e-15)
    # dgamma = sum dy * xhat = (1 * -1 + 0 * 1) / s for channel 0
    np.testing.assert_allclose(run.dgamma[0], [-1 / s, 0.0], atol=1e-15)
    # test mode with the running statistics: (x - 0.5) / sqrt(1.25 + 0.25)
    np.testing.assert_allclose(run.test_output[:, 0], (np.array([2.0, 0.0]) - 0.5) / np.sqrt(1.5))


def test_layouts_and_memory_formats_give_the_case_layout_back():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 2, 3))  # NHWC: 3 channels
    case = BatchNormCase(
        "channels_last",
        (x,),
        (rng.normal(size=x.shape),),
        x[::-1].copy(),
        np.array([1.0, 2.0, 0.5]),
        np.zeros(3),
        1e-3,
        0.9,
        np.zeros(3),
        np.ones(3),
    )
    a = run_torch_batchnorm(case, "float64", "cpu", layer="2d")
    b = run_torch_batchnorm(case, "float64", "cpu", layer="2d", channels_last=True)
    c = run_torch_batchnorm(case, "float64", "cpu", layer="1d")
    for r in (b, c):
        np.testing.assert_allclose(r.outputs[0], a.outputs[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r.dx[0], a.dx[0], rtol=1e-10, atol=1e-12)
    assert a.outputs[0].shape == x.shape
    # the channel axis of the output is the case's last axis: per-channel mean is beta = 0
    np.testing.assert_allclose(a.outputs[0].mean(axis=(0, 1, 2)), 0.0, atol=1e-12)


def test_every_id_has_rows_and_names_follow_the_api():
    impls = implementations()
    ids = {i.spec_id for i in impls}
    assert ids == {"norm.batch.train", "norm.batch.running", "norm.batch.test", "norm.batch.grad"}
    names = {(i.spec_id, i.name) for i in impls}
    assert ("norm.batch.running", "BatchNorm2d(momentum=None)") in names
    assert ("norm.batch.train", "BatchNorm2d[channels_last]") in names
    assert all(i.dtypes == ("float32", "float64") for i in impls)


def test_running_statistics_are_measured_as_the_unbiased_variant():
    impl = next(
        i
        for i in implementations()
        if i.spec_id == "norm.batch.running" and i.name == "BatchNorm2d"
    )
    row = check_row(reference.get(impl.spec_id), impl, "torch", "float32", "cpu", profile="quick")
    assert row.verdict == "variant" and row.variant == "running_variance=unbiased", row


# --- planted faults: real torch, wrong use; the kit must report diverges ----------------------


def _unbiased_normalisation(case, dtype, device):
    """Fault: normalise with the unbiased batch variance (torch.var's default)."""
    honest = run_torch_batchnorm(case, dtype, device)
    tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    outs = []
    for x in case.batches:
        cf = torch.tensor(
            torch_input(to_layout(x, case.layout, "channels_first"), "2d"), dtype=tdtype
        )
        dims = (0, 2, 3)
        y = torch.nn.functional.batch_norm(
            cf,
            cf.mean(dim=dims),
            cf.var(dim=dims, unbiased=True),
            torch.tensor(case.gamma, dtype=tdtype),
            torch.tensor(case.beta, dtype=tdtype),
            training=False,
            eps=case.eps,
        )
        shape = to_layout(x, case.layout, "channels_first").shape
        outs.append(
            to_layout(y.numpy().astype(np.float64).reshape(shape), "channels_first", case.layout)
        )
    return BatchNormRun(
        outs,
        honest.dx,
        honest.dgamma,
        honest.dbeta,
        honest.running_mean,
        honest.running_var,
        honest.test_output,
    )


def test_planted_unbiased_normalisation_diverges(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "torch",
        "norm.batch.train",
        "unbiased variance in the normalisation",
        _unbiased_normalisation,
    )


def test_planted_flipped_momentum_diverges(assert_planted_fault_diverges):
    flipped = partial(run_torch_batchnorm, momentum=lambda w: w)  # the spec's w passed unmapped
    row = assert_planted_fault_diverges(
        "torch", "norm.batch.running", "momentum convention flipped", flipped
    )
    assert "running_" in row.message
