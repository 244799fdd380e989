"""The plain reference path: a FedMix round written the way the original code runs it.

Images stay as numpy arrays on the host; every image is cropped and flipped on its own in
numpy each round; batches are stacked and converted on the host; pseudo labels and validation
run one image at a time; arithmetic is fp32 and the optimiser is ``torch.optim.Adam``. It exists
for two reasons: the benchmark (:mod:`fedmix.bench`) times it against the fast path of
:mod:`fedmix.train`, and a test checks that both compute the same losses and weights.

To be comparable it draws the same random numbers in the same order as
:meth:`fedmix.train.RoundLoop.round`: per client, from its own generator, the crop offsets
``oy``, ``ox`` and the flips ``fh``, ``fv`` (as :func:`fedmix.clients.views`), then one
``randperm`` per stream and epoch.
Only strategies that train on Dice targets are covered (FedAvg, local learning, FedMix).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fedmix.aggregation import weighted_average
from fedmix.clients import ClientData, EvalData
from fedmix.config import RunConfig
from fedmix.losses import soft_dice_loss
from fedmix.model import UNet
from fedmix.pseudo import select_pseudo_labels
from fedmix.strategies import ClientStats, make_strategy
from fedmix.train import RoundLoop, batch_dice_scores, client_round_seed

__all__ = ["PlainLoop", "compare_paths", "plain_views", "predict_one_by_one", "to_float_batch"]


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

    ``initial`` holds the stream models' initial state dicts (as the fast loop's globals) so
    both paths can start from the same weights. Models live on ``device``; data stay on the
    host and every batch is copied over, as in the original code.
    """

    def __init__(
        self,
        run: RunConfig,
        clients: list[ClientData],
        selection: list[EvalData],
        initial: list[dict],
        device="cpu",
    ):
        self.run, self.strategy, self.device = run, make_strategy(run), torch.device(device)
        if self.strategy.proximal_mu > 0 or run.algorithm in ("fedst", "fedrgd", "local"):
            raise ValueError(f"the plain path covers fedavg and fedmix, not {run.algorithm!r}")
        self.clients = [_to_numpy(c) for c in clients]
        self.selection = selection
        self.globals = [self._model(sd) for sd in initial]
        self.local = {c["name"]: [self._model(sd) for sd in initial] for c in self.clients}
        self.optims = {
            name: [
                torch.optim.Adam(
                    m.parameters(), lr=run.lr, weight_decay=run.weight_decay, foreach=False
                )
                for m in models
            ]
            for name, models in self.local.items()
        }

    @classmethod
    def alongside(cls, fast: RoundLoop) -> PlainLoop:
        """A plain loop over the fast loop's clients, starting from its global weights, in fp32
        on its device (to be stepped round for round with it)."""
        initial = [
            {k: v.detach().clone() for k, v in m.state_dict().items()}
            for m in fast.globals["global"]
        ]
        return cls(fast.run, fast.clients, fast.selection, initial, device=fast.device)

    def _model(self, state: dict) -> torch.nn.Module:
        model = UNet(self.run.channels, self.run.width, self.run.levels)
        model.load_state_dict(state)
        return model.to(self.device)

    def round(self, rnd: int) -> dict[str, ClientStats]:
        """One round: local training of every client, aggregation, validation (per-image)."""
        stats = {
            c["name"]: self._train_client(
                rnd, c, torch.Generator().manual_seed(client_round_seed(self.run.seed, rnd, i))
            )
            for i, c in enumerate(self.clients)
        }
        (w,) = self.strategy.weights(rnd, stats).values()
        keep = [i for i, wi in enumerate(w) if wi > 0]
        names = list(stats)
        for s, global_model in enumerate(self.globals):
            states = [self.local[names[i]][s].state_dict() for i in keep]
            global_model.load_state_dict(weighted_average(states, [w[i] for i in keep]))
        self.val_dice = self._validate()
        return stats

    def _train_client(self, rnd, c: dict, gen) -> ClientStats:
        images, (masks, boxes) = plain_views(
            c["images"], [c["masks"], c["box_masks"]], self.run.crop_size, self.run.flips, gen
        )
        if c["supervision"] == "L":
            targets = [
                torch.from_numpy(np.stack(masks)).float().to(self.device)
            ] * self.strategy.streams
        elif self.run.algorithm != "fedmix":
            return ClientStats(0, math.nan, len(images), math.nan)
        else:
            p1, p2 = (predict_one_by_one(g, images) for g in self.globals)
            lab1, lab2, keep = select_pseudo_labels(
                p1,
                p2,
                supervision=c["supervision"],
                variant=self.run.variant,
                tau=self.run.tau,
                box_tau=self.run.box_tau,
                box_masks=None if boxes is None else torch.from_numpy(np.stack(boxes)),
                lesion=c["lesion"],
                box_refinement=self.run.box_refinement,
                use_image_labels=self.run.use_image_labels,
            )
            kept = [i for i in range(len(images)) if keep[i]]
            if not kept:
                return ClientStats(0, math.nan, len(images), math.nan)
            images = [images[i] for i in kept]
            targets = [lab1[keep].float().to(self.device), lab2[keep].float().to(self.device)]
        losses = [
            self._local_epochs(model, opt, images, target, gen, global_model)
            for model, opt, target, global_model in zip(
                self.local[c["name"]], self.optims[c["name"]], targets, self.globals, strict=True
            )
        ]
        loss2 = losses[1] if len(losses) > 1 else math.nan
        return ClientStats(len(images), losses[0], len(c["images"]), loss2)

    def _local_epochs(self, model, opt, images, target, gen, global_model) -> float:
        model.load_state_dict(global_model.state_dict())
        n, bs = len(images), self.run.batch_size
        for _ in range(self.run.local_epochs):
            total = 0.0
            order = torch.randperm(n, generator=gen).tolist()
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                x = to_float_batch([images[i] for i in idx], self.device)
                probs = torch.sigmoid(model(x))
                loss = soft_dice_loss(probs, target[idx].unsqueeze(1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
        return total / n

    def _validate(self) -> dict[str, float]:
        scores = {}
        for data in self.selection:
            images = [img for img in data.images.cpu().numpy()]
            pred = predict_one_by_one(self.globals[0], images)
            scores[data.name] = float(batch_dice_scores(pred, data.masks.cpu() > 0).mean())
        return scores


def compare_paths(fast: RoundLoop, plain: PlainLoop, rounds: int) -> list[dict]:
    """Step both loops ``rounds`` rounds from round 0; one row per round and client.

    Each row: round, client, kept samples of both paths, both streams' mean local losses and
    validation Dice of both paths, and ``max_rel_diff`` over the losses (NaN pairs, clients that
    skipped the round on both paths, count as equal; a skip on one path only as infinite).
    """
    rows = []
    for rnd in range(rounds):
        fast.round(rnd)
        stats = plain.round(rnd)
        for hist, (name, st) in zip(fast.history[-len(stats) :], stats.items(), strict=True):
            pairs = ((hist["train_loss"], st.loss), (hist["train_loss_stream2"], st.loss2))
            rows.append(
                {
                    "round": rnd + 1,
                    "client": name,
                    "n_fast": hist["n_samples"],
                    "n_plain": st.n_samples,
                    "loss_fast": hist["train_loss"],
                    "loss_plain": st.loss,
                    "loss2_fast": hist["train_loss_stream2"],
                    "loss2_plain": st.loss2,
                    "val_dice_fast": hist["val_dice"],
                    "val_dice_plain": plain.val_dice[name],
                    "max_rel_diff": max(_rel_diff(a, b) for a, b in pairs),
                }
            )
    return rows


def _rel_diff(a: float, b: float) -> float:
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(b), 1e-12)


def _to_numpy(c: ClientData) -> dict:
    def arr(t):
        return None if t is None else t.cpu().numpy()

    return {
        "name": c.name,
        "supervision": c.supervision,
        "images": arr(c.images),
        "masks": arr(c.masks),
        "box_masks": arr(c.box_masks),
        "lesion": c.lesion.cpu() if c.lesion is not None else None,
    }
