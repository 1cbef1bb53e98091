"""Independent NumPy implementations, computed *in the dtype under test*, to exercise the kit.

They are not stand-ins for a framework: they are honest (or deliberately faulty) implementations
of the formulas, written out by hand in float32/float64 NumPy, so that the kit's tolerance policy
and verdict logic can be tested without any framework installed.
"""

from __future__ import annotations

import numpy as np

from trainspec.conformance.adapter import Adapter, Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase

NP = {"float32": np.float32, "float64": np.float64}


def heavy_ball(
    case: OptimizerCase,
    dtype: str,
    device: str,
    *,
    nesterov: bool = False,
    coefficient=None,
    wd_sign: float = 1.0,
):
    """Form (c) momentum / Nesterov (eta outside), with coupled L2 weight decay, in ``dtype``."""
    t = NP[dtype]
    mu = t(case.hyperparameters.get("momentum", 0.0))
    lam = t(case.hyperparameters.get("weight_decay", 0.0))
    params = {k: v.astype(t) for k, v in case.params.items()}
    if case.state is not None and "trace" in case.state.buffers:
        buf = {k: v.astype(t) for k, v in case.state.buffers["trace"].items()}
    else:
        buf = {k: np.zeros_like(v) for k, v in params.items()}
    for lr, grads in zip(case.learning_rates, case.grads, strict=True):
        lr = t(lr)
        for k in params:
            g = grads[k].astype(t) + wd_sign * lam * params[k]
            buf[k] = mu * buf[k] + g
            step = g + mu * buf[k] if nesterov else buf[k]
            if coefficient == "drop_lookahead":
                step = buf[k]
            params[k] = params[k] - lr * step
    return {k: v.astype(np.float64) for k, v in params.items()}


def solberg_printed(case: OptimizerCase, dtype: str, device: str):
    """Nesterov as Solberg prints it: x += -mu*v_prev + (1 - mu)*v (an erratum)."""
    t = NP[dtype]
    mu = t(case.hyperparameters["momentum"])
    params = {k: v.astype(t) for k, v in case.params.items()}
    lr0 = t(case.learning_rates[0])
    if case.state is not None:
        vel = {k: (-lr0 * v.astype(t)).astype(t) for k, v in case.state.buffers["trace"].items()}
    else:
        vel = {k: np.zeros_like(v) for k, v in params.items()}
    for lr, grads in zip(case.learning_rates, case.grads, strict=True):
        for k in params:
            v_prev = vel[k]
            vel[k] = mu * vel[k] - t(lr) * grads[k].astype(t)
            params[k] = params[k] - mu * v_prev + (t(1) - mu) * vel[k]
    return {k: v.astype(np.float64) for k, v in params.items()}


def raising(case: OptimizerCase, dtype: str, device: str):
    raise RuntimeError("this implementation always fails")


def impl(spec_id: str, name: str, fn, **kw) -> Implementation:
    return Implementation(spec_id, name, lambda c, d, dev: fn(c, d, dev, **kw), devices=("cpu",))


class NumpyAdapter(Adapter):
    """A backend made of the implementations above (used by the kit's own tests only)."""

    name = "numpy"

    def __init__(self, impls: list[Implementation]):
        self._impls = impls

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def devices(self) -> list[str]:
        return ["cpu"]

    def implementations(self) -> list[Implementation]:
        return list(self._impls)


class BrokenAdapter(NumpyAdapter):
    name = "broken"

    def implementations(self) -> list[Implementation]:
        raise RuntimeError("implementations() blew up")
