"""Snakemake end to end on tests/configs/tiny.yaml: synthesis, degradation, held-out splits."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from fedmix.config import parse_setting, validate_config
from fedmix.file_layout import supervision_fields
from fedmix.io import read_h5

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def _train_files(config):
    """{(task, client, letter)} for every setting named by any table."""
    files = set()
    for table in config["tables"].values():
        clients = config["tasks"][table["task"]]["clients"]
        for row in table["rows"]:
            letters = parse_setting(row["setting"], len(clients))
            files.update((table["task"], c, s) for c, s in zip(clients, letters, strict=True))
    return sorted(files)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    config = validate_config(yaml.safe_load(TINY.read_text()))
    workdir = tmp_path_factory.mktemp("workflow")
    train = _train_files(config)
    targets = [f"resources/tiny/{t}/train/{c}.{s}.h5" for t, c, s in train]
    targets += [
        f"resources/tiny/{t}/{split}/{c}.h5"
        for t, task in config["tasks"].items()
        for c in task["clients"]
        for split in ("val", "test")
    ]
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(TINY), "--cores", "2", "--quiet", "all", "--", *targets]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, config, train


@pytest.mark.workflow
def test_every_train_file_holds_only_what_its_letter_allows(built):
    workdir, config, train = built
    letters = {s for _, _, s in train}
    assert letters == {"L", "B", "I", "U"}  # the tables exercise every supervision level
    for task, client, letter in train:
        path = workdir / f"resources/tiny/{task}/train/{client}.{letter}.h5"
        multiclass = "classes" in config["tasks"][task]
        with h5py.File(path) as f:
            assert set(f.keys()) == set(supervision_fields(letter, multiclass)), path
            assert f.attrs["supervision"] == letter and f.attrs["client"] == client


@pytest.mark.workflow
def test_weak_files_do_not_contain_the_masks(built):
    workdir, _, train = built
    for task, client, letter in train:
        if letter == "L":
            continue
        std, _ = read_h5(workdir / f"resources/tiny/{task}/standardized/{client}.h5")
        masks = std["masks"][std["split"] == 0]
        lesion_masks = [m.tobytes() for m in masks if m.any()]
        assert lesion_masks, f"{task}/{client}: no lesion in the train split; test is vacuous"
        weak, _ = read_h5(workdir / f"resources/tiny/{task}/train/{client}.{letter}.h5")
        assert "masks" not in weak
        for name, array in weak.items():
            assert not (array.shape == masks.shape and np.array_equal(array, masks)), name
            if array.dtype.kind in "iub":
                raw = np.ascontiguousarray(array).tobytes()
                assert not any(m in raw for m in lesion_masks), f"{task}/{client}.{letter}: {name}"


@pytest.mark.workflow
def test_pixel_files_and_held_out_splits_partition_each_client(built):
    workdir, config, _ = built
    for task, spec in config["tasks"].items():
        for client in spec["clients"]:
            std, _ = read_h5(workdir / f"resources/tiny/{task}/standardized/{client}.h5")
            full, _ = read_h5(workdir / f"resources/tiny/{task}/train/{client}.L.h5")
            ids = {"train": full["sample_ids"]}
            np.testing.assert_array_equal(full["masks"], std["masks"][std["split"] == 0])
            for split in ("val", "test"):
                held, attrs = read_h5(workdir / f"resources/tiny/{task}/{split}/{client}.h5")
                assert attrs["kind"] == "eval" and attrs["split"] == split
                ids[split] = held["sample_ids"]
            together = np.concatenate(list(ids.values()))
            assert len(together) == len(set(together)) == len(std["sample_ids"])
