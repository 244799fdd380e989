"""Class-index masks of a multi-class task (numpy): channels, presence, per-class boxes.

A multi-class task has ``K`` foreground classes numbered ``1..K`` (RETOUCH: IRF = 1, SRF = 2,
PED = 3). Masks are stored as class indices, uint8 ``(N, H, W)`` with 0 background; channel
``k`` of the network (and of every per-class array here) holds class ``k + 1``.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = [
    "check_class_masks",
    "class_box_masks",
    "class_boxes",
    "class_presence",
    "grow_boxes",
    "one_hot_classes",
]


def check_class_masks(masks: np.ndarray, n_classes: int, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` unless ``masks`` holds only 0..``n_classes``."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    bad = np.setdiff1d(np.unique(masks), np.arange(n_classes + 1))
    if bad.size:
        raise ValueError(
            f"{source}: class-index masks of a {n_classes}-class task hold 0..{n_classes} only, "
            f"but this one also holds {bad[:10].tolist()}; map the labels when standardizing"
        )


def one_hot_classes(masks, n_classes: int):
    """Class-index masks ``(N, H, W)`` -> bool channels ``(N, K, H, W)``, ``[:, k] = mask == k+1``.

    Works on numpy arrays and torch tensors alike (returns the same kind).
    """
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W) class indices, got shape {tuple(masks.shape)}")
    # torch only for torch input: the data rules (degrade, holdout) run without importing it
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(masks, torch.Tensor):
        labels = torch.arange(1, n_classes + 1, device=masks.device).view(1, -1, 1, 1)
        return masks[:, None].long() == labels
    labels = np.arange(1, n_classes + 1).reshape(1, -1, 1, 1)
    return np.asarray(masks)[:, None] == labels


def class_presence(masks: np.ndarray, n_classes: int) -> np.ndarray:
    """Image-level label uint8 ``(N, K)``: ``presence[i, k] = 1`` iff class ``k + 1`` occurs in
    mask ``i``."""
    check_class_masks(masks, n_classes, "class_presence")
    return one_hot_classes(masks, n_classes).any(axis=(2, 3)).astype(np.uint8)


def class_boxes(masks: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One tight box per class: int32 ``(N, K, 4)`` as ``(y0, x0, y1, x1)``, end exclusive, and
    valid uint8 ``(N, K)``; a class absent from an image has box ``-1`` and valid 0.

    Channel ``k`` is the box of ``mask == k + 1`` as :func:`fedmix.data.degrade.masks_to_boxes`
    computes it for a binary mask.
    """
    check_class_masks(masks, n_classes, "class_boxes")
    _, h, w = masks.shape
    channels = one_hot_classes(masks, n_classes)
    rows, cols = channels.any(axis=3), channels.any(axis=2)  # (N, K, H), (N, K, W)
    valid = rows.any(axis=2)
    boxes = np.stack(
        [
            rows.argmax(axis=2),
            cols.argmax(axis=2),
            h - rows[..., ::-1].argmax(axis=2),
            w - cols[..., ::-1].argmax(axis=2),
        ],
        axis=2,
    ).astype(np.int32)
    boxes[~valid] = -1
    return boxes, valid.astype(np.uint8)


def grow_boxes(
    boxes: np.ndarray, valid: np.ndarray, margins: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Grow each side of each valid box by its own margin, clamped to the image.

    ``boxes`` int ``(..., 4)`` as ``(y0, x0, y1, x1)``; ``margins`` int ``(..., 4)`` >= 0, one per
    side (the original draws ``randint(0, 10)`` per side and class channel). Returns
    ``(max(y0 - m0, 0), max(x0 - m1, 0), min(y1 + m2, H), min(x1 + m3, W))``; invalid boxes
    stay ``-1``.
    """
    boxes, margins = np.asarray(boxes), np.asarray(margins)
    valid = np.asarray(valid).astype(bool)
    if margins.shape != boxes.shape or (margins < 0).any():
        raise ValueError(
            f"margins must be >= 0 with the boxes' shape {boxes.shape}, got shape {margins.shape}"
        )
    lo = np.maximum(boxes[..., :2] - margins[..., :2], 0)
    hi = np.minimum(boxes[..., 2:] + margins[..., 2:], [height, width])
    grown = np.concatenate([lo, hi], axis=-1).astype(np.int32)
    grown[~valid] = -1
    return grown


def class_box_masks(boxes: np.ndarray, valid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filled per-class boxes bool ``(N, K, H, W)`` from boxes ``(N, K, 4)`` and valid ``(N, K)``;
    an invalid box (class absent) gives an all-False channel."""
    boxes, valid = np.asarray(boxes), np.asarray(valid).astype(bool)
    ys = np.arange(height)[None, None, :, None]
    xs = np.arange(width)[None, None, None, :]
    y0, x0, y1, x1 = (boxes[..., j, None, None] for j in range(4))
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    return inside & valid[..., None, None]
