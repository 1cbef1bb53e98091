r"""``opt.adagrad``: AdaGrad, the root of the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "EPS_PLACEMENTS", "ScaleByRssState", "adagrad", "scale_by_rss"]

EPS_PLACEMENTS = ("outside", "inside")

#: What each canonical buffer holds (a tree shaped like params).
BUFFERS = {
    "accumulator": "G, the sum of squared gradients including the initial value "
    "(G = initial_accumulator_value + sum of g^2); >= 0. PyTorch state['sum'], Keras "
    "'accumulator', optax ScaleByRssState.sum_of_squares.",
}


class ScaleByRssState(NamedTuple):
    accumulator: dict[str, Any]


def scale_by_rss(
    eps: float, *, initial_accumulator_value: float = 0.0, eps_placement: str = "outside"
) -> GradientTransformation:
    r"""Divide by the root of the sum of squared gradients (AdaGrad's scaling, without $\eta$).

    Symbols: $G$ = ``state.accumulator``, $G_0$ = ``initial_accumulator_value``,
    $\epsilon$ = ``eps``, $g$ = the incoming updates.

    .. math::
        G \leftarrow G + g^2, \qquad
        u = \begin{cases} g / (\sqrt{G} + \epsilon) & \texttt{outside} \\
                          g / \sqrt{G + \epsilon} & \texttt{inside} \end{cases}

    and $G$ starts at $G_0$.
    """
    e = check_eps(eps)
    g0 = check_number("initial_accumulator_value", initial_accumulator_value, low=0.0)
    place = check_choice("eps_placement", eps_placement, EPS_PLACEMENTS)

    def init(params: Tree) -> ScaleByRssState:
        check_tree("params", params)
        return ScaleByRssState(accumulator=tree_map(lambda p: np.zeros(p.shape) + g0, params))

    def update(updates: Tree, state: ScaleByRssState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.accumulator", state.accumulator, "updates", updates)
        acc = tree_map(lambda g, a: a + g**2, updates, state.accumulator)
        if place == "outside":
            out = tree_map(lambda g, a: g / (np.sqrt(a) + e), updates, acc)
        else:
            out = tree_map(lambda g, a: g / np.sqrt(a + e), updates, acc)
        return out, ScaleByRssState(accumulator=acc)

    return GradientTransformation(init, update)


def adagrad(
    learning_rate: float | Schedule,
    eps: float = 1e-7,
    *,
    initial_accumulator_value: float = 0.0,
    eps_placement: str = "outside",
) -> GradientTransformation:
    r"""AdaGrad, ``opt.adagrad``.

    Symbols: $\eta_t$ = ``learning_rate``, $\epsilon$ = ``eps``, $G$ = the accumulator
    (``initial_accumulator_value`` $= G_0$ at the start), $g$ = gradient.

    .. math::
        G \leftarrow G + g^2, \qquad
        \theta \leftarrow \theta - \eta_t\, \frac{g}{\sqrt{G} + \epsilon}
        \quad\text{or (inside)}\quad \theta \leftarrow \theta - \eta_t\, \frac{g}{\sqrt{G + \epsilon}}

    Solberg, *INF 5860 Lecture 9* ("AdaGrad updates (DL 8.5.1)", $\epsilon = 10^{-7}$ outside);
    *Neural network architectures, part one* ("Adaptive optimization", $\epsilon$ inside);
    Zheng, *CS286 Lecture 6*; Duchi et al. (2011) (the $\delta I$ of the diagonal form is outside
    the root); Goodfellow et al. (2016), §8.5.1.

    .. warning:: Frameworks split: PyTorch puts $\epsilon$ outside and starts $G$ at 0 (its
       ``lr_decay`` is out of scope: use 0); Keras and optax put $\epsilon$ inside and start $G$
       at 0.1. optax also returns a zero update wherever $G = 0$ (which, with $\epsilon > 0$,
       differs only where $g^2$ underflows).
    """
    return chain(
        scale_by_rss(
            eps, initial_accumulator_value=initial_accumulator_value, eps_placement=eps_placement
        ),
        scale_by_learning_rate(learning_rate),
    )


INITIAL_ACCUMULATOR_VALUE = HyperParameter("initial_accumulator_value", r"G_0",
                                           "starting value of the sum of squared gradients",
                                           low=0.0, high=None, sample_low=0.0, sample_high=1.0,
                                           special=(0.0, 0.1))


def _build_adagrad(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adagrad(
        hp["learning_rate"],
        hp["eps"],
        initial_accumulator_value=hp["initial_accumulator_value"],
        eps_placement=o["eps"],
    )


def _load_adagrad(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    t = check_step("canonical.count", cs.count)
    return ChainState(
        (ScaleByRssState(accumulator=buffer(cs, "accumulator")), ScaleByLearningRateState(t))
    )


register(SpecEntry(
    id="opt.adagrad", title="AdaGrad", tier="core", kind="optimizers",
    formula=r"G \leftarrow G + g^2,\quad \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{G} + \epsilon}",
    citations=(
        C.at(C.SOLBERG, "AdaGrad updates (DL 8.5.1)"),
        C.at(C.ARCHITECTURES, "Adaptive optimization"),
        C.at(C.ZHENG, "Faster optimizers"),
        C.DUCHI,
        C.at(C.GOODFELLOW, "§8.5.1"),
    ),
    variant_axes=(
        VariantAxis("eps", (
            VariantOption("outside", "epsilon added to the root of the accumulator",
                          r"\theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \epsilon)",
                          ("Solberg", "Duchi et al. (2011), delta*I", "PyTorch Adagrad")),
            VariantOption("inside", "epsilon added under the root",
                          r"\theta \leftarrow \theta - \eta\, g / \sqrt{G + \epsilon}",
                          ("Neural network architectures", "Keras Adagrad", "optax.adagrad")),
        )),
    ),
    hyperparameters=(LEARNING_RATE, EPS, INITIAL_ACCUMULATOR_VALUE),
    notes="The accumulator starts at initial_accumulator_value (PyTorch 0, Keras 0.1, optax 0.1); "
    "PyTorch's lr_decay is out of scope (0). optax returns 0 where G = 0.",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_adagrad,
        load_state=_load_adagrad,
        buffers=("accumulator",),
    ),
))
