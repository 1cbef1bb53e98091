r"""A whole training run of one batch-normalisation layer: what the kit's ``norm`` kind compares
step by step (the outputs, the gradients, the running statistics and the test-time output)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainspec.reference.norm.grad import BatchNormGrads, batch_norm_backward
from trainspec.reference.norm.running import RunningState, running_statistics
from trainspec.reference.norm.test import batch_norm_inference
from trainspec.reference.norm.train import batch_norm_train

__all__ = ["TrainingRecord", "simulate_training"]


@dataclass(frozen=True)
class TrainingRecord:
    """Everything one batch-normalisation layer produces over a short training run."""

    outputs: list[Any]  # y of each training step
    grads: list[BatchNormGrads]  # gradients of sum(dy * y) at each training step
    running: list[RunningState]  # the population statistics after each step
    test_output: Any  # test-time output on the test batch with the final statistics


def simulate_training(
    batches: Sequence[Any],
    upstream: Sequence[Any],
    test_batch: Any,
    gamma: Any,
    beta: Any,
    eps: Any,
    momentum: Any,
    initial_mean: Any,
    initial_var: Any,
    *,
    layout: str = "channels_first",
    options: Mapping[str, str] | None = None,
) -> TrainingRecord:
    """Run training steps (one per batch, each with its upstream gradient), then a test step.

    ``options`` holds the variant choices (``variance``, ``average``,
    ``running_variance``; ``momentum`` always weights the OLD value here). gamma and beta stay
    fixed: the comparison isolates batch normalisation from the optimizer.
    """
    o = dict(options or {})
    if len(batches) == 0 or len(batches) != len(upstream):
        raise ValueError("batches, upstream: must be non-empty and of equal length")
    variance = o.get("variance", "two_pass")
    stats_fn = running_statistics(
        momentum,
        average=o.get("average", "exponential"),
        running_variance=o.get("running_variance", "biased"),
    )
    state = stats_fn.init(initial_mean, initial_var)
    outputs, grads, running = [], [], []
    for x, dy in zip(batches, upstream, strict=True):
        y, stats = batch_norm_train(x, gamma, beta, eps, layout=layout, variance=variance)
        outputs.append(y)
        grads.append(batch_norm_backward(x, dy, gamma, eps, layout=layout, variance=variance))
        state = stats_fn.update(state, stats)
        running.append(state)
    test = batch_norm_inference(test_batch, state.mean, state.var, gamma, beta, eps, layout=layout)
    return TrainingRecord(outputs, grads, running, test)
