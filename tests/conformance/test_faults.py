"""Fault injection: adapters that raise, hang, return garbage, die hard or are interrupted.

Every fault gives a row that says what happened, and every other row of the run is intact. The
backends are the real NumPy adapters of ``fault_adapters``, loaded in the runner's worker
processes exactly as an installed adapter is.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fault_adapters import FAULTS, GATE, cli_env, trainspec_cli

from trainspec import reference
from trainspec.conformance.discovery import AdapterRef, registered_backends
from trainspec.conformance.runner import check_row

HERE = Path(__file__).parent
TIMEOUT = 6.0


def ref(factory: str, name: str | None = None) -> AdapterRef:
    return AdapterRef(name or factory, f"fault_adapters:{factory}")


@pytest.fixture(scope="module")
def faulty_run():
    """One run: every faulty implementation, then backends whose adapter itself fails."""
    backends = {
        "faulty": ref("faulty"),
        "versions_raise": ref("versions_raise"),
        "implementations_raise": ref("implementations_raise"),
        "prepare_raises": ref("prepare_raises"),
        "constructor_raises": ref("constructor_raises"),
        "not_installed": ref("not_installed"),
        "misspelt_spec": ref("misspelt_spec"),
        "unknown_option": ref("unknown_option"),
        "declared_twice": ref("declared_twice"),
        "honest": ref("honest"),
    }
    from trainspec.conformance.runner import MatrixRun

    t0 = time.perf_counter()
    with MatrixRun(
        [reference.get("opt.gd"), reference.get("opt.momentum")],
        backends,
        dtypes=["float32"],
        profile="quick",
        timeout=TIMEOUT,
    ) as run:
        run.start()
        rows = run.run()
        info = run.backend_info()
    seconds = time.perf_counter() - t0
    return {(r.backend, r.spec_id, r.implementation): r for r in rows}, info, seconds


def faulty_row(faulty_run, name):
    return faulty_run[0][("faulty", "opt.gd", name)]


@pytest.mark.parametrize(
    ("name", "verdict", "message"),
    [
        ("raises", "error", "RuntimeError: this implementation always fails"),
        ("none", "error", "the adapter returned NoneType, expected a mapping"),
        ("wrong_shape", "error", "must equal the reference's"),
        ("wrong_keys", "error", "the adapter returned keys ['w0_renamed'"),
        ("hangs", "error", f"time limit: no result within {TIMEOUT:g} s"),
        ("exits", "error", "the worker process exited with code 3"),
        ("segfault", "error", "died of SIGSEGV"),
        ("killed", "error", "died of SIGKILL (killed: the kernel's out-of-memory killer"),
        ("interrupted", "error", "the worker process exited with code 1"),
    ],
)
def test_each_fault_gives_its_clear_row(faulty_run, name, verdict, message):
    row = faulty_row(faulty_run, name)
    assert row.verdict == verdict, row
    assert message in row.message, row.message
    assert row.repro.startswith("trainspec run --backend faulty --spec opt.gd --impl " + name)


def test_a_row_whose_worker_died_after_other_rows_is_measured_again_in_a_fresh_one(faulty_run):
    row = faulty_row(faulty_run, "segfault_after_other_rows")
    assert row.verdict == "conforms", row
    # the note comes after the row's own message (readers match how that one starts)
    assert row.message.endswith(
        "measured again in a fresh worker: the first worker died of SIGSEGV (a crash in native "
        "code) while measuring this row, after 1 other row"
    ), row.message
    # a row that dies in a fresh worker is not measured again: it is an error row at once
    # (the rows before "segfault" end their workers: "exits" is the one just before)
    assert list(FAULTS).index("segfault") == list(FAULTS).index("exits") + 1
    assert "fresh worker too" not in faulty_row(faulty_run, "segfault").message
    # one that dies after other rows and again in a fresh worker is an error row saying both
    twice = faulty_row(faulty_run, "segfault_after_ok")
    assert twice.verdict == "error", twice
    assert twice.message.startswith(
        "the worker process died of SIGSEGV (a crash in native code) while measuring this row in "
        "a fresh worker too; the next row runs in a fresh worker (measured again in a fresh "
        "worker: the first worker died of SIGSEGV"
    ), twice.message


def test_a_row_measured_again_goes_to_a_fresh_worker_with_several_jobs():
    """Two workers: the retried row must not land in the other, older worker."""
    from trainspec.conformance.runner import MatrixRun

    with MatrixRun(
        [reference.get("opt.gd")],
        {"retried": ref("retried")},
        dtypes=["float32", "float64"],
        profile="quick",
        timeout=TIMEOUT,
        jobs=2,
    ) as run:
        run.start()
        rows = run.run()
    got = {(r.implementation, r.dtype): r for r in rows}
    for dtype in ("float32", "float64"):
        assert got[("ok_before", dtype)].verdict == "conforms"
        row = got[("segfault_after_other_rows", dtype)]
        assert row.verdict == "conforms", row
        assert "measured again in a fresh worker" in row.message


def _hoarding_run(worker_memory: int | None) -> tuple[list, dict]:
    from trainspec.conformance.runner import MatrixRun

    with MatrixRun(
        [reference.get("opt.gd")],
        {"hoarding": ref("hoarding")},
        dtypes=["float32"],
        profile="quick",
        timeout=60.0,
        worker_memory=worker_memory,
    ) as run:
        run.start()
        rows = run.run()
        return rows, run.backend_info()["hoarding"]


def test_a_worker_past_its_memory_limit_is_replaced_and_the_rows_are_unchanged(faulty_run):
    """Each hoarding row keeps HOARD_MIB in its process: under the default limit one worker
    keeps them all; with a limit just above a fresh worker's size, each row gets a fresh worker
    and the backend's memory stays at one row's worth."""
    from fault_adapters import HOARD_MIB

    from trainspec.conformance.worker import DEFAULT_WORKER_MEMORY

    fresh_mib = faulty_run[1]["honest"]["peak_worker_mib"]  # a worker that holds nothing
    assert 0 < fresh_mib < DEFAULT_WORKER_MEMORY / 2**20 - 4 * HOARD_MIB
    kept_rows, kept = _hoarding_run(None)
    assert kept["workers_replaced_for_memory"] == 0
    assert kept["peak_worker_mib"] >= fresh_mib + 4 * HOARD_MIB - 50, kept
    limit_mib = fresh_mib + HOARD_MIB // 2
    rows, info = _hoarding_run(limit_mib * 2**20)
    assert info["workers_replaced_for_memory"] == 4, info  # after every row
    assert info["peak_worker_mib"] <= fresh_mib + HOARD_MIB + 50, info
    assert [r.to_json() | {"seconds": 0} for r in rows] == [
        r.to_json() | {"seconds": 0} for r in kept_rows
    ]
    assert {r.verdict for r in rows} == {"conforms"}


def test_a_worker_memory_limit_must_be_positive():
    from trainspec.conformance.runner import MatrixRun

    with pytest.raises(ValueError, match="worker_memory=0: must be a positive number of bytes"):
        MatrixRun([reference.get("opt.gd")], {"honest": ref("honest")}, worker_memory=0)


def test_a_nan_result_diverges_with_its_counterexample(faulty_run):
    row = faulty_row(faulty_run, "nan")
    assert row.verdict == "diverges" and row.ratio == float("inf") and row.counterexample


def test_the_rows_around_the_faults_are_intact(faulty_run):
    rows, info, _ = faulty_run
    assert [n for (b, s, n) in rows if b == "faulty" and s == "opt.gd"] == list(FAULTS)
    assert faulty_row(faulty_run, "ok_before").verdict == "conforms"
    assert faulty_row(faulty_run, "ok_after").verdict == "conforms"
    assert rows[("honest", "opt.momentum", "heavy_ball")].verdict == "variant"
    assert info["faulty"]["status"] == info["honest"]["status"] == "ok"


def test_a_hanging_row_costs_about_the_time_limit(faulty_run):
    row = faulty_row(faulty_run, "hangs")
    assert TIMEOUT <= row.seconds < TIMEOUT + 2
    _, _, seconds = faulty_run
    assert seconds < 120  # every fault, respawns included: nothing waited for the hang


@pytest.mark.parametrize(
    ("backend", "status"),
    [
        ("versions_raise", "error: versions() failed: RuntimeError: versions() blew up"),
        (
            "implementations_raise",
            "error: implementations() failed: RuntimeError: implementations() blew up",
        ),
        ("constructor_raises", "error: the adapter failed to load: RuntimeError: the adapter"),
        (
            "misspelt_spec",
            "error: adapter rejected: implementation 'heavy_ball' of opt.momentun: spec ID "
            "'opt.momentun' is not in the registry; did you mean 'opt.momentum'?",
        ),
        (
            "unknown_option",
            "error: adapter rejected: implementation 'heavy_ball' of opt.gd: options ['fixd']: "
            "the optimizers kind reads no options",
        ),
        ("declared_twice", "error: adapter rejected: implementation 'same' of opt.gd is declared"),
    ],
)
def test_a_backend_that_cannot_say_what_it_offers_gets_an_error_row_and_status(
    faulty_run, backend, status
):
    rows, info, _ = faulty_run
    assert info[backend]["status"].startswith(status), info[backend]["status"]
    mine = [r for (b, _, _), r in rows.items() if b == backend]
    assert len(mine) == 1 and mine[0].verdict == "error" and mine[0].spec_id == "*"
    assert mine[0].message == info[backend]["status"]


def test_prepare_device_failing_makes_every_row_of_the_device_an_error(faulty_run):
    rows, info, _ = faulty_run
    mine = {k: r for k, r in rows.items() if k[0] == "prepare_raises"}
    assert len(mine) == 2
    for r in mine.values():
        assert r.verdict == "error" and "prepare_device('cpu') failed: RuntimeError" in r.message
    assert info["prepare_raises"]["status"].startswith("error: prepare_device('cpu') failed")


def test_a_framework_that_is_not_installed_has_a_status_and_no_rows(faulty_run):
    rows, info, _ = faulty_run
    assert info["not_installed"]["status"].startswith("not installed: No module named")
    assert not [k for k in rows if k[0] == "not_installed"]


def test_an_interrupt_while_hypothesis_shrinks_is_not_swallowed():
    calls = []

    def diverges_then_interrupted(case, dtype, device):
        calls.append(1)
        if len(calls) == 3:  # the first example diverges; the shrink phase makes the next calls
            raise KeyboardInterrupt
        return {k: v + 1.0 for k, v in case.params.items()}

    from numpy_impls import impl

    with pytest.raises(KeyboardInterrupt):
        check_row(
            reference.get("opt.gd"),
            impl("opt.gd", "np", diverges_then_interrupted),
            "numpy",
            "float32",
            "cpu",
            profile="quick",
        )
    assert len(calls) == 3


def test_two_packages_with_one_backend_name_are_refused_naming_both(tmp_path, monkeypatch):
    for pkg in ("alpha", "beta"):
        dist = tmp_path / f"{pkg}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(
            f"[trainspec.adapters]\nclash = {pkg}_adapter:make\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    refs, clashes = registered_backends()
    assert "clash" not in refs
    assert "alpha (alpha_adapter:make)" in clashes["clash"]
    assert "beta (beta_adapter:make)" in clashes["clash"]


def _rows(folder: Path) -> list[dict]:
    rows = json.loads((folder / "report.json").read_text())["results"]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


RUN = ["run", "--backend", "slow", "--profile", "quick", "--dtype", "float32", "--spec", "opt"]
#: a short run (two honest rows) for the tests of the report folder
SHORT = [
    "run",
    "--backend",
    "honest",
    "--profile",
    "quick",
    "--dtype",
    "float32",
    "--spec",
    "opt.gd",
]


def test_ctrl_c_leaves_a_partial_report_that_resume_completes(tmp_path):
    whole = trainspec_cli(tmp_path, *RUN, "--report", "whole")
    assert whole.returncode == 0, whole.stderr
    env = cli_env(tmp_path)
    env[GATE] = str(tmp_path / "gate")  # the opt.momentum rows wait: the run is surely still on
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainspec", *RUN, "--report", "cut"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # Ctrl-C as in a terminal: a parent that ignores SIGINT (tox -p runs its environments
        # so) would pass the ignored disposition on, and Python then installs no handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    journal = tmp_path / "cut" / "rows.jsonl"
    deadline = time.monotonic() + 120
    # interrupt once the opt.gd rows are measured; the opt.momentum rows wait for the gate
    # (interrupting a run that goes on raced its end on a loaded machine)
    while time.monotonic() < deadline:
        text = journal.read_text() if journal.exists() else ""
        # measured rows only: the not-offered rows of the other opt.* IDs are journaled first
        if text.count('"verdict": "conforms"') + text.count('"verdict": "variant"') >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    (tmp_path / "gate").touch()  # the row in progress may end now; the run stops after it
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume --report cut" in err
    partial = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert partial["status"] == "interrupted"
    n_partial = len(partial["results"])
    assert 0 < n_partial < len(_rows(tmp_path / "whole"))
    resumed = trainspec_cli(tmp_path, "run", "--resume", "--report", "cut")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming ({n_partial} rows done)" in resumed.stdout
    # the finished rows were not measured again: the resumed run prints only the others
    printed = [ln for ln in resumed.stdout.splitlines() if ln.startswith("  slow ")]
    assert len(printed) == len(_rows(tmp_path / "whole")) - n_partial
    final = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert final["status"] == "complete"
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")


def test_resume_refuses_other_settings_and_a_folder_without_a_journal(tmp_path):
    out = trainspec_cli(tmp_path, "run", "--resume", "--report", "nothing")
    assert out.returncode == 2 and "there is no run to finish" in out.stderr
    assert trainspec_cli(tmp_path, *SHORT, "--report", "r").returncode == 0
    out = trainspec_cli(tmp_path, "run", "--resume", "--report", "r", "--profile", "ci")
    assert out.returncode == 2 and "was started with profile='quick'" in out.stderr


def test_a_hanging_implementation_ends_in_about_the_time_limit_through_the_cli(tmp_path):
    t0 = time.perf_counter()
    out = trainspec_cli(
        tmp_path,
        "run",
        "--backend",
        "faulty",
        "--impl",
        "hangs",
        "--spec",
        "opt.gd",
        "--dtype",
        "float32",
        "--timeout",
        "5",
        "--report",
        "r",
        "--strict",
    )
    elapsed = time.perf_counter() - t0
    assert out.returncode == 1, out.stderr  # --strict: an error row
    (row,) = json.loads((tmp_path / "r" / "report.json").read_text())["results"]
    assert row["verdict"] == "error" and "time limit" in row["message"]
    assert json.loads((tmp_path / "r" / "report.json").read_text())["run"]["timeout_s"] == 5
    # the error row's replay measures the same row again (dtype and device in their places)
    words = shlex.split(row["repro"], comments=True)
    assert words[words.index("--dtype") + 1] == "float32"
    assert words[words.index("--device") + 1] == "cpu"
    assert elapsed < 5 + 30  # the limit, plus starting Python twice


def test_a_run_writes_nothing_outside_its_report_folder(tmp_path):
    out = trainspec_cli(tmp_path, *SHORT, "--report", "r")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faults-1.0.dist-info", "r"]
    assert {p.name for p in (tmp_path / "r").iterdir()} <= {
        "report.json",
        "report.md",
        "rows.jsonl",
        ".hypothesis",
    }


def test_a_report_is_never_overwritten_unless_forced(tmp_path):
    assert trainspec_cli(tmp_path, *SHORT, "--report", "r").returncode == 0
    before = (tmp_path / "r" / "report.json").read_text()
    out = trainspec_cli(tmp_path, *SHORT, "--report", "r")
    assert (
        out.returncode == 2 and "already holds a report" in out.stderr and "--force" in out.stderr
    )
    assert (tmp_path / "r" / "report.json").read_text() == before
    assert trainspec_cli(tmp_path, *SHORT, "--report", "r", "--force").returncode == 0


def test_an_unwritable_report_folder_is_refused_before_any_row(tmp_path):
    (tmp_path / "file").write_text("x")
    out = trainspec_cli(tmp_path, *SHORT, "--report", "file")
    assert out.returncode == 2 and "is not a folder" in out.stderr
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out = trainspec_cli(tmp_path, *SHORT, "--report", "ro/r")
        assert out.returncode == 2 and "cannot write there" in out.stderr


def test_strict_fails_on_errors_but_not_on_known_findings(tmp_path):
    (tmp_path / "finding_adapter.py").write_text(
        textwrap.dedent(
            """
            from numpy_impls import NumpyAdapter, solberg_printed
            from trainspec.conformance.adapter import Implementation

            def make():
                return NumpyAdapter([Implementation(
                    "opt.nesterov", "printed", solberg_printed, devices=("cpu",),
                    findings={"*": "prints (1 - mu)"},
                )])
            """
        )
    )
    dist = tmp_path / "finding-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: finding\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[trainspec.adapters]\nfinding = finding_adapter:make\n")
    args = ["--spec", "opt.nesterov", "--profile", "quick", "--dtype", "float32", "--strict"]
    out = trainspec_cli(tmp_path, "run", "--backend", "finding", *args, "--report", "a")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 row(s) diverge (1 known finding(s))" in out.stdout
    out = trainspec_cli(
        tmp_path,
        "run",
        "--backend",
        "faulty",
        "--impl",
        "raises",
        "--spec",
        "opt.gd",
        *args[2:],
        "--report",
        "b",
    )
    assert out.returncode == 1 and "--strict: 1 failure(s)" in out.stderr
