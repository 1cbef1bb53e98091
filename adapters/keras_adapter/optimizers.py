r"""Keras's adaptive optimizers: ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``, ``Nadam``,
``Adamax`` and ``Adadelta`` from ``keras.optimizers`` (``opt.adagrad`` ... ``opt.adadelta``).

Conventions mapped here (each in one small function, tested in
``tests/adapters/keras_adapter/test_adaptive.py``):

* RMSprop's momentum: Keras's ``RMSprop`` keeps $m \leftarrow \mu m + \eta g / D$ and subtracts it
  ($\theta \leftarrow \theta - m$), so its ``momentum`` slot holds $+\eta b$ for the canonical
  learning-rate-free buffer $b$ (the spec's ``eta_inside`` velocity is $-\eta b$):
  :func:`rmsprop_momentum_from_buffer`;
* Nadam's ``_u_product``: the running product $\Pi_t = \prod_{i \le t} \mu_i$ of Keras's momentum
  schedule $\mu_i = \beta_1 (1 - \tfrac12\, 0.96^{i})$ (the spec's ``dozat_decay_psi1``; the
  product takes 0.96 exactly, the step's $\mu_t$ a float32-rounded 0.96:
  ``schedule_precision=decay_float32``), which Keras multiplies in at the start of each step;
  after ``count`` steps it holds $\Pi_\text{count}$: :func:`nadam_u_product`;
* every other slot holds the canonical buffer unchanged (Adagrad ``accumulator`` $= G$
  including the initial value; RMSprop ``velocity`` $= s$ and ``average_gradient`` $= \bar g$;
  Adam/AdamW/Nadam ``momentum`` $= m$, ``velocity`` $= v$, ``velocity_hat`` $= v_\max$ (maximum
  of the uncorrected $v$); Adamax ``m`` and ``u`` (the norm, $\epsilon$ not included); Adadelta
  ``accumulated_grad`` $= E[g^2]$, ``accumulated_delta_var`` $= E[\Delta x^2]$):
  :func:`assign_slots`, with :data:`SLOTS` naming the slot list (set by the optimizer's
  ``build``, one variable per parameter in the parameters' order) of each canonical buffer;
* the step count lives in ``optimizer.iterations`` (the canonical ``count``).

Hyperparameters that the spec does not draw keep the value that makes Keras's formula the spec's:
``weight_decay=None`` except in ``AdamW``. Keras's Nadam has no ``momentum_decay`` (it fixes
$\psi = 1$), so the drawn one is not passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from trainspec.adapters.keras_adapter import OPTIMIZER_DTYPES, run_keras_optimizer, to_dtype
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_bfloat16_example,
    centred_variance_near_zero,
)
from trainspec.reference.optimizers.nadam import nadam_momentum_product

__all__ = [
    "LOADERS",
    "SLOTS",
    "assign_slots",
    "implementations",
    "nadam_u_product",
    "rmsprop_momentum_from_buffer",
]

Maker = Callable[[OptimizerCase], keras.optimizers.Optimizer]
Loader = Callable[[keras.optimizers.Optimizer, OptimizerCase, Sequence[str], str], None]

#: The Keras slot list (an attribute set by the optimizer's ``build``) holding each canonical
#: buffer, per spec ID. A slot that the optimizer did not build (RMSprop's ``_momentums`` when
#: momentum = 0, ``_average_gradients`` when not centered, ``_velocity_hats`` without AMSGrad) is
#: skipped: the formula does not read that buffer.
SLOTS: dict[str, dict[str, str]] = {
    "opt.adagrad": {"accumulator": "_accumulators"},
    "opt.rmsprop": {
        "square_avg": "_velocities",
        "grad_avg": "_average_gradients",
        "momentum_buffer": "_momentums",
    },
    "opt.adam": {"m": "_momentums", "v": "_velocities", "v_max": "_velocity_hats"},
    "opt.adamw": {"m": "_momentums", "v": "_velocities", "v_max": "_velocity_hats"},
    "opt.nadam": {"m": "_momentums", "v": "_velocities"},
    "opt.adamax": {"m": "_m", "u": "_u"},
    "opt.adadelta": {
        "square_avg": "_accumulated_grads",
        "acc_delta": "_accumulated_delta_vars",
    },
}


def rmsprop_momentum_from_buffer(buffer: np.ndarray, learning_rate: float) -> np.ndarray:
    r"""Keras's ``RMSprop`` momentum slot for the canonical buffer $b$: $+\eta b$.

    Keras steps $m \leftarrow \mu m + \eta g/D$, $\theta \leftarrow \theta - m$: its slot is the
    spec's ``eta_inside`` velocity ($-\eta b$) with the sign flipped.
    """
    return learning_rate * np.asarray(buffer, dtype=np.float64)


def nadam_u_product(count: int, beta1: float) -> float:
    r"""Keras's ``Nadam._u_product`` after ``count`` steps: $\prod_{i \le \text{count}} \beta_1
    (1 - \tfrac12\, 0.96^{i})$ (1 before the first step).

    Keras multiplies in $\mu_t$ at the start of step $t$ (``_backend_update_step``, with
    ``ops.power(0.96, ...)`` in the variable's dtype: 0.96 exactly, unlike the float32-rounded
    constant of ``update_step``), so before step ``count + 1`` it holds the spec's
    ``dozat_decay_psi1`` product.
    """
    return nadam_momentum_product(count, beta1, 1.0, "dozat_decay_psi1")


def assign_slots(
    slots: Sequence[keras.Variable],
    tree: Mapping[str, np.ndarray],
    names: Sequence[str],
    dtype: str,
) -> None:
    """Assign the canonical ``tree`` (one array per parameter name) to Keras's per-parameter slots.

    ``slots`` is in the order of the optimizer's variables, i.e. of ``names``.
    """
    for k, slot in zip(names, slots, strict=True):
        slot.assign(to_dtype(tree[k], dtype))


def _built_slots(opt: keras.optimizers.Optimizer, attr: str) -> Sequence[keras.Variable]:
    """The slot list ``attr`` of a built optimizer, ``[]`` where the optimizer does not use it
    (RMSprop builds empty lists; Adam without AMSGrad has no ``_velocity_hats``). Any other
    missing attribute raises: a renamed slot must not go silently unloaded."""
    if attr == "_velocity_hats" and not getattr(opt, "amsgrad", False):
        return []
    return getattr(opt, attr)


def _slot_loader(
    spec_id: str,
    converters: Mapping[str, Callable[[np.ndarray, OptimizerCase], np.ndarray]] | None = None,
) -> Loader:
    """Load every canonical buffer of ``spec_id`` into its Keras slot (:data:`SLOTS`), through the
    buffer's conversion in ``converters`` (identity if none)."""
    slots = SLOTS[spec_id]
    conv = dict(converters or {})

    def load(
        opt: keras.optimizers.Optimizer, case: OptimizerCase, names: Sequence[str], dtype: str
    ) -> None:
        if case.state is None:
            raise ValueError("case.state: the loader needs a canonical state (got None)")
        for buffer, attr in slots.items():
            keras_slots = _built_slots(opt, attr)
            if not keras_slots:  # not built: the optimizer's formula does not read this buffer
                continue
            tree = case.state.buffers[buffer]
            if buffer in conv:
                tree = {k: conv[buffer](tree[k], case) for k in names}
            assign_slots(keras_slots, tree, names, dtype)

    return load


def _load_nadam(
    opt: keras.optimizers.Optimizer, case: OptimizerCase, names: Sequence[str], dtype: str
) -> None:
    _slot_loader("opt.nadam")(opt, case, names, dtype)
    assert case.state is not None  # checked by the slot loader
    u_product = nadam_u_product(case.state.count, case.hyperparameters["beta1"])
    opt._u_product.assign(to_dtype(u_product, dtype))


def _rmsprop_momentum(b: np.ndarray, case: OptimizerCase) -> np.ndarray:
    return rmsprop_momentum_from_buffer(b, case.learning_rates[0])


#: the state loader of each spec ID
LOADERS: dict[str, Loader] = {
    "opt.adagrad": _slot_loader("opt.adagrad"),
    "opt.rmsprop": _slot_loader("opt.rmsprop", {"momentum_buffer": _rmsprop_momentum}),
    "opt.adam": _slot_loader("opt.adam"),
    "opt.adamw": _slot_loader("opt.adamw"),
    "opt.nadam": _load_nadam,
    "opt.adamax": _slot_loader("opt.adamax"),
    "opt.adadelta": _slot_loader("opt.adadelta"),
}


# --- the optimizers, with the case's hyperparameters --------------------------------------------


def _adagrad(case: OptimizerCase) -> keras.optimizers.Optimizer:
    hp = case.hyperparameters
    return keras.optimizers.Adagrad(
        learning_rate=case.learning_rates[0],
        initial_accumulator_value=hp["initial_accumulator_value"],
        epsilon=hp["eps"],
    )


def _rmsprop(**fixed: Any) -> Maker:
    def make(case: OptimizerCase) -> keras.optimizers.Optimizer:
        hp = case.hyperparameters
        return keras.optimizers.RMSprop(
            learning_rate=case.learning_rates[0],
            rho=hp["rho"],
            momentum=hp["momentum"],
            epsilon=hp["eps"],
            **fixed,
        )

    return make


def _adam(**fixed: Any) -> Maker:
    def make(case: OptimizerCase) -> keras.optimizers.Optimizer:
        hp = case.hyperparameters
        return keras.optimizers.Adam(
            learning_rate=case.learning_rates[0],
            beta_1=hp["beta1"],
            beta_2=hp["beta2"],
            epsilon=hp["eps"],
            **fixed,
        )

    return make


def _adamw(**fixed: Any) -> Maker:
    def make(case: OptimizerCase) -> keras.optimizers.Optimizer:
        hp = case.hyperparameters
        return keras.optimizers.AdamW(
            learning_rate=case.learning_rates[0],
            weight_decay=hp["weight_decay"],
            beta_1=hp["beta1"],
            beta_2=hp["beta2"],
            epsilon=hp["eps"],
            **fixed,
        )

    return make


def _nadam(case: OptimizerCase) -> keras.optimizers.Optimizer:
    hp = case.hyperparameters
    return keras.optimizers.Nadam(
        learning_rate=case.learning_rates[0],
        beta_1=hp["beta1"],
        beta_2=hp["beta2"],
        epsilon=hp["eps"],
    )


def _adamax(case: OptimizerCase) -> keras.optimizers.Optimizer:
    hp = case.hyperparameters
    return keras.optimizers.Adamax(
        learning_rate=case.learning_rates[0],
        beta_1=hp["beta1"],
        beta_2=hp["beta2"],
        epsilon=hp["eps"],
    )


def _adadelta(case: OptimizerCase) -> keras.optimizers.Optimizer:
    hp = case.hyperparameters
    return keras.optimizers.Adadelta(
        learning_rate=case.learning_rates[0], rho=hp["rho"], epsilon=hp["eps"]
    )


#: spec ID, Keras's name, and how to build it
ADAPTIVE: tuple[tuple[str, str, Maker], ...] = (
    ("opt.adagrad", "Adagrad", _adagrad),
    ("opt.rmsprop", "RMSprop", _rmsprop()),
    ("opt.rmsprop", "RMSprop(centered=True)", _rmsprop(centered=True)),
    ("opt.adam", "Adam", _adam()),
    ("opt.adam", "Adam(amsgrad=True)", _adam(amsgrad=True)),
    ("opt.adamw", "AdamW", _adamw()),
    ("opt.adamw", "AdamW(amsgrad=True)", _adamw(amsgrad=True)),
    ("opt.nadam", "Nadam", _nadam),
    ("opt.adamax", "Adamax", _adamax),
    ("opt.adadelta", "Adadelta", _adadelta),
)

RMSPROP_CENTERED_BFLOAT16 = Finding(
    "keras-rmsprop-centered-bfloat16-nan",
    "keras.optimizers.RMSprop(centered=True) evaluates sqrt(velocity - square(average_grad) + "
    "epsilon) in the variables' dtype and does not clamp the centred variance at 0. In bfloat16 "
    "the running averages carry roundings of several units of 2^-8 of velocity; where the exact "
    "centred variance is smaller, the rounded difference is negative and the step NaN (the same "
    "code on every backend). Minimal counterexample: rho = 0.0625, eps = 1e-8, two steps of "
    "g = 0.640625 from the initial state: exact variance 1.6e-3 (4 % of velocity), bfloat16 "
    "difference -2.0e-3. docs/findings/keras_rmsprop_centered_bfloat16_nan.py",
    region=lambda case: centred_variance_near_zero(case, "bfloat16"),
    region_text=CENTRED_REGION_TEXT,
    examples=(centred_bfloat16_example(),),
)

#: implementations whose rows have a finding (see their descriptions), by name: dtype -> finding;
#: Keras's generic code, so every backend's row declares it (:mod:`trainspec.adapters.keras_backends`
#: adds each backend's own)
FINDINGS: dict[str, dict[str, str | Finding]] = {
    "RMSprop(centered=True)": {"bfloat16": RMSPROP_CENTERED_BFLOAT16},
}


def run_adaptive(
    spec_id: str,
    make: Maker,
    case: OptimizerCase,
    dtype: str,
    device: str,
    compile_step: Callable[[Callable[[list[Any]], Any]], Callable[[list[Any]], Any]] | None = None,
) -> dict[str, np.ndarray]:
    """One case through ``make``'s optimizer with ``spec_id``'s state loader (and its step
    wrapped by ``compile_step``, see :func:`~trainspec.adapters.keras_adapter.run_keras_optimizer`)."""
    return run_keras_optimizer(
        make, case, dtype, device, load=LOADERS[spec_id], compile_step=compile_step
    )


def _impl(spec_id: str, name: str, make: Maker) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_adaptive(spec_id, make, case, dtype, device),
        dtypes=OPTIMIZER_DTYPES,
        devices=("cpu", "cuda"),
        findings=FINDINGS.get(name.removeprefix("keras.optimizers."), {}),
    )


def implementations() -> list[Implementation]:
    """Every adaptive optimizer of ``keras.optimizers``, each flag that changes the formula its
    own row."""
    return [_impl(spec_id, f"keras.optimizers.{name}", make) for spec_id, name, make in ADAPTIVE]


# ---------------------------------------------------------------------------------------------
# SGD (opt.gd, opt.momentum, opt.nesterov, opt.weight_decay)


def _sgd(**fixed: Any) -> Callable[[OptimizerCase], keras.optimizers.Optimizer]:
    def make(case: OptimizerCase) -> keras.optimizers.Optimizer:
        hp = case.hyperparameters
        wd = hp.get("weight_decay")
        return keras.optimizers.SGD(
            learning_rate=case.learning_rates[0],
            momentum=hp.get("momentum", 0.0),
            weight_decay=wd if wd else None,
            **fixed,
        )

    return make


def _sgd_impl(
    spec_id: str, name: str, make: Callable[[OptimizerCase], keras.optimizers.Optimizer]
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_keras_optimizer(make, case, dtype, device),
        dtypes=OPTIMIZER_DTYPES,
        devices=("cpu", "cuda"),
    )


#: SGD's rows: spec ID, name, and how to build the optimizer from a case
SGD_ROWS: tuple[tuple[str, str, Callable[[OptimizerCase], keras.optimizers.Optimizer]], ...] = (
    ("opt.gd", "SGD", _sgd()),
    ("opt.momentum", "SGD(momentum)", _sgd()),
    ("opt.nesterov", "SGD(nesterov=True)", _sgd(nesterov=True)),
    ("opt.weight_decay", "SGD(weight_decay)", _sgd()),
)


def sgd_implementations() -> list[Implementation]:
    """``keras.optimizers.SGD`` (the adapter lists these rows first)."""
    return [_sgd_impl(spec_id, name, make) for spec_id, name, make in SGD_ROWS]
