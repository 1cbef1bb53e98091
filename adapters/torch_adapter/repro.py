r"""``trainspec repro`` for PyTorch: the adaptive optimizers' call written as code.

The script builds the parameters (a leaf ``nn.Parameter``, or with ``differentiable=True`` the
clone of a leaf that requires grad), the optimizer with the row's flags and code path, loads the
canonical state into ``optimizer.state`` under torch's names (``state["step"]`` a 0-d float32
tensor, on the parameter's device only for ``fused`` and ``capturable``; NAdam's
``mu_product``), sets the learning rate of each step and steps, as
:func:`~trainspec.adapters.torch_adapter.run_torch_optimizer` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.repro import ReproCall, ReproError

__all__ = ["FINDING_EXAMPLES", "repro_call"]

#: spec ID -> (torch's class, its keyword arguments as code over ``hp``)
OPTIMIZERS: dict[str, tuple[str, str]] = {
    "opt.rmsprop": (
        "torch.optim.RMSprop",
        'alpha=hp["rho"], eps=hp["eps"], momentum=hp.get("momentum", 0.0), weight_decay=0.0',
    ),
    "opt.adam": (
        "torch.optim.Adam",
        'betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=0.0',
    ),
    "opt.adamw": (
        "torch.optim.AdamW",
        'betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=hp["weight_decay"]',
    ),
    "opt.nadam": (
        "torch.optim.NAdam",
        'betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=0.0, '
        'momentum_decay=hp["momentum_decay"], decoupled_weight_decay=False',
    ),
}

#: canonical buffer -> torch's state key, per spec (with the flag that keeps it)
STATE_KEYS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "opt.rmsprop": (
        ("square_avg", "square_avg", ""),
        ("momentum_buffer", "momentum_buffer", "momentum"),
        ("grad_avg", "grad_avg", "centered"),
    ),
    "opt.adam": (
        ("m", "exp_avg", ""),
        ("v", "exp_avg_sq", ""),
        ("v_max", "max_exp_avg_sq", "amsgrad"),
    ),
    "opt.nadam": (("m", "exp_avg", ""), ("v", "exp_avg_sq", "")),
}
STATE_KEYS["opt.adamw"] = STATE_KEYS["opt.adam"]

_G = 0.1257302210933933
#: a minimal counterexample per finding id (the kind's JSON case), for rows the report stores
#: none of: the findings' texts state them
FINDING_EXAMPLES: dict[str, dict[str, Any]] = {
    # rho = 0, one step from the initial state: s = g^2, a = g, s - a^2 = 0 exactly; torch's
    # addcmul leaves -fl(g*g) + g*g < 0 (float32 g = 0.1257302165031433) and sqrt gives NaN
    "torch-rmsprop-centered-nan": {
        "check": "one_step",
        "params": {"w0": [0.0, 0.0]},
        "grads": [{"w0": [0.1257302165031433, -0.5356693863868713]}],
        "learning_rates": [0.001],
        "hyperparameters": {"rho": 0.0, "eps": 1e-8, "momentum": 0.0},
        "state": {"count": 0, "buffers": {}},
    },
    # the float32 step tensor: 1 - beta2**step rounded to float32 in a float64 step
    "float32-bias-correction": {
        "check": "one_step",
        "params": {"w0": [_G]},
        "grads": [{"w0": [_G]}],
        "learning_rates": [0.0010000000474974513],
        "hyperparameters": {
            "beta1": 0.0,
            "beta2": 0.9900000095367432,
            "eps": 9.99999993922529e-09,
            "weight_decay": 0.0,
            "momentum_decay": 0.004000000189989805,
        },
        "state": {
            "count": 1,
            "buffers": {"m": {"w0": [_G]}, "v": {"w0": [_G]}, "v_max": {"w0": [_G]}},
        },
    },
    "float32-bias-correction-nadam": {
        "check": "one_step",
        "params": {"w0": [_G]},
        "grads": [{"w0": [_G]}],
        "learning_rates": [0.0010000000474974513],
        "hyperparameters": {
            "beta1": 0.5,
            "beta2": 0.0,
            "eps": 9.99999993922529e-09,
            "momentum_decay": 0.004000000189989805,
        },
        "state": {"count": 1, "buffers": {"m": {"w0": [0.345584192064786]}, "v": {"w0": [_G]}}},
    },
}


#: per dtype, gradients for which torch's centred RMSprop returns NaN from the initial state
CENTERED_NAN_GRADIENTS: dict[str, list[float]] = {
    "float32": [0.1257302165031433, -0.5356693863868713],
    "float64": [0.1257302210933933, -0.1321048632913019],
    "bfloat16": [0.1259765625, -0.1318359375],
    "float16": [0.125732421875, -0.132080078125],
}


def _flags(name: str) -> dict[str, Any]:
    """The flags a row's name states: ``RMSprop(centered=True, capturable=True)[foreach]``."""
    flags: dict[str, Any] = {}
    inner = re.search(r"\((.*)\)", name)
    for part in inner.group(1).split(",") if inner else []:
        key, _, value = part.strip().partition("=")
        if value in ("True", "False"):
            flags[key] = value == "True"
    path = re.search(r"\[(\w+)\]$", name)
    if path:
        flags |= (
            {"foreach": path.group(1) == "foreach"} if path.group(1) != "fused" else {"fused": True}
        )
    elif flags.get("differentiable"):
        flags["foreach"] = False
    return flags


def _example(impl: Implementation[Any, Any], dtype: str) -> dict[str, Any]:
    f = impl.finding(dtype)
    if f is None:
        raise ReproError(
            f"counterexample: the row of {impl.name!r} ({dtype}) has none and no finding"
        )
    if f.id == "torch-rmsprop-centered-nan":
        # gradients whose remainder fl(g*g) - g*g is negative in the dtype (NaN elements of 64
        # standard normal draws, seed 0)
        example = dict(FINDING_EXAMPLES[f.id])
        example["grads"] = [{"w0": CENTERED_NAN_GRADIENTS[dtype]}]
        return example
    if "bias corrections" in f.text:
        if impl.spec_id == "opt.nadam":  # the report's minimal counterexample of NAdam's row
            return FINDING_EXAMPLES["float32-bias-correction-nadam"]
        return FINDING_EXAMPLES["float32-bias-correction"]
    raise ReproError(f"counterexample: no minimal example of finding {f.id[:60]!r}")


def repro_call(
    impl: Implementation[Any, Any], dtype: str, device: str, case: Mapping[str, Any] | None
) -> ReproCall | None:
    """The code of ``impl``'s call (torch's adaptive optimizers), or None for other rows."""
    if impl.spec_id not in OPTIMIZERS or impl.name.startswith("compile("):
        return None
    cls, kwargs = OPTIMIZERS[impl.spec_id]
    flags = _flags(impl.name)
    if case is None:
        case = _example(impl, dtype)
    kept = [
        (canon, key)
        for canon, key, flag in STATE_KEYS[impl.spec_id]
        if not flag
        or (flags.get(flag) if flag != "momentum" else case["hyperparameters"].get("momentum", 0))
    ]
    on_param = bool(flags.get("fused") or flags.get("capturable"))
    make = (
        "torch.tensor(v, dtype=tdtype, device=dev).detach().requires_grad_(True).clone()"
        if flags.get("differentiable")
        else "torch.nn.Parameter(torch.tensor(v, dtype=tdtype, device=dev))"
    )
    flag_args = ", ".join(f"{k}={v!r}" for k, v in flags.items())
    lines = [
        "tdtype, dev = getattr(torch, DTYPE), torch.device(DEVICE)",
        'hp = CASE["hyperparameters"]',
        'names = list(CASE["params"])',
        f'params = [(lambda v: {make})(CASE["params"][k]) for k in names]',
        f'opt = {cls}(params, lr=CASE["learning_rates"][0], {kwargs}, {flag_args})',
        'state = CASE.get("state")',
        "if state is not None:",
        "    for k, p in zip(names, params):",
        "        # torch's step count: a 0-d float32 tensor (on the parameter's device when fused",
        "        # or capturable, else on the CPU), the number of steps already taken",
        "        sdev = p.device if " + repr(on_param) + ' else torch.device("cpu")',
        '        entry = {"step": torch.tensor(float(state["count"]), dtype=torch.float32, device=sdev)}',
    ]
    if impl.spec_id == "opt.nadam":
        lines += [
            "        # NAdam's running product of mu_i = beta1 (1 - 0.96^(i psi) / 2), i <= count",
            "        prod = 1.0",
            '        for i in range(1, int(state["count"]) + 1):',
            '            prod *= hp["beta1"] * (1.0 - 0.5 * 0.96 ** (i * hp["momentum_decay"]))',
            '        entry["mu_product"] = torch.tensor(prod, dtype=torch.float32, device=sdev)',
        ]
    for canon, key in kept:
        lines.append(
            f'        entry[{key!r}] = torch.tensor(state["buffers"].get({canon!r}, {{}}).get(k, '
            f"[0.0] * p.numel()), dtype=p.dtype, device=p.device).reshape(p.shape)"
        )
    lines += [
        "        opt.state[p] = entry",
        'for lr, grads in zip(CASE["learning_rates"], CASE["grads"]):',
        "    for group in opt.param_groups:",
        '        group["lr"] = lr',
        "    for k, p in zip(names, params):",
        "        p.grad = torch.tensor(grads[k], dtype=tdtype, device=dev)",
        "    opt.step()",
        "GOT = {k: p.detach().cpu().double().numpy() for k, p in zip(names, params)}",
    ]
    variant = {
        "opt.rmsprop": "centered=centered, momentum_form=eta_outside"
        if flags.get("centered")
        else "momentum_form=eta_outside",
        "opt.adam": "amsgrad=max_uncorrected" if flags.get("amsgrad") else "default",
        "opt.adamw": "amsgrad=max_uncorrected" if flags.get("amsgrad") else "default",
        "opt.nadam": "default",
    }[impl.spec_id]
    return ReproCall(
        imports="import torch",
        versions='"torch " + torch.__version__',
        call="\n".join(lines),
        case=case,
        variant=variant,
    )
