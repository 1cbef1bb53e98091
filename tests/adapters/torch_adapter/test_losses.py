"""torch.nn.functional losses: hand-checked values and gradients, variants, planted fault."""

import numpy as np
import torch
import torch.nn.functional as F

from trainspec import reference
from trainspec.adapters.torch_adapter.losses import implementations, labels_tensor, run_loss
from trainspec.conformance.kinds.losses import LossCase
from trainspec.conformance.runner import check_row


def test_labels_tensor_is_int64():
    t = labels_tensor(np.array([0, 2], dtype=np.int32), torch.device("cpu"))
    assert t.dtype == torch.int64 and t.tolist() == [0, 2]


def test_by_hand():
    case = LossCase(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0]]), "real")
    out = run_loss(F.mse_loss, case, "float64", "cpu")
    assert out["value"] == (0 + 4 + 0 + 4) / 4  # mean over elements
    np.testing.assert_array_equal(out["grad"], [[0.0, 1.0], [0.0, -1.0]])
    ce = LossCase(np.array([[0.0, 0.0]]), np.array([1]), "labels")
    out = run_loss(F.cross_entropy, ce, "float64", "cpu")
    assert out["value"] == np.log(2.0)
    np.testing.assert_allclose(out["grad"], [[0.5, -0.5]], rtol=1e-15)


def test_rows():
    expected = {
        "loss.mse": ("variant", "reduction=mean_over_elements"),
        "loss.softmax_ce": ("conforms", "default"),
        "loss.logistic": ("variant", "reduction=mean_over_elements"),
    }
    for impl in implementations():
        row = check_row(
            reference.get(impl.spec_id), impl, "torch", "float32", "cpu", profile="quick"
        )
        assert (row.verdict, row.variant) == expected[impl.spec_id], row


def test_planted_fault_cross_entropy_on_softmax_outputs_diverges(assert_planted_fault_diverges):
    """A classic bug: softmax applied before cross_entropy (which applies log_softmax itself)."""

    def run(case, dtype, device):
        return run_loss(lambda z, y: F.cross_entropy(torch.softmax(z, 1), y), case, dtype, device)

    assert_planted_fault_diverges("torch", "loss.softmax_ce", "softmax applied twice", run)
