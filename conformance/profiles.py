r"""Hypothesis profiles for conformance runs and for the kit's own tests.

=========  ===========================================================================
quick      10 examples per check: a smoke run while writing an adapter.
ci         40 examples per check, derandomized: the same examples on every run, so a red CI
           always reproduces (``--seed`` picks another fixed sequence).
thorough   400 examples per check, fresh random seed unless ``--seed`` is given; the seed used
           is printed in every repro command.
=========  ===========================================================================

``deadline`` is off in every profile: a framework's first call (building an optimizer, tracing a
function) can take far longer than the rest, and a timing-dependent failure would be a flake.
Speed is measured by ``benchmarks/overhead.py`` instead. The ``too_slow`` health check is off
for the same reason: the time it sees is the framework's, not the data generation's.

Sample sizes
------------
A statistical kind draws more values per example under ``thorough`` (the kinds' docstrings give
the sizes and the deviations they detect): :func:`current_profile` names the profile of the row
being checked (:func:`profiled` sets it around :func:`~trainspec.conformance.runner.check_row`),
``"ci"`` outside a row.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "current_profile", "hypothesis_settings", "profiled"]

_F = TypeVar("_F", bound=Callable[..., Any])
_PROFILE: contextvars.ContextVar[str] = contextvars.ContextVar("trainspec_profile", default="ci")

PROFILES: dict[str, dict[str, object]] = {
    "quick": {"max_examples": 10},
    "ci": {"max_examples": 40, "derandomize": True},
    "thorough": {"max_examples": 400},
}


def hypothesis_settings(profile: str) -> settings:
    """The settings of a profile, with the database off (runs are reproduced by seed, not by cache)."""
    try:
        extra = PROFILES[profile]
    except KeyError:
        raise ValueError(f"profile={profile!r}: must be one of {list(PROFILES)}") from None
    return settings(
        database=None,
        deadline=None,  # see the module docstring
        suppress_health_check=[HealthCheck.too_slow],  # see the module docstring
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        **extra,  # type: ignore[arg-type]
    )


def current_profile() -> str:
    """The profile of the row being checked (``"ci"`` outside one); see "Sample sizes"."""
    return _PROFILE.get()


def profiled(fn: _F) -> _F:
    """Run ``fn`` with :func:`current_profile` set to its ``profile`` keyword (default ``"ci"``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        profile = kwargs.get("profile", "ci")
        if profile not in PROFILES:
            raise ValueError(f"profile={profile!r}: must be one of {list(PROFILES)}")
        token = _PROFILE.set(profile)
        try:
            return fn(*args, **kwargs)
        finally:
            _PROFILE.reset(token)

    return wrapper  # type: ignore[return-value]
