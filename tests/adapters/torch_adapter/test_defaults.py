"""The torch adapter's defaults rows: the framework's current defaults read from its API,
and drift from the documents reported with both values."""

from trainspec import reference
from trainspec.adapters.torch_adapter.defaults import (
    activation_defaults,
    implementations,
    sgd_defaults,
)
from trainspec.conformance.runner import check_row


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
