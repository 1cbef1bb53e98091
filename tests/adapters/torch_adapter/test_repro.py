"""`trainspec repro` for the torch adapter: every known finding has a standalone reproduction,
and each, run with only the framework and NumPy, shows its discrepancy."""

import pytest

from trainspec.adapters.torch_adapter import TorchAdapter
from trainspec.conformance.repro import (
    finding_rows,
    generate,
    imports_trainspec,
    representatives,
    row_for,
    run_script,
)


@pytest.fixture(scope="module")
def adapter():
    return TorchAdapter()


def test_every_declared_finding_has_a_repro(adapter):
    """Registry-driven: a finding added without a way to write its repro fails here."""
    rows = finding_rows(adapter)
    assert rows, "the torch adapter declares findings"
    for impl, dtype, finding in rows:
        device = "cpu" if "cpu" in impl.devices else impl.devices[0]
        source = generate(adapter, row_for(adapter, impl, dtype, device))
        compile(source, f"repro of {impl.name} ({dtype})", "exec")
        assert not imports_trainspec(source), impl.name
        assert finding.text.split(":")[0][:40].replace('"""', "") in source


def test_the_repro_of_every_finding_shows_its_discrepancy(adapter, tmp_path):
    failures = []
    picked = representatives(adapter)
    assert {f.id for i, _d, f in finding_rows(adapter) if "cpu" in i.devices} == {
        impl.finding(dtype).id for impl, dtype in picked
    }
    for impl, dtype in picked:
        source = generate(adapter, row_for(adapter, impl, dtype))
        rc, out = run_script(source, tmp_path)
        if rc != 1 or "DISCREPANCY" not in out:
            failures.append(f"{impl.name} ({dtype}): exit {rc}\n{out[-2000:]}")
    assert not failures, "\n\n".join(failures)


def test_the_repro_of_a_committed_row_shows_its_discrepancy(adapter, tmp_path):
    from pathlib import Path

    from trainspec.conformance.repro import find_row, load_report

    report = Path(__file__).parents[3] / "docs" / "reports" / "cpu" / "report.json"
    row = find_row(
        load_report(str(report)), row_id="torch/opt.adam/Adam(differentiable=True)/float64/cpu"
    )
    # the row reads as what torch does (computes in float32) and keeps its finding; it stores no
    # counterexample, so the script runs the finding's minimal example against the float64 formula
    assert row["variant"] == "precision=float32_internal" and row["finding"]
    source = generate(adapter, row)
    assert not imports_trainspec(source)
    rc, out = run_script(source, tmp_path)
    assert rc == 1 and "DISCREPANCY" in out, out[-2000:]
