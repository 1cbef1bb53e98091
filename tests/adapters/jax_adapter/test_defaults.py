"""The jax adapter's defaults rows: the framework's current defaults read from its API,
and drift from the documents reported with both values."""

from trainspec import reference
from trainspec.adapters.jax_adapter.defaults import activation_defaults, implementations
from trainspec.conformance.runner import check_row


def test_defaults_are_read_from_the_api():
    d = activation_defaults()
    assert d == {"leaky_relu": {"alpha": 0.01}, "elu": {"alpha": 1.0}, "PReLU": {"alpha": 0.01}}
    impl = next(i for i in implementations() if i.spec_id == "act.defaults")
    row = check_row(reference.get("act.defaults"), impl, "jax", "-", "cpu")
    assert row.verdict == "diverges"
    assert [(x["optimizer"], x["framework_value"]) for x in row.counterexample["drift"]] == [
        ("PReLU", 0.01)
    ]
