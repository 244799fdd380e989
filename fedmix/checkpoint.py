"""Checkpoints: plain dicts of tensors and numbers, loadable with ``weights_only=True``.

Layout: ``{"config": RunConfig dict, "round": int, "models": {name: state_dict}}`` where name is
``global`` (stream 1), ``global#stream2`` (FedMix's second stream) or ``client:<name>`` for local
learning. ``resume.pt`` adds ``optimizers``, ``history`` and ``best``.
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


def config_differences(saved: dict, expected: dict) -> list[str]:
    """Keys whose values differ, as ``key: saved -> expected`` lines."""
    keys = sorted(set(saved) | set(expected))
    norm = [(k, _norm(saved.get(k)), _norm(expected.get(k))) for k in keys]
    return [f"{k}: {a!r} (checkpoint) vs {b!r} (this run)" for k, a, b in norm if a != b]


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
