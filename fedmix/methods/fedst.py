"""FedST-style self-training, and FedRGD (the same with another weight on the ``L`` clients).

Warm-up rounds train the ``L`` clients alone. Afterwards ``U`` clients self-train: BCE of the
model's prediction on a gamma-shifted view (``x ** gamma``, gamma ~ U(0, 2) per image, or per
batch with ``gamma_per: batch`` as the original) against
its own confident prediction on the plain view (pixels with p > c or p < 1 - c). Weights are
fixed after warm-up (:func:`fedmix.aggregation.fedst_weights`): the ``L`` clients share
``labelled_weight`` in proportion to their size, the others share the rest equally.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from fedmix.aggregation import fedst_weights
from fedmix.losses import confident_bce
from fedmix.methods.base import LocalJob
from fedmix.methods.fedavg import FedAvg
from fedmix.model_keys import GLOBAL
from fedmix.params import param

__all__ = ["FedRGD", "FedRGDParams", "FedST", "FedSTParams", "gamma_shift"]


@dataclasses.dataclass(frozen=True)
class FedSTParams:
    warmup_fraction: float = param(
        0.5, "share of rounds trained on the L clients alone (paper: 150 of 300)",
        minimum=0, maximum=1,
    )  # fmt: skip
    labelled_weight: float = param(
        0.9, "aggregation weight of the L clients after warm-up (rest shared equally)",
        minimum=0, maximum=1,
    )  # fmt: skip
    confidence: float = param(
        0.9, "self-training keeps pixels with p > c or p < 1 - c", minimum=0.5, maximum=1
    )
    gamma_per: str = param(
        "image", "gamma of the shifted view drawn per image, or per batch (the original)",
        choices=("image", "batch"),
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FedRGDParams(FedSTParams):
    labelled_weight: float = param(
        0.5, "aggregation weight of the L clients after warm-up (rest shared equally)",
        minimum=0, maximum=1,
    )  # fmt: skip


def gamma_shift(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """FedST's intensity view ``x ** gamma`` of images in [0, 1], one gamma per image."""
    return x.pow(gamma)


class FedST(FedAvg):
    """FedST-style self-training (warm-up on L clients, then U clients self-train)."""

    Params = FedSTParams

    @property
    def warmup_rounds(self) -> int:
        return round(self.params.warmup_fraction * self.run.rounds)

    def local_job(self, rnd, client, images, maps, global_models):
        if client.supervision == "U":
            if rnd < self.warmup_rounds:
                return None
            return LocalJob(images, None, client.n_train)  # no targets: self-training
        return super().local_job(rnd, client, images, maps, global_models)

    def local_loss(self, model, x, target, global_params, gen):
        if target is not None:
            return super().local_loss(model, x, target, global_params, gen)
        with torch.no_grad():
            teacher = torch.sigmoid(model(x).float())
        n = x.shape[0] if self.params.gamma_per == "image" else 1
        gamma = (torch.rand(n, 1, 1, 1, generator=gen) * 2).to(x.device)
        # x ** gamma keeps black pixels black (0 ** gamma = 0 for gamma > 0); x needs no grad.
        student_logits = model(gamma_shift(x, gamma)).float()
        loss = confident_bce(student_logits, teacher, self.params.confidence)
        return loss, loss

    def weights(self, rnd, stats):
        if rnd < self.warmup_rounds:
            return super().weights(rnd, stats)
        labelled = np.array([s == "L" for s in self.run.supervision])
        n = [s.n_samples for s in stats.values()]
        return {GLOBAL: fedst_weights(n, labelled, self.params.labelled_weight)}


class FedRGD(FedST):
    """FedRGD: FedST with labelled_weight 0.5 by default."""

    Params = FedRGDParams
