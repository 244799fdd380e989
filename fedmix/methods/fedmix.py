"""FedMix (Wicaksana et al., IEEE TMI 2023; arXiv 2205.01840): mixed supervision, two streams.

Two global models G1, G2 (independently initialised). Pixel-labelled clients train both on
their masks. A weakly labelled client (boxes B, image-level labels I, or none U) predicts with
both global models, keeps the samples where the two agree (Dice >= tau; with boxes also
Dice(P1, box) >= box_tau in the tmi variant), refines the labels with its weak label
(:func:`fedmix.pseudo.select_pseudo_labels`), and trains stream 1 on stream 2's labels and vice
versa. The server weighs clients by ``w_i = (q_i + lambda s_i) / (1 + lambda)``
(:func:`fedmix.aggregation.fedmix_weights`), from kept counts and local losses.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from fedmix.aggregation import fedavg_weights, fedmix_weights
from fedmix.data.margins import check_margin, margin_box_masks, margin_generator
from fedmix.methods.base import LocalJob, Strategy
from fedmix.model_keys import GLOBAL
from fedmix.params import param
from fedmix.pseudo import select_pseudo_labels

__all__ = ["FedMix", "FedMixParams"]

log = logging.getLogger("fedmix.methods.fedmix")


@dataclasses.dataclass(frozen=True)
class FedMixParams:
    variant: str = param(
        doc="tmi (IEEE TMI 2023, the published version) or arxiv (arXiv v1)",
        choices=("tmi", "arxiv"),
    )
    lambda_: float = param(10.0, "lambda: weight of the loss term in w_i", key="lambda", minimum=0)
    beta: float = param(1.5, "beta: exponent on l_i in s_i", above=0)
    tau: float = param(
        0.9, "tau: pseudo-label agreement threshold (Dice of P1 and P2)", minimum=0, maximum=1
    )
    box_tau: float = param(
        0.5, "B clients, tmi: keep a sample only if Dice(P1, box) >= box_tau", minimum=0, maximum=1
    )
    adaptive_weights: bool = param(
        True, "weights from kept counts and losses (false: static training-set shares)"
    )
    box_refinement: bool = param(True, "multiply B clients' pseudo labels by the box")
    use_image_labels: bool = param(
        False,
        "I clients: lesion-free images train on background labels, lesion images with an empty "
        "agreed map are rejected (false: the original, which ignores image labels in a binary "
        "task; true measured worse, docs/protocol.md)",
    )
    box_margin: object = param(
        None,
        "B clients: each side of the round's cropped box grows by this many pixels of a 224 "
        "crop, scaled to the crop: [lo, hi] drawn per image, side and round, an integer, or 0 "
        "(the tight box); default: tmi [1, 9], arxiv 2 (the authors' code)",
    )
    box_margin_clamp: object = param(
        None, "clamp the grown box to the crop (default: tmi true, arxiv false, as their code)"
    )

    def __post_init__(self):
        # None means "the variant's": the margin the authors' code of that version used.
        tmi = self.variant == "tmi"
        margin = self.box_margin if self.box_margin is not None else ([1, 9] if tmi else 2)
        object.__setattr__(self, "box_margin", check_margin(margin))
        clamp = tmi if self.box_margin_clamp is None else self.box_margin_clamp
        if not isinstance(clamp, bool):
            raise ValueError(f"box_margin_clamp = {clamp!r}: expected true or false")
        object.__setattr__(self, "box_margin_clamp", clamp)


class FedMix(Strategy):
    """FedMix with two model streams over L, B, I and U clients."""

    Params = FedMixParams
    streams = 2
    allowed = "LBIU"

    def local_job(self, rnd, client, images, maps, global_models):
        if client.supervision == "L":
            return super().local_job(rnd, client, images, maps, global_models)
        p1, p2 = (self.predict(g, images) for g in global_models)
        boxes = maps[1]
        if client.supervision == "B":  # the original's noisy annotator, redrawn every round
            p = self.params
            gen = margin_generator(self.run.seed, rnd, client.name)
            boxes = margin_box_masks(boxes, p.box_margin, gen, p.box_margin_clamp)
        return self.job_from_predictions(rnd, client, images, p1, p2, boxes)

    def job_from_predictions(self, rnd, client, images, p1, p2, box_masks) -> LocalJob | None:
        """A weak client's job from the two global models' bool predictions (N, h, w) of its
        view ``images``; None when no sample passes the selection."""
        p = self.params
        lab1, lab2, keep = select_pseudo_labels(
            p1,
            p2,
            supervision=client.supervision,
            variant=p.variant,
            tau=p.tau,
            box_tau=p.box_tau,
            box_masks=box_masks,
            lesion=client.lesion,
            box_refinement=p.box_refinement,
            use_image_labels=p.use_image_labels,
        )
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
        if not self.params.adaptive_weights:
            return {GLOBAL: fedavg_weights(share)}
        losses = np.array([s.loss if s.n_samples > 0 else 0.0 for s in stats.values()])
        q_counts = n if self.params.variant == "tmi" else share
        return {GLOBAL: fedmix_weights(q_counts, losses, self.params.lambda_, self.params.beta)}
