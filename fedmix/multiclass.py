"""Multi-class (multi-label) FedMix: per-class pseudo-label selection, loss and metrics.

A multi-class task has ``K`` foreground classes numbered ``1..K`` (RETOUCH: IRF = 1, SRF = 2,
PED = 3). Masks are stored as class indices, uint8 ``(N, H, W)`` with 0 background, and turned
into ``K`` binary channels, bool ``(N, K, H, W)``, channel ``k`` holding class ``k + 1``
(:mod:`fedmix.data.classes` holds the numpy side: channels, presence, per-class boxes). The
network has one sigmoid output per channel (multi-label, as the original), the loss is soft Dice
per channel, and every FedMix test runs per channel:

- a ``B`` image has one box per class present (``class_boxes``), each side grown by its own
  margin (``grow_boxes``);
- an ``I`` image has a class-presence vector (``class_presence``); the pseudo-label channels of
  absent classes are zeroed;
- the agreement and box tests run per channel (``select_pseudo_labels_per_class``) with the binary
  rules of :mod:`fedmix.pseudo`, and a sample is kept only when every channel passes.

A binary task is the case ``K = 1``; its code paths do not go through this module.
"""

from __future__ import annotations

import numpy as np
import torch

from fedmix.data.classes import one_hot_classes
from fedmix.losses import soft_dice_loss
from fedmix.metrics import dice, hd95, iou, one_empty
from fedmix.pseudo import select_pseudo_labels


def targets_from_masks(masks: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Training targets from masks (N, H, W): float (N, H, W) for a binary task
    (``n_classes == 0``), float channels (N, K, H, W) from class indices otherwise."""
    if not n_classes:
        return masks.float()
    return one_hot_classes(masks, n_classes).float()


def mean_class_dice(pred: torch.Tensor, masks: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Per-image mean over classes of the Dice ``2|P_k & T_k| / (|P_k| + |T_k|)`` (1 when both
    are empty), float (N,): ``pred`` bool channels (N, K, H, W), ``masks`` class indices."""
    target = one_hot_classes(masks, n_classes)
    inter = (pred & target).flatten(2).sum(2).float()
    total = (pred.flatten(2).sum(2) + target.flatten(2).sum(2)).float()
    scores = torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total))
    return scores.mean(1)


def select_pseudo_labels_per_class(
    p1: torch.Tensor,
    p2: torch.Tensor,
    *,
    supervision: str,
    box_masks: torch.Tensor | None = None,
    presence: torch.Tensor | None = None,
    **rules,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """FedMix pseudo labels of a multi-class batch, every test run per class channel.

    Each channel ``k`` of every sample goes through :func:`fedmix.pseudo.select_pseudo_labels`
    as its own binary map: ``B`` refines by that class's box and tests agreement and box
    consistency on it (an absent class has an empty box, so its channel is refined to empty and
    passes); ``I`` zeroes the channels of absent classes (always passing) and, for a present
    class, rejects an empty agreed map. A sample is kept iff all its channels pass, so it trains
    on a complete multi-channel label.

    Args:
        p1, p2: bool ``(N, K, H, W)``, thresholded channels of the two global models.
        supervision: ``"B"``, ``"I"`` or ``"U"``.
        box_masks: bool ``(N, K, H, W)`` per-class filled boxes (``B`` only).
        presence: ``(N, K)`` 0/1 class-presence vector (``I`` only).
        **rules: ``variant``, ``tau``, ``box_tau``, ``box_refinement``, ``use_image_labels`` as
            in :func:`fedmix.pseudo.select_pseudo_labels`.

    Returns:
        ``(label_for_stream1, label_for_stream2, keep, keep_per_class)``: bool ``(N, K, H, W)``
        twice, bool ``(N,)`` and bool ``(N, K)``.
    """
    if p1.ndim != 4 or p1.shape != p2.shape:
        raise ValueError(
            f"p1 and p2 must be bool (N, K, H, W) of one shape, got {tuple(p1.shape)} and "
            f"{tuple(p2.shape)}"
        )
    n, k, h, w = p1.shape
    flat = (n * k, h, w)
    if box_masks is not None:
        box_masks = box_masks.reshape(flat)
    if presence is not None:
        presence = torch.as_tensor(presence, device=p1.device).reshape(n * k)
    lab1, lab2, keep = select_pseudo_labels(
        p1.reshape(flat),
        p2.reshape(flat),
        supervision=supervision,
        box_masks=box_masks,
        lesion=presence,
        **rules,
    )
    per_class = keep.view(n, k)
    return lab1.view(n, k, h, w), lab2.view(n, k, h, w), per_class.all(1), per_class


def soft_dice_per_class(
    probs: torch.Tensor, target: torch.Tensor, eps: float = 1e-4, over: str = "batch"
) -> torch.Tensor:
    """Soft Dice loss ``1 - (2 sum(p_k y_k) + eps) / (sum p_k + sum y_k + eps)`` per channel.

    ``over="batch"`` sums over the channel's pixels of every image of the batch: float ``(K,)``;
    an image without class ``k`` still penalises false positives of ``k``. ``over="sample"``
    gives one value per image and channel, float ``(N, K)`` (with ``K = 1``, the binary loss of
    :func:`fedmix.losses.soft_dice_loss`); there an all-background channel has a loss near 1
    whatever is predicted, so almost no gradient. The training loss is the mean of either.
    """
    if probs.ndim != 4 or probs.shape != target.shape:
        raise ValueError(
            f"probs and target must be (N, K, H, W) of one shape, got {tuple(probs.shape)} and "
            f"{tuple(target.shape)}"
        )
    if over not in ("batch", "sample"):
        raise ValueError(f"over must be 'batch' or 'sample', got {over!r}")
    n, k, h, w = probs.shape
    if over == "batch":
        per_channel = [x.transpose(0, 1).reshape(k, n * h, w) for x in (probs, target)]
        return soft_dice_loss(*per_channel, eps, "none")
    loss = soft_dice_loss(probs.reshape(n * k, h, w), target.reshape(n * k, h, w), eps, "none")
    return loss.view(n, k)


def class_metrics(pred: np.ndarray, mask: np.ndarray, class_names: list[str]) -> dict:
    """Dice, IoU and HD95 of every class of one image, plus their means over the classes.

    ``pred`` bool ``(K, H, W)`` (one channel per class), ``mask`` class indices ``(H, W)``.
    Per class the binary conventions of :mod:`fedmix.metrics` hold (both empty: Dice 1, HD95 0).
    Returns ``{"dice_<name>": ..., "iou_<name>": ..., "hd95_<name>": ...,
    "present_<name>": 0/1, "one_empty_<name>": 0/1, "dice": mean, "iou": mean, "hd95": mean}``.
    """
    k = len(class_names)
    if pred.ndim != 3 or pred.shape[0] != k or pred.shape[1:] != mask.shape:
        raise ValueError(f"pred must be (K={k}, H, W) matching mask {mask.shape}, got {pred.shape}")
    target = one_hot_classes(mask[None], k)[0]
    row: dict = {}
    for c, name in enumerate(class_names):
        row[f"dice_{name}"] = dice(pred[c], target[c])
        row[f"iou_{name}"] = iou(pred[c], target[c])
        row[f"hd95_{name}"] = hd95(pred[c], target[c])
        row[f"present_{name}"] = int(target[c].any())
        row[f"one_empty_{name}"] = int(one_empty(pred[c], target[c]))
    for metric in ("dice", "iou", "hd95"):
        row[metric] = float(np.mean([row[f"{metric}_{name}"] for name in class_names]))
    return row
