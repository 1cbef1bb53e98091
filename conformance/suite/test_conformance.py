"""The registry-driven conformance suite: one test per row of the matrix.

Run with ``pytest --pyargs trainspec.conformance.suite --trainspec-backend torch`` (the plugin in
``trainspec.conformance.pytest_plugin`` provides the options). A row passes when the framework
conforms or follows a named variant, and fails with its counterexample and the replay command
when it diverges or errs. A known finding (``Implementation.findings``) must still be found: a
finding with a region must be hit (``row.finding``) while the row outside it conforms or follows a
variant; a finding without one must still make the row diverge (or, on a float64 row that computes
in float32, leave only ``precision=float32_internal`` matching). So a framework that fixes it fails
here and the finding is removed. The defaults rows are the exception by design: drift from a
document is the finding those rows exist to report, so it must be reported completely (every claim
compared, each drift with both values), not absent.

With ``--trainspec-expect FILE`` (trainspec's tox passes ``tests/expectations/<backend>.json``)
every row must also match its pin: verdict, variant, consistent variants, finding and (defaults)
every value read; at another profile or seed than the pins', the decisions only (verdict,
variant, finding, values: trainspec's tox runs each backend at ``quick`` against its ``ci``
pins too). Any difference fails with old -> new, so a changed framework never passes
unnoticed; after a deliberate upgrade, re-pin (``trainspec lock``, see the README).

Every assertion lives in :func:`assert_row_conforms` and :func:`assert_row_matches_its_pin`, so
that a project's own test file can reuse them (trainspec's ``tests/test_conformance.py`` imports
the tests of this module).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from trainspec.conformance import expectations, precision
from trainspec.conformance.runner import Row

__all__ = [
    "assert_row_conforms",
    "assert_row_matches_its_pin",
    "test_no_pinned_row_is_gone",
    "test_row",
]

RELOCK = "re-pin after a deliberate change: trainspec lock (see the README, 'Pinned expectations')"


def _detail(row: Row) -> str:
    return (
        f"{row.verdict}: {row.message}\ncounterexample: "
        f"{json.dumps(row.counterexample)[:3000]}\nreplay: {row.repro}"
    )


def assert_row_conforms(row: Row, entry: Any, impl: Any, backend: str, dtype: str) -> None:
    """Fail unless ``row`` is what the suite accepts (module docstring)."""
    detail = _detail(row)
    if entry.kind == "defaults":
        assert row.verdict in ("conforms", "diverges"), detail
        assert row.examples == len(entry.model.for_backend(backend)) > 0, detail
        assert row.values, f"a defaults row must carry every value it read\n{detail}"
        if row.verdict == "diverges":
            assert row.counterexample is not None, detail
            found = row.counterexample["drift"] + row.counterexample["matches"]
            assert len(found) == row.examples and all("framework_value" in d for d in found), detail
        return
    finding = impl.finding(dtype)
    if finding and finding.region is None:
        # still found: the row diverges, or (a float64 row computed in float32) every float64
        # variant failed and only the precision variant matched, the finding attached
        in_float32 = (
            row.verdict == "variant"
            and row.finding == finding.id
            and (row.variant or "").startswith(f"{precision.AXIS.name}=")
        )
        assert (row.verdict == "diverges" and row.counterexample) or in_float32, (
            f"finding no longer found: {finding.text}\n{detail}"
        )
        return
    if finding:
        assert row.finding == finding.id and row.finding_hits > 0, (
            f"finding {finding.id} no longer found in its region ({finding.region_text})\n{detail}"
        )
    assert row.verdict in ("conforms", "variant"), detail


def assert_row_matches_its_pin(
    row: Row, pins: Mapping[Any, Any], fields: Iterable[str] = expectations.PIN_FIELDS
) -> None:
    """Fail unless ``row`` is pinned in ``pins`` and matches its pin on ``fields`` (every pinned
    field by default; :func:`~trainspec.conformance.expectations.fields_compared`)."""
    data = row.to_json()
    key = expectations.row_key(data)
    assert key in pins, (
        f"new row, not pinned: {expectations.format_key(key)} is "
        f"{data['verdict']} {data['variant'] or ''}\n{RELOCK}\n{_detail(row)}"
    )
    diff = expectations.compare_row(pins[key], expectations.pin_of(data), fields)
    assert not diff, (
        "changed: "
        + expectations.Change("changed", key, diff).text()
        + f"\n{RELOCK}\n{_detail(row)}"
    )


def test_row(
    conformance_row: Any,
    trainspec_measure: Any,
    trainspec_expectations: Any,
    trainspec_expected_fields: tuple[str, ...],
) -> None:
    entry, impl, backend, adapter, device, dtype = conformance_row
    # in this process, or in a worker process with --trainspec-isolate (pytest plugin)
    row = trainspec_measure(entry, impl, backend, adapter, device, dtype)
    if trainspec_expectations is not None:
        assert_row_matches_its_pin(row, trainspec_expectations, trainspec_expected_fields)
    assert_row_conforms(row, entry, impl, backend, dtype)


def test_no_pinned_row_is_gone(conformance_planned: Any, trainspec_expectations: Any) -> None:
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
