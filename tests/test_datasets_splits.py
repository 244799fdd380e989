"""Paper split counts and the lesion-grouped split, on the real HAM10000 metadata."""

from pathlib import Path

import numpy as np
import pytest

from fedmix.datasets.readers import read_ham_metadata
from fedmix.datasets.splits import drop_shared_groups, grouped_split, make_split, paper_split

# the real metadata file, carried with the tests (tests/data/README.md: source and licence)
METADATA = Path(__file__).resolve().parent / "data" / "HAM10000_metadata.csv"
CLIENTS = ["rosendahl", "vidir_modern", "vienna_dias", "vidir_molemax"]


@pytest.fixture(scope="module")
def rows():
    return read_ham_metadata(METADATA)


def by_client(rows, key):
    return {c: [r[key] for r in rows if r["dataset"] == c] for c in CLIENTS}


def test_paper_split_gives_the_original_counts(rows):
    ids = by_client(rows, "image_id")
    counts = {c: np.bincount(paper_split(ids[c]), minlength=3).tolist() for c in CLIENTS}
    assert counts == {
        "rosendahl": [1807, 0, 452],
        "vidir_modern": [2690, 0, 673],
        "vienna_dias": [351, 0, 88],
        "vidir_molemax": [3163, 0, 791],
    }


def test_paper_split_val_comes_from_the_train_part_only(rows):
    ids = by_client(rows, "image_id")["rosendahl"]
    plain, with_val = paper_split(ids), paper_split(ids, val_fraction=0.1, seed=3)
    assert np.array_equal(plain == 2, with_val == 2)
    assert (with_val == 1).sum() == round(0.1 * len(ids)) == 226


def test_paper_mode_refuses_another_test_fraction():
    with pytest.raises(ValueError, match="test_fraction: 0.2"):
        make_split(
            ["a", "b"],
            ["a", "b"],
            {"mode": "paper", "val_fraction": 0.0, "test_fraction": 0.3, "seed": 0},
        )


def test_shared_lesions_stay_at_the_first_client_only(rows):
    groups = by_client(rows, "lesion_id")
    keep = drop_shared_groups(groups, CLIENTS)
    dropped = {c: int((~k).sum()) for c, k in keep.items()}
    assert dropped == {"rosendahl": 0, "vidir_modern": 0, "vienna_dias": 0, "vidir_molemax": 9}


def test_grouped_split_never_puts_a_lesion_in_two_partitions(rows):
    groups = by_client(rows, "lesion_id")
    keep = drop_shared_groups(groups, CLIENTS)
    where: dict[str, set] = {}
    for c in CLIENTS:
        g = np.asarray(groups[c])[keep[c]]
        split = grouped_split(g, val_fraction=0.1, test_fraction=0.2, seed=0)
        n = len(g)
        assert abs((split == 2).sum() - 0.2 * n) <= 6 and abs((split == 1).sum() - 0.1 * n) <= 6
        for lesion, s in zip(g, split, strict=True):
            where.setdefault(lesion, set()).add((c, int(s)))
    assert len(where) == 7470
    assert max(len(v) for v in where.values()) == 1


def test_grouped_split_small_case_by_hand():
    # Groups a (3 images), b, c, d (1 each): test target round(6 * 2/6) = 2, val target 1.
    # default_rng(1).permutation(4) is [0, 1, 2, 3], so groups are dealt in the order a, b, c, d:
    # a fills test (3 >= 2), b fills val, c and d go to train.
    assert np.random.default_rng(1).permutation(4).tolist() == [0, 1, 2, 3]
    split = grouped_split(["a", "a", "b", "a", "c", "d"], 1 / 6, 2 / 6, seed=1)
    assert split.tolist() == [2, 2, 1, 2, 0, 0]
    assert split.dtype == np.uint8
