r"""``opt.nesterov``: Nesterov momentum, its look-ahead and rewritten forms, and two errata."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = ["BUFFERS", "nesterov", "nesterov_lookahead_run", "nesterov_rewritten_run"]

#: What each canonical buffer holds: as ``opt.momentum``.
BUFFERS = {
    "trace": "b, the learning-rate-free buffer of the rewritten form eta_outside: b <- mu b + g, "
    "theta~ <- theta~ - eta (g + mu b); the eta_inside form is loaded as v = -eta_t b.",
}


def nesterov(
    learning_rate: float | Schedule, momentum: float, *, form: str = "eta_inside"
) -> GradientTransformation:
    r"""Nesterov momentum, ``opt.nesterov``, in its rewritten form (one gradient per step).

    Symbols: $\eta_t$ = ``learning_rate``, $\mu$ = ``momentum``. The look-ahead form
    (:func:`nesterov_lookahead_run`) evaluates the gradient at $\theta + \mu v$:

    .. math:: v \leftarrow \mu v - \eta\nabla L(\theta + \mu v), \qquad \theta \leftarrow \theta + v

    The rewritten forms keep $\tilde\theta = \theta + \mu v$ instead, so that the gradient is taken
    at the stored parameters:

    .. math::
        \text{eta\_inside:}\quad & v_\text{prev} \leftarrow v;\ v \leftarrow \mu v - \eta_t g;\
            \tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v \\
        \text{eta\_outside:}\quad & b \leftarrow \mu b + g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (g + \mu b) \\
        \text{exponential\_average:}\quad & b \leftarrow \alpha b + (1-\alpha) g;\
            \tilde\theta \leftarrow \tilde\theta - \eta_t (\alpha b + (1-\alpha) g)

    Solberg, *INF 5860 Lecture 9* ("Nesterov momentum", "Implementing Nesterov"); Zheng,
    *CS286 Lecture 6*; Padilla Montani; Vitay (exponential-average form); Nesterov (1983);
    Sutskever et al. (2013).

    .. warning:: Solberg prints $(1-\mu)v$ for $(1+\mu)v$: an erratum (the look-ahead and the
       rewritten forms agree only with $1+\mu$). Keras uses ``eta_inside``; PyTorch and optax use
       ``eta_outside``; they differ once the learning rate changes.
    """
    f = check_choice("form", form, MOMENTUM_FORMS)
    if f == "eta_inside":
        return chain(velocity(learning_rate, momentum, nesterov=True))
    damp = momentum if f == "exponential_average" else 0.0
    return chain(
        trace(momentum, dampening=damp, nesterov=True), scale_by_learning_rate(learning_rate)
    )


def nesterov_lookahead_run(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    params: np.ndarray,
    velocity: np.ndarray,
    *,
    learning_rates: Sequence[float],
    momentum: float,
    form: str = "eta_inside",
    lookahead_scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run the look-ahead (defining) form of Nesterov momentum for ``len(learning_rates)`` steps.

    ``eta_inside`` (Solberg): $x = \theta + \mu v$; $v \leftarrow \mu v - \eta\nabla L(x)$;
    $\theta \leftarrow \theta + v$.
    ``exponential_average`` (Vitay): $x = \theta + \eta\alpha v$;
    $v \leftarrow \alpha v - (1-\alpha)\nabla L(x)$; $\theta \leftarrow \theta + \eta v$.
    ``lookahead_scale`` overrides the factor of $v$ in $x$ (to evaluate a printed erratum).
    """
    f = check_choice("form", form, ("eta_inside", "exponential_average"))
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)
    theta = np.array(params, dtype=np.float64)
    v = np.array(velocity, dtype=np.float64)
    for i, eta in enumerate(learning_rates):
        eta = check_number(f"learning_rates[{i}]", eta, low=0.0)
        if f == "eta_inside":
            scale = mu if lookahead_scale is None else lookahead_scale
            v = mu * v - eta * grad_fn(theta + scale * v)
            theta = theta + v
        else:
            scale = eta * mu if lookahead_scale is None else lookahead_scale
            v = mu * v - (1.0 - mu) * grad_fn(theta + scale * v)
            theta = theta + eta * v
    return theta, v


def nesterov_rewritten_run(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    params: np.ndarray,
    velocity: np.ndarray,
    *,
    learning_rates: Sequence[float],
    momentum: float,
    form: str = "eta_inside",
    coefficient: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run the rewritten form on $\tilde\theta$ (``params``): one gradient per step, at $\tilde\theta$.

    ``eta_inside``: $v_\text{prev} = v$; $v \leftarrow \mu v - \eta\nabla L(\tilde\theta)$;
    $\tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + c\, v$ with $c = 1 + \mu$.
    ``exponential_average``: $v \leftarrow \alpha v - (1-\alpha)\nabla L(\tilde\theta)$;
    $\tilde\theta \leftarrow \tilde\theta + \eta(-\alpha v_\text{prev} + c\, v)$ with $c = 1 + \alpha$.
    ``coefficient`` overrides $c$ (Solberg prints $1 - \mu$).
    """
    f = check_choice("form", form, ("eta_inside", "exponential_average"))
    mu = check_number("momentum", momentum, low=0.0, high=1.0, high_closed=False)
    c = 1.0 + mu if coefficient is None else coefficient
    theta = np.array(params, dtype=np.float64)
    v = np.array(velocity, dtype=np.float64)
    for i, eta in enumerate(learning_rates):
        eta = check_number(f"learning_rates[{i}]", eta, low=0.0)
        v_prev = v
        if f == "eta_inside":
            v = mu * v - eta * grad_fn(theta)
            theta = theta - mu * v_prev + c * v
        else:
            v = mu * v - (1.0 - mu) * grad_fn(theta)
            theta = theta + eta * (-mu * v_prev + c * v)
    return theta, v


def _witness_quadratic() -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """A fixed, ill-conditioned quadratic $L = \\frac12 (\\theta-c)^T A (\\theta-c)$ and a start point."""
    rng = np.random.default_rng(20170324)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = q @ np.diag([0.5, 1.0, 2.0, 10.0]) @ q.T
    c = rng.standard_normal(4)
    theta0 = rng.standard_normal(4)
    v0 = 0.1 * rng.standard_normal(4)
    return (lambda th: a @ (th - c)), theta0, v0


def _solberg_nesterov_check() -> ErratumEvidence:
    grad_fn, theta0, v0 = _witness_quadratic()
    mu, lrs = 0.9, [0.05] * 20
    theta, v = nesterov_lookahead_run(grad_fn, theta0, v0, learning_rates=lrs, momentum=mu)
    expected = theta + mu * v  # the look-ahead point of the final state
    tilde0 = theta0 + mu * v0
    right, _ = nesterov_rewritten_run(grad_fn, tilde0, v0, learning_rates=lrs, momentum=mu)
    printed, _ = nesterov_rewritten_run(
        grad_fn, tilde0, v0, learning_rates=lrs, momentum=mu, coefficient=1 - mu
    )
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - expected))),
        corrected_error=float(np.max(np.abs(right - expected))),
        detail="20 steps, mu=0.9, eta=0.05, on a 4-D quadratic with condition number 20: the rewritten "
        "form on theta+mu*v tracks the look-ahead form only with (1+mu)",
    )


def _vitay_nesterov_check() -> ErratumEvidence:
    grad_fn, theta0, v0 = _witness_quadratic()
    alpha, eta = 0.9, 0.5
    lrs = [eta] * 20
    kw: dict[str, Any] = dict(learning_rates=lrs, momentum=alpha, form="exponential_average")
    # The rewritten form (one gradient per step) is the look-ahead form in the variable
    # theta + eta*alpha*v: the point the velocity really carries the parameters to.
    tilde0 = theta0 + eta * alpha * v0
    rewritten, _ = nesterov_rewritten_run(grad_fn, tilde0, v0, **kw)
    theta_c, v_c = nesterov_lookahead_run(grad_fn, theta0, v0, **kw)
    theta_p, v_p = nesterov_lookahead_run(grad_fn, theta0, v0, lookahead_scale=alpha, **kw)
    return ErratumEvidence(
        printed_error=float(np.max(np.abs((theta_p + eta * alpha * v_p) - rewritten))),
        corrected_error=float(np.max(np.abs((theta_c + eta * alpha * v_c) - rewritten))),
        detail="20 steps, alpha=0.9, eta=0.5: with the printed look-ahead point theta+alpha*v the "
        "method is no longer the momentum method in shifted variables; with theta+eta*alpha*v it is",
    )


def _build_nesterov(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return nesterov(hp["learning_rate"], hp["momentum"], form=o["form"])


register(SpecEntry(
    id="opt.nesterov", title="Nesterov momentum (look-ahead and rewritten forms)", tier="core",
    kind="optimizers",
    formula=r"v \leftarrow \mu v - \eta\nabla L(\theta + \mu v),\ \theta \leftarrow \theta + v"
    r"\ \Longleftrightarrow\ v_\text{prev} \leftarrow v;\ v \leftarrow \mu v - \eta g;\ "
    r"\tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v,\ \tilde\theta = \theta + \mu v",
    citations=(
        C.at(C.SOLBERG, "Nesterov momentum; Implementing Nesterov"),
        C.at(C.VITAY, "SGD with Nesterov momentum"),
        C.at(C.ZHENG, "Faster optimizers (Nesterov Accelerated Gradient)"),
        C.at(C.PADILLA_MONTANI, "Momentum Optimization (use_nesterov)"),
        C.NESTEROV,
        C.SUTSKEVER,
    ),
    variant_axes=(
        VariantAxis("form", (
            VariantOption("eta_inside",
                          "rewritten form with the learning rate inside the velocity",
                          r"v \leftarrow \mu v - \eta_t g;\ \tilde\theta \leftarrow \tilde\theta - \mu v_\text{prev} + (1+\mu) v",
                          ("Solberg, corrected",)),
            VariantOption("eta_outside",
                          "rewritten form with the learning rate outside the buffer",
                          r"b \leftarrow \mu b + g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (g + \mu b)",
                          ("PyTorch SGD(nesterov=True)", "optax.sgd(nesterov=True)")),
            VariantOption("exponential_average",
                          "rewritten form of Vitay's exponential-average Nesterov",
                          r"b \leftarrow \alpha b + (1-\alpha) g;\ \tilde\theta \leftarrow \tilde\theta - \eta_t (\alpha b + (1-\alpha) g)",
                          ("Vitay, corrected",)),
        )),
    ),
    errata=(
        Erratum(
            source=C.at(C.SOLBERG, "Implementing Nesterov"),
            printed=r"x \mathrel{+}= -\mu v_\text{prev} + (1-\mu) v",
            correct=r"x \mathrel{+}= -\mu v_\text{prev} + (1+\mu) v",
            explanation="With x = theta + mu*v, x_new - x = v_new + mu*v_new - mu*v_prev; the printed (1-mu) "
            "drops 2*mu*v_new every step.",
            check=_solberg_nesterov_check,
        ),
        Erratum(
            source=C.at(C.VITAY, "SGD with Nesterov momentum"),
            printed=r"\nabla_\theta L(\theta + \alpha v)",
            correct=r"\nabla_\theta L(\theta + \eta\alpha v)",
            explanation="With the update theta += eta*v, the momentum carries theta to theta + eta*alpha*v; "
            "the printed look-ahead point omits eta (right only when eta = 1).",
            check=_vitay_nesterov_check,
        ),
    ),
    hyperparameters=(LEARNING_RATE, MOMENTUM_POSITIVE),
    notes="Frameworks store theta~ = theta + mu*v and use a rewritten form; each uses its own.",
    model=OptimizerModel(
        build=_build_nesterov,
        load_state=lambda o, hp, cs, p: momentum_family_state(o["form"], hp, cs, p),
        buffers=("trace",),
    ),
))
