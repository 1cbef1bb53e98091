r"""The flags of ``torch.optim`` that select other code: ``differentiable=True`` and
``capturable=True``, each its own row next to the plain code paths of
:mod:`~trainspec.adapters.torch_adapter.optimizers`.

* ``differentiable=True`` runs the step with autograd on (``_use_grad_for_differentiable``), so
  that the updated parameters are differentiable functions of the old ones and of the
  hyperparameters (meta-learning). Its parameters are non-leaf tensors (a leaf that requires
  grad cannot be updated in place; the optimizer accepts a non-leaf only under this flag):
  :func:`differentiable_param`. It has no ``foreach`` or ``fused`` path: one row per optimizer.
* ``capturable=True`` keeps ``step`` (and NAdam's ``mu_product``) on the parameters' device and
  computes the bias corrections there, with tensors instead of Python floats, so that the step
  can be captured in a CUDA graph. torch accepts it only for parameters on an accelerator: these
  rows declare ``cuda`` only. ``SGD`` and ``Adagrad`` have no such flag.

The state loading and the hyperparameter mapping are those of the plain rows (the step's
placement already follows ``capturable``: :func:`~trainspec.adapters.torch_adapter.optimizers.step_from_count`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainspec.adapters.torch_adapter import run_torch_optimizer
from trainspec.adapters.torch_adapter.optimizers import (
    ADAPTIVE,
    DTYPES,
    FINDINGS,
    Maker,
    _sgd,
    adaptive_loader,
)
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase

__all__ = ["CAPTURABLE", "differentiable_param", "implementations"]

#: the adaptive optimizers that take ``capturable`` (every one but Adagrad)
CAPTURABLE = ("Adam", "Adam(amsgrad=True)", "AdamW", "AdamW(amsgrad=True)", "RMSprop",
              "RMSprop(centered=True)", "NAdam", "Adamax", "Adadelta")  # fmt: skip


_FLOAT32_BIAS_CORRECTION = (
    "with differentiable=True (and capturable=True) torch keeps state['step'] as a tensor and "
    "evaluates the bias corrections 1 - beta**step (NAdam: also the momentum-schedule product) "
    "with it; that tensor is float32 (the default scalar dtype) for float64 parameters, so a "
    "float64 step is off by ~1e-7 relative. Minimal counterexample: Adam, one step from count=1 "
    "with m = v = g = 0.1257302210933933, beta1 = 0, beta2 = 0.99000000953, lr = 1e-3, eps = 1e-8: "
    "2.1e-11 from the float64 formula (the plain path: 0). Repro: "
    "docs/findings/torch_differentiable_float32_bias_correction.py"
)
#: the rows (by optimizer name) whose float64 step rounds the bias corrections to float32
FLOAT32_BIAS_CORRECTION = (
    "Adam", "Adam(amsgrad=True)", "AdamW", "AdamW(amsgrad=True)", "NAdam",
)  # fmt: skip


def differentiable_param(value: torch.Tensor) -> torch.Tensor:
    """A non-leaf tensor holding ``value`` that requires grad: what a ``differentiable=True``
    optimizer updates in place (the clone of a leaf, as in a meta-learning inner loop)."""
    return value.detach().requires_grad_(True).clone()


def run_flagged(
    spec_id: str | None, make: Maker, case: OptimizerCase, dtype: str, device: str, **kw: Any
) -> dict[str, np.ndarray]:
    """One case through ``make``'s optimizer; ``spec_id`` None: SGD (its momentum loader)."""
    load = None if spec_id is None else adaptive_loader(spec_id)
    return run_torch_optimizer(make, case, dtype, device, load=load, dtypes=DTYPES, **kw)


def _finding(name: str, path: str) -> dict[str, str | Finding]:
    """The plain row's findings per dtype (same formula's code), and the float64 bias corrections'."""
    out: dict[str, str | Finding] = dict(FINDINGS.get(f"{name}[{path}]", {}))
    if name in FLOAT32_BIAS_CORRECTION:
        assert "float64" not in out, f"{name}: two findings in float64"
        out["float64"] = _FLOAT32_BIAS_CORRECTION
    return out


def _row(
    spec_id: str, opt_id: str | None, name: str, make: Maker, devices: tuple[str, ...], **kw: Any
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_flagged(opt_id, make, case, dtype, device, **kw),
        dtypes=tuple(DTYPES),
        devices=devices,
    )


def implementations() -> list[Implementation]:
    """SGD and every adaptive optimizer with ``differentiable=True`` (CPU and CUDA), and every
    optimizer that has it with ``capturable=True`` (CUDA only, single-tensor and foreach)."""
    diff = {"differentiable": True, "foreach": False}
    out = [
        _row(spec, None, f"SGD({label}differentiable=True)", _sgd(**flags, **diff), ("cpu", "cuda"),
             make_param=differentiable_param)
        for spec, label, flags in (
            ("opt.gd", "", {}),
            ("opt.momentum", "momentum, ", {}),
            ("opt.nesterov", "nesterov=True, ", {"nesterov": True}),
            ("opt.weight_decay", "weight_decay, ", {}),
        )
    ]  # fmt: skip
    for spec_id, name, maker, _paths in ADAPTIVE:
        out.append(
            _with_finding(
                _row(spec_id, spec_id, f"{_flagged(name, 'differentiable=True')}",
                     maker(**diff), ("cpu", "cuda"), make_param=differentiable_param),
                name, "single_tensor",
            )
        )  # fmt: skip
        if name in CAPTURABLE:
            for path in ("single_tensor", "foreach"):
                flags = {"capturable": True, "foreach": path == "foreach"}
                out.append(
                    _with_finding(
                        _row(spec_id, spec_id, f"{_flagged(name, 'capturable=True')}[{path}]",
                             maker(**flags), ("cuda",)),
                        name, path,
                    )
                )  # fmt: skip
    return out


def _flagged(name: str, flag: str) -> str:
    """``Adam`` -> ``Adam(flag)``; ``Adam(amsgrad=True)`` -> ``Adam(amsgrad=True, flag)``."""
    return f"{name[:-1]}, {flag})" if name.endswith(")") else f"{name}({flag})"


def _with_finding(impl: Implementation, name: str, path: str) -> Implementation:
    """``impl`` with the plain row's finding, where the flag runs the same formula's code."""
    findings = _finding(name, path)
    if not findings:
        return impl
    return Implementation(
        impl.spec_id, impl.name, impl.run, impl.dtypes, impl.devices, impl.description,
        impl.options, findings,
    )  # fmt: skip
