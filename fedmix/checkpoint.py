"""Checkpoints: plain dicts of tensors and numbers, loadable with ``weights_only=True``.

Layout: ``{"config": RunConfig dict, "round": int, "models": {key: state_dict}}`` with the keys
of :mod:`fedmix.model_keys`; ``resume.pt`` adds ``optimizers``, ``history`` and ``best``
(:mod:`fedmix.outputs` builds them).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from fedmix.config import RunConfig

__all__ = ["CheckpointMismatchError", "config_differences", "load_checkpoint", "save_checkpoint"]


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with a different configuration."""


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write atomically: a crash mid-write never leaves a truncated file under ``path``."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def config_differences(saved: dict, expected: dict, prefix: str = "") -> list[str]:
    """Keys whose values differ, as ``key: saved (checkpoint) vs expected (this run)`` lines;
    nested dicts (``model``, ``params``) are compared key by key (``model.width``)."""
    out = []
    for k in sorted(set(saved) | set(expected)):
        a, b = _norm(saved.get(k)), _norm(expected.get(k))
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} (checkpoint) vs {b!r} (this run)")
    return out


def load_checkpoint(path: str | Path, run: RunConfig | None = None, device="cpu") -> dict:
    """Load with ``weights_only=True``; refuse a checkpoint written under another config."""
    state = torch.load(path, map_location=device, weights_only=True)
    if run is not None:
        diffs = config_differences(state["config"], run.to_dict())
        if diffs:
            raise CheckpointMismatchError(
                f"{path} belongs to another configuration: "
                + "; ".join(diffs)
                + f". Delete {path} to start afresh, or restore the configuration it was made with."
            )
    return state


def _norm(value):
    return list(value) if isinstance(value, tuple) else value
