"""One client's step of a round, shared by the round loop and the Flower ClientApp.

:class:`LocalTrainer` runs a client's local job and local training of each stream;
:func:`new_model` builds the run's network; :func:`round_seed` and :func:`client_round_seed`
seed every random draw; :func:`copy_weights` broadcasts global weights into a local model.
"""

from __future__ import annotations

import math

import torch

from fedmix.clients import ClientData, views
from fedmix.config import RunConfig
from fedmix.devices import autocast, uses_channels_last
from fedmix.methods import ClientStats, LocalJob, Strategy
from fedmix.networks import build_network

__all__ = [
    "LocalTrainer",
    "NonFiniteLossError",
    "client_round_seed",
    "copy_weights",
    "new_model",
    "round_seed",
]


class NonFiniteLossError(FloatingPointError):
    """A local loss became NaN or infinite; the run stops before any checkpoint is overwritten."""


class LocalTrainer:
    """One client's step of a round: its local job, then local training of each stream.

    Shared by :class:`RoundLoop` (one process, every client) and the Flower ClientApp (one site
    per process, :mod:`fedmix.flower.client_app`). Each client draws its random numbers from its
    own generator seeded with (seed, round, client index), so a site's crops, flips and batch
    order do not depend on which other sites trained before it, or where.
    """

    def __init__(self, run: RunConfig, strategy: Strategy, device: torch.device):
        self.run, self.strategy, self.device = run, strategy, device

    def autocast(self):
        return autocast(self.run.precision, self.device)

    def train(self, rnd: int, client: ClientData, index: int, group_models, models, optims):
        """Train ``models`` (one per stream, with their ``optims``) from ``group_models``;
        n_i, l_i and the stream-2 loss (n_i = 0: the client sat the round out)."""
        gen = torch.Generator().manual_seed(client_round_seed(self.run.seed, rnd, index))
        images, maps = views(
            client.images, [client.masks, client.box_masks], self.run.crop_size, self.run.flips, gen
        )
        with self.autocast():  # pseudo-label passes at the training precision
            job: LocalJob | None = self.strategy.local_job(rnd, client, images, maps, group_models)
        if job is None:
            return ClientStats(0, math.nan, client.n_train, math.nan)
        losses = []
        for s, (model, opt) in enumerate(zip(models, optims, strict=True)):
            copy_weights(model, group_models[s])
            target = None if job.targets is None else job.targets[s]
            mean_loss = self.local_train(model, opt, job, target, group_models[s], gen)
            if not math.isfinite(mean_loss):
                raise NonFiniteLossError(
                    f"round {rnd + 1}, client {client.name!r}, stream {s + 1}: local loss is "
                    f"{mean_loss}; no checkpoint was overwritten. Lower lr ({self.run.lr}) or use "
                    "precision: fp32"
                )
            losses.append(mean_loss)
        loss2 = losses[1] if len(losses) > 1 else math.nan
        return ClientStats(job.n_samples, losses[0], client.n_train, loss2)

    def local_train(self, model, opt, job: LocalJob, target, global_model, gen) -> float:
        """Train ``local_epochs`` epochs of the strategy's ``local_loss`` on ``job`` (one
        stream's ``target``); the mean task loss of the last epoch (one host sync)."""
        n, bs = job.images.shape[0], self.run.batch_size
        global_params = [p.detach() for p in global_model.parameters()]
        for _ in range(self.run.local_epochs):
            total = torch.zeros((), device=self.device)
            order = torch.randperm(n, generator=gen).to(self.device)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                x = job.images[idx].float().div_(255)
                batch_target = None if target is None else target[idx]
                with self.autocast():
                    loss, task_loss = self.strategy.local_loss(
                        model, x, batch_target, global_params, gen
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += task_loss.detach() * idx.numel()
        return float(total / n)


def new_model(run: RunConfig, device: torch.device) -> torch.nn.Module:
    """A freshly initialised network of the run on ``device`` (draws from torch's global RNG)."""
    out = max(1, len(run.classes))  # one sigmoid channel per class
    model = build_network(run.model, run.channels, out).to(device)
    if uses_channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    if run.compile:
        model.compile()  # in place: state_dict keys stay those of the plain network
    return model


def round_seed(seed: int, rnd: int) -> int:
    """Seed of round ``rnd``'s generator: every random draw of a round comes from it."""
    return (seed * 1_000_003 + rnd * 7919 + 12345) % (2**63 - 1)


def client_round_seed(seed: int, rnd: int, index: int) -> int:
    """Seed of client ``index``'s generator in round ``rnd``: every draw of its step uses it."""
    return (round_seed(seed, rnd) + index * 104_729) % (2**63 - 1)


@torch.no_grad()
def copy_weights(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    """``dst.load_state_dict(src.state_dict())`` for two models of one architecture, in one
    foreach copy (the state-dict round trip cost about 2% of a demo round)."""
    dst_t = [*dst.parameters(), *dst.buffers()]
    src_t = [*src.parameters(), *src.buffers()]
    if len(dst_t) != len(src_t):
        raise ValueError(f"models differ: {len(dst_t)} vs {len(src_t)} tensors")
    torch._foreach_copy_(dst_t, src_t)
