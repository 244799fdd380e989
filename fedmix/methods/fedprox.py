"""FedProx (Li et al., MLSys 2020): FedAvg plus (mu/2) ||w - w_global||^2 in local training."""

from __future__ import annotations

import dataclasses

from fedmix.losses import proximal_term
from fedmix.methods.fedavg import FedAvg
from fedmix.params import param

__all__ = ["FedProx", "FedProxParams"]


@dataclasses.dataclass(frozen=True)
class FedProxParams:
    mu: float = param(0.0, "proximal weight mu (0: FedAvg)", minimum=0)


class FedProx(FedAvg):
    """FedAvg whose local objective adds the proximal term; the reported loss is the task's."""

    Params = FedProxParams

    def local_loss(self, model, x, target, global_params, gen):
        objective, task = super().local_loss(model, x, target, global_params, gen)
        if self.params.mu > 0:
            objective = objective + proximal_term(model, global_params, self.params.mu)
        return objective, task
