"""Server-side aggregation maths: client weights and the weighted average of state dicts.

FedAvg: McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized
Data", AISTATS 2017. FedMix: Wicaksana et al., arXiv 2205.01840 / IEEE TMI 42(7), 2023.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "check_weights",
    "fedavg_weights",
    "fedmix_weights",
    "fedst_weights",
    "weighted_average",
]


def _counts(n) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    if n.ndim != 1 or n.size == 0:
        raise ValueError(f"sample counts must be a non-empty 1-D sequence, got {n!r}")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError(f"sample counts must be finite and >= 0, got {n.tolist()}")
    if n.sum() == 0:
        raise ValueError(f"sample counts are all zero, nothing to aggregate: {n.tolist()}")
    return n


def fedavg_weights(n) -> np.ndarray:
    """FedAvg weights ``w_i = n_i / sum_j n_j`` for the clients' sample counts ``n`` (K,).

    Raises ``ValueError`` if any count is negative or non-finite, or all are zero.
    """
    n = _counts(n)
    return n / n.sum()


def fedmix_weights(n, losses, lambda_: float, beta: float) -> np.ndarray:
    """FedMix adaptive weights (K,).

    ``q_i = n_i / sum_j n_j``, ``s_i = l_i**beta / sum_j l_j**beta``,
    ``w_i = (q_i + lambda * s_i) / (1 + lambda)``.

    A client with ``n_i = 0`` (no kept pseudo label this round) does not take part: its weight is
    0 and its loss, which may be NaN, is ignored; ``s`` is normalised over the participating
    clients only, so the weights still sum to 1. For the arxiv variant pass the static
    training-set sizes as ``n``, with 0 for clients that dropped out this round.

    Args:
        n: sample counts (K,), >= 0, not all zero.
        losses: mean training losses ``l_i`` (K,); finite and >= 0 for participating clients,
            with a positive sum of ``l**beta`` over them.
        lambda_: lambda >= 0 (0 gives FedAvg weights).
        beta: exponent >= 0 sharpening the loss term.
    """
    n = _counts(n)
    losses = np.asarray(losses, dtype=np.float64)
    if losses.shape != n.shape:
        raise ValueError(f"losses {losses.tolist()} and counts {n.tolist()} differ in length")
    if not (np.isfinite(lambda_) and lambda_ >= 0 and np.isfinite(beta) and beta >= 0):
        raise ValueError(
            f"FedMix needs finite lambda >= 0 and beta >= 0, got lambda={lambda_}, beta={beta}"
        )
    active = n > 0
    la = losses[active]
    if not np.all(np.isfinite(la)) or np.any(la < 0):
        raise ValueError(f"losses of participating clients must be finite and >= 0, got {losses}")
    powered = la**beta
    if powered.sum() <= 0:
        raise ValueError(
            f"losses**beta of participating clients sum to 0: losses {losses.tolist()}"
        )
    q = n / n.sum()
    s = np.zeros_like(n)
    s[active] = powered / powered.sum()
    return (q + lambda_ * s) / (1.0 + lambda_)


def fedst_weights(n, labelled, labelled_weight: float) -> np.ndarray:
    """FedST/FedRGD weights after warm-up (K,): fixed shares, not data-driven.

    With ``a = labelled_weight`` and ``P`` the participating other clients (``n_i > 0``, not
    labelled): ``w_i = a * n_i / sum_{j labelled} n_j`` for a labelled client and
    ``w_i = (1 - a) / |P|`` for a client in ``P``. When ``P`` is empty the labelled clients
    take everything (``w_i = n_i / sum_{j labelled} n_j``); other clients get 0.

    Args:
        n: sample counts (K,), >= 0; the labelled clients' must not all be zero.
        labelled: bool (K,), True for pixel-labelled (``L``) clients.
        labelled_weight: ``a`` in [0, 1].
    """
    n = _counts(n)
    labelled = np.asarray(labelled, dtype=bool)
    if labelled.shape != n.shape:
        raise ValueError(f"labelled {labelled.tolist()} and counts {n.tolist()} differ in length")
    if not 0 <= labelled_weight <= 1:
        raise ValueError(f"labelled_weight must lie in [0, 1], got {labelled_weight}")
    if n[labelled].sum() == 0:
        raise ValueError(f"no labelled client has samples: counts {n.tolist()}")
    w = np.zeros(len(n))
    lw = labelled_weight if (~labelled).any() else 1.0
    w[labelled] = lw * n[labelled] / n[labelled].sum()
    others = ~labelled & (n > 0)
    if others.any():
        w[others] = (1 - lw) / others.sum()
    else:
        w[labelled] = n[labelled] / n[labelled].sum()
    return w


def check_weights(w, atol: float = 1e-6) -> np.ndarray:
    """Return ``w`` as float64 (K,) once checked: finite, >= 0, summing to 1 within ``atol``."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"aggregation weights must be a non-empty 1-D sequence, got {w!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"aggregation weights must be finite and >= 0, got {w.tolist()}")
    if abs(w.sum() - 1.0) > atol:
        raise ValueError(
            f"aggregation weights must sum to 1 (atol {atol}), got {w.tolist()} "
            f"with sum {w.sum()!r}"
        )
    return w


def weighted_average(
    state_dicts: Sequence[Mapping[str, torch.Tensor]], weights
) -> dict[str, torch.Tensor]:
    """Aggregate client states: ``G[k] = sum_i w_i * S_i[k]`` for every floating tensor ``k``.

    Every floating tensor is averaged (conv and GroupNorm affine parameters, any buffers) in its
    own dtype; clients with weight exactly 0 are left out of the sum, so ``[1, 0]`` returns the
    first client's tensors exactly and a dropped client's stale (even NaN) state cannot leak in.
    Non-floating tensors must be equal across all clients and are copied. All clients must have
    the same keys and shapes. The inputs are not modified.
    """
    w = check_weights(weights)
    if len(state_dicts) != len(w):
        raise ValueError(f"{len(state_dicts)} state dicts but {len(w)} weights {w.tolist()}")
    keys = list(state_dicts[0])
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd) != set(keys):
            diff = sorted(set(sd) ^ set(keys))
            raise ValueError(f"client {i} state dict keys differ from client 0's at {diff[:5]}")
    out: dict[str, torch.Tensor] = {}
    for key in keys:
        tensors = [sd[key] for sd in state_dicts]
        for i, t in enumerate(tensors):
            if t.shape != tensors[0].shape:
                raise ValueError(
                    f"{key!r}: client {i} has shape {tuple(t.shape)}, "
                    f"client 0 {tuple(tensors[0].shape)}"
                )
        if not tensors[0].is_floating_point():
            for i, t in enumerate(tensors[1:], start=1):
                if not torch.equal(t, tensors[0]):
                    raise ValueError(
                        f"non-floating tensor {key!r} differs between client 0 and {i}"
                    )
            out[key] = tensors[0].clone()
            continue
        acc = torch.zeros_like(tensors[0])
        for wi, t in zip(w, tensors, strict=True):
            if wi > 0:
                acc.add_(t, alpha=float(wi))
        out[key] = acc
    return out
