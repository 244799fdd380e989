"""Table 1 from scratch, twice, through Snakemake on the tiny config: byte-identical results."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
# Three rows keep the test short; they cover local, federated and two-stream training.
ROWS = """
tables:
  table1:
    task: synthetic-breast
    rows:
      - {method: local,      setting: L-L-L, label: "LL"}
      - {method: fedavg,     setting: U-U-L, label: "FedAvg (pixel-labelled client only)"}
      - {method: fedmix-tmi, setting: I-B-L, label: "FedMix (TMI)"}
"""


def build_table1(workdir: Path) -> Path:
    rows = workdir / "rows.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    rows.write_text(ROWS)
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(TINY), str(rows), "--cores", "2", "--quiet", "all"]
    cmd += ["--", "results/tiny/table1.csv"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir / "results" / "tiny"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Table 1 built twice from scratch in two folders (the log test reads the first)."""
    root = tmp_path_factory.mktemp("table1")
    return build_table1(root / "a"), build_table1(root / "b")


@pytest.mark.workflow
def test_table1_twice_from_scratch_is_byte_identical(two_builds):
    first, second = two_builds
    for name in ("table1.csv", "table1.md", "table1.tex"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    with open(first / "table1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["local", "fedavg", "fedmix-tmi"]
    assert all(
        r["data"].startswith("synthetic") and r["selection"] == "validation (L clients)"
        for r in rows
    )
    assert all(0.0 <= float(r["dice_avg"]) <= 1.0 for r in rows)
    run = first / "synthetic-breast/fedmix-tmi/I-B-L/seed0"
    for name in ("best.pt", "final.pt", "history.csv", "config.json", "eval_best_clients.csv"):
        assert (run / name).is_file(), name


@pytest.mark.workflow
def test_training_log_under_snakemake_is_readable_lines(two_builds):
    """Not a terminal: a header, one line per reported round (tiny: 2 rounds, both), a summary."""
    workdir = two_builds[0].parents[1]
    log = workdir / "logs/tiny/synthetic-breast/fedmix-tmi/I-B-L/seed0/train.log"
    text = log.read_text()
    assert "\r" not in text  # no carriage-return progress bar
    lines = [
        line.split(" fedmix.train: ", 1)[1]
        for line in text.splitlines()
        if " fedmix.train: " in line
    ]
    assert lines[0].startswith("run synthetic-breast: fedmix-tmi I-B-L seed 0")
    header = dict(line.strip().split(": ", 1) for line in lines[1:7])
    assert header["clients (supervision, training images)"].startswith("bus I ")
    assert "parameters" in header["model"] and header["device"].startswith("cpu")
    rounds = [line for line in lines if line.startswith("round ")]
    assert [r.split(" |")[0] for r in rounds] == ["round 1/2", "round 2/2"]
    assert all("loss bus" in r and "w bus" in r and "val Dice" in r and "ETA" in r for r in rounds)
    assert lines[-1].startswith("done: best round") and "best.pt" in lines[-1]


@pytest.mark.workflow
def test_paper_config_plans_every_paper_table(tmp_path):
    """The real-data DAG (no data here): every run of Tables 1-3 resolves (settings, selection
    scope, hyper-parameters) and is planned, from download to table."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(ROOT / "config" / "paper.yaml"), "-n", "--quiet", "rules"]
    cmd += ["--", *(f"results/paper/table{n}.csv" for n in (1, 2, 3))]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    # 3 seeds x (10 breast rows of Table 1 + 9 skin rows of Table 2 + 9 new rows of Table 3)
    assert counts["train"] == 84 and counts["evaluate"] == 28 and counts["table"] == 3, counts
    assert counts["standardize"] == 7  # 3 breast + 4 skin clients
    assert counts["normals"] == 1  # BUSI's normal images, for the runs whose rule adds them
