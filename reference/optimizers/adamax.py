r"""``opt.adamax``: Adamax, Adam with the infinity norm (Kingma & Ba 2015, §7.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["ADAMAX_EPS_PLACEMENTS", "BUFFERS", "ScaleByAdamaxState", "adamax", "scale_by_adamax"]

ADAMAX_EPS_PLACEMENTS = ("outside", "in_max")

#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "m": "the uncorrected first moment (running average of gradients).",
    "u": "the exponentially weighted infinity norm (PyTorch exp_inf, Keras 'norm', optax nu); "
    ">= 0. In the eps=in_max variant it includes the eps added inside the maximum.",
}


class ScaleByAdamaxState(NamedTuple):
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count
    m: dict[str, Any]
    u: dict[str, Any]


def scale_by_adamax(
    beta1: float, beta2: float, eps: float, *, eps_placement: str = "outside"
) -> GradientTransformation:
    r"""Adamax's direction (without $\eta$), Kingma & Ba (2015) §7.1.

    Symbols: $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``, $\epsilon$ = ``eps``, $m$ = ``state.m``,
    $u$ = ``state.u`` (the exponentially weighted infinity norm), $t$ = ``state.count`` + 1.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad
        \begin{cases}
        u \leftarrow \max(\beta_2 u, |g|),\ \ \Delta = \dfrac{m}{(1-\beta_1^t)(u + \epsilon)} & \texttt{outside} \\
        u \leftarrow \max(\beta_2 u, |g| + \epsilon),\ \ \Delta = \dfrac{m/(1-\beta_1^t)}{u} & \texttt{in\_max}
        \end{cases}
    """
    b1 = check_beta("beta1", beta1)
    b2 = check_beta("beta2", beta2)
    e = check_eps(eps)
    place = check_choice("eps_placement", eps_placement, ADAMAX_EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByAdamaxState:
        check_tree("params", params)
        return ScaleByAdamaxState(count=0, m=zeros_like(params), u=zeros_like(params))

    def update(updates: Tree, state: ScaleByAdamaxState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.u", state.u, "updates", updates)
        count = check_step("state.count", state.count)
        t = count + 1
        c1 = 1.0 - b1**t
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        if place == "outside":
            u = tree_map(lambda g, x: np.maximum(b2 * x, abs(g)), updates, state.u)
            out = tree_map(lambda mm, uu: mm / (c1 * (uu + e)), m, u)
        else:
            u = tree_map(lambda g, x: np.maximum(b2 * x, abs(g) + e), updates, state.u)
            out = tree_map(lambda mm, uu: (mm / c1) / uu, m, u)
        return out, ScaleByAdamaxState(count=t, m=m, u=u)

    return GradientTransformation(init, update)


def adamax(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_placement: str = "outside",
) -> GradientTransformation:
    r"""Adamax, ``opt.adamax``: Adam with the infinity norm (Kingma & Ba 2015, §7.1, Algorithm 2).

    Symbols: $\eta_t$ = ``learning_rate``; the rest as :func:`scale_by_adamax`.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad u \leftarrow \max(\beta_2 u, |g|), \quad
        \theta \leftarrow \theta - \frac{\eta_t}{1-\beta_1^t}\, \frac{m}{u + \epsilon}

    Vitay, *Neurocomputing* ("Adam": names AdaMax); Kingma & Ba (2015), whose Algorithm 2 has no
    $\epsilon$ (both options tend to it as $\epsilon \to 0$).

    .. warning:: Keras adds $\epsilon$ to the norm in the denominator (``outside``); PyTorch
       (``torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps))``) and optax
       (``update_infinity_moment``: ``maximum(|g| + eps, decay * t)``) add it inside the
       maximum, so that it is stored in $u$ (``in_max``).
    """
    return chain(
        scale_by_adamax(beta1, beta2, eps, eps_placement=eps_placement),
        scale_by_learning_rate(learning_rate),
    )


BETA2_INF = replace(BETA2, description="decay rate of the exponentially weighted infinity norm")


def _build_adamax(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adamax(hp["learning_rate"], hp["beta1"], hp["beta2"], hp["eps"], eps_placement=o["eps"])


def _load_adamax(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = check_step("canonical.count", cs.count)
    return ChainState(
        (
            ScaleByAdamaxState(count=t, m=buffer(cs, "m"), u=buffer(cs, "u")),
            ScaleByLearningRateState(t),
        )
    )


register(SpecEntry(
    id="opt.adamax", title="Adamax: Adam with the infinity norm", tier="core", kind="optimizers",
    formula=r"m \leftarrow \beta_1 m + (1-\beta_1) g;\ u \leftarrow \max(\beta_2 u, |g|);\ "
    r"\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, \frac{m}{u + \epsilon}",
    citations=(
        C.at(C.VITAY, "Adam (other possible optimizers)"),
        C.at(C.KINGMA_BA, "§7.1, Algorithm 2"),
    ),
    variant_axes=(
        VariantAxis("eps", (
            VariantOption("outside", "epsilon added to the norm in the denominator",
                          r"u \leftarrow \max(\beta_2 u, |g|);\ \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{u + \epsilon}",
                          ("Keras Adamax", "Kingma & Ba (2015) Algorithm 2, eps -> 0")),
            VariantOption("in_max",
                          "epsilon added to |g| inside the maximum (and stored in u)",
                          r"u \leftarrow \max(\beta_2 u, |g| + \epsilon);\ \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{u}",
                          ("PyTorch Adamax", "optax.adamax",
                           "Kingma & Ba (2015) Algorithm 2, eps -> 0")),
        )),
    ),
    hyperparameters=(LEARNING_RATE, BETA1, BETA2_INF, EPS),
    notes="Kingma & Ba's Algorithm 2 has no epsilon; the frameworks add one in two places.",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_adamax,
        load_state=_load_adamax,
        buffers=("m", "u"),
    ),
))
