"""The registry-driven conformance suite: one test per row of the matrix.

Run with ``pytest --pyargs trainspec.conformance.suite --trainspec-backend torch`` (the plugin in
``trainspec.conformance.pytest_plugin`` provides the options). A row passes when the framework
conforms or follows a named variant, and fails with its counterexample and the replay command
when it diverges or errs. A known finding (``Implementation.findings``) must still be found: the
row must diverge with a counterexample, so a framework that fixes it fails here and the finding
is removed. ``opt.defaults`` is the exception by design: drift from a document is
the finding that row exists to report, so it must be reported completely (every claim compared,
each drift with both values), not absent.

Every assertion lives in :func:`assert_row_conforms`, so that a project's own test file can reuse
it (``tests/test_conformance.py`` of trainspec imports :func:`test_row`).
"""

from __future__ import annotations

import json
from typing import Any

from trainspec.conformance.runner import Row, check_row

__all__ = ["assert_row_conforms", "test_row"]


def assert_row_conforms(row: Row, entry: Any, impl: Any, backend: str, dtype: str) -> None:
    """Fail unless ``row`` is what the suite accepts (module docstring)."""
    detail = f"{row.verdict}: {row.message}\ncounterexample: {json.dumps(row.counterexample)[:3000]}\nreplay: {row.repro}"
    if entry.kind == "defaults":
        assert row.verdict in ("conforms", "diverges"), detail
        assert row.examples == len(entry.model.for_backend(backend)) > 0, detail
        if row.verdict == "diverges":
            assert row.counterexample is not None, detail
            found = row.counterexample["drift"] + row.counterexample["matches"]
            assert len(found) == row.examples and all("framework_value" in d for d in found), detail
        return
    finding = impl.finding(dtype)
    if finding:
        assert row.verdict == "diverges" and row.counterexample, (
            f"finding no longer found: {finding}\n{detail}"
        )
        return
    assert row.verdict in ("conforms", "variant"), detail


def test_row(conformance_row: Any, request: Any) -> None:
    entry, impl, backend, adapter, device, dtype = conformance_row
    adapter.prepare_device(device)
    profile = request.config.getoption("--trainspec-profile")
    seed = request.config.getoption("--trainspec-seed")
    row = check_row(entry, impl, backend, dtype, device, profile=profile, seed_=seed)
    assert_row_conforms(row, entry, impl, backend, dtype)
