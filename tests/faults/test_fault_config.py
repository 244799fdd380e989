"""Config values that would escape the project or poison a run are refused by the schema."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fedmix.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
SAFE_NAME = r"a letter or digit, then letters, digits, '_', '\.' or '-'"


def renamed(section: str, old: str, new: str) -> dict:
    config = copy.deepcopy(DEFAULT)
    config[section] = {new if k == old else k: v for k, v in config[section].items()}
    for table in config["tables"].values():  # keep the cross-references valid
        table["task"] = new if (section, table["task"]) == ("tasks", old) else table["task"]
        for row in table["rows"]:
            row["method"] = new if (section, row["method"]) == ("methods", old) else row["method"]
    return config


@pytest.mark.parametrize(
    ("section", "old", "new", "words"),
    [
        ("tasks", "synthetic-breast", "../../escape", r"\['tasks'\]: the name '\.\./\.\./escape'"),
        ("tasks", "synthetic-breast", "..", r"config\['tasks'\]: the name '\.\.' is not allowed"),
        ("tasks", "synthetic-breast", "a/b", r"config\['tasks'\]: the name 'a/b' is not allowed"),
        ("methods", "fedavg", "..", r"config\['methods'\]: the name '\.\.' is not allowed"),
        ("methods", "fedavg", ".hidden", r"config\['methods'\]: the name '\.hidden'"),
        ("tables", "table1", "mytable", r"config\['tables'\]: the name 'mytable' is not allowed: "
         r"table names are 'table' followed by a number"),
    ],
)  # fmt: skip
def test_names_that_become_paths_follow_a_safe_pattern(section, old, new, words):
    with pytest.raises(ConfigError, match=words) as caught:
        validate_config(renamed(section, old, new))
    if section != "tables":
        assert "no '/'" in str(caught.value)
        assert SAFE_NAME.replace("\\", "") in str(caught.value)


def test_client_names_follow_a_safe_pattern():
    config = copy.deepcopy(DEFAULT)
    task = config["tasks"]["synthetic-breast"]
    task["clients"][0] = "../bus"
    task["synthetic"]["clients"]["../bus"] = task["synthetic"]["clients"].pop("bus")
    with pytest.raises(ConfigError, match=r"\['clients'\]\[0\]: '\.\./bus' does not match .*"
                       r"Allowed: client name: a letter or digit"):  # fmt: skip
        validate_config(config)


# YAML as a user writes it; .nan and .inf are YAML's NaN and infinity.
@pytest.mark.parametrize(
    ("yaml_text", "where", "words"),
    [
        ("training: {lr: .nan}", r"config\['training'\]\['lr'\]", "finite number"),
        ("training: {lr: .inf}", r"config\['training'\]\['lr'\]", "finite number"),
        ("training: {weight_decay: -.inf}", r"\['weight_decay'\]", "finite number"),
        ("methods: {fedmix-tmi: {algorithm: fedmix, variant: tmi, beta: .nan}}",
         r"config\['methods'\]\['fedmix-tmi'\].*\['beta'\]", "finite number"),
        ("training: {rounds: 2.0}", r"config\['training'\]\['rounds'\]", "not a whole number"),
        ("seeds: [0, 1.0]", r"config\['seeds'\]\[1\]", "not a whole number"),
        ("training: {lr: '0.001'}", r"config\['training'\]\['lr'\]",
         "In a YAML file, write the value without quotes"),
    ],
)  # fmt: skip
def test_non_finite_and_non_integer_numbers_are_refused(yaml_text, where, words):
    config = copy.deepcopy(DEFAULT)
    for key, value in yaml.safe_load(yaml_text).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=where + ".*" + words):
        validate_config(config)


@pytest.mark.workflow
def test_escaping_task_name_stops_snakemake_before_writing_anything(tmp_path):
    """A dry run with a task named ../../escape fails at load time, naming the key."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    config = renamed("tasks", "synthetic-breast", "../../escape")
    (work / "bad.yaml").write_text(yaml.safe_dump(config))
    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [str(snakemake), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work)]
    cmd += ["--configfile", str(work / "bad.yaml"), "--cores", "1", "--dry-run"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (
        "config['tasks']: the name '../../escape' is not allowed" in result.stdout + result.stderr
    )
    outside = sorted(p.name for p in tmp_path.rglob("*") if "escape" in p.name)
    assert outside == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a"]
