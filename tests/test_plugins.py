"""A method defined outside fedmix/ (tests/plugins/fedavgm.py) runs through the workflow with
only configuration: no edit to fedmix/, workflow/ or the schema."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fedmix import train
from fedmix.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
OVERLAY = """
methods:
  fedavgm: {algorithm: "plugins.fedavgm:FedAvgM", momentum: %s}
tables:
  table1:
    task: synthetic-breast
    rows:
      - {method: fedavgm, setting: L-L-L, label: "FedAvgM (plug-in)"}
"""


def _fedavgm():
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from plugins.fedavgm import FedAvgM, FedAvgMParams
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return FedAvgM, FedAvgMParams


def _fedavgm_run(momentum: float, **kw):
    from tinyfed import tiny_run

    _, params = _fedavgm()
    run = tiny_run(algorithm="fedavg", setting="L-L-L", **kw)
    fields = {"algorithm": "plugins.fedavgm:FedAvgM", "params": params(momentum=momentum)}
    return type(run)(**{**run.__dict__, **fields})


def test_fedavgm_with_zero_momentum_is_the_weighted_average_and_momentum_accumulates():
    FedAvgM, _ = _fedavgm()
    strategy = FedAvgM(_fedavgm_run(0.5))
    g = {"w": torch.tensor([1.0]), "n": torch.tensor([7])}
    clients = [{"w": torch.tensor([0.0]), "n": torch.tensor([7])}] * 2
    # round 1: d = 1 - 0 = 1, v = 1, G = 1 - 1 = 0 (plain FedAvg)
    out = strategy.aggregate(0, "global", 0, g, clients, [0.5, 0.5])
    assert out["w"].item() == 0.0 and out["n"].item() == 7
    # round 2 from G = 2: d = 2, v = 2 + 0.5 * 1 = 2.5, G = 2 - 2.5 = -0.5
    out = strategy.aggregate(1, "global", 0, {**g, "w": torch.tensor([2.0])}, clients, [0.5, 0.5])
    assert out["w"].item() == -0.5


def test_a_plugins_server_state_survives_resume(tmp_path, tiny_task, monkeypatch):
    """FedAvgM's velocity goes into resume.pt (Strategy.state_dict), so a run killed after
    round 3 and resumed ends with the uninterrupted run's weights; restarting the velocity at 0
    would change them."""
    from tinyfed import crash_in_round

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    tr, val, _ = tiny_task("L-L-L")
    run = _fedavgm_run(0.9, rounds=5, checkpoint_every=3)
    train.train_run(run, tr, val, tmp_path / "straight")

    real_round = crash_in_round(monkeypatch, 3)  # killed in round 4
    with pytest.raises(KeyboardInterrupt):
        train.train_run(run, tr, val, tmp_path / "resumed")
    saved = load_checkpoint(tmp_path / "resumed/resume.pt")
    assert saved["round"] == 3 and saved["strategy"], "the velocity is not in resume.pt"
    assert all(k.startswith("global/0/") for k in saved["strategy"])
    monkeypatch.setattr(train.RoundLoop, "round", real_round)
    train.train_run(run, tr, val, tmp_path / "resumed")

    a = load_checkpoint(tmp_path / "straight/final.pt")["models"]
    b = load_checkpoint(tmp_path / "resumed/final.pt")["models"]
    for key in a:
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)


def test_a_stateless_method_refuses_strategy_state_from_another():
    from tinyfed import tiny_run

    from fedmix.methods import make_strategy

    strategy = make_strategy(tiny_run(algorithm="fedavg", setting="L-L-L"))
    assert strategy.state_dict() == {}
    with pytest.raises(ValueError, match="global/0/w"):
        strategy.load_state_dict({"global/0/w": torch.zeros(1)})


def _snakemake(workdir: Path, momentum: str, *targets: str, dry: bool = False):
    workdir.mkdir(parents=True, exist_ok=True)
    overlay = workdir / "plugin.yaml"
    overlay.write_text(OVERLAY % momentum)
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(TINY), str(overlay), "--cores", "2", "--quiet", "all"]
    cmd += ["-n"] if dry else []
    cmd += ["--", *targets]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


@pytest.mark.workflow
def test_a_plug_in_method_builds_a_table_row_through_snakemake(tmp_path):
    result = _snakemake(tmp_path, "0.5", "results/tiny/table1.csv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(tmp_path / "results" / "tiny" / "table1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["label"]) for r in rows] == [("fedavgm", "FedAvgM (plug-in)")]
    assert 0.0 <= float(rows[0]["dice_avg"]) <= 1.0
    run = tmp_path / "results/tiny/synthetic-breast/fedavgm/L-L-L/seed0"
    config = json.loads((run / "config.json").read_text())
    assert config["algorithm"] == "plugins.fedavgm:FedAvgM"
    assert config["params"] == {"momentum": 0.5, "server_lr": 1.0}


@pytest.mark.workflow
def test_a_plug_in_methods_bad_parameter_stops_the_workflow_before_any_job(tmp_path):
    result = _snakemake(tmp_path, "2.0", "results/tiny/table1.csv", dry=True)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config['methods']['fedavgm']" in out
    assert "['momentum'] = 2.0: must lie in [0, 0.999]" in out
