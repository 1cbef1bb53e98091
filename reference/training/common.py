r"""What the training cards share: the check of an integer argument."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["check_int"]


def check_int(name: str, value: Any, *, low: int) -> int:
    """An integer ``>= low`` (a bool is not one): a TypeError or ValueError names the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r}: must be an integer, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return int(value)
