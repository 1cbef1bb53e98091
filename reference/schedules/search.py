r"""Searching for a learning rate: ``sched.lr_range`` (the range test) and ``sched.log_uniform``
(random search on a log scale)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.schedules.common import *

__all__ = ["LOG_BASES", "log_uniform", "lr_range_test"]

LOG_BASES = ("10", "e")

# ---------------------------------------------------------------------------------------------
# sched.lr_range


def lr_range_test(min_learning_rate: Any, max_learning_rate: Any, num_steps: int) -> Schedule:
    r"""The learning-rate range test, ``sched.lr_range``: exponential growth per minibatch.

    Symbols: $\eta_\min$ = ``min_learning_rate``, $\eta_\max$ = ``max_learning_rate``,
    $N$ = ``num_steps`` ($\ge 2$), $k = 0, \dots, N-1$ the minibatch.

    .. math:: \eta_k = \eta_\min \left(\frac{\eta_\max}{\eta_\min}\right)^{k/(N-1)}

    so that $\eta_0 = \eta_\min$, $\eta_{N-1} = \eta_\max$ and $\eta_{k+1}/\eta_k$ is constant.
    Vitay, *Neurocomputing* ("Finding a good range for the learning rate"); Smith (2017).
    A step past the test's $N$ minibatches is an error.
    """
    lo = check_number("min_learning_rate", min_learning_rate, low=0.0, low_closed=False)
    hi = check_number("max_learning_rate", max_learning_rate, low=0.0, low_closed=False)
    if not float(hi) > float(lo):
        raise ValueError(
            f"max_learning_rate={max_learning_rate!r}: must be > min_learning_rate={min_learning_rate!r}"
        )
    n = check_step("num_steps", num_steps)
    if n < 2:
        raise ValueError(f"num_steps={num_steps!r}: must be an integer >= 2")

    def schedule(step: int) -> Any:
        k = check_step("step", step)
        if k >= n:
            raise ValueError(f"step={step}: the range test has only num_steps={n} steps")
        if k == 0:
            return lo
        if k == n - 1:
            return hi
        return lo * np.exp((k / (n - 1)) * np.log(hi / lo))

    return schedule


register(SpecEntry(
    id="sched.lr_range", title="Learning-rate range test (exponential growth per minibatch)",
    tier="doc", kind="reference",
    formula=r"\eta_k = \eta_\min (\eta_\max/\eta_\min)^{k/(N-1)},\ k = 0,\dots,N-1",
    citations=(C.at(C.VITAY, "Finding a good range for the learning rate"), C.SMITH_CLR),
    hyperparameters=(
        HyperParameter("min_learning_rate", r"\eta_\min", "first learning rate", 0.0, None),
        HyperParameter("max_learning_rate", r"\eta_\max", "last learning rate", 0.0, None),
    ),
    notes="Reference only: no framework ships the range test as a schedule.",
    model=ScheduleModel(
        build=lambda o, hp: lr_range_test(
            hp["min_learning_rate"], hp["max_learning_rate"], hp["num_steps"]
        )
    ),
))


# ---------------------------------------------------------------------------------------------
# sched.log_uniform


def log_uniform(
    low: float,
    high: float,
    rng: np.random.Generator,
    size: int | tuple[int, ...] = (),
    *,
    base: str = "10",
) -> np.ndarray:
    r"""Random search on a log scale, ``sched.log_uniform``: $b^{U}$, $U \sim \mathcal U(a, c)$.

    Symbols: $a$ = ``low``, $c$ = ``high`` (exponents, $a < c$), $b$ = ``base`` (``"10"`` or
    ``"e"``), ``rng`` = an explicit :class:`numpy.random.Generator`.

    .. math:: x = b^{U},\quad U\sim\mathcal U(a, c)
        \quad\Longleftrightarrow\quad \log_b x \sim \mathcal U(a, c)

    Solberg, *INF 5860 Lecture 9* ("Search strategy": "parameters like learning rate are
    multiplicative, search in log-space", ``lr = 10**uniform(-3, -6)``); Bergstra & Bengio
    (2012).

    .. warning:: Vitay's hyperopt example ``hp.loguniform('eta', -6, -1)`` is base $e$
       ($e^{U(-6,-1)} \in [0.0025, 0.37]$), not base 10: the ``base`` variant. Solberg writes the
       bounds in decreasing order, ``uniform(-3, -6)``, which NumPy documents as undefined; here
       ``low < high`` is required.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    a = check_number("low", low)
    c = check_number("high", high)
    if not c > a:
        raise ValueError(f"high={high!r}: must be > low={low!r}")
    b = check_choice("base", base, LOG_BASES)
    u = rng.uniform(a, c, size)
    return np.power(10.0, u) if b == "10" else np.exp(u)


register(SpecEntry(
    id="sched.log_uniform", title="Random search on a log scale: value = 10^U(a, b)", tier="doc",
    kind="reference",
    formula=r"x = 10^{U},\ U \sim \mathcal U(a, b)",
    citations=(
        C.at(C.SOLBERG, "Search strategy: coarse-to-fine; Consider a random grid"),
        C.at(C.VITAY, "Bayesian hyperparameter optimization (hp.loguniform)"),
        C.BERGSTRA_BENGIO,
    ),
    variant_axes=(
        VariantAxis("base", (
            VariantOption("10", "decimal exponent", r"10^{U}", ("Solberg",)),
            VariantOption(
                "e", "natural exponent", r"e^{U}", ("Vitay, hyperopt hp.loguniform",)
            ),
        )),
    ),
    notes="Reference only, checked statistically (Kolmogorov-Smirnov on log_b x) in "
    "tests/reference/test_schedules.py. Solberg's uniform(-3, -6) swaps the bounds.",
))
