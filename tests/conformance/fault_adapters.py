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
import time

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
    "ok_before": heavy_ball,
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
}


def faulty() -> NumpyAdapter:
    """One backend with every faulty implementation of opt.gd, between two honest ones."""
    a = NumpyAdapter([impl("opt.gd", name, fn) for name, fn in FAULTS.items()])
    a.name = "faulty"
    return a


def honest() -> NumpyAdapter:
    return NumpyAdapter(
        [impl("opt.gd", "heavy_ball", heavy_ball), impl("opt.momentum", "heavy_ball", heavy_ball)]
    )


def slow_honest() -> NumpyAdapter:
    """Honest rows that take a while each (for interrupting a run between rows)."""

    def slow(case, dtype, device):
        time.sleep(0.05)
        return heavy_ball(case, dtype, device)

    return NumpyAdapter(
        [impl(s, n, slow) for s in ("opt.gd", "opt.momentum") for n in ("a", "b", "c")]
    )


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
