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

Where the code lives does not change the draws
-----------------------------------------------
Hypothesis (6.13x and later) mixes constants found in the source of "local" modules (imported
from outside ``site-packages``, tests excepted) into what it generates. The examples of a row
would then depend on where the kit and the adapters live: an installed wheel draws other
examples than a source checkout or an editable install, and an adapter developed in its own
repository would change the draws of every row, so a pin could hold in one place and fail in
another (it did: JAX's ``adamax`` in bfloat16 read ``conforms`` from the source tree and
``eps=in_max`` installed). :func:`without_local_constants` turns that off around every draw
of the kit: rows, witness pools, contract checks; it draws as an installed kit always did.

Sample sizes
------------
A statistical kind draws more values per example under ``thorough`` (the kinds' docstrings give
the sizes and the deviations they detect): :func:`current_profile` names the profile of the row
being checked (:func:`profiled` sets it around :func:`~trainspec.conformance.runner.check_row`),
``"ci"`` outside a row.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

__all__ = [
    "PROFILES",
    "current_profile",
    "hypothesis_settings",
    "profiled",
    "without_local_constants",
]

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


@contextlib.contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis draws, inside, as if no module were local (see "Where the code lives does not
    change the draws"); its own global constants stay. A Hypothesis without local constants is
    left as it is."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        yield
        return
    local = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if local is None or cache is None or not hasattr(providers, "Constants"):
        yield  # pragma: no cover - a Hypothesis without local constants
        return
    none = providers.Constants()
    cache.clear()  # filled outside, it may hold local constants
    providers._get_local_constants = lambda: none
    try:
        yield
    finally:
        providers._get_local_constants = local
        cache.clear()  # filled inside, it holds none
