import numpy as np
import pytest

from trainspec.reference.base import (
    apply_updates,
    as_schedule,
    chain,
    check_number,
    check_same_structure,
    piecewise_schedule,
)
from trainspec.reference.optimizers.common import scale_by_learning_rate
from trainspec.reference.optimizers.gd import gd


def test_check_number_names_argument_and_rule():
    assert check_number("momentum", 0.5, low=0.0, high=1.0, high_closed=False) == 0.5
    with pytest.raises(ValueError, match=r"momentum=1.0: must be in \[0.0, 1.0\)"):
        check_number("momentum", 1.0, low=0.0, high=1.0, high_closed=False)
    with pytest.raises(ValueError, match="learning_rate=nan: must be finite"):
        check_number("learning_rate", float("nan"), low=0.0)
    with pytest.raises(TypeError, match="learning_rate='0.1': must be a real number"):
        check_number("learning_rate", "0.1")
    with pytest.raises(TypeError, match="must be a real number"):
        check_number("flag", True)


def test_structure_checks_name_the_argument():
    p = {"w": np.zeros((2, 3))}
    with pytest.raises(ValueError, match=r"updates\['w'\]: shape \(3, 2\) must equal"):
        check_same_structure("updates", {"w": np.zeros((3, 2))}, "params", p)
    with pytest.raises(ValueError, match=r"missing \['w'\], unexpected \['v'\]"):
        check_same_structure("updates", {"v": np.zeros((2, 3))}, "params", p)
    with pytest.raises(TypeError, match="must have a real floating-point dtype"):
        check_same_structure("updates", {"w": np.zeros((2, 3), dtype=int)}, "params", p)
    with pytest.raises(TypeError, match="must be a mapping"):
        gd(0.1).init([np.zeros(2)])
    with pytest.raises(ValueError, match="at least one array"):
        gd(0.1).init({})


def test_schedules_check_when_built():
    with pytest.raises(ValueError, match=r"learning_rate=-0.1: must be in \[0.0, inf\)"):
        as_schedule("learning_rate", -0.1)
    with pytest.raises(ValueError, match=r"learning_rate\[1\]=inf: must be finite"):
        piecewise_schedule([0.1, float("inf")])
    s = piecewise_schedule([0.1, 0.2])
    assert (s(0), s(1)) == (0.1, 0.2)
    with pytest.raises(ValueError, match="step 2 is outside the schedule's 2 steps"):
        s(2)


def test_chain_state_mismatch_is_reported():
    t = chain(scale_by_learning_rate(0.1))
    p = {"w": np.ones(2)}
    with pytest.raises(ValueError, match="state: must be the ChainState"):
        t.update(p, (), p)


def test_updates_are_pure():
    t = gd(0.5)
    p = {"w": np.array([1.0, 2.0])}
    s = t.init(p)
    g = {"w": np.array([2.0, 2.0])}
    u, s2 = t.update(g, s, p)
    assert s.inner[0].count == 0 and s2.inner[0].count == 1
    np.testing.assert_array_equal(g["w"], [2.0, 2.0])
    np.testing.assert_array_equal(apply_updates(p, u)["w"], [0.0, 1.0])
    np.testing.assert_array_equal(p["w"], [1.0, 2.0])


def test_non_finite_gradients_propagate_element_by_element():
    t = gd(0.5)
    p = {"w": np.array([1.0, 2.0, 3.0])}
    g = {"w": np.array([np.nan, np.inf, 1.0])}
    u, _ = t.update(g, t.init(p), p)
    new = apply_updates(p, u)["w"]
    assert np.isnan(new[0]) and new[1] == -np.inf and new[2] == 2.5
