r"""Paddle's gradient clipping: the ``paddle.nn.ClipGradBy*`` strategies an optimizer takes as
``grad_clip``, and the functions ``paddle.nn.utils.clip_grad_value_`` / ``clip_grad_norm_``.

A ``ClipGradBy*`` strategy is called on ``[(parameter, gradient), ...]`` (what an optimizer does
before its update, ``GradientClipBase.__call__``) and returns the clipped pairs; the
``paddle.nn.utils`` functions clip ``param.grad`` in place.

Conventions mapped here (each one small function, tested in ``tests/test_clipping.py``):

* :func:`nonfinite_error`: ``clip_grad_norm_(error_if_nonfinite=True)`` raises a
  ``RuntimeError`` naming a non-finite total norm; the spec's form of that outcome is
  :class:`~trainspec.reference.clipping.NonFiniteNormError`;
* :func:`gradient_shape`: ``ClipGradByGlobalNorm`` returns a 0-d gradient with shape ``[1]``
  (its scale is a ``[1]`` tensor, broadcast into the product); the values are those of the 0-d
  gradient, read back in the gradient's own shape.

``ClipGradByNorm`` runs in float32 only (Paddle's CPU ``clip_by_norm`` kernel is registered for
float32 only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import paddle

from trainspec.conformance import ClippingCase, ClippingResult, Implementation
from trainspec.reference.clipping import NonFiniteNormError
from trainspec_paddle import DTYPES, to_numpy

__all__ = ["implementations", "nonfinite_error", "run_clipping"]

#: ``clip(case, [(parameter, gradient)]) -> [(parameter, clipped gradient)]``
Clip = Callable[[Any, list[tuple[paddle.Tensor, paddle.Tensor]]], list[Any]]


def nonfinite_error(exc: BaseException) -> BaseException:
    """The spec's :class:`NonFiniteNormError` for Paddle's non-finite-norm ``RuntimeError``; any
    other exception unchanged."""
    if isinstance(exc, RuntimeError) and "non-finite" in str(exc):
        return NonFiniteNormError(f"paddle: {exc}")
    return exc


def gradient_shape(clipped: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A clipped gradient in its tensor's shape; only a 0-d gradient returned as ``[1]`` is
    reshaped (any other mismatch is an error)."""
    if clipped.shape != shape and not (shape == () and clipped.shape == (1,)):
        raise ValueError(f"clipped gradient: shape {clipped.shape} must be {shape}")
    return clipped.reshape(shape)


def run_clipping(clip: Clip, case: Any, dtype: str, device: str) -> dict[str, np.ndarray]:
    """Give ``clip`` the case's gradients paired with parameters; return the clipped gradients."""
    names = list(case.grads)
    pairs = []
    for k in names:
        p = paddle.create_parameter(list(case.grads[k].shape), dtype)
        g = paddle.to_tensor(case.grads[k], dtype=dtype)
        p.grad = g
        pairs.append((p, g))
    try:
        out = clip(case, pairs)
    except RuntimeError as exc:
        raise nonfinite_error(exc) from exc
    return {
        k: gradient_shape(to_numpy(g), case.grads[k].shape)
        for k, (_, g) in zip(names, out, strict=True)
    }


def _strategy(make: Callable[[float], Any]) -> Clip:
    return lambda case, pairs: make(case.threshold)(pairs)


def _in_place(fn: Callable[..., Any], **kw: Any) -> Clip:
    def clip(case: Any, pairs: list[tuple[paddle.Tensor, paddle.Tensor]]) -> list[Any]:
        fn([p for p, _ in pairs], case.threshold, **kw)
        return [(p, p.grad) for p, _ in pairs]

    return clip


def _impl(
    spec_id: str, name: str, clip: Clip, dtypes: tuple[str, ...] = DTYPES
) -> Implementation[ClippingCase, ClippingResult]:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_clipping(clip, case, dtype, device),
        dtypes=dtypes,
        devices=("cpu",),
    )


def implementations() -> list[Implementation[ClippingCase, ClippingResult]]:
    utils = paddle.nn.utils
    return [
        _impl("clip.value", "ClipGradByValue", _strategy(lambda k: paddle.nn.ClipGradByValue(k))),
        _impl("clip.value", "utils.clip_grad_value_", _in_place(utils.clip_grad_value_)),
        _impl(
            "clip.norm",
            "ClipGradByNorm",
            _strategy(lambda k: paddle.nn.ClipGradByNorm(k)),
            dtypes=("float32",),
        ),
        _impl(
            "clip.global_norm",
            "ClipGradByGlobalNorm",
            _strategy(lambda k: paddle.nn.ClipGradByGlobalNorm(k)),
        ),
        _impl("clip.global_norm", "utils.clip_grad_norm_", _in_place(utils.clip_grad_norm_)),
        _impl(
            "clip.global_norm",
            "utils.clip_grad_norm_(error_if_nonfinite=True)",
            _in_place(utils.clip_grad_norm_, error_if_nonfinite=True),
        ),
    ]
