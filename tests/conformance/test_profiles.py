import pytest

from trainspec.conformance.profiles import PROFILES, hypothesis_settings


def test_profiles():
    assert set(PROFILES) == {"quick", "ci", "thorough"}
    ci = hypothesis_settings("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert (
        hypothesis_settings("quick").max_examples
        < ci.max_examples
        < hypothesis_settings("thorough").max_examples
    )
    with pytest.raises(ValueError, match="profile='nightly'"):
        hypothesis_settings("nightly")
