"""Model selection on validation data: which clients' Dice chooses best.pt, and that Dice.

The score is the mean Dice of each client's global stream-1 model on that client's selection
split (never its test split); by default only pixel-labelled clients count, since a weak
client's validation masks would be ground truth it does not have in the paper's setting."""

from __future__ import annotations

import torch

from fedmix.clients import EvalData
from fedmix.metrics import batch_dice_scores
from fedmix.model import predict_binary, predict_channels
from fedmix.multiclass import mean_class_dice
from fedmix.runconfig import RunConfig

__all__ = ["selection_scope", "validate_model"]


@torch.inference_mode()
def validate_model(model: torch.nn.Module, data: EvalData, autocast_context) -> float:
    """Mean Dice of ``model`` on one client's selection split (multi-class: per image, the mean
    over classes)."""
    with autocast_context:
        if data.class_names:
            preds = predict_channels(model, data.images)
            return float(mean_class_dice(preds, data.masks, len(data.class_names)).mean())
        preds = predict_binary(model, data.images)
    return float(batch_dice_scores(preds, data.masks > 0).mean())


def selection_scope(run: RunConfig) -> list[str]:
    """The clients whose validation Dice chooses best.pt (RunConfig.selection_clients); the
    others' is logged in history.csv for diagnosis and used for nothing."""
    scope = [
        c
        for c, s in zip(run.clients, run.supervision, strict=True)
        if run.selection_clients == "all" or s == "L"
    ]
    if not scope:
        raise ValueError(
            f"setting {run.setting!r} has no pixel-labelled client to select best.pt on; "
            "set training.selection_clients: all"
        )
    return scope
