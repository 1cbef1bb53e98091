"""One optimizer case on one flat parameter (trainspec.adapters.flat): the keras-jax rows run
every case so; the layout, its inverse, and the bound on the size."""

import numpy as np
import pytest

from trainspec.adapters.flat import FLAT_NAME, flat_case, from_flat, to_flat
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.optimizers.common import CanonicalState


def test_to_flat_concatenates_in_key_order_and_pads_with_zeros():
    tree = {"b": np.array([[1.0, 2.0]]), "a": np.array(3.0)}
    np.testing.assert_array_equal(to_flat(tree, 5), [1.0, 2.0, 3.0, 0.0, 0.0])
    back = from_flat(to_flat(tree, 5), tree)
    assert list(back) == ["b", "a"] and back["b"].shape == (1, 2) and back["a"].shape == ()
    np.testing.assert_array_equal(back["b"], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="at most size=2"):
        to_flat(tree, 2)


def test_flat_case_flattens_every_tree_and_keeps_the_rest():
    case = OptimizerCase(
        params={"w": np.array([1.0, 2.0]), "b": np.array(0.5)},
        grads=[{"w": np.array([0.1, 0.2]), "b": np.array(0.3)}],
        learning_rates=[0.25],
        hyperparameters={"rho": 0.9},
        state=CanonicalState(4, {"acc": {"w": np.array([5.0, 6.0]), "b": np.array(7.0)}}),
    )
    flat = flat_case(case, 4)
    np.testing.assert_array_equal(flat.params[FLAT_NAME], [1.0, 2.0, 0.5, 0.0])
    np.testing.assert_array_equal(flat.grads[0][FLAT_NAME], [0.1, 0.2, 0.3, 0.0])
    assert flat.state is not None and flat.state.count == 4
    np.testing.assert_array_equal(flat.state.buffers["acc"][FLAT_NAME], [5.0, 6.0, 7.0, 0.0])
    assert flat.learning_rates == [0.25] and flat.hyperparameters == {"rho": 0.9}
    assert flat_case(OptimizerCase(case.params, case.grads, [0.1], {}), 4).state is None
