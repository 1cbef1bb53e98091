r"""``train.backprop``: the hand-derived chain-rule backward pass of a small MLP
(:func:`mlp_backprop`), written with the operations the tolerance policy tracks (``@``, ``tanh``,
``exp``, ``where``, ``sum``), so that each framework's autodiff is compared with it within
rounding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice
from trainspec.reference.registry import (
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "activation",
    "activation_derivative",
    "loss_gradient",
    "loss_value",
    "mlp_backprop",
    "mlp_forward",
    "mlp_loss",
    "mlp_shapes",
]

ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
LOSSES = ("half_sse", "mse")
RELU_GRADS = ("zero", "one")


def activation(name: str, z: Any) -> Any:
    r"""$f(z)$: ``tanh``, ``sigmoid`` $1/(1+e^{-z})$ (as $e^z/(1+e^z)$ for $z < 0$, so that
    nothing overflows), ``relu`` $\max(0, z)$ or ``identity``."""
    check_choice("activation", name, ACTIVATIONS)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        # both forms are sigma(z); each is evaluated where its exponential cannot overflow
        with np.errstate(over="ignore", invalid="ignore"):
            ez = np.exp(np.minimum(z, 0.0 * z))
            return np.where(z >= 0.0, 1.0 / (1.0 + np.exp(-z)), ez / (1.0 + ez))
    if name == "relu":
        return np.maximum(z, 0.0 * z)  # 0 * z: an array of z's shape (and NaN where z is)
    return z


def activation_derivative(name: str, z: Any, h: Any, *, relu_grad_at_zero: str = "zero") -> Any:
    r"""$f'(z)$ from the pre-activation $z$ and the output $h = f(z)$.

    ``tanh``: $1 - h^2$; ``sigmoid``: $h(1-h)$; ``relu``: $1$ where $z > 0$, $0$ where $z < 0$,
    and at $z = 0$ the convention ``relu_grad_at_zero`` (``"zero"``: PyTorch, TensorFlow and JAX;
    ``"one"``: the step $H(0) = 1$ of Zheng's heaviside); ``identity``: 1.
    """
    check_choice("activation", name, ACTIVATIONS)
    check_choice("relu_grad_at_zero", relu_grad_at_zero, RELU_GRADS)
    if name == "tanh":
        return 1.0 - h * h
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "relu":
        positive = z >= 0.0 if relu_grad_at_zero == "one" else z > 0.0
        return np.where(positive, 1.0, 0.0)
    return np.where(np.isnan(z), np.nan, 1.0)  # 1, and NaN where z is NaN


def mlp_shapes(params: Mapping[str, Any]) -> list[tuple[int, int]]:
    """``[(n_out, n_in) per layer]`` after checking that ``params`` is ``W1, b1, ..., WL, bL``."""
    if not isinstance(params, Mapping) or not params:
        raise TypeError("params: must be a non-empty mapping {'W1': ..., 'b1': ..., ...}")
    layers = len(params) // 2
    expected = {f"{p}{k}" for k in range(1, layers + 1) for p in "Wb"}
    if len(params) % 2 or set(params) != expected:
        raise ValueError(
            f"params: must hold W1, b1, ..., WL, bL for L layers, got {sorted(params)}"
        )
    shapes = []
    n_in = None
    for k in range(1, layers + 1):
        w, b = params[f"W{k}"], params[f"b{k}"]
        if np.ndim(w) != 2 or np.ndim(b) != 1 or np.shape(b)[0] != np.shape(w)[0]:
            raise ValueError(
                f"params: W{k} must be (n_out, n_in) and b{k} (n_out,), got "
                f"{np.shape(w)} and {np.shape(b)}"
            )
        if n_in is not None and np.shape(w)[1] != n_in:
            raise ValueError(
                f"params: W{k} takes {np.shape(w)[1]} inputs, layer {k - 1} gives {n_in}"
            )
        n_in = np.shape(w)[0]
        shapes.append((int(np.shape(w)[0]), int(np.shape(w)[1])))
    return shapes


def _check_mlp(params: Mapping[str, Any], x: Any, activations: Sequence[str]) -> int:
    shapes = mlp_shapes(params)
    if len(activations) != len(shapes):
        raise ValueError(
            f"activations: must name one activation per layer ({len(shapes)}), got {len(activations)}"
        )
    for i, a in enumerate(activations):
        check_choice(f"activations[{i}]", a, ACTIVATIONS)
    if np.ndim(x) != 2 or np.shape(x)[1] != shapes[0][1]:
        raise ValueError(
            f"x: must be (batch, {shapes[0][1]}) for W1 of shape {shapes[0]}, got {np.shape(x)}"
        )
    return len(shapes)


def mlp_forward(
    params: Mapping[str, Any], x: Any, activations: Sequence[str]
) -> tuple[list[Any], list[Any]]:
    r"""The forward pass: $z_k = h_{k-1} W_k^\top + b_k$, $h_k = f_k(z_k)$, $h_0 = x$ (one row per sample).

    Returns ``(zs, hs)`` with ``hs[0] = x`` and ``zs[k-1]``, ``hs[k]`` of layer $k$.
    """
    layers = _check_mlp(params, x, activations)
    zs: list[Any] = []
    hs: list[Any] = [x]
    for k in range(1, layers + 1):
        z = hs[-1] @ np.transpose(params[f"W{k}"]) + params[f"b{k}"]
        zs.append(z)
        hs.append(activation(activations[k - 1], z))
    return zs, hs


def loss_value(loss: str, y: Any, t: Any) -> Any:
    r"""``half_sse``: $E = \tfrac12\sum (t - y)^2$ (Zheng); ``mse``: $\frac{1}{n}\sum (t-y)^2$ over
    all $n$ elements (Vitay's $\frac1K\sum\lVert t-y\rVert^2$ divides by the samples $K$ only; for
    one output they agree)."""
    check_choice("loss", loss, LOSSES)
    r = y - t
    if loss == "half_sse":
        return 0.5 * np.sum(r * r)
    return np.mean(r * r)


def loss_gradient(loss: str, y: Any, t: Any) -> Any:
    r"""$\partial E/\partial y$: ``half_sse``: $-(t - y)$ (Zheng); ``mse``: $2(y - t)/n$."""
    check_choice("loss", loss, LOSSES)
    if np.shape(y) != np.shape(t):
        raise ValueError(f"t: shape {np.shape(t)} must equal the output's {np.shape(y)}")
    r = y - t
    if loss == "half_sse":
        return r
    return r * (2.0 / float(np.size(r)))


def mlp_loss(
    params: Mapping[str, Any], x: Any, t: Any, activations: Sequence[str], loss: str = "half_sse"
) -> Any:
    """The loss of the MLP's output for targets ``t``."""
    _, hs = mlp_forward(params, x, activations)
    return loss_value(loss, hs[-1], t)


def mlp_backprop(
    params: Mapping[str, Any],
    x: Any,
    t: Any,
    activations: Sequence[str],
    loss: str = "half_sse",
    *,
    relu_grad_at_zero: str = "zero",
) -> dict[str, Any]:
    r"""$\partial l/\partial W_k$ and $\partial l/\partial b_k$ by the chain rule, ``train.backprop``.

    Symbols: $W_k$, $b_k$ = ``params["W{k}"]``, ``params["b{k}"]``; $x$ = ``x`` (batch, $n_0$);
    $t$ = ``t``; $f_k$ = ``activations[k-1]``; $l$ = ``loss``.

    .. math::
        \delta_L = \frac{\partial l}{\partial h_L} \odot f_L'(z_L), \qquad
        \delta_{k-1} = (\delta_k W_k) \odot f_{k-1}'(z_{k-1}), \\
        \frac{\partial l}{\partial W_k} = \delta_k^\top h_{k-1}, \qquad
        \frac{\partial l}{\partial b_k} = \textstyle\sum_{\text{samples}} \delta_k

    i.e. $\partial h_k/\partial h_{k-1} = \operatorname{diag}(f'(W_k h_{k-1} + b_k))\, W_k$.

    Sources: Rumelhart, Hinton & Williams (1986); Zheng, *CS286 Lecture 6* ("Backpropagation":
    $E = \frac12\sum_j (t_j - y_j)^2$, $\partial E/\partial y_j = -(t_j - y_j)$); *Neural
    network architectures, part one* ("Updating weights": the chain rule through two paths);
    Vitay, *Neurocomputing*.

    .. warning:: The derivative of ReLU at exactly $z = 0$ is a convention
       (``relu_grad_at_zero``); PyTorch, TensorFlow and JAX use 0.
    """
    zs, hs = mlp_forward(params, x, activations)
    layers = len(zs)
    dh = loss_gradient(loss, hs[-1], t)
    grads: dict[str, Any] = {}
    for k in range(layers, 0, -1):
        a = activations[k - 1]
        delta = (
            dh
            if a == "identity"
            else dh
            * activation_derivative(a, zs[k - 1], hs[k], relu_grad_at_zero=relu_grad_at_zero)
        )
        grads[f"W{k}"] = np.transpose(delta) @ hs[k - 1]
        grads[f"b{k}"] = np.sum(delta, axis=0)
        if k > 1:
            dh = delta @ params[f"W{k}"]
    return {k: grads[k] for k in params}


register(SpecEntry(
    id="train.backprop", title="Backpropagation through an MLP by the chain rule", tier="doc",
    kind="training.backprop",
    formula=r"\delta_L = \tfrac{\partial l}{\partial h_L} \odot f'_L(z_L),\ "
    r"\delta_{k-1} = (\delta_k W_k) \odot f'_{k-1}(z_{k-1}),\ "
    r"\tfrac{\partial l}{\partial W_k} = \delta_k^\top h_{k-1},\ \tfrac{\partial l}{\partial b_k} = \textstyle\sum \delta_k",
    citations=(
        C.at(C.ZHENG, "Backpropagation"),
        C.at(C.ARCHITECTURES, "Updating weights (chain rule)"),
        C.at(C.VITAY, "Overfitting: Need for regularization (gradient of the loss)"),
        C.RUMELHART,
    ),
    variant_axes=(
        VariantAxis("relu_grad_at_zero", (
            VariantOption("zero", "ReLU's derivative at exactly 0 is 0", r"f'(0) = 0",
                          ("torch.relu", "tf.nn.relu", "jax.nn.relu")),
            VariantOption("one",
                          "ReLU's derivative at exactly 0 is 1 (the heaviside step H(0) "
                          "= 1)",
                          r"f'(0) = 1",
                          ("Zheng: heaviside(z) = 1 for z >= 0",)),
        )),
    ),
    notes="Layers z_k = h_{k-1} W_k^T + b_k with tanh, sigmoid, relu or identity; losses "
    "half_sse (Zheng) and mse. Each framework's autodiff is compared with the hand-derived "
    "backward pass within the tolerance policy.",
))
