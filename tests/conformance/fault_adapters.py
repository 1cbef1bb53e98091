"""Adapters that fail in every way the runner must survive (the fault-injection suite's backends).

Each is built from the honest NumPy implementations of ``numpy_impls`` and adds real faults: an
implementation that really sleeps past the time limit, one that really calls ``os._exit``, one
that really dereferences a null pointer, one that really sends itself SIGKILL (what the kernel's
out-of-memory killer does), ones that return NaN, ``None``, wrong shapes or wrong keys, and
adapters whose ``versions``, ``implementations``, ``prepare_device`` or constructor raise. The
runner loads them in its worker processes by ``module:attribute``, as it loads an entry point.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy_impls import NumpyAdapter, heavy_ball, impl, raising

from trainspec.conformance.adapter import Implementation


def _hang(case, dtype, device):
    time.sleep(3600)


def _exit(case, dtype, device):
    os._exit(3)


def _segfault(case, dtype, device):
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def _killed(case, dtype, device):
    os.kill(os.getpid(), signal.SIGKILL)


#: the implementations this process has run (a worker's history)
_RAN: set[str] = set()


def _ran(name, fn):
    def run(case, dtype, device):
        _RAN.add(name)
        return fn(case, dtype, device)

    return run


def _segfault_after_other_rows(case, dtype, device):
    """Dies in a process that ran another implementation before (a framework whose native state
    an earlier row broke); in a fresh process it is honest."""
    if _RAN - {"segfault_after_other_rows"}:
        ctypes.string_at(0)
    return _ran("segfault_after_other_rows", heavy_ball)(case, dtype, device)


def _nan(case, dtype, device):
    return {k: np.full_like(v, np.nan) for k, v in case.params.items()}


def _none(case, dtype, device):
    return None


def _wrong_shape(case, dtype, device):
    return {k: np.zeros((*np.shape(v), 2)) for k, v in case.params.items()}


def _wrong_keys(case, dtype, device):
    return {f"{k}_renamed": v for k, v in case.params.items()}


def _interrupted(case, dtype, device):
    raise KeyboardInterrupt


#: implementation name -> what it does; every one is a row of opt.gd
FAULTS = {
    "ok_before": _ran("ok_before", heavy_ball),
    "segfault_after_other_rows": _segfault_after_other_rows,
    "raises": raising,
    "nan": _nan,
    "none": _none,
    "wrong_shape": _wrong_shape,
    "wrong_keys": _wrong_keys,
    "hangs": _hang,
    "exits": _exit,
    "segfault": _segfault,
    "killed": _killed,
    "interrupted": _interrupted,
    "ok_after": heavy_ball,
    "segfault_after_ok": _segfault,
}


def faulty() -> NumpyAdapter:
    """One backend with every faulty implementation of opt.gd, between two honest ones."""
    a = NumpyAdapter([impl("opt.gd", name, fn) for name, fn in FAULTS.items()])
    a.name = "faulty"
    return a


def retried() -> NumpyAdapter:
    """An honest row, then one that dies in a worker that measured another row first."""
    a = NumpyAdapter(
        [
            impl("opt.gd", "ok_before", _ran("ok_before", heavy_ball)),
            impl("opt.gd", "segfault_after_other_rows", _segfault_after_other_rows),
        ]
    )
    a.name = "retried"
    return a


def honest() -> NumpyAdapter:
    return NumpyAdapter(
        [impl("opt.gd", "heavy_ball", heavy_ball), impl("opt.momentum", "heavy_ball", heavy_ball)]
    )


#: an environment variable naming a file: while it is absent, the slow adapter's opt.momentum rows
#: wait (up to a minute), so that a run interrupted after its first rows is surely still running
GATE = "TRAINSPEC_TEST_GATE"


def slow_honest() -> NumpyAdapter:
    """Honest rows that take a while each (for interrupting a run between rows); with
    :data:`GATE` set, the opt.momentum rows wait for its file."""

    def slow(case, dtype, device):
        time.sleep(0.05)
        return heavy_ball(case, dtype, device)

    def gated(case, dtype, device):
        gate, waited = os.environ.get(GATE), 0.0
        while gate and not Path(gate).exists() and waited < 60.0:
            time.sleep(0.05)
            waited += 0.05
        return slow(case, dtype, device)

    return NumpyAdapter(
        [impl("opt.gd", n, slow) for n in ("a", "b", "c")]
        + [impl("opt.momentum", n, gated) for n in ("a", "b", "c")]
    )


#: MiB that each implementation of :func:`hoarding` keeps for the life of its process
HOARD_MIB = 200

#: what this process keeps: implementation name -> the memory it holds (a framework's caches)
_HOARD: dict[str, np.ndarray] = {}


def hoarding() -> NumpyAdapter:
    """Four honest opt.gd rows; each keeps :data:`HOARD_MIB` MiB of resident memory in its
    process from its first call on, as a framework keeps what it compiled for each shape."""

    def keeping(name):
        def run(case, dtype, device):
            if name not in _HOARD:
                _HOARD[name] = np.ones(HOARD_MIB * 2**20, dtype=np.uint8)  # written: resident
            return heavy_ball(case, dtype, device)

        return run

    a = NumpyAdapter([impl("opt.gd", n, keeping(n)) for n in ("a", "b", "c", "d")])
    a.name = "hoarding"
    return a


class _VersionsRaise(NumpyAdapter):
    def versions(self):
        raise RuntimeError("versions() blew up")


class _ImplementationsRaise(NumpyAdapter):
    def implementations(self):
        raise RuntimeError("implementations() blew up")


class _PrepareRaises(NumpyAdapter):
    def prepare_device(self, device):
        raise RuntimeError(f"cannot prepare {device}")


def versions_raise() -> NumpyAdapter:
    return _VersionsRaise([impl("opt.gd", "heavy_ball", heavy_ball)])


def implementations_raise() -> NumpyAdapter:
    return _ImplementationsRaise([])


def prepare_raises() -> NumpyAdapter:
    return _PrepareRaises(
        [impl("opt.gd", "heavy_ball", heavy_ball), impl("opt.momentum", "heavy_ball", heavy_ball)]
    )


def constructor_raises() -> NumpyAdapter:
    raise RuntimeError("the adapter cannot be built")


def not_installed() -> NumpyAdapter:
    import a_framework_that_is_not_installed  # noqa: F401

    raise AssertionError("unreachable")


def misspelt_spec() -> NumpyAdapter:
    return NumpyAdapter([impl("opt.momentun", "heavy_ball", heavy_ball)])


def unknown_option() -> NumpyAdapter:
    return NumpyAdapter(
        [Implementation("opt.gd", "heavy_ball", heavy_ball, devices=("cpu",), options={"fixd": 1})]
    )


def declared_twice() -> NumpyAdapter:
    return NumpyAdapter([impl("opt.gd", "same", heavy_ball), impl("opt.gd", "same", heavy_ball)])


def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which the fault adapters are installed backends (entry points)."""
    dist = tmp_path / "faults-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: faults\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[trainspec.adapters]\n"
        "slow = fault_adapters:slow_honest\n"
        "faulty = fault_adapters:faulty\n"
        "honest = fault_adapters:honest\n"
    )
    path = [str(tmp_path), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def trainspec_cli(tmp_path: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``python -m trainspec ARGS`` in ``tmp_path``, with the backends of :func:`cli_env`."""
    return subprocess.run(
        [sys.executable, "-m", "trainspec", *args],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        cwd=tmp_path,
        **kw,
    )
