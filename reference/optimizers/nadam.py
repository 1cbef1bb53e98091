r"""``opt.nadam``: Nadam, Adam with Nesterov momentum (Dozat 2016)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "NADAM_DECAY", "NADAM_DECAY_FLOAT32", "NADAM_SCHEDULES", "nadam"]
__all__ += ["NADAM_SCHEDULE_PRECISIONS", "ScaleByNadamState", "scale_by_nadam"]
__all__ += ["nadam_decay", "nadam_momentum_product", "nadam_mu"]

MOMENTUM_SCHEDULE = VariantAxis("momentum_schedule", (
    VariantOption("dozat_decay",
                  "momentum schedule with the decay exponent scaled by momentum_decay",
                  r"\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})",
                  ("Dozat (2016), psi = 1/250", "PyTorch NAdam(momentum_decay=psi)")),
    VariantOption("dozat_decay_psi1", "momentum schedule with an unscaled exponent (psi = 1)",
                  r"\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t})", ("Keras Nadam",)),
    VariantOption("none", "constant momentum, Pi_t = beta1^t",
                  r"\hat m = \frac{\beta_1 m}{1-\beta_1^{t+1}} + \frac{(1-\beta_1) g}{1-\beta_1^t}",
                  ("optax.nadam",)),
))
SCHEDULE_PRECISION = VariantAxis("schedule_precision", (
    VariantOption("as_params", "the momentum schedule in the parameters' precision",
                  r"\mu_t,\ \Pi_t \text{ in the parameters' dtype}",
                  ("Dozat (2016)", "optax.nadam")),
    VariantOption("decay_float32", "the step's constant 0.96 rounded to float32, the running "
                  "product's not (visible in float64)",
                  r"\mu_t = \beta_1 (1 - \tfrac12\, \mathrm{fl}_{32}(0.96)^{t\psi}),\ "
                  r"\Pi_t = \Pi_{t-1} \beta_1 (1 - \tfrac12\, 0.96^{t\psi})",
                  ("Keras Nadam: decay = ops.cast(0.96, var_dtype) in update_step, but "
                   "ops.power(0.96, ops.cast(iterations + 1, dtype)) for _u_product in "
                   "_backend_update_step (keras/src/optimizers/nadam.py)",)),
    VariantOption("product_float32",
                  "the running product Pi_t held in float32 (visible in float64)",
                  r"\Pi_t = \mathrm{fl}_{32}(\Pi_{t-1}\, \mathrm{fl}_{32}(\mu_t))",
                  ("PyTorch NAdam: state['mu_product'] created with _get_scalar_dtype() (float32 "
                   "unless the default dtype is float64) and updated by mu_product *= mu "
                   "(torch/optim/nadam.py)",)),
))
MOMENTUM_DECAY = HyperParameter(
    "momentum_decay", r"\psi", "exponent scale of Nadam's momentum schedule "
    "mu_t = beta1 (1 - 0.5 * 0.96^(t psi))", low=0.0, high=None, sample_low=1e-4,
    sample_high=1.0, log_scale=True, special=(0.004, 1.0))
NADAM_SCHEDULES, NADAM_SCHEDULE_PRECISIONS = MOMENTUM_SCHEDULE.names, SCHEDULE_PRECISION.names
#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "m": "the uncorrected first moment (running average of gradients).",
    "v": "the uncorrected second moment; >= 0. The product of the momentum schedule "
    "(PyTorch mu_product, Keras _u_product) is not a buffer: it follows from count, beta1 "
    "and momentum_decay (see nadam_momentum_product).",
}
#: Dozat's decay constant $0.96$ of the momentum schedule, and as Keras rounds it to float32
NADAM_DECAY, NADAM_DECAY_FLOAT32 = 0.96, float(np.float32(0.96))


def nadam_decay(schedule_precision: str = "as_params") -> float:
    r"""The constant $0.96$ of the step's $\mu_t$, rounded to float32 for ``decay_float32``."""
    prec = check_choice("schedule_precision", schedule_precision, NADAM_SCHEDULE_PRECISIONS)
    return NADAM_DECAY_FLOAT32 if prec == "decay_float32" else NADAM_DECAY


def nadam_mu(step: int, beta1: float, momentum_decay: float, schedule: str, *,
             decay: float = NADAM_DECAY) -> float:
    r"""$\mu_t$ of step $t$ = ``step`` $\ge 1$, $\psi$ = ``momentum_decay`` ($\psi = 1$ for
    ``dozat_decay_psi1``, $\mu_t = \beta_1$ for ``none``)."""
    if schedule == "none":
        return beta1
    psi = momentum_decay if schedule == "dozat_decay" else 1.0
    return beta1 * (1.0 - 0.5 * decay ** (step * psi))


def nadam_momentum_product(count: int, beta1: float, momentum_decay: float, schedule: str, *,
                           decay: float = NADAM_DECAY) -> float:
    r"""$\Pi_t = \prod_{i\le t}\mu_i$ after ``count`` $= t$ steps (1 when ``count`` is 0)."""
    t = check_step("count", count)
    if schedule == "none":
        return beta1**t
    prod = 1.0
    for i in range(1, t + 1):
        prod *= nadam_mu(i, beta1, momentum_decay, schedule, decay=decay)
    return prod


class ScaleByNadamState(NamedTuple):
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count
    m: dict[str, Any]
    v: dict[str, Any]
    mu_product: float  # Pi_count = prod_{i <= count} mu_i


def scale_by_nadam(beta1: float, beta2: float, eps: float, momentum_decay: float = 0.004, *,
                   momentum_schedule: str = "dozat_decay",
                   schedule_precision: str = "as_params") -> GradientTransformation:
    r"""Nadam's direction, :func:`nadam` without $-\eta_t$; ``state.mu_product`` holds
    $\Pi_{t-1}$."""
    b1, b2, e = check_beta("beta1", beta1), check_beta("beta2", beta2), check_eps(eps)
    psi = check_number("momentum_decay", momentum_decay, low=0.0)
    sched = check_choice("momentum_schedule", momentum_schedule, NADAM_SCHEDULES)
    decay = nadam_decay(schedule_precision)
    held = held_in_float32 if schedule_precision == "product_float32" else (lambda x: x)

    def init(params: Tree) -> ScaleByNadamState:
        check_tree("params", params)
        return ScaleByNadamState(0, zeros_like(params), zeros_like(params), 1.0)

    def update(updates: Tree, state: ScaleByNadamState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.v", state.v, "updates", updates)
        t = check_step("state.count", state.count) + 1
        mu_t = nadam_mu(t, b1, psi, sched, decay=decay)
        mu_next = nadam_mu(t + 1, b1, psi, sched, decay=decay)
        if sched == "none":
            prod_t, prod_next = b1**t, b1 ** (t + 1)
        else:  # the running product multiplies in mu_t with the exact 0.96 (Keras too)
            mu_t_product = mu_t if decay == NADAM_DECAY else nadam_mu(t, b1, psi, sched)
            prod_t = held(state.mu_product * held(mu_t_product))
            prod_next = prod_t * mu_next
        cm, cg, c2 = mu_next / (1.0 - prod_next), (1.0 - mu_t) / (1.0 - prod_t), 1.0 - b2**t
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        v = tree_map(lambda g, x: moving_average(b2, x, g**2), updates, state.v)
        out = tree_map(lambda g, mm, vv: (cm * mm + cg * g) / (np.sqrt(vv / c2) + e), updates, m, v)
        return out, ScaleByNadamState(count=t, m=m, v=v, mu_product=prod_t)

    return GradientTransformation(init, update)


def nadam(learning_rate: float | Schedule, beta1: float = 0.9, beta2: float = 0.999,
          eps: float = 1e-8, momentum_decay: float = 0.004, *,
          momentum_schedule: str = "dozat_decay",
          schedule_precision: str = "as_params") -> GradientTransformation:
    r"""Nadam, ``opt.nadam``: Adam (Kingma & Ba 2015) with Nesterov momentum (Dozat 2016, Algorithm 2).

    Symbols: $\eta$ = ``learning_rate``, $\beta_1, \beta_2$ = ``beta1``, ``beta2``, $\epsilon$ =
    ``eps``, $\psi$ = ``momentum_decay``, $\mu_t$ = :func:`nadam_mu`, $\Pi_t = \prod_{i\le t}\mu_i$
    = :func:`nadam_momentum_product`, $t$ = the step (from 1).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow \theta - \eta\, \frac{\frac{\mu_{t+1} m}{1-\Pi_{t+1}} +
        \frac{(1-\mu_t) g}{1-\Pi_t}}{\sqrt{v/(1-\beta_2^t)} + \epsilon}, \quad
        \mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})

    Vitay ("Adam": names Nadam); Zheng, *CS286 Lecture 6* ("Faster optimizers"). The frameworks'
    momentum schedules (``momentum_schedule``) and the precision in which they keep it
    (``schedule_precision``) are the entry's variant axes.
    """
    unit = scale_by_nadam(beta1, beta2, eps, momentum_decay, momentum_schedule=momentum_schedule,
                          schedule_precision=schedule_precision)
    return chain(unit, scale_by_learning_rate(learning_rate))


@functools.lru_cache(maxsize=4096)
def _momentum_product_value(t: int, b1: float, psi: float, sched: str) -> float:
    return nadam_momentum_product(t, b1, psi, sched, decay=NADAM_DECAY)


def _load_nadam(o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState,
                params: Tree) -> ChainState:
    t = check_step("canonical.count", cs.count)
    b1 = check_beta("beta1", hp["beta1"])
    psi = check_number("momentum_decay", hp["momentum_decay"], low=0.0)
    sched = check_choice("momentum_schedule", o["momentum_schedule"], NADAM_SCHEDULES)
    # the frameworks hold the product (mu_product, _u_product) rounded once to its dtype: an
    # input, its value from the exact hyperparameters (b1 * 0.0 + value carries that one rounding)
    prod = b1 * 0.0 + _momentum_product_value(t, float(b1), float(psi), sched)
    if o["schedule_precision"] == "product_float32" and sched != "none":
        prod = held_in_float32(prod)  # what PyTorch holds after count steps
    unit = ScaleByNadamState(count=t, m=buffer(cs, "m"), v=buffer(cs, "v"), mu_product=prod)
    return ChainState((unit, ScaleByLearningRateState(t)))


register(SpecEntry(
    id="opt.nadam", title="Nadam: Adam with Nesterov momentum", tier="core", kind="optimizers",
    formula=r"\theta \leftarrow \theta - \eta\, \frac{\frac{\mu_{t+1} m}{1-\Pi_{t+1}} + "
    r"\frac{(1-\mu_t) g}{1-\Pi_t}}{\sqrt{v/(1-\beta_2^t)} + \epsilon},\ "
    r"\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi}),\ \Pi_t = \prod_{i\le t}\mu_i",
    citations=(C.at(C.VITAY, "Adam (other possible optimizers)"),
               C.at(C.ZHENG, "Faster optimizers (Nadam optimization)"),
               C.at(C.DOZAT, "Algorithm 2"), C.KINGMA_BA),
    variant_axes=(MOMENTUM_SCHEDULE, SCHEDULE_PRECISION),
    hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS, MOMENTUM_DECAY),
    notes="The notes name Nadam without a formula. The frameworks agree on epsilon outside "
    "sqrt(v / (1 - beta2^t)). The running product of mu is a function of the step count, not a buffer.",
    model=OptimizerModel(build=build_by_name(nadam), load_state=_load_nadam, buffers=("m", "v"),
                         nonnegative_buffers=NONNEGATIVE_BUFFERS),
))
