"""`trainspec repro` for the tensorflow adapter: every known finding has a standalone reproduction,
and each, run with only the framework and NumPy, shows its discrepancy."""

import pytest

from trainspec.adapters.keras_adapter import KerasAdapter
from trainspec.conformance.repro import (
    generate,
    imports_trainspec,
    run_script,
    unreproduced_findings,
    unreproducible_findings,
)


@pytest.fixture(scope="module")
def adapter():
    return KerasAdapter()


def test_every_declared_finding_has_a_repro(adapter):
    """Registry-driven: a finding added without a way to write its repro fails here."""
    assert unreproducible_findings(adapter) == []


def test_the_repro_of_every_finding_shows_its_discrepancy(adapter, tmp_path):
    failures = unreproduced_findings(adapter, tmp_path)
    assert not failures, "\n\n".join(failures)


def test_the_repro_of_a_committed_row_shows_its_discrepancy(adapter, tmp_path):
    from pathlib import Path

    from trainspec.conformance.repro import find_row, load_report

    report = Path(__file__).parents[3] / "docs" / "reports" / "cpu" / "report.json"
    row = find_row(
        load_report(str(report)),
        row_id="tensorflow/opt.legacy_decay/SGD(decay=) as in Vitay's notes/float64/cpu",
    )
    assert row["counterexample"] is not None
    source = generate(adapter, row)
    assert not imports_trainspec(source)
    rc, out = run_script(source, tmp_path)
    assert rc == 1 and "DISCREPANCY" in out, out[-2000:]
