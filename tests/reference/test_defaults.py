from trainspec import reference
from trainspec.reference.defaults import CLAIMS, DEFAULT_CLAIMS, compare_defaults


def test_the_documents_disagree_on_adams_epsilon():
    eps = {
        c.source.author: c.value
        for c in CLAIMS
        if c.optimizer == "Adam" and c.hyperparameter == "eps"
    }
    assert eps == {"J. Vitay": 1e-7, "J. Padilla Montani": 1e-8}


def test_compare_defaults_reports_drift_with_both_values():
    claims = [
        c for c in reference.get("opt.defaults").model.for_backend("torch") if c.optimizer == "SGD"
    ]
    now = {
        "SGD": {
            "learning_rate": 0.001,
            "momentum": 0.0,
            "dampening": 0.0,
            "weight_decay": 0.0,
            "nesterov": False,
        }
    }
    drift, matches = compare_defaults(claims, now)
    assert [(d["hyperparameter"], d["value"], d["framework_value"]) for d in drift] == [
        ("learning_rate", "required", 0.001)
    ]
    assert len(matches) == 4
    # a removed argument is drift too, and a bool is not a number
    drift, _ = compare_defaults(claims, {"SGD": {"learning_rate": None, "nesterov": 0}})
    assert {d["hyperparameter"] for d in drift} == {
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
    }


def test_act_defaults_reports_drift_with_both_values():
    claims = reference.get("act.defaults").model.for_backend("tensorflow")
    assert claims and all(c in DEFAULT_CLAIMS for c in claims)
    now = {
        "tf.nn.leaky_relu": {"alpha": 0.2},
        "leaky_relu": {"alpha": 0.2},
        "LeakyReLU": {"alpha": 0.3},
        "elu": {"alpha": 1.0},
        "ELU": {"alpha": 1.0},
        "PReLU": {"alpha": 0.0},
    }
    drift, matches = compare_defaults(claims, now)
    assert {(d["optimizer"], d["framework_value"]) for d in drift} == {
        ("tf.nn.leaky_relu", 0.2),
        ("leaky_relu", 0.2),
        ("LeakyReLU", 0.3),
        ("PReLU", 0.0),
    }
    assert len(matches) == 2


def test_a_papers_defaults_are_claims_about_every_backend():
    model = reference.get("opt.defaults").model
    for backend, key in (("torch", "Adam"), ("tensorflow", "Adam"), ("jax", "adam")):
        kingma = {
            c.hyperparameter: c.value
            for c in model.for_backend(backend)
            if c.optimizer == key and c.source.author == "D. P. Kingma, J. Ba"
        }
        assert kingma == {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
