"""Writers of tiny fake result trees in the layout training and evaluation produce."""

import csv
import json
from pathlib import Path

import pytest

from fedmix.file_layout import EVAL_CLIENT_COLUMNS, HISTORY_COLUMNS

FINAL_DICE_DROP = 0.05


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
    results: str = "results",
) -> Path:
    """One run directory: config.json, eval_{best,final}_clients.csv, (optionally) history.csv.

    ``metrics`` maps client -> {dice, iou, hd95, dice_lesion, n_one_empty}; the run lies in
    ``root / results / task / method / setting / seed<seed>``.
    """
    run = root / results / task / method / setting / f"seed{seed}"
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
        "params": (
            {"variant": "tmi", "lambda": 10.0, "beta": 1.5, "tau": 0.9}
            if method.startswith("fedmix")
            else {}
        ),
        "selection": selection,
        "channels": 1,
        "model": {"network": "unet", "width": 4, "levels": 2},
        "selection_clients": "labelled" if selection == "validation" else "all",
        "runtime": {"device": "cpu", "precision": "fp32", "compiled": False},
    }
    config = dict(config or {})
    cfg["params"] = {**cfg["params"], **config.pop("params", {})}
    cfg.update(config)
    (run / "config.json").write_text(json.dumps(cfg))
    # The final-round model scores FINAL_DICE_DROP lower Dice than the validation-selected one.
    for which, drop, rnd in (("best", 0.0, best_round), ("final", FINAL_DICE_DROP, cfg["rounds"])):
        with open(run / f"eval_{which}_clients.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=EVAL_CLIENT_COLUMNS)
            w.writeheader()
            for c, m in metrics.items():
                w.writerow(
                    dict(
                        task=task, method=method, setting=setting, seed=seed, which=which,
                        round=rnd, selection=selection, data=cfg["data"], client=c,
                        n_images=5, **{**m, **({"dice": m["dice"] - drop} if "dice" in m else {})},
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
