"""The segmentation network: a 2-D U-Net with GroupNorm and bilinear upsampling.

Layout at ``width=64, levels=5`` (the FedMix network, 17,266,241 parameters with one input
channel)::

    encoder  1 -> 64 -> 128 -> 256 -> 512 -> 512        (double conv; max-pool between levels)
    decoder  cat(512, 512) = 1024 -> 512 -> 256         (bilinear x2, concat skip, double conv)
             cat(256, 256) =  512 -> 256 -> 128
             cat(128, 128) =  256 -> 128 ->  64
             cat( 64,  64) =  128 ->  64 ->  64
    head     1x1 conv 64 -> 1 (logits; the caller applies the sigmoid)

Encoder width at level k is ``min(width * 2**k, 8 * width)``. Each decoder block's first conv
halves its input channels (``mid = in // 2``) and its second conv outputs the width of the next
shallower encoder level (the top block outputs ``width``): the classic "bilinear" U-Net.
Every conv is 3x3, padding 1, followed by ``GroupNorm(C // 2, C)`` and ReLU.

Bilinear upsampling (``align_corners=True``) is a linear map per axis; on the CPU it runs as two
small matrix products ``A_h @ x @ A_w^T`` (:func:`bilinear_upsample`), whose backward is much
cheaper there than ``F.interpolate``'s (about 6% of a training step at width 8, 32 x 32). On
other devices ``F.interpolate`` computes the same map.
"""

from __future__ import annotations

import dataclasses
import functools

import torch
import torch.nn.functional as F
from torch import nn

from fedmix.params import param

__all__ = [
    "UNet",
    "UNetParams",
    "bilinear_matrix",
    "bilinear_upsample",
    "count_parameters",
    "inference_batch",
    "predict_binary",
]

INFERENCE_MEMORY = 8 * 2**30  # bytes a prediction pass may hold at its widest point


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model`` (parameters with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def inference_batch(images: torch.Tensor, width: int) -> int:
    """Images per forward pass when only predicting: (N, C, H, W) ``images``, U-Net ``width``.

    Memory bound: a prediction pass holds at its peak about ``9 * width`` fp32 channels at full
    resolution per image (measured 8.6: the top decoder level's skip, upsampled input,
    concatenation and convolution outputs, plus the coarser levels); a pass keeps that within
    :data:`INFERENCE_MEMORY` (8 GiB: 56 of the paper's 256 x 256 images at width 64).
    Within the bound:

    - GPU: 256 images.
    - CPU: as many as keep the first level's fp32 activation (batch x width x H x W) within
      1 MiB, a core's L2 cache (56 at width 8 and 24 x 24; at 32 x 32 one pass over 54 images
      took 30% longer than passes of 32), but at least 16, a training batch: a pass without
      autograd needs far less memory than the training step the machine already runs, and at
      the paper's width, where one 64 x 64 image alone fills 1 MiB, passes of 16 predict
      faster than image by image (docs/performance.md).
    """
    h, w = images.shape[-2:]
    fits = max(1, INFERENCE_MEMORY // (9 * width * h * w * 4))
    if images.device.type != "cpu":
        return min(256, fits)
    return min(max(16, 2**18 // (width * h * w)), fits)


@torch.inference_mode()
def predict_binary(
    model: nn.Module, images: torch.Tensor, batch: int | None = None
) -> torch.Tensor:
    """``sigmoid(model(images / 255)) > 0.5`` as bool (N, H, W) for uint8 images (N, C, H, W).

    Forward passes of ``batch`` images (default :func:`inference_batch` for the U-Net's width)
    in eval mode; the model is left in the mode it was found in. Autocast, if wanted, is the
    caller's context. ``z > 0`` is used for ``sigmoid(z) > 0.5``.
    """
    # A plug-in network without a ``width`` is batched as the paper's U-Net (width 64).
    step = batch or inference_batch(images, getattr(model, "width", 64))
    was_training = model.training
    model.eval()
    out = [
        model(images[start : start + step].float().div_(255))[:, 0] > 0
        for start in range(0, images.shape[0], step)
    ]
    model.train(was_training)
    return torch.cat(out)


@functools.lru_cache(maxsize=64)
def _cached_matrix(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device):
    with torch.inference_mode(False):  # a cached inference tensor could not enter autograd later
        return bilinear_matrix(n_in, n_out).to(dtype=dtype, device=device)


def bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Interpolation matrix ``A`` (n_out, n_in) of 1-D linear resampling, ``align_corners=True``.

    Output ``i`` sits at source coordinate ``u = i (n_in - 1) / (n_out - 1)`` and is
    ``(1 - f) x[floor(u)] + f x[floor(u) + 1]`` with ``f = u - floor(u)``; each row sums to 1.
    Built in float64, so that cast to float32 it matches ``F.interpolate``'s weights.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"bilinear_matrix needs sizes >= 1, got n_in={n_in}, n_out={n_out}")
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    pos = torch.arange(n_out, dtype=torch.float64) * scale
    lo = pos.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = pos - lo
    rows = torch.arange(n_out)
    a = torch.zeros(n_out, n_in, dtype=torch.float64)
    a.index_put_((rows, lo), 1 - frac, accumulate=True)
    a.index_put_((rows, hi), frac, accumulate=True)
    return a


def bilinear_upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="bilinear", align_corners=True)`` for (N, C, h, w) ``x``.

    CPU: ``A_h @ x @ A_w^T`` with :func:`bilinear_matrix` (same map, float32 rounding differs
    in the last bits). Other devices, and inside ``torch.compile``: ``F.interpolate`` itself.
    """
    if x.device.type != "cpu" or torch.compiler.is_compiling():
        # Inductor generates its own kernel for this map (and the matrices' lru_cache would be
        # traced through, with a warning).
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    (h, w), (oh, ow) = x.shape[-2:], size
    a_h = _cached_matrix(h, oh, x.dtype, x.device)
    a_wt = _cached_matrix(w, ow, x.dtype, x.device).T
    return torch.matmul(torch.matmul(a_h, x), a_wt)


class DoubleConv(nn.Sequential):
    """``(conv3x3 -> GroupNorm(C/2, C) -> ReLU) x 2`` from ``cin`` via ``cmid`` to ``cout``."""

    def __init__(self, cin: int, cmid: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cmid, kernel_size=3, padding=1),
            nn.GroupNorm(cmid // 2, cmid),
            nn.ReLU(inplace=True),
            nn.Conv2d(cmid, cout, kernel_size=3, padding=1),
            nn.GroupNorm(cout // 2, cout),
            nn.ReLU(inplace=True),
        )


@dataclasses.dataclass(frozen=True)
class UNetParams:
    """``training.model`` keys of the built-in U-Net (defaults: the 3-minute demo's size)."""

    width: int = param(8, "channels of the first U-Net level (paper: 64)", minimum=2)
    levels: int = param(3, "encoder levels incl. the bottleneck (paper: 5)", minimum=2, maximum=7)

    def __post_init__(self):
        if self.width % 2:
            raise ValueError(f"width {self.width} must be even (GroupNorm uses C/2 groups)")


class UNet(nn.Module):
    """2-D U-Net mapping ``(N, in_channels, H, W)`` images to ``(N, 1, H, W)`` logits.

    ``H`` and ``W`` must be divisible by ``2 ** (levels - 1)`` (16 for the default), otherwise
    ``forward`` raises ``ValueError``. Works with ``torch.channels_last`` inputs and weights.
    Conv weights are Xavier-uniform, conv biases zero; GroupNorm starts at weight 1, bias 0.

    Args:
        in_channels: image channels (1 for grayscale).
        width: channels of the first level; must be even (GroupNorm uses C/2 groups).
        levels: encoder levels including the bottleneck (>= 2); ``levels - 1`` poolings.
    """

    Params = UNetParams  # what training.model may set; in_channels comes from the task

    def __init__(self, in_channels: int, width: int, levels: int):
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"UNet in_channels must be >= 1, got {in_channels}")
        if width < 2 or width % 2:
            raise ValueError(f"UNet width must be an even number >= 2 (GroupNorm C/2), got {width}")
        if levels < 2:
            raise ValueError(f"UNet levels must be >= 2 (at least one pooling), got {levels}")
        self.levels, self.width = levels, width
        widths = [min(width * 2**k, 8 * width) for k in range(levels)]
        self.encoder = nn.ModuleList()
        cin = in_channels
        for c in widths:
            self.encoder.append(DoubleConv(cin, c, c))
            cin = c
        self.decoder = nn.ModuleList()  # deepest first
        below = widths[-1]
        for k in range(levels - 2, -1, -1):
            cat = widths[k] + below
            out = widths[k - 1] if k > 0 else widths[0]
            self.decoder.append(DoubleConv(cat, cat // 2, out))
            below = out
        self.head = nn.Conv2d(below, 1, kernel_size=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform conv weights and zero conv biases; GroupNorm weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (N, C_in, H, W) -> logits (N, 1, H, W)."""
        step = 2 ** (self.levels - 1)
        if x.ndim != 4 or x.shape[-2] % step or x.shape[-1] % step:
            raise ValueError(
                f"UNet with levels={self.levels} needs input (N, C, H, W) with H and W divisible "
                f"by {step}, got shape {tuple(x.shape)}; crop or pad the images"
            )
        skips = []
        for k, block in enumerate(self.encoder):
            if k > 0:
                x = F.max_pool2d(x, kernel_size=2)
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck output is x itself
        for block in self.decoder:
            skip = skips.pop()
            x = bilinear_upsample(x, tuple(skip.shape[-2:]))
            x = block(torch.cat([skip, x], dim=1))
        return self.head(x)
