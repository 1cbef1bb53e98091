r"""Dropout: inverted and naive dropout, and Monte-Carlo dropout (pure NumPy, float64).

Symbols used throughout: $x$ = the layer's input ``x``, $m$ = the binary mask (1 = kept),
$q$ = the *keep probability* ($m_i \sim \mathrm{Bernoulli}(q)$, independently per element), and
$p$ = ``rate``, the number a document or a framework writes down. What $p$ means is the
``rate_meaning`` axis, because the sources split:

* ``rate_meaning="drop"`` ($q = 1 - p$): the drop probability. *Neural network architectures,
  part one* ("Dropout", quoting ``torch.nn.Dropout(p=0.5)``), Zheng (*CS286 Lecture 6*,
  "Dropout": "p is called the dropout rate"), Padilla Montani (*Neural Networks
  Tricks-Of-The-Trade*, "Dropout": ``p = 0.5  # == 1 - keep_prob``, ``tf.layers.dropout(rate=p)``),
  Vitay ("Dropout": "dropping ... with a probability p"), ``torch.nn.functional.dropout(p=)``,
  ``keras.layers.Dropout(rate=)``, ``tf.nn.dropout(rate=)``, ``flax.linen.Dropout(rate=)``.
* ``rate_meaning="keep"`` ($q = p$): the keep (retain) probability. Solberg's code (*INF 5860
  Lecture 9*, "Dropout - training" and "Inverted dropout": ``U1 = (np.random.rand(*H1.shape) < p)
  / p``), Srivastava et al. (2014) ("retention probability p"), and TensorFlow 1's deprecated
  ``tf.nn.dropout(keep_prob=)``.

Solberg's *text* calls the same p the probability of a zero ("Create a binary mask for all nodes
with probability of zero = p"; "A drop rate of p will scale the outputs during training with a
factor p < 1") while the code keeps each unit with probability p and the naive predict step
multiplies by p: that is recorded as an erratum (:func:`solberg_mask_erratum`), and the spec
follows the code.

Random functions take an explicit :class:`numpy.random.Generator` (never a global RNG); every
function that draws a mask also accepts the mask itself, so that results can be checked value by
value. The formulas use only the operations that the tolerance policy tracks
(:mod:`trainspec.conformance.tolerance`): ``np.where`` on an exact mask, ``*``, ``/``, ``-`` and
``@``; :func:`~trainspec.reference.base.either_order` bounds the two orders in which frameworks
scale a kept value, $x/q$ (flax) and $x \cdot (1/q)$ (PyTorch, ``tf.nn.dropout``).

The module is laid out in cards: what the three IDs share (the rate's meaning, the masks, the
erratum, the model the kit drives and the axes), then ``drop.inverted``, ``drop.naive`` (and
:func:`dropout`, either form) and ``drop.mc``, each function followed by its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_number, check_rng, either_order
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
    "FORMS",
    "MASKINGS",
    "RATE",
    "RATE_MEANINGS",
    "DropoutModel",
    "bernoulli_mask",
    "dropout",
    "dropout_moments",
    "inverted_dropout",
    "keep_probability",
    "linear_dropout_moments",
    "mc_dropout",
    "mc_dropout_linear",
    "naive_dropout",
    "solberg_mask_erratum",
]

RATE_MEANINGS = ("drop", "keep")
FORMS = ("inverted", "naive")
MASKINGS = ("multiply", "select")


# ---------------------------------------------------------------------------------------------
# the parameter's meaning


def keep_probability(rate: Any, rate_meaning: str = "drop") -> Any:
    r"""The keep probability $q$ from the documented parameter $p$ = ``rate``.

    .. math::
        q = \begin{cases} 1 - p & \texttt{rate\_meaning="drop"} \\
                          p & \texttt{rate\_meaning="keep"} \end{cases}, \qquad p \in [0, 1]

    $q = 0$ drops every unit: training-mode dropout is then 0 everywhere (the limit the
    frameworks implement, e.g. ``torch.nn.functional.dropout(p=1)``), never a division by 0.

    .. warning:: The sources split on what $p$ means (see the module docstring): PyTorch, Keras,
       TensorFlow 2, flax and the notes of Vitay, Zheng, Padilla Montani and the architectures
       notes use the drop probability; Solberg's code, Srivastava et al. (2014) and TensorFlow 1's
       ``keep_prob`` the keep probability. Passing a keep probability to ``torch.nn.Dropout(p=)`` silently turns
       $q$ into $1 - q$.

    A rate that carries a rounding bound (the kit's tracked scalars) keeps it: $1 - p$ is then
    bounded for a framework that computes it in the dtype.
    """
    meaning = check_choice("rate_meaning", rate_meaning, RATE_MEANINGS)
    r = check_number("rate", rate, low=0.0, high=1.0)
    return 1.0 - r if meaning == "drop" else r


def _check_x(x: Any) -> None:
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "shape"):
        raise TypeError(f"x: must be an array, got {type(x).__name__}")
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"x: must have a real floating-point dtype, got {dtype}")


def _check_training(training: Any) -> bool:
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"training={training!r}: must be a bool")
    return bool(training)


def bernoulli_mask(shape: tuple[int, ...], q: float, rng: np.random.Generator) -> np.ndarray:
    r"""A boolean mask, ``True`` (kept) with probability $q$ independently per element.

    Solberg's code, ``np.random.rand(*H1.shape) < p``: $P(U < q) = q$ for $U \sim U[0, 1)$, so
    $q = 1$ keeps everything and $q = 0$ drops everything.
    """
    qq = check_number("q", q, low=0.0, high=1.0)
    check_rng(rng, alternative="mask=")
    return rng.random(shape) < float(qq)


def _mask_for(x: Any, q: Any, rng: Any, mask: Any) -> np.ndarray:
    if mask is not None:
        if rng is not None:
            raise ValueError("rng, mask: pass one of them, not both (the mask is the draw)")
        m = np.asarray(mask)
        if m.shape != tuple(x.shape):
            raise ValueError(f"mask: shape {m.shape} must equal the shape of x, {tuple(x.shape)}")
        if m.dtype != np.bool_:
            if not np.issubdtype(m.dtype, np.number) or not np.all((m == 0) | (m == 1)):
                raise ValueError("mask: must be boolean or hold only 0 and 1 (1 = kept)")
            m = m != 0
        return m
    if rng is None:
        raise TypeError(
            "rng: training-mode dropout needs a numpy.random.Generator (rng=) or a mask (mask=)"
        )
    return bernoulli_mask(tuple(x.shape), float(q), rng)


def _dropped(x: Any, masking: str) -> Any:
    r"""The value of a dropped unit: $x \cdot 0$ (``multiply``: NaN where $x$ is infinite or NaN,
    as IEEE-754 gives it) or $0$ (``select``)."""
    if masking == "select":
        return 0.0
    with np.errstate(invalid="ignore"):
        return x * 0.0


# ---------------------------------------------------------------------------------------------
# the erratum (both forms)


def _solberg_check(form: str) -> Callable[[], ErratumEvidence]:
    def check() -> ErratumEvidence:
        # The expectation of a training-mode unit over its two outcomes, exactly (H = 1), against
        # the test-time output; p = 0.25 is a witness (at p = 0.5 both readings agree).
        p, h = 0.25, 1.0
        scale = 1.0 / p if form == "inverted" else 1.0  # Solberg's code: (rand < p) / p, or none
        test = h if form == "inverted" else p * h  # "No scaling necessary", or "* p"
        printed = (1.0 - p) * h * scale  # text: probability of zero = p, so P(kept) = 1 - p
        corrected = p * h * scale  # code: rand < p keeps with probability p
        return ErratumEvidence(
            printed_error=abs(printed - test),
            corrected_error=abs(corrected - test),
            detail=f"p = {p}, H = {h}: E[train] is {printed} as the text reads p, "
            f"{corrected} as the code does; the test-time output is {test}",
        )

    return check


def solberg_mask_erratum(form: str = "inverted") -> Erratum:
    r"""Solberg's text reads p as the probability of a zero; his code keeps with probability p.

    "Dropout - training" says "Create a binary mask for all nodes with probability of zero = p",
    and "Dropout - predict: naive implementation" says "A drop rate of p will scale the outputs
    during training with a factor p < 1"; the code on the same slides, ``np.random.rand(*H1.shape)
    < p``, keeps each unit with probability p, and only that reading makes the predict step
    (``* p`` naive, no scaling inverted, after ``/ p`` in training) match the training
    expectation. The check computes both expectations exactly.
    """
    f = check_choice("form", form, FORMS)
    slide = "Inverted dropout" if f == "inverted" else "Dropout - predict: naive implementation"
    train = r"\frac{x \odot m}{p}" if f == "inverted" else r"x \odot m"
    test = "x" if f == "inverted" else "p\\, x"
    return Erratum(
        source=C.at(C.SOLBERG, f"Dropout - training; {slide}"),
        printed=rf"P(m_i = 0) = p;\ \text{{train: }} {train};\ \text{{test: }} {test}",
        correct=rf"P(m_i = 0) = 1 - p\ (\texttt{{rand}} < p);\ \text{{train: }} {train};\ "
        rf"\text{{test: }} {test}",
        explanation="The text calls p the probability of a zero (a drop rate), but the code draws "
        "the mask as rand < p, which keeps a unit with probability p; with the text's reading the "
        "training expectation is (1-p)x"
        + (" / p" if f == "inverted" else "")
        + ", not the test-time output. p is the keep probability (rate_meaning=keep).",
        check=_solberg_check(f),
    )


@dataclass(frozen=True)
class DropoutModel:
    """What the dropout kind needs of an entry: the form, and whether a linear layer follows
    (``mc``: Monte-Carlo dropout checks the average of passes through dropout and a linear layer)."""

    form: str
    mc: bool = False

    def __post_init__(self) -> None:
        check_choice("form", self.form, FORMS)


RATE = HyperParameter("rate", "p",
                      "the documented dropout parameter: the drop probability "
                      "(rate_meaning=drop, q = 1 - p) or the keep probability "
                      "(rate_meaning=keep, q = p)",
                      low=0.0, high=1.0, high_closed=False, sample_low=0.05, sample_high=0.95,
                      special=(0.5, 0.0, 0.2, 0.9))

_RATE_MEANING = VariantAxis("rate_meaning", (
    VariantOption("drop", "p is the drop probability: q = 1 - p",
                  r"m_i \sim \mathrm{Bernoulli}(1 - p)",
                  ("Vitay", "Neural network architectures, torch.nn.Dropout", "Zheng",
                   "Padilla Montani, tf.layers.dropout(rate=)", "torch.nn.functional.dropout(p=)",
                   "keras.layers.Dropout(rate=)", "tf.nn.dropout(rate=)",
                   "flax.linen.Dropout(rate=)")),
    VariantOption("keep", "p is the keep (retention) probability: q = p",
                  r"m_i \sim \mathrm{Bernoulli}(p)",
                  ("Solberg, code rand < p", "Srivastava et al. (2014)",
                   "TensorFlow 1 tf.nn.dropout(keep_prob=)")),
))

_MASKING = VariantAxis("masking", (
    VariantOption("multiply",
                  "the input is multiplied by the (scaled) mask: a dropped inf or nan gives nan "
                  "(IEEE x*0)",
                  r"y = x \cdot (m / q)",
                  ("Solberg, H1 *= U1", "torch.nn.functional.dropout", "torch.nn.Dropout")),
    VariantOption("select",
                  "kept units are selected, dropped ones set to 0: a dropped inf or nan gives 0",
                  r"y = \operatorname{where}(m, x / q, 0)",
                  ("tf.nn.dropout", "keras.layers.Dropout", "flax.linen.Dropout",
                   "flax.nnx.Dropout")),
))

_FORM = VariantAxis("form", (
    VariantOption("inverted", "kept units scaled by 1/q in training; identity at test time",
                  r"y_{\text{train}} = x \odot m / q;\ y_{\text{test}} = x",
                  ("Solberg, Inverted dropout", "Neural network architectures", "Padilla Montani",
                   "PyTorch, Keras, flax")),
    VariantOption("naive", "kept units unscaled in training; scaled by q at test time",
                  r"y_{\text{train}} = x \odot m;\ y_{\text{test}} = q x",
                  ("Solberg, naive implementation", "Srivastava et al. (2014)")),
))


# ---------------------------------------------------------------------------------------------
# drop.inverted


def inverted_dropout(
    x: Any,
    rate: Any,
    *,
    rate_meaning: str = "drop",
    masking: str = "multiply",
    training: bool = True,
    rng: np.random.Generator | None = None,
    mask: Any = None,
) -> Any:
    r"""Inverted dropout, ``drop.inverted``: scale the kept units at training time.

    Symbols: $x$ = ``x``, $p$ = ``rate`` (its meaning is ``rate_meaning``, see
    :func:`keep_probability`), $q$ = the keep probability, $m$ = ``mask`` (drawn from ``rng``
    when not given).

    .. math::
        \text{train: } y = \frac{x \odot m}{q},\quad m_i \sim \mathrm{Bernoulli}(q); \qquad
        \text{test: } y = x; \qquad \mathbb{E}[y_{\text{train}}] = x

    Solberg, *INF 5860 Lecture 9* ("Inverted dropout": ``U1 = (np.random.rand(*H1.shape) < p)
    / p``, "No scaling necessary" at predict); *Neural network architectures, part one*
    ("Dropout": outputs scaled by $1/(1-p)$ in training, identity in evaluation); Padilla Montani,
    *Neural Networks Tricks-Of-The-Trade* ("Dropout": divide by the keep probability $(1-p)$
    during training); Zheng, *CS286 Lecture 6* ("Dropout"); Srivastava et al. (2014).

    A kept value is $x/q$ (flax) or $x \cdot (1/q)$ (PyTorch, ``tf.nn.dropout``); both orders are
    bounded when ``x`` carries a rounding bound. A dropped value is exactly 0 for finite $x$;
    ``masking`` says what it is for an infinite or NaN $x$: ``"multiply"`` evaluates the formula
    $x \cdot 0$ in IEEE-754 arithmetic (NaN, as Solberg's ``H1 *= U1`` does), ``"select"``
    gives 0.

    The entry also cites Vitay, *Neurocomputing: Modern neural networks*.

    .. warning:: Frameworks split on what ``rate`` means: PyTorch's ``p``, Keras's and flax's
       ``rate`` are the drop probability (``rate_meaning="drop"``, the default); Solberg's p is
       the keep probability. On non-finite inputs they split too: PyTorch multiplies by the
       scaled mask (a dropped ``inf`` or ``nan`` becomes ``nan``: ``masking="multiply"``),
       ``tf.nn.dropout``, Keras and flax select (it becomes 0: ``masking="select"``).
    """
    _check_x(x)
    q = keep_probability(rate, rate_meaning)
    how = check_choice("masking", masking, MASKINGS)
    if not _check_training(training):
        return x
    m = _mask_for(x, q, rng, mask)
    if float(q) == 0.0:  # nothing is kept (a mask of ones is not a draw from Bernoulli(0))
        return np.where(np.zeros(m.shape, bool), x, _dropped(x, how))
    with np.errstate(invalid="ignore"):  # inf / q, nan / q are IEEE results, not errors
        kept = either_order(x / q, x * (1.0 / q))
    return np.where(m, kept, _dropped(x, how))


register(SpecEntry(
    id="drop.inverted", title="Inverted dropout", tier="core", kind="dropout",
    formula=r"\text{train: } y = \frac{x \odot m}{q},\ m_i \sim \mathrm{Bernoulli}(q);\ "
    r"\text{test: } y = x",
    citations=(
        C.at(C.SOLBERG, "Dropout - training; Inverted dropout"),
        C.at(C.ARCHITECTURES, "Deep neural networks: regularization (Dropout)"),
        C.at(C.ZHENG, "Dropout"),
        C.at(C.PADILLA_MONTANI, "Dropout; Implementation in TensorFlow"),
        C.at(C.VITAY, "Dropout"),
        C.SRIVASTAVA,
    ),
    variant_axes=(_RATE_MEANING, _MASKING),
    errata=(solberg_mask_erratum("inverted"),),
    hyperparameters=(RATE,),
    notes="q is the keep probability; E[y_train] = x. A kept value is x/q or x*(1/q) (both "
    "orders are accepted within rounding), a dropped one exactly 0 (for an infinite or NaN "
    "input: NaN when multiplied, 0 when selected, the masking axis). Only the element-wise "
    "form is in scope (no noise_shape, no channel-wise Dropout2d).",
    model=DropoutModel("inverted"),
))


# ---------------------------------------------------------------------------------------------
# drop.naive


def naive_dropout(
    x: Any,
    rate: Any,
    *,
    rate_meaning: str = "drop",
    masking: str = "multiply",
    training: bool = True,
    rng: np.random.Generator | None = None,
    mask: Any = None,
) -> Any:
    r"""Naive dropout, ``drop.naive``: keep units unscaled in training, scale by $q$ at test time.

    Symbols and ``masking`` as in :func:`inverted_dropout`.

    .. math::
        \text{train: } y = x \odot m,\quad m_i \sim \mathrm{Bernoulli}(q); \qquad
        \text{test: } y = q\, x; \qquad \mathbb{E}[y_{\text{train}}] = q\, x = y_{\text{test}}

    Solberg, *INF 5860 Lecture 9* ("Dropout - training": ``H1 *= U1``; "Dropout - predict: naive
    implementation": ``H1 = np.maximum(0, np.dot(W1, X) + b1) * p``); Srivastava et al. (2014),
    Figure 2 (weights multiplied by the retention probability at test time).

    .. warning:: No framework offers this form; PyTorch, Keras and flax implement
       :func:`inverted_dropout`. Solberg's p is the keep probability here
       (``rate_meaning="keep"``), while his text calls it the probability of a zero: see
       :func:`solberg_mask_erratum`.
    """
    _check_x(x)
    q = keep_probability(rate, rate_meaning)
    how = check_choice("masking", masking, MASKINGS)
    if not _check_training(training):
        return q * x
    m = _mask_for(x, q, rng, mask)
    return np.where(m, x, _dropped(x, how))


register(SpecEntry(
    id="drop.naive", title="Naive dropout (scaled at test time)", tier="core", kind="dropout",
    formula=r"\text{train: } y = x \odot m,\ m_i \sim \mathrm{Bernoulli}(q);\ "
    r"\text{test: } y = q\, x",
    citations=(
        C.at(C.SOLBERG, "Dropout - training; Dropout - predict: naive implementation"),
        C.at(C.SRIVASTAVA, "Figure 2"),
    ),
    variant_axes=(_RATE_MEANING, _MASKING),
    errata=(solberg_mask_erratum("naive"),),
    hyperparameters=(RATE,),
    notes="No framework offers this form (all scale at training time). E[y_train] = q x = y_test.",
    model=DropoutModel("naive"),
))


# ---------------------------------------------------------------------------------------------
# either form


def dropout(
    x: Any,
    rate: Any,
    *,
    form: str = "inverted",
    rate_meaning: str = "drop",
    masking: str = "multiply",
    training: bool = True,
    rng: np.random.Generator | None = None,
    mask: Any = None,
) -> Any:
    r"""Dropout in the given ``form``: :func:`inverted_dropout` or :func:`naive_dropout`."""
    f = check_choice("form", form, FORMS)
    fn = inverted_dropout if f == "inverted" else naive_dropout
    return fn(
        x, rate, rate_meaning=rate_meaning, masking=masking, training=training, rng=rng, mask=mask
    )


def dropout_moments(
    x: Any, rate: Any, *, form: str = "inverted", rate_meaning: str = "drop"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance, element by element, of training-mode dropout of a fixed ``x``.

    .. math::
        \text{inverted: } \mathbb{E}[y] = x,\ \operatorname{Var}[y] = x^2\,\frac{1-q}{q}; \qquad
        \text{naive: } \mathbb{E}[y] = q\,x,\ \operatorname{Var}[y] = x^2\, q(1-q)

    and both are 0 when $q = 0$ (every unit dropped).
    """
    _check_x(x)
    f = check_choice("form", form, FORMS)
    q = float(keep_probability(rate, rate_meaning))
    xx = np.asarray(x, dtype=np.float64)
    if q == 0.0:  # every unit dropped: y = 0 surely
        return np.zeros(xx.shape), np.zeros(xx.shape)
    if f == "inverted":
        return xx.copy(), xx**2 * ((1.0 - q) / q)
    return q * xx, xx**2 * (q * (1.0 - q))


# ---------------------------------------------------------------------------------------------
# drop.mc


def mc_dropout(
    forward: Callable[[np.random.Generator], Any], passes: int, rng: np.random.Generator
) -> np.ndarray:
    r"""Monte-Carlo dropout, ``drop.mc``: the average of $T$ stochastic passes at prediction time.

    Symbols: $T$ = ``passes``; ``forward(rng)`` is one forward pass with dropout *on* (training
    mode), drawing its masks from ``rng``.

    .. math:: \hat y = \frac{1}{T} \sum_{t=1}^{T} f(x; m^{(t)})

    Zheng, *CS286 Lecture 6* ("Dropout": "A variant: Monte-Carlo (MC) dropout: Average over
    multiple predictions with dropout"); Gal & Ghahramani (2016).
    """
    if isinstance(passes, bool) or not isinstance(passes, int | np.integer) or passes < 1:
        raise ValueError(f"passes={passes!r}: must be an integer >= 1")
    check_rng(rng, alternative="mask=")
    if not callable(forward):
        raise TypeError(f"forward={forward!r}: must be callable as forward(rng)")
    outs = [np.asarray(forward(rng), dtype=np.float64) for _ in range(int(passes))]
    return np.mean(np.stack(outs), axis=0)


def _check_linear(x: Any, weight: Any, bias: Any) -> None:
    _check_x(x)
    _check_x(weight)
    _check_x(bias)
    if x.ndim != 2 or weight.ndim != 2 or bias.ndim != 1:
        raise ValueError(
            f"x, weight, bias: must be 2-D (batch, in), 2-D (in, out) and 1-D (out), got shapes "
            f"{tuple(x.shape)}, {tuple(weight.shape)}, {tuple(bias.shape)}"
        )
    if x.shape[1] != weight.shape[0] or weight.shape[1] != bias.shape[0]:
        raise ValueError(
            f"x, weight, bias: shapes {tuple(x.shape)}, {tuple(weight.shape)}, "
            f"{tuple(bias.shape)} do not chain as x @ weight + bias"
        )


def mc_dropout_linear(
    x: Any,
    weight: Any,
    bias: Any,
    rate: Any,
    *,
    form: str = "inverted",
    rate_meaning: str = "drop",
    training: bool = True,
    rng: np.random.Generator | None = None,
    mask: Any = None,
) -> Any:
    r"""One pass of dropout followed by a linear layer: $y = \operatorname{dropout}(x)\, W + b$.

    Symbols: $x$ = ``x`` (batch, in), $W$ = ``weight`` (in, out), $b$ = ``bias``. In training
    mode (the stochastic pass of MC dropout) the input is dropped with ``mask`` or a mask drawn
    from ``rng``; in test mode it is the form's test-time output (``x``, or $q x$ for the naive
    form). Averaged over passes (:func:`mc_dropout`) it tends to the test-time output, because
    the layer is linear: $\mathbb{E}[\operatorname{dropout}(x)]W + b = y_{\text{test}}$ in both
    forms (see :func:`linear_dropout_moments`).
    """
    _check_linear(x, weight, bias)
    h = dropout(
        x, rate, form=form, rate_meaning=rate_meaning, training=training, rng=rng, mask=mask
    )
    return h @ weight + bias


def linear_dropout_moments(
    x: Any, weight: Any, bias: Any, rate: Any, *, form: str = "inverted", rate_meaning: str = "drop"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of one stochastic pass of :func:`mc_dropout_linear`, per output.

    .. math::
        \mathbb{E}[y_{rk}] = y^{\text{test}}_{rk}, \qquad
        \operatorname{Var}[y_{rk}] = \sum_i x_{ri}^2 W_{ik}^2\, v(q), \quad
        v(q) = \begin{cases} (1-q)/q & \text{inverted} \\ q(1-q) & \text{naive} \end{cases}

    The mean of $T$ passes has variance $\operatorname{Var}[y_{rk}]/T$, so it tends to the
    test-time output (Gal & Ghahramani (2016): MC dropout's predictive mean), for $q > 0$; at
    $q = 0$ every pass is $b$.
    """
    _check_linear(x, weight, bias)
    f = check_choice("form", form, FORMS)
    q = float(keep_probability(rate, rate_meaning))
    xx, w, b = (np.asarray(a, dtype=np.float64) for a in (x, weight, bias))
    if q == 0.0:  # every unit dropped: y = b surely
        return np.zeros(xx.shape[0])[:, None] + b, np.zeros((xx.shape[0], b.shape[0]))
    mean = (xx if f == "inverted" else q * xx) @ w + b
    v = (1.0 - q) / q if f == "inverted" else q * (1.0 - q)
    return mean, (xx**2 @ w**2) * v


register(SpecEntry(
    id="drop.mc", title="Monte-Carlo dropout (average of stochastic passes at prediction)",
    tier="doc", kind="dropout",
    formula=r"\hat y = \frac{1}{T}\sum_{t=1}^{T} \big(\operatorname{dropout}(x; m^{(t)})\, W + b\big)"
    r" \xrightarrow{T\to\infty} y_{\text{test}}",
    citations=(C.at(C.ZHENG, "Dropout (Monte-Carlo (MC) dropout)"), C.GAL_GHAHRAMANI),
    variant_axes=(_RATE_MEANING, _FORM),
    hyperparameters=(RATE,),
    notes="Checked through a linear layer after the dropout, where the average of passes tends "
    "to the test-time output in either form; the test-time output itself tells the forms apart.",
    model=DropoutModel("inverted", mc=True),
))
