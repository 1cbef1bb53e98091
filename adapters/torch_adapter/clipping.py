r"""PyTorch's gradient clipping: ``torch.nn.utils.clip_grad_value_`` and ``clip_grad_norm_``.

Every code path is its own row (``foreach=False``: a loop over tensors; ``foreach=True``: the
``torch._foreach_*`` kernels). ``clip_grad_norm_`` on a list of parameters is ``clip.global_norm``;
PyTorch has no per-tensor norm clipping function, so ``clip.norm`` is ``clip_grad_norm_`` called on
each parameter alone (its documented use with a single tensor).

Conventions mapped here: ``clip_grad_norm_(error_if_nonfinite=True)`` raises a ``RuntimeError``
on a non-finite norm; :func:`nonfinite_error` turns it into the spec's
:class:`~trainspec.reference.clipping.NonFiniteNormError` (and lets every other error through).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.clipping import ClippingCase
from trainspec.reference.clipping import NonFiniteNormError

#: the dtypes of these rows: float32, float64 and float16 (the kind's float16 draws keep
#: every exact result inside float16's range)
DTYPES: dict[str, torch.dtype] = {**_DTYPES, "float16": torch.float16}

__all__ = ["DTYPES", "implementations", "nonfinite_error", "run_clipping"]

_FOREACH = {"single_tensor": False, "foreach": True}


def nonfinite_error(exc: BaseException) -> BaseException:
    """The spec's :class:`NonFiniteNormError` for PyTorch's non-finite-norm ``RuntimeError``;
    any other exception unchanged."""
    if isinstance(exc, RuntimeError) and "non-finite" in str(exc):
        return NonFiniteNormError(f"torch: {exc}")
    return exc


def run_clipping(
    clip: Callable[[list[torch.nn.Parameter]], Any], case: ClippingCase, dtype: str, device: str
) -> dict[str, np.ndarray]:
    """Put the case's gradients into ``.grad`` of parameters, call ``clip``, read the gradients."""
    tdt, dev = DTYPES[dtype], _device(device)
    names = list(case.grads)
    params = []
    for k in names:
        p = torch.nn.Parameter(torch.zeros(case.grads[k].shape, dtype=tdt, device=dev))
        p.grad = torch.tensor(case.grads[k], dtype=tdt, device=dev)
        params.append(p)
    try:
        clip(params)
    except RuntimeError as exc:
        raise nonfinite_error(exc) from exc
    return {
        k: p.grad.detach().cpu().numpy().astype(np.float64)
        for k, p in zip(names, params, strict=True)
    }


def _impl(
    spec_id: str, name: str, clip: Callable[[ClippingCase], Callable[..., Any]]
) -> Implementation:
    return Implementation(
        spec_id,
        name,
        lambda case, dtype, device: run_clipping(clip(case), case, dtype, device),
        dtypes=tuple(DTYPES),
        devices=("cpu", "cuda"),
    )


def _value(foreach: bool) -> Callable[[ClippingCase], Callable[..., Any]]:
    return lambda c: lambda ps: torch.nn.utils.clip_grad_value_(ps, c.threshold, foreach=foreach)


def _global(foreach: bool, **kw: Any) -> Callable[[ClippingCase], Callable[..., Any]]:
    return lambda c: (
        lambda ps: torch.nn.utils.clip_grad_norm_(ps, c.threshold, foreach=foreach, **kw)
    )


def _per_parameter(foreach: bool) -> Callable[[ClippingCase], Callable[..., Any]]:
    def clip(c: ClippingCase) -> Callable[..., Any]:
        def each(ps: list[torch.nn.Parameter]) -> None:
            for p in ps:
                torch.nn.utils.clip_grad_norm_(p, c.threshold, foreach=foreach)

        return each

    return clip


def implementations() -> list[Implementation]:
    out: list[Implementation] = []
    for path, foreach in _FOREACH.items():
        out += [
            _impl("clip.value", f"clip_grad_value_[{path}]", _value(foreach)),
            _impl("clip.norm", f"clip_grad_norm_ per parameter[{path}]", _per_parameter(foreach)),
            _impl("clip.global_norm", f"clip_grad_norm_[{path}]", _global(foreach)),
            _impl(
                "clip.global_norm",
                f"clip_grad_norm_(error_if_nonfinite=True)[{path}]",
                _global(foreach, error_if_nonfinite=True),
            ),
        ]
    return out
