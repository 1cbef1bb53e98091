"""The tensorflow adapter's defaults rows: the framework's current defaults read from its API,
and drift from the documents reported with both values."""

from trainspec import reference
from trainspec.adapters.keras_adapter.defaults import (
    activation_defaults,
    implementations,
    optimizer_defaults,
)
from trainspec.conformance.runner import check_row


def test_defaults_are_read_from_the_api_and_drift_is_reported():
    d = activation_defaults()
    assert d["tf.nn.leaky_relu"]["alpha"] == 0.2 and d["leaky_relu"]["alpha"] == 0.2
    assert d["LeakyReLU"]["alpha"] == 0.3 and d["PReLU"]["alpha"] == 0.0
    impl = next(i for i in implementations() if i.spec_id == "act.defaults")
    row = check_row(reference.get("act.defaults"), impl, "tensorflow", "-", "cpu")
    assert row.verdict == "diverges"
    drift = {(x["optimizer"], x["framework_value"]) for x in row.counterexample["drift"]}
    assert drift == {
        ("tf.nn.leaky_relu", 0.2),
        ("leaky_relu", 0.2),
        ("LeakyReLU", 0.3),
        ("PReLU", 0.0),
    }


def test_defaults_drift_from_padilla_montanis_tensorflow_epsilon():
    d = optimizer_defaults()
    assert d["Adam"]["eps"] == 1e-7 and d["RMSprop"]["rho"] == 0.9
    impl = next(i for i in implementations() if i.spec_id == "opt.defaults")
    row = check_row(reference.get("opt.defaults"), impl, "tensorflow", "-", "cpu")
    assert row.verdict == "diverges"
    drift = {(x["optimizer"], x["hyperparameter"], x["value"]) for x in row.counterexample["drift"]}
    assert ("Adam", "eps", 1e-8) in drift
