"""A multi-class federation end to end: generated OCT files -> training -> per-class evaluation
and table columns; the selection sees per-class boxes and presence vectors, never masks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from tinyfed import tiny_run

from fedmix import train
from fedmix.data.degrade import degrade_file, holdout_file
from fedmix.data.oct import generate_oct_client
from fedmix.evaluate import evaluate_checkpoint
from fedmix.io import write_h5
from fedmix.methods import fedmix as fedmix_method
from fedmix.report.tables import build_table, table_columns

CLIENTS = ("cirrus", "topcon", "spectralis")
CLASSES = ("irf", "srf", "ped")
TASK = {
    "image_size": 16,
    "classes": list(CLASSES),
    "split": {"val_fraction": 0.25, "test_fraction": 0.25, "seed": 0},
    "synthetic": {"seed": 3, "clients": {c: {"n": 8, "slices": 2} for c in CLIENTS}},
}


@pytest.fixture(scope="module")
def oct_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("oct")
    std = {}
    for c in CLIENTS:
        arrays, attrs = generate_oct_client("oct", c, TASK)
        std[c] = write_h5(root / f"std/{c}.h5", arrays, attrs)

    def files(setting):
        train_files = []
        for c, letter in zip(CLIENTS, setting.split("-"), strict=True):
            train_files.append(str(degrade_file(std[c], root / f"train/{c}.{letter}.h5", letter)))
        held = {
            s: [str(holdout_file(std[c], root / f"{s}/{c}.h5", s)) for c in CLIENTS]
            for s in ("val", "test")
        }
        return train_files, held["val"], held["test"]

    files.standardized = std
    return files


def _run(**overrides):
    base = dict(
        task="oct",
        clients=CLIENTS,
        classes=CLASSES,
        image_size=16,
        crop_size=16,
        flips=False,
        rounds=2,
    )
    if overrides.get("algorithm", "fedmix") == "fedmix":
        base.update(tau=0.0, box_tau=0.0)  # no selection: every path gets samples
    return tiny_run(**{**base, **overrides})


def test_fedmix_selects_per_class_and_weak_clients_see_no_masks(tmp_path, oct_files, monkeypatch):
    tr, val, _ = oct_files("I-B-L")
    seen = []
    real = fedmix_method.select_pseudo_labels_per_class

    def spy(p1, p2, **kw):
        seen.append((kw["supervision"], p1.shape, kw["box_masks"], kw["presence"]))
        return real(p1, p2, **kw)

    monkeypatch.setattr(fedmix_method, "select_pseudo_labels_per_class", spy)
    train.train_run(_run(), tr, val, tmp_path / "run")
    letters = {s for s, *_ in seen}
    assert letters == {"I", "B"}
    for sup, shape, boxes, presence in seen:
        assert shape[1] == 3
        assert (boxes is not None) == (sup == "B") and (presence is not None) == (sup == "I")
        if boxes is not None:
            assert boxes.shape == shape and boxes.dtype == torch.bool
        if presence is not None:
            assert presence.shape == (shape[0], 3)


@pytest.mark.parametrize(
    ("method", "algorithm", "setting"),
    [
        ("fedmix-tmi", "fedmix", "I-B-L"),
        ("fedst", "fedst", "U-U-L"),
        ("local", "local", "L-L-L"),
    ],
)
def test_methods_train_and_evaluate_per_class(tmp_path, oct_files, method, algorithm, setting):
    tr, val, test = oct_files(setting)
    extra = {"warmup_fraction": 0.5} if algorithm == "fedst" else {}
    run = _run(method=method, algorithm=algorithm, setting=setting, **extra)
    out = tmp_path / "run"
    train.train_run(run, tr, val, out)
    rows = evaluate_checkpoint(out / "best.pt", test, out / "img.csv", out / "cli.csv")
    for row in rows:
        per_class = [row[f"dice_{c}"] for c in CLASSES]
        assert row["dice"] == pytest.approx(np.mean(per_class))
        assert all(0.0 <= v <= 1.0 for v in per_class)
    with open(out / "img.csv") as f:
        header = next(csv.reader(f))
    assert {"dice_irf", "hd95_ped", "dice_present_srf"} <= set(header)


def test_table_has_per_class_columns(tmp_path, oct_files):
    tr, val, test = oct_files("U-U-L")
    csvs = []
    for seed in (0, 1):
        out = tmp_path / f"results/oct/fedavg/U-U-L/seed{seed}"
        train.train_run(
            _run(method="fedavg", algorithm="fedavg", setting="U-U-L", seed=seed), tr, val, out
        )
        for which in ("best", "final"):
            evaluate_checkpoint(
                out / f"{which}.pt",
                test,
                out / f"eval_{which}.csv",
                out / f"eval_{which}_clients.csv",
            )
        csvs.append(out / "eval_best_clients.csv")
    spec = {"task": "oct", "rows": [{"method": "fedavg", "setting": "U-U-L", "label": "x"}]}
    task = {"clients": list(CLIENTS), "classes": list(CLASSES)}
    paths = [tmp_path / f"t.{e}" for e in ("csv", "md", "tex")]
    rows = build_table("table4", spec, task, [0, 1], csvs, *paths)
    assert list(rows[0]) == table_columns(CLIENTS, CLASSES)
    assert "dice_ped_spectralis" in rows[0] and "dice_srf_avg_std" in rows[0]
    md = paths[1].read_text()
    assert "| Dice irf | Dice srf | Dice ped |" in md and "Multi-class (irf, srf, ped)" in md


def test_figures_of_a_multiclass_run_render(tmp_path, oct_files):
    from fedmix.report.images import plot_label_gallery, plot_overlays, predict_masks

    tr, val, test = oct_files("L-L-L")
    out = tmp_path / "run"
    train.train_run(
        _run(method="fedavg", algorithm="fedavg", setting="L-L-L", rounds=1), tr, val, out
    )
    images = np.zeros((2, 1, 16, 16), np.uint8)
    pred = predict_masks(out / "best.pt", "cirrus", images)  # union of the class channels
    assert pred.shape == (2, 16, 16) and pred.dtype == bool
    plot_label_gallery(oct_files.standardized, tmp_path / "g.png", tmp_path / "g.pdf")
    plot_overlays(
        dict(zip(CLIENTS, test, strict=True)),
        {"FedAvg": out / "best.pt"},
        tmp_path / "o.png",
        tmp_path / "o.pdf",
        n_images=1,
    )
    assert (tmp_path / "g.png").stat().st_size > 0 and (tmp_path / "o.pdf").stat().st_size > 0
