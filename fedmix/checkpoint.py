"""Checkpoints: plain dicts of tensors and numbers, loadable with ``weights_only=True``.

Layout: ``{"config": RunConfig dict, "round": int, "models": {key: state_dict}, "inputs":
{path: "sha256:<hex>"}}`` with the keys of :mod:`fedmix.model_keys`; ``inputs`` are the digests
of the training and selection files the models were trained on. ``resume.pt`` adds
``optimizers``, ``history`` and ``best`` (:mod:`fedmix.outputs` builds them).
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from pathlib import Path

import torch

from fedmix.config import RunConfig
from fedmix.io import FedmixFileError, publish

__all__ = [
    "CheckpointFileError",
    "CheckpointInputsError",
    "CheckpointMismatchError",
    "check_inputs",
    "config_differences",
    "load_checkpoint",
    "save_checkpoint",
]


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with a different configuration."""


class CheckpointInputsError(CheckpointMismatchError):
    """A checkpoint was trained on other input files than the ones given now."""


class CheckpointFileError(FedmixFileError):
    """A checkpoint is missing, truncated, damaged, not a fedmix one, or cannot be written."""


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write atomically and durably: a crash or a full disk mid-write never leaves a truncated
    file under ``path`` (the data go to ``<path>.tmp-<pid>``, synced, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        publish(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a full disk as RuntimeError
        free = shutil.disk_usage(path.parent).free
        raise CheckpointFileError(
            f"{path}: could not be written ({err}); {free / 1e6:.1f} MB free on its disk. "
            "Free disk space and run again (training resumes from the last resume.pt)"
        ) from err
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


def load_checkpoint(
    path: str | Path, run: RunConfig | None = None, device="cpu", inputs: dict | None = None
) -> dict:
    """Load with ``weights_only=True``; refuse a checkpoint written under another config
    (``run``) or trained on other files (``inputs``, as :func:`fedmix.io.file_digests` gives).

    Raises :class:`CheckpointFileError` naming the file and the fix when it is missing,
    truncated, damaged, holds pickled objects or lacks the checkpoint layout.
    """
    state = _read(Path(path), device)
    if run is not None:
        diffs = config_differences(state["config"], run.to_dict())
        if diffs:
            raise CheckpointMismatchError(
                f"{path} belongs to another configuration: "
                + "; ".join(diffs)
                + f". Delete {path} to start afresh, or restore the configuration it was made with."
            )
    if inputs is not None:
        check_inputs(path, state.get("inputs"), inputs)
    return state


def check_inputs(path: str | Path, saved: dict | None, current: dict) -> None:
    """Raise :class:`CheckpointInputsError` unless ``saved`` digests equal ``current`` ones."""
    if saved is None:
        raise CheckpointInputsError(
            f"{path} records no digests of its input files (written by an older fedmix), so it "
            f"cannot be tied to the data given now. Delete {path} to start afresh"
        )
    changed = [p for p in current if saved.get(p) != current[p]]
    dropped = [p for p in saved if p not in current]
    if changed or dropped:
        what = [f"{p} (changed since)" if p in saved else f"{p} (new input)" for p in changed]
        what += [f"{p} (no longer an input)" for p in dropped]
        raise CheckpointInputsError(
            f"{path} was trained on other data: {'; '.join(what)}. Continuing would mix two "
            f"datasets in one result. Delete {path} to start afresh on the current data, or "
            "restore the files it was trained on"
        )


def _read(path: Path, device) -> dict:
    fix = (
        "delete it; training starts afresh from round 0"
        if path.name == "resume.pt"
        else "delete it and rerun training (snakemake rebuilds it)"
    )
    if not path.is_file():
        raise CheckpointFileError(f"{path}: checkpoint not found; rerun training to write it")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointFileError(
            f"{path}: holds pickled Python objects, not only tensors and numbers, so it was "
            f"refused unread (weights_only=True; loading it could run code). It is not a fedmix "
            f"checkpoint: {fix}"
        ) from err
    except (EOFError, RuntimeError, OSError, zipfile.BadZipFile, ValueError) as err:
        reason = "empty file" if path.stat().st_size == 0 else f"{type(err).__name__}: {err}"
        raise CheckpointFileError(
            f"{path}: truncated or damaged checkpoint ({reason.splitlines()[0]}); {fix}"
        ) from err
    if not isinstance(state, dict) or not {"config", "round", "models"} <= set(state):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointFileError(
            f"{path}: not a fedmix checkpoint (needs config, round, models; found {keys}); {fix}"
        )
    return state


def _norm(value):
    return list(value) if isinstance(value, tuple) else value
