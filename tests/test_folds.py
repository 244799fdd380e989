"""The authors' breast folds (split mode original) on their own names and on fakes named so."""

import numpy as np
import pytest
from fakes import disc, write_image, write_xlsx
from PIL import Image

from fedmix.config import ConfigError, validate_config
from fedmix.datasets.folds import (
    FOLDS,
    FoldError,
    expand_fold_tasks,
    fold_lists,
    load_folds,
    original_split,
    table_tasks,
)
from fedmix.datasets.standardize import standardize_client

EXPECTED = {"busi": (516, 129), "busis": (449, 113), "udiat": (130, 33)}


def all_names(dataset):
    train, test = fold_lists(dataset, 1)
    return train + test


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_every_fold_has_the_original_counts_and_covers_the_same_images(dataset):
    names = set(all_names(dataset))
    for fold in FOLDS:
        train, test = fold_lists(dataset, fold)
        assert (len(train), len(test)) == EXPECTED[dataset]
        assert not set(train) & set(test) and set(train) | set(test) == names
    assert sum(len(all_names(d)) for d in EXPECTED) == 645 + 562 + 163


def test_busi_benign_4_and_54_are_left_out_and_val_comes_from_train():
    ids = ["benign (4)", "benign (54)", *all_names("busi")]
    keep, split = original_split("busi", ids, fold=3, val_fraction=0.1, seed=5)
    assert keep.tolist()[:2] == [False, False] and keep[2:].all()
    train, test = fold_lists("busi", 3)
    ids = np.array(ids)
    assert set(ids[keep & (split == 2)]) == set(test)
    assert (split[keep] == 1).sum() == 65  # 0.1 * 645 = 64.5, rounded half up
    assert set(ids[keep & (split != 2)]) == set(train)  # val is carved from the train list
    again = original_split("busi", ids, fold=3, val_fraction=0.1, seed=5)[1]
    other = original_split("busi", ids, fold=3, val_fraction=0.1, seed=6)[1]
    assert np.array_equal(again, split) and not np.array_equal(other, split)


def test_missing_and_renamed_files_stop_with_one_error_listing_them():
    ids = all_names("busis")
    ids.remove("case7")
    ids[ids.index("case12")] = "case012"
    with pytest.raises(FoldError) as err:
        original_split("busis", ids, fold=1)
    msg = str(err.value)
    assert "2 image(s) of the authors' BUSIS list" in msg
    assert "1 missing: case7.png" in msg
    assert "case12.png (found as 'case012')" in msg


def test_unknown_fold_or_dataset_is_refused():
    with pytest.raises(FoldError, match=r"folds \[1, 2, 3, 4, 5\]"):
        fold_lists("udiat", 6)
    with pytest.raises(FoldError, match="breast datasets"):
        fold_lists("ham10000", 1)


def test_mode_original_needs_the_breast_source():
    cfg = validate_config(_minimal_config())
    assert cfg["tasks"]["b"]["split"]["fold"] == 1
    bad = _minimal_config()
    bad["tasks"]["b"]["source"] = "ham10000"
    bad["tasks"]["b"]["clients"] = ["rosendahl"]
    with pytest.raises(ConfigError, match="mode 'original'"):
        validate_config(bad)


def _minimal_config():
    return {
        "tasks": {
            "b": {
                "source": "breast",
                "clients": ["bus", "busis", "udiat"],
                "image_size": 32,
                "split": {"mode": "original"},
            }
        },
        "methods": {"fedavg": {"algorithm": "fedavg"}},
        "tables": {},
    }


def test_udiat_fake_named_as_the_lists_standardizes_to_the_fold(tmp_path):
    folder = tmp_path / "dl" / "udiat"
    rows = [("Image", "Type")]
    (folder / "GT").mkdir(parents=True)
    for k, name in enumerate(sorted(all_names("udiat"))):
        write_image(folder / "original" / f"{name}.png", 12, 12, seed=k, rgb=False)
        Image.fromarray(disc(12, 12, 6, 6, 3)).save(folder / "GT" / f"{name}.png")
        rows.append((name, "Benign" if k % 3 else "Malignant"))
    write_xlsx(folder / "DatasetB.xlsx", rows)
    task = {
        "source": "breast",
        "clients": ["bus", "busis", "udiat"],
        "image_size": 8,
        "channels": 1,
        "split": {
            "mode": "original",
            "fold": 2,
            "val_fraction": 0.1,
            "test_fraction": 0.2,
            "seed": 0,
        },
    }
    arrays, attrs = standardize_client("breast", "udiat", task, {"root": str(tmp_path / "dl")})
    split, ids = arrays["split"], arrays["sample_ids"]
    assert (split == 2).sum() == 33 and (split == 1).sum() == 16 and (split == 0).sum() == 114
    assert set(ids[split == 2]) == set(fold_lists("udiat", 2)[1])
    assert attrs["params"]["split"]["fold"] == 2
    (folder / "GT" / "000310.png").unlink()
    (folder / "original" / "000310.png").unlink()
    with pytest.raises(FoldError, match=r"1 missing: 000310\.png"):
        standardize_client("breast", "udiat", task, {"root": str(tmp_path / "dl")})


def test_the_shipped_lists_are_names_only():
    data = load_folds()
    assert sorted(data) == ["BUS", "BUSIS", "UDIAT"]
    assert all(n.endswith(".png") for c in data.values() for f in c.values() for n in f["test"])


def test_a_fold_sweep_becomes_one_task_per_fold_and_the_table_collects_them():
    cfg = _minimal_config()
    cfg["tasks"]["b"]["split"]["folds"] = [2, 4]
    cfg["tables"] = {"table1": {"task": "b", "rows": [{"method": "fedavg", "setting": "U-U-L"}]}}
    expanded = expand_fold_tasks(validate_config(cfg))
    assert sorted(expanded["tasks"]) == ["b", "b-fold2", "b-fold4"]
    assert expanded["tasks"]["b-fold4"]["split"]["fold"] == 4
    assert "folds" not in expanded["tasks"]["b-fold4"]["split"]
    assert table_tasks(expanded, "table1") == ["b-fold2", "b-fold4"]
    cfg["tasks"]["b"]["split"]["mode"] = "grouped"
    with pytest.raises(FoldError, match="need mode: original"):
        expand_fold_tasks(validate_config(cfg))
