r"""Keras 3 on its JAX and PyTorch backends: the backends ``keras-jax`` and ``keras-torch``.

Keras is multi-backend: with ``KERAS_BACKEND=jax`` or ``torch`` its optimizers run their
``update_step`` through ``keras.ops`` on that backend, and the torch backend replaces some
updates with its own code (``keras/src/backend/torch/optimizers/``: ``torch_sgd``,
``torch_adam``, ``torch_adamw``, ... built on ``torch._foreach_*``), so the same
``keras.optimizers.Adam`` is separate code per backend. Keras picks its backend once, at import:
each of these adapters runs in its own process (its own tox environment) with ``KERAS_BACKEND``
set, and refuses to load on another backend.

Both reuse the TensorFlow adapter's optimizer rows and conventions unchanged
(:mod:`trainspec.adapters.keras_adapter` and its ``optimizers`` module use only
``keras.Variable``, ``keras.ops`` and ``keras.device``): SGD and every adaptive optimizer, each
flag that changes the formula its own row. Only optimizers are declared: the other families of
the TensorFlow adapter (layers, losses, gradients) call TensorFlow directly.

On JAX, float64 needs ``jax_enable_x64`` (without it JAX stores float64 variables as float32),
which the ``keras-jax`` adapter turns on when it is imported. JAX runs each eager operation as an
XLA computation compiled for its shape and dtype (about 0.1 to 0.5 s per operation on a CPU), so
that every new parameter shape of the kit's draws would recompile each operation of the update:
on ``keras-jax`` every case runs on one flat parameter (:func:`trainspec.adapters.flat.flat_case`;
the optimizers are elementwise), which compiles each operation once per dtype.

Findings, each with a standalone reproduction in ``docs/findings/`` (:data:`FINDINGS`):

* ``keras-torch``: the weight decay of every optimizer (``TorchOptimizer._apply_weight_decay``)
  multiplies the variables by $1 - \lambda\eta$ computed with the learning-rate variable, a
  float32 tensor: in float64 the factor is rounded to float32 (``SGD(weight_decay)``, ``AdamW``);
* ``keras-torch``: ``RMSprop(centered=True)`` evaluates $\sqrt{(s + \epsilon) - \bar g^2}$
  (``torch_rmsprop``) where the other backends evaluate $\sqrt{s - \bar g^2 + \epsilon}$: where
  $\epsilon$ is below the rounding of $s$ it is absorbed, and a centred variance that is 0
  gives a zero (or negative) denominator and an infinite or NaN step;
* ``keras-jax``: ``RMSprop(centered=True)`` in bfloat16 steps by NaN where the centred variance
  is within bfloat16's rounding of $s$ (Keras's generic update does not clamp $s - \bar g^2$:
  the same code on every backend; declared where a row's draws reach it, which the TensorFlow
  row's do not).

``trainspec repro`` writes each finding's standalone script (:mod:`.repro`: Keras on the row's
backend, no TensorFlow).

Not offered (:data:`NOT_OFFERED`): ``keras-torch``'s ``Nadam`` in bfloat16: ``torch_nadam`` divides
by a NumPy scalar (``1 - convert_to_numpy(u_product)``), an ``ml_dtypes.bfloat16`` for bfloat16
variables, which ``torch._foreach_div`` rejects: the first step raises TypeError
(``docs/findings/keras_torch_nadam_bfloat16_typeerror.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trainspec.adapters.devices import (
    jax_devices,
    jax_full_precision,
    torch_devices,
    torch_full_precision,
)
from trainspec.adapters.flat import flat_case, from_flat
from trainspec.conformance.adapter import Adapter, Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_variance_near_zero,
)
from trainspec.conformance.repro import ReproCall

__all__ = ["KerasJaxAdapter", "KerasTorchAdapter"]


WEIGHT_DECAY_FLOAT32 = Finding(
    "keras-torch-weight-decay-float32-factor",
    "Keras's torch backend applies weight decay (TorchOptimizer._apply_weight_decay) as "
    "torch._foreach_mul_(variables, 1 - weight_decay * learning_rate), with the optimizer's "
    "learning rate a float32 variable: the factor 1 - lambda*eta is a float32 tensor, so float64 "
    "variables are decayed by a float32-rounded factor (relative error up to 6e-8 of theta; "
    "the TensorFlow and JAX backends cast lr and lambda to the variable's dtype and evaluate "
    "theta - theta*lambda*eta in it). Minimal counterexample: theta = 0.1257302210933933, "
    "eta = 0.001, lambda = 1e-4 (float32-exact values), one SGD step with g = 0: off by 2.4e-9. "
    "docs/findings/keras_torch_weight_decay_float32.py",
)


def _centered_finding(dtype: str) -> Finding:
    return Finding(
        "keras-torch-rmsprop-centered-eps-absorbed",
        "Keras's torch backend evaluates RMSprop(centered=True)'s denominator as "
        "sqrt((square_avg + eps) - grad_avg**2) (torch_rmsprop: _foreach_add(velocities, "
        "epsilon), then subtracts the squared average), the other backends as "
        "sqrt(square_avg - grad_avg**2 + eps). Where eps is below the rounding of square_avg "
        "it is absorbed, and a centred variance that is 0 gives a denominator of 0 (or a "
        "negative one) and an infinite or NaN step. Minimal counterexample: rho = 0, "
        "eps = 1e-8, one step with g = 2.0409191 in float32: denominator 0, step -inf; the "
        "spec's step is lr*g/sqrt(eps). docs/findings/keras_torch_rmsprop_centered_eps.py",
        region=lambda case: centred_variance_near_zero(case, dtype),
        region_text=CENTRED_REGION_TEXT,
    )


#: per backend, per implementation name: the findings (dtype -> finding) of that backend's rows
FINDINGS: dict[str, dict[str, dict[str, str | Finding]]] = {
    "keras-torch": {
        "SGD(weight_decay)": {"float64": WEIGHT_DECAY_FLOAT32},
        "keras.optimizers.AdamW": {"float64": WEIGHT_DECAY_FLOAT32},
        "keras.optimizers.AdamW(amsgrad=True)": {"float64": WEIGHT_DECAY_FLOAT32},
        "keras.optimizers.RMSprop(centered=True)": {
            d: _centered_finding(d) for d in ("float32", "float64", "bfloat16")
        },
    },
    # keras-rmsprop-centered-bfloat16-nan is Keras's generic code: every backend's row declares
    # it (trainspec.adapters.keras_adapter.optimizers.FINDINGS)
    "keras-jax": {},
}


#: per backend, per implementation name: the dtypes Keras does not offer on that backend (the
#: step raises), removed from the row's dtypes
NOT_OFFERED: dict[str, dict[str, tuple[str, ...]]] = {
    "keras-torch": {"keras.optimizers.Nadam": ("bfloat16",)},
    # keras-rmsprop-centered-bfloat16-nan is Keras's generic code: every backend's row declares
    # it (trainspec.adapters.keras_adapter.optimizers.FINDINGS)
    "keras-jax": {},
}


def without_dtypes(
    impls: list[Implementation], dtypes: Mapping[str, tuple[str, ...]]
) -> list[Implementation]:
    """``impls`` with each one named in ``dtypes`` no longer offering those dtypes."""
    unknown = set(dtypes) - {i.name for i in impls}
    if unknown:
        raise ValueError(f"dtypes: no implementation named {sorted(unknown)}")
    return [
        dataclasses.replace(i, dtypes=tuple(d for d in i.dtypes if d not in dtypes[i.name]))
        if i.name in dtypes
        else i
        for i in impls
    ]


def with_findings(
    impls: list[Implementation], findings: Mapping[str, Mapping[str, str | Finding]]
) -> list[Implementation]:
    """``impls`` with each one named in ``findings`` given those findings (by dtype)."""
    unknown = set(findings) - {i.name for i in impls}
    if unknown:
        raise ValueError(f"findings: no implementation named {sorted(unknown)}")
    return [
        dataclasses.replace(i, findings={**i.findings, **findings[i.name]})
        if i.name in findings
        else i
        for i in impls
    ]


def run_flat(
    run: Callable[[OptimizerCase, str, str], Mapping[str, np.ndarray]],
    case: OptimizerCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """``run`` on the one-parameter :func:`~trainspec.adapters.flat.flat_case` of ``case``, its
    result cut back to the case's parameters."""
    out = run(flat_case(case), dtype, device)
    (flat,) = out.values()
    return from_flat(np.asarray(flat, dtype=np.float64), case.params)


def flat_implementations(impls: list[Implementation]) -> list[Implementation]:
    """``impls`` with each ``run`` going through :func:`run_flat`."""

    def flat(run: Callable[[OptimizerCase, str, str], Any]) -> Callable[..., dict[str, np.ndarray]]:
        return lambda case, dtype, device: run_flat(run, case, dtype, device)

    return [dataclasses.replace(i, run=flat(i.run)) for i in impls]


def _keras_adapter_class() -> type[Adapter]:
    from trainspec.adapters.keras_adapter import KerasAdapter

    return KerasAdapter


class _KerasOnBackend:
    """What the two backends share: Keras's optimizer rows, on the backend named."""

    name = ""
    keras_backend = ""

    def implementations(self) -> list[Implementation]:
        from trainspec.adapters.keras_adapter import optimizers

        impls = optimizers.sgd_implementations() + optimizers.implementations()
        impls = with_findings(impls, FINDINGS[self.name])
        impls = without_dtypes(impls, NOT_OFFERED[self.name])
        return flat_implementations(impls) if self.keras_backend == "jax" else impls

    def repro_call(
        self,
        implementation: Implementation[Any, Any],
        dtype: str,
        device: str,
        case: Mapping[str, Any] | None,
    ) -> ReproCall | None:
        """The calls of the rows with findings as code for ``trainspec repro``, on this backend
        (:mod:`.repro`)."""
        from trainspec.adapters.keras_backends.repro import repro_call

        return repro_call(implementation, dtype, device, case, self.keras_backend)


def _require_backend(backend: str) -> None:
    """Keras must not be imported yet on another backend; set ``KERAS_BACKEND`` if unset."""
    os.environ.setdefault("KERAS_BACKEND", backend)
    if os.environ["KERAS_BACKEND"] != backend:
        raise RuntimeError(
            f"the keras-{backend} adapter needs KERAS_BACKEND={backend}, "
            f"got KERAS_BACKEND={os.environ['KERAS_BACKEND']}"
        )


def KerasJaxAdapter() -> Adapter:
    """Keras's optimizers on the JAX backend (``KERAS_BACKEND=jax``)."""
    _require_backend("jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    base = _keras_adapter_class()

    class Adapter_(_KerasOnBackend, base):  # type: ignore[misc, valid-type]
        name = "keras-jax"
        keras_backend = "jax"

        def versions(self) -> dict[str, str]:
            import keras
            import numpy as np

            return {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__}

        def devices(self) -> list[str]:
            return jax_devices()

        def prepare_device(self, device: str) -> None:
            jax_full_precision()

    return Adapter_()


def KerasTorchAdapter() -> Adapter:
    """Keras's optimizers on the PyTorch backend (``KERAS_BACKEND=torch``)."""
    _require_backend("torch")
    import torch

    base = _keras_adapter_class()

    class Adapter_(_KerasOnBackend, base):  # type: ignore[misc, valid-type]
        name = "keras-torch"
        keras_backend = "torch"

        def versions(self) -> dict[str, str]:
            import keras
            import numpy as np

            return {"keras": keras.__version__, "torch": torch.__version__, "numpy": np.__version__}

        def devices(self) -> list[str]:
            return torch_devices()

        def prepare_device(self, device: str) -> None:
            torch_full_precision()

    return Adapter_()
