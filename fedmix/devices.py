"""Choosing the torch device: CUDA when available, else CPU, always overridable, never silent."""

from __future__ import annotations

import torch

__all__ = ["configure_cuda", "resolve_device"]


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` as given.

    Asking for CUDA where none is available is an error, not a quiet switch to the CPU.
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise ValueError(f"device {spec!r} is not valid; use auto, cpu, cuda or cuda:N") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {spec!r} requested but CUDA is not available here; "
                "set runtime: {device: cpu} or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    elif device.type != "cpu":
        raise ValueError(f"device {spec!r} is not supported; use auto, cpu, cuda or cuda:N")
    return device


def configure_cuda(device: torch.device) -> None:
    """Process-wide CUDA settings of the fast path (nothing happens off CUDA).

    - fp32 arithmetic is IEEE fp32: torch 2.13 runs cuDNN's fp32 convolutions as TF32 (10-bit
      mantissa) by default, so ``precision: fp32`` would silently be less precise than it says,
      and the fast and plain paths would differ by TF32 rounding. bf16 comes only from autocast.
    - cuDNN benchmarks its convolution algorithms once per input shape (a run has a handful:
      the training batch, the last partial batch, pseudo-label and validation batches) and
      keeps the fastest. Results on a GPU were never bit-reproducible anyway (atomics).
    """
    if device.type != "cuda":
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if hasattr(conv, "fp32_precision"):  # torch >= 2.9
        conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    else:  # older torch (a lent GPU machine may have one): the flags it still reads
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
