"""The strategy interface: the hooks the one round loop (:mod:`fedmix.train`) calls.

A method is one class over :class:`Strategy` in one file. Each round the loop asks it:

- ``group(client)``: which global model the client trains from and is averaged into;
- ``local_job(rnd, client, images, maps, global_models)``: what the client trains on this
  round (:class:`LocalJob`), or None to sit the round out;
- ``local_loss(model, x, target, global_params, gen)``: the loss of one local batch;
- ``weights(rnd, stats)``: the server's aggregation weights per group;
- ``aggregate(rnd, group, stream, global_state, states, weights)``: the new global weights.

A method that carries state across rounds on the server (e.g. server momentum) returns it from
``state_dict()`` and takes it back in ``load_state_dict()``; it is saved in ``resume.pt``, so a
resumed run continues exactly where the interrupted one stopped.

The defaults are FedAvg's (McMahan et al., AISTATS 2017): pixel-labelled clients train on their
masks with the soft Dice loss, ``U`` clients sit out, weights ``n_i / sum_j n_j``, weighted
average of the state dicts. A method's hyper-parameters live in its frozen ``Params`` dataclass
(see :mod:`fedmix.params`), the single source of their defaults; the run's values arrive as
``self.params``. The paper's formulas are pure functions in :mod:`fedmix.aggregation`,
:mod:`fedmix.losses` and :mod:`fedmix.pseudo`; strategies call them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch

from fedmix.aggregation import fedavg_weights, weighted_average
from fedmix.clients import ClientData
from fedmix.losses import soft_dice_loss
from fedmix.model import predict_binary, predict_channels
from fedmix.model_keys import GLOBAL
from fedmix.multiclass import soft_dice_per_class, targets_from_masks

if TYPE_CHECKING:
    from fedmix.config import RunConfig

__all__ = ["ClientStats", "LocalJob", "NoParams", "Strategy"]


@dataclasses.dataclass(frozen=True)
class NoParams:
    """A method without hyper-parameters of its own."""


@dataclasses.dataclass
class LocalJob:
    """What one client trains on this round.

    images: uint8 (n, C, h, w), the round's frozen random view; targets: one float (n, h, w) map
    per stream (multi-class: (n, K, h, w)), or None when the strategy's ``local_loss`` makes
    its own (self-training); n_samples: n_i, the count the server weighs.
    """

    images: torch.Tensor
    targets: list[torch.Tensor] | None
    n_samples: int


@dataclasses.dataclass
class ClientStats:
    """n_i, l_i (stream 1), training-set size and stream-2 loss of one client (n_i = 0: skipped)."""

    n_samples: int
    loss: float
    n_train: int
    loss2: float = float("nan")


class Strategy:
    """Base strategy with FedAvg's hooks; a method overrides the hooks that differ."""

    Params: type = NoParams
    streams = 1  # models per group (FedMix: 2)
    allowed = "LU"  # supervision letters the method can use

    def __init__(self, run: RunConfig, predict=predict_binary):
        """``predict(model, images) -> bool (N, h, w)`` is how a method that needs the global
        models' predictions (FedMix's pseudo labels) gets them; the plain reference path
        (:mod:`fedmix.bench.naive`) passes its image-by-image version. A multi-class run
        predicts every class channel, bool (N, K, h, w) (:func:`predict_channels`)."""
        bad = sorted(set(run.supervision) - set(self.allowed))
        if bad:
            raise ValueError(
                f"method {run.method!r} ({run.algorithm}) uses only supervision letters "
                f"{list(self.allowed)}, but setting {run.setting!r} has {bad}; use U for clients "
                "that should not contribute labels"
            )
        if not isinstance(run.params, self.Params):
            raise TypeError(
                f"{type(self).__name__} needs {self.Params.__qualname__} parameters, got "
                f"{type(run.params).__qualname__}"
            )
        self.run = run
        self.params = run.params
        self.predict = predict_channels if run.classes else predict

    def group(self, client: str) -> str:
        """Name of the global model a client trains from and is averaged into."""
        return GLOBAL

    def local_job(
        self, rnd: int, client: ClientData, images, maps, global_models
    ) -> LocalJob | None:
        """``images`` and ``maps`` ([masks, box masks], None where absent) are this round's
        random view of the client's data; ``global_models`` the client's group's streams."""
        if client.supervision != "L":
            return None
        masks = targets_from_masks(maps[0], len(self.run.classes))
        return LocalJob(images, [masks] * self.streams, client.n_train)

    def local_loss(
        self, model, x: torch.Tensor, target, global_params, gen
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective to minimise, task loss to report) of one batch.

        x: float (B, C, h, w) in [0, 1]; target: float (B, h, w) or None (see :class:`LocalJob`),
        multi-class float (B, K, h, w); global_params: the round's global weights in
        ``model.parameters()`` order (constants); gen: the round's CPU generator.
        """
        probs = torch.sigmoid(model(x).float())
        if self.run.classes:  # soft Dice per class channel, then the mean over channels
            loss = soft_dice_per_class(probs, target, over=self.run.class_dice).mean()
        else:
            loss = soft_dice_loss(probs, target.unsqueeze(1))
        return loss, loss

    def weights(self, rnd: int, stats: dict[str, ClientStats]) -> dict[str, np.ndarray]:
        """Aggregation weights per group, over that group's clients in client order."""
        n = [s.n_samples for s in stats.values()]
        return {GLOBAL: fedavg_weights(n)}

    def aggregate(
        self, rnd: int, group: str, stream: int, global_state: dict, states: list, weights: list
    ) -> dict[str, torch.Tensor]:
        """New global state of ``group``'s ``stream`` from the clients with weight > 0."""
        return weighted_average(states, weights)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What the strategy carries from round to round, as tensors under string keys (saved
        in ``resume.pt``). Stateless methods, all the built-in ones, carry nothing."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` returned when ``resume.pt`` was written."""
        if state:
            raise ValueError(
                f"{type(self).__name__} keeps no state between rounds, but the checkpoint holds "
                f"strategy state {sorted(state)[:5]}; it was written by another method"
            )
