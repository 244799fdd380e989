"""The global models of a run: how they start and how each round's client updates become the
next ones. Shared by the simulation's round loop (:mod:`fedmix.train`) and the Flower
coordinator (:mod:`fedmix.flower.server_app`), so both aggregate with the same code."""

from __future__ import annotations

import torch

from fedmix.aggregation import check_weights
from fedmix.local_training import new_model
from fedmix.methods import Strategy
from fedmix.runconfig import RunConfig

__all__ = ["aggregate_updates", "initial_models"]


def initial_models(run: RunConfig, strategy: Strategy, device) -> dict[str, list[torch.nn.Module]]:
    """The global models before round 1, {group: [one per stream]}, seeded by the run.

    Streams are independently initialised; every group starts from the same initial weights.
    """
    torch.manual_seed(run.seed)
    groups = sorted({strategy.group(c) for c in run.clients})
    init = [new_model(run, device) for _ in range(strategy.streams)]
    out = {}
    for g in groups:
        out[g] = [new_model(run, device) for _ in init]
        for dst, src in zip(out[g], init, strict=True):
            dst.load_state_dict(src.state_dict())
    return out


def aggregate_updates(strategy: Strategy, rnd: int, global_models, stats, local_states):
    """Weigh the clients (``strategy.weights``) and load each group's new global weights
    (``strategy.aggregate``) into ``global_models``; the weight each client got.

    stats: {client: ClientStats} in client order; local_states: {client: [state dict per
    stream]}, needed for every client with a weight > 0.
    """
    weights = strategy.weights(rnd, stats)
    used = {c: 0.0 for c in stats}
    for group, w in weights.items():
        members = [c for c in stats if strategy.group(c) == group]
        check_weights(w)
        for c, wc in zip(members, w, strict=True):
            used[c] = float(wc)
        keep = [i for i, wc in enumerate(w) if wc > 0]
        for s, global_model in enumerate(global_models[group]):
            states = [local_states[members[i]][s] for i in keep]
            new = strategy.aggregate(
                rnd, group, s, global_model.state_dict(), states, [w[i] for i in keep]
            )
            global_model.load_state_dict(new)
    return used
