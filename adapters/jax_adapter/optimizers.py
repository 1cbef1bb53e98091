r"""optax's adaptive optimizers: ``adagrad``, ``rmsprop``, ``adam``, ``adamw``, ``nadam``,
``adamax``, ``adadelta`` and ``amsgrad`` (``opt.adagrad`` ... ``opt.adadelta``).

Conventions mapped here (each in one small function, tested in
``tests/adapters/jax_adapter/test_adaptive.py``):

* loading a state: optax states are NamedTuples; :func:`load_state` puts trees into the named
  fields of the NamedTuples of given types and the step count into every ``count`` field
  (``ScaleByAdamState``, ``ScaleByAmsgradState``, ``ScaleByScheduleState``, ...), so that bias
  corrections and the learning-rate schedule see the step being taken. Which canonical buffer
  goes into which field is one function per convention:

  - AdaGrad: ``ScaleByRssState.sum_of_squares`` is the accumulator $G$: :func:`rss_fields`;
  - RMSprop: ``ScaleByRmsState.nu`` (plain) and ``ScaleByRStdDevState.nu``/``mu`` (centered)
    are $s$ and $\bar g$; the momentum is a ``trace`` *after* ``scale_by_learning_rate``, so it
    holds the velocity $v = -\eta_t b$ (eta inside), not the canonical $b$:
    :func:`rms_fields` with :func:`eta_inside_velocity`;
  - Adam, AdamW and Nadam: ``ScaleByAdamState.mu``/``nu`` are $m$ and $v$: :func:`adam_fields`;
    AMSGrad: ``ScaleByAmsgradState.mu``/``nu``/``nu_max`` are $m$, $v$ and $v_\max$ (the
    canonical $v_\max$ is already in the variant's own scale): :func:`amsgrad_fields`;
  - Adamax: ``ScaleByAdamState.mu``/``nu`` are $m$ and the infinity norm $u$:
    :func:`adamax_fields`;
  - Adadelta: ``ScaleByAdaDeltaState.e_g``/``e_x`` are $E[g^2]$ and $E[\Delta x^2]$:
    :func:`adadelta_fields`.

* shapes: JAX compiles every primitive anew for every new shape, which would dominate the run
  time; these optimizers are elementwise, so every tensor is run flattened and zero-padded to a
  power-of-two length (:func:`to_bucket`) and cut back to its shape afterwards
  (:func:`from_bucket`). A zero parameter with a zero gradient and zero state stays finite in
  each of them, and no element reads another.

``optax.nadam`` is ``optax.adam`` with ``nesterov=True``: one code path, one row; the flags that
change the formula (``eps_in_sqrt``, ``centered``, ``eps_root``, ``bias_correction_*``) each
give a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax

from trainspec.adapters.jax_adapter import OPTIMIZER_DTYPES, run_optax
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.kinds.optimizers import (
    CENTRED_REGION_TEXT,
    OptimizerCase,
    centred_bfloat16_example,
    centred_variance_near_zero,
)
from trainspec.reference.optimizers.common import CanonicalState

__all__ = [
    "adadelta_fields",
    "adam_fields",
    "adamax_fields",
    "amsgrad_fields",
    "eta_inside_velocity",
    "from_bucket",
    "implementations",
    "load_state",
    "rms_fields",
    "rss_fields",
    "to_bucket",
]

#: canonical buffers (name -> tree) in the dtype under test
Buffers = Mapping[str, Any]
#: optax state type -> {field name: tree}
Fields = dict[type, dict[str, Any]]
Make = Callable[[OptimizerCase, Callable[[Any], Any]], optax.GradientTransformation]

_DTYPES = OPTIMIZER_DTYPES


def load_state(state: Any, fields: Mapping[type, Mapping[str, Any]], count: int) -> Any:
    """Put ``fields[type(s)]`` into every optax state ``s`` of that type, ``count`` into every counter.

    ``state`` is an optax state (a NamedTuple, or a tuple of them for a chain); ``fields`` maps a
    state type to ``{field name: tree}``. Every ``count`` field (of any state) is set to ``count``
    in its own integer dtype.
    """

    def fix(s: Any) -> Any:
        if not hasattr(s, "_fields"):
            return s
        s = s._replace(**fields.get(type(s), {}))
        if "count" in s._fields:
            s = s._replace(count=jax.numpy.asarray(count, dtype=jax.numpy.asarray(s.count).dtype))
        return s

    return jax.tree_util.tree_map(fix, state, is_leaf=lambda s: hasattr(s, "_fields"))


def rss_fields(buffers: Buffers, eta: Any) -> Fields:
    """AdaGrad: the canonical accumulator $G$ is ``ScaleByRssState.sum_of_squares``."""
    return {optax.ScaleByRssState: {"sum_of_squares": buffers["accumulator"]}}


def eta_inside_velocity(momentum_buffer: Any, eta: Any) -> Any:
    r"""The velocity $v = -\eta_t b$ that optax's ``trace`` after ``scale_by_learning_rate`` holds.

    The canonical buffer $b$ is learning-rate free ($\theta \leftarrow \theta - \eta b$); optax
    traces the already scaled step $-\eta g/D$, so the same history at the constant learning
    rate $\eta_t$ of the step being taken leaves $-\eta_t b$ (see the card's ``BUFFERS``).
    """
    return jax.tree_util.tree_map(lambda b: -eta * b, momentum_buffer)


def rms_fields(buffers: Buffers, eta: Any) -> Fields:
    r"""RMSprop: $s$ is ``nu`` and $\bar g$ is ``mu`` (centered); the trace is the eta-inside velocity."""
    return {
        optax.ScaleByRmsState: {"nu": buffers["square_avg"]},
        optax.ScaleByRStdDevState: {"mu": buffers["grad_avg"], "nu": buffers["square_avg"]},
        optax.TraceState: {"trace": eta_inside_velocity(buffers["momentum_buffer"], eta)},
    }


def adam_fields(buffers: Buffers, eta: Any) -> Fields:
    """Adam, AdamW, Nadam: the uncorrected moments $m$, $v$ are ``ScaleByAdamState.mu``, ``nu``."""
    return {optax.ScaleByAdamState: {"mu": buffers["m"], "nu": buffers["v"]}}


def amsgrad_fields(buffers: Buffers, eta: Any) -> Fields:
    r"""AMSGrad: $m$, $v$, $v_\max$ (in the variant's own scale) are ``mu``, ``nu``, ``nu_max``."""
    return {
        optax.ScaleByAmsgradState: {
            "mu": buffers["m"],
            "nu": buffers["v"],
            "nu_max": buffers["v_max"],
        }
    }


def adamax_fields(buffers: Buffers, eta: Any) -> Fields:
    """Adamax: $m$ and the infinity norm $u$ are ``ScaleByAdamState.mu`` and ``nu``."""
    return {optax.ScaleByAdamState: {"mu": buffers["m"], "nu": buffers["u"]}}


def adadelta_fields(buffers: Buffers, eta: Any) -> Fields:
    r"""Adadelta: $E[g^2]$ and $E[\Delta x^2]$ are ``ScaleByAdaDeltaState.e_g`` and ``e_x``."""
    return {optax.ScaleByAdaDeltaState: {"e_g": buffers["square_avg"], "e_x": buffers["acc_delta"]}}


def to_bucket(x: np.ndarray) -> np.ndarray:
    """``x`` flattened and zero-padded to the next power-of-two length (at least 1)."""
    flat = np.ravel(np.asarray(x, dtype=np.float64))
    n = 1 << max(0, (flat.size - 1).bit_length())
    return np.concatenate([flat, np.zeros(n - flat.size)])


def from_bucket(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`to_bucket` for a tensor of ``shape``."""
    return np.asarray(y)[: int(np.prod(shape, dtype=np.int64))].reshape(shape)


def _bucketed(case: OptimizerCase) -> OptimizerCase:
    def tree(t: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: to_bucket(v) for k, v in t.items()}

    state = None
    if case.state is not None:
        state = CanonicalState(
            case.state.count, {b: tree(t) for b, t in case.state.buffers.items()}
        )
    return OptimizerCase(
        tree(case.params),
        [tree(g) for g in case.grads],
        case.learning_rates,
        case.hyperparameters,
        state,
    )


def run_adaptive(
    make: Make,
    fields: Callable[[Buffers, Any], Fields],
    case: OptimizerCase,
    dtype: str,
    device: str,
) -> dict[str, np.ndarray]:
    """One case through ``make``'s transformation, its state loaded through ``fields``, every
    tensor run in its bucket (:func:`to_bucket`)."""

    def load(state: Any, buffers: Buffers, eta: Any, count: int) -> Any:
        return load_state(state, fields(buffers, eta), count)

    out = run_optax(make, _bucketed(case), dtype, device, load=load)
    return {k: from_bucket(out[k], np.shape(v)) for k, v in case.params.items()}


# --- the optimizers, with the case's hyperparameters --------------------------------------------


def _hp(case: OptimizerCase, name: str) -> float:
    return case.hyperparameters[name]


def _rmsprop(c: OptimizerCase, lr: Any, **flags: bool) -> optax.GradientTransformation:
    """optax.rmsprop with the spec's rho, eps and momentum (always a trace, also at 0)."""
    return optax.rmsprop(
        lr, decay=_hp(c, "rho"), eps=_hp(c, "eps"), momentum=_hp(c, "momentum"), **flags
    )


def _betas(c: OptimizerCase) -> dict[str, float]:
    return {"b1": _hp(c, "beta1"), "b2": _hp(c, "beta2")}


def _amsgrad(**flags: bool) -> Make:
    return lambda c, lr: optax.amsgrad(lr, **_betas(c), eps=_hp(c, "eps"), **flags)


#: spec ID, optax's call, how to build it, and which fields hold the canonical buffers
ADAPTIVE: tuple[tuple[str, str, Make, Callable[[Buffers, Any], Fields]], ...] = (
    (
        "opt.adagrad",
        "adagrad",
        lambda c, lr: optax.adagrad(
            lr, initial_accumulator_value=_hp(c, "initial_accumulator_value"), eps=_hp(c, "eps")
        ),
        rss_fields,
    ),
    ("opt.rmsprop", "rmsprop", lambda c, lr: _rmsprop(c, lr), rms_fields),
    (
        "opt.rmsprop",
        "rmsprop(eps_in_sqrt=False)",
        lambda c, lr: _rmsprop(c, lr, eps_in_sqrt=False),
        rms_fields,
    ),
    (
        "opt.rmsprop",
        "rmsprop(centered=True)",
        lambda c, lr: _rmsprop(c, lr, centered=True),
        rms_fields,
    ),
    (
        "opt.rmsprop",
        "rmsprop(centered=True, eps_in_sqrt=False)",
        lambda c, lr: _rmsprop(c, lr, centered=True, eps_in_sqrt=False),
        rms_fields,
    ),
    (
        "opt.adam",
        "adam",
        lambda c, lr: optax.adam(lr, **_betas(c), eps=_hp(c, "eps")),
        adam_fields,
    ),
    (
        "opt.adam",
        "adam(eps=0, eps_root=eps)",
        lambda c, lr: optax.adam(lr, **_betas(c), eps=0.0, eps_root=_hp(c, "eps")),
        adam_fields,
    ),
    ("opt.adam", "amsgrad", _amsgrad(), amsgrad_fields),
    (
        "opt.adam",
        "amsgrad(bias_correction_nu=False)",
        _amsgrad(bias_correction_nu=False),
        amsgrad_fields,
    ),
    (
        "opt.adam",
        "amsgrad(bias_correction_mu=False, bias_correction_nu=False)",
        _amsgrad(bias_correction_mu=False, bias_correction_nu=False),
        amsgrad_fields,
    ),
    (
        "opt.adamw",
        "adamw",
        lambda c, lr: optax.adamw(
            lr, **_betas(c), eps=_hp(c, "eps"), weight_decay=_hp(c, "weight_decay")
        ),
        adam_fields,
    ),
    (
        "opt.adamw",
        "adamw(eps=0, eps_root=eps)",
        lambda c, lr: optax.adamw(
            lr,
            **_betas(c),
            eps=0.0,
            eps_root=_hp(c, "eps"),
            weight_decay=_hp(c, "weight_decay"),
        ),
        adam_fields,
    ),
    (
        "opt.nadam",
        "nadam",
        lambda c, lr: optax.nadam(lr, **_betas(c), eps=_hp(c, "eps")),
        adam_fields,
    ),
    (
        "opt.adamax",
        "adamax",
        lambda c, lr: optax.adamax(lr, **_betas(c), eps=_hp(c, "eps")),
        adamax_fields,
    ),
    (
        "opt.adadelta",
        "adadelta",
        lambda c, lr: optax.adadelta(lr, rho=_hp(c, "rho"), eps=_hp(c, "eps")),
        adadelta_fields,
    ),
)

_CENTERED_BFLOAT16_NAN = (
    "optax.rmsprop(centered=True) in bfloat16 steps by NaN where the centred variance is within "
    "bfloat16's rounding: scale_by_stddev evaluates rsqrt(nu - mu**2 + eps) in the parameters' "
    "dtype without clamping nu - mu**2 at 0; the running averages carry roundings of several "
    "units of 2^-8 of nu, so where the exact centred variance is smaller the rounded difference "
    "is negative (the same mechanism as Keras's). Minimal counterexample: decay (rho) = 0.0625, "
    "eps = 1e-8, two steps of g = 0.640625 from the initial state: exact variance 1.6e-3 (4 % of "
    "nu), the bfloat16 difference negative, the update NaN "
    "(docs/findings/optax_rmsprop_centered_bfloat16_nan.py)."
)


def _centred_bfloat16_finding() -> Finding:
    return Finding(
        "optax-rmsprop-centered-bfloat16-nan",
        _CENTERED_BFLOAT16_NAN,
        region=lambda case: centred_variance_near_zero(case, "bfloat16"),
        region_text=CENTRED_REGION_TEXT,
        examples=(centred_bfloat16_example(),),
    )


#: implementations whose rows have a finding (see their descriptions), by name: dtype -> finding
FINDINGS: dict[str, dict[str, str | Finding]] = {
    name: {"bfloat16": _centred_bfloat16_finding()}
    for name in ("rmsprop(centered=True)", "rmsprop(centered=True, eps_in_sqrt=False)")
}


def _impl(
    spec_id: str, name: str, make: Make, fields: Callable[[Buffers, Any], Fields]
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_adaptive(make, fields, case, dtype, device),
        dtypes=_DTYPES,
        devices=("cpu", "cuda"),
        findings=FINDINGS.get(name, {}),
    )


def implementations() -> list[Implementation]:
    """optax's adaptive optimizers, each flag that changes the formula its own row."""
    return [_impl(*row) for row in ADAPTIVE]


# ---------------------------------------------------------------------------------------------
# SGD (opt.gd, opt.momentum, opt.nesterov, opt.weight_decay)


def _sgd_impl(
    spec_id: str, name: str, make: Callable[..., optax.GradientTransformation]
) -> Implementation:
    return Implementation(
        spec_id=spec_id,
        name=name,
        run=lambda case, dtype, device: run_optax(make, case, dtype, device),
        dtypes=tuple(_DTYPES),
        devices=("cpu", "cuda"),
    )


def _mu(case: OptimizerCase) -> float:
    return case.hyperparameters.get("momentum", 0.0)


#: optax's SGD and its chains: spec ID, optax's call, how to build it (``jitted`` runs the rows
#: of :data:`JITTED_SGD` under ``jax.jit``)
SGD: tuple[tuple[str, str, Make], ...] = (
    ("opt.gd", "sgd", lambda c, lr: optax.sgd(lr)),
    ("opt.momentum", "sgd(momentum)", lambda c, lr: optax.sgd(lr, momentum=_mu(c))),
    (
        "opt.momentum",
        "chain(ema(debias=False), scale_by_learning_rate)",
        lambda c, lr: optax.chain(
            optax.ema(_mu(c), debias=False), optax.scale_by_learning_rate(lr)
        ),
    ),
    (
        "opt.nesterov",
        "sgd(nesterov=True)",
        lambda c, lr: optax.sgd(lr, momentum=_mu(c), nesterov=True),
    ),
    (
        "opt.weight_decay",
        "chain(add_decayed_weights, sgd)",
        lambda c, lr: optax.chain(
            optax.add_decayed_weights(c.hyperparameters["weight_decay"]),
            optax.sgd(lr, momentum=_mu(c)),
        ),
    ),
    (
        "opt.weight_decay",
        "chain(trace, add_decayed_weights, scale_by_learning_rate)",
        lambda c, lr: optax.chain(
            optax.trace(decay=_mu(c)),
            optax.add_decayed_weights(c.hyperparameters["weight_decay"]),
            optax.scale_by_learning_rate(lr),
        ),
    ),
)
JITTED_SGD = ("sgd", "sgd(momentum)", "sgd(nesterov=True)", "chain(add_decayed_weights, sgd)")


def sgd_implementations() -> list[Implementation]:
    """``optax.sgd`` and its chains (the adapter lists these rows first)."""
    return [_sgd_impl(*row) for row in SGD]
