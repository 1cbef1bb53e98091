"""The defaults kind: every claim compared, drift reported with both values, a raising adapter
an error row, and one dtype-free row per implementation."""

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.runner import check_row


def test_defaults_rows_compare_every_claim():
    entry = reference.get("opt.defaults")
    doc: dict = {}
    for c in entry.model.for_backend("torch"):  # exactly what the documents and papers state
        doc.setdefault(c.optimizer, {})[c.hyperparameter] = c.value
    assert doc["SGD"]["learning_rate"] is None and doc["Adam"]["eps"] == 1e-8
    same = Implementation("opt.defaults", "signature", lambda c, d, dev: doc, devices=("cpu",))
    assert check_row(entry, same, "torch", "-", "cpu").verdict == "conforms"
    drifted = {"SGD": {**doc["SGD"], "learning_rate": 1e-3}}
    row = check_row(
        entry,
        Implementation("opt.defaults", "s", lambda c, d, dev: drifted, devices=("cpu",)),
        "torch",
        "-",
        "cpu",
    )
    assert row.verdict == "diverges" and "SGD.learning_rate is 0.001" in row.message
    assert row.counterexample["drift"][0]["quote"].startswith("torch.optim.SGD(")
    assert row.values == drifted  # every value read, for the expectations to pin
    none = check_row(entry, same, "numpy", "-", "cpu")
    assert none.verdict == "not_offered"


def test_a_raising_adapter_is_an_error_row():
    def boom(c, d, dev):
        raise RuntimeError("signature unreadable")

    row = check_row(
        reference.get("opt.defaults"),
        Implementation("opt.defaults", "s", boom, devices=("cpu",)),
        "torch",
        "-",
        "cpu",
    )
    assert row.verdict == "error" and "signature unreadable" in row.message


def test_the_kind_is_dtype_free_and_measures_whole_rows():
    kind = get_kind("defaults")
    assert kind.dtype_free and kind.measure_row is not None
    assert kind.draw is None and kind.evaluate is None
