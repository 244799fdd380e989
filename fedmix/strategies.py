"""Federated strategies: what each client trains on in a round, and how updates are weighted.

The round loop in :mod:`fedmix.train` is the same for every method. A strategy answers three
questions through small hooks: which global model a client belongs to (``group``), what the
client trains on this round (``local_job``) and with which weights the server averages the
updates (``weights``). The paper's formulas live in :mod:`fedmix.aggregation` and
:mod:`fedmix.pseudo`; strategies only call them.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch

from fedmix.aggregation import fedavg_weights, fedmix_weights
from fedmix.clients import ClientData
from fedmix.config import RunConfig
from fedmix.model import predict_binary, predict_channels
from fedmix.multiclass import select_pseudo_labels_per_class, targets_from_masks
from fedmix.pseudo import select_pseudo_labels

__all__ = ["STRATEGIES", "ClientStats", "LocalJob", "Strategy", "make_strategy"]

log = logging.getLogger("fedmix.strategies")


@dataclasses.dataclass
class LocalJob:
    """What one client trains on this round.

    images: uint8 (n, C, h, w), the round's frozen random view; targets: one float (n, h, w) map
    per stream, or None for self-training (``loss == "self_training"``); n_samples: n_i.
    """

    images: torch.Tensor
    targets: list[torch.Tensor] | None
    n_samples: int
    loss: str = "dice"


@dataclasses.dataclass
class ClientStats:
    """n_i, l_i (stream 1), training-set size and stream-2 loss of one client (n_i = 0: skipped)."""

    n_samples: int
    loss: float
    n_train: int
    loss2: float = float("nan")


class Strategy:
    """Base strategy: FedAvg on the pixel-labelled (``L``) clients; ``U`` clients sit out."""

    streams = 1
    allowed = "LU"

    def __init__(self, run: RunConfig):
        bad = sorted(set(run.supervision) - set(self.allowed))
        if bad:
            raise ValueError(
                f"method {run.method!r} ({run.algorithm}) uses only supervision letters "
                f"{list(self.allowed)}, but setting {run.setting!r} has {bad}; use U for clients "
                "that should not contribute labels"
            )
        self.run = run

    @property
    def proximal_mu(self) -> float:
        return 0.0

    def group(self, client: str) -> str:
        """Name of the global model a client trains from and is averaged into."""
        return "global"

    def local_job(self, rnd, client: ClientData, images, maps, global_models) -> LocalJob | None:
        """``maps`` are the view's [masks, box masks] (None where absent)."""
        if client.supervision != "L":
            return None
        masks = targets_from_masks(maps[0], len(self.run.classes))
        return LocalJob(images, [masks] * self.streams, client.n_train)

    def weights(self, rnd, stats: dict[str, ClientStats]) -> dict[str, np.ndarray]:
        """Aggregation weights per group, over that group's clients in client order."""
        n = [s.n_samples for s in stats.values()]
        return {"global": fedavg_weights(n)}


class FedAvg(Strategy):
    """FedAvg (McMahan et al., AISTATS 2017): w_i = n_i / sum_j n_j over the ``L`` clients."""


class FedProx(FedAvg):
    """FedProx (Li et al., MLSys 2020): FedAvg plus (mu/2) ||w - w_global||^2 in local training."""

    @property
    def proximal_mu(self) -> float:
        return self.run.mu


class Local(FedAvg):
    """Local learning (LL): every client trains its own model on its masks; nothing is shared."""

    def group(self, client: str) -> str:
        return f"client:{client}"

    def weights(self, rnd, stats):
        return {f"client:{c}": np.ones(1) for c, s in stats.items() if s.n_samples > 0}


class FedST(FedAvg):
    """FedST-style self-training (as specified in FEDMIX_SPEC.md, Baselines).

    Warm-up rounds train the ``L`` clients alone. Afterwards ``U`` clients self-train on their own
    confident predictions (BCE on a gamma-shifted view) and weights are fixed: the ``L`` clients
    share ``labelled_weight`` in proportion to their size, the others share the rest equally.
    FedRGD is the same with labelled_weight 0.5 (the run's resolved value).
    """

    @property
    def warmup_rounds(self) -> int:
        return round(self.run.warmup_fraction * self.run.rounds)

    def local_job(self, rnd, client, images, maps, global_models):
        if client.supervision == "U":
            if rnd < self.warmup_rounds:
                return None
            return LocalJob(images, None, client.n_train, loss="self_training")
        return super().local_job(rnd, client, images, maps, global_models)

    def weights(self, rnd, stats):
        if rnd < self.warmup_rounds:
            return super().weights(rnd, stats)
        labelled = np.array([s == "L" for s in self.run.supervision])
        n = np.array([s.n_samples for s in stats.values()], dtype=float)
        w = np.zeros(len(n))
        lw = self.run.labelled_weight if (~labelled).any() else 1.0
        w[labelled] = lw * n[labelled] / n[labelled].sum()
        others = ~labelled & (n > 0)
        if others.any():
            w[others] = (1 - lw) / others.sum()
        else:
            w[labelled] = n[labelled] / n[labelled].sum()
        return {"global": w}


class FedMix(Strategy):
    """FedMix (Wicaksana et al., IEEE TMI 2023; arXiv 2205.01840), two model streams.

    Weak clients train stream 1 on stream 2's agreed pseudo labels and vice versa; the server
    weighs clients by w_i = (q_i + lambda s_i) / (1 + lambda) (:func:`fedmix_weights`).
    """

    streams = 2
    allowed = "LBIU"

    def local_job(self, rnd, client, images, maps, global_models):
        if client.supervision == "L":
            return super().local_job(rnd, client, images, maps, global_models)
        rules = {
            "supervision": client.supervision,
            "variant": self.run.variant,
            "tau": self.run.tau,
            "box_tau": self.run.box_tau,
            "box_masks": maps[1],
            "box_refinement": self.run.box_refinement,
            "use_image_labels": self.run.use_image_labels,
        }
        if self.run.classes:  # every test per class channel; image labels = presence vectors
            p1, p2 = (predict_channels(g, images) for g in global_models)
            lab1, lab2, keep, _ = select_pseudo_labels_per_class(
                p1, p2, presence=client.presence, **rules
            )
        else:
            p1, p2 = (predict_binary(g, images) for g in global_models)
            lab1, lab2, keep = select_pseudo_labels(p1, p2, lesion=client.lesion, **rules)
        kept = int(keep.sum())
        if kept == 0:
            log.info(
                "round %d: client %s kept no pseudo label; it skips this round",
                rnd + 1,
                client.name,
            )
            return None
        return LocalJob(images[keep], [lab1[keep].float(), lab2[keep].float()], kept)

    def weights(self, rnd, stats):
        n = np.array([s.n_samples for s in stats.values()], dtype=float)
        n_train = np.array([s.n_train for s in stats.values()], dtype=float)
        share = np.where(n > 0, n_train, 0.0)  # static training-set share of participants
        if not self.run.adaptive_weights:
            return {"global": fedavg_weights(share)}
        losses = np.array([s.loss if s.n_samples > 0 else 0.0 for s in stats.values()])
        q_counts = n if self.run.variant == "tmi" else share
        return {"global": fedmix_weights(q_counts, losses, self.run.lam, self.run.beta)}


STRATEGIES: dict[str, type[Strategy]] = {
    "local": Local,
    "fedavg": FedAvg,
    "fedprox": FedProx,
    "fedst": FedST,
    "fedrgd": FedST,
    "fedmix": FedMix,
}


def make_strategy(run: RunConfig) -> Strategy:
    if run.algorithm not in STRATEGIES:
        raise ValueError(f"unknown algorithm {run.algorithm!r}; valid: {sorted(STRATEGIES)}")
    if run.algorithm == "fedmix" and run.variant not in ("tmi", "arxiv"):
        raise ValueError(f"unknown FedMix variant {run.variant!r}; valid: ['arxiv', 'tmi']")
    return STRATEGIES[run.algorithm](run)
