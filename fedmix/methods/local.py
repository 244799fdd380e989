"""Local learning (LL): every client trains its own model on its masks; nothing is shared."""

from __future__ import annotations

import numpy as np

from fedmix.methods.fedavg import FedAvg
from fedmix.model_keys import client_group

__all__ = ["Local"]


class Local(FedAvg):
    """Each client is its own group (``client:<name>``), averaged with weight 1 into itself."""

    def group(self, client: str) -> str:
        return client_group(client)

    def weights(self, rnd, stats):
        return {client_group(c): np.ones(1) for c, s in stats.items() if s.n_samples > 0}
