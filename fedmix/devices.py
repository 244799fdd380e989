"""Device and precision policy: which device, which arithmetic, which memory layout.

The device is CUDA when available, else CPU, always overridable, never silent. Training,
pseudo labels and validation share one autocast policy (:func:`autocast`).
"""

from __future__ import annotations

import contextlib

import torch

__all__ = [
    "autocast",
    "autocast_dtype",
    "configure_cuda",
    "deterministic_cpu",
    "precision_name",
    "resolve_device",
    "uses_channels_last",
]


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


def deterministic_cpu(compiled: bool = False) -> None:
    """``torch.use_deterministic_algorithms(True)`` without its 1.5 s import of torch._inductor.

    The public function also sets an Inductor flag, and importing Inductor to set it costs about
    1.5 s per process (measured: ``python -X importtime``), a large part of a demo run. Without
    ``torch.compile`` only the ATen flag matters, so only it is set; compiled runs use the
    public call.
    """
    if compiled:
        torch.use_deterministic_algorithms(True)
    else:
        torch._C._set_deterministic_algorithms(True)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of training, pseudo labels and validation; None means plain fp32.

    ``auto`` is bf16 on CUDA (the fast path's default there) and fp32 elsewhere; ``bf16`` is
    honoured on any device (CPU autocast works, it is just not faster on this project's CPUs).
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision {precision!r} is not one of auto, fp32, bf16")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(precision: str, device: torch.device):
    """The autocast context of ``precision`` on ``device`` (a no-op context for fp32)."""
    dtype = autocast_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def precision_name(precision: str, device: torch.device) -> str:
    """The arithmetic a run on ``device`` actually uses: ``"bf16"`` or ``"fp32"``."""
    return "bf16" if autocast_dtype(precision, device) is torch.bfloat16 else "fp32"


def uses_channels_last(device: torch.device) -> bool:
    """Channels-last weights on CUDA (tensor-core convolutions); on the CPU it was slower
    (GroupNorm with two channels per group, docs/performance.md)."""
    return device.type == "cuda"
