"""The registry-driven conformance suite: one test per row of the matrix.

Run with ``pytest tests/test_conformance.py --backend torch`` (the plugin in
``trainspec.conformance.pytest_plugin`` provides the options). A row passes when the framework
conforms or follows a named variant, and fails with its counterexample and the replay command
when it diverges or errs. A known finding (``Implementation.findings``) must still be found: the
row must diverge with a counterexample, so a framework that fixes it fails here and the finding
is removed. ``opt.defaults`` is the exception by design: drift from a document is
the finding that row exists to report, so it must be reported completely (every claim compared,
each drift with both values), not absent.
"""

import json

from trainspec.conformance.runner import check_row


def test_row(conformance_row, request):
    entry, impl, backend, adapter, device, dtype = conformance_row
    adapter.prepare_device(device)
    profile = request.config.getoption("--trainspec-profile")
    seed = request.config.getoption("--trainspec-seed")
    row = check_row(entry, impl, backend, dtype, device, profile=profile, seed_=seed)
    detail = f"{row.verdict}: {row.message}\ncounterexample: {json.dumps(row.counterexample)[:3000]}\nreplay: {row.repro}"
    if entry.kind == "defaults":
        assert row.verdict in ("conforms", "diverges"), detail
        assert row.examples == len(entry.model.for_backend(backend)) > 0, detail
        if row.verdict == "diverges":
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
