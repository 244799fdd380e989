"""A plug-in method outside fedmix/: FedAvg with server momentum (FedAvgM).

Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated
Visual Classification", arXiv 1909.06335, 2019. The server treats ``d = G - avg`` (the global
weights minus the clients' weighted average) as a gradient and steps with momentum:
``v <- momentum * v + d``, ``G <- G - server_lr * v``. With momentum 0 and server_lr 1 this is
FedAvg. Only the ``aggregate`` hook changes; everything else is FedAvg's.

Used as ``algorithm: plugins.fedavgm:FedAvgM`` with ``tests/`` on PYTHONPATH (docs/extending.md).
The velocity is server state carried across rounds: ``state_dict``/``load_state_dict`` put it in
``resume.pt``, so a resumed run continues it instead of restarting it at 0.
"""

from __future__ import annotations

import dataclasses

from fedmix.methods import FedAvg
from fedmix.params import param


@dataclasses.dataclass(frozen=True)
class FedAvgMParams:
    momentum: float = param(0.9, "server momentum beta", minimum=0, maximum=0.999)
    server_lr: float = param(1.0, "server learning rate", above=0)


class FedAvgM(FedAvg):
    """FedAvg whose server update carries momentum across rounds."""

    Params = FedAvgMParams

    def __init__(self, run, **kwargs):
        super().__init__(run, **kwargs)
        self.velocity = {}  # "group/stream/tensor name" -> v

    def aggregate(self, rnd, group, stream, global_state, states, weights):
        average = super().aggregate(rnd, group, stream, global_state, states, weights)
        new = {}
        for name, g in global_state.items():
            if not g.is_floating_point():
                new[name] = average[name]
                continue
            key = f"{group}/{stream}/{name}"
            v = g - average[name]
            if key in self.velocity:
                v = v + self.params.momentum * self.velocity[key]
            self.velocity[key] = v
            new[name] = g - self.params.server_lr * v
        return new

    def state_dict(self):
        return dict(self.velocity)

    def load_state_dict(self, state):
        self.velocity = dict(state)
