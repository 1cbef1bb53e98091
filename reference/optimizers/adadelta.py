r"""``opt.adadelta``: Adadelta (Zeiler 2012), with the frameworks' learning rate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "ScaleByAdadeltaState", "adadelta", "scale_by_adadelta"]

#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "square_avg": "E[g^2], the running average of squared gradients; >= 0. PyTorch "
    "square_avg, Keras accumulated_grad, optax e_g.",
    "acc_delta": "E[dx^2], the running average of squared learning-rate-free steps; >= 0. "
    "PyTorch acc_delta, Keras accumulated_delta_var, optax e_x.",
}


class ScaleByAdadeltaState(NamedTuple):
    square_avg: dict[str, Any]
    acc_delta: dict[str, Any]


def scale_by_adadelta(rho: float, eps: float) -> GradientTransformation:
    r"""Adadelta's step (without $\eta$), Zeiler (2012), Algorithm 1.

    Symbols: $\rho$ = ``rho``, $\epsilon$ = ``eps``, $E[g^2]$ = ``state.square_avg``,
    $E[\Delta x^2]$ = ``state.acc_delta``, $\mathrm{RMS}[y] = \sqrt{E[y^2] + \epsilon}$.

    .. math::
        E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2, \quad
        \Delta x = \frac{\mathrm{RMS}[\Delta x]_{t-1}}{\mathrm{RMS}[g]_t}\, g, \quad
        E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho) \Delta x^2, \quad u = \Delta x

    (the sign is applied by the learning-rate unit).
    """
    r = check_number("rho", rho, low=0.0, high=1.0, high_closed=False)
    e = check_eps(eps)

    def init(params: Tree) -> ScaleByAdadeltaState:
        check_tree("params", params)
        return ScaleByAdadeltaState(square_avg=zeros_like(params), acc_delta=zeros_like(params))

    def update(updates: Tree, state: ScaleByAdadeltaState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.square_avg", state.square_avg, "updates", updates)
        check_same_structure("state.acc_delta", state.acc_delta, "updates", updates)
        sq = tree_map(lambda g, s: r * s + (1.0 - r) * g**2, updates, state.square_avg)
        delta = tree_map(
            lambda g, s, a: np.sqrt(a + e) / np.sqrt(s + e) * g, updates, sq, state.acc_delta
        )
        acc = tree_map(lambda d, a: r * a + (1.0 - r) * d**2, delta, state.acc_delta)
        return delta, ScaleByAdadeltaState(square_avg=sq, acc_delta=acc)

    return GradientTransformation(init, update)


def adadelta(
    learning_rate: float | Schedule = 1.0, rho: float = 0.95, eps: float = 1e-6
) -> GradientTransformation:
    r"""Adadelta, ``opt.adadelta`` (Zeiler 2012), with the frameworks' learning rate.

    Symbols: $\eta_t$ = ``learning_rate``, $\rho$ = ``rho``, $\epsilon$ = ``eps``.

    .. math::
        E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2, \quad
        \Delta x = -\frac{\sqrt{E[\Delta x^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}}\, g, \quad
        E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho) \Delta x^2, \quad
        \theta \leftarrow \theta + \eta_t \Delta x

    Vitay, *Neurocomputing* ("Adam": names Adadelta); *Neural network architectures, part one*
    ("Adaptive optimization": names Adadelta); Zeiler (2012), Algorithm 1 ($\rho = 0.95$,
    $\epsilon = 10^{-6}$).

    .. warning:: Zeiler's method has no learning rate: it is $\eta = 1$. PyTorch, Keras and
       optax multiply the step by a learning rate, but accumulate $E[\Delta x^2]$ from the step
       *without* it; all three put $\epsilon$ inside both roots, as Zeiler does.
    """
    return chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))


RHO_ADADELTA = replace(
    RHO,
    description="decay rate of the running averages of squared gradients and squared steps",
    special=(0.95, 0.9),
)
EPS_ADADELTA = replace(
    EPS,
    description="small constant inside both roots, RMS[y] = sqrt(E[y^2] + eps)",
    special=(1e-6, 1e-7, 1e-8),
)


def _build_adadelta(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adadelta(hp["learning_rate"], hp["rho"], hp["eps"])


def _load_adadelta(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = check_step("canonical.count", cs.count)
    unit = ScaleByAdadeltaState(
        square_avg=buffer(cs, "square_avg"), acc_delta=buffer(cs, "acc_delta")
    )
    return ChainState((unit, ScaleByLearningRateState(t)))


register(SpecEntry(
    id="opt.adadelta", title="Adadelta", tier="core", kind="optimizers",
    formula=r"E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2;\ "
    r"\Delta x = -\frac{\sqrt{E[\Delta x^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}} g;\ "
    r"E[\Delta x^2] \leftarrow \rho E[\Delta x^2] + (1-\rho)\Delta x^2;\ \theta \leftarrow \theta + \eta\Delta x",
    citations=(
        C.at(C.VITAY, "Adam (other possible optimizers)"),
        C.at(C.ARCHITECTURES, "Adaptive optimization"),
        C.at(C.ZEILER, "Algorithm 1"),
    ),
    hyperparameters=(LEARNING_RATE, RHO_ADADELTA, EPS_ADADELTA),
    notes="Zeiler's method has no learning rate (eta = 1); PyTorch, Keras and optax multiply the step by "
    "one and accumulate E[dx^2] from the step without it. All put epsilon inside both roots.",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_adadelta,
        load_state=_load_adadelta,
        buffers=("square_avg", "acc_delta"),
    ),
))
