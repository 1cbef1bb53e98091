"""The meta-test: honest NumPy implementations, one or more IDs of every kind, in every dtype.

An implementation that computes a formula correctly in the dtype under test must never be
reported as diverging: not by the tolerance policy (its rounding is the dtype's), and not by a
drawn example whose exact result the dtype cannot hold (an overflow or underflow the kit drew is
the kit's fault, not the framework's). Every row here runs through ``check_row`` at the ``quick``
profile and must come out ``conforms`` or ``variant``.

The implementations are the kit's own honest NumPy implementations (the kinds' tests and
``numpy_impls``), computed in the dtype: float16, float32 and float64 natively in NumPy (every
operation rounded to the dtype); bfloat16, which NumPy lacks, in float32 on the bfloat16 inputs,
each result rounded to bfloat16 (as the frameworks' CPU bfloat16 kernels compute).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy_impls
import pytest

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.runner import check_row
from trainspec.conformance.tracked import round_to

DTYPES = ("float16", "bfloat16", "float32", "float64")
#: the NumPy type each honest implementation computes in
HONEST_TYPES = {
    "float16": np.float16,
    "bfloat16": np.float32,
    "float32": np.float32,
    "float64": np.float64,
}
_HERE = Path(__file__).parent


def _module(relative: str) -> Any:
    """A kind's test module (its honest implementations), computing in every dtype."""
    name = "honest_" + relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / relative)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        mod.NP = HONEST_TYPES  # the implementations look the dtype's type up at call time
    return sys.modules[name]


def _rounded(out: Any, dtype: str) -> Any:
    """Every floating-point result rounded to the dtype (a no-op but for bfloat16)."""
    if isinstance(out, Mapping):
        return {k: _rounded(v, dtype) for k, v in out.items()}
    if isinstance(out, np.ndarray) and out.dtype.kind == "f":
        return round_to(out, dtype)
    return out


def _early_stopping(case: Any, dtype: str, device: str) -> dict[str, int]:
    """Keras's early-stopping rule (wait >= patience), comparisons in the dtype."""
    t = HONEST_TYPES[dtype]

    def cast(v: float) -> float:
        return float(round_to(np.asarray(t(v), dtype=np.float64), dtype))

    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(case.losses):
        current = cast(loss)
        wait += 1
        if best is None or cast(current + cast(case.min_delta)) < best:
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= case.patience:
            return {"stop_epoch": epoch, "restored_epoch": best_epoch}
    return {"stop_epoch": -1, "restored_epoch": best_epoch}


def _implementations() -> list[tuple[str, str, Callable[..., Any]]]:
    """(kind, spec ID, run) for at least one ID of every kind."""
    act = _module("kinds/test_activations.py")
    clip = _module("kinds/test_clipping.py")
    drop = _module("kinds/test_dropout.py")
    init = _module("kinds/test_init.py")
    loss = _module("kinds/test_losses.py")
    norm = _module("kinds/test_norm.py")
    reg = _module("kinds/test_regularizers.py")
    sched = _module("kinds/test_schedules.py")
    second = _module("kinds/test_second_order.py")
    backprop = _module("kinds/training/test_backprop.py")
    numpy_impls.NP = HONEST_TYPES
    return [
        ("optimizers", "opt.gd", numpy_impls.heavy_ball),
        ("optimizers", "opt.momentum", numpy_impls.heavy_ball),
        ("schedules", "sched.exponential", sched.np_exponential),
        ("norm", "norm.batch.train", norm.numpy_layer),
        ("norm", "norm.batch.grad", norm.numpy_layer),
        ("dropout", "drop.inverted", drop.np_dropout),
        ("dropout", "drop.mc", drop.np_mc),
        ("init", "init.he_normal", init.np_initializer(2.0, "fan_in", "normal")),
        ("init", "init.glorot_uniform", init.np_initializer(1.0, "fan_avg", "uniform")),
        ("activations", "act.leaky_relu", act.elementwise(act.leaky_value, act.leaky_derivative)),
        ("activations", "act.sigmoid", act.elementwise(act.sigmoid_stable, act.sigmoid_derivative)),
        ("clipping", "clip.global_norm", clip._np_global),
        ("clipping", "clip.value", clip._np_value),
        ("regularizers", "reg.l2", reg._l2),
        ("losses", "loss.mse", loss._mse),
        ("losses", "loss.softmax_ce", loss._softmax_ce),
        ("second_order", "opt.second_order", second._numpy_second_order),
        ("training.early_stopping", "train.early_stopping", _early_stopping),
        ("training.backprop", "train.backprop", backprop._numpy_backprop),
    ]


IMPLEMENTATIONS = _implementations()


def _row(spec_id: str, run: Callable[..., Any], dtype: str) -> Any:
    entry = reference.get(spec_id)
    options = {"layout": "channels_last"} if entry.kind == "init" else {}
    impl = Implementation(
        spec_id,
        "honest numpy",
        lambda c, d, dev: _rounded(run(c, d, dev), d),
        DTYPES,
        ("cpu",),
        "",
        options,
    )
    return check_row(entry, impl, "numpy", dtype, "cpu", profile="quick")


_ROWS = [(s, r, d) for _, s, r in IMPLEMENTATIONS for d in DTYPES]


def test_every_kind_has_an_honest_implementation():
    kinds = {reference.get(spec_id).kind for _, spec_id, _ in IMPLEMENTATIONS}
    assert kinds >= {
        "optimizers",
        "schedules",
        "norm",
        "dropout",
        "init",
        "activations",
        "clipping",
        "regularizers",
        "losses",
        "second_order",
        "training.early_stopping",
        "training.backprop",
    }
    assert all(reference.get(s).kind == k for k, s, _ in IMPLEMENTATIONS)


@pytest.mark.parametrize("spec_id, run, dtype", _ROWS, ids=[f"{s}-{d}" for s, _, d in _ROWS])
def test_an_honest_implementation_never_diverges(spec_id, run, dtype):
    row = _row(spec_id, run, dtype)
    assert row.verdict in ("conforms", "variant"), row.to_json()
    assert row.examples > 0


def test_the_meta_test_covers_every_kind_in_every_dtype():
    from trainspec.conformance.kinds import REFERENCE_ONLY, get_kind

    covered = {(reference.get(s).kind, d) for s, _, d in _ROWS}
    kinds = {reference.get(s).kind for _, s, _ in IMPLEMENTATIONS}
    # every kind of the registry that draws examples (defaults measures a whole row, without a
    # dtype); from the registry, not from the kinds loaded so far (they load on first use, and
    # other tests register kinds of their own)
    every = {e.kind for e in reference.all_entries() if e.kind != REFERENCE_ONLY}
    drawing = {k for k in every if get_kind(k).draw is not None}
    assert len(drawing) >= 10 and kinds >= drawing, drawing - kinds
    assert {(k, d) for k in kinds for d in DTYPES} == covered
