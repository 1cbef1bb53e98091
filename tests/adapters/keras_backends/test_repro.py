"""`trainspec repro` for keras-jax and keras-torch (run in their envs): every known finding of the
backend's adapter has a standalone reproduction on that backend, and each, run with only Keras,
the backend and NumPy, shows its discrepancy."""

import ast
import os

import pytest

from trainspec.conformance import discovery
from trainspec.conformance.repro import (
    ReproError,
    generate,
    imports_trainspec,
    row_for,
    run_script,
    unreproduced_findings,
    unreproducible_findings,
)

BACKEND = os.environ.get("KERAS_BACKEND", "")
pytestmark = pytest.mark.skipif(
    BACKEND not in ("jax", "torch"), reason="runs in the keras-jax or keras-torch environment"
)


@pytest.fixture(scope="module")
def adapter():
    adapters, failures = discovery.load_adapters([f"keras-{BACKEND}"])
    assert not failures, failures
    return adapters[f"keras-{BACKEND}"]


def _imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_every_declared_finding_has_a_repro_on_its_backend(adapter):
    """Registry-driven: a finding added without a way to write its repro fails here."""

    def on_this_backend(impl, dtype, source):
        if _imported(source) != {"sys", "numpy", "os", "keras", BACKEND}:
            return f"imports {sorted(_imported(source))}"
        if f'os.environ["KERAS_BACKEND"] = "{BACKEND}"' not in source:
            return f"does not set KERAS_BACKEND={BACKEND}"
        return None

    assert unreproducible_findings(adapter, on_this_backend) == []


def test_the_repro_of_every_finding_shows_its_discrepancy(adapter, tmp_path):
    def names_the_backend(impl, dtype, out):
        if f", {BACKEND} " not in out.splitlines()[0]:
            return f"the versions name no {BACKEND}\n{out[:500]}"
        return None

    failures = unreproduced_findings(adapter, tmp_path, names_the_backend)
    assert not failures, "\n\n".join(failures)


def test_a_row_without_a_finding_is_refused_by_name(adapter):
    impl = next(i for i in adapter.implementations() if i.name == "SGD(weight_decay)")
    with pytest.raises(ReproError, match="counterexample: the row of 'SGD\\(weight_decay\\)'"):
        generate(adapter, row_for(adapter, impl, "float32"))
    plain = next(i for i in adapter.implementations() if i.name == "SGD")
    with pytest.raises(ReproError, match="writes no repro for 'SGD'"):
        generate(adapter, row_for(adapter, plain, "float32"))


#: a committed row per backend with a finding (keras-torch's reads the precision variant)
COMMITTED_ROWS = {
    "torch": "keras-torch/opt.adamw/keras.optimizers.AdamW/float64/cpu",
    "jax": "keras-jax/opt.rmsprop/keras.optimizers.RMSprop(centered=True)/bfloat16/cpu",
}


def test_the_repro_of_a_committed_row_shows_its_discrepancy(adapter, tmp_path):
    from pathlib import Path

    from trainspec.conformance.repro import find_row, load_report

    report = Path(__file__).parents[3] / "docs" / "reports" / "cpu" / "report.json"
    row = find_row(load_report(str(report)), row_id=COMMITTED_ROWS[BACKEND])
    assert row["finding"] is not None
    source = generate(adapter, row)
    assert not imports_trainspec(source)
    assert "precision=" not in source.split("import sys")[0]  # the entry's own variant, float64
    rc, out = run_script(source, tmp_path)
    assert rc == 1 and "DISCREPANCY" in out, out[-2000:]
