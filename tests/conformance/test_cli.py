import argparse
import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from trainspec import reference
from trainspec.conformance.cli import main
from trainspec.conformance.discovery import BUILTIN_BACKENDS

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
    out = capsys.readouterr().out
    assert "errata:" in out and "A. Solberg (2017)" in out and "prints:" in out
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


# --- clear errors (exit 2) -------------------------------------------------------------------

from fault_adapters import trainspec_cli  # noqa: E402

from trainspec.conformance.cli import _parser  # noqa: E402

REPO = HERE.parent.parent


def test_an_unknown_spec_is_a_usage_error_with_suggestions(capsys, tmp_path):
    assert main(["run", "--spec", "opt.nestrov", "--report", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--spec opt.nestrov: no spec ID is or starts with it; did you mean 'opt.nesterov'" in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_an_unknown_backend_suggests_the_close_name(capsys, tmp_path):
    assert main(["run", "--backend", "torhc", "--report", str(tmp_path)]) == 2
    assert "did you mean 'torch'?" in capsys.readouterr().err


def test_an_unknown_impl_is_a_usage_error_with_suggestions(tmp_path):
    out = trainspec_cli(
        tmp_path, "run", "--backend", "honest", "--impl", "heavy_bal", "--report", "r"
    )
    assert out.returncode == 2, out.stderr
    assert (
        "--impl 'heavy_bal': no implementation has this name; did you mean 'heavy_ball'?"
        in out.stderr
    )
    assert not (tmp_path / "r" / "report.json").exists()


def test_an_absent_device_is_an_error_unless_skipping_it_is_asked_for(tmp_path):
    args = [
        "run",
        "--backend",
        "honest",
        "--spec",
        "opt.gd",
        "--profile",
        "quick",
        "--device",
        "cuda",
    ]
    out = trainspec_cli(tmp_path, *args, "--report", "a")
    assert out.returncode == 2
    assert "--device cuda: not available to honest (devices: cpu)" in out.stderr
    out = trainspec_cli(tmp_path, *args, "--allow-absent-device", "--report", "b")
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "b" / "report.json").read_text())["results"]
    assert rows and all(
        r["verdict"] == "not_offered" and "no cuda device" in r["message"] for r in rows
    )


def test_a_named_backend_that_is_not_installed_is_a_usage_error_naming_its_environment(tmp_path):
    out = trainspec_cli(tmp_path, "run", "--backend", "torch", "--report", "r")
    if out.returncode == 0:  # torch is installed here: nothing to check
        return
    assert out.returncode == 2 and "not installed" in out.stderr
    assert "pip install 'trainspec[torch]'" in out.stderr


# --- replays ---------------------------------------------------------------------------------


def parse_replay(command: str) -> tuple[str | None, argparse.Namespace]:
    """A replay as a shell parses it: the tox environment it names (or None), the run's args."""
    words = shlex.split(command, comments=True)
    env = None
    if words[:2] == ["tox", "exec"]:
        assert words[2] == "-e" and words[4] == "--", words
        env, words = words[3], words[5:]
    assert words[0] == "trainspec", words
    return env, _parser().parse_args(words[1:])


def test_every_replay_of_the_committed_matrix_parses_back_to_its_row():
    report = json.loads((REPO / "docs" / "reports" / "cpu" / "report.json").read_text())
    replays = [r for r in report["results"] if r["repro"]]
    assert len(replays) > 500
    folders = set()
    for r in replays:
        env, args = parse_replay(r["repro"])
        # a built-in backend's tox environment; another adapter's replay names its package
        assert env == (r["backend"] if r["backend"] in BUILTIN_BACKENDS else None)
        assert args.command == "run" and args.backend == [r["backend"]]
        assert (args.spec, args.impl, args.device) == (
            r["spec_id"],
            r["implementation"],
            r["device"],
        )
        assert args.dtype == (None if r["dtype"] == "-" else [r["dtype"]])
        assert (args.profile, args.seed) == (report["profile"], report["seed"])
        assert args.report.startswith("report/replay-") and args.force
        folders.add(args.report)
    assert len(folders) == len(replays)  # every replay writes its own folder
    quoted = [r for r in replays if "'" in r["implementation"]]
    assert quoted, "the matrix has names with quotes (Keras's mode='min'): they must round-trip"


def test_a_replay_reproduces_its_row(tmp_path):
    """Run a row, then its printed replay (as a shell would split it): the same row."""
    out = trainspec_cli(
        tmp_path,
        "run",
        "--backend",
        "faulty",
        "--spec",
        "opt.gd",
        "--impl",
        "nan",
        "--dtype",
        "float32",
        "--profile",
        "quick",
        "--report",
        "r",
    )
    assert out.returncode == 0, out.stderr
    (row,) = json.loads((tmp_path / "r" / "report.json").read_text())["results"]
    words = shlex.split(row["repro"], comments=True)
    assert (
        words[:2] == ["trainspec", "run"]
        and "# in an environment with faults installed" in row["repro"]
    )
    replay = trainspec_cli(tmp_path, *words[1:])
    assert replay.returncode == 0, replay.stderr
    folder = tmp_path / words[words.index("--report") + 1]
    (again,) = json.loads((folder / "report.json").read_text())["results"]
    same = ("verdict", "variant", "max_error", "counterexample", "examples")
    assert {k: again[k] for k in same} == {k: row[k] for k in same}
    assert trainspec_cli(tmp_path, *words[1:]).returncode == 0  # a replay can be run again


# --- merge -------------------------------------------------------------------------------------


def _report(profile="ci", seed=0, rows=(("opt.gd", "a"),), **extra):
    return {
        "trainspec": "0.1.0",
        "profile": profile,
        "seed": seed,
        "devices": ["cpu"],
        "backends": {rows[0][1]: {"status": "ok"}},
        "results": [
            {
                "spec_id": s,
                "backend": b,
                "implementation": "x",
                "device": "cpu",
                "dtype": "float32",
                "verdict": "conforms",
            }
            for s, b in rows
        ],
        **extra,
    }


def test_merge_refuses_parts_of_different_profiles_seeds_or_versions():
    import pytest

    from trainspec.conformance.report import merge_reports

    with pytest.raises(ValueError, match="the parts differ in profile: a: 'ci', b: 'quick'"):
        merge_reports([_report(), _report("quick", rows=(("opt.gd", "b"),))], sources=["a", "b"])
    with pytest.raises(ValueError, match="the parts differ in seed"):
        merge_reports([_report(), _report(seed=3, rows=(("opt.gd", "b"),))])
    b = _report(rows=(("opt.gd", "b"),))
    b["trainspec"] = "0.2.0"
    with pytest.raises(ValueError, match="the parts differ in trainspec"):
        merge_reports([_report(), b])
    mixed = merge_reports([_report(), _report("quick", rows=(("opt.gd", "b"),))], allow_mixed=True)
    assert mixed["profile"] == ["ci", "quick"]
    assert [p["profile"] for p in mixed["parts"]] == ["ci", "quick"]


def test_merge_keeps_each_parts_provenance_and_refuses_overlaps_and_partial_parts():
    import pytest

    from trainspec.conformance.report import merge_reports

    m = merge_reports(
        [_report(generated="t1"), _report(rows=(("opt.gd", "b"),), generated="t2")],
        sources=["p1", "p2"],
    )
    assert [(p["source"], p["generated"], p["backends"]) for p in m["parts"]] == [
        ("p1", "t1", ["a"]),
        ("p2", "t2", ["b"]),
    ]
    with pytest.raises(ValueError, match="is in both p1 and p2"):
        merge_reports([_report(), _report()], sources=["p1", "p2"])
    with pytest.raises(ValueError, match="is 'interrupted', not complete"):
        merge_reports([_report(status="interrupted")])


def test_merge_refuses_missing_or_repeated_shards():
    import pytest

    from trainspec.conformance.report import merge_reports

    def shard(i, n, b):
        return _report(rows=(("opt.gd", b),), run={"spec": "opt", "shard": [i, n]})

    merge_reports([shard(1, 2, "a"), shard(2, 2, "b")])
    with pytest.raises(ValueError, match="missing 2/3"):
        merge_reports([shard(1, 3, "a"), shard(3, 3, "b")])
    with pytest.raises(ValueError, match="given twice 1/2"):
        merge_reports([shard(1, 2, "a"), shard(1, 2, "b"), shard(2, 2, "c")])


# --- jobs and shards ------------------------------------------------------------------------------


def _rows(folder):
    return [
        {k: v for k, v in r.items() if k != "seconds"}
        for r in json.loads((folder / "report.json").read_text())["results"]
    ]


def test_the_report_does_not_depend_on_jobs_and_shards_merge_to_the_whole(tmp_path):
    run = [
        "run",
        "--backend",
        "slow",
        "--backend",
        "honest",
        "--spec",
        "opt",
        "--profile",
        "quick",
        "--dtype",
        "float32",
    ]
    assert trainspec_cli(tmp_path, *run, "--report", "one").returncode == 0
    out = trainspec_cli(tmp_path, *run, "--jobs", "3", "--report", "three")
    assert out.returncode == 0, out.stderr
    assert _rows(tmp_path / "three") == _rows(tmp_path / "one")
    # a worker memory limit below any worker's size: a fresh worker for every row, same rows
    out = trainspec_cli(tmp_path, *run, "--worker-memory", "1", "--report", "fresh")
    assert out.returncode == 0, out.stderr
    assert _rows(tmp_path / "fresh") == _rows(tmp_path / "one")
    doc = json.loads((tmp_path / "fresh" / "report.json").read_text())
    assert doc["run"]["worker_memory_mib"] == 1
    for b, info in doc["backends"].items():
        measured = [r for r in doc["results"] if r["backend"] == b and r["verdict"] != "not_offered"]
        assert info["workers_replaced_for_memory"] == len(measured) > 0, (b, info)
        assert info["peak_worker_mib"] > 1
    assert "| worker peak MiB |" in (tmp_path / "fresh" / "report.md").read_text()
    for i in (1, 3):  # shard 2/3 measures the rows that neither 1/3 nor 3/3 does
        out = trainspec_cli(tmp_path, *run, "--shard", f"{i}/3", "--report", f"parts/{i}")
        assert out.returncode == 0, out.stderr
    out = trainspec_cli(tmp_path, "merge", "parts", "--report", "gap")
    assert out.returncode == 2 and "missing 2/3" in out.stderr
    out = trainspec_cli(tmp_path, *run, "--shard", "2/3", "--report", "parts/2")
    assert out.returncode == 0, out.stderr
    assert trainspec_cli(tmp_path, "merge", "parts", "--report", "merged").returncode == 0
    key = lambda r: (r["backend"], r["spec_id"], r["implementation"], r["dtype"])  # noqa: E731
    merged = _rows(tmp_path / "merged")
    assert sorted(merged, key=key) == sorted(_rows(tmp_path / "one"), key=key)
    # each part is named relative to the merged report (no path of this machine)
    doc = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert [p["source"] for p in doc["parts"]] == [f"../parts/{i}/report.json" for i in (1, 2, 3)]
    # each backend's largest worker over the parts, and every replacement of one
    parts = [json.loads((tmp_path / f"parts/{i}/report.json").read_text()) for i in (1, 2, 3)]
    for b, info in doc["backends"].items():
        assert info["peak_worker_mib"] == max(
            p["backends"][b].get("peak_worker_mib", 0) for p in parts
        )
        assert info["workers_replaced_for_memory"] == 0


def test_each_shard_checks_its_own_rows_against_the_pins(tmp_path):
    """A CI job matrix runs ``--shard i/n --expect PINS --strict`` per job: a shard compares the
    rows it measures (the other shards' rows are not "gone"), and a pinned row that no shard
    plans any more is reported once, by shard 1."""
    run = ["run", "--backend", "honest", "--spec", "opt", "--profile", "quick"]
    run += ["--dtype", "float32"]
    assert trainspec_cli(tmp_path, *run, "--report", "whole").returncode == 0
    out = trainspec_cli(tmp_path, "lock", "whole/report.json", "--out", "pins.json")
    assert out.returncode == 0, out.stderr
    for i in (1, 2):
        out = trainspec_cli(tmp_path, *run, "--shard", f"{i}/2", "--report", f"s{i}",
                            "--expect", "pins.json", "--strict")
        assert out.returncode == 0, out.stdout + out.stderr
        assert " 0 changed, 0 new, 0 gone" in out.stdout
    pins = json.loads((tmp_path / "pins.json").read_text())
    vanished = dict(pins["rows"][0], implementation="an implementation no longer offered")
    pins["rows"].append(vanished)
    (tmp_path / "pins.json").write_text(json.dumps(pins))
    outs = [
        trainspec_cli(tmp_path, *run, "--shard", f"{i}/2", "--report", f"s{i}", "--force",
                      "--expect", "pins.json", "--strict")
        for i in (1, 2)
    ]
    assert outs[0].returncode == 1 and "1 gone" in outs[0].stdout
    assert "an implementation no longer offered" in outs[0].stdout
    assert outs[1].returncode == 0 and " 0 gone" in outs[1].stdout
