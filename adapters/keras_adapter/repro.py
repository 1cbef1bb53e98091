r"""``trainspec repro`` for Keras 3 on TensorFlow: the calls of the rows with known findings.

``keras.activations.selu`` and ``tf.nn.selu`` (the value, or ``tf.GradientTape``'s gradient
with the case's cotangent), ``callbacks.ReduceLROnPlateau`` (on a compiled model whose optimizer
is ``SGD(eta0)``, ``keras.config.floatx()`` the row's dtype, the learning rate after each
``on_epoch_end``), ``SGD(decay=)`` (the learning rate each update applies) and
``RMSprop(centered=True)`` (``optimizer.apply`` step by step from the initial state; for
the ``tensorflow-compiled`` rows each step in ``tf.function(jit_compile=...)``, as Keras's trainer
wraps it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import (
    centred_absorbing_example,
    centred_bfloat16_example,
)
from trainspec.conformance.repro import ReproCall, ReproError, example_of, finding_example

__all__ = [
    "FINDING_EXAMPLES",
    "OPTIMIZER_STEPS",
    "RMSPROP_CENTERED",
    "RMSPROP_CENTERED_COMPILED",
    "repro_call",
]

_IMPORTS = """\
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
"""
_VERSIONS = "'keras ' + keras.__version__ + ', tensorflow ' + tf.__version__"

#: per dtype, an input in [-u, 0) (u the unit roundoff) where SELU's derivative is wrong
SELU_INPUTS: dict[str, float] = {"float32": -1e-9, "float64": -1e-17, "float16": -1e-4}

#: a minimal counterexample per finding id (the kind's JSON case), for rows that store none
FINDING_EXAMPLES: dict[str, dict[str, Any]] = {
    "tf-selu-grad-sign-of-output": {
        "check": "derivatives",
        "z": [-1e-9],
        "cotangent": [1.0],
        "hyperparameters": {},
    },
    # float64: the learning rate 1.00000000745e-4 rounds to float32's min_lr 9.99999974738e-5
    "keras-plateau-float32-min-lr": {
        "check": "values",
        "spec_id": "sched.plateau",
        "hyperparameters": {
            "learning_rate": 1.00000000745e-4,
            "factor": 0.5,
            "patience": 1,
            "threshold": 0.0,
            "cooldown": 0,
            "min_learning_rate": 9.99999974738e-5,
        },
        "steps": [0, 1, 2],
        "metrics": [1.0, 1.0, 1.0],
    },
    "keras3-ignores-decay": {
        "check": "values",
        "spec_id": "opt.legacy_decay",
        "hyperparameters": {"learning_rate": 0.1, "decay": 0.01},
        "steps": [0, 1, 10],
    },
    # float64 (docs/findings/keras_xla_rmsprop_centered_nan.py): rho = 0, two steps, under XLA
    "keras-xla-rmsprop-centered-nan": example_of(*centred_absorbing_example()),
    # float32, float64 (docs/findings/keras_graph_rmsprop_centered_eps_absorbed.py): rho = 0,
    # two steps, in tf.function without XLA (Grappler's constant folding absorbs eps)
    "keras-graph-rmsprop-centered-eps-absorbed": example_of(*centred_absorbing_example()),
    # bfloat16 (docs/findings/keras_rmsprop_centered_bfloat16_nan.py): two steps of one gradient
    "keras-rmsprop-centered-bfloat16-nan": example_of(*centred_bfloat16_example()),
}

#: Keras optimizer steps from the initial state: ``{optimizer}`` builds the optimizer from ``hp``
#: and ``lrs`` (held constant); every gradient of the case goes through ``opt.apply``
OPTIMIZER_STEPS = """\
hp, lrs = CASE["hyperparameters"], CASE["learning_rates"]
if len(set(lrs)) != 1:
    raise SystemExit("this reproduction holds the learning rate constant")
keys = list(CASE["params"])
ws = [keras.Variable(np.asarray(CASE["params"][k], dtype=np.float64), dtype=DTYPE) for k in keys]
opt = {optimizer}
for grads in CASE["grads"]:
    opt.apply(
        [keras.ops.convert_to_tensor(np.asarray(grads[k], dtype=np.float64), dtype=DTYPE) for k in keys],
        ws,
    )
GOT = {{k: np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64) for k, w in zip(keys, ws)}}
"""

RMSPROP_CENTERED = OPTIMIZER_STEPS.format(
    optimizer="""keras.optimizers.RMSprop(
    learning_rate=float(lrs[0]), rho=float(hp["rho"]), epsilon=float(hp["eps"]),
    momentum=float(hp.get("momentum", 0.0)), centered=True,
)"""
)

_SELU = """\
x = tf.constant(CASE["z"], dtype=DTYPE)
with tf.device("/CPU:0" if DEVICE == "cpu" else "/GPU:0"):
    if CASE["check"] == "values":
        GOT = {{"y": np.asarray({op}(x), dtype=np.float64)}}
    else:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = {op}(x)
        g = tape.gradient(y, x, output_gradients=tf.constant(CASE["cotangent"], dtype=DTYPE))
        GOT = {{"z": np.asarray(g, dtype=np.float64)}}
"""

_PLATEAU = """\
hp = CASE["hyperparameters"]
keras.config.set_floatx(DTYPE)
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
opt = keras.optimizers.SGD(learning_rate=float(hp["learning_rate"]))
model.optimizer = opt
cb = keras.callbacks.ReduceLROnPlateau(
    monitor="val_loss", factor=hp["factor"], patience=hp["patience"], mode={mode!r},
    min_delta=hp["threshold"], cooldown=hp["cooldown"], min_lr=hp["min_learning_rate"],
)
cb.set_model(model)
cb.on_train_begin()
lrs = []
for epoch, m in enumerate(CASE["metrics"]):
    cb.on_epoch_end(epoch, {{"val_loss": float(m)}})
    lrs.append(float(np.asarray(opt.learning_rate)))  # the learning rate after the metric
GOT = {{"lr": np.asarray(lrs)}}
"""

_LEGACY = """\
import warnings

hp = CASE["hyperparameters"]
keras.config.set_floatx(DTYPE)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # "Argument `decay` is no longer supported"
    opt = keras.optimizers.SGD(learning_rate=float(hp["learning_rate"]), decay=hp["decay"])
var = keras.Variable(np.zeros((), dtype=DTYPE), dtype=DTYPE)
lrs = []
for t in range(CASE["steps"][-1] + 1):
    var.assign(np.zeros((), dtype=DTYPE))
    opt.apply_gradients([(tf.ones((), dtype=DTYPE), var)])  # the step applied at update t
    if t in CASE["steps"]:
        lrs.append(-float(var.numpy()))
GOT = {"lr": np.asarray(lrs)}
"""


def _example(impl: Implementation[Any, Any], dtype: str) -> dict[str, Any]:
    f, example = finding_example(impl, dtype, FINDING_EXAMPLES)
    if f.id == "tf-selu-grad-sign-of-output":
        example["z"] = [SELU_INPUTS[dtype]]
    return example


#: ``RMSprop(centered=True)`` with its step in ``tf.function`` as Keras's trainer wraps it
#: (``tensorflow-compiled``: :func:`~trainspec.adapters.keras_adapter.compiled.compile_step_with`)
RMSPROP_CENTERED_COMPILED = """\
hp, lrs = CASE["hyperparameters"], CASE["learning_rates"]
if len(set(lrs)) != 1:
    raise SystemExit("this reproduction holds the learning rate constant")
keys = list(CASE["params"])
ws = [keras.Variable(np.asarray(CASE["params"][k], dtype=np.float64), dtype=DTYPE) for k in keys]
opt = keras.optimizers.RMSprop(
    learning_rate=float(lrs[0]), rho=float(hp["rho"]), epsilon=float(hp["eps"]),
    momentum=float(hp.get("momentum", 0.0)), centered=True,
)
opt.build(ws)


def step(grads):
    return opt.apply_gradients(zip(grads, ws))  # a value, as model.fit's train step returns


step = tf.function(
    tf.autograph.experimental.do_not_convert(step), reduce_retracing=True, jit_compile={jit}
)
for grads in CASE["grads"]:
    step([tf.constant(np.asarray(grads[k], dtype=np.float64), dtype=DTYPE) for k in keys])
GOT = {{k: np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64) for k, w in zip(keys, ws)}}
"""


def repro_call(
    impl: Implementation[Any, Any], dtype: str, device: str, case: Mapping[str, Any] | None
) -> ReproCall | None:
    """The code of ``impl``'s call, or None for the rows this module does not write."""
    if case is None:
        case = _example(impl, dtype)
    if impl.spec_id == "act.selu":
        code = _SELU.format(op=impl.name)  # keras.activations.selu or tf.nn.selu
        variant = "evaluation=exp_minus_one"
    elif impl.name.startswith("callbacks.ReduceLROnPlateau("):
        mode = "max" if "'max'" in impl.name else "min"
        code = _PLATEAU.format(mode=mode)
        variant = "cooldown_count=one_less, threshold_mode=absolute" + (
            ", mode=max" if mode == "max" else ""
        )
    elif impl.name == "SGD(decay=) as in Vitay's notes":
        code, variant = _LEGACY, "default"
    elif impl.name.startswith("keras.optimizers.RMSprop(centered=True)"):
        state = case.get("state") or {"count": 0, "buffers": {}}
        if state["count"] != 0 or state["buffers"]:
            raise ReproError(
                "counterexample: repro writes Keras's RMSprop from the initial state only"
            )
        variant = "eps=inside, centered=centered"
        if impl.name == "keras.optimizers.RMSprop(centered=True)":
            code = RMSPROP_CENTERED
        elif impl.name.endswith(" in tf.function(jit_compile=True)"):
            code = RMSPROP_CENTERED_COMPILED.format(jit=True)
        elif impl.name.endswith(" in tf.function(jit_compile=False)"):
            code = RMSPROP_CENTERED_COMPILED.format(jit=False)
        else:
            return None
    else:
        return None
    if case.get("check") == "through_optimizer":
        raise ReproError("counterexample: repro writes the schedules' 'values' checks only")
    return ReproCall(imports=_IMPORTS, versions=_VERSIONS, call=code, case=case, variant=variant)
