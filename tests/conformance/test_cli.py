import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from trainspec import reference
from trainspec.conformance.cli import main

HERE = Path(__file__).parent


def test_spec_json_lists_the_entries_with_formula_citations_variants(capsys):
    assert main(["spec", "--json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert {"opt.gd", "opt.momentum", "opt.nesterov", "opt.weight_decay"} <= set(entries)
    for e in entries.values():
        assert e["formula"] and e["citations"] and "variants" in e and "errata" in e
    axes = {a["axis"]: a for a in entries["opt.momentum"]["variants"]}
    assert [o["name"] for o in axes["form"]["options"]] == [
        "eta_inside",
        "eta_outside",
        "exponential_average",
    ]


def test_spec_text_and_errata(capsys):
    assert main(["spec", "--id", "opt.nesterov"]) == 0
    assert "erratum (A. Solberg)" in capsys.readouterr().out
    assert main(["errata"]) == 0
    out = capsys.readouterr().out
    n = sum(len(e.errata) for e in reference.all_entries())
    assert n >= 3 and out.count(": shown:") == n and "NOT SHOWN" not in out


def test_unknown_backend_is_a_usage_error(capsys, tmp_path):
    assert main(["run", "--backend", "no-such-framework", "--report", str(tmp_path)]) == 2
    assert "not registered" in capsys.readouterr().err


def test_merge_rejects_a_file_that_is_not_a_report(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert main(["merge", str(bad), "--report", str(tmp_path / "out")]) == 2
    assert "must be a trainspec report.json" in capsys.readouterr().err


def test_python_dash_m_works():
    out = subprocess.run(
        [sys.executable, "-m", "trainspec", "spec", "--id", "opt.gd"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("opt.gd")


def test_a_third_party_adapter_is_found_through_its_entry_point(tmp_path):
    """A package that ships an adapter only registers an entry point; the kit is not touched."""
    (tmp_path / "thirdparty_adapter.py").write_text(
        textwrap.dedent(
            """
            from functools import partial
            from numpy_impls import NumpyAdapter, heavy_ball, impl, solberg_printed

            def make():
                a = NumpyAdapter([
                    impl("opt.momentum", "heavy_ball", heavy_ball),
                    impl("opt.nesterov", "printed", solberg_printed),
                ])
                a.name = "thirdparty"
                return a
            """
        )
    )
    dist = tmp_path / "thirdparty-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[trainspec.adapters]\nthirdparty = thirdparty_adapter:make\n"
    )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(HERE), os.environ.get("PYTHONPATH", "")]),
    )
    report = tmp_path / "report"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainspec",
            "run",
            "--backend",
            "thirdparty",
            "--spec",
            "opt",
            "--profile",
            "quick",
            "--dtype",
            "float32",
            "--report",
            str(report),
            "--strict",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr  # --strict: the printed Nesterov diverges
    rows = {r["spec_id"]: r for r in json.loads((report / "report.json").read_text())["results"]}
    assert (
        rows["opt.momentum"]["verdict"] == "variant"
        and rows["opt.momentum"]["variant"] == "form=eta_outside"
    )
    assert rows["opt.nesterov"]["verdict"] == "diverges" and rows["opt.nesterov"]["counterexample"]
    assert rows["opt.gd"]["verdict"] == "not_offered"
    assert "replay: trainspec run --backend thirdparty --spec opt.nesterov" in out.stdout
    assert (report / "report.md").exists()
