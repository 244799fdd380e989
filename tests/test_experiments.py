"""Two configurations never write the same file: each writes under its experiment name."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fedmix.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SHARED = "resources/downloads/"  # raw data: the same files whichever configuration reads them


def planned_paths(configfile: Path, workdir: Path) -> set[str]:
    """Every output and log path of the default target under ``configfile`` (a dry run)."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(configfile), "--dry-run"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    paths = set()
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key in ("output", "log"):
            paths.update(value.split(", "))
    return paths


@pytest.mark.workflow
def test_demo_and_paper_plan_disjoint_outputs_under_their_names(tmp_path):
    demo = planned_paths(ROOT / "config" / "config.yaml", tmp_path)
    paper = planned_paths(ROOT / "config" / "paper.yaml", tmp_path)
    assert len(demo) > 100 and len(paper) > 100  # the whole DAG, not an empty plan
    assert not demo & paper, sorted(demo & paper)[:10]
    for name, paths in (("demo", demo), ("paper", paper)):
        roots = (
            f"results/{name}/",
            f"resources/{name}/",
            f"logs/{name}/",
            SHARED,
            "logs/downloads/",
        )
        stray = sorted(p for p in paths if not p.startswith(roots))
        assert not stray, stray[:10]
    assert "results/demo/table1.csv" in demo and "results/paper/table1.csv" in paper
    assert any(p.startswith("logs/demo/synthetic-breast/") for p in demo)


def test_shipped_configs_have_distinct_experiment_names():
    names = [
        yaml.safe_load(p.read_text())["experiment"]
        for p in (
            ROOT / "config/config.yaml",
            ROOT / "config/paper.yaml",
            ROOT / "tests/configs/tiny.yaml",
        )
    ]
    assert names == ["demo", "paper", "tiny"]


def test_a_config_without_a_name_or_with_a_path_as_name_is_refused():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    with pytest.raises(ConfigError, match="experiment"):
        validate_config({k: v for k, v in config.items() if k != "experiment"})
    with pytest.raises(ConfigError, match=r"\['experiment'\]"):
        validate_config({**config, "experiment": "../demo"})


@pytest.mark.workflow
def test_help_rule_lists_every_target_with_one_line(tmp_path):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(ROOT / "tests/configs/tiny.yaml"), "--cores", "1", "help"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = (tmp_path / "logs/tiny/help.log").read_text().splitlines()
    targets = [line.split()[0] for line in lines[1:]]
    assert lines[0].startswith("Targets of experiment 'tiny'")
    for n in (1, 2, 3):
        assert f"results/tiny/table{n}.csv" in targets
    assert "results/tiny/figures/table1_overlays.png" in targets and "figures" in targets
    assert all(len(line.split(None, 1)) == 2 for line in lines[1:])  # each has a description
