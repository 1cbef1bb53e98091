"""``trainspec repro``'s framework-independent parts: the inline NumPy formulas equal the
reference's variants, literals are exact, rows are found, usage errors name the argument."""

import itertools
import math

import numpy as np
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.cli import main
from trainspec.conformance.kinds.optimizers import OptimizerCase, reference_optimizer_run
from trainspec.conformance.kinds.schedules import ScheduleCase, reference_values
from trainspec.conformance.repro import (
    ReproError,
    expected_code,
    find_row,
    finding_example,
    imports_trainspec,
    python_literal,
)
from trainspec.reference.optimizers.common import CanonicalState


def _run_expected(spec_id: str, variant: str, case_json: dict) -> dict:
    _, code = expected_code(spec_id, variant)
    namespace = {"np": np, "CASE": eval(python_literal(case_json))}
    exec(code, namespace)
    return namespace["EXPECTED"]


def _optimizer_case(spec_id: str) -> tuple[OptimizerCase, dict]:
    rng = np.random.default_rng(3)
    p, g1, g2 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    hp = {
        "opt.rmsprop": {"rho": 0.9, "eps": 1e-3, "momentum": 0.5},
        "opt.adam": {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        "opt.adamw": {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        "opt.nadam": {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "momentum_decay": 0.004},
        "opt.weight_decay": {"momentum": 0.5, "weight_decay": 0.1},
    }[spec_id]
    a = rng.normal(size=3) * 0.1
    buffers = {
        "opt.rmsprop": {"square_avg": 0.5 + a**2, "grad_avg": a, "momentum_buffer": a + 1},
        "opt.adam": {"m": a, "v": 0.2 + a**2, "v_max": 0.3 + a**2},
        "opt.adamw": {"m": a, "v": 0.2 + a**2, "v_max": 0.3 + a**2},
        "opt.nadam": {"m": a, "v": 0.2 + a**2},
        "opt.weight_decay": {"trace": a + 1},
    }[spec_id]
    lrs = [0.1, 0.1] if spec_id == "opt.rmsprop" else [0.1, 0.05]
    case = OptimizerCase(
        params={"w": p},
        grads=[{"w": g1}, {"w": g2}],
        learning_rates=lrs,
        hyperparameters=hp,
        state=CanonicalState(3, {k: {"w": v} for k, v in buffers.items()}),
    )
    as_json = {
        "check": "trajectory",
        "params": {"w": p.tolist()},
        "grads": [{"w": g1.tolist()}, {"w": g2.tolist()}],
        "learning_rates": lrs,
        "hyperparameters": hp,
        "state": {"count": 3, "buffers": {k: {"w": v.tolist()} for k, v in buffers.items()}},
    }
    return case, as_json


WRITTEN = {
    "opt.rmsprop": {
        "eps": ("outside", "inside"),
        "centered": ("plain", "centered"),
        "momentum_form": ("eta_outside",),
    },
    "opt.adam": {
        "eps": ("outside", "inside", "eps_hat"),
        "bias_correction": ("on", "off"),
        "amsgrad": ("off", "max_uncorrected", "max_corrected", "max_never_corrected"),
    },
    "opt.adamw": {
        "decay_scaling": ("lr_times_lambda", "lambda_only"),
        "eps": ("outside", "inside"),
        "amsgrad": ("off", "max_uncorrected"),
    },
    "opt.nadam": {"momentum_schedule": ("dozat_decay",)},
    "opt.weight_decay": {
        "decay": ("l2_gradient", "l2_gradient_2lambda", "decoupled", "decoupled_unscaled"),
        "momentum_form": ("eta_inside", "eta_outside"),
    },
}


@pytest.mark.parametrize("spec_id", sorted(WRITTEN))
def test_the_inline_update_rules_are_the_reference_variants(spec_id):
    entry = reference.get(spec_id)
    case, as_json = _optimizer_case(spec_id)
    axes = WRITTEN[spec_id]
    written = 0
    for combo in itertools.product(*axes.values()):
        options = dict(zip(axes, combo, strict=True))
        variant = entry.variant(**options)
        name = ", ".join(f"{k}={v}" for k, v in options.items())
        want = reference_optimizer_run(entry.model, variant, case, "float64")["w"].value
        try:
            got = _run_expected(spec_id, name, as_json)["w"]
        except ReproError as e:  # a combination repro refuses, by name
            assert "eps=eps_hat" in str(e)
            continue
        written += 1
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
    assert written >= 1


def test_variants_not_written_are_refused_by_name():
    with pytest.raises(ReproError, match="opt.weight_decay has no axis 'nesterov'"):
        expected_code("opt.weight_decay", "nesterov=on")
    with pytest.raises(ReproError, match=r"not for \{'momentum_form': 'exponential_average'\}"):
        expected_code("opt.weight_decay", "momentum_form=exponential_average")
    formula, _ = expected_code("opt.weight_decay", "decay=decoupled")
    assert (
        formula == "v <- mu v - eta_t g; u = v; theta <- theta + u - eta_t wd theta "
        "(decoupled, theta before the step)"
    )


@pytest.mark.parametrize(
    ("spec_id", "variant", "hp", "steps", "metrics"),
    [
        ("sched.exponential", "staircase=continuous",
         {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 7}, (0, 3, 7, 13, 14), ()),
        ("sched.exponential", "staircase=staircase",
         {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 7}, (0, 3, 7, 13, 14), ()),
        ("opt.legacy_decay", "default", {"learning_rate": 0.1, "decay": 0.01}, (0, 1, 10), ()),
    ] + [
        ("sched.plateau", f"patience_count={p}, cooldown_count={c}, threshold_mode={t}, mode={m}",
         {"learning_rate": 0.1, "factor": 0.5, "patience": pat, "threshold": 0.0625,
          "cooldown": 1, "min_learning_rate": 0.01},
         tuple(range(9)),
         (1.0, 1.0, 0.5, 0.5, 0.5, 0.49, 0.2, 0.9, 0.9) if m == "min"
         else (0.1, 0.1, 0.5, 0.5, 0.5, 0.51, 0.8, 0.1, 0.1))
        for p, c, t, m, pat in itertools.product(
            ("reaches", "exceeds"), ("full", "one_less"), ("relative", "absolute"),
            ("min", "max"), (0, 1),
        )
    ],
)  # fmt: skip
def test_the_inline_schedules_are_the_reference_variants(spec_id, variant, hp, steps, metrics):
    entry = reference.get(spec_id)
    options = dict(p.split("=") for p in variant.split(", ")) if variant != "default" else {}
    case = ScheduleCase(spec_id, "values", hp, steps, metrics)
    want = reference_values(entry, entry.variant(**options), case, "float64").value
    as_json = {"check": "values", "spec_id": spec_id, "hyperparameters": hp,
               "steps": list(steps), "metrics": list(metrics)}  # fmt: skip
    got = _run_expected(spec_id, variant, as_json)["lr"]
    np.testing.assert_allclose(got, want, rtol=1e-14, err_msg=variant)


def test_selu_and_prelu_formulas():
    z = [-1e-9, -1.0, 0.0, 2.0, float("inf")]
    selu = _run_expected("act.selu", "default", {"check": "derivatives", "z": z, "cotangent": None})
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(
        selu["z"], [lam * alpha * math.exp(-1e-9), lam * alpha * math.exp(-1.0), lam, lam, lam]
    )
    prelu = _run_expected(
        "act.prelu", "default",
        {"check": "derivatives", "z": z, "cotangent": [1.0] * 5, "hyperparameters": {"alpha": 0.25}},
    )  # fmt: skip
    assert prelu["alpha"] == pytest.approx(-1.0 - 1e-9)
    np.testing.assert_allclose(prelu["z"], [0.25, 0.25, 0.25, 1.0, 1.0])


def test_literals_are_exact_and_name_non_finite_numbers():
    x = {"a": [0.1, 1 / 3, float("nan"), "inf", -float("inf")], "b": 3}
    back = eval(python_literal(x))
    assert back["a"][:2] == [0.1, 1 / 3] and math.isnan(back["a"][2])
    assert back["a"][3:] == [math.inf, -math.inf] and back["b"] == 3


def test_rows_are_found_by_id_or_fields():
    rows = [
        {
            "spec_id": "opt.x",
            "backend": "a",
            "implementation": "f(p/q)",
            "dtype": d,
            "device": "cpu",
        }
        for d in ("float32", "float64")
    ]
    report = {"results": rows}
    assert find_row(report, row_id="a/opt.x/f(p/q)/float64/cpu")["dtype"] == "float64"
    with pytest.raises(ReproError, match="2 rows match"):
        find_row(report, spec="opt.x")
    with pytest.raises(ReproError, match="row: 'a/opt.x' must be"):
        find_row(report, row_id="a/opt.x")


def test_a_findings_minimal_example_is_found_by_id_or_by_id_and_spec():
    found = Finding("x-rounds-early", "rounds early")
    impl = Implementation("act.relu", "relu", lambda c, d, v: {}, findings={"float32": found})
    examples = {"x-rounds-early": {"z": [1.0]}}
    f, example = finding_example(impl, "float32", examples)
    assert f is found and example == {"z": [1.0]} and example is not examples["x-rounds-early"]
    by_spec = {("x-rounds-early", "act.relu"): {"z": [2.0]}}
    assert finding_example(impl, "float32", by_spec, by_spec=True)[1] == {"z": [2.0]}
    for dtype, table in (("float64", examples), ("float32", {"another": {}})):
        with pytest.raises(ReproError, match=rf"the row of 'relu' \({dtype}\) has none, nor a"):
            finding_example(impl, dtype, table)


def test_imports_of_trainspec_are_seen():
    assert imports_trainspec("import trainspec.reference as r")
    assert imports_trainspec("from trainspec import reference")
    assert not imports_trainspec("import numpy as np\nx = 'trainspec'")


def test_usage_errors_name_the_argument(capsys, tmp_path):
    assert main(["repro", "--row", "a/b/c/d/e"]) == 2
    assert "--row" in capsys.readouterr().err
    assert main(["repro", "--backend", "torch"]) == 2
    assert "--spec" in capsys.readouterr().err
    assert main(["repro", "--report", str(tmp_path / "none.json")]) == 2
    assert "--report" in capsys.readouterr().err


def test_the_finding_checkers_report_each_failure_by_implementation(tmp_path):
    """What an adapter's test suite asserts empty (``unreproducible_findings`` and
    ``unreproduced_findings``), on a NumPy adapter whose finding has no repro."""
    from trainspec.conformance.adapter import Finding, Implementation
    from trainspec.conformance.kinds.optimizers import centred_bfloat16_example
    from trainspec.conformance.repro import (
        example_of,
        unreproduced_findings,
        unreproducible_findings,
    )

    class Plain:
        name = "numpy-plain"

        def __init__(self, findings):
            self._findings = findings

        def implementations(self):
            return [
                Implementation(
                    "opt.rmsprop",
                    "rmsprop",
                    lambda c, d, dev: None,
                    dtypes=("float32",),
                    devices=("cpu",),
                    findings=self._findings,
                )
            ]

        def repro_call(self, impl, dtype, device, case):
            return None  # writes no repro

    assert unreproducible_findings(Plain({})) == ["numpy-plain: the adapter declares no finding"]
    found = Plain({"float32": Finding("nan-somewhere", "NaN: somewhere")})
    (line,) = unreproducible_findings(found)
    assert line.startswith("rmsprop (float32): implementation: numpy-plain writes no repro")
    (line,) = unreproduced_findings(found, tmp_path)
    assert line.startswith("rmsprop (float32): implementation: numpy-plain writes no repro")
    # a finding's example becomes the script's CASE
    check, case = centred_bfloat16_example()
    assert example_of(check, case) == {"check": "trajectory", **case.summary()}
    with pytest.raises(ReproError, match="has no summary"):
        example_of("values", object())
