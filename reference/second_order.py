r"""Second-order information: Hessians, Hessian-vector products, the Taylor model, Newton's step.

``opt.second_order`` (Solberg, *INF 5860 Lecture 9*, "Beyond the gradient: Hessian matrices" and
"Second-order methods and their limitations"). Three small models have their gradient, Hessian
and Hessian-vector product in closed form, written with the operations the tolerance policy
tracks, so that each framework's autodiff (reverse-over-reverse or forward-over-reverse) can be
compared with them within rounding:

``quadratic``
    $J(x) = \tfrac12 x^\top A x + b^\top x$ for any square $A$: $\nabla J = \tfrac12(A + A^\top)x + b$,
    $H = \tfrac12(A + A^\top)$.
``logistic_regression``
    $J(w) = \frac1m\sum_i \big[\log(1 + e^{z_i}) - y_i z_i\big]$, $z = Xw$:
    $\nabla J = \frac1m X^\top(\sigma(z) - y)$, $H = \frac1m X^\top \operatorname{diag}(\sigma(z)(1-\sigma(z))) X$.
``tanh_neuron``
    one tanh unit with half squared error, $J(w) = \tfrac12\sum_i (\tanh(z_i) - t_i)^2$,
    $z = Xw$: with $h = \tanh z$, $s = 1 - h^2$, $r = h - t$:
    $\nabla J = X^\top (r s)$, $H = X^\top \operatorname{diag}(s^2 - 2 r h s) X$ (not convex: the
    residual term can make $H$ indefinite).

:func:`taylor_second_order`, :func:`gradient_step_change` and :func:`newton_step` are the
document's formulas; Newton's step solves a linear system, for which the tolerance policy has no
rule, so it is checked by the reference's own tests only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number, either_order
from trainspec.reference.registry import SpecEntry, register

__all__ = [
    "MODELS",
    "gradient",
    "gradient_step_change",
    "hessian",
    "hessian_vector_product",
    "loss",
    "newton_step",
    "optimal_gradient_step",
    "taylor_second_order",
]

MODELS = ("quadratic", "logistic_regression", "tanh_neuron")
_DATA = {"quadratic": ("A", "b"), "logistic_regression": ("X", "y"), "tanh_neuron": ("X", "t")}


def _check(model: str, x: Any, data: Mapping[str, Any]) -> int:
    check_choice("model", model, MODELS)
    if np.ndim(x) != 1:
        raise ValueError(f"x: must be a vector, got shape {np.shape(x)}")
    n = int(np.shape(x)[0])
    if not isinstance(data, Mapping) or set(data) != set(_DATA[model]):
        got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"data: model {model!r} needs exactly {list(_DATA[model])}, got {got}")
    first, second = (data[k] for k in _DATA[model])
    if model == "quadratic":
        if np.shape(first) != (n, n) or np.shape(second) != (n,):
            raise ValueError(
                f"data: A must be ({n}, {n}) and b ({n},) for x of shape ({n},), got "
                f"{np.shape(first)} and {np.shape(second)}"
            )
    elif np.ndim(first) != 2 or np.shape(first)[1] != n or np.shape(second) != np.shape(first)[:1]:
        raise ValueError(
            f"data: X must be (m, {n}) and its targets (m,), got {np.shape(first)} and "
            f"{np.shape(second)}"
        )
    return n


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


def loss(model: str, x: Any, data: Mapping[str, Any]) -> Any:
    """$J(x)$ of ``model`` (see the module docstring) on ``data``."""
    _check(model, x, data)
    if model == "quadratic":
        a, b = data["A"], data["b"]
        return 0.5 * np.sum(x * (a @ x)) + np.sum(b * x)
    z = data["X"] @ x
    if model == "logistic_regression":
        return np.mean(np.log1p(np.exp(z)) - data["y"] * z)
    r = np.tanh(z) - data["t"]
    return 0.5 * np.sum(r * r)


def gradient(model: str, x: Any, data: Mapping[str, Any]) -> Any:
    r"""$\nabla J(x)$ in closed form."""
    _check(model, x, data)
    if model == "quadratic":
        a = data["A"]
        return 0.5 * (a @ x + np.transpose(a) @ x) + data["b"]
    xs = data["X"]
    z = xs @ x
    if model == "logistic_regression":
        return np.transpose(xs) @ (_sigmoid(z) - data["y"]) / float(np.shape(xs)[0])
    h = np.tanh(z)
    return np.transpose(xs) @ ((h - data["t"]) * (1.0 - h * h))


def _curvature(model: str, x: Any, data: Mapping[str, Any]) -> tuple[Any, Any]:
    r"""``(X, d)`` with $H = X^\top \operatorname{diag}(d) X$ for the two data models."""
    xs = data["X"]
    z = xs @ x
    if model == "logistic_regression":
        s = _sigmoid(z)
        # sigma' = sigma (1 - sigma); autodiff of log(1 + e^z) forms it as sigma - sigma^2
        return xs, either_order(s * (1.0 - s), s - s * s) / float(np.shape(xs)[0])
    h = np.tanh(z)
    s = 1.0 - h * h
    r = h - data["t"]
    return xs, s * s - 2.0 * r * h * s


def hessian(model: str, x: Any, data: Mapping[str, Any]) -> Any:
    r"""The Hessian $H_{jk} = \partial^2 J / \partial x_j \partial x_k$ in closed form (symmetric).

    Solberg, *INF 5860 Lecture 9* ("Beyond the gradient: Hessian matrices"): "the derivative of
    any of these with respect to the N components again", an $N\times N$ matrix; Goodfellow et
    al. (2016) §4.3.1.
    """
    _check(model, x, data)
    if model == "quadratic":
        a = data["A"]
        return 0.5 * (a + np.transpose(a))
    xs, d = _curvature(model, x, data)
    return np.transpose(xs) @ (xs * np.expand_dims(d, 1))


def hessian_vector_product(model: str, x: Any, data: Mapping[str, Any], v: Any) -> Any:
    r"""$Hv$ without forming $H$ (Pearlmutter 1994): the directional derivative of the gradient,
    $Hv = \frac{\partial}{\partial r}\nabla J(x + r v)\big|_{r=0}$.

    For the data models $Hv = X^\top\big(d \odot (X v)\big)$; a framework may also form the
    products in the other association, $(X^\top \operatorname{diag}(d) X)\,v$ (the rounding bound
    covers both orders, :func:`~trainspec.reference.base.either_order`).
    """
    n = _check(model, x, data)
    if np.shape(v) != (n,):
        raise ValueError(f"v: must have the shape of x, ({n},), got {np.shape(v)}")
    if model == "quadratic":
        a = data["A"]
        return either_order(0.5 * (a @ v + np.transpose(a) @ v), hessian(model, x, data) @ v)
    xs, d = _curvature(model, x, data)
    return either_order(
        np.transpose(xs) @ (d * (xs @ v)), (np.transpose(xs) @ (xs * np.expand_dims(d, 1))) @ v
    )


def taylor_second_order(j0: Any, g: Any, h: Any, dx: Any) -> Any:
    r"""$J(x) \approx J(x_0) + (x - x_0)^\top g + \tfrac12 (x - x_0)^\top H (x - x_0)$.

    Symbols: $J(x_0)$ = ``j0``, $g$ = ``g`` (gradient at $x_0$), $H$ = ``h``, $x - x_0$ = ``dx``.
    Solberg, *INF 5860 Lecture 9* ("Beyond the gradient: Hessian matrices"). The error is
    $O(\lVert x - x_0\rVert^3)$ for a three-times differentiable $J$ (zero for a quadratic).
    """
    return j0 + np.sum(dx * g) + 0.5 * np.sum(dx * (h @ dx))


def gradient_step_change(g: Any, h: Any, eps: float) -> Any:
    r"""The second-order change of the cost after a gradient step of size $\varepsilon$:
    $J(x_0 - \varepsilon g) - J(x_0) \approx -\varepsilon g^\top g + \tfrac12 \varepsilon^2 g^\top H g$.

    Solberg, *INF 5860 Lecture 9*: "monitor the gradient norm $g^\top g$ and the term
    $g^\top H g$"; the step raises the cost when $\tfrac12\varepsilon^2 g^\top H g > \varepsilon g^\top g$.
    """
    e = check_number("eps", eps)
    return -e * np.sum(g * g) + 0.5 * e * e * np.sum(g * (h @ g))


def optimal_gradient_step(g: Any, h: Any) -> float:
    r"""$\varepsilon^* = g^\top g / g^\top H g$, the step minimising the second-order model along
    $-g$ when $g^\top H g > 0$ (Goodfellow et al. 2016, §4.3.1)."""
    curvature = float(np.sum(g * (h @ g)))
    if not curvature > 0:
        raise ValueError(
            f"h: the curvature g^T H g = {curvature!r} along the gradient must be > 0 for an "
            "optimal step to exist"
        )
    return float(np.sum(g * g)) / curvature


def newton_step(x: np.ndarray, g: np.ndarray, h: np.ndarray) -> np.ndarray:
    r"""Newton's update $x \leftarrow x - H^{-1}\nabla f(x)$, by solving $H d = \nabla f$.

    Solberg, *INF 5860 Lecture 9* ("Second-order methods and their limitations": "Appears
    convenient - no parameters!"; L-BFGS approximates $H^{-1}$ instead). Plain float64 only (a
    linear solve has no rule in the tolerance policy). A singular or non-finite $H$ is an error.
    """
    x, g, h = (np.asarray(a, dtype=np.float64) for a in (x, g, h))
    n = x.shape[0] if x.ndim == 1 else -1
    if x.ndim != 1 or g.shape != x.shape or h.shape != (n, n):
        raise ValueError(
            f"newton_step: x and g must be vectors of one length n and h (n, n), got "
            f"{x.shape}, {g.shape}, {h.shape}"
        )
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))):
        raise ValueError("newton_step: h and g must be finite")
    if np.linalg.matrix_rank(h) < n:
        raise ValueError("h: the Hessian is singular; Newton's step is undefined")
    return x - np.linalg.solve(h, g)


register(SpecEntry(
    id="opt.second_order",
    title="Second-order information: Hessian, Hessian-vector products, Taylor model, Newton",
    tier="doc", kind="second_order",
    formula=r"J(x) \approx J(x_0) + (x-x_0)^\top g + \tfrac12 (x-x_0)^\top H (x-x_0);\ "
    r"J(x_0 - \varepsilon g) \approx J(x_0) - \varepsilon g^\top g + \tfrac12\varepsilon^2 g^\top H g;\ "
    r"x \leftarrow x - H^{-1}\nabla f(x)",
    citations=(
        C.at(C.SOLBERG, "Beyond the gradient: Hessian matrices (DL 4.3.1)"),
        C.at(C.SOLBERG, "Second-order methods and their limitations (DL 8.6)"),
        C.at(C.GOODFELLOW, "§4.3.1, §8.6"),
        C.PEARLMUTTER,
    ),
    notes="The kit compares each framework's autodiff Hessian and Hessian-vector product "
    "(and the gradient) with the closed forms of three small models. Newton's step, the "
    "Taylor identity and the gradient-step change are checked by the reference's tests. "
    "L-BFGS is named by Solberg but not specified. Solberg's condition for a step that "
    "raises the cost is cut off in the notes ('> -eps g^T g +'); the reference states "
    "the complete condition 1/2 eps^2 g^T H g > eps g^T g.",
))
