r"""Keras's optimizers inside a compiled train step (TensorFlow backend): the backend
``tensorflow-compiled``.

``model.fit`` does not run the optimizer eagerly: Keras's TensorFlow trainer
(``keras/src/backend/tensorflow/trainer.py``, ``_make_function``) wraps the step that calls
``optimizer.apply_gradients`` in ``tf.function(one_step_on_data, reduce_retracing=True,
jit_compile=self.jit_compile)``, where ``jit_compile`` is ``model.compile``'s argument (``"auto"``
resolves to ``False`` on a machine with only CPUs, to ``True`` with a GPU). So the same
``keras.optimizers.Adam`` runs as a TensorFlow graph (Grappler's rewrites, no XLA) or, with
``jit_compile=True``, as one XLA computation (fused, XLA's own evaluation order). Keras 3's
optimizers have no ``jit_compile`` of their own: it is the train step's.

Each optimizer row of the TensorFlow adapter (SGD and every adaptive optimizer, each flag that
changes the formula its own row) is here twice, named ``<row> in tf.function(jit_compile=False)``
and ``... (jit_compile=True)``: the case's steps run through
:func:`~trainspec.adapters.keras_adapter.run_keras_optimizer` with the step (``apply_gradients``)
wrapped as Keras's trainer wraps it (:func:`compile_step_with`). The gradients are the wrapped
function's arguments and the learning rate the optimizer's variable, as in ``model.fit``; the
hyperparameters are Python floats, constants of the traced graph as in ``model.fit``.

Findings:

* under XLA, ``RMSprop(centered=True)`` returns NaN where the centred variance is 0 (float32,
  float64; :data:`XLA_RMSPROP_CENTERED_NAN`);
* without XLA (``jit_compile=False``, the CPU default of ``model.fit``), Grappler's constant
  folding rewrites the centred denominator ``velocity - square(average_grad) + epsilon`` into
  ``(velocity + epsilon) - square(average_grad)`` (its constant push-down, which moves a constant
  operand of ``+``/``-`` down the expression tree: ``ConstantFolding::ConstantPushDown`` of
  TensorFlow's ``core/grappler/optimizers/constant_folding.cc``). Where the centred variance is 0
  and ``epsilon`` is below half a unit of ``velocity``, ``epsilon`` is absorbed and the step is
  ``lr * g / 0 = inf`` (float32, float64; :data:`GRAPH_RMSPROP_CENTERED_EPS_ABSORBED`). The rewrite
  happens when the traced step returns a value, as ``model.fit``'s train step does (its logs) and
  as this adapter's step does (``apply_gradients`` returns ``iterations``); a traced step that
  returns nothing is left as written in TensorFlow 2.21, so a reproduction must return the value.

Every case builds a new optimizer, so a new trace and, with XLA, a new executable: in a full run
the worker that had compiled XLA for 59 rows logged "LLVM compilation error: Cannot allocate
memory" and died of SIGSEGV on ``Nadam in tf.function(jit_compile=True)`` (bfloat16). The runner
measures such a row again in a fresh worker (:mod:`trainspec.conformance.worker`); there it reads
``variant``, and the report notes the first worker's death.

A new optimizer per case is a new trace (and, with XLA, a new compilation: about a second per
case on a CPU), so these rows are their own backend, outside the ``tensorflow`` backend's suite
(``tox -e tensorflow-compiled``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import (
    OPTIMIZER_DTYPES,
    KerasAdapter,
    run_keras_optimizer,
)
from trainspec.adapters.keras_adapter.optimizers import ADAPTIVE, FINDINGS, SGD_ROWS, run_adaptive
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_absorbing_example,
    centred_variance_near_zero,
)

__all__ = [
    "JIT_COMPILE",
    "KerasCompiledAdapter",
    "compile_step_with",
    "compiled_implementations",
]

#: the values of ``model.compile(jit_compile=...)`` that give a compiled train step
JIT_COMPILE = (False, True)

Step = Callable[[list[Any]], Any]


def compile_step_with(jit_compile: bool) -> Callable[[Step], Step]:
    """The wrapper Keras's TensorFlow trainer puts around a train step for ``jit_compile``:
    ``tf.function(step, reduce_retracing=True, jit_compile=jit_compile)``, autograph off
    (``tf.autograph.experimental.do_not_convert``, as Keras's ``one_step_on_data``)."""
    if not isinstance(jit_compile, bool):
        raise TypeError(f"jit_compile must be a bool, got {jit_compile!r}")

    def wrap(step: Step) -> Step:
        return tf.function(
            tf.autograph.experimental.do_not_convert(step),
            reduce_retracing=True,
            jit_compile=jit_compile,
        )

    return wrap


def row_name(name: str, jit_compile: bool) -> str:
    """The report's name of ``name``'s row compiled with ``jit_compile``."""
    return f"{name} in tf.function(jit_compile={jit_compile})"


def _sgd_run(make: Any, jit_compile: bool) -> Callable[[OptimizerCase, str, str], Any]:
    def run(case: OptimizerCase, dtype: str, device: str) -> dict[str, np.ndarray]:
        return run_keras_optimizer(
            make, case, dtype, device, compile_step=compile_step_with(jit_compile)
        )

    return run


def _adaptive_run(
    spec_id: str, make: Any, jit_compile: bool
) -> Callable[[OptimizerCase, str, str], Any]:
    def run(case: OptimizerCase, dtype: str, device: str) -> dict[str, np.ndarray]:
        return run_adaptive(
            spec_id, make, case, dtype, device, compile_step=compile_step_with(jit_compile)
        )

    return run


XLA_RMSPROP_CENTERED_NAN = (
    "keras.optimizers.RMSprop(centered=True) in the train step of model.compile(jit_compile=True) "
    "(tf.function(..., jit_compile=True)) returns NaN where the centred variance velocity - "
    "average_grad**2 is exactly 0: XLA's compiled difference is a negative rounding remainder "
    "(eagerly the step is finite; without XLA see keras-graph-rmsprop-centered-eps-absorbed). Minimal counterexample: rho = 0, "
    "eps = 1e-8, float64, two steps g = 0.1257302210933933 and 12573.02210933933: NaN, the "
    "formula's parameter -125731.359. docs/findings/keras_xla_rmsprop_centered_nan.py"
)


GRAPH_RMSPROP_CENTERED_EPS_ABSORBED = (
    "keras.optimizers.RMSprop(centered=True) in the train step of model.compile(jit_compile=False) "
    "(tf.function without XLA, model.fit's default on CPU) steps by inf where the centred variance "
    "is 0: Grappler's constant folding (ConstantPushDown) rewrites velocity - square(average_grad) "
    "+ epsilon into (velocity + epsilon) - square(average_grad), so epsilon is absorbed once it is "
    "below half a unit of velocity, and the denominator is 0. Eagerly the step is the formula's. "
    "Minimal counterexample: rho = 0, eps = 1e-8, two steps g = 0.1257302210933933 and "
    "12573.02210933933 (float32 or float64): inf, the formula's parameter -125731.359; "
    "model.fit gives the same inf. docs/findings/keras_graph_rmsprop_centered_eps_absorbed.py"
)


def _centred_finding(jit_compile: bool, dtype: str) -> Finding:
    """The centred-RMSprop finding of the rows of ``dtype`` compiled with ``jit_compile``:
    ``keras-xla-rmsprop-centered-nan`` under XLA, ``keras-graph-rmsprop-centered-eps-absorbed``
    without; both in the centred-variance region, with the same minimal counterexample."""

    def region(case: OptimizerCase) -> bool:
        return centred_variance_near_zero(case, dtype)

    finding_id, text = (
        ("keras-xla-rmsprop-centered-nan", XLA_RMSPROP_CENTERED_NAN)
        if jit_compile
        else ("keras-graph-rmsprop-centered-eps-absorbed", GRAPH_RMSPROP_CENTERED_EPS_ABSORBED)
    )
    return Finding(
        finding_id,
        text,
        region=region,
        region_text=CENTRED_REGION_TEXT,
        examples=(centred_absorbing_example(),),
    )


def _findings(name: str, jit_compile: bool) -> dict[str, str | Finding]:
    """The findings of ``name``'s row compiled with ``jit_compile`` (by dtype)."""
    out: dict[str, str | Finding] = dict(FINDINGS.get(name, {}))
    if name == "RMSprop(centered=True)":
        for dtype in ("float32", "float64"):
            out[dtype] = _centred_finding(jit_compile, dtype)
    return out


def compiled_implementations() -> list[Implementation]:
    """Every optimizer row of the TensorFlow adapter, once per value of :data:`JIT_COMPILE`."""
    out: list[Implementation] = []
    for jit in JIT_COMPILE:
        for spec_id, name, make in SGD_ROWS:
            out.append(
                Implementation(spec_id, row_name(name, jit), _sgd_run(make, jit), OPTIMIZER_DTYPES)
            )
        for spec_id, name, make in ADAPTIVE:
            out.append(
                Implementation(
                    spec_id,
                    row_name(f"keras.optimizers.{name}", jit),
                    _adaptive_run(spec_id, make, jit),
                    OPTIMIZER_DTYPES,
                    findings=_findings(name, jit),
                )
            )
    return out


class KerasCompiledAdapter(KerasAdapter):
    """``keras.optimizers`` in a compiled train step, on the TensorFlow backend."""

    name = "tensorflow-compiled"

    def implementations(self) -> list[Implementation]:
        return compiled_implementations()
