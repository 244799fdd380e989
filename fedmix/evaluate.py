"""Evaluation: a checkpoint on every client's test split -> per-image and per-client metrics.

Per image: Dice, IoU and HD95 of the thresholded prediction (sigmoid > 0.5) of global stream 1
(or, for local learning, the client's own model) against the mask, with the empty-mask
conventions of :mod:`fedmix.metrics`. Per client: means, Dice over lesion images only, and how
often exactly one of prediction and mask was empty.

Multi-class tasks: every metric per class channel (``dice_<class>`` ...), and ``dice``, ``iou``,
``hd95`` the mean over classes (:func:`fedmix.multiclass.class_metrics`). Per client,
``dice_present_<class>`` is the Dice over the images where that class is present,
``dice_lesion`` the mean of those over the classes, and ``n_one_empty`` counts (image, class)
pairs where exactly one of prediction and mask is empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fedmix.checkpoint import load_checkpoint
from fedmix.clients import load_eval
from fedmix.config import RunConfig
from fedmix.devices import configure_cuda, resolve_device
from fedmix.file_layout import EVAL_CLIENT_COLUMNS, EVAL_IMAGE_COLUMNS, class_columns
from fedmix.io import read_h5, write_csv
from fedmix.metrics import dice, hd95, iou, one_empty
from fedmix.model import predict_binary, predict_channels
from fedmix.model_keys import serving_key
from fedmix.multiclass import class_metrics
from fedmix.networks import build_network

__all__ = [
    "evaluate_checkpoint",
    "model_for_client",
]


def model_for_client(state: dict, client: str, device="cpu") -> torch.nn.Module:
    """The model that serves ``client``: its own (local learning) or global stream 1."""
    run = RunConfig.from_dict(state["config"])
    model = build_network(run.model, run.channels, max(1, len(run.classes)))
    model.load_state_dict(state["models"][serving_key(state["models"], client)])
    return model.to(device).eval()


def evaluate_checkpoint(
    checkpoint: str | Path,
    test_files: list[str],
    per_image_csv: str | Path,
    per_client_csv: str | Path,
    device: str = "auto",
    threads: int = 1,
) -> list[dict]:
    """Score ``checkpoint`` on ``test_files`` (client order) and write both CSVs."""
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    configure_cuda(dev)  # scoring in IEEE fp32, not TF32
    state = load_checkpoint(checkpoint, device="cpu")
    run = RunConfig.from_dict(state["config"])
    which = Path(checkpoint).stem
    data_text = describe_files(run.data, test_files)
    images_rows, client_rows = [], []
    for client, path in zip(run.clients, test_files, strict=True):
        data = load_eval(path, client, dev)
        if run.classes:
            rows, summary = _score_classes(state, client, data, run.classes, dev)
            images_rows += rows
            fields = _run_fields(run, which, state, client, rows) | {"data": data_text}
            client_rows.append({**fields, **summary})
            continue
        pred = predict_binary(model_for_client(state, client, dev), data.images).cpu().numpy()
        masks = data.masks.cpu().numpy() > 0
        lesion = data.lesion.cpu().numpy()
        rows = [
            {
                "client": client,
                "sample_id": sid,
                "lesion": int(lesion[k]),
                "dice": dice(pred[k], masks[k]),
                "iou": iou(pred[k], masks[k]),
                "hd95": hd95(pred[k], masks[k]),
                "one_empty": int(one_empty(pred[k], masks[k])),
            }
            for k, sid in enumerate(data.sample_ids)
        ]
        images_rows += rows
        on_lesion = [r["dice"] for r in rows if r["lesion"]]
        client_rows.append(
            _run_fields(run, which, state, client, rows)
            | {
                "data": data_text,
                "dice": _mean(r["dice"] for r in rows),
                "iou": _mean(r["iou"] for r in rows),
                "hd95": _mean(r["hd95"] for r in rows),
                "dice_lesion": _mean(on_lesion),
                "n_one_empty": sum(r["one_empty"] for r in rows),
            }
        )
    extra = class_columns(run.classes)
    _write_csv(per_image_csv, EVAL_IMAGE_COLUMNS + extra, images_rows)
    _write_csv(per_client_csv, EVAL_CLIENT_COLUMNS + extra, client_rows)
    return client_rows


def _run_fields(run: RunConfig, which: str, state: dict, client: str, rows: list) -> dict:
    return {
        "task": run.task,
        "method": run.method,
        "setting": run.setting,
        "seed": run.seed,
        "which": which,
        "round": int(state["round"]),
        "selection": run.selection,
        "data": run.data,
        "client": client,
        "n_images": len(rows),
    }


def _score_classes(state, client, data, classes, dev) -> tuple[list[dict], dict]:
    """Per-image rows and the client summary of a multi-class task (module doc)."""
    pred = predict_channels(model_for_client(state, client, dev), data.images).cpu().numpy()
    masks = data.masks.cpu().numpy()
    rows = []
    for k, sid in enumerate(data.sample_ids):
        m = class_metrics(pred[k], masks[k], list(classes))
        row = {"client": client, "sample_id": sid, "lesion": int(data.lesion[k])}
        row.update({key: m[key] for key in ("dice", "iou", "hd95")})
        row["one_empty"] = sum(m[f"one_empty_{c}"] for c in classes)
        for c in classes:
            row.update({f"{x}_{c}": m[f"{x}_{c}"] for x in ("dice", "iou", "hd95")})
            row[f"dice_present_{c}"] = m[f"dice_{c}"] if m[f"present_{c}"] else float("nan")
        rows.append(row)
    summary = {x: _mean(r[x] for r in rows) for x in ("dice", "iou", "hd95")}
    for c in classes:
        for x in ("dice", "iou", "hd95"):
            summary[f"{x}_{c}"] = _mean(r[f"{x}_{c}"] for r in rows)
        summary[f"dice_present_{c}"] = _nanmean(r[f"dice_present_{c}"] for r in rows)
    summary["dice_lesion"] = _nanmean(summary[f"dice_present_{c}"] for c in classes)
    summary["n_one_empty"] = sum(r["one_empty"] for r in rows)
    return rows, summary


def describe_files(described: str, files: list[str]) -> str:
    """The config's description of the data plus what ``files`` record of their provenance
    (real data: each dataset's manifest digest and PARTIAL flag); synthetic files add nothing."""
    found = dict.fromkeys(read_h5(p, ())[1].get("data_provenance") for p in files)
    found.pop(None, None)
    return f"{described} [{'; '.join(found)}]" if found else described


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")


def _nanmean(values) -> float:
    """Mean over the values that are not NaN; NaN when none is."""
    return _mean(v for v in values if not np.isnan(v))


def _write_csv(path, columns, rows) -> None:
    fmt = [{k: f"{v:.6f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    write_csv(path, columns, fmt)
