r"""PyTorch's adaptive optimizers: ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``, ``NAdam``,
``Adamax`` and ``Adadelta`` (``opt.adagrad`` ... ``opt.adadelta``).

Conventions mapped here (each in one small function, tested in
``tests/adapters/torch_adapter/test_adaptive.py``):

* the step count: ``state["step"]`` holds the number of steps already taken, i.e. the canonical
  ``count`` (torch increments it before the bias corrections), as a 0-d float tensor whose dtype
  and device are those ``_init_group`` gives it (float32 on the parameter's device for ``fused``;
  the default scalar dtype, on the CPU unless ``capturable``, otherwise): :func:`step_from_count`;
* the names of the buffers: which canonical buffer is which torch state entry, and which entries
  torch keeps at all for a group's flags (``max_exp_avg_sq`` only with ``amsgrad``, ``grad_avg``
  only when ``centered``, ``momentum_buffer`` only when ``momentum > 0``): :func:`state_keys`;
  the values are the canonical ones unchanged (torch's ``sum``, ``square_avg``, ``grad_avg``,
  ``momentum_buffer`` (learning-rate free, as the canonical one), ``exp_avg``, ``exp_avg_sq``,
  ``max_exp_avg_sq`` (the maximum of the *uncorrected* $v$), ``exp_inf`` ($\epsilon$ included,
  as the spec's ``in_max`` form stores it) and ``acc_delta``): :func:`buffer_from_canonical`;
* NAdam's ``state["mu_product"]`` is not a canonical buffer: it is $\prod_{i \le count} \mu_i$,
  a function of ``count``, $\beta_1$ and ``momentum_decay`` (the ``dozat_decay`` schedule),
  stored like ``step`` (float32, so rounded once): :func:`mu_product_from_count`;
* hyperparameters torch has and the spec does not draw are set to the value that makes torch's
  formula the spec's: ``lr_decay=0`` and ``weight_decay=0`` (Adagrad, RMSprop, Adam, NAdam,
  Adamax, Adadelta), ``decoupled_weight_decay=False`` (NAdam); the spec's ``rho`` of RMSprop is
  torch's ``alpha``; ``beta1, beta2`` are torch's ``betas``.

Every code path (single-tensor loop, ``foreach``, ``fused`` where the optimizer has one) is its
own implementation, and so is every flag that selects another formula (``amsgrad=True``,
``centered=True``). Rows run in float32, float64 and bfloat16, and float16 where
:data:`FLOAT16_ROWS` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, CODE_PATHS, run_torch_optimizer
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_variance_near_zero,
)
from trainspec.reference.optimizers.nadam import nadam_momentum_product

__all__ = [
    "ADAPTIVE",
    "DTYPES",
    "adaptive_loader",
    "buffer_from_canonical",
    "implementations",
    "mu_product_from_count",
    "state_keys",
    "step_from_count",
]

Maker = Callable[[list[torch.nn.Parameter], OptimizerCase], torch.optim.Optimizer]
Loader = Callable[[torch.optim.Optimizer, dict[str, torch.nn.Parameter], OptimizerCase], None]

#: the dtypes of these rows (float16: only the optimizers of :data:`FLOAT16_ROWS`)
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
}
#: the optimizers with float16 rows. The strategies' float16 draws are square-safe (squares of
#: gradients are normal numbers, sums of 16 of them finite: ``square_safe_bound``,
#: ``square_safe_floor``). Adam, AdamW, NAdam and Adamax step by more than float16's 65504 where
#: v (u) is exactly 0 (beta2 = 0 and a zero gradient): lr * m_hat / eps with eps = 2^-23
#: overflows, and torch's inf is the correctly rounded result, which the tolerance policy's
#: overflow rule accepts (``tolerance.rounds_to_infinity``, docs/tolerance.md).
FLOAT16_ROWS = frozenset(
    {"Adagrad", "RMSprop", "RMSprop(centered=True)", "Adam", "Adam(amsgrad=True)", "AdamW",
     "AdamW(amsgrad=True)", "NAdam", "Adamax", "Adadelta"}
)  # fmt: skip
_WITH_FLOAT16 = {**DTYPES, "float16": torch.float16}
# the optimizers without a fused implementation (their constructors take no ``fused``)
UNFUSED_PATHS = {k: v for k, v in CODE_PATHS.items() if "fused" not in v}


def _scalar_state_placement(
    param: torch.Tensor, group: Mapping[str, Any]
) -> tuple[torch.dtype, torch.device]:
    """dtype and device of torch's scalar state (``step``, ``mu_product``), as ``_init_group``:
    float32 on the parameter's device when fused; else the default scalar dtype (float64 only
    when that is torch's default dtype), on the parameter's device only when capturable."""
    if group.get("fused"):
        return torch.float32, param.device
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return dtype, param.device if group.get("capturable") else torch.device("cpu")


def step_from_count(count: int, param: torch.Tensor, group: Mapping[str, Any]) -> torch.Tensor:
    """torch's ``state["step"]`` is the canonical ``count`` (steps already taken; torch adds 1
    before using it), a 0-d float tensor placed as ``_init_group`` places it for ``group``."""
    dtype, device = _scalar_state_placement(param, group)
    return torch.tensor(float(count), dtype=dtype, device=device)


def mu_product_from_count(
    count: int, beta1: float, momentum_decay: float, param: torch.Tensor, group: Mapping[str, Any]
) -> torch.Tensor:
    r"""NAdam's ``state["mu_product"]``: $\prod_{i \le count} \mu_i$ with torch's schedule
    $\mu_i = \beta_1 (1 - \tfrac12\, 0.96^{i \psi})$ (the spec's ``dozat_decay``), stored like
    ``step`` (a float32 tensor unless float64 is the default dtype)."""
    value = nadam_momentum_product(count, beta1, momentum_decay, "dozat_decay")
    dtype, device = _scalar_state_placement(param, group)
    return torch.tensor(value, dtype=dtype, device=device)


# canonical buffer -> torch state key, with the group flag torch keeps the entry under
_STATE_KEYS: dict[str, tuple[tuple[str, str, Callable[[Mapping[str, Any]], bool]], ...]] = {
    "opt.adagrad": (("accumulator", "sum", lambda g: True),),
    "opt.rmsprop": (
        ("square_avg", "square_avg", lambda g: True),
        ("momentum_buffer", "momentum_buffer", lambda g: g["momentum"] > 0),
        ("grad_avg", "grad_avg", lambda g: bool(g["centered"])),
    ),
    "opt.adam": (
        ("m", "exp_avg", lambda g: True),
        ("v", "exp_avg_sq", lambda g: True),
        ("v_max", "max_exp_avg_sq", lambda g: bool(g["amsgrad"])),
    ),
    "opt.nadam": (("m", "exp_avg", lambda g: True), ("v", "exp_avg_sq", lambda g: True)),
    "opt.adamax": (("m", "exp_avg", lambda g: True), ("u", "exp_inf", lambda g: True)),
    "opt.adadelta": (
        ("square_avg", "square_avg", lambda g: True),
        ("acc_delta", "acc_delta", lambda g: True),
    ),
}
_STATE_KEYS["opt.adamw"] = _STATE_KEYS["opt.adam"]


def state_keys(spec_id: str, group: Mapping[str, Any]) -> dict[str, str]:
    """The canonical buffers torch keeps for ``spec_id`` under ``group``'s flags, each mapped to
    the name of torch's state entry (what ``_init_group`` creates, no more, no less)."""
    return {c: key for c, key, kept in _STATE_KEYS[spec_id] if kept(group)}


def buffer_from_canonical(buffer: np.ndarray, param: torch.Tensor) -> torch.Tensor:
    """torch's buffers of the adaptive optimizers hold the canonical values unchanged, in the
    parameter's dtype and on its device."""
    return torch.tensor(buffer, dtype=param.dtype, device=param.device)


def adaptive_loader(spec_id: str) -> Loader:
    """Write a canonical state into torch's per-parameter state as ``_init_group`` would have
    created it (every entry present, so that torch does not initialise it again)."""

    def load(
        opt: torch.optim.Optimizer, named: dict[str, torch.nn.Parameter], case: OptimizerCase
    ) -> None:
        state = case.state
        if state is None:
            raise ValueError("case.state: the loader needs a canonical state (got None)")
        group = opt.param_groups[0]
        keys = state_keys(spec_id, group)
        for k, p in named.items():
            entry: dict[str, Any] = {"step": step_from_count(state.count, p, group)}
            if spec_id == "opt.nadam":
                entry["mu_product"] = mu_product_from_count(
                    state.count, group["betas"][0], group["momentum_decay"], p, group
                )
            for canonical, key in keys.items():
                entry[key] = buffer_from_canonical(state.buffers[canonical][k], p)
            opt.state[p] = entry  # replaces what an eager constructor (Adagrad) put there

    return load


# --- the optimizers, with the case's hyperparameters --------------------------------------------


def _adagrad(**fixed: Any) -> Maker:
    """``torch.optim.Adagrad``: ``lr_decay`` and ``weight_decay`` 0 (not drawn by the spec)."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return torch.optim.Adagrad(
            params,
            lr=case.learning_rates[0],
            lr_decay=0.0,
            weight_decay=0.0,
            initial_accumulator_value=hp["initial_accumulator_value"],
            eps=hp["eps"],
            **fixed,
        )

    return make


def _rmsprop(**fixed: Any) -> Maker:
    """``torch.optim.RMSprop``: the spec's ``rho`` is torch's ``alpha``; ``weight_decay`` 0."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return torch.optim.RMSprop(
            params,
            lr=case.learning_rates[0],
            alpha=hp["rho"],
            eps=hp["eps"],
            weight_decay=0.0,
            momentum=hp["momentum"],
            **fixed,
        )

    return make


def _adam(cls: type[torch.optim.Optimizer] = torch.optim.Adam, **fixed: Any) -> Maker:
    """``torch.optim.Adam`` (``weight_decay`` 0) or ``AdamW`` (the case's ``weight_decay``)."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return cls(
            params,
            lr=case.learning_rates[0],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=hp["weight_decay"] if cls is torch.optim.AdamW else 0.0,
            **fixed,
        )

    return make


def _nadam(**fixed: Any) -> Maker:
    """``torch.optim.NAdam``: ``weight_decay`` 0, ``decoupled_weight_decay=False``."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return torch.optim.NAdam(
            params,
            lr=case.learning_rates[0],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=0.0,
            momentum_decay=hp["momentum_decay"],
            decoupled_weight_decay=False,
            **fixed,
        )

    return make


def _adamax(**fixed: Any) -> Maker:
    """``torch.optim.Adamax``: ``weight_decay`` 0."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return torch.optim.Adamax(
            params,
            lr=case.learning_rates[0],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=0.0,
            **fixed,
        )

    return make


def _adadelta(**fixed: Any) -> Maker:
    """``torch.optim.Adadelta``: ``weight_decay`` 0."""

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        return torch.optim.Adadelta(
            params,
            lr=case.learning_rates[0],
            rho=hp["rho"],
            eps=hp["eps"],
            weight_decay=0.0,
            **fixed,
        )

    return make


#: the adaptive optimizers: spec ID, torch's name, how to build it (given a code path's flags),
#: and the code paths it has
ADAPTIVE: tuple[tuple[str, str, Callable[..., Maker], dict[str, dict[str, Any]]], ...] = (
    ("opt.adagrad", "Adagrad", _adagrad, CODE_PATHS),
    ("opt.rmsprop", "RMSprop", _rmsprop, UNFUSED_PATHS),
    (
        "opt.rmsprop",
        "RMSprop(centered=True)",
        lambda **f: _rmsprop(centered=True, **f),
        UNFUSED_PATHS,
    ),
    ("opt.adam", "Adam", _adam, CODE_PATHS),
    ("opt.adam", "Adam(amsgrad=True)", lambda **f: _adam(amsgrad=True, **f), CODE_PATHS),
    ("opt.adamw", "AdamW", lambda **f: _adam(torch.optim.AdamW, **f), CODE_PATHS),
    (
        "opt.adamw",
        "AdamW(amsgrad=True)",
        lambda **f: _adam(torch.optim.AdamW, amsgrad=True, **f),
        CODE_PATHS,
    ),
    ("opt.nadam", "NAdam", _nadam, UNFUSED_PATHS),
    ("opt.adamax", "Adamax", _adamax, UNFUSED_PATHS),
    ("opt.adadelta", "Adadelta", _adadelta, UNFUSED_PATHS),
)

_CENTERED_NAN = (
    "torch.optim.RMSprop(centered=True) returns NaN where the centered variance "
    "square_avg - grad_avg**2 is exactly 0: it evaluates it as square_avg.addcmul(grad_avg, "
    "grad_avg, value=-1), a fused multiply-add that subtracts the exact product from the rounded "
    "square, then sqrt_(). Minimal counterexample: alpha (rho) = 0, one step from the initial "
    "state with g = 0.1257302165031433 in float32 (also float64, bfloat16; single_tensor and "
    "foreach): square_avg = fl(g*g), grad_avg = g, fl(g*g) - g*g = -5.0e-10, sqrt gives NaN; "
    "the exact step is -lr*g/eps. Any state with square_avg = grad_avg**2 in exact arithmetic "
    "and rho = 0 (or a rounding that brings the remainder below 0) does the same."
)


def _centred_finding(dtype: str) -> Finding:
    return Finding(
        "torch-rmsprop-centered-nan",
        _CENTERED_NAN,
        region=lambda case: centred_variance_near_zero(case, dtype),
        region_text=CENTRED_REGION_TEXT,
    )


#: implementations whose rows have a finding (see their descriptions), by name: dtype -> finding
FINDINGS: dict[str, dict[str, Finding]] = {
    f"RMSprop(centered=True)[{path}]": {d: _centred_finding(d) for d in _WITH_FLOAT16}
    for path in ("single_tensor", "foreach")
}

#: the hyperparameters each optimizer's maker pins (the spec does not draw them), by torch's name
PINNED: dict[str, dict[str, Any]] = {
    "Adagrad": {"lr_decay": 0.0, "weight_decay": 0.0},
    "RMSprop": {"weight_decay": 0.0},
    "Adam": {"weight_decay": 0.0},
    "AdamW": {},
    "NAdam": {"weight_decay": 0.0, "decoupled_weight_decay": False},
    "Adamax": {"weight_decay": 0.0},
    "Adadelta": {"weight_decay": 0.0},
}


def run_adaptive(
    spec_id: str, make: Maker, case: OptimizerCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """One case through ``make``'s optimizer with this family's state loader and dtypes."""
    return run_torch_optimizer(
        make, case, dtype, device, load=adaptive_loader(spec_id), dtypes=_WITH_FLOAT16
    )


def _impl(spec_id: str, name: str, make: Maker) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_adaptive(spec_id, make, case, dtype, device),
        dtypes=tuple(DTYPES) + (("float16",) if name.split("[")[0] in FLOAT16_ROWS else ()),
        devices=("cpu", "cuda"),
        findings=FINDINGS.get(name, {}),
        pinned=PINNED[name.split("(")[0].split("[")[0]],
    )


def implementations() -> list[Implementation]:
    """Every adaptive optimizer in every code path torch offers, each its own row."""
    return [
        _impl(spec_id, f"{name}[{path}]", maker(**flags))
        for spec_id, name, maker, paths in ADAPTIVE
        for path, flags in paths.items()
    ]


# ---------------------------------------------------------------------------------------------
# SGD (opt.gd, opt.momentum, opt.nesterov, opt.weight_decay): torch.optim.SGD on every code path


def _sgd(
    **fixed: Any,
) -> Callable[[list[torch.nn.Parameter], OptimizerCase], torch.optim.Optimizer]:
    """``torch.optim.SGD`` with the case's hyperparameters; ``fixed`` adds code path and flags."""
    fixed = dict(fixed)
    dampening_is_momentum = fixed.pop("dampening_is_momentum", False)

    def make(params: list[torch.nn.Parameter], case: OptimizerCase) -> torch.optim.Optimizer:
        hp = case.hyperparameters
        mu = hp.get("momentum", 0.0)
        return torch.optim.SGD(
            params,
            lr=case.learning_rates[0],
            momentum=mu,
            dampening=mu if dampening_is_momentum else 0.0,
            weight_decay=hp.get("weight_decay", 0.0),
            **fixed,
        )

    return make


def _sgd_impl(
    spec_id: str, name: str, make: Callable[..., torch.optim.Optimizer], devices: tuple[str, ...]
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_torch_optimizer(make, case, dtype, device),
        dtypes=tuple(_DTYPES),
        devices=devices,
    )


def sgd_implementations() -> list[Implementation]:
    """``torch.optim.SGD`` on every code path (the adapter lists these rows first)."""
    out: list[Implementation] = []
    both = ("cpu", "cuda")
    for path, flags in CODE_PATHS.items():
        out.append(_sgd_impl("opt.gd", f"SGD[{path}]", _sgd(**flags), both))
        out.append(_sgd_impl("opt.momentum", f"SGD(momentum)[{path}]", _sgd(**flags), both))
        out.append(
            _sgd_impl(
                "opt.nesterov", f"SGD(nesterov=True)[{path}]", _sgd(nesterov=True, **flags), both
            )
        )
        out.append(_sgd_impl("opt.weight_decay", f"SGD(weight_decay)[{path}]", _sgd(**flags), both))
    out.append(
        _sgd_impl(
            "opt.momentum",
            "SGD(dampening=momentum)[single_tensor]",
            _sgd(dampening_is_momentum=True, foreach=False),
            both,
        )
    )
    return out
