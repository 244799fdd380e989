"""FedAvg (McMahan et al., AISTATS 2017): w_i = n_i / sum_j n_j over the ``L`` clients."""

from __future__ import annotations

from fedmix.methods.base import Strategy

__all__ = ["FedAvg"]


class FedAvg(Strategy):
    """FedAvg on the pixel-labelled (``L``) clients; ``U`` clients sit out.

    Every hook is the base's: soft Dice on masks, weights ``n_i / sum_j n_j``, weighted average.
    """
