"""Train/val/test splits of real clients: grouped by lesion (default) or the paper's 80/20.

Split codes follow :data:`fedmix.file_layout.SPLIT_NAMES`: 0 train, 1 val, 2 test.

``grouped``: whole groups (HAM10000 ``lesion_id``; one group per image where no lesion id is
known) are dealt to test, val and train by :func:`fedmix.data.splits.assign_split`, so no lesion
spans two partitions. HAM10000 has 9 melanoma lesions imaged at two sites (vidir_modern and
vidir_molemax); :func:`drop_shared_groups` keeps such a lesion only at the first client in the
task's client order and drops its images from the later one (grouped mode only), so no lesion
spans two clients either.

``paper``: the original protocol, ``sklearn.model_selection.train_test_split(ids, test_size=0.2,
random_state=30448)`` per client on the ids in file order, giving e.g. 1807/452 for rosendahl.
``val_fraction * n`` images (rounded) are then drawn, with ``seed``, from the paper's train part;
``val_fraction: 0`` gives the original partition exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fedmix.data.splits import assign_split

__all__ = [
    "PAPER_RANDOM_STATE",
    "PAPER_TEST_SIZE",
    "drop_shared_groups",
    "grouped_split",
    "make_split",
    "paper_split",
]

PAPER_TEST_SIZE = 0.2
PAPER_RANDOM_STATE = 30448


def grouped_split(
    groups: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """uint8 (N,) split codes with every group in exactly one partition.

    The same seeded assignment the synthetic tasks use (:func:`fedmix.data.splits.assign_split`
    with ``groups``), so real and synthetic clients are split by one rule.
    """
    groups = np.asarray(groups).astype(str)
    return assign_split(len(groups), val_fraction, test_fraction, seed, groups=groups)


def paper_split(ids: Sequence[str], val_fraction: float = 0.0, seed: int = 0) -> np.ndarray:
    """uint8 (N,) codes: the original 80/20 image-level split, val drawn from its train part."""
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise ValueError("paper_split: sample ids are not unique")
    from sklearn.model_selection import train_test_split  # 2-3 s to import: only when used

    _, test_ids = train_test_split(ids, test_size=PAPER_TEST_SIZE, random_state=PAPER_RANDOM_STATE)
    test = set(test_ids)
    split = np.array([2 if i in test else 0 for i in ids], dtype=np.uint8)
    train_idx = np.flatnonzero(split == 0)
    n_val = round(val_fraction * len(ids))
    if n_val:
        rng = np.random.default_rng(seed)
        split[rng.choice(train_idx, size=n_val, replace=False)] = 1
    return split


def make_split(ids: Sequence[str], groups: Sequence[str], split_cfg: Mapping) -> np.ndarray:
    """Dispatch on ``split_cfg['mode']`` (``grouped`` | ``paper``); see the module doc."""
    mode = split_cfg.get("mode", "grouped")
    val, test, seed = split_cfg["val_fraction"], split_cfg["test_fraction"], split_cfg["seed"]
    if mode == "grouped":
        return grouped_split(groups, val, test, seed)
    if mode == "paper":
        if test != PAPER_TEST_SIZE:
            raise ValueError(
                f"split mode 'paper' is the original 80/20 split but test_fraction is {test}; "
                f"set test_fraction: {PAPER_TEST_SIZE} or use mode: grouped"
            )
        return paper_split(ids, val, seed)
    raise ValueError(
        f"split mode {mode!r} is not handled here; use 'grouped' or 'paper' ('original' is the "
        "breast task's fold lists, fedmix.datasets.folds)"
    )


def drop_shared_groups(
    groups_by_client: Mapping[str, Sequence[str]], client_order: Sequence[str]
) -> dict[str, np.ndarray]:
    """Boolean keep-mask per client: a group seen at an earlier client is dropped at later ones.

    ``groups_by_client[c]`` holds the group (lesion id) of each sample of client ``c``.
    """
    seen: set[str] = set()
    keep = {}
    for client in client_order:
        groups = np.asarray(groups_by_client[client]).astype(str)
        keep[client] = np.array([g not in seen for g in groups], dtype=bool)
        seen.update(groups.tolist())
    return keep
