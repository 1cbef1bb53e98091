r"""``norm.batch.test``: batch normalisation at test time, with the population statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.norm.common import *
from trainspec.reference.norm.train import batch_norm_train

__all__ = ["batch_norm_inference"]


def batch_norm_inference(
    x: Any, mean: Any, var: Any, gamma: Any, beta: Any, eps: Any, *, layout: str = "channels_first"
) -> Any:
    r"""Batch normalisation at test time: normalise with fixed population statistics.

    Symbols: $\mu_\text{pop}$ = ``mean``, $\sigma^2_\text{pop}$ = ``var`` ($\ge 0$), the rest as in
    :func:`batch_norm_train`.

    .. math:: y = \gamma\,\frac{x - \mu_\text{pop}}{\sqrt{\sigma^2_\text{pop} + \epsilon}} + \beta

    Solberg ("Batch normalization: test time": the statistics of the ENTIRE training set,
    kept by a running average), Zheng, Padilla Montani ("Each layer also learns an
    overall mu and sigma, to use during testing"); Ioffe & Szegedy (2015), Algorithm 2, step 11.

    .. warning:: Solberg's test-time slide prints the mini-batch formulas again (an erratum, see
       ``norm.batch.test``): at test time the batch's own statistics are *not* used.
    """
    shape = check_array("x", x, min_ndim=2)
    _, c, _ = reduction_axes(shape, layout)
    for name, v in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
        check_per_channel(name, v, shape[c])
    vv = var.value if is_tracked(var) else var
    if np.any(vv < 0):
        raise ValueError("var: population variances must be >= 0")
    eps = check_eps(eps)
    return normalize(x, mean, var, gamma, beta, eps, c)


def _solberg_test_time_check() -> ErratumEvidence:
    """Solberg's test-time slide, read literally, normalises a test batch with its own statistics."""
    rng = np.random.default_rng(0)
    train = [rng.normal(2.0, 3.0, (8, 3)) for _ in range(4)]
    test = rng.normal(-1.0, 0.5, (4, 3))
    gamma, beta, eps = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0]), 1e-5
    mean, var = population_statistics(train)
    correct = gamma * (test - mean) / np.sqrt(var + eps) + beta
    printed, _ = batch_norm_train(test, gamma, beta, eps)
    corrected = batch_norm_inference(test, mean, var, gamma, beta, eps)
    return ErratumEvidence(
        printed_error=float(np.max(np.abs(printed - correct))),
        corrected_error=float(np.max(np.abs(corrected - correct))),
        detail="4 training batches of N(2, 9) values; a test batch of N(-1, 0.25) values: with its "
        "own statistics the test batch is renormalised to zero mean and unit variance",
    )


register(SpecEntry(
    id="norm.batch.test", title="Batch normalisation, test mode", tier="core", kind="norm",
    formula=r"y = \gamma\,\frac{x - \mu_\text{pop}}{\sqrt{\sigma^2_\text{pop}+\epsilon}} + \beta",
    citations=(
        C.at(C.SOLBERG, "Batch normalization: test time"),
        C.at(C.ZHENG, "Batch Normalization (BN)"),
        C.at(C.PADILLA_MONTANI, "Batch Normalization"),
        C.at(C.IOFFE_SZEGEDY, "Algorithm 2, step 11"),
    ),
    errata=(
        Erratum(
            source=C.at(C.SOLBERG, "Batch normalization: test time"),
            printed=r"\mu_B \leftarrow \frac1m\sum_{i=1}^m x_i,\ "
            r"\sigma_B^2 \leftarrow \frac1m\sum_{i=1}^m (x_i-\mu_B)^2,\ "
            r"\hat x_i \leftarrow \frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}",
            correct=r"\hat x = \frac{x-\mu_\text{pop}}{\sqrt{\sigma^2_\text{pop}+\epsilon}}",
            explanation="The slide says the mean/std of the ENTIRE training set is used at "
            "test time, but prints the training-time algorithm with the mini-batch mean and "
            "variance again; read literally, a test batch is normalised with its own statistics.",
            check=_solberg_test_time_check,
        ),
    ),
    hyperparameters=(EPS, BN_MOMENTUM),
    notes="The row compares the test-mode output with the formula applied to the framework's "
    "own population statistics (read back after training), so it isolates the test-time "
    "formula; how those statistics are kept is norm.batch.running.",
    model=BatchNormModel("test"),
))
