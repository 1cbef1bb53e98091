"""torch.renorm as max-norm: the layout conversion, a hand-checked case, a planted fault."""

import numpy as np
import pytest

from trainspec import reference
from trainspec.adapters.torch_adapter.regularizers import implementations, renorm_dim, run_renorm
from trainspec.conformance.kinds.regularizers import RegularizerCase
from trainspec.conformance.runner import check_row


def test_renorm_dim_is_the_axis_indexing_units():
    assert renorm_dim(1) == 0  # Linear.weight (out, in): rows are units
    assert renorm_dim(0) == 1
    with pytest.raises(ValueError, match="incoming_axis"):
        renorm_dim(2)


def test_by_hand():
    case = RegularizerCase(np.array([[3.0, 4.0], [0.3, 0.4]]), {"max_value": 1.0})
    out = run_renorm(case, "float64", "cpu")["weights"]
    np.testing.assert_allclose(out[0], np.array([3.0, 4.0]) / (5 + 1e-7), rtol=1e-15)
    np.testing.assert_array_equal(out[1], [0.3, 0.4])  # below the bound: unchanged


def test_row_is_the_renorm_variant():
    (impl,) = implementations()
    row = check_row(reference.get("reg.max_norm"), impl, "torch", "float64", "cpu", profile="quick")
    assert (row.verdict, row.variant) == ("variant", "norm_eps=1e-7_when_above"), row


def test_planted_fault_max_norm_on_the_wrong_axis_diverges(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_renorm(case, dtype, device, incoming_axis=0)

    assert_planted_fault_diverges("torch", "reg.max_norm", "max-norm on the wrong axis", run)
