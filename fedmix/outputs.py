"""What a training run writes: checkpoint payloads, history.csv, config.json, resume state.

Checkpoints are plain dicts (:mod:`fedmix.checkpoint`): ``{"config": RunConfig dict, "round":
int, "models": {key: state_dict}}`` with keys from :mod:`fedmix.model_keys`; ``resume.pt`` adds
``optimizers``, ``history`` and ``best``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from fedmix.checkpoint import save_checkpoint
from fedmix.devices import precision_name, uses_channels_last
from fedmix.file_layout import HISTORY_COLUMNS
from fedmix.io import write_csv, write_text
from fedmix.model_keys import model_key, parse_model_key

__all__ = [
    "history_rows",
    "models_payload",
    "restore_models",
    "resume_payload",
    "runtime_record",
    "write_run_outputs",
]


def models_payload(run, globals_: dict[str, list[torch.nn.Module]], rnd: int) -> dict:
    """Checkpoint payload of every group's streams after ``rnd`` rounds (CPU copies)."""
    models = {}
    for group, streams in globals_.items():
        for s, m in enumerate(streams):
            state = {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
            models[model_key(group, s)] = state
    return {"config": run.to_dict(), "round": rnd, "models": models}


def restore_models(globals_: dict[str, list[torch.nn.Module]], models: dict) -> None:
    """Load a payload's ``models`` back into the groups' streams."""
    for key, state in models.items():
        group, stream = parse_model_key(key)
        globals_[group][stream].load_state_dict(state)


def resume_payload(
    run, globals_, optims: dict, history: list, best: dict, next_round: int, strategy_state=None
):
    """Everything a resumed run needs to continue exactly: models, optimisers, history, best,
    and the strategy's own state across rounds (:meth:`fedmix.methods.Strategy.state_dict`)."""
    payload = models_payload(run, globals_, next_round)
    payload["optimizers"] = {
        c: [_to_cpu(o.state_dict()) for o in opts] for c, opts in optims.items()
    }
    payload["strategy"] = _to_cpu(dict(strategy_state or {}))
    payload["history"] = list(history)
    payload["best"] = dict(best)
    return payload


def runtime_record(run, device: torch.device) -> dict:
    """How a run was computed, for ``config.json``: the device, the resolved precision, etc."""
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "precision": precision_name(run.precision, device),
        "channels_last": uses_channels_last(device),
        "compiled": run.compile,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def write_run_outputs(out_dir: Path, run, final: dict, best: dict, history, device) -> None:
    """final.pt, best.pt, history.csv and config.json of a finished run; removes resume.pt.

    Each is written atomically and synced (:func:`fedmix.io.publish`); config.json also records
    the digests of the input files (``final["inputs"]``) next to the resolved configuration.
    """
    save_checkpoint(out_dir / "final.pt", final)
    save_checkpoint(out_dir / "best.pt", best["payload"])
    write_csv(out_dir / "history.csv", HISTORY_COLUMNS, [_fmt_row(r) for r in history])
    meta = {**run.to_dict(), "best_round": best["round"], "runtime": runtime_record(run, device)}
    meta["inputs"] = final.get("inputs")
    write_text(out_dir / "config.json", json.dumps(meta, indent=2, sort_keys=True))
    (out_dir / "resume.pt").unlink(missing_ok=True)


def _fmt_row(row: dict) -> dict:
    return {k: _fmt(v) for k, v in row.items()}


def _fmt(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return value


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def history_rows(run, rnd: int, stats, used, val) -> list[dict]:
    """The ``history.csv`` rows of round ``rnd`` (0-based), one per client in client order;
    a client missing from ``val`` (no score this round) gets NaN."""
    return [
        {
            "round": rnd + 1,
            "client": name,
            "supervision": sup,
            "n_samples": stats[name].n_samples,
            "n_train": stats[name].n_train,
            "train_loss": stats[name].loss,
            "train_loss_stream2": stats[name].loss2,
            "weight": used[name],
            "val_dice": val.get(name, math.nan),
        }
        for name, sup in zip(run.clients, run.supervision, strict=True)
    ]
