r"""Losses and their gradients with respect to the network's outputs (pure NumPy, float64).

Every loss takes a batch: ``outputs`` (predictions $y$ or logits $z$) of shape ``(m, K)`` (``m``
samples, ``K`` outputs) and the targets, and returns the loss value; the matching ``*_gradient``
returns $\partial L/\partial y$ (or $\partial L/\partial z$) of the same shape. The classification
losses are written in their numerically stable forms (log-sum-exp with the maximum subtracted;
$\max(z, 0) - zt + \log(1 + e^{-\lvert z\rvert})$), so that logits of any size give finite losses.

Where frameworks split: the *reduction*. The documents average over samples and sum over a
sample's outputs ($\frac1m\sum_i\lVert t_i - y_i\rVert^2$, Solberg's one-vs-all logistic loss);
PyTorch, Keras and optax (as used with ``mean``) average over every element. That is the
``reduction`` axis of ``loss.mse`` and ``loss.logistic``.

The module is laid out in cards: what the losses share (argument checks, the model the kit drives,
the reduction axis), then each ID's functions followed by its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, either_order
from trainspec.reference.registry import SpecEntry, VariantAxis, VariantOption, register

__all__ = [
    "REDUCTIONS",
    "LossModel",
    "half_sse",
    "half_sse_gradient",
    "log_softmax",
    "logistic_loss",
    "logistic_loss_gradient",
    "mse",
    "mse_gradient",
    "sigmoid",
    "softmax_cross_entropy",
    "softmax_cross_entropy_gradient",
]

REDUCTIONS = ("mean_over_samples", "mean_over_elements")


def _batch(name: str, x: Any) -> Any:
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "shape"):
        raise TypeError(f"{name}: must be an array, got {type(x).__name__}")
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{name}: must have a real floating-point dtype, got {dtype}")
    if len(x.shape) != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"{name}: must have shape (samples, outputs) with both >= 1, got {x.shape}"
        )
    return x


def _pair(outputs: Any, targets: Any, out_name: str = "outputs") -> tuple[Any, Any]:
    y = _batch(out_name, outputs)
    t = _batch("targets", targets)
    if tuple(t.shape) != tuple(y.shape):
        raise ValueError(
            f"targets: shape {tuple(t.shape)} must equal {out_name}'s {tuple(y.shape)}"
        )
    return y, t


def _normaliser(shape: tuple[int, ...], reduction: str) -> float:
    check_choice("reduction", reduction, REDUCTIONS)
    return float(shape[0]) if reduction == "mean_over_samples" else float(shape[0] * shape[1])


@dataclass(frozen=True)
class LossModel:
    r"""What the loss kind needs of an entry.

    ``evaluate(options, outputs, targets)`` returns ``{"value": L, "grad": dL/d outputs}`` of one
    variant. ``targets`` says what the kind draws as targets: ``"real"`` (an array like the
    outputs), ``"labels"`` (integer class indices, one per sample) or ``"binary"`` (0/1 per output).
    """

    evaluate: Callable[[Mapping[str, str], Any, Any], dict[str, Any]]
    targets: str


_REDUCTION_AXIS = VariantAxis("reduction", (
    VariantOption("mean_over_samples",
                  "summed over a sample's outputs, averaged over the samples",
                  r"\frac{1}{m}\sum_i \sum_k \ell_{ik}", ("Vitay", "Solberg")),
    VariantOption("mean_over_elements", "averaged over every output of every sample",
                  r"\frac{1}{mK}\sum_{i,k} \ell_{ik}",
                  ("torch.nn.functional", "keras.losses", "mean of optax.losses")),
))


# ---------------------------------------------------------------------------------------------
# loss.mse


def mse(outputs: Any, targets: Any, *, reduction: str = "mean_over_samples") -> Any:
    r"""Mean squared error, ``loss.mse``.

    Symbols: $y_i$ = ``outputs[i]``, $t_i$ = ``targets[i]`` (sample $i$ of $m$, $K$ outputs each).

    .. math:: L = \frac{1}{m}\sum_{i=1}^m \lVert t_i - y_i\rVert^2 \quad(\texttt{mean\_over\_samples})
        \qquad L = \frac{1}{mK}\sum_{i,k} (t_{ik} - y_{ik})^2 \quad(\texttt{mean\_over\_elements})

    Vitay, *Neurocomputing* ("L2 Regularization": $\mathbb{E}_\mathcal{D}\lVert t - y\rVert^2$).

    The entry also cites Goodfellow et al. (2016).

    .. warning:: ``torch.nn.functional.mse_loss``, ``keras.losses.MeanSquaredError`` and
       ``mean(optax.losses.squared_error)`` average over every element: they are $1/K$ of the
       documents' loss for $K$ outputs.
    """
    y, t = _pair(outputs, targets)
    n = _normaliser(y.shape, reduction)
    return np.sum(np.square(t - y)) / n


def mse_gradient(outputs: Any, targets: Any, *, reduction: str = "mean_over_samples") -> Any:
    r"""$\partial L/\partial y = -\frac{2}{N}(t - y)$ with $N = m$ or $mK$ (see :func:`mse`)."""
    y, t = _pair(outputs, targets)
    n = _normaliser(y.shape, reduction)
    d = y - t
    return either_order((2.0 * d) / n, d * (2.0 / n))


register(SpecEntry(
    id="loss.mse", title="Mean squared error", tier="doc", kind="losses",
    formula=r"L = \frac{1}{m}\sum_{i=1}^m \lVert t_i - y_i\rVert^2,\quad \partial L/\partial y_i = -\frac{2}{m}(t_i - y_i)",
    citations=(C.at(C.VITAY, "L2 Regularization (MSE loss)"), C.at(C.GOODFELLOW, "5.5.1")),
    variant_axes=(_REDUCTION_AXIS,),
    notes="With one output per sample the two reductions agree.",
    model=LossModel(
        evaluate=lambda o, y, t: {
            "value": mse(y, t, reduction=o["reduction"]),
            "grad": mse_gradient(y, t, reduction=o["reduction"]),
        },
        targets="real",
    ),
))


# ---------------------------------------------------------------------------------------------
# loss.half_sse


def half_sse(outputs: Any, targets: Any) -> Any:
    r"""Half the sum of squared errors, ``loss.half_sse``: $E = \tfrac12\sum_j (t_j - y_j)^2$.

    Symbols: $y_j$ = ``outputs``, $t_j$ = ``targets`` (summed over every output of every sample).

    Zheng, *CS286 Lecture 6* ("Backpropagation": $E = \frac12\sum_{j\in\text{output}}(t_j - y_j)^2$,
    $\partial E/\partial y_j = -(t_j - y_j)$). ``tf.nn.l2_loss`` and ``optax.losses.l2_loss`` use
    the same $\tfrac12$.

    The entry also cites Rumelhart et al. (1986).
    """
    y, t = _pair(outputs, targets)
    return 0.5 * np.sum(np.square(t - y))


def half_sse_gradient(outputs: Any, targets: Any) -> Any:
    r"""$\partial E/\partial y_j = -(t_j - y_j) = y_j - t_j$."""
    y, t = _pair(outputs, targets)
    return y - t


register(SpecEntry(
    id="loss.half_sse", title="Half the sum of squared errors", tier="doc", kind="losses",
    formula=r"E = \tfrac12\sum_j (t_j - y_j)^2,\quad \partial E/\partial y_j = -(t_j - y_j)",
    citations=(C.at(C.ZHENG, "Backpropagation (error function)"), C.RUMELHART),
    notes="Summed over every output (and every sample of a batch); the 1/2 cancels the 2 of the derivative.",
    model=LossModel(
        evaluate=lambda o, y, t: {"value": half_sse(y, t), "grad": half_sse_gradient(y, t)},
        targets="real",
    ),
))


# ---------------------------------------------------------------------------------------------
# loss.softmax_ce


def _labels(labels: Any, logits: Any) -> np.ndarray:
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"labels: must be integers (class indices), got dtype {lab.dtype}")
    if lab.shape != (logits.shape[0],):
        raise ValueError(f"labels: shape {lab.shape} must be (samples,) = ({logits.shape[0]},)")
    if lab.size and (lab.min() < 0 or lab.max() >= logits.shape[1]):
        raise ValueError(
            f"labels: every label must be a class index in [0, {logits.shape[1]}), "
            f"got values in [{lab.min()}, {lab.max()}]"
        )
    return lab


def log_softmax(logits: Any) -> Any:
    r"""$\log\operatorname{softmax}(z)_k = z_k - \max_j z_j - \log\sum_j e^{z_j - \max z}$ per row (stable)."""
    z = _batch("logits", logits)
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    r"""Softmax cross-entropy with integer labels, ``loss.softmax_ce``.

    Symbols: $z_i$ = ``logits[i]`` ($K$ classes), $y_i$ = ``labels[i]`` $\in\{0..K-1\}$, $m$ samples.

    .. math:: L = -\frac{1}{m}\sum_{i=1}^m \log\frac{e^{z_{i,y_i}}}{\sum_k e^{z_{ik}}}
        = \frac1m\sum_i\Bigl(\log\sum_k e^{z_{ik} - M_i} + M_i - z_{i,y_i}\Bigr),\ M_i = \max_k z_{ik}

    Solberg, *INF 5860 Lecture 9* ("Repetition: Batch gradient descent");
    Zheng, *CS286 Lecture 6* (``tf.nn.sparse_softmax_cross_entropy_with_logits``, mean over the batch).

    The entry also cites Bridle (1990); Goodfellow et al. (2016).
    """
    z = _batch("logits", logits)
    lab = _labels(labels, z)
    picked = log_softmax(z)[np.arange(z.shape[0]), lab]
    return -np.sum(picked) / float(z.shape[0])


def softmax_cross_entropy_gradient(logits: Any, labels: Any) -> Any:
    r"""$\partial L/\partial z_{ik} = (\operatorname{softmax}(z_i)_k - [k = y_i])/m$."""
    z = _batch("logits", logits)
    lab = _labels(labels, z)
    shifted = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(shifted)
    s = np.sum(e, axis=1, keepdims=True)
    p = either_order(e / s, np.exp(shifted - np.log(s)))
    onehot = np.zeros(z.shape)
    onehot[np.arange(z.shape[0]), lab] = 1.0
    return (p - onehot) / float(z.shape[0])


register(SpecEntry(
    id="loss.softmax_ce", title="Softmax cross-entropy with integer labels", tier="doc",
    kind="losses",
    formula=r"L = -\frac{1}{m}\sum_i \log\operatorname{softmax}(z_i)_{y_i},\quad "
    r"\partial L/\partial z_{ik} = (\operatorname{softmax}(z_i)_k - [k = y_i])/m",
    citations=(
        C.at(C.SOLBERG, "Repetition: Batch gradient descent"),
        C.at(C.ZHENG, "Construction phase (sparse_softmax_cross_entropy_with_logits)"),
        C.BRIDLE,
        C.at(C.GOODFELLOW, "6.2.2.3"),
    ),
    notes="Evaluated with the log-sum-exp shift, so huge logits give finite losses.",
    model=LossModel(
        evaluate=lambda o, z, y: {
            "value": softmax_cross_entropy(z, y),
            "grad": softmax_cross_entropy_gradient(z, y),
        },
        targets="labels",
    ),
))


# ---------------------------------------------------------------------------------------------
# loss.logistic


def sigmoid(z: Any) -> Any:
    r"""$\sigma(z) = 1/(1 + e^{-z})$, evaluated as $e^{z}/(1 + e^{z})$ for $z < 0$ (no overflow)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logistic_loss(logits: Any, targets: Any, *, reduction: str = "mean_over_samples") -> Any:
    r"""One-vs-all logistic loss for multi-label outputs, ``loss.logistic``.

    Symbols: $z_{ik}$ = ``logits`` (one independent sigmoid per class), $t_{ik}\in\{0, 1\}$ =
    ``targets`` (several labels may be on).

    .. math:: L = -\frac1N\sum_{i,k}\bigl[t_{ik}\log\sigma(z_{ik}) + (1 - t_{ik})\log(1 - \sigma(z_{ik}))\bigr]
        = \frac1N\sum_{i,k}\bigl[\max(z_{ik}, 0) - z_{ik}t_{ik} + \log(1 + e^{-\lvert z_{ik}\rvert})\bigr]

    with $N = m$ (``mean_over_samples``: summed over a sample's classes) or $N = mK$
    (``mean_over_elements``). Solberg, *INF 5860 Lecture 9* ("Activation function and loss
    function": "Logistic loss one-vs-all").

    The entry also cites Goodfellow et al. (2016).

    .. warning:: ``binary_cross_entropy_with_logits``, Keras ``BinaryCrossentropy`` and
       ``mean(optax.losses.sigmoid_binary_cross_entropy)`` average over every element.
    """
    z, t = _pair(logits, targets, "logits")
    n = _normaliser(z.shape, reduction)
    zero = np.zeros(np.shape(z))
    terms = np.maximum(z, zero) - z * t + np.log1p(np.exp(-np.abs(z)))
    # PyTorch's order: (1 - t) z + m + log(e^{-m} + e^{-z-m}), m = max(-z, 0): the same number,
    # with log(1 + x) instead of log1p(x) (an absolute error of about u where the loss is small)
    m = np.maximum(-z, zero)
    torch_order = (1.0 - t) * z + m + np.log(np.exp(-m) + np.exp(-z - m))
    with np.errstate(over="ignore"):
        return either_order(np.sum(terms) / n, np.sum(torch_order) / n)


def logistic_loss_gradient(
    logits: Any, targets: Any, *, reduction: str = "mean_over_samples"
) -> Any:
    r"""$\partial L/\partial z_{ik} = (\sigma(z_{ik}) - t_{ik})/N$."""
    z, t = _pair(logits, targets, "logits")
    n = _normaliser(z.shape, reduction)
    # the autodiff of log(sigmoid) (JAX, optax) evaluates sigma(z) as exp(z - softplus(z)) and
    # 1 - sigma(z) as sigma(-z): the same numbers, rounded in another order
    zero = np.zeros(np.shape(z))

    def via_softplus(x: Any) -> Any:
        return np.exp(x - (np.maximum(x, zero) + np.log1p(np.exp(-np.abs(x)))))

    autodiff_order = ((1.0 - t) * via_softplus(z) - t * via_softplus(-z)) / n
    return either_order((sigmoid(z) - t) / n, autodiff_order)


register(SpecEntry(
    id="loss.logistic", title="One-vs-all logistic loss (multi-label)", tier="doc", kind="losses",
    formula=r"L = -\frac1m\sum_{i,k}\bigl[t_{ik}\log\sigma(z_{ik}) + (1-t_{ik})\log(1-\sigma(z_{ik}))\bigr],\quad "
    r"\partial L/\partial z_{ik} = (\sigma(z_{ik}) - t_{ik})/m",
    citations=(
        C.at(C.SOLBERG, "Activation function and loss function"),
        C.at(C.GOODFELLOW, "6.2.2.2"),
    ),
    variant_axes=(_REDUCTION_AXIS,),
    notes="Stable form max(z,0) - z t + log(1 + exp(-|z|)).",
    model=LossModel(
        evaluate=lambda o, z, t: {
            "value": logistic_loss(z, t, reduction=o["reduction"]),
            "grad": logistic_loss_gradient(z, t, reduction=o["reduction"]),
        },
        targets="binary",
    ),
))
