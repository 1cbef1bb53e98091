import numpy as np
import pytest

from trainspec.reference.base import (
    apply_updates,
    as_schedule,
    chain,
    check_eps,
    check_integer,
    check_number,
    check_rng,
    check_same_structure,
    check_step,
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


def test_integer_checks_name_argument_and_rule():
    assert check_integer("patience", np.int64(3)) == 3 and check_step("count", 0) == 0
    with pytest.raises(ValueError, match="batch_size=0: must be an integer >= 1"):
        check_integer("batch_size", 0, low=1)
    with pytest.raises(ValueError, match="count=-1: must be an integer >= 0"):
        check_step("count", -1)
    for bad in (True, 2.0, "3"):
        with pytest.raises(TypeError, match="patience=.*: must be an integer"):
            check_integer("patience", bad)


def test_eps_and_rng_checks_name_argument_and_rule():
    assert check_eps(1e-8) == 1e-8
    with pytest.raises(ValueError, match=r"eps=0.0: must be in \(0.0, inf\)"):
        check_eps(0.0)
    rng = np.random.default_rng(0)
    assert check_rng(rng) is rng
    with pytest.raises(TypeError, match=r"rng=None: .*Generator \(no hidden global RNG\), got"):
        check_rng(None)
    with pytest.raises(TypeError, match="no hidden global RNG; or pass mask="):
        check_rng(np.random.RandomState(0), alternative="mask=")


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
