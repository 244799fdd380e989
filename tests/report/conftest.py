"""Writers of tiny fake result trees in the layout training and evaluation produce."""

import csv
import json
from pathlib import Path

import pytest

from fedmix.report.results import HISTORY_COLUMNS
from fedmix.report.tables import EVAL_COLUMNS


def write_run(
    root: Path,
    task: str,
    method: str,
    setting: str,
    seed: int,
    metrics: dict[str, dict[str, float]],
    config: dict | None = None,
    history: list[dict] | None = None,
    best_round: int = 7,
    selection: str = "validation",
) -> Path:
    """One run directory: config.json, eval_best_clients.csv and (optionally) history.csv.

    ``metrics`` maps client -> {dice, iou, hd95, dice_lesion, n_one_empty}.
    """
    run = root / "results" / task / method / setting / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    clients = list(metrics)
    cfg = {
        "task": task,
        "method": method,
        "algorithm": method.split("-")[0],
        "setting": setting,
        "seed": seed,
        "clients": clients,
        "supervision": setting.split("-"),
        "data": "synthetic (toy)",
        "rounds": 10,
        "variant": "tmi" if method.startswith("fedmix") else None,
        "lam": 10.0,
        "beta": 1.5,
        "tau": 0.9,
        "selection": selection,
        "channels": 1,
        "width": 4,
        "levels": 2,
    }
    cfg.update(config or {})
    (run / "config.json").write_text(json.dumps(cfg))
    with open(run / "eval_best_clients.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=EVAL_COLUMNS)
        w.writeheader()
        for c, m in metrics.items():
            w.writerow(
                dict(
                    task=task, method=method, setting=setting, seed=seed, which="best",
                    round=best_round, selection=selection, data=cfg["data"], client=c,
                    n_images=5, **m,
                )
            )  # fmt: skip
    if history is not None:
        with open(run / "history.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
            w.writeheader()
            w.writerows(history)
    return run


@pytest.fixture(scope="session")
def fake_run():
    return write_run
