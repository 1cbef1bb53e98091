r"""The training procedure: early stopping, minibatch sampling, and backpropagation (pure NumPy).

Three inventory IDs live here:

``train.early_stopping``
    a pure state machine (:func:`early_stopping`): ``init() -> state`` and
    ``update(state, validation_loss) -> state`` once per epoch; :func:`run_early_stopping` drives
    it over a whole sequence of validation losses and says at which epoch training stops and
    which epoch's parameters are returned.
``train.minibatch``
    the indices of one epoch's minibatches, by a permutation split into batches (Padilla Montani)
    or by sampling with replacement (Solberg), from an explicit :class:`numpy.random.Generator`.
``train.backprop``
    the hand-derived chain-rule backward pass of a small MLP (:func:`mlp_backprop`), written
    with the operations the tolerance policy tracks (``@``, ``tanh``, ``exp``, ``where``,
    ``sum``), so that each framework's autodiff is compared with it within rounding.

Epochs are counted from 0, as ``model.fit`` counts them in callbacks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number
from trainspec.reference.registry import (
    Erratum,
    ErratumEvidence,
    HyperParameter,
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "ACTIVATIONS",
    "COMPARE_IN",
    "IMPROVEMENTS",
    "LOSSES",
    "RESTORES",
    "SAMPLINGS",
    "SPLITS",
    "STOP_RULES",
    "EarlyStopping",
    "EarlyStoppingResult",
    "EarlyStoppingState",
    "activation",
    "activation_derivative",
    "early_stopping",
    "is_improvement",
    "loss_gradient",
    "loss_value",
    "minibatch_indices",
    "mlp_backprop",
    "mlp_forward",
    "mlp_loss",
    "mlp_shapes",
    "run_early_stopping",
]

STOP_RULES = ("wait_reaches_patience", "wait_exceeds_patience")
IMPROVEMENTS = ("strict", "at_least")
COMPARE_IN = ("loss_precision", "float32")
RESTORES = ("best", "last")


def _check_int(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r}: must be an integer, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return int(value)


def _check_loss(name: str, value: Any) -> float:
    if hasattr(value, "shape") and np.ndim(value) != 0:
        raise ValueError(f"{name}: must be a scalar, got shape {np.shape(value)}")
    return check_number(name, float(value) if hasattr(value, "dtype") else value)


# ---------------------------------------------------------------------------------------------
# train.early_stopping


class EarlyStoppingState(NamedTuple):
    """Where early stopping stands after ``epoch`` checks.

    ``best`` is the best validation loss so far (``inf`` before the first monitored epoch),
    ``best_epoch`` its epoch (``-1`` before), ``wait`` the number of monitored checks since the
    last improvement, and ``stop_epoch`` the epoch at which stopping was decided (``-1`` while
    training goes on).
    """

    epoch: int
    best: float
    best_epoch: int
    wait: int
    stop_epoch: int

    @property
    def stopped(self) -> bool:
        return self.stop_epoch >= 0


class EarlyStopping(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`early_stopping`."""

    init: Callable[[], EarlyStoppingState]
    update: Callable[[EarlyStoppingState, float], EarlyStoppingState]


def is_improvement(
    current: float,
    reference: float,
    min_delta: float,
    *,
    improvement: str = "strict",
    compare_in: str = "loss_precision",
) -> bool:
    r"""Whether the validation loss ``current`` improves on ``reference`` by more than ``min_delta``.

    Symbols: $L$ = ``current``, $L^*$ = ``reference`` (the best so far, or a baseline),
    $\delta$ = ``min_delta`` $\ge 0$.

    .. math::
        \text{strict: } L^* - L > \delta, \qquad \text{at\_least: } L^* - L \ge \delta

    ``compare_in="float32"`` rounds both sides of Keras's form $L + \delta < L^*$ (or $\le$ for
    ``at_least``) to float32 before comparing (Keras's ``ops.less`` converts the Python floats of ``logs`` to ``floatx``).

    .. warning:: Keras computes ``monitor_op(current - min_delta, best)`` with ``min_delta``
       negated for a minimised quantity, i.e. $L + \delta < L^*$; flax computes
       ``best_metric - metric > min_delta``. The two orders agree exactly whenever the
       differences are exact (the kit draws losses on a dyadic grid where they are); off the grid
       they may round differently at a tie. Before the first check ``reference`` is $+\infty$
       and every finite loss improves.
    """
    check_choice("improvement", improvement, IMPROVEMENTS)
    check_choice("compare_in", compare_in, COMPARE_IN)
    if math.isinf(reference) and reference > 0:
        return True
    if compare_in == "float32":
        lhs, rhs = np.float32(current + min_delta), np.float32(reference)
        return bool(lhs < rhs) if improvement == "strict" else bool(lhs <= rhs)
    if improvement == "strict":
        return reference - current > min_delta
    return reference - current >= min_delta


def early_stopping(
    patience: int,
    min_delta: float = 0.0,
    *,
    stop_rule: str = "wait_reaches_patience",
    improvement: str = "strict",
    compare_in: str = "loss_precision",
    baseline: float | None = None,
    start_from_epoch: int = 0,
) -> EarlyStopping:
    r"""Early stopping on the validation loss, ``train.early_stopping``.

    Symbols: $P$ = ``patience``, $\delta$ = ``min_delta``, $L_e$ = the validation loss after
    epoch $e$, $L^*$ = the best loss so far (``state.best``), $w$ = the checks since the last
    improvement (``state.wait``).

    .. math::
        \text{after epoch } e:\quad
        \begin{cases}
          L^* \leftarrow L_e,\ e^* \leftarrow e,\ w \leftarrow 0 & \text{if } L^* - L_e > \delta \\
          w \leftarrow w + 1;\ \text{stop if } w \ge P & \text{otherwise}
        \end{cases}

    and the parameters of epoch $e^*$ are returned (:func:`run_early_stopping`).

    ``stop_rule``: ``"wait_reaches_patience"`` stops at the $P$-th check in a row without
    improvement ($w \ge P$; Keras's ``EarlyStopping``, where $P = 0$ and $P = 1$ therefore both
    stop at the first check without improvement); ``"wait_exceeds_patience"`` stops at the
    $(P+1)$-th ($w > P$; Padilla Montani's ``checks_without_progress >
    max_checks_without_progress``, and flax's ``EarlyStopping``, which tests
    ``patience_count >= patience`` *before* incrementing the count).

    ``improvement``: ``"strict"`` ($L^* - L_e > \delta$: Keras, the code of flax, Padilla
    Montani's ``loss_val < best_loss``) or ``"at_least"`` ($\ge \delta$: the wording of flax's
    ``has_improved`` attribute, "improved greater or equal to the min_delta"). With
    $\delta = 0$, ``at_least`` counts an exact tie as an improvement (a later epoch is restored).

    ``compare_in``: see :func:`is_improvement`.

    ``baseline`` (Keras): an improvement on the best so far restarts the wait only if it also
    improves on the baseline. ``start_from_epoch`` (Keras): epochs before it are not monitored.

    Sources: Padilla Montani, *Neural Networks Tricks-Of-The-Trade* ("Early Stopping: Possible
    Implementation"); Solberg, *INF 5860 Lecture 9* ("Regularization by early stopping", see the
    erratum); Zheng, *CS286 Lecture 6* ("Other methods of regularization"); Vitay,
    *Neurocomputing* ("Validation set and Early-Stopping"); Prechelt (1998).

    .. warning:: Frameworks split on when patience runs out (Keras: after $P$ checks without
       improvement; flax: after $P+1$) and on what is returned (Keras restores the best epoch's
       weights only with ``restore_best_weights=True``; flax returns nothing, its user saves the
       parameters when ``has_improved``).
    """
    p = _check_int("patience", patience, low=0)
    d = check_number("min_delta", min_delta, low=0.0)
    rule = check_choice("stop_rule", stop_rule, STOP_RULES)
    check_choice("improvement", improvement, IMPROVEMENTS)
    check_choice("compare_in", compare_in, COMPARE_IN)
    base = None if baseline is None else check_number("baseline", baseline)
    start = _check_int("start_from_epoch", start_from_epoch, low=0)

    def init() -> EarlyStoppingState:
        return EarlyStoppingState(epoch=0, best=math.inf, best_epoch=-1, wait=0, stop_epoch=-1)

    def update(state: EarlyStoppingState, validation_loss: float) -> EarlyStoppingState:
        if not isinstance(state, EarlyStoppingState):
            raise TypeError(
                f"state: must be an EarlyStoppingState (from init()), got {type(state).__name__}"
            )
        loss = _check_loss("validation_loss", validation_loss)
        e = state.epoch
        if state.stopped or e < start:
            return state._replace(epoch=e + 1)
        if _improves(loss, state.best):
            # the wait restarts only if the baseline is beaten too; an improvement never stops
            # training, even while the wait goes on (Keras)
            beaten = base is None or _improves(loss, base)
            wait = 0 if beaten else state.wait + 1
            return state._replace(epoch=e + 1, best=loss, best_epoch=e, wait=wait)
        wait = state.wait + 1
        done = wait >= p if rule == "wait_reaches_patience" else wait > p
        return state._replace(epoch=e + 1, wait=wait, stop_epoch=e if done else -1)

    def _improves(current: float, reference: float) -> bool:
        return is_improvement(current, reference, d, improvement=improvement, compare_in=compare_in)

    return EarlyStopping(init, update)


@dataclass(frozen=True)
class EarlyStoppingResult:
    """What a training loop with early stopping returns.

    ``stop_epoch`` is the epoch after which training stopped (``-1``: it ran every epoch);
    ``restored_epoch`` is the epoch whose parameters are returned; ``epochs_run`` counts the
    epochs trained.
    """

    stop_epoch: int
    restored_epoch: int
    epochs_run: int


def run_early_stopping(
    validation_losses: Sequence[float],
    patience: int,
    min_delta: float = 0.0,
    *,
    restore: str = "best",
    **options: Any,
) -> EarlyStoppingResult:
    r"""Train for ``len(validation_losses)`` epochs at most, stopping early; see :func:`early_stopping`.

    ``restore="best"`` returns the parameters of the best epoch $e^*$ (Padilla Montani: "After
    training, return saved parameters"; Keras ``restore_best_weights=True``); ``"last"`` those of
    the last epoch trained (Keras's default ``restore_best_weights=False``). If no epoch was
    monitored (``start_from_epoch`` past the end), the last epoch's parameters are returned.
    """
    check_choice("restore", restore, RESTORES)
    if isinstance(validation_losses, str | bytes) or not isinstance(validation_losses, Sequence):
        raise TypeError(
            f"validation_losses: must be a sequence of numbers, got {type(validation_losses).__name__}"
        )
    if len(validation_losses) == 0:
        raise ValueError("validation_losses: must hold at least one epoch's loss")
    es = early_stopping(patience, min_delta, **options)
    state = es.init()
    for i, loss in enumerate(validation_losses):
        state = es.update(state, _check_loss(f"validation_losses[{i}]", loss))
        if state.stopped:
            break
    last = state.epoch - 1
    restored = state.best_epoch if restore == "best" and state.best_epoch >= 0 else last
    return EarlyStoppingResult(state.stop_epoch, restored, state.epoch)


def _solberg_early_stopping_check() -> ErratumEvidence:
    """A U-shaped validation error (falls for 8 epochs, then rises) and its accuracy 1 - error."""
    error = [0.40, 0.30, 0.24, 0.20, 0.17, 0.15, 0.14, 0.135, 0.13, 0.14, 0.15, 0.17, 0.19, 0.22]
    accuracy = [1.0 - e for e in error]
    patience = 3
    spec = run_early_stopping(error, patience)
    # printed: "stop when the validation accuracy increases systematically over several steps",
    # i.e. early stopping that treats a rising accuracy as the bad direction
    printed = run_early_stopping(accuracy, patience)
    # corrected: stop when the accuracy decreases (the error rises): monitor -accuracy
    corrected = run_early_stopping([-a for a in accuracy], patience)
    return ErratumEvidence(
        printed_error=float(abs(printed.restored_epoch - spec.restored_epoch)),
        corrected_error=float(abs(corrected.restored_epoch - spec.restored_epoch)),
        detail=f"validation error falls to its minimum at epoch {spec.restored_epoch}, then rises; "
        f"patience {patience}: the printed rule stops at epoch {printed.stop_epoch} while the "
        f"error still falls and returns epoch {printed.restored_epoch}; the corrected rule stops "
        f"at epoch {corrected.stop_epoch} and returns epoch {corrected.restored_epoch}",
    )


# ---------------------------------------------------------------------------------------------
# train.minibatch

SAMPLINGS = ("permutation", "with_replacement")
SPLITS = ("array_split", "slices", "drop_remainder")


def minibatch_indices(
    n: int,
    batch_size: int,
    rng: np.random.Generator,
    *,
    sampling: str = "permutation",
    split: str = "array_split",
) -> list[np.ndarray]:
    r"""The sample indices of one epoch's minibatches, ``train.minibatch``.

    Symbols: $N$ = ``n`` (training samples), $B$ = ``batch_size``.

    ``sampling="permutation"`` (Padilla Montani, "Early Stopping: Possible Implementation":
    ``rnd_idx = np.random.permutation(len(X_train))`` then
    ``np.array_split(rnd_idx, len(X_train) // batch_size)``): a uniformly random permutation
    $\pi$ of $\{0, \dots, N-1\}$ is cut into batches, so every index appears exactly once per
    epoch. ``split`` says how it is cut:

    * ``"array_split"``: $\lfloor N/B \rfloor$ batches whose sizes differ by at most one (the
      first $N \bmod \lfloor N/B\rfloor$ are one longer), as Padilla Montani's code does;
    * ``"slices"``: consecutive slices of $B$, the last one shorter (``torch.utils.data.DataLoader``,
      ``tf.data.Dataset.batch``);
    * ``"drop_remainder"``: consecutive slices of $B$, the incomplete last one dropped.

    ``sampling="with_replacement"`` (Solberg, "Repetition: Mini batch gradient descent":
    ``sample_ind = np.random.choice(num_train, batch_size)``): each of the $\lceil N/B \rceil$
    batches draws $B$ indices independently and uniformly, with replacement, so index $i$ appears
    $\mathrm{Binomial}(B\lceil N/B\rceil, 1/N)$ times per epoch (``split`` is ignored).

    Randomness comes only from ``rng``.

    The entry also cites Goodfellow et al. (2016); LeCun et al. (1998).
    """
    n = _check_int("n", n, low=1)
    b = _check_int("batch_size", batch_size, low=1)
    if b > n:
        raise ValueError(f"batch_size={b}: must be at most n={n}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    check_choice("sampling", sampling, SAMPLINGS)
    check_choice("split", split, SPLITS)
    if sampling == "with_replacement":
        return [rng.integers(0, n, size=b) for _ in range(-(-n // b))]
    order = rng.permutation(n)
    if split == "array_split":
        return list(np.array_split(order, n // b))
    stop = n - n % b if split == "drop_remainder" else n
    return [order[i : min(i + b, stop)] for i in range(0, stop, b)]


# ---------------------------------------------------------------------------------------------
# train.backprop

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


# ---------------------------------------------------------------------------------------------
# the spec entries

PATIENCE = HyperParameter(
    "patience",
    "P",
    "checks without improvement before stopping",
    low=0,
    high=None,
    sample_low=0,
    sample_high=6,
    special=(0, 1, 2, 3),
)
MIN_DELTA = HyperParameter(
    "min_delta",
    r"\delta",
    "smallest decrease of the validation loss that counts as an improvement",
    low=0.0,
    high=None,
    sample_low=0.0,
    sample_high=0.05,
    special=(0.0,),
)

register(
    SpecEntry(
        id="train.early_stopping",
        title="Early stopping on the validation loss, returning the best parameters",
        tier="doc",
        kind="training.early_stopping",
        formula=r"L_e < L^* - \delta \Rightarrow (L^*, e^*, w) \leftarrow (L_e, e, 0);\ "
        r"\text{else } w \leftarrow w + 1,\ \text{stop if } w \ge P;\ \text{return } \theta_{e^*}",
        citations=(
            C.at(C.PADILLA_MONTANI, "Early Stopping: Possible Implementation"),
            C.at(C.SOLBERG, "Regularization by early stopping"),
            C.at(C.ZHENG, "Other methods of regularization"),
            C.at(C.VITAY, "Validation set and Early-Stopping"),
            C.PRECHELT,
        ),
        variant_axes=(
            VariantAxis(
                "stop_rule",
                (
                    VariantOption(
                        "wait_reaches_patience",
                        "stop at the P-th check in a row without improvement",
                        r"w \ge P",
                        ("the inventory (stop after P checks)", "Keras EarlyStopping"),
                    ),
                    VariantOption(
                        "wait_exceeds_patience",
                        "stop at the (P+1)-th check in a row without improvement",
                        r"w > P",
                        (
                            "Padilla Montani: checks_without_progress > max_checks",
                            "flax.training.early_stopping.EarlyStopping",
                        ),
                    ),
                ),
            ),
            VariantAxis(
                "improvement",
                (
                    VariantOption(
                        "strict",
                        "an improvement must exceed min_delta",
                        r"L^* - L_e > \delta",
                        ("Keras EarlyStopping", "flax EarlyStopping (code)", "Padilla Montani"),
                    ),
                    VariantOption(
                        "at_least",
                        "an improvement of exactly min_delta counts (a tie counts when delta = 0)",
                        r"L^* - L_e \ge \delta",
                        ("flax EarlyStopping.has_improved docstring",),
                    ),
                ),
            ),
            VariantAxis(
                "restore",
                (
                    VariantOption(
                        "best",
                        "the parameters of the best epoch are returned",
                        r"\theta_{e^*}",
                        ("Padilla Montani", "Keras restore_best_weights=True"),
                    ),
                    VariantOption(
                        "last",
                        "the parameters of the last epoch trained are returned",
                        r"\theta_{e_\text{stop}}",
                        ("Keras restore_best_weights=False (default)",),
                    ),
                ),
            ),
            VariantAxis(
                "compare_in",
                (
                    VariantOption(
                        "loss_precision",
                        "losses compared in their own precision",
                        r"L^* - L_e > \delta",
                        ("flax EarlyStopping", "Padilla Montani"),
                    ),
                    VariantOption(
                        "float32",
                        "both sides of L + delta < L* rounded to float32 before comparing",
                        r"\mathrm{fl}_{32}(L_e + \delta) < \mathrm{fl}_{32}(L^*)",
                        ("Keras EarlyStopping (ops.less on Python floats uses floatx)",),
                    ),
                ),
            ),
        ),
        errata=(
            Erratum(
                source=C.at(C.SOLBERG, "Regularization by early stopping"),
                printed="stop when the validation accuracy increases systematically over several steps",
                correct="stop when the validation accuracy decreases (the validation error increases) "
                "systematically over several steps",
                explanation="Early stopping ends training when the model starts to overfit, i.e. "
                "when validation performance gets worse; a rising accuracy is progress. Monitoring "
                "a rising accuracy stops in the underfitting phase.",
                check=_solberg_early_stopping_check,
            ),
        ),
        hyperparameters=(PATIENCE, MIN_DELTA),
        notes="Epochs count from 0. The first monitored loss always improves on +inf. Keras's "
        "baseline and start_from_epoch are options of the reference (early_stopping); the kit "
        "draws neither. Zheng's 'stop as soon as the validation error reaches a minimum' is "
        "P = 0 or 1 with restore=best.",
    )
)

register(
    SpecEntry(
        id="train.minibatch",
        title="Minibatches: a permutation split into batches, or sampling with replacement",
        tier="doc",
        kind="reference",
        formula=r"\pi \sim \mathrm{Uniform}(S_N),\ \text{batches } \pi_{[jB:(j+1)B]}\quad"
        r"\text{or}\quad i_1,\dots,i_B \overset{\text{iid}}{\sim} \mathrm{Uniform}\{0,\dots,N-1\}",
        citations=(
            C.at(
                C.PADILLA_MONTANI, "Early Stopping: Possible Implementation (np.random.permutation)"
            ),
            C.at(C.SOLBERG, "Repetition: Mini batch gradient descent (np.random.choice)"),
            C.at(C.GOODFELLOW, "§8.1.3 Batch and minibatch algorithms"),
            C.LECUN_EFFICIENT_BACKPROP,
        ),
        variant_axes=(
            VariantAxis(
                "sampling",
                (
                    VariantOption(
                        "permutation",
                        "each index exactly once per epoch, in random order",
                        r"\pi \sim \mathrm{Uniform}(S_N)",
                        ("Padilla Montani",),
                    ),
                    VariantOption(
                        "with_replacement",
                        "each batch draws its indices independently with replacement",
                        r"i \sim \mathrm{Uniform}\{0..N-1\}",
                        ("Solberg",),
                    ),
                ),
            ),
            VariantAxis(
                "split",
                (
                    VariantOption(
                        "array_split",
                        "floor(N/B) batches whose sizes differ by at most one",
                        r"\texttt{np.array\_split}(\pi, \lfloor N/B\rfloor)",
                        ("Padilla Montani",),
                    ),
                    VariantOption(
                        "slices",
                        "consecutive slices of B, the last one shorter",
                        r"\pi_{[jB:(j+1)B]}",
                        ("torch DataLoader(drop_last=False)", "tf.data batch()"),
                    ),
                    VariantOption(
                        "drop_remainder",
                        "consecutive slices of B, the incomplete last one dropped",
                        r"\pi_{[jB:(j+1)B]},\ j < \lfloor N/B\rfloor",
                        ("torch DataLoader(drop_last=True)", "tf.data batch(drop_remainder=True)"),
                    ),
                ),
            ),
        ),
        notes="Reference only: checked statistically by tests/reference/test_training.py "
        "(every index once per epoch; uniform positions; binomial counts with replacement).",
    )
)

register(
    SpecEntry(
        id="train.backprop",
        title="Backpropagation through an MLP by the chain rule",
        tier="doc",
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
            VariantAxis(
                "relu_grad_at_zero",
                (
                    VariantOption(
                        "zero",
                        "ReLU's derivative at exactly 0 is 0",
                        r"f'(0) = 0",
                        ("torch.relu", "tf.nn.relu", "jax.nn.relu"),
                    ),
                    VariantOption(
                        "one",
                        "ReLU's derivative at exactly 0 is 1 (the heaviside step H(0) = 1)",
                        r"f'(0) = 1",
                        ("Zheng: heaviside(z) = 1 for z >= 0",),
                    ),
                ),
            ),
        ),
        notes="Layers z_k = h_{k-1} W_k^T + b_k with tanh, sigmoid, relu or identity; losses "
        "half_sse (Zheng) and mse. Each framework's autodiff is compared with the hand-derived "
        "backward pass within the tolerance policy.",
    )
)
