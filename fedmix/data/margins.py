"""Box margins: the authors' noisy boxes, grown around the tight box of each round's crop.

The original TMI code never hands a box client the tight box: every time an image is loaded it
takes the tight box of the *cropped* mask and grows each of its four sides independently by
``randint(1, 10)`` = 1-9 pixels, clamped to the crop; the arXiv-era code grew each side by a fixed
2 pixels without clamping. Those pixels are pixels of a 224 crop (:data:`REFERENCE_CROP`). Here a
margin is stated in those pixels and scaled to the run's crop side, ``round_half_up(m * crop /
224)``, so a 24-pixel synthetic crop gets 0-1 pixels where a 224 crop gets 1-9, not 9 pixels on a
24-pixel image.

A training file stores only the tight box (as a filled box mask), so "the tight box of the cropped
mask" is here the tight box of the cropped box mask: the same box unless the crop cuts a lesion
whose outline is not a rectangle (then this box can be larger than the mask's). A margin of 0
returns the tight box unchanged and draws no random number.

Margins are drawn per image, side and round from the round's generator (seeded with the run's
seed and the round), so they change every round like the original's and repeat exactly on
resume. Everything works on whole batches of tensors.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where boxes are drawn: configs resolve without it
    import torch

__all__ = [
    "REFERENCE_CROP",
    "check_margin",
    "draw_margins",
    "grow_boxes",
    "margin_box_masks",
    "margin_generator",
    "masks_to_boxes_torch",
    "scale_margins",
]

REFERENCE_CROP = 224  # the original's margins are pixels of a 224 x 224 crop


def check_margin(margin) -> tuple[int, int]:
    """``(lo, hi)`` of a margin given as an integer (fixed) or ``[lo, hi]`` (drawn, inclusive).

    Raises ValueError naming the value unless ``0 <= lo <= hi``.
    """
    if isinstance(margin, bool):
        raise ValueError(f"box margin {margin!r}: give an integer or [lo, hi], not a boolean")
    if isinstance(margin, int):
        lo = hi = margin
    elif (
        isinstance(margin, Sequence)
        and len(margin) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in margin)
    ):
        lo, hi = margin
    else:
        raise ValueError(
            f"box margin {margin!r}: give an integer (fixed pixels of a 224 crop), "
            "[lo, hi] (drawn per image, side and round, inclusive) or 0 (the tight box)"
        )
    if not 0 <= lo <= hi:
        raise ValueError(f"box margin {margin!r}: need 0 <= lo <= hi")
    return lo, hi


def draw_margins(n: int, margin, generator: torch.Generator) -> torch.Tensor:
    """int64 (n, 4) margins in pixels of a 224 crop, one per image and side (top, left, bottom,
    right): the fixed value, or uniform integers in ``[lo, hi]`` drawn from ``generator``
    (the original's ``randint(1, 10)`` is ``[1, 9]``)."""
    import torch

    lo, hi = check_margin(margin)
    if lo == hi:
        return torch.full((n, 4), lo, dtype=torch.int64)
    return torch.randint(lo, hi + 1, (n, 4), generator=generator, dtype=torch.int64)


def margin_generator(seed: int, rnd: int, client: str) -> torch.Generator:
    """The generator of one client's margins in round ``rnd`` of the run seeded ``seed``: its own
    stream, so margins repeat on resume and shift no other random draw of the round."""
    import torch

    state = np.random.SeedSequence([seed, rnd, zlib.crc32(client.encode())]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)


def scale_margins(margins: torch.Tensor, crop_side: int) -> torch.Tensor:
    """Margins in pixels of a 224 crop -> pixels of a ``crop_side`` crop, rounded half up:
    ``floor(m * crop_side / 224 + 0.5)`` (exact integer arithmetic)."""
    return (2 * margins * crop_side + REFERENCE_CROP) // (2 * REFERENCE_CROP)


def masks_to_boxes_torch(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tight boxes int64 (N, 4) = (y0, x0, y1, x1), end exclusive, and valid bool (N,) of boolean
    maps (N, H, W); rows of empty maps are 0 with valid False."""
    import torch

    n, h, w = masks.shape
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    valid = rows.any(dim=1)
    ar_h = torch.arange(h, device=masks.device)
    ar_w = torch.arange(w, device=masks.device)
    big_h, big_w = torch.full_like(ar_h, h), torch.full_like(ar_w, w)
    y0 = torch.where(rows, ar_h, big_h).amin(dim=1)
    x0 = torch.where(cols, ar_w, big_w).amin(dim=1)
    y1 = torch.where(rows, ar_h + 1, torch.zeros_like(ar_h)).amax(dim=1)
    x1 = torch.where(cols, ar_w + 1, torch.zeros_like(ar_w)).amax(dim=1)
    boxes = torch.stack([y0, x0, y1, x1], dim=1) * valid[:, None]
    return boxes.long(), valid


def grow_boxes(
    boxes: torch.Tensor, margins: torch.Tensor, height: int, width: int, clamp: bool = True
) -> torch.Tensor:
    """Boxes (N, 4) grown by ``margins`` (N, 4) pixels per side: ``(y0 - m0, x0 - m1, y1 + m2,
    x1 + m3)``, clamped to ``[0, height] x [0, width]`` when ``clamp``. Unclamped coordinates may
    leave the crop; the rendered box mask covers only crop pixels either way."""
    import torch

    grown = boxes + margins * torch.tensor([-1, -1, 1, 1], device=boxes.device)
    if clamp:
        limits = torch.tensor([height, width, height, width], device=boxes.device)
        grown = torch.minimum(grown.clamp_min(0), limits)
    return grown


def margin_box_masks(
    box_masks: torch.Tensor, margin, generator: torch.Generator, clamp: bool = True
) -> torch.Tensor:
    """The round's box masks (N, h, w) bool of a cropped view, each box grown by its margin.

    Takes the tight box of each cropped box mask, draws the margins (:func:`draw_margins`),
    scales them to the crop side ``h`` (:func:`scale_margins`), grows and renders. Empty boxes
    stay empty; margin 0 returns ``box_masks`` itself and draws nothing.
    """
    import torch

    lo, hi = check_margin(margin)
    if hi == 0:
        return box_masks
    n, h, w = box_masks.shape
    if h != w:
        raise ValueError(f"box margins are scaled to a square crop; got a {h} x {w} view")
    boxes, valid = masks_to_boxes_torch(box_masks)
    margins = scale_margins(draw_margins(n, (lo, hi), generator), h).to(box_masks.device)
    y0, x0, y1, x1 = grow_boxes(boxes, margins, h, w, clamp).unbind(dim=1)
    ys = torch.arange(h, device=box_masks.device)[None, :, None]
    xs = torch.arange(w, device=box_masks.device)[None, None, :]
    rows = (ys >= y0[:, None, None]) & (ys < y1[:, None, None])
    inside = rows & (xs >= x0[:, None, None]) & (xs < x1[:, None, None])
    return inside & valid[:, None, None]
