r"""The building blocks shared by every reference formula, after optax's ``_src/base.py``.

* Parameters, gradients and updates are *trees*: a mapping from a name to a float64 array.
* A :class:`GradientTransformation` is a pair of pure functions ``init(params) -> state`` and
  ``update(updates, state, params) -> (updates, new_state)``; states are NamedTuples and nothing
  is mutated. Transformations compose with :func:`chain`, and the final updates are added to the
  parameters separately by :func:`apply_updates`, so that weight decay, clipping and schedules
  chain freely.
* A :data:`Schedule` is a pure ``step -> value`` callable; :func:`as_schedule` accepts a number or
  a schedule and checks it when the optimizer is built.

Non-finite values: the reference follows IEEE-754 element by element. A NaN or infinite gradient
produces NaN or infinite updates (and state) in the same elements and leaves every other element
untouched, as the frameworks do; nothing is raised, nothing is silently replaced. Hyperparameters,
in contrast, are validated when a transformation is built and must be finite.

The formulas are written with NumPy operators and ufuncs only, so that the conformance kit can
evaluate them on its error-tracking arrays (:mod:`trainspec.conformance.tolerance`) as well as on
plain ``float64`` arrays.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "Schedule",
    "apply_updates",
    "as_schedule",
    "build_by_name",
    "chain",
    "check_eps",
    "check_integer",
    "check_number",
    "check_rng",
    "check_same_structure",
    "check_step",
    "check_tree",
    "either_order",
    "moving_average",
    "piecewise_schedule",
    "tree_map",
]

Tree = Mapping[str, Any]
Schedule = Callable[[int], float]


class TransformInit(Protocol):
    def __call__(self, params: Tree) -> Any: ...


class TransformUpdate(Protocol):
    def __call__(
        self, updates: Tree, state: Any, params: Tree | None = None
    ) -> tuple[dict[str, Any], Any]: ...


class GradientTransformation(NamedTuple):
    """A pure ``(init, update)`` pair; see the module docstring."""

    init: TransformInit
    update: TransformUpdate


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


# ---------------------------------------------------------------------------------------------
# argument checks: every error names the argument and the rule


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_closed: bool = True,
    high_closed: bool = True,
) -> float:
    """Return ``value`` as a float after checking that it is a finite real number in range.

    A scalar that carries an error bound (the conformance kit's tracked scalars: an object with
    ``value`` and ``err``) is checked on its value and returned unchanged, so that coefficients
    computed from hyperparameters keep their rounding bound.
    """
    if hasattr(value, "err") and hasattr(value, "value") and np.ndim(value.value) == 0:
        check_number(
            name,
            float(value.value),
            low=low,
            high=high,
            low_closed=low_closed,
            high_closed=high_closed,
        )
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.floating | np.integer):
        raise TypeError(f"{name}={value!r}: must be a real number, got {type(value).__name__}")
    v = float(value)
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    rng = f"{'[' if low is not None and low_closed else '('}{lo}, {hi}{']' if high is not None and high_closed else ')'}"
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r}: must be finite (rule: {name} in {rng})")
    if low is not None and (v < low or (v == low and not low_closed)):
        raise ValueError(f"{name}={value!r}: must be in {rng}")
    if high is not None and (v > high or (v == high and not high_closed)):
        raise ValueError(f"{name}={value!r}: must be in {rng}")
    return v


def check_integer(name: str, value: Any, *, low: int = 0) -> int:
    """An integer ``>= low`` (a ``bool`` is not one); the error names the argument and the rule."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r}: must be an integer, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return int(value)


def check_step(name: str, step: Any) -> int:
    """A step count: an integer ``>= 0``."""
    return check_integer(name, step, low=0)


def check_eps(value: Any) -> Any:
    r"""The constant $\epsilon > 0$ that keeps a denominator or a square root away from 0."""
    return check_number("eps", value, low=0.0, low_closed=False)


def check_rng(rng: Any, *, alternative: str = "") -> np.random.Generator:
    """An explicit ``numpy.random.Generator`` (no hidden global RNG); ``alternative`` names
    another way to pass the randomness (``"mask="``) in the error."""
    if not isinstance(rng, np.random.Generator):
        other = f"; or pass {alternative}" if alternative else ""
        raise TypeError(
            f"rng={rng!r}: must be a numpy.random.Generator (no hidden global RNG{other}), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}={value!r}: must be one of {list(choices)}")
    return str(value)


def check_tree(name: str, tree: Any) -> None:
    """A tree is a non-empty mapping from string names to real floating-point arrays."""
    if not isinstance(tree, Mapping):
        raise TypeError(
            f"{name}: must be a mapping from parameter names to arrays, got {type(tree).__name__}"
        )
    if len(tree) == 0:
        raise ValueError(f"{name}: must hold at least one array")
    for k, v in tree.items():
        if not isinstance(k, str):
            raise TypeError(f"{name}: keys must be strings, got {k!r}")
        dtype = getattr(v, "dtype", None)
        if dtype is None or not hasattr(v, "shape"):
            raise TypeError(f"{name}[{k!r}]: must be an array, got {type(v).__name__}")
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{name}[{k!r}]: must have a real floating-point dtype, got {dtype}")


def check_same_structure(name: str, tree: Tree, ref_name: str, ref: Tree) -> None:
    """``tree`` must have the same names and the same shape per name as ``ref``."""
    check_tree(name, tree)
    if set(tree) != set(ref):
        missing = sorted(set(ref) - set(tree))
        extra = sorted(set(tree) - set(ref))
        raise ValueError(
            f"{name}: must have the same names as {ref_name}; missing {missing}, unexpected {extra}"
        )
    for k in ref:
        if tuple(tree[k].shape) != tuple(ref[k].shape):
            raise ValueError(
                f"{name}[{k!r}]: shape {tuple(tree[k].shape)} must equal the shape of "
                f"{ref_name}[{k!r}], {tuple(ref[k].shape)}"
            )


def tree_map(fn: Callable[..., Any], tree: Tree, *rest: Tree) -> dict[str, Any]:
    """Apply ``fn`` leaf by leaf; every tree must have the keys of the first."""
    return {k: fn(tree[k], *(r[k] for r in rest)) for k in tree}


def as_float64_tree(name: str, tree: Any) -> dict[str, np.ndarray]:
    """Validate a user's tree and return a float64 copy (the reference computes in float64)."""
    check_tree(name, tree)
    return {k: np.array(v, dtype=np.float64) for k, v in tree.items()}


# ---------------------------------------------------------------------------------------------
# schedules


def as_schedule(name: str, value: float | Schedule, *, low: float = 0.0) -> Schedule:
    """A schedule from a number (constant) or a callable; a number is checked here, when built."""
    if callable(value):
        return value
    v = check_number(name, value, low=low)
    return lambda step: v


def piecewise_schedule(values: Sequence[float], *, name: str = "learning_rate") -> Schedule:
    """``step -> values[step]``: the schedule of a finite run, given value by value.

    Every value is checked when the schedule is built (finite, ``>= 0``); asking for a step past
    the end is an error that names the step and the length.
    """
    if len(values) == 0:
        raise ValueError(f"{name}: must hold at least one value")
    vals = tuple(check_number(f"{name}[{i}]", v, low=0.0) for i, v in enumerate(values))

    def schedule(step: int) -> float:
        if not 0 <= step < len(vals):
            raise ValueError(f"{name}: step {step} is outside the schedule's {len(vals)} steps")
        return vals[step]

    return schedule


# ---------------------------------------------------------------------------------------------
# composition


class ChainState(NamedTuple):
    inner: tuple[Any, ...]


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states."""
    if not transforms:
        raise ValueError("chain: needs at least one transformation")

    def init(params: Tree) -> ChainState:
        return ChainState(tuple(t.init(params) for t in transforms))

    def update(
        updates: Tree, state: ChainState, params: Tree | None = None
    ) -> tuple[dict[str, Any], ChainState]:
        if not isinstance(state, ChainState) or len(state.inner) != len(transforms):
            raise ValueError(
                f"state: must be the ChainState of these {len(transforms)} transformations, got {type(state).__name__}"
            )
        new_states = []
        out: dict[str, Any] = dict(updates)
        for t, s in zip(transforms, state.inner, strict=True):
            out, s = t.update(out, s, params)
            new_states.append(s)
        return out, ChainState(tuple(new_states))

    return GradientTransformation(init, update)


def apply_updates(params: Tree, updates: Tree) -> dict[str, Any]:
    r"""$\theta \leftarrow \theta + u$, leaf by leaf (updates already carry their sign)."""
    check_same_structure("updates", updates, "params", params)
    return tree_map(lambda p, u: p + u, params, updates)


def either_order(first: Any, *others: Any) -> Any:
    r"""One quantity written in several evaluation orders that frameworks use; returns ``first``.

    In exact arithmetic every argument is equal (for example the moving average
    $\beta m + (1-\beta) g$ and the interpolation $m + (1-\beta)(g - m)$ of Keras and
    ``torch.lerp``). On plain arrays this returns ``first``. On arrays that carry a rounding bound
    (the kit's ``Tracked``, which has a method ``either``) the bound covers every order, so that
    the tolerance policy accepts each order's rounding and nothing else.
    """
    combine = getattr(first, "either", None)
    if combine is None:
        return first
    return combine(*others)


def moving_average(beta: Any, average: Any, value: Any) -> Any:
    r"""The exponential moving average $\beta a + (1-\beta) x$ (the adaptive optimizers' moments,
    batch normalisation's running statistics).

    Symbols: $\beta$ = ``beta``, $a$ = ``average``, $x$ = ``value``.

    .. math:: a \leftarrow \beta a + (1-\beta) x \;=\; a + (1-\beta)(x - a)

    Both orders are written (:func:`~trainspec.reference.base.either_order`): PyTorch's
    ``exp_avg.lerp_(grad, 1 - beta1)`` (Adam, AdamW, NAdam, Adamax, and RMSprop's ``grad_avg``)
    and Keras's ``m.assign_add((g - m) * (1 - beta_1))`` (Adam, AdamW, Nadam, Adamax) use the
    interpolation $a + (1-\beta)(x - a)$, whose rounding differs from that of
    $\beta a + (1-\beta) x$ (optax's ``update_moment``, PyTorch's
    ``mul_(beta2).addcmul_(grad, grad, value=1 - beta2)``) when $\beta$ is small and $|a| \gg |x|$.
    The interpolation's bound, $u(|a| + |x|)$, is not relative to the result: with $\beta = 0$
    it admits $a + (x - a) = 0$ for $x \ll u|a|$. RMSprop's ``square_avg`` and Adadelta's two
    averages are written in the one order every framework uses, $\beta a + (1-\beta) x$.
    """
    return either_order(
        beta * average + (1.0 - beta) * value, average + (1.0 - beta) * (value - average)
    )


def build_by_name(fn: Callable[..., Any]) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
    """A registry model's ``build(options, hyperparameters)`` for a card whose public function
    takes each hyperparameter and each variant axis under its own name: it calls ``fn`` with
    all of them by keyword (a name that ``fn`` does not take is an error naming it)."""
    accepted = set(inspect.signature(fn).parameters)

    def build(options: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> Any:
        unknown = sorted(set(options) - accepted) + sorted(set(hyperparameters) - accepted)
        if unknown:
            raise ValueError(f"options/hyperparameters: {fn.__name__} takes no {unknown}")
        return fn(**hyperparameters, **options)

    return build
