"""Readers for the result files a training or evaluation run writes.

Layout of one run directory ``results/<experiment>/{task}/{method}/{setting}/seed{seed}/``:

    config.json                 the run's resolved :class:`fedmix.config.RunConfig` as a dict
    history.csv                 one row per (round, client): round, client, supervision, n_samples,
                                n_train, train_loss, weight, val_dice (empty loss: client skipped)
    eval_{best,final}_clients.csv  one row per client: task, method, setting, seed, which, round,
                                selection, data, client, n_images, dice, iou, hd95, dice_lesion,
                                n_one_empty
    best.pt, final.pt           checkpoints {"config", "round", "models"}

Every reader raises :class:`fedmix.io.FedmixFileError` naming the file and the fix when the file
is missing or lacks a column.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from fedmix.file_layout import HISTORY_COLUMNS
from fedmix.io import FedmixFileError

__all__ = ["format_float", "mean_std", "read_csv_rows", "read_history", "read_run_config"]


def read_csv_rows(path: str | os.PathLike, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of strings; every name in ``columns`` must be a column."""
    path = Path(path)
    if not path.exists():
        raise FedmixFileError(f"{path}: file not found; build it with snakemake (it is a target)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise FedmixFileError(
                f"{path}: missing column(s) {missing}; it has {reader.fieldnames}. "
                "Delete it and let snakemake rebuild it."
            )
        return list(reader)


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """The resolved run config (``config.json``) of one run directory."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FedmixFileError(
            f"{path}: file not found; it is written by the train rule, rebuild the run"
        )
    return json.loads(path.read_text())


def read_history(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``history.csv`` as ``{client: {column: array over rounds}}``, rows sorted by round.

    Numeric columns become float arrays; an empty cell (a client that skipped a round has no
    loss) becomes NaN. ``supervision`` stays a string array.
    """
    rows = read_csv_rows(path, HISTORY_COLUMNS)
    if not rows:
        raise FedmixFileError(f"{path}: no rows; the run wrote no history, rebuild it")
    out: dict[str, dict[str, list]] = {}
    for row in sorted(rows, key=lambda r: int(r["round"])):
        per_client = out.setdefault(
            row["client"], {c: [] for c in HISTORY_COLUMNS if c != "client"}
        )
        per_client["round"].append(int(row["round"]))
        for col in HISTORY_COLUMNS[2:]:
            value = row[col]
            per_client[col].append(value if col == "supervision" else _to_float(value))
    return {c: {k: np.asarray(v) for k, v in cols.items()} for c, cols in out.items()}


def _to_float(text: str) -> float:
    return math.nan if text.strip() == "" else float(text)


def mean_std(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof = 1) along ``axis``; std is 0 when there is one value."""
    values = np.asarray(values, dtype=float)
    mean = values.mean(axis=axis)
    if values.shape[axis] > 1:
        return mean, values.std(axis=axis, ddof=1)
    return mean, np.zeros_like(mean)


def format_float(value: float, decimals: int = 4) -> str:
    """Fixed-point text of ``value`` (``nan``/``inf`` spelled out, no negative zero)."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text
