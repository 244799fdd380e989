"""Paper tables (CSV, Markdown, LaTeX) from per-client evaluation files of finished runs.

One table row per (method, setting) row of the table spec, in spec order. For a metric ``m`` in
dice, iou, hd95 and clients ``c = 1..C`` over seeds ``s = 1..S`` (values ``x[s, c]`` read from each
run's ``eval_best_clients.csv``):

    m_<c>      = mean_s x[s, c]                 m_<c>_std   = std_s x[s, c]
    m_avg      = mean_s (mean_c x[s, c])        m_avg_std   = std_s (mean_c x[s, c])

with the sample std (ddof = 1) when S > 1 and 0 when S = 1. ``dice_avg_final`` is ``dice_avg`` of
the final-round model (``eval_final_clients.csv`` beside each file), reported next to the
validation-selected one. ``dice_lesion_avg`` is the same average
over Dice on lesion images only, ``n_one_empty`` the mean over seeds of the number of test images
(all clients) where exactly one of prediction and ground truth is empty. Floats are written with a
fixed number of decimals so that two builds from the same results are byte-identical.

A multi-class task (``classes`` in its config) adds, for every class ``k`` and the metrics
dice, iou, hd95 per class, ``m_<k>_<c>`` and ``m_<k>_avg`` with the same formulas on the
per-class values of each client file; there ``dice``, ``iou`` and ``hd95`` are already means
over the classes, and ``dice_lesion`` is the mean over classes of Dice on the images where the
class is present.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fedmix.file_layout import EVAL_CLIENT_COLUMNS
from fedmix.report.render import render_csv, render_latex, render_markdown
from fedmix.report.results import format_float, mean_std, read_csv_rows, read_run_config

__all__ = ["METRICS", "build_table", "selection_text", "summarize_row", "table_columns"]

METRICS = ("dice", "iou", "hd95")
OPTIMISTIC = "optimistic"
SETTING_LEGEND = "L pixel masks, B boxes, I image-level labels, U unlabeled"


def selection_text(selection: str, scope: str) -> str:
    """How ``best.pt`` was chosen, for the ``selection`` column: the split and whose masks.

    ``validation`` on the pixel-labelled clients is the default; anything using test masks or
    masks a weakly labelled client does not have is marked optimistic.
    """
    if (selection, scope) == ("validation", "labelled"):
        return "validation (L clients)"
    if (selection, scope) == ("test", "all"):
        return f"test ({OPTIMISTIC})"
    who = "L clients" if scope == "labelled" else "all clients"
    return f"{selection}, {who} ({OPTIMISTIC})"


def table_columns(clients: Sequence[str], classes: Sequence[str] = ()) -> list[str]:
    """Column names of a table over ``clients`` (and ``classes``, multi-class), in order."""
    cols = ["label", "method", "setting", "variant"]
    for m in (*METRICS, *_class_metrics(classes)):
        for c in clients:
            cols += [f"{m}_{c}", f"{m}_{c}_std"]
        cols += [f"{m}_avg", f"{m}_avg_std"]
    cols += ["dice_lesion_avg", "dice_lesion_avg_std", "dice_avg_final", "dice_avg_final_std"]
    cols += ["n_one_empty"]
    return cols + ["seeds", "rounds", "best_round", "which", "selection", "precision", "data"]


def _class_metrics(classes: Sequence[str]) -> list[str]:
    return [f"{m}_{k}" for k in classes for m in METRICS]


def build_table(
    name: str,
    spec: dict,
    task: dict,
    seeds: Sequence[int],
    per_client_csvs: Sequence[str | os.PathLike],
    out_csv: str | os.PathLike,
    out_md: str | os.PathLike,
    out_tex: str | os.PathLike,
    tasks: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """Write table ``name`` as CSV, Markdown and LaTeX; return its rows (formatted strings).

    ``spec`` is the config's ``tables[name]`` ({"task", "rows": [{"method", "setting", "label"}]}),
    ``task`` the config's ``tasks[spec["task"]]`` (its ``clients`` fix the column order),
    ``per_client_csvs`` the ``eval_best_clients.csv`` of every run; each run's ``config.json``
    is read from the same directory. ``tasks``: the tasks whose runs a row pools (default the
    spec's task; a fold sweep's fold tasks, fedmix.datasets.folds.table_tasks): statistics are
    then over every (task, seed) run. Raises ValueError naming every missing run.
    """
    clients = list(task["clients"])
    tasks = list(tasks or [spec["task"]])
    runs = _index_runs(per_client_csvs)
    missing = [
        _run_path(t, r["method"], r["setting"], s)
        for r in spec["rows"]
        for t in tasks
        for s in seeds
        if (t, r["method"], r["setting"], int(s)) not in runs
    ]
    if missing:
        raise ValueError(
            f"{name}: no evaluation results for {len(missing)} run(s) under results/<experiment>/: "
            f"{missing}. Build them first (snakemake results/<experiment>/{name}.csv) or remove "
            f"the rows from tables.{name}.rows"
        )
    classes = list(task.get("classes", ()))
    rows = [summarize_row(r, tasks, clients, seeds, runs, classes) for r in spec["rows"]]
    caption = _caption(name, spec["task"], clients, rows, classes)
    if spec.get("note"):
        caption += " " + spec["note"]
    columns = table_columns(clients, classes)
    for path, text in (
        (out_csv, render_csv(rows, columns)),
        (out_md, render_markdown(rows, clients, caption, classes)),
        (out_tex, render_latex(name, rows, clients, caption, classes)),
    ):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return rows


def _run_path(task: str, method: str, setting: str, seed: int) -> str:
    return f"{task}/{method}/{setting}/seed{seed}/eval_best_clients.csv"


def _index_runs(paths: Sequence[str | os.PathLike]) -> dict[tuple, tuple[list[dict], dict]]:
    """{(task, method, setting, seed): (per-client rows, run config)} keyed by each file's
    content."""
    runs: dict[tuple, tuple[list[dict], dict]] = {}
    for path in paths:
        rows = read_csv_rows(path, EVAL_CLIENT_COLUMNS)
        keys = {(r["task"], r["method"], r["setting"], int(r["seed"])) for r in rows}
        if len(keys) != 1:
            raise ValueError(f"{path}: expected the rows of one run, found runs {sorted(keys)}")
        key = keys.pop()
        if key in runs:
            raise ValueError(f"{path}: run {key} is given twice; pass each run's file once")
        final = read_csv_rows(Path(path).parent / "eval_final_clients.csv", EVAL_CLIENT_COLUMNS)
        runs[key] = (rows, read_run_config(Path(path).parent) | {"_final": final})
    return runs


def summarize_row(
    row: dict,
    tasks: str | Sequence[str],
    clients: Sequence[str],
    seeds: Sequence[int],
    runs: dict,
    classes: Sequence[str] = (),
) -> dict[str, str]:
    """Mean and std over ``seeds`` (of every task in ``tasks``: a fold sweep pools its folds) of
    one (method, setting) row (formulas: module docstring, with S = tasks x seeds)."""
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    per_seed = [runs[(t, row["method"], row["setting"], int(s))] for t in tasks for s in seeds]
    metrics = (*METRICS, *_class_metrics(classes))
    values = {k: [] for k in (*metrics, "dice_lesion", "n_one_empty")}
    for rows, _ in per_seed:
        by_client = _by_client(rows, rows[0]["task"], clients)
        for k, v in values.items():
            v.append([float(by_client[c][k]) for c in clients])
    out = {"label": row.get("label", row["method"]), "method": row["method"]}
    out["setting"] = row["setting"]
    out["variant"] = _single(
        per_seed, lambda r, cfg: cfg.get("params", {}).get("variant") or "", "variant", row
    )
    for m in metrics:
        x = np.asarray(values[m])  # (S, C)
        mean, std = mean_std(x)
        for i, c in enumerate(clients):
            out[f"{m}_{c}"], out[f"{m}_{c}_std"] = format_float(mean[i]), format_float(std[i])
        avg, avg_std = mean_std(x.mean(axis=1))
        out[f"{m}_avg"], out[f"{m}_avg_std"] = format_float(avg), format_float(avg_std)
    lesion, lesion_std = mean_std(np.asarray(values["dice_lesion"]).mean(axis=1))
    out["dice_lesion_avg"] = format_float(lesion)
    out["dice_lesion_avg_std"] = format_float(lesion_std)
    final = [_by_client(cfg["_final"], r[0]["task"], clients) for r, cfg in per_seed]
    final_avg = [np.mean([float(f[c]["dice"]) for c in clients]) for f in final]
    out["dice_avg_final"], out["dice_avg_final_std"] = map(format_float, mean_std(final_avg))
    out["n_one_empty"] = format_float(np.asarray(values["n_one_empty"]).sum(axis=1).mean(), 2)
    out["seeds"] = ",".join(str(int(s)) for s in seeds)
    if len(tasks) > 1:  # a fold sweep: say which folds were pooled
        out["seeds"] += " x " + ",".join(tasks)
    out["rounds"] = _single(per_seed, lambda r, cfg: str(cfg["rounds"]), "rounds", row)
    out["best_round"] = ",".join(rows[0]["round"] for rows, _ in per_seed)
    out["which"] = _single(per_seed, lambda r, cfg: r[0]["which"], "which", row)
    out["selection"] = _single(
        per_seed,
        lambda r, cfg: selection_text(r[0]["selection"], cfg["selection_clients"]),
        "selection",
        row,
    )
    out["precision"] = _precision(per_seed, row)
    out["data"] = _single(per_seed, lambda r, cfg: r[0]["data"], "data", row)
    return out


def _precision(per_seed: list, row: dict) -> str:
    """The arithmetic the seeds of a row trained in (``config.json`` runtime); seeds that
    differ (say one rerun on a CPU) are shown joined, ``bf16+fp32``, not hidden."""
    found = set()
    for rows, cfg in per_seed:
        runtime = cfg.get("runtime")
        if not runtime or "precision" not in runtime:
            raise ValueError(
                f"row {row['method']} {row['setting']} seed {rows[0]['seed']}: config.json has "
                "no runtime.precision (written by training since this column exists); "
                "rerun the train rule for it"
            )
        found.add(runtime["precision"])
    return "+".join(sorted(found))


def _by_client(rows: list[dict], task: str, clients: Sequence[str]) -> dict[str, dict]:
    by_client = {r["client"]: r for r in rows}
    run = (rows[0]["method"], rows[0]["setting"], rows[0]["seed"])
    if sorted(by_client) != sorted(clients) or len(rows) != len(clients):
        raise ValueError(
            f"run {run}: per-client rows for {[r['client'] for r in rows]} but task {task!r} "
            f"has clients {list(clients)}; rebuild the run's evaluation"
        )
    if rows[0]["task"] != task:
        raise ValueError(f"run {run}: evaluated on task {rows[0]['task']!r}, table needs {task!r}")
    return by_client


def _single(per_seed: list, get, what: str, row: dict) -> str:
    """The one value of ``what`` shared by every seed of a row; ValueError if they differ."""
    found = sorted({get(rows, cfg) for rows, cfg in per_seed})
    if len(found) != 1:
        raise ValueError(
            f"row {row['method']} {row['setting']}: seeds disagree on {what} ({found}); "
            "rerun them with one config"
        )
    return found[0]


def _caption(
    name: str, task: str, clients: Sequence[str], rows: list[dict], classes: Sequence[str] = ()
) -> str:
    data = "; ".join(sorted({r["data"] for r in rows}))
    seeds = sorted({r["seeds"] for r in rows})
    rounds = sorted({r["rounds"] for r in rows}, key=int)
    selections = sorted({r["selection"] for r in rows})
    precisions = sorted({r["precision"] for r in rows})
    text = (
        f"{_title(name)} ({task}). Test Dice per client ({', '.join(clients)}), mean over "
        f"clients, IoU, HD95 (pixels) and Dice on lesion images only; mean +- std over seeds "
        f"{' / '.join(seeds)}. Data: {data}. Protocol: {'/'.join(rounds)} rounds, "
        f"'{rows[0]['which']}' checkpoint selected on {' / '.join(selections)} masks, "
        f"trained in {' / '.join(precisions)}. "
        f"Setting: one letter per client in the order above ({SETTING_LEGEND})."
    )
    if classes:
        text += (
            f" Multi-class ({', '.join(classes)}): Dice, IoU and HD95 are means over the classes "
            "(per class: Dice <class>, mean over clients); Dice lesion averages, over the classes,"
            " Dice on the images where the class is present."
        )
    if any(OPTIMISTIC in s for s in selections):
        text += (
            " Rows whose checkpoint was selected on test masks (as the original code did) or on "
            "masks a weakly labelled client does not have are optimistic."
        )
    return text


def _title(name: str) -> str:
    """``table1`` -> ``Table 1``."""
    return re.sub(r"^([A-Za-z]+)(\d)", r"\1 \2", name).capitalize()
