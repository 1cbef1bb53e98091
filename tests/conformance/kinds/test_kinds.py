"""The kinds registry (``trainspec.conformance.kinds``)."""

import pytest

from trainspec.conformance.kinds import Kind, get_kind, register_kind


def test_the_optimizer_kind_is_found_by_name():
    kind = get_kind("optimizers")
    assert kind.checks == ("one_step", "trajectory") and kind.example_scale == 1.0


def test_an_unknown_kind_names_the_module_it_looked_for():
    with pytest.raises(KeyError, match=r"kinds\.no_such_kind"):
        get_kind("no_such_kind")


def test_a_kind_is_registered_once_and_checks_its_fields():
    k = Kind("test_kinds_dummy", ("c",), lambda *a: None, lambda *a: {})
    assert register_kind(k) is k and get_kind("test_kinds_dummy") is k
    with pytest.raises(ValueError, match="already registered"):
        register_kind(k)
    with pytest.raises(ValueError, match="checks must name at least one check"):
        Kind("x", (), lambda *a: None, lambda *a: {})
    with pytest.raises(ValueError, match=r"example_scale must be in \(0, 1\]"):
        Kind("x", ("c",), lambda *a: None, lambda *a: {}, example_scale=2.0)
