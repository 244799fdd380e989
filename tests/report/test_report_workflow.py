"""Snakemake end to end on a fake result tree: table, figure and report rules and adapters.

Training and evaluation are not run: their outputs are written by hand, older than nothing
they depend on, and Snakemake runs with ``--rerun-triggers mtime`` so it builds only stage 5.
The overlay figure needs fedmix.model (not merged yet), so only its place in the DAG is checked.
"""

import base64
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedmix.config import resolve_run, validate_config
from fedmix.io import write_h5

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
TASK = "synthetic-breast"
EXP = "demo"  # the experiment name of config/config.yaml, which the test config starts from


def _config() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["seeds"] = [0, 1]
    config["tables"] = {
        "table1": {"task": TASK, "rows": [
            {"method": "fedavg", "setting": "U-U-L", "label": "FedAvg (pixel-labelled only)"},
            {"method": "fedmix-tmi", "setting": "I-B-L", "label": "FedMix (TMI)"},
        ]},
        "table3": {"task": TASK, "rows": [
            {"method": "fedmix-tmi", "setting": "I-B-L"},
            {"method": "fedmix-lambda0", "setting": "I-B-L"},
            {"method": "fedmix-beta3", "setting": "I-B-L"},
        ]},
    }  # fmt: skip
    return config


def _fake_inputs(workdir: Path, config: dict) -> None:
    """Standardized files with one square lesion per image; empty train/val/test stand-ins."""
    rng = np.random.default_rng(0)
    for c in config["tasks"][TASK]["clients"]:
        images = rng.integers(60, 120, (4, 1, 32, 32)).astype(np.uint8)
        masks = np.zeros((4, 32, 32), np.uint8)
        masks[:3, 8:20, 10:22] = 1
        arrays = dict(
            images=images, masks=masks, lesion=masks.max(axis=(1, 2)),
            diagnosis=np.ones(4, np.uint8), split=np.zeros(4, np.uint8),
            sample_ids=np.array([f"{c}{i}" for i in range(4)]),
        )  # fmt: skip
        write_h5(workdir / f"resources/{EXP}/{TASK}/standardized/{c}.h5", arrays, {"kind": "std"})
        for rel in [f"val/{c}.h5", f"test/{c}.h5", *(f"train/{c}.{s}.h5" for s in "LBIU")]:
            (workdir / f"resources/{EXP}/{TASK}/{rel}").parent.mkdir(parents=True, exist_ok=True)
            (workdir / f"resources/{EXP}/{TASK}/{rel}").touch()


def _fake_results(workdir: Path, config: dict, write_run) -> None:
    runs = {(r["method"], r["setting"]) for t in config["tables"].values() for r in t["rows"]}
    for k, (method, setting) in enumerate(sorted(runs)):
        for seed in config["seeds"]:
            cfg = resolve_run(config, TASK, method, setting, seed).to_dict()
            history = [
                dict(round=r, client=c, supervision=s, n_samples=5 * r, n_train=10,
                     train_loss=0.5, weight=1 / 3, val_dice=0.2 * r + 0.01 * k)
                for r in (1, 2) for c, s in zip(cfg["clients"], cfg["supervision"], strict=True)
            ]  # fmt: skip
            metrics = {
                c: dict(dice=0.5 + 0.05 * k, iou=0.4, hd95=3.0, dice_lesion=0.6, n_one_empty=1)
                for c in cfg["clients"]
            }
            run = write_run(
                workdir,
                TASK,
                method,
                setting,
                seed,
                metrics,
                cfg,
                history,
                results=f"results/{EXP}",
            )
            for name in ("best.pt", "final.pt"):
                (run / name).touch()
    # inputs older than checkpoints, checkpoints older than evaluations: nothing upstream reruns
    now = time.time()
    for pattern, age in ((f"resources/{EXP}/**/*.h5", 7200), (f"results/{EXP}/**/*.pt", 3600)):
        for path in workdir.glob(pattern):
            os.utime(path, (now - age, now - age))


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(workdir / "config.yaml"), "--cores", "2"]
    cmd += ["--rerun-triggers", "mtime", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


TARGETS = [
    f"results/{EXP}/table1.csv",
    f"results/{EXP}/figures/table1_val_dice.png",
    f"results/{EXP}/figures/table1_weights.png",
    f"results/{EXP}/figures/table1_kept.png",
    f"results/{EXP}/figures/table3_sensitivity.png",
    f"results/{EXP}/figures/{TASK}_labels.png",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory, fake_run):
    workdir = tmp_path_factory.mktemp("report")
    config = _config()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    config = validate_config(config)
    _fake_inputs(workdir, config)
    _fake_results(workdir, config, fake_run)
    _snakemake(workdir, "--", *TARGETS)
    _snakemake(workdir, "--report", f"results/{EXP}/report.html")  # of what exists
    return workdir


@pytest.fixture(scope="module")
def table1_alone(tmp_path_factory, fake_run):
    """A tree where only Table 1 was built: its report must still build."""
    workdir = tmp_path_factory.mktemp("table1")
    config = _config()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    config = validate_config(config)
    _fake_inputs(workdir, config)
    _fake_results(workdir, config, fake_run)
    _snakemake(workdir, "--", f"results/{EXP}/table1.csv")
    _snakemake(workdir, "--report", f"results/{EXP}/report.html")
    return workdir


@pytest.mark.workflow
def test_rules_build_tables_and_figures_from_results_only(built):
    for target in TARGETS:
        assert (built / target).stat().st_size > 0
        if target.endswith(".png"):
            assert (built / target).with_suffix(".pdf").stat().st_size > 0
    lines = (built / f"results/{EXP}/table1.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith("FedAvg (pixel-labelled only),fedavg,U-U-L")
    assert "synthetic (ultrasound-like" in (built / f"results/{EXP}/table1.md").read_text()


@pytest.mark.workflow
def test_report_has_rendered_captions(built):
    html = (built / f"results/{EXP}/report.html").read_text()
    assert "Data: synthetic (ultrasound-like, generated by fedmix)" in html
    assert "Label degradation on" in html and "Sensitivity of FedMix to lambda" in html


@pytest.mark.workflow
def test_figures_rule_covers_every_figure_kind(built):
    out = _snakemake(built, "--dry-run", "--quiet", "rules", "--", "figures").stdout
    counts = dict(line.split() for line in out.splitlines() if line.startswith("figure"))
    # left to build: overlays of both tables (need real checkpoints), table3's three history
    # figures, the skin and OCT tasks' galleries (their data were not faked); the rest is up
    # to date
    expected = {"figure_history": "3", "figure_labels": "2", "figure_overlays": "2"}
    assert counts == {**expected, "figures": "1"}


def _embedded(html: str, name: str) -> str:
    """The content of a file the report embeds as a base64 data URI."""
    match = re.search(rf"filename={re.escape(name)};base64,([A-Za-z0-9+/=]+)", html)
    assert match, f"{name} is not embedded in the report"
    return base64.b64decode(match.group(1)).decode()


@pytest.mark.workflow
def test_report_of_table1_alone_shows_the_table_and_only_its_task(table1_alone):
    html = (table1_alone / f"results/{EXP}/report.html").read_text()
    table = _embedded(html, "table1.html")
    assert "<table>" in table and "<th>Dice bus</th>" in table
    assert "<td>FedMix (TMI)</td>" in table and "±" in table
    assert "System Message" not in html  # the captions render as reStructuredText
    assert "on these tasks" in html and "synthetic-breast" in html
    assert "synthetic-skin" not in html  # configured, but nothing of it was built
    assert "table3" not in html
