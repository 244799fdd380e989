"""The plain reference path: a round written the way the original code runs it.

Images stay as numpy arrays on the host; every image is cropped and flipped on its own in
numpy each round; batches are stacked and converted on the host; pseudo labels and validation
run one image at a time; arithmetic is fp32, the optimiser ``torch.optim.Adam`` and every batch
loss is read back to the host. What a method computes comes from the method itself: the plain
loop calls the same strategy hooks as :class:`fedmix.train.RoundLoop` (``local_job``,
``local_loss``, ``weights``, ``aggregate``), handing FedMix its image-by-image predictions. It
exists for two reasons: the benchmark (:mod:`fedmix.bench.speed`) times it against the fast
path, and :mod:`fedmix.bench.compare` checks that both compute the same losses and weights.

To be comparable it draws the same random numbers in the same order as
:meth:`fedmix.train.RoundLoop.round`: per client, from its own generator, the crop offsets
``oy``, ``ox`` and the flips
``fh``, ``fv`` (as :func:`fedmix.clients.views`), then one ``randperm`` per stream and epoch
(and whatever the method's ``local_loss`` draws, such as FedST's gamma).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fedmix.clients import ClientData, EvalData
from fedmix.config import RunConfig
from fedmix.methods import ClientStats, strategy_class
from fedmix.metrics import batch_dice_scores
from fedmix.networks import build_network
from fedmix.train import RoundLoop, client_round_seed

__all__ = ["PlainLoop", "plain_views", "predict_one_by_one", "to_float_batch"]


def plain_views(images: np.ndarray, maps: list, crop: int, flips: bool, gen: torch.Generator):
    """Per-image numpy crop and flips; same draws as :func:`fedmix.clients.views`.

    images: uint8 (N, C, H, W); maps: list of (N, H, W) arrays or None. Returns lists of
    per-image arrays (C, crop, crop) and, per map, (crop, crop) arrays (or None).
    """
    n, _, h, w = images.shape
    oy = ox = np.zeros(n, dtype=np.int64)
    if crop < h or crop < w:
        oy = torch.randint(0, h - crop + 1, (n,), generator=gen).numpy()
        ox = torch.randint(0, w - crop + 1, (n,), generator=gen).numpy()
    fh = fv = np.zeros(n, dtype=bool)
    if flips:
        fh = (torch.rand(n, generator=gen) < 0.5).numpy()
        fv = (torch.rand(n, generator=gen) < 0.5).numpy()
    out_images, out_maps = [], [None if m is None else [] for m in maps]
    for i in range(n):
        y0, x0 = int(oy[i]), int(ox[i])
        img = images[i, :, y0 : y0 + crop, x0 : x0 + crop]
        img = img[..., ::-1] if fh[i] else img
        out_images.append(np.ascontiguousarray(img[..., ::-1, :] if fv[i] else img))
        for m, out in zip(maps, out_maps, strict=True):
            if m is not None:
                mm = m[i, y0 : y0 + crop, x0 : x0 + crop]
                mm = mm[:, ::-1] if fh[i] else mm
                out.append(np.ascontiguousarray(mm[::-1] if fv[i] else mm))
    return out_images, out_maps


def to_float_batch(arrays: list[np.ndarray], device="cpu") -> torch.Tensor:
    """Stack uint8 images on the host, scale to [0, 1], copy to ``device``: float32 (B, C, h, w)."""
    return torch.from_numpy(np.stack(arrays).astype(np.float32) / np.float32(255)).to(device)


@torch.no_grad()
def predict_one_by_one(model: torch.nn.Module, images: list[np.ndarray]) -> torch.Tensor:
    """Thresholded prediction ``sigmoid(G(x)) > 0.5`` image by image: bool (N, h, w) on the host."""
    model.eval()
    device = next(model.parameters()).device
    out = [(model(to_float_batch([img], device))[0, 0] > 0).cpu() for img in images]
    model.train()
    return torch.stack(out)


class PlainLoop:
    """Global and local models of a run, trained round by round in the plain style (fp32).

    ``initial`` holds each group's stream models' initial state dicts (as the fast loop's
    globals) so both paths can start from the same weights. Models live on ``device``; data
    stay on the host and every batch is copied over, as in the original code.
    """

    def __init__(
        self,
        run: RunConfig,
        clients: list[ClientData],
        selection: list[EvalData],
        initial: dict[str, list[dict]],
        device="cpu",
    ):
        self.run, self.device = run, torch.device(device)
        self.strategy = strategy_class(run.algorithm)(run, predict=self._predict)
        self.clients = [_to_host(c) for c in clients]
        self.selection = selection
        self.globals = {g: [self._model(sd) for sd in states] for g, states in initial.items()}
        first = next(iter(initial.values()))
        self.local = {c.name: [self._model(sd) for sd in first] for c in self.clients}
        self.optims = {
            name: [
                torch.optim.Adam(
                    m.parameters(), lr=run.lr, weight_decay=run.weight_decay, foreach=False
                )
                for m in models
            ]
            for name, models in self.local.items()
        }
        self.val_dice: dict[str, float] = {}

    @classmethod
    def alongside(cls, fast: RoundLoop) -> PlainLoop:
        """A plain loop over the fast loop's clients, starting from its global weights, in fp32
        on its device (to be stepped round for round with it)."""
        initial = {
            g: [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in streams]
            for g, streams in fast.globals.items()
        }
        return cls(fast.run, fast.clients, fast.selection, initial, device=fast.device)

    def _model(self, state: dict) -> torch.nn.Module:
        model = build_network(self.run.model, self.run.channels)
        model.load_state_dict(state)
        return model.to(self.device)

    @staticmethod
    def _predict(model, images: torch.Tensor) -> torch.Tensor:
        return predict_one_by_one(model, list(images.numpy()))

    def round(self, rnd: int) -> dict[str, ClientStats]:
        """One round: local training of every client, aggregation, validation (per-image)."""
        stats = {
            c.name: self._train_client(
                rnd, c, torch.Generator().manual_seed(client_round_seed(self.run.seed, rnd, i))
            )
            for i, c in enumerate(self.clients)
        }
        for group, w in self.strategy.weights(rnd, stats).items():
            members = [c for c in stats if self.strategy.group(c) == group]
            keep = [i for i, wi in enumerate(w) if wi > 0]
            for s, global_model in enumerate(self.globals[group]):
                states = [self.local[members[i]][s].state_dict() for i in keep]
                new = self.strategy.aggregate(
                    rnd, group, s, global_model.state_dict(), states, [w[i] for i in keep]
                )
                global_model.load_state_dict(new)
        self.val_dice = self._validate()
        return stats

    def _train_client(self, rnd, c: ClientData, gen) -> ClientStats:
        maps = [None if m is None else m.numpy() for m in (c.masks, c.box_masks)]
        images, maps = plain_views(c.images.numpy(), maps, self.run.crop_size, self.run.flips, gen)
        stacked = [None if m is None else torch.from_numpy(np.stack(m)) for m in maps]
        group_models = self.globals[self.strategy.group(c.name)]
        job = self.strategy.local_job(
            rnd, c, torch.from_numpy(np.stack(images)), stacked, group_models
        )
        if job is None:
            return ClientStats(0, math.nan, c.n_train, math.nan)
        kept = list(job.images.numpy())
        losses = []
        for s, (model, opt) in enumerate(zip(self.local[c.name], self.optims[c.name], strict=True)):
            target = None if job.targets is None else job.targets[s].to(self.device)
            losses.append(self.local_train(model, opt, kept, target, gen, group_models[s]))
        loss2 = losses[1] if len(losses) > 1 else math.nan
        return ClientStats(job.n_samples, losses[0], c.n_train, loss2)

    def local_train(self, model, opt, images, target, gen, global_model) -> float:
        """Local epochs on per-image arrays; the strategy's ``local_loss`` in fp32; the mean
        task loss of the last epoch (read back after every batch, as the original does)."""
        model.load_state_dict(global_model.state_dict())
        global_params = [p.detach() for p in global_model.parameters()]
        n, bs = len(images), self.run.batch_size
        for _ in range(self.run.local_epochs):
            total = 0.0
            order = torch.randperm(n, generator=gen).tolist()
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                x = to_float_batch([images[i] for i in idx], self.device)
                batch_target = None if target is None else target[idx]
                loss, task = self.strategy.local_loss(model, x, batch_target, global_params, gen)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += task.item() * len(idx)
        return total / n

    def _validate(self) -> dict[str, float]:
        scores = {}
        for data in self.selection:
            images = [img for img in data.images.cpu().numpy()]
            model = self.globals[self.strategy.group(data.name)][0]
            pred = predict_one_by_one(model, images)
            scores[data.name] = float(batch_dice_scores(pred, data.masks.cpu() > 0).mean())
        return scores


def _to_host(c: ClientData) -> ClientData:
    def host(t):
        return None if t is None else t.cpu()

    return ClientData(
        c.name, c.supervision, host(c.images), host(c.masks), host(c.box_masks), host(c.lesion)
    )
