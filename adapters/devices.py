r"""What several adapters do with a framework's devices, written once: which devices it has, and
how it is put into full precision (no TF32) before a comparison. Each function imports its
framework when called, so that an environment without that framework can import this module."""

from __future__ import annotations

__all__ = ["jax_devices", "jax_full_precision", "torch_devices", "torch_full_precision"]


def torch_devices() -> list[str]:
    """``cpu``, and ``cuda`` where PyTorch sees a GPU."""
    import torch

    return ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def torch_full_precision() -> None:
    """Comparisons in full precision: no TF32 in PyTorch's matmuls or convolutions."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def jax_devices() -> list[str]:
    """``cpu``, and ``cuda`` where JAX sees a GPU."""
    import jax

    try:
        gpu = bool(jax.devices("gpu"))
    except RuntimeError:
        gpu = False
    return ["cpu", *(["cuda"] if gpu else [])]


def jax_full_precision() -> None:
    """Full-precision matmuls on GPU (no TF32) in JAX."""
    import jax

    jax.config.update("jax_default_matmul_precision", "highest")
