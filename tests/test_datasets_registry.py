"""Registry facts, their agreement with the config schema, and config/paper.yaml."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fedmix.config import ConfigError, load_schema, resolve_run, validate_config
from fedmix.datasets.federations import FEDERATIONS, client_dataset
from fedmix.datasets.registry import REGISTRY

REPO = Path(__file__).resolve().parents[1]


def test_every_file_has_an_algorithm_prefixed_hash():
    for ds in REGISTRY.values():
        for f in ds.files:
            if ds.key == "busbra":  # no published hash: recorded on first download
                assert f.known_hash == ""
                continue
            alg, digest = f.known_hash.split(":")
            assert (alg, len(digest)) in {("sha256", 64), ("md5", 32)}, f.name
        assert ds.access in {"automatic", "request-only"} and ds.licence and ds.citation
        if ds.access == "request-only":
            assert not ds.files and "agreement" in ds.request


def test_schema_lists_exactly_the_registry():
    props = load_schema()["properties"]["datasets"]["properties"]
    automatic = sorted(k for k, d in REGISTRY.items() if d.access == "automatic")
    assert sorted(props["accept_licences"]["items"]["enum"]) == automatic
    assert sorted(props["paths"]["properties"]) == sorted(REGISTRY)
    files = sorted(f.name for d in REGISTRY.values() for f in d.files)
    assert sorted(props["urls"]["properties"]) == files
    assert sorted(props["allow_partial"]["items"]["enum"]) == sorted(REGISTRY)
    task = load_schema()["properties"]["tasks"]["additionalProperties"]["properties"]
    assert sorted(task["source"]["enum"]) == sorted(["synthetic", "folders", *FEDERATIONS])


def test_client_outside_the_federation_names_the_valid_ones():
    assert client_dataset("ham10000", "vienna_dias") == ("ham10000", "vienna_dias")
    with pytest.raises(ValueError, match=r"'bus', 'busis', 'udiat'"):
        client_dataset("breast", "busi")


@pytest.fixture(scope="module")
def paper():
    return validate_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))


def test_paper_config_holds_the_paper_hyper_parameters(paper):
    run = resolve_run(paper, "skin", "fedmix-tmi", "B-B-L-B", 2)
    assert (run.rounds, run.batch_size, run.image_size, run.crop_size) == (300, 16, 256, 224)
    assert (run.model.params.width, run.model.params.levels) == (64, 5)
    assert (run.params.lambda_, run.params.beta, run.params.tau) == (10.0, 3.0, 0.9)
    assert resolve_run(paper, "breast", "fedmix-tmi", "I-B-L", 0).params.beta == 1.5
    assert paper["seeds"] == [0, 1, 2] and paper["datasets"]["accept_licences"] == []
    assert {t["task"] for t in paper["tables"].values()} == {"breast", "skin", "retouch"}
    assert paper["tasks"]["breast"]["source"] == "breast"


def test_datasets_block_rejects_unknown_keys_and_licences(paper):
    bad = {**paper, "datasets": {"accept_licence": ["busi"]}}
    with pytest.raises(ConfigError, match="accept_licence"):
        validate_config(bad)
    with pytest.raises(ConfigError, match="busis"):
        validate_config({**paper, "datasets": {"accept_licences": ["busis"]}})


@pytest.mark.workflow
def test_paper_config_dry_run_builds_real_data_through_standardize():
    out = subprocess.run(
        [
            Path(sys.executable).parent / "snakemake",
            "-n",
            "--configfile",
            "config/paper.yaml",
            "--cores",
            "1",
            "results/paper/table2.csv",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = dict(
        line.split()[:2]
        for line in out.splitlines()
        if line.split()[:1] in (["download"], ["standardize"], ["synthesize"], ["verify_manual"])
    )
    assert counts == {"download": "1", "standardize": "4"}
