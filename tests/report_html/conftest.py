"""Fixtures of the report.html tests: the committed CPU report and a small report with plots."""

import json
from pathlib import Path

import pytest

from trainspec.conformance.report import build_report
from trainspec.conformance.runner import Row

REPO = Path(__file__).resolve().parents[2]
CPU_REPORT = REPO / "docs" / "reports" / "cpu" / "report.json"


@pytest.fixture(scope="session")
def cpu_report() -> dict:
    return json.loads(CPU_REPORT.read_text())


@pytest.fixture(scope="session")
def small_report() -> dict:
    curve = {
        "type": "curve",
        "xlabel": "step",
        "ylabel": "learning rate",
        "x": [0, 1, 2, 3],
        "framework": [1.0, 0.5, 0.25, float("nan")],
        "reference": {
            "default": [1.0, 0.5, 0.25, 0.125],
            "staircase=staircase": [1, 1, 0.25, 0.25],
        },
        "check": "values",
    }
    rows = [
        Row(
            "sched.exponential",
            "a",
            "ExpDecay",
            "cpu",
            "float32",
            "diverges",
            variant="default",
            max_error=float("inf"),
            tolerance=1e-7,
            ratio=float("inf"),
            counterexample={"steps": [0, 1, 2, 3]},
            repro="trainspec run --backend a --spec sched.exponential",
            examples=3,
            seconds=0.5,
            message="no variant matches; closest is 'default'",
            ratios=[0.0, 0.3, float("inf")],
            plot=curve,
        ),
        Row(
            "opt.momentum",
            "a",
            "SGD(momentum)",
            "cpu",
            "float64",
            "variant",
            variant="form=eta_outside",
            consistent_variants=["form=eta_outside"],
            max_error=1e-16,
            tolerance=1e-15,
            ratio=0.1,
            examples=4,
            seconds=0.2,
            ratios=[0.0, 0.01, 0.1, 0.05],
        ),
        Row(
            "opt.momentum",
            "a",
            "SGD(momentum)",
            "cpu",
            "float16",
            "not_offered",
            message="SGD(momentum) does not offer float16",
        ),
        Row(
            "opt.gd",
            "b",
            "GD",
            "cpu",
            "float32",
            "conforms",
            variant="default",
            ratio=0.5,
            max_error=1e-8,
            tolerance=2e-8,
            examples=2,
            ratios=[0.5, 0.25],
        ),
    ]
    return build_report(
        rows,
        {"a": {"status": "ok", "seconds": 1.0}, "b": {"status": "ok", "seconds": 2.0}},
        profile="ci",
        seed=0,
        devices=["cpu"],
    )
