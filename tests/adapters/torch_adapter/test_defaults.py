"""torch's defaults rows: every optimizer's signature is read, and expectations pin every value, so
a changed default is a ``changed`` row even in a row that already drifts from a document."""

import inspect

import torch

from trainspec import reference
from trainspec.adapters.torch_adapter.defaults import (
    OPTIMIZERS,
    activation_defaults,
    implementations,
    sgd_defaults,
)
from trainspec.conformance import expectations as E
from trainspec.conformance.runner import check_row


def _row():
    (impl,) = [i for i in implementations() if i.spec_id == "opt.defaults"]
    return check_row(reference.get("opt.defaults"), impl, "torch", "-", "cpu").to_json()


def test_every_offered_optimizer_is_read_and_compared_with_the_papers():
    row = _row()
    assert set(row["values"]) == set(OPTIMIZERS)
    assert row["values"]["Adam"]["eps"] == 1e-8 and row["values"]["RMSprop"]["rho"] == 0.99
    claims = reference.get("opt.defaults").model.for_backend("torch")
    assert {(c.optimizer, c.hyperparameter) for c in claims} >= {
        ("Adam", "eps"),
        ("Adam", "beta2"),
        ("Adamax", "learning_rate"),
    }
    assert row["examples"] == len(claims)


def test_a_changed_default_is_a_changed_row_though_the_row_already_drifts(monkeypatch):
    before = _row()
    assert before["verdict"] == "diverges"  # SGD's lr already drifts from the document
    sig = inspect.signature(torch.optim.Adam)
    patched = sig.replace(
        parameters=[
            p.replace(default=1e-6) if name == "eps" else p for name, p in sig.parameters.items()
        ]
    )
    monkeypatch.setattr(torch.optim.Adam, "__signature__", patched, raising=False)
    after = _row()
    (change,) = E.compare(E.pins_of_report({"rows": [before]}), E.pins_of_report({"rows": [after]}))
    assert change.status == "changed"
    assert change.fields["values[Adam.eps]"] == (1e-8, 1e-6)
    assert "values[Adam.eps]: 1e-08 -> 1e-06" in change.text()


def test_defaults_are_read_from_the_api():
    d = activation_defaults()
    assert d["leaky_relu"]["alpha"] == 0.01 and d["LeakyReLU"]["alpha"] == 0.01
    assert d["RReLU"] == {"lower": 1 / 8, "upper": 1 / 3}
    assert d["PReLU"]["alpha"] == 0.25
    row = check_row(
        reference.get("act.defaults"),
        next(i for i in implementations() if i.spec_id == "act.defaults"),
        "torch",
        "-",
        "cpu",
    )
    assert row.verdict == "conforms" and row.examples == len(
        reference.get("act.defaults").model.for_backend("torch")
    )


def test_sgd_defaults_are_read_from_the_signature():
    d = sgd_defaults()["SGD"]
    assert d["momentum"] == 0 and d["nesterov"] is False
    # the architectures notes print lr=<required parameter>; torch 2.13 has a default
    row = check_row(
        reference.get("opt.defaults"),
        next(i for i in implementations() if i.spec_id == "opt.defaults"),
        "torch",
        "-",
        "cpu",
    )
    assert row.verdict == "diverges" and "SGD.learning_rate is 0.001" in row.message
