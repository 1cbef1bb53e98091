r"""``train.early_stopping``: stop training when the validation loss stops improving, and return
the best epoch's parameters.

A pure state machine (:func:`early_stopping`): ``init() -> state`` and
``update(state, validation_loss) -> state`` once per epoch; :func:`run_early_stopping` drives it
over a whole sequence of validation losses and says at which epoch training stops and which
epoch's parameters are returned. Epochs are counted from 0, as ``model.fit`` counts them in
callbacks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_integer, check_number
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
    "COMPARE_IN",
    "IMPROVEMENTS",
    "RESTORES",
    "STOP_RULES",
    "EarlyStopping",
    "EarlyStoppingResult",
    "EarlyStoppingState",
    "early_stopping",
    "is_improvement",
    "run_early_stopping",
]

STOP_RULES = ("wait_reaches_patience", "wait_exceeds_patience")
IMPROVEMENTS = ("strict", "at_least")
COMPARE_IN = ("loss_precision", "float32")
RESTORES = ("best", "last")


def _check_loss(name: str, value: Any) -> float:
    if hasattr(value, "shape") and np.ndim(value) != 0:
        raise ValueError(f"{name}: must be a scalar, got shape {np.shape(value)}")
    return check_number(name, float(value) if hasattr(value, "dtype") else value)


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

    and the parameters $\theta_{e^*}$ of epoch $e^*$ are returned (:func:`run_early_stopping`).

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
    p = check_integer("patience", patience, low=0)
    d = check_number("min_delta", min_delta, low=0.0)
    rule = check_choice("stop_rule", stop_rule, STOP_RULES)
    check_choice("improvement", improvement, IMPROVEMENTS)
    check_choice("compare_in", compare_in, COMPARE_IN)
    base = None if baseline is None else check_number("baseline", baseline)
    start = check_integer("start_from_epoch", start_from_epoch, low=0)

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


PATIENCE = HyperParameter("patience", "P", "checks without improvement before stopping", low=0,
                          high=None, sample_low=0, sample_high=6, special=(0, 1, 2, 3))
MIN_DELTA = HyperParameter("min_delta", r"\delta",
                           "smallest decrease of the validation loss that counts as an improvement",
                           low=0.0, high=None, sample_low=0.0, sample_high=0.05, special=(0.0,))

register(SpecEntry(
    id="train.early_stopping",
    title="Early stopping on the validation loss, returning the best parameters", tier="doc",
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
        VariantAxis("stop_rule", (
            VariantOption("wait_reaches_patience",
                          "stop at the P-th check in a row without improvement", r"w \ge P",
                          ("the inventory (stop after P checks)", "Keras EarlyStopping")),
            VariantOption("wait_exceeds_patience",
                          "stop at the (P+1)-th check in a row without improvement", r"w > P",
                          ("Padilla Montani: checks_without_progress > max_checks",
                           "flax.training.early_stopping.EarlyStopping")),
        )),
        VariantAxis("improvement", (
            VariantOption("strict", "an improvement must exceed min_delta",
                          r"L^* - L_e > \delta",
                          ("Keras EarlyStopping", "flax EarlyStopping (code)",
                           "Padilla Montani")),
            VariantOption("at_least",
                          "an improvement of exactly min_delta counts (a tie counts when "
                          "delta = 0)",
                          r"L^* - L_e \ge \delta",
                          ("flax EarlyStopping.has_improved docstring",)),
        )),
        VariantAxis("restore", (
            VariantOption("best", "the parameters of the best epoch are returned",
                          r"\theta_{e^*}",
                          ("Padilla Montani", "Keras restore_best_weights=True")),
            VariantOption("last", "the parameters of the last epoch trained are returned",
                          r"\theta_{e_\text{stop}}",
                          ("Keras restore_best_weights=False (default)",)),
        )),
        VariantAxis("compare_in", (
            VariantOption("loss_precision", "losses compared in their own precision",
                          r"L^* - L_e > \delta", ("flax EarlyStopping", "Padilla Montani")),
            VariantOption("float32",
                          "both sides of L + delta < L* rounded to float32 before comparing",
                          r"\mathrm{fl}_{32}(L_e + \delta) < \mathrm{fl}_{32}(L^*)",
                          ("Keras EarlyStopping (ops.less on Python floats uses floatx)",)),
        )),
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
))
