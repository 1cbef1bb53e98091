"""The pytest plugin, run in a pytest of its own (a subprocess, as a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _pytest(
    folder: Path, *args: str, storage: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    if storage is not None:
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = storage
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_a_session_that_checks_rows_keeps_hypothesis_files_out_of_the_working_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_rows.py").write_text(
        textwrap.dedent(
            """
            from hypothesis import given, settings, strategies as st
            from hypothesis.configuration import storage_directory

            def test_rows(conformance_row):
                pass

            @settings(database=None, max_examples=5)
            @given(st.integers(min_value=123457, max_value=123999))
            def test_hypothesis_runs(x):
                assert x > 0

            def test_where():
                print("HOME", storage_directory("x", intent_to_write=False).path)
            """
        )
    )
    done = _pytest(tmp_path, "-s", "-k", "hypothesis_runs or where")
    assert done.returncode == 0, done.stdout + done.stderr
    home = next(line for line in done.stdout.splitlines() if "HOME " in line)
    assert "trainspec-hypothesis" in home, home
    assert not (tmp_path / ".hypothesis").exists()
    # a storage directory set in the environment (trainspec's tox sets one per env) wins
    done = _pytest(tmp_path, "-s", "-k", "where", storage=str(tmp_path / "env-storage"))
    assert done.returncode == 0, done.stdout + done.stderr
    home = next(line for line in done.stdout.splitlines() if "HOME " in line)
    assert str(tmp_path / "env-storage") in home, home


def test_pins_of_another_profile_compare_the_decisions_only(tmp_path: Path) -> None:
    import json

    pins = tmp_path / "pins.json"
    pins.write_text(
        json.dumps({"trainspec_expectations": 1, "profile": "ci", "seed": 0, "rows": []})
    )
    (tmp_path / "test_fields.py").write_text(
        textwrap.dedent(
            """
            def test_fields(trainspec_expected_fields):
                print("FIELDS", ",".join(trainspec_expected_fields))
            """
        )
    )
    seen = {}
    for profile in ("ci", "quick"):
        done = _pytest(
            tmp_path, "-s", "--trainspec-expect", str(pins), "--trainspec-profile", profile
        )
        assert done.returncode == 0, done.stdout + done.stderr
        seen[profile] = next(ln for ln in done.stdout.splitlines() if "FIELDS " in ln)
    assert seen["ci"].endswith("FIELDS verdict,variant,consistent_variants,finding,values")
    assert seen["quick"].endswith("FIELDS verdict,variant,finding,values")


def test_isolated_rows_survive_a_segfault_that_ends_an_in_process_session(tmp_path: Path) -> None:
    from fault_adapters import cli_env

    (tmp_path / "test_suite.py").write_text(
        "from trainspec.conformance.suite.test_conformance import test_row  # noqa: F401\n"
    )
    env = cli_env(tmp_path)
    args = ["--trainspec-backend", "faulty", "--trainspec-spec", "opt.gd"]
    args += ["--trainspec-profile", "quick", "-p", "no:cacheprovider", "-rA"]

    def run(*more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *args, *more],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )

    isolated = run(
        "--trainspec-isolate", "--trainspec-timeout", "60", "-k", "ok_before or segfault"
    )
    out = isolated.stdout + isolated.stderr
    assert isolated.returncode == 1, out  # tests failed; the session itself finished
    assert "died of SIGSEGV" in out
    passed = [ln for ln in out.splitlines() if ln.startswith("PASSED")]
    failed = [ln for ln in out.splitlines() if ln.startswith("FAILED")]
    # the plain segfault and the one that dies again in a fresh worker fail, each its own test;
    # the honest rows and the one measured again in a fresh worker pass
    assert failed and all("-segfault-" in ln or "segfault_after_ok" in ln for ln in failed), out
    assert any("ok_before" in ln for ln in passed) and any(
        "segfault_after_other_rows" in ln for ln in passed
    ), out
    # in the pytest process the same segfault ends the session
    in_process = run("-k", "segfault and not after")
    assert in_process.returncode not in (0, 1), in_process.stdout + in_process.stderr
