import pytest

from trainspec.conformance.discovery import known_backends, load_adapters


def test_the_built_in_backends_are_registered_as_entry_points():
    assert {"torch", "tensorflow", "jax"} <= set(known_backends())


def test_an_unregistered_backend_is_named():
    with pytest.raises(ValueError, match="--backend nope: not registered; registered backends are"):
        load_adapters(["nope"])


def test_every_registered_backend_either_loads_or_says_why():
    adapters, failures = load_adapters()
    assert set(adapters) | set(failures) == set(known_backends())
    for name, why in failures.items():
        assert why.startswith(("not installed", "adapter failed")), (name, why)
