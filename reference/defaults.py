r"""``opt.defaults``: the default hyperparameters the documents state for framework optimizers.

The documents quote framework signatures (Keras's ``SGD``, ``RMSprop`` and ``Adam`` in Vitay's
notes; "default in TensorFlow" in Padilla Montani's; PyTorch's ``SGD`` signature in the
architectures notes). Frameworks change their defaults; this entry records every claim, and the
kit compares each with the framework's current default (read from its public API by the adapter),
reporting any drift as a finding with both values.

A claim's ``value`` is ``None`` where the document says the argument has no default (is required).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainspec.reference import citations as C
from trainspec.reference.registry import Citation, SpecEntry, register

__all__ = ["DefaultClaim", "DefaultsModel", "compare_defaults", "paper_claims"]

REQUIRED = None


@dataclass(frozen=True)
class DefaultClaim:
    """One default a document states: ``optimizer.hyperparameter = value`` in ``api``."""

    source: Citation
    api: str  # the API as the document writes it
    backend: str  # the backend that offers that API today
    optimizer: str  # the optimizer's class name in that backend
    hyperparameter: str  # the spec's name (learning_rate, momentum, rho, eps, beta1, beta2, ...)
    value: float | bool | None  # None: the document says "required"
    quote: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.text(),
            "author": self.source.author,
            "api": self.api,
            "backend": self.backend,
            "optimizer": self.optimizer,
            "hyperparameter": self.hyperparameter,
            "value": "required" if self.value is None else self.value,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class DefaultsModel:
    claims: tuple[DefaultClaim, ...]

    def for_backend(self, backend: str) -> list[DefaultClaim]:
        return [c for c in self.claims if c.backend == backend]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) and type(a) is type(b)
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)


def compare_defaults(
    claims: list[DefaultClaim], actual: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split ``claims`` into (drift, matches) against the framework's ``actual`` defaults.

    ``actual[optimizer][hyperparameter]`` is the framework's current default (``None`` when the
    argument is required). A claim about an optimizer or argument the framework no longer has is
    drift too.
    """
    drift: list[dict[str, Any]] = []
    matches: list[dict[str, Any]] = []
    for c in claims:
        row = c.to_json()
        if c.optimizer not in actual or c.hyperparameter not in actual[c.optimizer]:
            row["framework_value"] = "absent"
            drift.append(row)
            continue
        now = actual[c.optimizer][c.hyperparameter]
        row["framework_value"] = "required" if now is None else now
        (matches if _same(c.value, now) else drift).append(row)
    return drift, matches


_KERAS = "tf.keras.optimizers"
_VITAY = C.at(C.VITAY, "Optimizers in keras")
_PM = C.at(C.PADILLA_MONTANI, "Adam Optimization (default in TensorFlow)")
_ARCH = C.at(C.ARCHITECTURES, "Deep neural networks: training")
_VITAY_RMSPROP = (
    "tf.keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07)"
)
_VITAY_ADAM = (
    "tf.keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)"
)
_TORCH_SGD = "torch.optim.SGD(params, lr=<required parameter>, momentum=0, dampening=0, weight_decay=0, nesterov=False)"

CLAIMS: tuple[DefaultClaim, ...] = (
    DefaultClaim(
        _VITAY,
        f"{_KERAS}.SGD",
        "tensorflow",
        "SGD",
        "learning_rate",
        0.01,
        "tf.keras.optimizers.SGD(learning_rate=0.01)",
    ),
    DefaultClaim(
        _VITAY, f"{_KERAS}.RMSprop", "tensorflow", "RMSprop", "learning_rate", 0.001, _VITAY_RMSPROP
    ),
    DefaultClaim(_VITAY, f"{_KERAS}.RMSprop", "tensorflow", "RMSprop", "rho", 0.9, _VITAY_RMSPROP),
    DefaultClaim(
        _VITAY, f"{_KERAS}.RMSprop", "tensorflow", "RMSprop", "momentum", 0.0, _VITAY_RMSPROP
    ),
    DefaultClaim(_VITAY, f"{_KERAS}.RMSprop", "tensorflow", "RMSprop", "eps", 1e-7, _VITAY_RMSPROP),
    DefaultClaim(
        _VITAY, f"{_KERAS}.Adam", "tensorflow", "Adam", "learning_rate", 0.001, _VITAY_ADAM
    ),
    DefaultClaim(_VITAY, f"{_KERAS}.Adam", "tensorflow", "Adam", "beta1", 0.9, _VITAY_ADAM),
    DefaultClaim(_VITAY, f"{_KERAS}.Adam", "tensorflow", "Adam", "beta2", 0.999, _VITAY_ADAM),
    DefaultClaim(_VITAY, f"{_KERAS}.Adam", "tensorflow", "Adam", "eps", 1e-7, _VITAY_ADAM),
    DefaultClaim(
        _PM,
        "tf.train.AdamOptimizer",
        "tensorflow",
        "Adam",
        "beta1",
        0.9,
        "Momentum decay: beta_1 = 0.9",
    ),
    DefaultClaim(
        _PM,
        "tf.train.AdamOptimizer",
        "tensorflow",
        "Adam",
        "beta2",
        0.999,
        "Scaling decay: beta_2 = 0.999",
    ),
    DefaultClaim(
        _PM,
        "tf.train.AdamOptimizer",
        "tensorflow",
        "Adam",
        "eps",
        1e-8,
        "Smoothing term: epsilon = 10^-8",
    ),
    DefaultClaim(
        _PM,
        "tf.train.AdamOptimizer",
        "tensorflow",
        "Adam",
        "learning_rate",
        0.001,
        "Learning rate: eta = 0.001",
    ),
    DefaultClaim(_ARCH, "torch.optim.SGD", "torch", "SGD", "learning_rate", REQUIRED, _TORCH_SGD),
    DefaultClaim(_ARCH, "torch.optim.SGD", "torch", "SGD", "momentum", 0.0, _TORCH_SGD),
    DefaultClaim(_ARCH, "torch.optim.SGD", "torch", "SGD", "dampening", 0.0, _TORCH_SGD),
    DefaultClaim(_ARCH, "torch.optim.SGD", "torch", "SGD", "weight_decay", 0.0, _TORCH_SGD),
    DefaultClaim(_ARCH, "torch.optim.SGD", "torch", "SGD", "nesterov", False, _TORCH_SGD),
)

#: how each backend names an optimizer a paper describes: spec name -> backend -> (API, key)
#: (the key is what the adapter's defaults reader names it; optax's are its function names)
OPTIMIZER_APIS: dict[str, dict[str, tuple[str, str]]] = {
    "Adam": {
        "torch": ("torch.optim.Adam", "Adam"),
        "tensorflow": ("keras.optimizers.Adam", "Adam"),
        "jax": ("optax.adam", "adam"),
    },
    "AdaMax": {
        "torch": ("torch.optim.Adamax", "Adamax"),
        "tensorflow": ("keras.optimizers.Adamax", "Adamax"),
        "jax": ("optax.adamax", "adamax"),
    },
    "Adadelta": {
        "torch": ("torch.optim.Adadelta", "Adadelta"),
        "tensorflow": ("keras.optimizers.Adadelta", "Adadelta"),
        "jax": ("optax.adadelta", "adadelta"),
    },
    "RMSprop": {
        "torch": ("torch.optim.RMSprop", "RMSprop"),
        "tensorflow": ("keras.optimizers.RMSprop", "RMSprop"),
        "jax": ("optax.rmsprop", "rmsprop"),
    },
}


def paper_claims(
    source: Citation, optimizer: str, values: dict[str, float], quote: str
) -> tuple[DefaultClaim, ...]:
    """A paper's stated defaults of ``optimizer``, as one claim per backend that offers it: a
    paper's default applies to every framework's implementation of its method."""
    return tuple(
        DefaultClaim(source, api, backend, key, hp, value, quote)
        for backend, (api, key) in OPTIMIZER_APIS[optimizer].items()
        for hp, value in values.items()
    )


_KINGMA_ADAM = (
    "Good default settings for the tested machine learning problems are alpha = 0.001, "
    "beta1 = 0.9, beta2 = 0.999 and epsilon = 10^-8"
)
_KINGMA_ADAMAX = "Good default settings are alpha = 0.002, beta1 = 0.9 and beta2 = 0.999"
#: the papers' defaults, for every backend (Kingma & Ba: Algorithm 1 and Algorithm 2; Zeiler
#: §4.1 (the hyperparameters of every experiment); Tieleman & Hinton: the slide's running average)
PAPER_CLAIMS: tuple[DefaultClaim, ...] = (
    *paper_claims(
        C.at(C.KINGMA_BA, "Algorithm 1"),
        "Adam",
        {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        _KINGMA_ADAM,
    ),
    *paper_claims(
        C.at(C.KINGMA_BA, "Section 7.1, Algorithm 2"),
        "AdaMax",
        {"learning_rate": 0.002, "beta1": 0.9, "beta2": 0.999},
        _KINGMA_ADAMAX,
    ),
    *paper_claims(
        C.at(C.ZEILER, "Section 4.1"),
        "Adadelta",
        {"rho": 0.95, "eps": 1e-6},
        "(paraphrase) every experiment sets the hyperparameters epsilon = 1e-6 and rho = 0.95",
    ),
    *paper_claims(
        C.TIELEMAN_HINTON,
        "RMSprop",
        {"rho": 0.9},
        "MeanSquare(w, t) = 0.9 MeanSquare(w, t-1) + 0.1 (dE/dw(t))^2",
    ),
)

register(SpecEntry(
    id="opt.defaults",
    title="Default hyperparameters of framework optimizers, as the documents state them",
    tier="doc", kind="defaults",
    formula=r"\text{SGD: } \eta = 0.01;\ \text{RMSprop: } \eta = 10^{-3}, \rho = 0.9, \epsilon = 10^{-7};\ "
    r"\text{Adam: } \eta = 10^{-3}, \beta_1 = 0.9, \beta_2 = 0.999, \epsilon = 10^{-7}\ (\text{Vitay})\ "
    r"\text{vs } 10^{-8}\ (\text{Padilla Montani})",
    citations=(_VITAY, _PM, _ARCH, C.KINGMA_BA, C.ZEILER, C.TIELEMAN_HINTON),
    notes="Each claim is compared with the framework's current default; a difference is drift, "
    "reported as a finding with both values. The papers' defaults (Adam, AdaMax, Adadelta, "
    "RMSprop) are claims about every backend's implementation of the method.",
    model=DefaultsModel(CLAIMS + PAPER_CLAIMS),
))


# ---------------------------------------------------------------------------------------------
# act.defaults: the framework defaults the notes (and papers) state

_LEAKY_QUOTE = (
    "alpha is a hyperparameter that defines how much it 'leaks', and alpha is usually set to 0.01"
)
_RRELU_QUOTE = (
    "(paraphrase) a_ji ~ U(l, u); in the experiments 1/a_ji ~ U(3, 8), i.e. l = 1/8, u = 1/3"
)
_ELU_QUOTE = "(paraphrase) the ELU networks of the experiments use alpha = 1"
_PRELU_QUOTE = "we use a_i = 0.25 as the initialization"


def _claim(
    source: Any, api: str, backend: str, fn: str, hp: str, value: float, quote: str
) -> DefaultClaim:
    return DefaultClaim(source, api, backend, fn, hp, value, quote)


_ZHENG_LEAKY = C.at(C.ZHENG, "Nonsaturating activation function")
DEFAULT_CLAIMS: tuple[DefaultClaim, ...] = (
    # the leaky slope: Zheng's "usually 0.01", against every framework's leaky ReLU
    _claim(
        _ZHENG_LEAKY,
        "torch.nn.functional.leaky_relu",
        "torch",
        "leaky_relu",
        "alpha",
        0.01,
        _LEAKY_QUOTE,
    ),
    _claim(_ZHENG_LEAKY, "torch.nn.LeakyReLU", "torch", "LeakyReLU", "alpha", 0.01, _LEAKY_QUOTE),
    _claim(
        _ZHENG_LEAKY,
        "tf.nn.leaky_relu",
        "tensorflow",
        "tf.nn.leaky_relu",
        "alpha",
        0.01,
        _LEAKY_QUOTE,
    ),
    _claim(
        _ZHENG_LEAKY,
        "keras.activations.leaky_relu",
        "tensorflow",
        "leaky_relu",
        "alpha",
        0.01,
        _LEAKY_QUOTE,
    ),
    _claim(
        _ZHENG_LEAKY,
        "keras.layers.LeakyReLU",
        "tensorflow",
        "LeakyReLU",
        "alpha",
        0.01,
        _LEAKY_QUOTE,
    ),
    _claim(_ZHENG_LEAKY, "jax.nn.leaky_relu", "jax", "leaky_relu", "alpha", 0.01, _LEAKY_QUOTE),
    # ELU's alpha: the notes leave it a hyperparameter; Clevert et al. use 1
    _claim(C.CLEVERT, "torch.nn.functional.elu", "torch", "elu", "alpha", 1.0, _ELU_QUOTE),
    _claim(C.CLEVERT, "torch.nn.ELU", "torch", "ELU", "alpha", 1.0, _ELU_QUOTE),
    _claim(C.CLEVERT, "keras.activations.elu", "tensorflow", "elu", "alpha", 1.0, _ELU_QUOTE),
    _claim(C.CLEVERT, "keras.layers.ELU", "tensorflow", "ELU", "alpha", 1.0, _ELU_QUOTE),
    _claim(C.CLEVERT, "jax.nn.elu", "jax", "elu", "alpha", 1.0, _ELU_QUOTE),
    # RReLU's range: the notes say "a given range"; Xu et al. give 1/alpha ~ U(3, 8)
    _claim(C.XU_RRELU, "torch.nn.functional.rrelu", "torch", "rrelu", "lower", 1 / 8, _RRELU_QUOTE),
    _claim(C.XU_RRELU, "torch.nn.functional.rrelu", "torch", "rrelu", "upper", 1 / 3, _RRELU_QUOTE),
    _claim(C.XU_RRELU, "torch.nn.RReLU", "torch", "RReLU", "lower", 1 / 8, _RRELU_QUOTE),
    _claim(C.XU_RRELU, "torch.nn.RReLU", "torch", "RReLU", "upper", 1 / 3, _RRELU_QUOTE),
    # PReLU's initial slope (He et al.)
    _claim(C.HE, "torch.nn.PReLU", "torch", "PReLU", "alpha", 0.25, _PRELU_QUOTE),
    _claim(C.HE, "keras.layers.PReLU", "tensorflow", "PReLU", "alpha", 0.25, _PRELU_QUOTE),
    _claim(C.HE, "flax.linen.PReLU", "jax", "PReLU", "alpha", 0.25, _PRELU_QUOTE),
)

register(SpecEntry(
    id="act.defaults",
    title="Default hyperparameters of framework activations, as the notes and papers state them",
    tier="doc", kind="defaults",
    formula=r"\text{leaky ReLU: } \alpha = 0.01\ (\text{Zheng});\ \text{ELU: } \alpha = 1\ (\text{Clevert});\ "
    r"\text{RReLU: } l = 1/8, u = 1/3\ (\text{Xu});\ \text{PReLU init: } \alpha = 0.25\ (\text{He})",
    citations=(_ZHENG_LEAKY, C.CLEVERT, C.XU_RRELU, C.HE),
    notes="Each claim is compared with the framework's current default, read from its "
    "signature or a fresh layer's attributes; a difference is drift, reported with both values. "
    "The 'optimizer' field of a claim holds the function or layer name.",
    model=DefaultsModel(DEFAULT_CLAIMS),
))
