"""Download -> standardize -> degrade on miniature fakes, offline, through the real code path."""

import numpy as np
import pytest
from fakes import (
    disc,
    fake_registry,
    make_busi_zip,
    make_ham_files,
    make_isic2018_zips,
    serve,
    write_image,
)
from PIL import Image

from fedmix.data.degrade import degrade_file, holdout_file, normals_file
from fedmix.datasets.download import fetch_dataset
from fedmix.datasets.readers import DataLayoutError, list_busi
from fedmix.datasets.standardize import load_mask, standardize_client
from fedmix.file_layout import SUPERVISION_FIELDS
from fedmix.io import read_h5, write_h5

SPLIT = {"mode": "grouped", "val_fraction": 0.0, "test_fraction": 0.25, "seed": 0}
SKIN = ["rosendahl", "vidir_modern", "vienna_dias", "vidir_molemax"]


def task(source, clients, size=16, split=SPLIT, **real):
    return {
        "source": source,
        "clients": clients,
        "image_size": size,
        "channels": 1,
        "split": dict(split),
        "real": real,
    }


def download(tmp_path, key, files):
    dcfg = {"root": str(tmp_path / "dl"), "accept_licences": [key], "urls": {}}
    with serve(next(iter(files.values())).parent) as url:
        fetch_dataset(key, dcfg, fake_registry(files, url))
    return dcfg


def test_busi_end_to_end(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    dcfg = download(tmp_path, "busi", {"Dataset_BUSI.zip": make_busi_zip(served)})
    arrays, attrs = standardize_client(
        "breast", "bus", task("breast", ["bus"], normal_images="none"), dcfg
    )
    assert arrays["sample_ids"].tolist() == ["benign (1)", "benign (2)", "malignant (1)"]
    assert arrays["images"].shape == (3, 1, 16, 16) and arrays["images"].dtype == np.uint8
    assert arrays["diagnosis"].tolist() == [1, 1, 2] and arrays["lesion"].tolist() == [1, 1, 1]
    # benign (2): two discs in _mask.png and _mask_1.png, OR-merged, then nearest-resized.
    expected = Image.fromarray(disc(44, 36, 10, 10, 5) | disc(44, 36, 30, 26, 6))
    expected = np.asarray(expected.resize((16, 16), Image.Resampling.NEAREST)) // 255
    assert np.array_equal(arrays["masks"][1], expected)
    assert set(np.unique(arrays["masks"])) == {0, 1}
    assert attrs["source"] == "breast" and attrs["licence"] == "CC BY 4.0"
    path = write_h5(tmp_path / "bus.h5", arrays, attrs)
    back, back_attrs = read_h5(path)
    assert np.array_equal(back["masks"], arrays["masks"]) and back_attrs["client"] == "bus"
    # ... and on through label degradation, as the degrade and holdout rules run it.
    train = arrays["split"] == 0
    for letter in SUPERVISION_FIELDS:
        out = degrade_file(path, tmp_path / f"bus.{letter}.h5", letter)
        degraded, meta = read_h5(out)
        assert set(degraded) == set(SUPERVISION_FIELDS[letter]) and meta["supervision"] == letter
        assert degraded["sample_ids"].tolist() == arrays["sample_ids"][train].tolist()
    boxes, _ = read_h5(tmp_path / "bus.B.h5")
    assert boxes["box_valid"].all() and (boxes["boxes"][:, 2:] > boxes["boxes"][:, :2]).all()
    test, _ = read_h5(holdout_file(path, tmp_path / "bus.test.h5", "test"))
    assert np.array_equal(test["masks"], arrays["masks"][arrays["split"] == 2])


def test_busi_normal_images_stay_out_of_the_split_and_go_to_their_own_file(tmp_path):
    """By default (auto, as tmi and arxiv) normals are never val/test, the tumour images' split
    is the one made without them, and no degraded file holds them: the normals file does, and
    each run adds it where its rule says (fedmix.data.normals)."""
    served = tmp_path / "served"
    served.mkdir()
    dcfg = download(tmp_path, "busi", {"Dataset_BUSI.zip": make_busi_zip(served)})
    split = {"mode": "grouped", "val_fraction": 0.0, "test_fraction": 0.34, "seed": 0}
    without, _ = standardize_client(
        "breast", "bus", task("breast", ["bus"], split=split, normal_images="none"), dcfg
    )
    assert "normal (1)" not in without["sample_ids"]
    for rule in ("auto", "tmi", "arxiv"):
        arrays, attrs = standardize_client(
            "breast", "bus", task("breast", ["bus"], split=split, normal_images=rule), dcfg
        )
        normal = arrays["sample_ids"] == "normal (1)"
        assert normal.sum() == 1 and arrays["lesion"][normal] == 0
        assert arrays["split"][normal].tolist() == [3]
        assert attrs["split_names"][3] == "unlabelled_extra"
        assert arrays["split"][~normal].tolist() == without["split"].tolist()
    path = write_h5(tmp_path / "bus.h5", arrays, attrs)
    for letter in SUPERVISION_FIELDS:
        ids = read_h5(degrade_file(path, tmp_path / f"bus.{letter}.h5", letter))[0]["sample_ids"]
        assert "normal (1)" not in ids.tolist(), letter
    normals, meta = read_h5(normals_file(path, tmp_path / "normals.h5"))
    assert normals["sample_ids"].tolist() == ["normal (1)"] and set(normals) == {
        "images",
        "sample_ids",
    }
    assert meta["supervision"] == "U"
    test_ids = read_h5(holdout_file(path, tmp_path / "bus.test.h5", "test"))[0]["sample_ids"]
    assert "normal (1)" not in test_ids.tolist()
    every, _ = standardize_client(
        "breast", "bus", task("breast", ["bus"], split=split, normal_images="all"), dcfg
    )
    assert set(every["split"].tolist()) <= {0, 1, 2} and "normal (1)" in every["sample_ids"]


def test_ham10000_end_to_end_and_shared_lesion_rule(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    dcfg = download(tmp_path, "ham10000", make_ham_files(served))
    t = task("ham10000", SKIN, size=8)
    out = {c: standardize_client("skin", c, t, dcfg)[0] for c in SKIN}
    assert out["rosendahl"]["sample_ids"].tolist() == [
        "ISIC_0024306",
        "ISIC_0024307",
        "ISIC_0024308",
    ]
    assert out["rosendahl"]["diagnosis"].tolist() == [2, 2, 1]  # mel, mel, nv
    # HAM_0000009 is at vidir_modern first, so its vidir_molemax image is dropped.
    assert "ISIC_0024309" in out["vidir_modern"]["sample_ids"]
    assert out["vidir_molemax"]["sample_ids"].tolist() == ["ISIC_0024313", "ISIC_0024314"]
    split = out["rosendahl"]["split"]
    assert split[0] == split[1]  # the two images of lesion HAM_0000001
    paper = task("ham10000", SKIN, size=8, split={**SPLIT, "mode": "paper", "test_fraction": 0.2})
    molemax, attrs = standardize_client("skin", "vidir_molemax", paper, dcfg)
    assert len(molemax["sample_ids"]) == 3 and attrs["params"]["dropped_shared_lesion_images"] == 0


def test_isic2018_keeps_only_image_and_mask_files(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    dcfg = download(tmp_path, "isic2018", make_isic2018_zips(served))
    arrays, _ = standardize_client("isic", "isic2018", task("isic2018", ["isic2018"]), dcfg)
    assert len(arrays["sample_ids"]) == 6 and arrays["masks"].shape == (6, 16, 16)


@pytest.fixture
def busi_folder(tmp_path):
    top = tmp_path / "busi" / "Dataset_BUSI_with_GT" / "benign"
    for k in (1, 2, 3):
        write_image(top / f"benign ({k}).png", 20, 20, seed=k)
        Image.fromarray(disc(20, 20, 10, 10, 4)).save(top / f"benign ({k})_mask.png")
    return tmp_path / "busi", top


def test_image_without_mask_is_listed(busi_folder):
    folder, top = busi_folder
    (top / "benign (2)_mask.png").unlink()
    (top / "benign (3)_mask.png").unlink()
    with pytest.raises(
        DataLayoutError, match=r"2 image\(s\) without a mask: benign \(2\), benign \(3\)"
    ):
        list_busi(folder)


def test_mask_without_image_is_listed(busi_folder):
    folder, top = busi_folder
    (top / "benign (1).png").unlink()
    with pytest.raises(DataLayoutError, match=r"mask\(s\) without an image: benign \(1\)"):
        list_busi(folder)


def test_mask_with_value_7_names_the_file(tmp_path, busi_folder):
    folder, top = busi_folder
    bad = disc(20, 20, 10, 10, 4)
    bad[0, 0] = 7
    Image.fromarray(bad).save(top / "benign (3)_mask.png")
    with pytest.raises(DataLayoutError, match=r"benign \(3\)_mask\.png: mask values \[7\]"):
        load_mask([top / "benign (3)_mask.png"])
    dcfg = {"root": str(tmp_path), "paths": {"busi": str(folder)}}
    with pytest.raises(DataLayoutError, match=r"(?s)1 bad mask.*benign \(3\)_mask\.png.*\[7\]"):
        standardize_client("breast", "bus", task("breast", ["bus"]), dcfg)
