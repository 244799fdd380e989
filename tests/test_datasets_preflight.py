"""Preflight: every needed dataset's state at once, and `fedmix data check`."""

from pathlib import Path

import pytest
import yaml
from fakes import make_busi_folder, make_udiat_folder, write_xlsx

from fedmix.cli import main
from fedmix.config import validate_config
from fedmix.datasets import dataset_entry, preflight, preflight_rows, prepare_dataset, write_ready

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path):
    """The paper config with BUSI extracted (present), UDIAT placed and verified, BUSIS absent,
    HAM10000 neither there nor its licence accepted, RETOUCH (placed by hand) absent."""
    busi = make_busi_folder(tmp_path / "mirror" / "Dataset_BUSI_with_GT")
    udiat = make_udiat_folder(tmp_path / "dl" / "udiat", n=163)
    write_xlsx(
        udiat / "DatasetB.xlsx", [("Image", "Type")] + [(f"{k:06d}", "B") for k in range(1, 164)]
    )
    raw = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    raw["datasets"] = {"root": str(tmp_path / "dl"), "paths": {"busi": str(busi)}}
    cfg = validate_config(raw)
    write_ready(
        tmp_path / "dl" / "udiat.ready.json",
        prepare_dataset(dataset_entry(cfg["datasets"], "udiat")),
    )
    return cfg, raw


def test_every_dataset_is_listed_with_its_state_and_what_to_do(config, tmp_path):
    cfg, _ = config
    rows = {key: (users, state, detail) for key, users, state, detail in preflight_rows(cfg)}
    assert list(rows) == ["busi", "busis", "udiat", "retouch", "ham10000"]
    assert rows["busi"][1] == "present" and "Dataset_BUSI_with_GT" in rows["busi"][2]
    assert rows["udiat"][1] == "verified" and rows["udiat"][2].startswith("udiat manifest sha256:")
    assert rows["udiat"][2].endswith("(327 files)")
    assert rows["busis"][1] == "missing" and "cvprip" in rows["busis"][2]
    assert str(tmp_path / "dl" / "busis") in rows["busis"][2]
    assert rows["ham10000"][1] == "licence not accepted"
    assert "accept_licences" in rows["ham10000"][2] and "CC BY-NC 4.0" in rows["ham10000"][2]
    assert (
        rows["ham10000"][0]
        == "skin/rosendahl, skin/vidir_modern, skin/vienna_dias, skin/vidir_molemax"
    )
    text, ok = preflight(cfg)
    assert rows["retouch"][1] == "missing" and "retouch" in rows["retouch"][2].lower()
    assert not ok and text.startswith("fedmix data check: 5 dataset(s), 3 blocking")


def test_full_check_verifies_present_copies_and_editing_a_setting_unverifies(config):
    cfg, _ = config
    rows = {r[0]: r for r in preflight_rows(cfg, full=True)}
    assert rows["busi"][2] == "problem" and "1552 missing" in rows["busi"][3]  # 4 of 780
    cfg["datasets"]["allow_partial"] = ["udiat"]  # another entry than the one verified
    assert {r[0]: r[2] for r in preflight_rows(cfg)}["udiat"] == "present"


def test_cli_prints_the_check_and_exits_1_when_blocked(config, tmp_path, capsys):
    _, raw = config
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["data", "check", "--configfile", str(path)]) == 1
    out = capsys.readouterr().out
    assert "busis" in out and "missing" in out and "licence not accepted" in out
    synthetic = tmp_path / "synthetic.yaml"
    synthetic.write_text((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    assert main(["data", "check", "--configfile", str(synthetic)]) == 0
    assert "no real data needed" in capsys.readouterr().out
