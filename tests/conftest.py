"""Hypothesis profiles for the kit's own tests, chosen per tox environment by HYPOTHESIS_PROFILE."""

import os

from hypothesis import settings

# "ci": derandomized, so a red CI always reproduces; "dev": random exploration.
# deadline=None: the property tests call real frameworks, whose first call (building an optimizer,
# compiling an op) takes far longer than the rest; a timing failure would be a flake, not a finding.
settings.register_profile("ci", derandomize=True, database=None, max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
