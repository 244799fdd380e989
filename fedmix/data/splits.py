"""Seeded train / validation / test assignment of one client's samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TRAIN", "VAL", "TEST", "assign_split"]

TRAIN, VAL, TEST = 0, 1, 2


def assign_split(
    n: int,
    val_fraction: float,
    test_fraction: float,
    seed: int | Sequence[int],
    groups: Sequence | np.ndarray | None = None,
) -> np.ndarray:
    """Assign each of ``n`` samples to train (0), val (1) or test (2); returns uint8 ``(n,)``.

    Targets are ``t_test = round(test_fraction * n)`` and ``t_val = round(val_fraction * n)``
    samples. The units (samples, or the distinct values of ``groups`` when given, e.g. lesion
    ids) are visited in the order of ``np.random.default_rng(seed).permutation``; a unit of size
    ``s`` goes to test if ``c_test + s / 2 < t_test`` (it brings the count closer to the target),
    else to val under the same rule, else to train. Without groups the counts are exact; with
    groups a group never spans two splits and each count is within half the largest group of its
    target. Not stratified. The same arguments always give the same assignment.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1:
        raise ValueError(
            f"val_fraction={val_fraction}, test_fraction={test_fraction}: each must be in [0, 1)"
        )
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training "
            "data; make their sum smaller than 1"
        )
    if groups is None:
        inverse = np.arange(n)
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups has shape {groups.shape}; expected ({n},), one per sample")
        _, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse, minlength=int(inverse.max(initial=-1)) + 1)
    targets = {TEST: _round_half_up(test_fraction * n), VAL: _round_half_up(val_fraction * n)}
    counts = {TEST: 0, VAL: 0}
    unit_split = np.full(len(sizes), TRAIN, dtype=np.uint8)
    for unit in np.random.default_rng(seed).permutation(len(sizes)):
        for split in (TEST, VAL):
            if counts[split] + sizes[unit] / 2 < targets[split]:
                unit_split[unit] = split
                counts[split] += int(sizes[unit])
                break
    return unit_split[inverse]


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))
