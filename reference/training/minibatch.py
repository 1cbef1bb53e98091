r"""``train.minibatch``: the indices of one epoch's minibatches, by a permutation split into
batches (Padilla Montani) or by sampling with replacement (Solberg), from an explicit
:class:`numpy.random.Generator`."""

from __future__ import annotations

import numpy as np

from trainspec.reference import citations as C
from trainspec.reference.base import check_choice, check_integer
from trainspec.reference.registry import (
    SpecEntry,
    VariantAxis,
    VariantOption,
    register,
)

__all__ = [
    "SAMPLINGS",
    "SPLITS",
    "minibatch_indices",
]

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
    n = check_integer("n", n, low=1)
    b = check_integer("batch_size", batch_size, low=1)
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


register(SpecEntry(
    id="train.minibatch",
    title="Minibatches: a permutation split into batches, or sampling with replacement", tier="doc",
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
        VariantAxis("sampling", (
            VariantOption("permutation",
                          "each index exactly once per epoch, in random order",
                          r"\pi \sim \mathrm{Uniform}(S_N)", ("Padilla Montani",)),
            VariantOption("with_replacement",
                          "each batch draws its indices independently with replacement",
                          r"i \sim \mathrm{Uniform}\{0..N-1\}", ("Solberg",)),
        )),
        VariantAxis("split", (
            VariantOption("array_split",
                          "floor(N/B) batches whose sizes differ by at most one",
                          r"\texttt{np.array\_split}(\pi, \lfloor N/B\rfloor)",
                          ("Padilla Montani",)),
            VariantOption("slices", "consecutive slices of B, the last one shorter",
                          r"\pi_{[jB:(j+1)B]}",
                          ("torch DataLoader(drop_last=False)", "tf.data batch()")),
            VariantOption("drop_remainder",
                          "consecutive slices of B, the incomplete last one dropped",
                          r"\pi_{[jB:(j+1)B]},\ j < \lfloor N/B\rfloor",
                          ("torch DataLoader(drop_last=True)",
                           "tf.data batch(drop_remainder=True)")),
        )),
    ),
    notes="Reference only: checked statistically by tests/reference/test_training.py "
    "(every index once per epoch; uniform positions; binomial counts with replacement).",
))
