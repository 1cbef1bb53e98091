r"""``torch.compile`` of an optimizer step: the backend ``torch-compile``.

A compiled step is separate code: TorchDynamo traces ``optimizer.step()`` and TorchInductor
generates and compiles a C++ kernel for it on the CPU (Triton on CUDA), fusing the update's
operations and evaluating them in its own order and intermediate precision. Each compiled
optimizer is therefore its own row, in its own backend so that its compile cost (seconds per
compiled graph) stays out of the ``torch`` backend's suite (``tox -e torch-compile``).

How a case runs (the pattern of PyTorch's recipe "Compiling the optimizer with torch.compile",
with the learning rate a tensor as its "LR scheduler" section prescribes):

* the optimizer updates one flat parameter of :data:`FLAT` elements (the kit's largest parameter
  tree): the case's tensors are concatenated and zero-padded into it (:func:`to_flat`) and cut
  back afterwards (:func:`from_flat`). These optimizers are elementwise, and a zero parameter
  with zero gradient and zero state stays finite, so no element reads another;
* hyperparameters that torch accepts as tensors and that the graph uses only in arithmetic
  (``lr``; Adam's ``betas``) are float64 0-d tensors (every Python float is a float64, so they hold the
  case's values exactly) written in place before every case; the others (``eps``, ``momentum``,
  ``weight_decay``, ...) are constants of the compiled graph, so one compiled step
  (optimizer, parameter, compiled function) is built per distinct value of them, dtype and
  device, and reused by every case that shares them: :class:`CompiledStep`;
* the state is written in place before every case: the canonical state of a one-step case, or
  the initial state ``_init_group`` creates (zeros, ``step`` 0; Adagrad's accumulator at
  ``initial_accumulator_value``) for a trajectory, so that both checks share one graph.

TorchDynamo's recompile limits are raised and a hit limit raises (``fail_on_recompile_limit_hit``)
instead of silently running the eager step: a row that reports a verdict ran compiled code.

TorchInductor's FX graph cache and AOTAutograd's cache are off for these rows: with them on, a
compiled ``SGD(nesterov=True)`` step (and ``RMSprop``'s) built for one ``momentum`` returned the
parameters of a graph compiled for another value within one process (a fresh cache directory,
float64 and float32; the eager step and the uncached compiled step agree with the spec). No
minimal standalone reproduction separates it yet from the kit's sequence of optimizers; until
one does, the rows measure the compiler's arithmetic, not its cache.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trainspec.adapters.flat import from_flat, to_flat
from trainspec.adapters.torch_adapter import TorchAdapter, _device
from trainspec.adapters.torch_adapter.optimizers import (
    DTYPES,
    buffer_from_canonical,
    state_keys,
    step_from_count,
)
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.conformance.strategies import MAX_ELEMENTS

__all__ = [
    "FLAT",
    "CompiledStep",
    "TorchCompileAdapter",
    "compiled_implementations",
    "from_flat",
    "to_flat",
]

#: the length of the flat parameter every compiled step updates
FLAT = MAX_ELEMENTS
_DYNAMO_LIMITS = {
    "recompile_limit": 100_000,
    "accumulated_recompile_limit": 100_000,
    "fail_on_recompile_limit_hit": True,
}


@dataclass(frozen=True)
class Recipe:
    """How to build one compiled optimizer from a case.

    ``cls`` is the optimizer; ``tensor_hps(case)`` the keyword arguments torch takes as tensors
    (values as floats; a tuple for ``betas``); ``float_hps(case)`` those that are constants of the
    graph; ``spec_state`` the spec ID whose canonical buffers the state holds (``None``: SGD);
    ``initial(case)`` the initial value of each canonical buffer (default 0)."""

    cls: type[torch.optim.Optimizer]
    tensor_hps: Callable[[OptimizerCase], dict[str, Any]]
    float_hps: Callable[[OptimizerCase], dict[str, Any]]
    spec_state: str | None
    initial: Callable[[OptimizerCase], dict[str, float]] = field(default=lambda c: {})


class CompiledStep:
    """One optimizer over a flat parameter, its ``step`` compiled; cases are written in place."""

    def __init__(
        self, recipe: Recipe, case: OptimizerCase, dtype: torch.dtype, device: torch.device
    ) -> None:
        self.recipe, self.dtype, self.device = recipe, dtype, device
        self.param = torch.nn.Parameter(torch.zeros(FLAT, dtype=dtype, device=device))
        self.param.grad = torch.zeros_like(self.param)
        self.hps = {
            k: tuple(self._scalar(x) for x in v) if isinstance(v, tuple) else self._scalar(v)
            for k, v in recipe.tensor_hps(case).items()
        }
        self.opt = recipe.cls(
            [self.param], lr=self._scalar(case.learning_rates[0]), **self.hps,
            **recipe.float_hps(case),
        )  # fmt: skip
        self.step = torch.compile(_own_code(self.opt))

    def _scalar(self, value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float64, device=self.device)

    def load(self, case: OptimizerCase) -> None:
        """Write the case's tensor hyperparameters and state (or the initial state) in place."""
        for k, v in self.recipe.tensor_hps(case).items():
            for t, x in zip(
                self.hps[k] if isinstance(v, tuple) else (self.hps[k],),
                v if isinstance(v, tuple) else (v,),
                strict=True,
            ):
                t.fill_(x)
        group = self.opt.param_groups[0]
        state = self.opt.state[self.param]
        count = 0 if case.state is None else case.state.count
        if self.recipe.spec_state is None:  # SGD: the momentum buffer, when momentum is used
            if group["momentum"] != 0:
                trace = (
                    np.zeros(FLAT) if case.state is None else to_flat(case.state.buffers["trace"])
                )
                self._put(state, "momentum_buffer", trace)
            return
        self._put(state, "step", step_from_count(count, self.param, group), scalar=True)
        initial = self.recipe.initial(case)
        for canonical, key in state_keys(self.recipe.spec_state, group).items():
            values = (
                np.full(FLAT, initial.get(canonical, 0.0))
                if case.state is None
                else to_flat(case.state.buffers[canonical])
            )
            self._put(state, key, values)

    def _put(self, state: dict[str, Any], key: str, value: Any, *, scalar: bool = False) -> None:
        tensor = value if scalar else buffer_from_canonical(value, self.param)
        if key in state and state[key] is not None:
            with torch.no_grad():
                state[key].copy_(tensor)
        else:
            state[key] = tensor

    def run(self, case: OptimizerCase) -> dict[str, np.ndarray]:
        """Every step of ``case`` through the compiled step; the parameters after them."""
        self.load(case)
        with torch.no_grad():
            self.param.copy_(torch.tensor(to_flat(case.params), dtype=self.dtype))
        with (
            torch._dynamo.config.patch(**_DYNAMO_LIMITS),
            torch._inductor.config.patch(fx_graph_cache=False),
            torch._functorch.config.patch(enable_autograd_cache=False),
        ):
            for lr, grads in zip(case.learning_rates, case.grads, strict=True):
                self.opt.param_groups[0]["lr"].fill_(lr)
                with torch.no_grad():
                    self.param.grad.copy_(torch.tensor(to_flat(grads), dtype=self.dtype))
                self.step()
        return from_flat(self.param.detach().cpu().double().numpy(), case.params)


_STEPS: dict[tuple[Any, ...], CompiledStep] = {}
_CODES = itertools.count()


def _own_code(opt: torch.optim.Optimizer) -> Callable[[], None]:
    """``opt.step()`` as a function with a code object of its own.

    TorchDynamo caches compiled graphs per code object and, for a step function shared by
    several optimizers, reuses a graph across optimizers whose constant hyperparameters differ
    (seen with ``SGD``'s ``momentum``): each compiled step gets its own code object, hence its
    own cache.
    """

    def step() -> None:
        opt.step()

    code = step.__code__.replace(co_name=f"compiled_step_{next(_CODES)}")
    return types.FunctionType(code, step.__globals__, code.co_name, None, step.__closure__)


def run_compiled(recipe: Recipe, case: OptimizerCase, dtype: str, device: str) -> dict[str, Any]:
    """``case`` through the compiled step of ``recipe`` for its graph constants (built once)."""
    key = (id(recipe), dtype, device, tuple(sorted(recipe.float_hps(case).items())))
    if key not in _STEPS:
        _STEPS[key] = CompiledStep(recipe, case, DTYPES[dtype], _device(device))
    return _STEPS[key].run(case)


def _hp(case: OptimizerCase, name: str, default: float = 0.0) -> float:
    return float(case.hyperparameters.get(name, default))


def _sgd(**fixed: Any) -> Recipe:
    return Recipe(
        torch.optim.SGD,
        lambda c: {},
        lambda c: {
            "momentum": _hp(c, "momentum"),
            "dampening": 0.0,
            "weight_decay": _hp(c, "weight_decay"),
            **fixed,
        },
        None,
    )


def _adam(cls: type[torch.optim.Optimizer], **fixed: Any) -> Recipe:
    return Recipe(
        cls,
        lambda c: {"betas": (_hp(c, "beta1"), _hp(c, "beta2"))},
        lambda c: {
            "eps": _hp(c, "eps"),
            "weight_decay": _hp(c, "weight_decay") if cls is torch.optim.AdamW else 0.0,
            **fixed,
        },
        "opt.adam",
    )


def _adagrad() -> Recipe:
    return Recipe(
        torch.optim.Adagrad,
        lambda c: {},
        lambda c: {
            "eps": _hp(c, "eps"),
            "initial_accumulator_value": _hp(c, "initial_accumulator_value"),
        },
        "opt.adagrad",
        lambda c: {"accumulator": _hp(c, "initial_accumulator_value")},
    )


def _rmsprop(**fixed: Any) -> Recipe:
    return Recipe(
        torch.optim.RMSprop,
        lambda c: {},
        lambda c: {
            "alpha": _hp(c, "rho"),
            "eps": _hp(c, "eps"),
            "momentum": _hp(c, "momentum"),
            **fixed,
        },
        "opt.rmsprop",
    )


#: spec ID, row name, recipe
COMPILED: tuple[tuple[str, str, Recipe], ...] = (
    ("opt.gd", "compile(SGD)", _sgd()),
    ("opt.momentum", "compile(SGD(momentum))", _sgd()),
    ("opt.nesterov", "compile(SGD(nesterov=True))", _sgd(nesterov=True)),
    ("opt.weight_decay", "compile(SGD(weight_decay))", _sgd()),
    ("opt.adagrad", "compile(Adagrad)", _adagrad()),
    ("opt.rmsprop", "compile(RMSprop)", _rmsprop()),
    ("opt.adam", "compile(Adam)", _adam(torch.optim.Adam)),
    ("opt.adam", "compile(Adam(amsgrad=True))", _adam(torch.optim.Adam, amsgrad=True)),
    ("opt.adamw", "compile(AdamW)", _adam(torch.optim.AdamW)),
)

#: known findings of the compiled rows, by row name: dtype -> text
FINDINGS: dict[str, dict[str, str]] = {}


def compiled_implementations() -> list[Implementation]:
    """Every compiled optimizer step, a row each (not collected by the ``torch`` backend)."""

    def impl(spec_id: str, name: str, recipe: Recipe) -> Implementation:
        return Implementation(
            spec_id=spec_id,
            name=name,
            run=lambda case, dtype, device: run_compiled(recipe, case, dtype, device),
            dtypes=tuple(DTYPES),
            devices=("cpu", "cuda"),
            findings=FINDINGS.get(name, {}),
        )

    return [impl(*row) for row in COMPILED]


class TorchCompileAdapter(TorchAdapter):
    """``torch.compile``-d optimizer steps (TorchInductor: C++ on the CPU, Triton on CUDA)."""

    name = "torch-compile"

    def implementations(self) -> list[Implementation]:
        return compiled_implementations()
