"""The registry-driven conformance suite: one test per row of the matrix.

Run with ``pytest tests/test_conformance.py --trainspec-backend torch`` (the plugin in
``trainspec.conformance.pytest_plugin`` provides the options). A row passes when the framework
conforms or follows a named variant, and fails with its counterexample and the replay command
when it diverges or errs. A known finding (``Implementation.findings``) must still be found: a
finding with a region must be hit (``row.finding``) while the row outside it conforms or follows a
variant; a finding without one must still make the row diverge. So a framework that fixes it fails
here and the finding is removed. The defaults rows are the exception by design: drift from a
document is the finding those rows exist to report, so it must be reported completely (every claim
compared, each drift with both values), not absent.

With ``--trainspec-expect tests/expectations/<backend>.json`` (tox passes it) every row must also
match its pin: verdict, variant, consistent variants, finding and (defaults) every value read. Any
difference fails with old -> new, so a changed framework never passes unnoticed; after a deliberate
upgrade, re-pin with the command in ``tests/expectations/README.md``.
"""

import json

from trainspec.conformance import expectations
from trainspec.conformance.runner import check_row

RELOCK = "re-pin after a deliberate change: see tests/expectations/README.md"


def test_row(conformance_row, request, trainspec_expectations):
    entry, impl, backend, adapter, device, dtype = conformance_row
    adapter.prepare_device(device)
    profile = request.config.getoption("--trainspec-profile")
    seed = request.config.getoption("--trainspec-seed")
    row = check_row(entry, impl, backend, dtype, device, profile=profile, seed_=seed)
    detail = f"{row.verdict}: {row.message}\ncounterexample: {json.dumps(row.counterexample)[:3000]}\nreplay: {row.repro}"
    if trainspec_expectations is not None:
        _matches_its_pin(row.to_json(), trainspec_expectations, detail)
    if entry.kind == "defaults":
        assert row.verdict in ("conforms", "diverges"), detail
        assert row.examples == len(entry.model.for_backend(backend)) > 0, detail
        assert row.values, f"a defaults row must carry every value it read\n{detail}"
        if row.verdict == "diverges":
            found = row.counterexample["drift"] + row.counterexample["matches"]
            assert len(found) == row.examples and all("framework_value" in d for d in found), detail
        return
    finding = impl.finding(dtype)
    if finding and finding.region is None:
        assert row.verdict == "diverges" and row.counterexample, (
            f"finding no longer found: {finding.text}\n{detail}"
        )
        return
    if finding:
        assert row.finding == finding.id and row.finding_hits > 0, (
            f"finding {finding.id} no longer found in its region ({finding.region_text})\n{detail}"
        )
    assert row.verdict in ("conforms", "variant"), detail


def _matches_its_pin(row, pins, detail):
    key = expectations.row_key(row)
    assert key in pins, (
        f"new row, not pinned: {expectations.format_key(key)} is "
        f"{row['verdict']} {row['variant'] or ''}\n{RELOCK}\n{detail}"
    )
    diff = expectations.compare_row(pins[key], expectations.pin_of(row))
    assert not diff, (
        "changed: " + expectations.Change("changed", key, diff).text() + f"\n{RELOCK}\n{detail}"
    )


def test_no_pinned_row_is_gone(conformance_planned, trainspec_expectations):
    """Every pinned row this session covers (its backends, specs and device) is still measured."""
    if trainspec_expectations is None:
        return
    p = conformance_planned
    gone = [
        expectations.format_key(key)
        for key, pin in trainspec_expectations.items()
        if key[1] in p["backends"]
        and key[0] in p["spec_ids"]
        and key[3] == p["device"]
        and pin["verdict"] != "not_offered"
        and key not in p["keys"]
    ]
    assert not gone, f"pinned rows no longer produced: {gone}\n{RELOCK}"
