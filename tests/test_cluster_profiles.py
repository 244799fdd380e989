"""Cluster profiles and the training rule's resource requests, checked without a cluster."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from fedmix.io import write_h5

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _profile(name):
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def test_workflow_profile_holds_rule_level_settings_only():
    # Snakemake loads profiles/default on top of --profile: a default-resources block here
    # would replace the cluster profile's (partition lost), so only per-rule keys belong here.
    assert set(_profile("default")) <= {"set-threads", "set-resources"}
    assert _profile("default")["set-threads"]["train"] == 1


def test_slurm_profile_submits_with_squeue_status_and_placeholders():
    slurm = _profile("slurm")
    assert slurm["executor"] == "slurm"
    assert slurm["slurm-status-command"] == "squeue"
    assert slurm["default-resources"]["slurm_partition"] == "<partition>"
    assert "set-resources" not in slurm  # would be replaced by profiles/default's
    assert "slurm_account" in (REPO / "profiles/slurm/config.yaml").read_text()


def test_train_requests_runtime_and_memory_from_its_training_images(tmp_path):
    for rel in ("Snakefile", "workflow", "config", "envs"):
        src = REPO / rel
        copy = shutil.copytree if src.is_dir() else shutil.copy2
        copy(src, tmp_path / rel)
    task = "resources/demo/synthetic-breast"
    for client in ("bus", "busis", "udiat"):  # setting L-L-L: 3 x 1000 training images
        images = np.zeros((1000, 1, 24, 24), np.uint8)
        write_h5(tmp_path / f"{task}/train/{client}.L.h5", {"images": images}, {})
        val = tmp_path / f"{task}/val/{client}.h5"
        val.parent.mkdir(parents=True, exist_ok=True)
        val.touch()  # a dry run only needs the selection files to exist
    target = "results/demo/synthetic-breast/fedavg/L-L-L/seed0/best.pt"
    (tmp_path / "rounds.yaml").write_text("training: {rounds: 100}\n")
    out = subprocess.run(
        [BIN / "snakemake", "-n", "--cores", "1", "--configfile", "rounds.yaml", "--", target],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    resources = re.search(r"rule train:.*?resources: ([^\n]*)", out.stdout, re.DOTALL).group(1)
    # default config: 24 x 24 images, 24 crops; rounds overridden to 100
    # runtime: 100 rounds * 3000 * 24**2 / 1e6 = 172.8 Mpix; 10 + 2 * 172.8 * 0.2 / 60 = 11.15
    # mem_mb: 4096 + ceil(8 * 3000 * 24**2 / 1e6 = 13.82)
    assert "gpu=1" in resources
    assert "runtime=12" in resources
    assert "mem_mb=4110" in resources
