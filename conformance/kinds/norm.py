r"""The batchnorm kind: a batch-normalisation layer over a few training steps and a test step.

Every example is one short life of a BN layer with fixed $\gamma$, $\beta$, $\epsilon$ and
momentum: training steps on mini-batches (each with an upstream gradient $dy$), then one
evaluation on a test batch. The framework runs the whole example once
(``impl.run(case, dtype, device) -> BatchNormRun``); each spec ID compares one part of it with
the reference (:mod:`trainspec.reference.norm`), element by element within the tolerance policy:

=====================  =====================================================================
``norm.batch.train``   $y$ of every training step (:func:`~trainspec.reference.norm.batch_norm_train`)
``norm.batch.running`` the running mean and variance after every step
``norm.batch.test``    the test-mode output, from the framework's *own* running statistics
                       read back after training (so the row isolates the test-time formula)
``norm.batch.grad``    $\partial\ell/\partial x$, $\partial\ell/\partial\gamma$,
                       $\partial\ell/\partial\beta$ of $\ell = \sum dy\cdot y$ at every step
=====================  =====================================================================

Checks
------
``one_step``
    one training step from an arbitrary running state (any mean, any variance $\ge 0$), then
    the test step: the test-time formula meets arbitrary population statistics, including
    variances far below $\epsilon$.
``train_steps``
    2 to 4 training steps from the framework's initial state (mean 0, variance 1), then the test
    step: the running averages compound.

Hard regions are explicit choices of the draw (``regime``), not lucky draws:
``plain``; ``large_offset`` (per-channel offsets $10^2$ to $10^4$ in float32, to $10^8$ in
float64, against a spread of order 1: a one-pass variance $E[x^2]-E[x]^2$ loses every digit
of the variance there, and the tolerance policy does not hide it: it is the named variant
``variance=one_pass``); ``eps_dominated`` (a spread of $\sqrt\epsilon\cdot 10^{-3..0}$); and
``constant_channel`` (a channel with variance exactly 0). Tiny batches are explicit too: $m = 2$
values per channel is a special value of the batch size.

Layouts: inputs are $(N, C)$ or images in the case's ``layout`` (``channels_first`` NCHW or
``channels_last`` NHWC); an adapter converts to its framework's layout and back with
:func:`to_layout` / :func:`from_layout`.

The momentum hyperparameter is the weight of the OLD running value (Keras/flax); adapters map it
onto their framework in one tested function (PyTorch: ``1 - momentum``), so a flipped convention
diverges rather than being explained away as a variant.

``example_scale`` is 0.5 (20 examples per check in the ``ci`` profile): every example runs a
framework layer forward and backward 2-5 times and the tracked reference once per live variant
(up to 12 for ``norm.batch.running``), and a family has 4 IDs and 2-4 layers per backend; 20
examples per check already cover every regime, layout and the special values several times.

Shapes come from a small menu (:data:`SHAPES`, seven shapes in each layout): frameworks that
compile per shape (JAX compiles for every new shape, even eagerly) then reuse their compiled
code across examples and rows instead of compiling for nearly every example; the menu keeps the
hard cases ($m = 2$ values per channel, one channel, one image, 1x1 images).

Training batches are kept where every variant's first-order error bound is valid
(:func:`within_first_order_domain`): a channel's offset is clipped where the rounding of its
variance, even computed in one pass, would exceed $2^{-6}(\sigma^2+\epsilon)$ (a constant channel
of $10^{22}$, or an offset of $10^4$ over a spread of 1 in float32): beyond that no first-order
bound holds, and the comparison could tell neither a correct framework from a wrong one nor one
variant from another. The large offsets that remain (about $10^2\sigma$ in float32, up to
$10^6\sigma$ in float64) still make a one-pass variance miss the two-pass bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from hypothesis import strategies as st

from trainspec.conformance.contracts import ArrayOf, CaseField, KindContract, RecordOf, SequenceOf
from trainspec.conformance.kinds import Kind, register_kind, summarize_array
from trainspec.conformance.strategies import (
    draw_array,
    hyperparameter_precision,
    hyperparameter_st,
)
from trainspec.conformance.tolerance import Comparison, compare_trees
from trainspec.conformance.tracked import Tracked, round_to, track_scalar, unit_roundoff
from trainspec.reference.norm import (
    BN_MOMENTUM,
    EPS,
    LAYOUTS,
    batch_norm_backward,
    batch_norm_inference,
    batch_norm_train,
    batch_statistics,
    channel_axis,
    running_statistics,
)
from trainspec.reference.registry import SpecEntry, Variant

__all__ = [
    "CONTRACT",
    "KIND",
    "REGIMES",
    "BatchNormCase",
    "BatchNormRun",
    "draw_batchnorm_case",
    "expected",
    "from_layout",
    "observed",
    "offsets_at_the_limit",
    "to_layout",
    "within_first_order_domain",
]

REGIMES = ("plain", "large_offset", "eps_dominated", "constant_channel")
CHECKS = ("one_step", "train_steps")
#: the largest decimal exponent of the large offsets drawn, per dtype (spread ~1); training
#: batches are then clipped into the first-order domain (:func:`within_first_order_domain`)
_OFFSET_EXPONENT = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}


# ---------------------------------------------------------------------------------------------
# the case and the framework's result


@dataclass(frozen=True)
class BatchNormCase:
    """One example: training batches with their upstream gradients, then a test batch.

    Arrays are float64 holding values representable in the dtype under test; ``batches``,
    ``upstream`` and ``test_batch`` are in ``layout``. ``momentum`` is the weight of the OLD
    running value; ``initial_mean``/``initial_var`` the running state before the first step.
    """

    layout: str
    batches: tuple[np.ndarray, ...]
    upstream: tuple[np.ndarray, ...]
    test_batch: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float
    momentum: float
    initial_mean: np.ndarray
    initial_var: np.ndarray
    regime: str = "plain"

    @property
    def channels(self) -> int:
        return int(self.gamma.shape[0])

    @property
    def steps(self) -> int:
        return len(self.batches)

    @property
    def channel_axis(self) -> int:
        return channel_axis(self.batches[0].ndim, self.layout)

    def summary(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "regime": self.regime,
            "shape": list(self.batches[0].shape),
            "steps": self.steps,
            "eps": self.eps,
            "momentum (weight of the old value)": self.momentum,
            "gamma": summarize_array(self.gamma),
            "beta": summarize_array(self.beta),
            "initial_mean": summarize_array(self.initial_mean),
            "initial_var": summarize_array(self.initial_var),
            "batches": [summarize_array(b) for b in self.batches],
            "upstream": [summarize_array(d) for d in self.upstream],
            "test_batch": summarize_array(self.test_batch),
        }


@dataclass(frozen=True)
class BatchNormRun:
    """What a framework produced on one case (float64 arrays, in the case's layout).

    One entry per training step in each list; the gradients are those of
    $\\sum dy \\cdot y$ for the step's upstream gradient.
    """

    outputs: list[np.ndarray]
    dx: list[np.ndarray]
    dgamma: list[np.ndarray]
    dbeta: list[np.ndarray]
    running_mean: list[np.ndarray]
    running_var: list[np.ndarray]
    test_output: np.ndarray
    extra: Mapping[str, Any] = field(default_factory=dict)


def to_layout(x: np.ndarray, case_layout: str, framework_layout: str) -> np.ndarray:
    """``x`` (in the case's layout) in the framework's layout: a transpose of the channel axis
    between position 1 (NCHW) and the last position (NHWC); ``(N, C)`` inputs are unchanged."""
    for name, layout in (("case_layout", case_layout), ("framework_layout", framework_layout)):
        if layout not in LAYOUTS:
            raise ValueError(f"{name}={layout!r}: must be one of {list(LAYOUTS)}")
    if x.ndim <= 2 or case_layout == framework_layout:
        return x
    if case_layout == "channels_first":
        return np.moveaxis(x, 1, -1)
    return np.moveaxis(x, -1, 1)


def from_layout(y: np.ndarray, case_layout: str, framework_layout: str) -> np.ndarray:
    """The inverse of :func:`to_layout`: a framework's output back in the case's layout."""
    return to_layout(y, framework_layout, case_layout)


# ---------------------------------------------------------------------------------------------
# drawing cases


#: channels-first shapes: m = 2 (tiny batch), one feature, a wider batch, images with one image,
#: 1x1 images and a taller image; every one has at least 2 values per channel (PyTorch refuses 1)
SHAPES = ((2, 3), (8, 1), (16, 4), (2, 3, 2, 1), (1, 2, 2, 2), (3, 1, 1, 1), (2, 2, 3, 2))


def _draw_shape(data: Any) -> tuple[int, ...]:
    """A channels-first shape from :data:`SHAPES` (see the module docstring on compile caches)."""
    return tuple(data.draw(st.sampled_from(SHAPES), label="shape (channels first)"))


def _draw_input(
    data: Any,
    shape: tuple[int, ...],
    caxis: int,
    dtype: str,
    regime: str,
    offsets: np.ndarray,
    eps: float,
    label: str,
) -> np.ndarray:
    x = draw_array(data, shape, dtype, label)
    bshape = [1] * len(shape)
    bshape[caxis] = shape[caxis]
    if regime == "large_offset":
        spread = np.std(x) if np.std(x) > 0 else 1.0
        x = x / spread + offsets.reshape(bshape)
    elif regime == "eps_dominated":
        spread = np.std(x) if np.std(x) > 0 else 1.0
        k = data.draw(st.integers(0, 3), label=f"{label}: spread sqrt(eps) * 10^-k")
        x = x / spread * np.sqrt(eps) * 10.0**-k + offsets.reshape(bshape)
    elif regime == "constant_channel":
        idx: list[slice | int] = [slice(None)] * len(shape)
        idx[caxis] = 0
        x = x.copy()
        x[tuple(idx)] = offsets[0]
    return round_to(x, dtype)


#: how far below $\sigma^2 + \epsilon$ the rounding of a batch variance must stay (see
#: :func:`within_first_order_domain`)
FIRST_ORDER_MARGIN = 2.0**-6


def within_first_order_domain(x: np.ndarray, caxis: int, dtype: str, eps: float) -> np.ndarray:
    r"""``x`` with each channel's offset reduced, if needed, so that every variant's error bound is
    first-order valid: $m u \max|x|^2 \le 2^{-6}(\sigma^2 + \epsilon)$ per channel.

    The tolerance policy's bounds are first order: they hold while every divisor's error is
    small against the divisor. In batch normalisation the divisor is $\sqrt{\sigma^2_B +
    \epsilon}$; its error comes from the rounded mean (two-pass, about $m u \max|x|\cdot\sigma$)
    or from $\overline{x^2} - \mu^2$ (one-pass, about $m u \max|x|^2$). Beyond that (a constant
    channel of $10^{22}$ in float64, or an offset of $10^4$ over a spread of 1 for a one-pass
    variance in float32) no first-order bound is valid: the linearised bound is far too small
    (a correct framework may be off by $u |x| |\gamma| / \sqrt\epsilon$) and a variant could be
    neither confirmed nor refuted. So for training batches a channel whose offset (its median
    $c$) is too large keeps its deviations and has $c$ clipped to $[-L, L]$,
    $L = \sqrt{2^{-6}(\sigma_c^2+\epsilon)/(m u)} - \max|x_c - c|$; other channels are unchanged.
    The window that remains still separates the variants: an offset $|c| \gg m\sigma$ makes the
    one-pass variance's error exceed the two-pass bound (about $100\sigma$ in float32 and up to
    $2\cdot 10^6\sigma$ in float64 for $m = 16$), while tiny variances ($\sigma^2 \ll \epsilon$)
    and constant channels stay.
    """
    u = unit_roundoff(dtype) + 2.0**-53
    moved = np.moveaxis(np.asarray(x, dtype=np.float64), caxis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    m = flat.shape[0]
    # the median as the offset: a constant channel has deviations exactly 0 (a float64 mean of
    # large values is itself rounded and would make it look spread)
    center = np.median(flat, axis=0)
    dev = flat - center
    sigma = np.std(dev, axis=0)
    limit = np.sqrt(FIRST_ORDER_MARGIN * (sigma**2 + eps) / (m * u)) - np.max(np.abs(dev), axis=0)
    limit = np.maximum(limit, 0.0)
    clipped = np.abs(center) > limit
    out = np.where(clipped, dev + np.clip(center, -limit, limit), flat).reshape(moved.shape)
    return round_to(np.moveaxis(out, -1, caxis), dtype)


def offsets_at_the_limit(x: np.ndarray, caxis: int, dtype: str, eps: float) -> np.ndarray:
    r"""``x`` with each channel's deviations from its median moved to the largest offset the
    first-order domain allows (:func:`within_first_order_domain`'s $L$), alternately $+L$ and
    $-L$ by channel: where a one-pass variance $\overline{x^2} - \mu^2$ loses the most digits
    that a first-order bound can still judge (a witness of ``variance=one_pass``)."""
    u = unit_roundoff(dtype) + 2.0**-53
    moved = np.moveaxis(np.asarray(x, dtype=np.float64), caxis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    m = flat.shape[0]
    dev = flat - np.median(flat, axis=0)
    sigma = np.std(dev, axis=0)
    limit = np.sqrt(FIRST_ORDER_MARGIN * (sigma**2 + eps) / (m * u)) - np.max(np.abs(dev), axis=0)
    signs = np.where(np.arange(flat.shape[1]) % 2 == 0, 1.0, -1.0)
    out = (dev + signs * np.maximum(limit, 0.0)).reshape(moved.shape)
    # rounding to the dtype moves the median a little: clip once more into the domain
    return within_first_order_domain(
        round_to(np.moveaxis(out, -1, caxis), dtype), caxis, dtype, eps
    )


def draw_batchnorm_case(data: Any, entry: SpecEntry, dtype: str, check: str) -> BatchNormCase:
    """One example for a ``batchnorm`` entry (see the module docstring)."""
    if check not in CHECKS:
        raise ValueError(f"check={check!r}: must be one of {list(CHECKS)}")
    precision = hyperparameter_precision(dtype)
    hps = {hp.name: hp for hp in entry.hyperparameters}
    eps = data.draw(hyperparameter_st(hps.get("eps", EPS), precision), label="eps")
    momentum = data.draw(
        hyperparameter_st(hps.get("momentum", BN_MOMENTUM), precision), label="momentum"
    )
    layout = data.draw(st.sampled_from(LAYOUTS), label="layout")
    shape = _draw_shape(data)
    if layout == "channels_last" and len(shape) == 4:
        shape = (shape[0], shape[2], shape[3], shape[1])
    caxis = channel_axis(len(shape), layout)
    c = shape[caxis]
    regime = data.draw(st.sampled_from(REGIMES), label="regime")
    if regime == "large_offset":
        k = data.draw(st.integers(2, _OFFSET_EXPONENT[dtype]), label="offset exponent")
        signs = np.where(np.arange(c) % 2 == 0, 1.0, -1.0)
        offsets = round_to(signs * 10.0**k * (1.0 + 0.37 * np.arange(c)), dtype)
    else:
        offsets = round_to(draw_array(data, (c,), dtype, "offsets"), dtype)
    steps = 1 if check == "one_step" else data.draw(st.integers(2, 4), label="steps")
    batches = tuple(
        within_first_order_domain(
            _draw_input(data, shape, caxis, dtype, regime, offsets, eps, f"batches[{t}]"),
            caxis,
            dtype,
            eps,
        )
        for t in range(steps)
    )
    upstream = tuple(draw_array(data, shape, dtype, f"upstream[{t}]") for t in range(steps))
    test_batch = _draw_input(data, shape, caxis, dtype, regime, offsets, eps, "test_batch")
    gamma = draw_array(data, (c,), dtype, "gamma")
    beta = draw_array(data, (c,), dtype, "beta")
    if check == "one_step":
        initial_mean = draw_array(data, (c,), dtype, "initial_mean")
        initial_var = draw_array(data, (c,), dtype, "initial_var", nonnegative=True)
    else:
        initial_mean, initial_var = np.zeros(c), np.ones(c)
    return BatchNormCase(
        layout,
        batches,
        upstream,
        test_batch,
        gamma,
        beta,
        float(eps),
        float(momentum),
        initial_mean,
        initial_var,
        regime,
    )


# ---------------------------------------------------------------------------------------------
# comparing


def _track(x: np.ndarray, dtype: str) -> Tracked:
    return Tracked(np.asarray(x, dtype=np.float64), 0.0, unit_roundoff(dtype) + 2.0**-53)


def expected(
    compares: str, case: BatchNormCase, run: BatchNormRun, dtype: str, options: Mapping[str, str]
) -> dict[str, Tracked]:
    """The reference's values (tracked) of what ``compares`` names, for one variant."""

    def t(a: np.ndarray) -> Tracked:
        return _track(a, dtype)

    eps = track_scalar(case.eps, dtype)
    gamma, beta = t(case.gamma), t(case.beta)
    variance = options.get("variance", "two_pass")
    out: dict[str, Tracked] = {}
    if compares == "test":
        out["test_output"] = batch_norm_inference(
            t(case.test_batch),
            t(run.running_mean[-1]),
            t(run.running_var[-1]),
            gamma,
            beta,
            eps,
            layout=case.layout,
        )
        return out
    if compares == "running":
        stats_fn = running_statistics(
            # the reference's formulas run on Tracked values as on floats (duck typing)
            cast(float, track_scalar(case.momentum, dtype)),
            average=options.get("average", "exponential"),
            running_variance=options.get("running_variance", "biased"),
        )
        state = stats_fn.init(t(case.initial_mean), t(case.initial_var))
    for i, (x, dy) in enumerate(zip(case.batches, case.upstream, strict=True)):
        xt = t(x)
        if compares == "outputs":
            y, _ = batch_norm_train(xt, gamma, beta, eps, layout=case.layout, variance=variance)
            out[f"y[{i}]"] = y
        elif compares == "grads":
            g = batch_norm_backward(xt, t(dy), gamma, eps, layout=case.layout, variance=variance)
            out[f"dx[{i}]"], out[f"dgamma[{i}]"], out[f"dbeta[{i}]"] = g
        elif compares == "running":
            state = stats_fn.update(
                state, batch_statistics(xt, layout=case.layout, variance=variance)
            )
            out[f"running_mean[{i}]"], out[f"running_var[{i}]"] = state.mean, state.var
        else:
            raise ValueError(f"compares={compares!r}: must be outputs, running, test or grads")
    return out


def observed(compares: str, run: BatchNormRun) -> dict[str, np.ndarray]:
    """The framework's values of what ``compares`` names, under the names of :func:`expected`."""
    if compares == "test":
        return {"test_output": run.test_output}
    if compares == "outputs":
        return {f"y[{i}]": y for i, y in enumerate(run.outputs)}
    if compares == "running":
        out = {f"running_mean[{i}]": m for i, m in enumerate(run.running_mean)}
        out.update({f"running_var[{i}]": v for i, v in enumerate(run.running_var)})
        return out
    if compares == "grads":
        out = {}
        for i, (dx, dg, db) in enumerate(zip(run.dx, run.dgamma, run.dbeta, strict=True)):
            out[f"dx[{i}]"], out[f"dgamma[{i}]"], out[f"dbeta[{i}]"] = dx, dg, db
        return out
    raise ValueError(f"compares={compares!r}: must be outputs, running, test or grads")


def _check_run(run: Any, case: BatchNormCase) -> BatchNormRun:
    if not isinstance(run, BatchNormRun):
        raise TypeError(f"the adapter returned {type(run).__name__}, expected a BatchNormRun")
    n = case.steps
    for name in ("outputs", "dx", "dgamma", "dbeta", "running_mean", "running_var"):
        if len(getattr(run, name)) != n:
            raise ValueError(
                f"the adapter returned {len(getattr(run, name))} {name}, expected one per "
                f"training step ({n})"
            )
    return run


def _evaluate(
    entry: SpecEntry,
    impl: Any,
    case: BatchNormCase,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
) -> dict[Variant, Comparison]:
    run = _check_run(impl.run(case, dtype, device), case)
    compares = entry.model.compares
    actual = observed(compares, run)
    return {
        v: compare_trees(actual, expected(compares, case, run, dtype, v.options), dtype)
        for v in variants
    }


def _expected(entry: Any, impl: Any, case: BatchNormCase, dtype: str, check: str) -> Any:
    per_step = tuple(ArrayOf(tuple(b.shape)) for b in case.batches)
    channels = tuple(ArrayOf((case.channels,)) for _ in case.batches)
    return RecordOf(
        BatchNormRun,
        {
            "outputs": SequenceOf(per_step),
            "dx": SequenceOf(per_step),
            "dgamma": SequenceOf(channels),
            "dbeta": SequenceOf(channels),
            "running_mean": SequenceOf(channels),
            "running_var": SequenceOf(channels),
            "test_output": ArrayOf(tuple(case.test_batch.shape)),
        },
    )


CONTRACT = KindContract(
    case_types=(BatchNormCase,),
    result_type=BatchNormRun,
    fields=(
        CaseField(
            "layout",
            "str",
            "'channels_first' (NCHW) or 'channels_last' (NHWC) for images; (N, C) inputs either "
            "way (convert with to_layout / from_layout)",
        ),
        CaseField("batches", "tuple[ndarray, ...]", "the input of every training step"),
        CaseField(
            "upstream",
            "tuple[ndarray, ...]",
            "dy of every training step: the gradients are those of sum(dy * y)",
        ),
        CaseField("test_batch", "ndarray", "the input of the test-mode step after training"),
        CaseField("gamma", "ndarray", "the scale, one per channel"),
        CaseField("beta", "ndarray", "the shift, one per channel"),
        CaseField("eps", "float", "epsilon added to the variance"),
        CaseField(
            "momentum",
            "float",
            "the weight of the OLD running value (Keras/flax; PyTorch's momentum is 1 - this)",
        ),
        CaseField("initial_mean", "ndarray", "the running mean before the first step"),
        CaseField("initial_var", "ndarray", "the running variance before the first step"),
        CaseField("regime", "str", f"the hard region drawn, one of {list(REGIMES)} (informative)"),
    ),
    returns="BatchNormRun(outputs, dx, dgamma, dbeta, running_mean, running_var, test_output): "
    "one array per training step in each list (outputs and dx shaped like the step's batch, the "
    "others one value per channel), the running statistics read after each step, and the "
    "test-mode output of test_batch; every array in the case's layout",
    expected=_expected,
)


KIND = register_kind(
    Kind(
        "norm",
        CHECKS,
        draw_batchnorm_case,
        _evaluate,
        "a batch-normalisation layer over 1-4 training steps (from an arbitrary or the initial "
        "running state) and a test step: outputs, running statistics, test outputs or gradients, "
        "element by element within the tolerance policy; large offsets, eps-dominated and "
        "constant channels, m = 2, both channel layouts",
        example_scale=0.5,
        contract=CONTRACT,
    )
)
