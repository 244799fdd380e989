"""Bring your own copy: extracted folders verified by content, manifests, partial copies."""

import shutil
import zipfile

import numpy as np
import pytest
from fakes import (
    BUSI_COUNTS,
    disc,
    fake_registry,
    make_busbra_folder,
    make_busi_folder,
    make_busi_zip,
    make_busis_folder,
    make_udiat_folder,
    write_image,
    write_xlsx,
)
from PIL import Image

from fedmix.data.degrade import degrade_file, holdout_file
from fedmix.datasets import (
    DataLayoutError,
    MissingDataError,
    PartialDataError,
    dataset_entry,
    prepare_dataset,
    verify_folder,
)
from fedmix.datasets.standardize import standardize_client
from fedmix.evaluate import describe_files
from fedmix.io import read_h5, write_h5

SMALL = fake_registry({}, None, counts={"busi": BUSI_COUNTS, "busbra": {"images": 4}})
# A URL nothing listens on: a download attempt would fail loudly.
DEAD = fake_registry({}, None, counts={"busi": BUSI_COUNTS})
SPLIT = {"mode": "grouped", "val_fraction": 0.0, "test_fraction": 0.34, "seed": 0}


def task(source, clients):
    return {"source": source, "clients": clients, "image_size": 16, "channels": 1, "split": SPLIT}


def entry(tmp_path, key, path=None, partial=False):
    cfg = {"root": str(tmp_path / "dl"), "paths": {key: str(path)} if path else {}}
    cfg["allow_partial"] = [key] if partial else []
    return dataset_entry(cfg, key)


@pytest.fixture
def official(tmp_path):
    """The official zip extracted where the download rule would put it (nested two deep)."""
    archive = make_busi_zip(tmp_path / "src")
    folder = tmp_path / "dl" / "busi"
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder / "Dataset_BUSI")
    return folder


def test_extracted_copies_are_accepted_without_download_licence_or_marker(tmp_path, official):
    """Official layout (nested) and a mirror's folder given directly: no network is reachable
    (the registry has no URL), no licence is accepted, no marker exists."""
    mirror = make_busi_folder(tmp_path / "kaggle" / "Dataset_BUSI_with_GT")
    (mirror / ".DS_Store").write_bytes(b"finder junk")  # ignored, like __MACOSX/
    a = prepare_dataset(entry(tmp_path, "busi"), DEAD)
    b = prepare_dataset(entry(tmp_path, "busi", mirror), DEAD)
    assert a["origin"] == b["origin"] == "extracted folder" and a["archives"] == {}
    assert a["counts"] == {"images": 4, "normal": 1, "benign": 2, "malignant": 1}
    assert "benign/benign (2)_mask_1.png" in a["files"] and len(a["files"]) == 9
    assert a["digest"] == b["digest"]  # same bytes, same digest, wherever the folder lives
    assert not list((tmp_path / "dl").glob("*.ready.json"))
    Image.fromarray(np.zeros((36, 36), np.uint8)).save(
        mirror / "malignant" / "malignant (1)_mask.png"
    )
    assert verify_folder("busi", mirror, registry=DEAD)["digest"] != a["digest"]


def test_partial_copy_is_refused_with_the_first_20_missing_and_the_count(tmp_path, official):
    with pytest.raises(PartialDataError) as err:
        prepare_dataset(entry(tmp_path, "busi"))  # the real registry: 780 images, 1560 files
    msg = str(err.value)
    assert "1552 missing: benign/benign (3).png, benign/benign (3)_mask.png" in msg
    assert "(first 20 of 1552)" in msg and msg.count("_mask.png") <= 20
    assert "allow_partial" in msg


def test_extra_files_are_refused_and_listed(tmp_path, official):
    top = official / "Dataset_BUSI" / "Dataset_BUSI_with_GT"
    write_image(top / "benign" / "benign (3).png", 20, 20, seed=9)
    shutil.copy(top / "benign" / "benign (1).png", top / "benign (1).png")  # stray copy
    with pytest.raises(
        PartialDataError,
        match=r"2 extra: Dataset_BUSI_with_GT/benign \(1\)\.png, benign/benign \(3\)\.png",
    ):
        prepare_dataset(entry(tmp_path, "busi"), DEAD)


def test_allow_partial_is_flagged_in_manifest_hdf5_and_table_data(tmp_path, official):
    manifest = prepare_dataset(entry(tmp_path, "busi", partial=True))  # real registry
    assert manifest["partial"] == {"missing": 1552, "extra": 0}
    dcfg = {"root": str(tmp_path / "dl")}
    arrays, attrs = standardize_client("breast", "bus", task("breast", ["bus"]), dcfg, manifest)
    assert (
        attrs["data_partial"] == 1
        and "PARTIAL (allow_partial: 1552 missing" in (attrs["source_version"])
    )
    assert attrs["data_manifest_digest"] == manifest["digest"]
    std = write_h5(tmp_path / "bus.h5", arrays, attrs)
    test = holdout_file(std, tmp_path / "bus.test.h5", "test")
    train = degrade_file(std, tmp_path / "bus.B.h5", "B")
    assert read_h5(train, ())[1]["data_partial"] == 1
    text = describe_files("real (breast)", [str(test)])  # what the tables' data column shows
    assert text.startswith("real (breast) [busi manifest sha256:") and "PARTIAL" in text


def test_unreadable_image_is_named_with_what_to_do(tmp_path, official):
    bad = official / "Dataset_BUSI" / "Dataset_BUSI_with_GT" / "benign" / "benign (1).png"
    bad.write_bytes(bad.read_bytes()[:60])  # a download cut short
    with pytest.raises(DataLayoutError, match=r"benign \(1\)\.png: not a readable image.*replace"):
        prepare_dataset(entry(tmp_path, "busi"), DEAD)


def test_request_only_dataset_absent_says_where_to_get_and_put_it(tmp_path):
    with pytest.raises(MissingDataError) as err:
        prepare_dataset(entry(tmp_path, "busis"))
    msg = str(err.value)
    assert "cvprip" in msg and str(tmp_path / "dl" / "busis") in msg and "datasets.paths" in msg


def test_udiat_checked_by_total_and_names_and_class_split_reported(tmp_path):
    folder = make_udiat_folder(tmp_path / "udiat", n=4)
    registry = fake_registry({}, None, counts={"udiat": {"images": 4}})
    rows = [("Image", "Type"), *[(f"{k:06d}", t) for k, t in enumerate("BBMM", 1)]]
    write_xlsx(folder / "DatasetB.xlsx", rows)  # any class split passes: it is reported
    manifest = verify_folder("udiat", folder, registry=registry)
    assert manifest["counts"] == {"images": 4, "benign": 2, "malignant": 2}
    with pytest.raises(PartialDataError, match=r"318 missing: GT/000005\.png, GT/000006"):
        verify_folder("udiat", folder)  # the real registry: 163 images


def test_busis_names_come_from_its_csv(tmp_path):
    folder = make_busis_folder(tmp_path / "x" / "BUSIS", n=3)  # nested one deeper
    registry = fake_registry({}, None, counts={"busis": {"images": 3}})
    assert verify_folder("busis", tmp_path / "x", registry=registry)["counts"]["images"] == 3
    (folder / "GT" / "case002_GT.bmp").unlink()
    with pytest.raises(PartialDataError, match=r"1 missing: GT/case002_GT\.bmp"):
        verify_folder("busis", tmp_path / "x", registry=registry)


def test_busbra_layout_verifies_and_groups_views_of_a_case(tmp_path):
    folder = make_busbra_folder(tmp_path / "BUSBRA", n=4)
    manifest = verify_folder("busbra", folder, registry=SMALL)
    assert manifest["counts"] == {"images": 4, "benign": 3, "malignant": 1}
    Image.fromarray(disc(30, 36, 15, 18, 6) // 2).save(folder / "Masks" / "mask_0002-l.png")
    with pytest.raises(DataLayoutError, match=r"mask_0002-l\.png: mask values \[127\]"):
        verify_folder("busbra", folder, registry=SMALL)
