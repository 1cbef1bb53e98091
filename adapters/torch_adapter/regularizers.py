r"""PyTorch's weight constraints: ``torch.renorm`` as max-norm (``reg.max_norm``).

PyTorch offers no L1 or L2 penalty function (L2 exists only as the optimizers' ``weight_decay``,
checked under ``opt.weight_decay``), so ``reg.l1`` and ``reg.l2`` have no PyTorch rows.

Convention mapped here: the spec's case is ``(units, fan_in)``, which is ``Linear.weight``'s own
``(out, in)`` layout. ``torch.renorm(w, p, dim, maxnorm)`` bounds each sub-tensor *indexed by*
``dim``, so the norm runs over the other axis: :func:`renorm_dim` gives ``dim`` for the axis that
holds a unit's incoming weights.
"""

from __future__ import annotations

import numpy as np
import torch

from trainspec.adapters.torch_adapter import _DTYPES, _device
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.regularizers import RegularizerCase

__all__ = ["implementations", "renorm_dim", "run_renorm"]

#: the spec's layout (units, fan_in): a unit's incoming weights lie along axis 1
INCOMING_AXIS = 1


def renorm_dim(incoming_axis: int) -> int:
    """``torch.renorm``'s ``dim`` for a 2-D weight whose incoming weights lie along ``incoming_axis``."""
    if incoming_axis not in (0, 1):
        raise ValueError(f"incoming_axis={incoming_axis!r}: must be 0 or 1 for a 2-D weight")
    return 1 - incoming_axis


def run_renorm(
    case: RegularizerCase, dtype: str, device: str, *, incoming_axis: int = INCOMING_AXIS
) -> dict[str, np.ndarray]:
    """``torch.renorm(weight, 2, dim, max_value)`` on the ``Linear.weight`` of the case."""
    w = torch.tensor(case.weights, dtype=_DTYPES[dtype], device=_device(device))
    out = torch.renorm(w, 2, renorm_dim(incoming_axis), case.hyperparameters["max_value"])
    return {"weights": out.cpu().numpy().astype(np.float64)}


def implementations() -> list[Implementation]:
    return [
        Implementation(
            "reg.max_norm",
            "torch.renorm(Linear.weight, 2, dim=0, max_value)",
            run_renorm,
            dtypes=tuple(_DTYPES),
            devices=("cpu", "cuda"),
        )
    ]
