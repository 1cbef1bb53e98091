r"""``trainspec repro`` for Keras 3 on its JAX and PyTorch backends: the rows with known findings.

Each script sets ``KERAS_BACKEND`` (``jax`` or ``torch``) before importing Keras (on JAX it turns
on ``jax_enable_x64``, as the ``keras-jax`` adapter does, so that float64 variables stay
float64) and imports no TensorFlow. The calls are Keras's optimizer steps from the initial state
(``opt.apply`` over ``keras.Variable``\ s of the row's dtype, in ``keras.device``), with the
learning rate held constant: ``RMSprop(centered=True)`` (the TensorFlow adapter's
:data:`~trainspec.adapters.keras_adapter.repro.RMSPROP_CENTERED`), ``SGD(weight_decay=...,
momentum=...)`` (the spec's ``decay=decoupled``: Keras multiplies the variables by
$1 - \eta\lambda$ before the step) and ``AdamW`` with and without ``amsgrad`` (``eps=eps_hat``,
AMSGrad's maximum of the uncorrected $v$).

A row without a stored counterexample (a finding's hits) uses the finding's minimal example
(:data:`FINDING_EXAMPLES`, by finding ID and spec ID).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainspec.adapters.keras_adapter.repro import FINDING_EXAMPLES as KERAS_EXAMPLES
from trainspec.adapters.keras_adapter.repro import OPTIMIZER_STEPS, RMSPROP_CENTERED
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.repro import ReproCall, ReproError, finding_example

__all__ = ["BACKENDS", "FINDING_EXAMPLES", "repro_call"]

#: per Keras backend: the script's imports (``KERAS_BACKEND`` before Keras) and its versions
BACKENDS: dict[str, tuple[str, str]] = {
    "jax": (
        """\
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 variables stay float64

import keras  # noqa: E402

assert keras.backend.backend() == "jax"
""",
        "'keras ' + keras.__version__ + ', jax ' + jax.__version__",
    ),
    "torch": (
        """\
import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import torch  # noqa: E402

assert keras.backend.backend() == "torch"
""",
        "'keras ' + keras.__version__ + ', torch ' + torch.__version__",
    ),
}

_INITIAL = {"count": 0, "buffers": {}}

# docs/findings/keras_torch_weight_decay_float32.py: lr and lambda float32-exact, one step with
# g = 0 (the step is the decay alone); float64: off by 2.4e-9
_THETA, _LR, _WD = 0.1257302210933933, 0.0010000000474974513, 9.999999747378752e-05

#: a minimal counterexample per (finding ID, spec ID) (the kind's JSON case), for rows that store
#: none
FINDING_EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("keras-torch-weight-decay-float32-factor", "opt.weight_decay"): {
        "check": "trajectory",
        "params": {"w0": [_THETA]},
        "grads": [{"w0": [0.0]}],
        "learning_rates": [_LR],
        "hyperparameters": {"momentum": 0.0, "weight_decay": _WD},
        "state": _INITIAL,
    },
    ("keras-torch-weight-decay-float32-factor", "opt.adamw"): {
        "check": "trajectory",
        "params": {"w0": [_THETA]},
        "grads": [{"w0": [0.0]}],
        "learning_rates": [_LR],
        "hyperparameters": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-07, "weight_decay": _WD},
        "state": _INITIAL,
    },
    # docs/findings/keras_torch_rmsprop_centered_eps.py: rho = 0, one step; the centred variance
    # is 0 and eps (absorbed into velocity) leaves a denominator of 0: the step is -inf
    ("keras-torch-rmsprop-centered-eps-absorbed", "opt.rmsprop"): {
        "check": "trajectory",
        "params": {"w0": [0.1257302165031433]},
        "grads": [{"w0": [2.040919065475464]}],
        "learning_rates": [_LR],
        "hyperparameters": {"rho": 0.0, "eps": 1e-08, "momentum": 0.0},
        "state": _INITIAL,
    },
    ("keras-rmsprop-centered-bfloat16-nan", "opt.rmsprop"): KERAS_EXAMPLES[
        "keras-rmsprop-centered-bfloat16-nan"
    ],
}

_SGD = OPTIMIZER_STEPS.format(
    optimizer="""keras.optimizers.SGD(
    learning_rate=float(lrs[0]), momentum=float(hp.get("momentum", 0.0)),
    weight_decay=float(hp["weight_decay"]) or None,
)"""
)


def _adamw(amsgrad: bool) -> str:
    return OPTIMIZER_STEPS.format(
        optimizer=f"""keras.optimizers.AdamW(
    learning_rate=float(lrs[0]), weight_decay=float(hp["weight_decay"]),
    beta_1=float(hp["beta1"]), beta_2=float(hp["beta2"]), epsilon=float(hp["eps"]),
    amsgrad={amsgrad!r},
)"""
    )


#: per implementation name: the call's code and the variant it implements (the variant whose
#: formula gives the expected value of a finding's minimal example)
CALLS: dict[str, tuple[str, str]] = {
    "keras.optimizers.RMSprop(centered=True)": (RMSPROP_CENTERED, "eps=inside, centered=centered"),
    "SGD(weight_decay)": (_SGD, "decay=decoupled"),
    "keras.optimizers.AdamW": (_adamw(False), "eps=eps_hat"),
    "keras.optimizers.AdamW(amsgrad=True)": (_adamw(True), "eps=eps_hat, amsgrad=max_uncorrected"),
}

_DEVICE_SCOPE = 'with keras.device("cpu:0" if DEVICE == "cpu" else "gpu:0"):\n'


def _example(impl: Implementation[Any, Any], dtype: str) -> dict[str, Any]:
    return finding_example(impl, dtype, FINDING_EXAMPLES, by_spec=True)[1]


def repro_call(
    impl: Implementation[Any, Any],
    dtype: str,
    device: str,
    case: Mapping[str, Any] | None,
    backend: str,
) -> ReproCall | None:
    """The code of ``impl``'s call on Keras's ``backend`` (``jax`` or ``torch``), or None for the
    rows this module does not write."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: {backend!r} is not one of {sorted(BACKENDS)}")
    if impl.name not in CALLS:
        return None
    if case is None:
        case = _example(impl, dtype)
    state = case.get("state") or _INITIAL
    if state["count"] != 0 or state["buffers"]:
        raise ReproError(
            f"counterexample: repro writes Keras's {impl.name} from the initial state only"
        )
    if len(set(case["learning_rates"])) != 1:
        raise ReproError(
            f"counterexample: repro writes Keras's {impl.name} at a constant learning rate only"
        )
    code, variant = CALLS[impl.name]
    call = _DEVICE_SCOPE + "".join(f"    {line}".rstrip() + "\n" for line in code.splitlines())
    imports, versions = BACKENDS[backend]
    return ReproCall(imports=imports, versions=versions, call=call, case=case, variant=variant)
