"""Hypothesis profiles for the kit's own tests, chosen per tox environment by HYPOTHESIS_PROFILE."""

import os

from hypothesis import settings

# "ci": derandomized, so a red CI always reproduces; "dev": random exploration.
settings.register_profile("ci", derandomize=True, database=None, max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
