"""optax under jax.jit: the flat layout, a step by hand, one compilation per row and dtype."""

import numpy as np
import pytest

from trainspec.adapters.jax_adapter.jitted import (
    MAX_STEPS,
    SGD,
    JittedRow,
    _trace_loader,
    from_flat,
    implementations,
    to_flat,
)
from trainspec.conformance.kinds.optimizers import OptimizerCase


def test_flat_round_trip_and_its_bound():
    tree = {"a": np.arange(6.0).reshape(2, 3), "b": np.array(7.0)}
    flat = to_flat(tree, size=8)["flat"]
    assert flat.tolist() == [0, 1, 2, 3, 4, 5, 7, 0]
    back = from_flat(flat, tree)
    assert back["a"].shape == (2, 3) and float(back["b"]) == 7.0
    with pytest.raises(ValueError, match="size=4"):
        to_flat(tree, size=4)


def test_the_jitted_momentum_step_by_hand(momentum_case_by_hand):
    case, expected = momentum_case_by_hand
    impl = next(i for i in implementations() if i.name == "jit(sgd(momentum))")
    np.testing.assert_array_equal(impl.run(case, "float64", "cpu")["w"], expected)


def test_one_compilation_serves_every_hyperparameter_value_and_float32_stays_float32():
    make = next(r for r in SGD if r[1] == "sgd(momentum)")[2]
    row = JittedRow(make, _trace_loader)

    def case(mu, lrs):
        return OptimizerCase(
            {"w": np.array([1.0, 2.0])},
            [{"w": np.array([0.5, -1.0])}] * len(lrs),
            lrs,
            {"momentum": mu},
        )

    a = row.run(case(0.5, [0.5, 0.25]), "float32", "cpu")["w"]
    # by hand: b1 = g, w1 = w - 0.5 g; b2 = 0.5 g + g = 1.5 g, w2 = w1 - 0.25 * 1.5 g
    np.testing.assert_array_equal(a, [1.0 - 0.25 - 0.1875, 2.0 + 0.5 + 0.375])
    row.run(case(0.9, [0.1] * (MAX_STEPS - 1)), "float32", "cpu")
    assert row.step._cache_size() == 1  # new values, same compiled update
    row.run(case(0.9, [0.1, 0.1]), "float64", "cpu")
    assert row.step._cache_size() == 2  # a dtype is a new compilation
