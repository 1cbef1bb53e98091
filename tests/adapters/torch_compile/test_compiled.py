"""torch.compile-d optimizer steps (backend torch-compile): the flat layout, and a compiled step
that runs compiled code, once per graph constant."""

import numpy as np
import pytest


def test_flat_round_trip_and_its_bound():
    from trainspec.adapters.torch_adapter.compiled import from_flat, to_flat

    tree = {"a": np.arange(6.0).reshape(2, 3), "b": np.array(7.0)}
    flat = to_flat(tree, size=8)
    assert flat.tolist() == [0, 1, 2, 3, 4, 5, 7, 0]
    back = from_flat(flat, tree)
    assert back["a"].shape == (2, 3) and back["b"].shape == () and float(back["b"]) == 7.0
    with pytest.raises(ValueError, match="size=4"):
        to_flat(tree, size=4)


def test_a_compiled_step_runs_compiled_code_once_per_graph_constant(momentum_case_by_hand):
    from torch._dynamo.utils import counters

    from trainspec.adapters.torch_adapter.compiled import compiled_implementations

    case, expected = momentum_case_by_hand
    impl = next(i for i in compiled_implementations() if i.name == "compile(SGD(momentum))")
    before = counters["stats"]["unique_graphs"]
    np.testing.assert_array_equal(impl.run(case, "float64", "cpu")["w"], expected)
    after_first = counters["stats"]["unique_graphs"]
    assert after_first > before  # TorchDynamo captured (and Inductor compiled) the step
    np.testing.assert_array_equal(impl.run(case, "float64", "cpu")["w"], expected)
    assert counters["stats"]["unique_graphs"] == after_first  # the same case: no new graph
