"""Checks of hand-placed request-only data (BUSIS, UDIAT) on miniature fakes."""

import pytest
from fakes import disc, fake_registry, make_busis_folder, make_udiat_folder
from PIL import Image

from fedmix.datasets.manual import ManualDataError, verify_manual
from fedmix.datasets.standardize import standardize_client

SMALL_COUNTS = {"busis": {"images": 3}, "udiat": {"images": 3}}
SMALL = fake_registry({}, None, counts=SMALL_COUNTS)


def dcfg(tmp_path):
    return {"root": str(tmp_path / "dl")}


def test_busis_and_udiat_fakes_verify_and_standardize(tmp_path):
    make_busis_folder(tmp_path / "dl" / "busis")
    make_udiat_folder(tmp_path / "dl" / "udiat")
    assert verify_manual("busis", dcfg(tmp_path), SMALL)["counts"] == {
        "images": 3,
        "benign": 2,
        "malignant": 1,
    }
    assert verify_manual("udiat", dcfg(tmp_path), SMALL)["counts"]["malignant"] == 1
    split = {"mode": "grouped", "val_fraction": 0.0, "test_fraction": 0.34, "seed": 0}
    t = {
        "source": "breast",
        "clients": ["bus", "busis", "udiat"],
        "image_size": 8,
        "channels": 1,
        "split": split,
    }
    arrays, _ = standardize_client("breast", "udiat", t, dcfg(tmp_path))
    assert arrays["sample_ids"].tolist() == ["000001", "000002", "000003"]
    assert arrays["diagnosis"].tolist() == [1, 2, 1] and (arrays["split"] == 2).sum() == 1
    arrays, _ = standardize_client("breast", "busis", t, dcfg(tmp_path))
    assert arrays["sample_ids"].tolist() == ["case001", "case002", "case003"]


def test_missing_folder_names_folder_expectation_and_where_to_request(tmp_path):
    with pytest.raises(ManualDataError) as err:
        verify_manual("udiat", dcfg(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "dl" / "udiat") in msg and "no such folder" in msg
    assert "Expected: 163 images" in msg and "Manchester Metropolitan" in msg


def test_udiat_class_split_is_reported_as_found_not_checked(tmp_path):
    # the dataset paper says 110/53, a circulating DatasetB.xlsx 109/54: only the total counts
    make_udiat_folder(tmp_path / "dl" / "udiat", n=3)  # 2 benign, 1 malignant
    counts = verify_manual("udiat", dcfg(tmp_path), SMALL)["counts"]
    assert counts == {"images": 3, "benign": 2, "malignant": 1}
    make_udiat_folder(tmp_path / "dl" / "udiat", n=4)
    with pytest.raises(ManualDataError, match=r"Expected: 3 images.*Found: 4 images"):
        verify_manual("udiat", dcfg(tmp_path), SMALL)


def test_wrong_count_is_reported_with_what_was_found(tmp_path):
    make_busis_folder(tmp_path / "dl" / "busis", n=3)
    with pytest.raises(ManualDataError, match=r"Expected: 562 images.*Found: 3 images.*cvprip"):
        verify_manual("busis", dcfg(tmp_path))


def test_missing_mask_file_is_listed(tmp_path):
    folder = make_busis_folder(tmp_path / "dl" / "busis")
    (folder / "GT" / "case002_GT.bmp").unlink()
    with pytest.raises(ManualDataError, match=r"listed in BUSIS562.csv but missing: GT/case002_GT"):
        verify_manual("busis", dcfg(tmp_path), SMALL)


def test_mask_not_0_255_is_reported(tmp_path):
    folder = make_udiat_folder(tmp_path / "dl" / "udiat")
    Image.fromarray(disc(30, 34, 15, 17, 6) // 255).save(folder / "GT" / "000002.png")
    with pytest.raises(ManualDataError, match=r"not 0/255.*000002\.png: mask values \[1\]"):
        verify_manual("udiat", dcfg(tmp_path), SMALL)
