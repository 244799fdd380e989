"""Real-data workflow on fakes: an extracted copy used as is, precise reruns, a federation
from plain folders up to Table 1, and the open breast preset planned from download to table."""

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml
from fakes import make_busi_folder, make_folder_client, make_udiat_folder

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SPLIT = {"mode": "grouped", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}


def snakemake(workdir: Path, extra: dict, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on tests/configs/tiny.yaml overridden by ``extra`` (written to a file)."""
    overrides = workdir / "overrides.yaml"
    overrides.write_text(yaml.safe_dump(extra))
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(TINY), str(overrides), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def planned(result: subprocess.CompletedProcess) -> set[str]:
    """Output files of every job a dry run plans."""
    lines = re.findall(r"^\s+output: (.*)$", result.stdout, flags=re.MULTILINE)
    return {o for line in lines for o in line.split(", ")}


@pytest.mark.workflow
def test_extracted_copies_used_without_download_and_an_edit_reruns_only_its_dataset(tmp_path):
    busi = make_busi_folder(tmp_path / "kaggle" / "Dataset_BUSI_with_GT")
    make_udiat_folder(tmp_path / "work" / "resources" / "downloads" / "udiat", n=6)
    datasets = {"paths": {"busi": str(busi)}, "allow_partial": ["busi", "udiat"]}
    breast = {"source": "breast", "clients": ["bus", "udiat"], "image_size": 32, "channels": 1}
    extra = {"datasets": datasets, "tasks": {"breast": {**breast, "split": SPLIT}}}
    targets = ["--", *(f"resources/tiny/breast/standardized/{c}.h5" for c in ("bus", "udiat"))]
    work = tmp_path / "work"
    first = snakemake(work, extra, "--quiet", "rules", *targets)  # no licence, no network
    assert "busi                     present" in first.stderr  # the preflight, before planning
    with h5py.File(work / "resources/tiny/breast/standardized/bus.h5") as f:
        assert f.attrs["data_partial"] == 1 and "busi manifest sha256:" in f.attrs["source_version"]
    # Move UDIAT and say where: only UDIAT's jobs are planned, nothing of BUSI.
    shutil.move(work / "resources/downloads/udiat", tmp_path / "UDIAT")
    extra["datasets"]["paths"]["udiat"] = str(tmp_path / "UDIAT")
    outputs = planned(snakemake(work, extra, "-n", *targets))
    assert outputs == {
        "resources/downloads/udiat.ready.json",
        "resources/tiny/breast/standardized/udiat.h5",
    }, outputs
    # The converse, once UDIAT is rebuilt: pointing BUSI elsewhere re-runs only BUSI's jobs.
    snakemake(work, extra, "--quiet", "rules", *targets)
    extra["datasets"]["paths"]["busi"] = str(shutil.copytree(busi, tmp_path / "copy"))
    outputs = planned(snakemake(work, extra, "-n", *targets))
    assert outputs == {
        "resources/downloads/busi.ready.json",
        "resources/tiny/breast/standardized/bus.h5",
    }, outputs


ROWS = [
    {"method": "local", "setting": "L-L-L", "label": "LL"},
    {"method": "fedavg", "setting": "U-U-L", "label": "FedAvg (pixel-labelled client only)"},
    {"method": "fedmix-tmi", "setting": "I-B-L", "label": "FedMix (TMI)"},
]


@pytest.mark.workflow
def test_folder_federation_builds_table1(tmp_path):
    """docs/data.md's worked example: three hospitals' folders, config only, Table 1."""
    clients = {c: make_folder_client(tmp_path / c, n=12, seed=i) for i, c in enumerate("abc")}
    folders = {
        "images": "images",
        "masks": "masks",
        "mask_name": "{stem}_mask.png",
        "labels": "labels.csv",
        "clients": {c: str(p) for c, p in clients.items()},
    }
    task = {"source": "folders", "clients": list(clients), "image_size": 32, "channels": 1}
    task.update(split=SPLIT, real={"folders": folders})
    extra = {"tasks": {"clinics": task}, "tables": {"table1": {"task": "clinics", "rows": ROWS}}}
    work = tmp_path / "work"
    work.mkdir()
    snakemake(work, extra, "--quiet", "all", "--", "results/tiny/table1.csv")
    with open(work / "results" / "tiny" / "table1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["local", "fedavg", "fedmix-tmi"]
    assert all(0.0 <= float(r["dice_avg"]) <= 1.0 for r in rows)
    for c in "abc":
        manifest = yaml.safe_load(
            (work / f"resources/tiny/clinics/standardized/{c}.manifest.json").read_text()
        )
        assert f"folders/{c} manifest {manifest['digest'][:23]} (25 files)" in rows[0]["data"]


@pytest.mark.workflow
def test_open_breast_preset_plans_downloads_verification_and_table1(tmp_path):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(ROOT / "config" / "open-breast.yaml"), "-n", "--quiet", "rules"]
    target = "results/open-breast/table1.csv"
    result = subprocess.run([*cmd, "--", target], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    # download = fetch + verify by content (BUSI, BUS-BRA); 9 rows x 3 seeds
    assert counts["download"] == 2 and counts["standardize"] == 2, counts
    assert counts["train"] == 27 and counts["table"] == 1, counts
    assert "busbra                   licence not accepted" in result.stderr
    assert "zenodo.7730709" in result.stderr
