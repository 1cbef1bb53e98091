"""`trainspec repro` for the jax adapter: every known finding has a standalone reproduction,
and each, run with only the framework and NumPy, shows its discrepancy."""

import pytest

from trainspec.adapters.jax_adapter import JaxAdapter
from trainspec.conformance.repro import (
    generate,
    run_script,
    unreproduced_findings,
    unreproducible_findings,
)


@pytest.fixture(scope="module")
def adapter():
    return JaxAdapter()


def test_every_declared_finding_has_a_repro(adapter):
    """Registry-driven: a finding added without a way to write its repro fails here."""
    assert unreproducible_findings(adapter) == []


def test_the_repro_of_every_finding_shows_its_discrepancy(adapter, tmp_path):
    failures = unreproduced_findings(adapter, tmp_path)
    assert not failures, "\n\n".join(failures)


def test_a_committed_row_without_counterexample_uses_its_findings_example(adapter, tmp_path):
    """The row's finding hits are not stored: the finding's minimal example stands in, and the
    expected value is the row's variant (eps inside the root, centred)."""
    from pathlib import Path

    from trainspec.conformance.repro import find_row, load_report

    report = Path(__file__).parents[3] / "docs" / "reports" / "cpu" / "report.json"
    row = find_row(
        load_report(str(report)), row_id="jax/opt.rmsprop/jit(rmsprop(centered=True))/float32/cpu"
    )
    assert row["counterexample"] is None and row["finding"] == "optax-rmsprop-centered-jit-nan"
    source = generate(adapter, row)
    assert "variant eps=inside, centered=centered" in source
    rc, out = run_script(source, tmp_path)
    assert rc == 1 and "DISCREPANCY" in out and "framework nan" in out, out[-2000:]
