r"""``opt.adam`` (with AMSGrad and the frameworks' epsilon forms) and ``opt.adamw`` (Adam with
decoupled weight decay), which share the scaling unit :func:`scale_by_adam`, the options of the
``eps`` and ``amsgrad`` axes and the buffers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.optimizers.common import *

__all__ = [
    "ADAM_EPS_PLACEMENTS",
    "AMSGRAD_FORMS",
    "BUFFERS",
    "DECAY_SCALINGS",
    "ScaleByAdamState",
    "adam",
    "adamw",
    "padilla_montani_adam_erratum",
    "scale_by_adam",
]

ADAM_EPS_PLACEMENTS = ("outside", "inside", "eps_hat")
AMSGRAD_FORMS = ("off", "max_uncorrected", "max_corrected", "max_never_corrected")
DECAY_SCALINGS = ("lr_times_lambda", "lambda_only")

#: What each canonical buffer of ``opt.adam`` and ``opt.adamw`` holds (a tree shaped like params).
BUFFERS = {
    "m": "the uncorrected first moment (running average of gradients).",
    "v": "the uncorrected second moment (running average of squared gradients); >= 0.",
    "v_max": "the AMSGrad running maximum, in the variant's own scale and loaded as is: the "
    "maximum of v for amsgrad=max_uncorrected (PyTorch max_exp_avg_sq, Keras velocity_hat) "
    "and amsgrad=max_never_corrected (optax nu_max with bias_correction_nu=False), of the "
    "corrected v-hat for amsgrad=max_corrected (optax nu_max); >= 0. Unused when "
    "amsgrad=off.",
}


class ScaleByAdamState(NamedTuple):
    count: int  # type: ignore[assignment]  # optax's field name; shadows tuple.count
    m: dict[str, Any]
    v: dict[str, Any]
    v_max: dict[str, Any] | None  # None when amsgrad="off"


def scale_by_adam(
    beta1: float,
    beta2: float,
    eps: float,
    *,
    eps_placement: str = "outside",
    bias_correction: bool = True,
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""Adam's direction (without $\eta$), with every framework's $\epsilon$ and AMSGrad form.

    Symbols: $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``, $\epsilon$ = ``eps``, $m$ = ``state.m``,
    $v$ = ``state.v``, $v_\max$ = ``state.v_max``, $t$ = ``state.count`` + 1,
    $c_1 = 1 - \beta_1^t$, $c_2 = 1 - \beta_2^t$ ($c_1 = c_2 = 1$ when ``bias_correction`` is off).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2

    The second moment used, $s$ (uncorrected) or $\hat s$ (corrected), by ``amsgrad``:

    .. math::
        \texttt{off:}\ s = v; \qquad
        \texttt{max\_uncorrected:}\ v_\max \leftarrow \max(v_\max, v),\ s = v_\max; \\
        \texttt{max\_corrected:}\ v_\max \leftarrow \max(v_\max, v/c_2),\ \hat s = v_\max; \qquad
        \texttt{max\_never\_corrected:}\ v_\max \leftarrow \max(v_\max, v),\ \hat s = v_\max

    with $\hat s = s / c_2$ otherwise; then, by ``eps_placement``:

    .. math::
        \texttt{outside:}\ u = \frac{m / c_1}{\sqrt{\hat s} + \epsilon}, \qquad
        \texttt{inside:}\ u = \frac{m / c_1}{\sqrt{\hat s + \epsilon}}, \qquad
        \texttt{eps\_hat:}\ u = \frac{\sqrt{c_2}}{c_1}\, \frac{m}{\sqrt{c_2 \hat s} + \epsilon}

    (``eps_hat`` is ``outside`` with $\epsilon$ replaced by $\epsilon/\sqrt{c_2}$.) The forms are
    written in the frameworks' order: $\sqrt{s}/\sqrt{c_2}$ (PyTorch), $\sqrt{s}$ with
    $\eta\sqrt{c_2}/c_1$ (Keras).
    """
    b1 = check_beta("beta1", beta1)
    b2 = check_beta("beta2", beta2)
    e = check_eps(eps)
    place = check_choice("eps_placement", eps_placement, ADAM_EPS_PLACEMENTS)
    # max_never_corrected: the maximum of the uncorrected v, itself used as v-hat (optax's
    # scale_by_amsgrad with bias_correction_nu=False: nu_eff = nu; nu_max = maximum(nu_max,
    # nu_eff); m_hat / (sqrt(nu_max + eps_root) + eps), optax/_src/transform.py)
    if not isinstance(bias_correction, bool):
        raise TypeError(f"bias_correction={bias_correction!r}: must be a bool")
    ams = check_choice("amsgrad", amsgrad, AMSGRAD_FORMS)

    def init(params: Tree) -> ScaleByAdamState:
        check_tree("params", params)
        return ScaleByAdamState(
            count=0,
            m=zeros_like(params),
            v=zeros_like(params),
            v_max=None if ams == "off" else zeros_like(params),
        )

    def update(updates: Tree, state: ScaleByAdamState, params: Tree | None = None):
        check_tree("updates", updates)
        check_same_structure("state.m", state.m, "updates", updates)
        check_same_structure("state.v", state.v, "updates", updates)
        if ams != "off":
            if state.v_max is None:
                raise ValueError(
                    f"state.v_max: amsgrad={ams!r} needs the running maximum (got None)"
                )
            check_same_structure("state.v_max", state.v_max, "updates", updates)
        count = check_step("state.count", state.count)
        t = count + 1
        m = tree_map(lambda g, x: moving_average(b1, x, g), updates, state.m)
        v = tree_map(lambda g, x: moving_average(b2, x, g**2), updates, state.v)
        c1 = 1.0 - b1**t if bias_correction else 1.0
        c2 = 1.0 - b2**t if bias_correction else 1.0
        sc2 = np.sqrt(c2)
        v_max = state.v_max
        if ams in ("max_corrected", "max_never_corrected"):
            assert v_max is not None  # init keeps v_max for every AMSGrad form
            if bias_correction and ams == "max_corrected":
                v_max = tree_map(lambda x, vm: np.maximum(vm, x / c2), v, v_max)
            else:
                v_max = tree_map(lambda x, vm: np.maximum(vm, x), v, v_max)
            s_hat = v_max
            if place == "outside":
                out = tree_map(lambda mm, s: (mm / c1) / (np.sqrt(s) + e), m, s_hat)
            elif place == "inside":
                out = tree_map(lambda mm, s: (mm / c1) / np.sqrt(s + e), m, s_hat)
            else:
                out = tree_map(lambda mm, s: (sc2 / c1) * mm / (np.sqrt(s) * sc2 + e), m, s_hat)
            return out, ScaleByAdamState(count=t, m=m, v=v, v_max=v_max)
        if ams == "max_uncorrected":
            assert v_max is not None
            v_max = tree_map(lambda x, vm: np.maximum(vm, x), v, v_max)
            s = v_max
        else:
            s = v
        if not bias_correction:
            if place == "inside":
                out = tree_map(lambda mm, x: mm / np.sqrt(x + e), m, s)
            else:  # outside and eps_hat coincide without bias correction
                out = tree_map(lambda mm, x: mm / (np.sqrt(x) + e), m, s)
        elif place == "outside":
            out = tree_map(lambda mm, x: (mm / c1) / (np.sqrt(x) / sc2 + e), m, s)
        elif place == "inside":
            out = tree_map(lambda mm, x: (mm / c1) / np.sqrt(x / c2 + e), m, s)
        else:
            out = tree_map(lambda mm, x: (sc2 / c1) * mm / (np.sqrt(x) + e), m, s)
        return out, ScaleByAdamState(count=t, m=m, v=v, v_max=v_max)

    return GradientTransformation(init, update)


def adam(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_placement: str = "outside",
    bias_correction: bool = True,
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""Adam, ``opt.adam`` (Kingma & Ba 2015, Algorithm 1), and its framework forms.

    Symbols: $\eta_t$ = ``learning_rate``, $\beta_1$ = ``beta1``, $\beta_2$ = ``beta2``,
    $\epsilon$ = ``eps``, $t$ = the step (from 1).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \hat m = \frac{m}{1-\beta_1^t}, \quad \hat v = \frac{v}{1-\beta_2^t}, \quad
        \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}

    See :func:`scale_by_adam` for ``eps_placement`` (``outside``, ``inside``, ``eps_hat``),
    ``bias_correction`` and ``amsgrad`` (``off``, ``max_uncorrected``, ``max_corrected``).

    Vitay, *Neurocomputing* ("Adam": no bias correction, $\epsilon + \sqrt{v}$; Keras defaults
    $\epsilon = 10^{-7}$); Solberg, *INF 5860 Lecture 9* ("ADAM update", DL 8.5.3: bias
    corrected, $\delta = 10^{-8}$ outside); Zheng, *CS286 Lecture 6*; Padilla Montani, *Neural
    Networks Tricks-Of-The-Trade* ("Adam Optimization": $\sqrt{\hat s + \epsilon}$, $\epsilon =
    10^{-8}$); Kingma & Ba (2015); Reddi et al. (2018) for AMSGrad.

    The entry also cites Goodfellow et al. (2016).

    .. warning:: Frameworks split on $\epsilon$: PyTorch and optax use ``outside``; Keras uses
       ``eps_hat`` ($\eta_t \sqrt{1-\beta_2^t}/(1-\beta_1^t) \cdot m/(\sqrt{v} + \hat\epsilon)$, the
       form of Kingma & Ba's §2 remark); optax's ``eps_root`` is ``inside``. On AMSGrad, PyTorch
       and Keras keep the maximum of the uncorrected $v$ (and divide its root by
       $\sqrt{1-\beta_2^t}$, or not, by their $\epsilon$ form), optax keeps the maximum of the
       corrected $\hat v$ (``max_corrected``); with ``bias_correction_nu=False`` optax keeps the
       maximum of the uncorrected $v$ and never corrects it, while still correcting $m$
       (``max_never_corrected``; ``optax/_src/transform.py``, ``scale_by_amsgrad``:
       ``nu_eff = nu``). Reddi et al. use no bias correction at all.
    """
    return chain(
        scale_by_adam(
            beta1,
            beta2,
            eps,
            eps_placement=eps_placement,
            bias_correction=bias_correction,
            amsgrad=amsgrad,
        ),
        scale_by_learning_rate(learning_rate),
    )


def _padilla_montani_adam_check() -> ErratumEvidence:
    """With a constant gradient the bias-corrected moments equal g and g^2 at every step."""
    g = np.array([0.5, -2.0, 1e-3])
    theta0 = np.array([1.0, 1.0, 1.0])
    b1, b2, eps, eta, steps = 0.9, 0.999, 1e-8, 0.1, 10
    # exact: every step is -eta * g / sqrt(g^2 + eps) (eps inside the root, as printed)
    expected = theta0 - steps * eta * g / np.sqrt(g**2 + eps)
    # as printed: steps 3 and 4 overwrite m and s with their corrected values
    m = np.zeros(3)
    s = np.zeros(3)
    printed = theta0.copy()
    for t in range(1, steps + 1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        m = m / (1 - b1**t)
        s = s / (1 - b2**t)
        printed = printed - eta * m / np.sqrt(s + eps)
    transform = adam(eta, b1, b2, eps, eps_placement="inside")
    params = {"w": theta0}
    state = transform.init(params)
    for _ in range(steps):
        upd, state = transform.update({"w": g}, state, params)
        params = {"w": params["w"] + upd["w"]}
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - expected))),
        corrected_error=float(np.max(np.abs(params["w"] - expected))),
        detail="10 steps of a constant gradient, beta1=0.9, beta2=0.999, eps=1e-8 inside, eta=0.1: "
        "the bias-corrected moments equal g and g^2 exactly, so every step is -eta*g/sqrt(g^2+eps); "
        "overwriting m and s with their corrected values inflates m from the second step on",
    )


def padilla_montani_adam_erratum() -> Erratum:
    """An erratum of Adam (:func:`adam`): Padilla Montani's Adam slide (the notebook's own LaTeX, with no
    hats) overwrites the moment buffers with their bias-corrected values."""
    return Erratum(
        source=C.at(C.PADILLA_MONTANI, "Adam Optimization"),
        printed=r"3.\ \mathbf{m} \leftarrow \frac{\mathbf{m}}{1-\beta_1^T};\ 4.\ \mathbf{s} \leftarrow "
        r"\frac{\mathbf{s}}{1-\beta_2^T};\ 5.\ \theta \leftarrow \theta - \eta\, \mathbf{m} \oslash \sqrt{\mathbf{s} + \epsilon}",
        correct=r"3.\ \hat{\mathbf{m}} \leftarrow \frac{\mathbf{m}}{1-\beta_1^T};\ 4.\ \hat{\mathbf{s}} \leftarrow "
        r"\frac{\mathbf{s}}{1-\beta_2^T};\ 5.\ \theta \leftarrow \theta - \eta\, \hat{\mathbf{m}} \oslash "
        r"\sqrt{\hat{\mathbf{s}} + \epsilon}",
        explanation="As printed, steps 3 and 4 overwrite the moment buffers with their bias-corrected values, "
        "so the next step's moving averages start from corrected values and the correction compounds; the "
        "corrected moments must be separate variables (Kingma & Ba's m-hat, v-hat).",
        check=_padilla_montani_adam_check,
    )


_AMSGRAD_OPTIONS = (
    VariantOption("off", "no running maximum: Adam", r"\hat s = v / (1-\beta_2^t)",
                  ("Kingma & Ba (2015)", "PyTorch Adam(amsgrad=False)",
                   "Keras Adam(amsgrad=False)", "optax.adam")),
    VariantOption("max_uncorrected",
                  "running maximum of the uncorrected second moment, corrected afterwards",
                  r"v_\max \leftarrow \max(v_\max, v);\ \hat s = v_\max / (1-\beta_2^t)",
                  ("PyTorch Adam(amsgrad=True)", "Keras Adam(amsgrad=True)",
                   "Reddi et al. (2018), with bias_correction=off",
                   "optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False), with bias_correction=off")),
    VariantOption("max_corrected", "running maximum of the bias-corrected second moment",
                  r"v_\max \leftarrow \max(v_\max, v / (1-\beta_2^t));\ \hat s = v_\max",
                  ("optax.amsgrad",)),
    VariantOption("max_never_corrected",
                  "running maximum of the uncorrected second moment, never bias-corrected (the "
                  "first moment is)",
                  r"v_\max \leftarrow \max(v_\max, v);\ \hat s = v_\max",
                  ("optax.amsgrad(bias_correction_nu=False): scale_by_amsgrad sets nu_eff = nu (optax/_src/transform.py)",)),
)

_ADAM_EPS_OPTIONS = (
    VariantOption("outside", "epsilon added to the root of the corrected second moment",
                  r"\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat s} + \epsilon)",
                  ("Solberg", "Vitay", "Kingma & Ba (2015), Algorithm 1", "PyTorch Adam",
                   "optax.adam")),
    VariantOption("inside", "epsilon added under the root of the corrected second moment",
                  r"\theta \leftarrow \theta - \eta\, \hat m / \sqrt{\hat s + \epsilon}",
                  ("Padilla Montani", "optax.adam(eps=0, eps_root=eps)")),
    VariantOption("eps_hat",
                  "epsilon added to the root of the uncorrected second moment, corrections "
                  "folded into the step size",
                  r"\eta_t = \eta \sqrt{1-\beta_2^t}/(1-\beta_1^t);\ \theta \leftarrow \theta - \eta_t\, m / (\sqrt{s} + \hat\epsilon)",
                  ("Keras Adam", "Kingma & Ba (2015), end of §2")),
)

_ADAM_CITATIONS = (
    C.at(C.VITAY, "Adam"),
    C.at(C.SOLBERG, "ADAM update"),
    C.at(C.ZHENG, "Faster optimizers"),
    C.at(C.PADILLA_MONTANI, "Adam Optimization"),
    C.at(C.KINGMA_BA, "Algorithm 1"),
    C.at(C.GOODFELLOW, "§8.5.3"),
)


def _adam_unit_state(o: Mapping[str, str], cs: CanonicalState) -> ScaleByAdamState:
    t = check_step("canonical.count", cs.count)
    v_max = None if o["amsgrad"] == "off" else buffer(cs, "v_max")
    return ScaleByAdamState(count=t, m=buffer(cs, "m"), v=buffer(cs, "v"), v_max=v_max)


def _build_adam(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adam(
        hp["learning_rate"],
        hp["beta1"],
        hp["beta2"],
        hp["eps"],
        eps_placement=o["eps"],
        bias_correction=o["bias_correction"] == "on",
        amsgrad=o["amsgrad"],
    )


def _load_adam(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    return ChainState((_adam_unit_state(o, cs), ScaleByLearningRateState(cs.count)))


register(SpecEntry(
    id="opt.adam", title="Adam (with AMSGrad and the frameworks' epsilon forms)", tier="core",
    kind="optimizers",
    formula=r"m \leftarrow \beta_1 m + (1-\beta_1) g;\ v \leftarrow \beta_2 v + (1-\beta_2) g^2;\ "
    r"\hat m = \frac{m}{1-\beta_1^t};\ \hat v = \frac{v}{1-\beta_2^t};\ "
    r"\theta \leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}",
    citations=(*_ADAM_CITATIONS, C.REDDI),
    errata=(padilla_montani_adam_erratum(),),
    variant_axes=(
        VariantAxis("eps", _ADAM_EPS_OPTIONS),
        VariantAxis("bias_correction", (
            VariantOption("on", "moments divided by 1 - beta^t",
                          r"\hat m = m/(1-\beta_1^t),\ \hat v = v/(1-\beta_2^t)",
                          ("Solberg", "Padilla Montani", "Kingma & Ba (2015)",
                           "PyTorch Adam", "Keras Adam", "optax.adam")),
            VariantOption("off", "no bias correction",
                          r"\theta \leftarrow \theta - \eta\, m / (\sqrt{v} + \epsilon)",
                          ("Vitay", "Reddi et al. (2018), Algorithm 2",
                           "optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False)")),
        )),
        VariantAxis("amsgrad", _AMSGRAD_OPTIONS),
    ),
    hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS),
    notes="Keras's epsilon is Kingma & Ba's epsilon-hat (eps_hat); optax's eps_root is eps inside. "
    "Padilla Montani states eps = 1e-8 as TensorFlow's default; Vitay lists Keras's 1e-7. "
    "Bias-correction off is Vitay's printed form. The canonical v_max is loaded as is into the AMSGrad form "
    "of the variant (maximum of v, or of v-hat).",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_adam,
        load_state=_load_adam,
        buffers=("m", "v", "v_max"),
    ),
))


# ---------------------------------------------------------------------------------------------
# opt.adamw


def adamw(
    learning_rate: float | Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    *,
    decay_scaling: str = "lr_times_lambda",
    eps_placement: str = "outside",
    amsgrad: str = "off",
) -> GradientTransformation:
    r"""AdamW, ``opt.adamw``: Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Symbols: as :func:`adam`, and $\lambda$ = ``weight_decay``; $\theta$ is the parameter before
    the step.

    .. math::
        \texttt{lr\_times\_lambda:}\quad \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v}
        + \epsilon} - \eta_t \lambda \theta, \qquad
        \texttt{lambda\_only:}\quad \theta \leftarrow \theta - \eta_t\, \frac{\hat m}{\sqrt{\hat v}
        + \epsilon} - \lambda \theta

    The entry also cites Vitay, *Neurocomputing: Modern neural networks*; Solberg (2017); Zheng (2020); Padilla Montani (2019); Kingma & Ba (2015); Goodfellow et al. (2016); Reddi et al. (2018).

    .. warning:: PyTorch (``param.mul_(1 - lr * weight_decay)``), Keras
       (``variable - variable * wd * lr``) and optax (``add_decayed_weights`` before
       ``scale_by_learning_rate``) multiply the decay by the learning rate. Loshchilov & Hutter's
       Algorithm 2 multiplies it by the schedule multiplier only, not by the base learning rate:
       ``lambda_only`` is that form with the multiplier 1.
    """
    scaling = check_choice("decay_scaling", decay_scaling, DECAY_SCALINGS)
    return chain(
        scale_by_adam(beta1, beta2, eps, eps_placement=eps_placement, amsgrad=amsgrad),
        scale_by_learning_rate(learning_rate),
        decoupled_weight_decay(
            weight_decay, learning_rate=learning_rate if scaling == "lr_times_lambda" else None
        ),
    )


def _build_adamw(o: Mapping[str, str], hp: Mapping[str, Any]) -> GradientTransformation:
    return adamw(
        hp["learning_rate"],
        hp["beta1"],
        hp["beta2"],
        hp["eps"],
        hp["weight_decay"],
        decay_scaling=o["decay_scaling"],
        eps_placement=o["eps"],
        amsgrad=o["amsgrad"],
    )


def _load_adamw(
    o: Mapping[str, str], hp: Mapping[str, Any], cs: CanonicalState, params: Tree
) -> ChainState:
    return ChainState(
        (_adam_unit_state(o, cs), ScaleByLearningRateState(cs.count), WeightDecayState(cs.count))
    )


register(SpecEntry(
    id="opt.adamw", title="AdamW: Adam with decoupled weight decay", tier="core", kind="optimizers",
    formula=r"\theta \leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon} - \eta\lambda\theta",
    citations=(
        *_ADAM_CITATIONS,
        C.at(C.VITAY, "L2 Regularization"),
        C.LOSHCHILOV_HUTTER,
        C.REDDI,
    ),
    variant_axes=(
        VariantAxis("decay_scaling", (
            VariantOption("lr_times_lambda",
                          "the decay is multiplied by the current learning rate",
                          r"\theta \leftarrow \theta - \eta_t(\text{Adam step}) - \eta_t\lambda\theta",
                          ("PyTorch AdamW", "Keras AdamW", "optax.adamw")),
            VariantOption("lambda_only",
                          "the decay is not multiplied by the learning rate (schedule "
                          "multiplier 1)",
                          r"\theta \leftarrow \theta - \eta_t(\text{Adam step}) - \lambda\theta",
                          ("Loshchilov & Hutter (2019), Algorithm 2",)),
        )),
        VariantAxis("eps", _ADAM_EPS_OPTIONS),
        VariantAxis("amsgrad", _AMSGRAD_OPTIONS),
    ),
    hyperparameters=(LEARNING_RATE, BETA1, BETA2, EPS, WEIGHT_DECAY),
    notes="The decay acts on the parameters before the step and bypasses the moments. Keras's AdamW "
    "is Keras Adam (eps_hat) plus the decay. Bias correction is on.",
    model=OptimizerModel(
        nonnegative_buffers=NONNEGATIVE_BUFFERS,
        build=_build_adamw,
        load_state=_load_adamw,
        buffers=("m", "v", "v_max"),
    ),
))
