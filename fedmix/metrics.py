"""Segmentation metrics on one 2-D binary mask pair: Dice, IoU, HD95.

Inputs are numpy boolean arrays of the same 2-D shape (H, W); results are Python floats.
:func:`batch_dice_scores` is the same Dice for a torch batch (N, H, W), used by validation.
Empty-mask conventions (stated once, used by every table):

==================  ======  =====  =========================
case                Dice    IoU    HD95
==================  ======  =====  =========================
both empty          1.0     1.0    0.0
exactly one empty   0.0     0.0    sqrt(H**2 + W**2) (image diagonal, a finite worst case)
==================  ======  =====  =========================

:func:`one_empty` flags the second case so that tables can count it.
HD95 on two non-empty masks is defined as in MONAI's
``compute_hausdorff_distance(..., percentile=95, directed=False)`` (pixel spacing 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["batch_dice_scores", "dice", "hd95", "iou", "one_empty"]


def _check(pred: np.ndarray, target: np.ndarray) -> None:
    if not (isinstance(pred, np.ndarray) and isinstance(target, np.ndarray)):
        raise ValueError(
            f"pred and target must be numpy arrays, got {type(pred).__name__} and "
            f"{type(target).__name__}"
        )
    if pred.ndim != 2 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must be 2-D arrays of the same shape, got {pred.shape} and "
            f"{target.shape}"
        )
    if pred.dtype != bool or target.dtype != bool:
        raise ValueError(
            f"pred and target must be boolean masks, got dtypes {pred.dtype} and {target.dtype} "
            f"(shapes {pred.shape}); threshold first, e.g. mask > 0"
        )


def one_empty(pred: np.ndarray, target: np.ndarray) -> bool:
    """True when exactly one of the two masks is empty (the case with a conventional HD95)."""
    _check(pred, target)
    return bool(pred.any()) != bool(target.any())


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice ``2 |P & T| / (|P| + |T|)``; 1.0 when both are empty."""
    _check(pred, target)
    total = int(pred.sum()) + int(target.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, target).sum()) / total


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union ``|P & T| / |P | T|``; 1.0 when both are empty."""
    _check(pred, target)
    union = int(np.logical_or(pred, target).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(pred, target).sum()) / union


def _edges(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels: ``mask XOR erosion(mask)`` with the 4-connected cross, outside = 0."""
    from scipy import ndimage  # here: training imports this module where scipy may be absent

    return mask ^ ndimage.binary_erosion(mask, border_value=0)


def _directed_p95(from_edges: np.ndarray, to_edges: np.ndarray) -> float:
    """95th percentile (linear interpolation) of the Euclidean distances from every pixel of
    ``from_edges`` to the nearest pixel of ``to_edges``."""
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(~to_edges)
    return float(np.percentile(dist[from_edges], 95))


def hd95(pred: np.ndarray, target: np.ndarray) -> float:
    """95th-percentile symmetric Hausdorff distance between the mask boundaries, in pixels.

    Boundary = mask XOR its binary erosion (4-connected cross; pixels on the image border count
    as boundary). ``d(A -> B)`` = Euclidean distance from each boundary pixel of A to the nearest
    boundary pixel of B. ``HD95 = max(p95(d(P -> T)), p95(d(T -> P)))``, percentiles by linear
    interpolation: the definition of MONAI's ``compute_hausdorff_distance(percentile=95)``.
    Both empty: 0.0. Exactly one empty: ``sqrt(H**2 + W**2)``.
    """
    _check(pred, target)
    has_pred, has_target = bool(pred.any()), bool(target.any())
    if not has_pred and not has_target:
        return 0.0
    if has_pred != has_target:
        return math.hypot(*pred.shape)
    edge_p, edge_t = _edges(pred), _edges(target)
    return max(_directed_p95(edge_p, edge_t), _directed_p95(edge_t, edge_p))


def batch_dice_scores(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice of bool maps (N, H, W): 2|P&T| / (|P| + |T|); both empty -> 1."""
    inter = (pred & target).flatten(1).sum(1).float()
    total = (pred.flatten(1).sum(1) + target.flatten(1).sum(1)).float()
    return torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total))
