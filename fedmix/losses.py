"""Training losses: soft Dice (every method), confident BCE (FedST), proximal term (FedProx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["confident_bce", "proximal_term", "soft_dice_loss"]


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[1] != 1):
        raise ValueError(f"{names} must be (N, 1, H, W) or (N, H, W), got {tuple(a.shape)}")
    if not (a.is_floating_point() and b.is_floating_point()):
        raise ValueError(f"{names} must be floating tensors, got {a.dtype} and {b.dtype}")


def soft_dice_loss(
    probs: torch.Tensor, target: torch.Tensor, eps: float = 1e-4, reduction: str = "mean"
) -> torch.Tensor:
    """Soft Dice loss per sample, ``1 - (2 * sum(p * y) + eps) / (sum(p) + sum(y) + eps)``.

    Args:
        probs: sigmoid probabilities, float (N, 1, H, W) or (N, H, W).
        target: labels in [0, 1], same shape as ``probs``.
        eps: smoothing; with it two empty maps give loss 0.
        reduction: ``"mean"`` (scalar, mean over the batch) or ``"none"`` (per sample, (N,)).
    """
    _check_pair(probs, target, "probs and target")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    dims = tuple(range(1, probs.ndim))
    inter = (probs * target).sum(dims)
    total = probs.sum(dims) + target.sum(dims)
    loss = 1.0 - (2.0 * inter + eps) / (total + eps)
    return loss.mean() if reduction == "mean" else loss


def confident_bce(
    logits_student: torch.Tensor, probs_teacher: torch.Tensor, confidence: float
) -> torch.Tensor:
    """BCE of the student against the teacher's confident pixels (FedST self-training).

    Pseudo label per pixel: 1 where ``teacher > confidence``, 0 where ``teacher < 1 - confidence``;
    other pixels are ignored. The loss is ``-mean(y log p + (1 - y) log(1 - p))`` over the kept
    pixels of the whole batch, with ``p = sigmoid(logits_student)``. It is computed from the
    logits (``F.binary_cross_entropy_with_logits``): a saturated sigmoid then gives a finite
    gradient, where ``log(p)`` of a probability that underflowed to 0 gives NaN gradients even
    behind a clamp. With no kept pixel the loss is zero (and so are the gradients). The mask is
    applied arithmetically, so the function never waits for the device. The teacher gets no
    gradient.

    Args:
        logits_student: float (N, 1, H, W) or (N, H, W), e.g. predicted on a gamma-shifted image.
        probs_teacher: same shape, the probabilities that define the labels.
        confidence: in (0.5, 1).
    """
    _check_pair(logits_student, probs_teacher, "logits_student and probs_teacher")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence}")
    teacher = probs_teacher.detach()
    positive = (teacher > confidence).to(logits_student.dtype)
    kept = positive + (teacher < 1.0 - confidence).to(logits_student.dtype)
    per_pixel = F.binary_cross_entropy_with_logits(logits_student, positive, reduction="none")
    return (per_pixel * kept).sum() / kept.sum().clamp_min(1.0)


def proximal_term(
    model: nn.Module,
    global_params: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
    mu: float,
) -> torch.Tensor:
    """FedProx proximal term ``mu / 2 * sum_w ||w - w_g||^2`` over the trainable parameters.

    Args:
        model: the local model (its parameters get the gradient ``mu * (w - w_g)``).
        global_params: the round's global weights, either a mapping keyed like
            ``model.named_parameters()`` (a ``state_dict`` works) or a sequence in the order of
            ``model.parameters()``. Treated as constants.
        mu: proximal strength, >= 0.
    """
    if not mu >= 0:
        raise ValueError(f"FedProx mu must be >= 0, got {mu}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if isinstance(global_params, Mapping):
        missing = [n for n, _ in named if n not in global_params]
        if missing:
            raise ValueError(f"global_params lacks model parameters {missing[:5]}")
        anchors = [global_params[n] for n, _ in named]
    else:
        anchors = list(global_params)
        if len(anchors) != len(named):
            raise ValueError(
                f"global_params has {len(anchors)} tensors but the model has {len(named)} "
                "trainable parameters; pass model.state_dict() of the global model instead"
            )
    total = named[0][1].new_zeros(()) if named else torch.zeros(())
    for (name, p), g in zip(named, anchors, strict=True):
        if g.shape != p.shape:
            raise ValueError(
                f"global parameter {name!r} has shape {tuple(g.shape)}, model {tuple(p.shape)}"
            )
        total = total + (p - g.detach().to(p)).pow(2).sum()
    return 0.5 * mu * total
