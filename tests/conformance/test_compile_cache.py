"""The persistent compilation cache in the report folder (conformance/compile_cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainspec.conformance.compile_cache import CACHE_FOLDER, compilation_cache

VARIABLES = (
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in VARIABLES:
        monkeypatch.delenv(k, raising=False)


def test_the_cache_is_in_the_report_folder_for_the_block_only(tmp_path, clean_environment):
    with compilation_cache(tmp_path / "report") as set_here:
        assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(
            (tmp_path / "report").resolve() / CACHE_FOLDER
        )
        assert os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
        assert os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] == "0"
        assert set(set_here) == set(VARIABLES)
    assert not any(k in os.environ for k in VARIABLES)


def test_a_variable_the_user_set_wins(tmp_path, clean_environment, monkeypatch):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    with compilation_cache(tmp_path / "report") as set_here:
        assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine")
        assert "JAX_COMPILATION_CACHE_DIR" not in set_here
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine")


def test_jax_writes_even_a_small_function_into_the_cache(tmp_path, clean_environment):
    """A child process (as the run's workers) inherits the variables; JAX caches a tiny jitted
    function there, and a second process finds it (no new entry)."""
    pytest.importorskip("jax")
    program = (
        "import jax, jax.numpy as jnp\n"
        "print(float(jax.jit(lambda x: x * 3.0 + 1.0)(jnp.float32(2.0))))\n"
    )
    with compilation_cache(tmp_path):
        first = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        )
        entries = sorted(p.name for p in Path(tmp_path, CACHE_FOLDER).iterdir())
        second = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        )
    assert first.stdout.strip() == second.stdout.strip() == "7.0"
    assert any(name.startswith("jit__lambda") for name in entries), entries
    assert sorted(p.name for p in Path(tmp_path, CACHE_FOLDER).iterdir()) == entries
