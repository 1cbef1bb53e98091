r"""Keras's learning-rate schedules and its ``ReduceLROnPlateau`` callback for the ``sched.*`` entries.

``values`` calls the schedule on the case's steps (``schedule(steps)``, vectorised); the schedule
computes in the dtype of its initial learning rate, which the adapter passes as a NumPy scalar of
the dtype under test. ``through_optimizer`` gives the schedule to ``keras.optimizers.SGD`` and
applies gradient 1 to a variable reset to 0 before each step, reading the learning rate the
optimizer applied at ``iterations = 0, 1, ...``. ``ReduceLROnPlateau`` is driven as ``fit`` drives
it (``on_train_begin``, then ``on_epoch_end(epoch, {"val_loss": metric})``) on a compiled model.

Conventions mapped here (each one small function, tested in
``tests/adapters/keras_adapter/test_schedules.py``):

* :func:`inverse_time_arguments`: ``InverseTimeDecay`` is $\eta_0/(1 + k\,t/s_K)$: the spec's
  $s$ with $c = 1$ is ``decay_steps = s``, ``decay_rate = 1``; the legacy ``decay = d`` is
  ``decay_steps = 1``, ``decay_rate = d``;
* :func:`polynomial_arguments`: linear decay is ``PolynomialDecay(power=1)`` from $\eta_0$ to
  $\eta_\tau$ over $\tau$ steps;
* :func:`piecewise_arguments`: ``PiecewiseConstantDecay`` takes the values themselves; the kit's
  geometric values $\eta_0\gamma^i$ are computed in float64 by running products;
* :func:`annealing_arguments`: annealing is ``ExponentialDecay(decay_steps=1, decay_rate=1-beta)``
  over epochs;
* :func:`floatx_for`: Keras keeps a plain learning rate in a variable of ``keras.config.floatx()``
  (float32 by default): the float64 rows set ``floatx`` to float64, as a float64 user must.

``InverseTimeDecay`` has no power $c$: its ``sched.power`` row fixes ``power = 1``
(``Implementation.options["fixed"]``; the kit replaces the drawn $c$ before both runs).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.adapters.keras_adapter import _DTYPES, _check_backend
from trainspec.conformance.adapter import Finding, Implementation

__all__ = [
    "annealing_arguments",
    "floatx_for",
    "implementations",
    "inverse_time_arguments",
    "piecewise_arguments",
    "polynomial_arguments",
    "run_plateau",
    "run_schedule",
]

S = keras.optimizers.schedules
MakeSchedule = Callable[[Mapping[str, Any], Any], Any]


def inverse_time_arguments(
    decay_steps: float | None = None, *, decay: float | None = None
) -> dict[str, Any]:
    r"""``InverseTimeDecay``'s ``decay_steps``/``decay_rate`` for the spec's $s$ (with $c = 1$), or for
    the legacy ``decay`` ($\eta_0 / (1 + d t)$)."""
    if (decay_steps is None) == (decay is None):
        raise ValueError("inverse_time_arguments: give exactly one of decay_steps and decay")
    if decay is not None:
        return {"decay_steps": 1, "decay_rate": decay}
    return {"decay_steps": decay_steps, "decay_rate": 1.0}


def polynomial_arguments(eta0: Any, eta_tau: Any, tau: int) -> dict[str, Any]:
    r"""``PolynomialDecay`` arguments of the line from $\eta_0$ to $\eta_\tau$ over $\tau$ steps."""
    return {
        "initial_learning_rate": eta0,
        "decay_steps": tau,
        "end_learning_rate": eta_tau,
        "power": 1.0,
    }


def piecewise_arguments(
    learning_rate: float, gamma: float, boundaries: tuple[int, ...], np_dtype: Any
) -> dict[str, Any]:
    r"""``PiecewiseConstantDecay``'s boundaries and values $\eta_0\gamma^i$ (running products in
    float64, then the dtype under test)."""
    values = [float(learning_rate)]
    for _ in boundaries:
        values.append(values[-1] * float(gamma))
    return {"boundaries": list(boundaries), "values": [np_dtype(v) for v in values]}


def annealing_arguments(decay_rate: float, np_dtype: Any) -> dict[str, Any]:
    r"""Annealing $\eta \leftarrow (1-\beta)\eta$ per epoch: ``ExponentialDecay`` with one epoch per step.

    $1 - \beta$ is passed as a NumPy scalar of the dtype under test: Keras converts a Python
    float through float32 (``ops.cast(0.999999, "float64")`` is ``0.9999989867...``), which would
    round the factor to float32 in a float64 schedule.
    """
    return {"decay_steps": 1, "decay_rate": np_dtype(1.0 - float(decay_rate))}


@contextlib.contextmanager
def floatx_for(dtype: str) -> Iterator[None]:
    """``keras.config.floatx()`` set to ``dtype`` for the block, restored afterwards."""
    before = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(before)


def _np(dtype: str) -> Any:
    return {"float32": np.float32, "float64": np.float64}[dtype]


def _applied_step(opt: keras.optimizers.Optimizer, var: Any, dtype: str) -> float:
    var.assign(np.zeros((), dtype=dtype))
    opt.apply_gradients([(tf.ones((), dtype=dtype), var)])
    return -float(var.numpy())


def run_schedule(make: MakeSchedule, case: Any, dtype: str, device: str) -> np.ndarray:
    """A schedule case through a Keras schedule (see the module docstring)."""
    _check_backend()
    with tf.device("/CPU:0"), floatx_for(dtype):
        schedule = make(case.hyperparameters, _np(dtype))
        if case.check == "through_optimizer":
            opt = keras.optimizers.SGD(learning_rate=schedule)
            var = keras.Variable(np.zeros((), dtype=dtype), dtype=dtype)
            return np.asarray([_applied_step(opt, var, dtype) for _ in case.steps], np.float64)
        return np.asarray(schedule(np.asarray(case.steps, dtype=np.int64)), dtype=np.float64)


def run_legacy_decay_argument(case: Any, dtype: str, device: str) -> np.ndarray:
    """Vitay's ``Adam(lr=0.01, decay=1e-6)`` written for Keras 3: ``SGD(learning_rate, decay=d)``."""
    _check_backend()
    hp = case.hyperparameters
    with tf.device("/CPU:0"), floatx_for(dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Argument `decay` is no longer supported"
        opt = keras.optimizers.SGD(learning_rate=float(hp["learning_rate"]), decay=hp["decay"])
        var = keras.Variable(np.zeros((), dtype=dtype), dtype=dtype)
        out = []
        for t in range(case.steps[-1] + 1):
            applied = _applied_step(opt, var, dtype)
            if t in case.steps:
                out.append(applied)
        return np.asarray(out, dtype=np.float64)


PLATEAU_FINDING = (
    "ReduceLROnPlateau reduces only if `old_lr > np.float32(min_lr)`; "
    "under NumPy 2 that comparison is made in float32, so a float64 learning rate within one "
    "float32 ulp above min_lr is never lowered to min_lr (e.g. lr 1.00000000745e-4 stays above "
    "min_lr 9.99999974738e-5)"
)


def floor_within_a_float32_ulp(case: Any) -> bool:
    r"""Whether a learning rate $\eta_0 f^k$ the plateau schedule can reach (running products in
    float64, $k$ up to the number of metrics) lies above ``min_learning_rate`` but reads as at
    most it in float32: where ``old_lr > np.float32(min_lr)`` keeps it (:data:`PLATEAU_FINDING`)."""
    hp = case.hyperparameters
    floor = float(hp["min_learning_rate"])
    lr, f32_floor = float(hp["learning_rate"]), np.float32(floor)
    for _ in range(len(case.metrics) + 1):
        if lr > floor and np.float32(lr) <= f32_floor:
            return True
        lr *= float(hp["factor"])
    return False


#: the findings of this module (see :class:`~trainspec.conformance.adapter.Finding`)
PLATEAU_FLOAT32_FLOOR = Finding(
    "keras-plateau-float32-min-lr",
    PLATEAU_FINDING,
    region=floor_within_a_float32_ulp,
    region_text="a reachable learning rate eta0*factor^k above min_lr rounds to at most min_lr "
    "in float32",
)
#: the whole row (every decay > 0): no region
LEGACY_DECAY_IGNORED = Finding(
    "keras3-ignores-decay",
    "Keras 3 optimizers ignore decay= (they warn 'Argument `decay` is no longer supported and "
    "will be ignored') and keep the initial learning rate",
)

_MODELS: dict[str, keras.Model] = {}


def _compiled_model(dtype: str) -> keras.Model:
    """A small compiled model per dtype (built once: building costs ~60 ms); each run gives it a
    fresh optimizer, which is all ``ReduceLROnPlateau`` touches."""
    if dtype not in _MODELS:
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        _MODELS[dtype] = model
    return _MODELS[dtype]


def run_plateau(mode: str, case: Any, dtype: str, device: str, *, late: bool = False) -> np.ndarray:
    """``ReduceLROnPlateau`` on a compiled model; the learning rate after each ``on_epoch_end``.

    ``late`` (planted faults only) reads the learning rate *before* each metric is seen.
    """
    _check_backend()
    hp = case.hyperparameters
    with tf.device("/CPU:0"), floatx_for(dtype):
        model = _compiled_model(dtype)
        opt = keras.optimizers.SGD(learning_rate=float(hp["learning_rate"]))
        model.optimizer = opt
        cb = keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=hp["factor"],
            patience=hp["patience"],
            mode=mode,
            min_delta=hp["threshold"],
            cooldown=hp["cooldown"],
            min_lr=hp["min_learning_rate"],
        )
        cb.set_model(model)
        cb.on_train_begin()
        var = keras.Variable(np.zeros((), dtype=dtype), dtype=dtype)
        out = []
        for epoch, m in enumerate(case.metrics):
            before = float(np.asarray(opt.learning_rate))
            cb.on_epoch_end(epoch, {"val_loss": float(m)})
            if late:
                out.append(before)
            elif case.check == "through_optimizer":
                out.append(_applied_step(opt, var, dtype))
            else:
                out.append(float(np.asarray(opt.learning_rate)))
        return np.asarray(out, dtype=np.float64)


def _linear(hp: Mapping[str, Any], t: Any) -> Any:
    return S.PolynomialDecay(
        **polynomial_arguments(
            t(hp["learning_rate"]), t(hp["final_learning_rate"]), hp["transition_steps"]
        )
    )


def _exponential(staircase: bool) -> MakeSchedule:
    return lambda hp, t: S.ExponentialDecay(
        t(hp["learning_rate"]), hp["decay_steps"], hp["decay_rate"], staircase=staircase
    )


def _inverse_time(staircase: bool) -> MakeSchedule:
    return lambda hp, t: S.InverseTimeDecay(
        t(hp["learning_rate"]), **inverse_time_arguments(hp["decay_steps"]), staircase=staircase
    )


def _impl(spec_id: str, name: str, run: Callable[..., np.ndarray], **kw: Any) -> Implementation:
    return Implementation(spec_id, name, run, dtypes=tuple(_DTYPES), devices=("cpu",), **kw)


def _scheduled(make: MakeSchedule) -> Callable[..., np.ndarray]:
    return lambda case, dtype, device: run_schedule(make, case, dtype, device)


def implementations() -> list[Implementation]:
    power_one = {"fixed": {"power": 1.0}}
    out = [
        _impl("sched.linear", "PolynomialDecay(power=1)", _scheduled(_linear)),
        _impl("sched.exponential", "ExponentialDecay", _scheduled(_exponential(False))),
        _impl(
            "sched.exponential", "ExponentialDecay(staircase=True)", _scheduled(_exponential(True))
        ),
        _impl(
            "sched.power",
            "InverseTimeDecay",
            _scheduled(_inverse_time(False)),
            options=power_one,
            description="c = 1 only (InverseTimeDecay has no power)",
        ),
        _impl(
            "sched.power",
            "InverseTimeDecay(staircase=True)",
            _scheduled(_inverse_time(True)),
            options=power_one,
            description="c = 1 only (InverseTimeDecay has no power)",
        ),
        _impl(
            "sched.piecewise_constant",
            "PiecewiseConstantDecay",
            _scheduled(
                lambda hp, t: S.PiecewiseConstantDecay(
                    **piecewise_arguments(hp["learning_rate"], hp["gamma"], hp["boundaries"], t)
                )
            ),
        ),
        _impl(
            "sched.annealing",
            "ExponentialDecay(decay_steps=1, decay_rate=1-beta)",
            _scheduled(
                lambda hp, t: S.ExponentialDecay(
                    t(hp["learning_rate"]), **annealing_arguments(hp["decay_rate"], t)
                )
            ),
        ),
        _impl(
            "opt.legacy_decay",
            "InverseTimeDecay(decay_steps=1, decay_rate=decay)",
            _scheduled(
                lambda hp, t: S.InverseTimeDecay(
                    t(hp["learning_rate"]), **inverse_time_arguments(decay=hp["decay"])
                )
            ),
        ),
        _impl(
            "opt.legacy_decay",
            "SGD(decay=) as in Vitay's notes",
            run_legacy_decay_argument,
            findings={"*": LEGACY_DECAY_IGNORED},
        ),
    ]
    for mode in ("min", "max"):
        out.append(
            _impl(
                "sched.plateau",
                f"callbacks.ReduceLROnPlateau(mode='{mode}')",
                lambda case, dtype, device, mode=mode: run_plateau(mode, case, dtype, device),
                findings={"float64": PLATEAU_FLOAT32_FLOOR},
            )
        )
    return out
