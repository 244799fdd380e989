"""Checks of what a training or evaluation file holds, run by every reader before use.

A file can have the right layout yet the wrong content: masks of 0/255 from another tool, float
images with NaN, boxes outside the image, no samples at all. Trained on, such a file gives a
finished run with a meaningless result (a 0/255 mask makes the Dice loss negative), so each
reader checks it first and raises :class:`fedmix.io.FedmixFileError` naming the file, the array,
what is wrong and the fix.
"""

from __future__ import annotations

import os

import numpy as np

from fedmix.io import FedmixFileError

__all__ = ["check_eval_arrays", "check_train_arrays"]

_REBUILD = "delete it and let snakemake rebuild it (or fix the tool that wrote it)"


def check_train_arrays(
    path: str | os.PathLike, supervision: str, arrays: dict, n_classes: int = 0
) -> None:
    """Check a training file of one supervision letter (layout in :mod:`fedmix.file_layout`).

    images uint8 (N, C, H, W) with N >= 1 and C in (1, 3); masks uint8 (N, H, W) of 0/1 (L);
    boxes int (N, 4) inside the image where box_valid is 1 (B); lesion 0/1 and diagnosis 0..2
    (I); one sample id per image. A multi-class file (``n_classes`` K > 0): masks 0..K, boxes
    (N, K, 4) with box_valid (N, K), presence (N, K) of 0/1.
    """
    n, h, w = _check_images(path, arrays["images"])
    if n == 0:
        raise FedmixFileError(
            f"{path}: holds no training samples; every client needs at least one training "
            "image. Check the client's data and the task's split fractions, then rebuild it"
        )
    _check_ids(path, arrays["sample_ids"], n)
    if supervision == "L":
        _check_labels(path, "masks", arrays["masks"], (n, h, w), max(1, n_classes))
    elif supervision == "B" and n_classes:
        boxes, valid = arrays["boxes"], arrays["box_valid"]
        _check_labels(path, "box_valid", valid, (n, n_classes), 1)
        if boxes.shape != (n, n_classes, 4):
            raise FedmixFileError(
                f"{path}: 'boxes' has shape {boxes.shape}, expected ({n}, {n_classes}, 4), one "
                f"box per class; {_REBUILD}"
            )
        _check_boxes(path, boxes.reshape(-1, 4), valid.reshape(-1), n * n_classes, h, w)
    elif supervision == "B":
        _check_boxes(path, arrays["boxes"], arrays["box_valid"], n, h, w)
    elif supervision == "I":
        _check_labels(path, "lesion", arrays["lesion"], (n,), 1)
        _check_labels(path, "diagnosis", arrays["diagnosis"], (n,), 2)
        if n_classes:
            _check_labels(path, "presence", arrays["presence"], (n, n_classes), 1)


def check_eval_arrays(path: str | os.PathLike, arrays: dict, n_classes: int = 0) -> None:
    """Check a validation or test file: images, 0/1 masks (0..K with ``n_classes`` K) and
    lesion labels, N >= 1."""
    n, h, w = _check_images(path, arrays["images"])
    if n == 0:
        raise FedmixFileError(
            f"{path}: holds no samples, so no model can be selected or scored on it; raise the "
            "task's split.val_fraction (or test_fraction) so every client keeps images there"
        )
    _check_ids(path, arrays["sample_ids"], n)
    _check_labels(path, "masks", arrays["masks"], (n, h, w), max(1, n_classes))
    _check_labels(path, "lesion", arrays["lesion"], (n,), 1)


def _check_images(path, images: np.ndarray) -> tuple[int, int, int]:
    if images.dtype.kind == "f" and images.size and not np.isfinite(images).all():
        bad = int(np.flatnonzero(~np.isfinite(images.reshape(len(images), -1)).all(1))[0])
        raise FedmixFileError(
            f"{path}: 'images' holds NaN or infinite values (first at sample {bad}); {_REBUILD}"
        )
    if images.dtype != np.uint8:
        raise FedmixFileError(
            f"{path}: 'images' has dtype {images.dtype}, expected uint8 (0..255); {_REBUILD}"
        )
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise FedmixFileError(
            f"{path}: 'images' has shape {images.shape}, expected (N, C, H, W) with C = 1 or 3; "
            f"{_REBUILD}"
        )
    n, _, h, w = images.shape
    return n, h, w


def _check_ids(path, ids: np.ndarray, n: int) -> None:
    if ids.shape != (n,):
        raise FedmixFileError(
            f"{path}: 'sample_ids' has shape {ids.shape}, expected ({n},), one per image; "
            f"{_REBUILD}"
        )


def _check_labels(path, name: str, values: np.ndarray, shape: tuple, top: int) -> None:
    """Integer array ``name`` of ``shape`` with values in 0..top."""
    if values.shape != shape:
        raise FedmixFileError(
            f"{path}: {name!r} has shape {values.shape}, expected {shape} to match the images; "
            f"{_REBUILD}"
        )
    if values.dtype.kind not in "iub":
        raise FedmixFileError(
            f"{path}: {name!r} has dtype {values.dtype}, expected integers 0..{top}; {_REBUILD}"
        )
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if lo < 0 or hi > top:
        raise FedmixFileError(
            f"{path}: {name!r} holds values {lo}..{hi}, expected 0..{top}"
            + (" (a 0/255 mask must be divided by 255)" if hi == 255 else "")
            + f"; {_REBUILD}"
        )


def _check_boxes(path, boxes: np.ndarray, valid: np.ndarray, n: int, h: int, w: int) -> None:
    _check_labels(path, "box_valid", valid, (n,), 1)
    if boxes.shape != (n, 4) or boxes.dtype.kind not in "iu":
        raise FedmixFileError(
            f"{path}: 'boxes' has shape {boxes.shape} and dtype {boxes.dtype}, expected integer "
            f"({n}, 4) as (y0, x0, y1, x1); {_REBUILD}"
        )
    b = boxes[valid.astype(bool)].astype(np.int64)
    ok = (b[:, 0] >= 0) & (b[:, 1] >= 0) & (b[:, 0] < b[:, 2]) & (b[:, 1] < b[:, 3])
    ok &= (b[:, 2] <= h) & (b[:, 3] <= w)
    if not ok.all():
        raise FedmixFileError(
            f"{path}: box {b[~ok][0].tolist()} is empty or outside the {h}x{w} image "
            f"(boxes are (y0, x0, y1, x1), end exclusive); {_REBUILD}"
        )
