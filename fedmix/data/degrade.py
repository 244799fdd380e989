"""Label degradation (masks -> boxes / image labels / nothing) and held-out split files.

A training file is built from the list of fields its supervision letter allows
(:data:`fedmix.file_layout.SUPERVISION_FIELDS`) and nothing else, and the key set is asserted before
writing, so a weak client's file can never hold its masks.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from fedmix import __version__
from fedmix.data.classes import check_class_masks, class_boxes, class_presence
from fedmix.file_layout import SPLIT_NAMES, SUPERVISION_FIELDS, supervision_fields
from fedmix.io import FedmixFileError, read_h5, write_h5

__all__ = [
    "binarize_mask",
    "boxes_to_masks",
    "check_binary_masks",
    "degrade_file",
    "holdout_file",
    "mask_to_box",
    "masks_to_boxes",
    "normals_file",
]

log = logging.getLogger(__name__)

_EVAL_FIELDS = ("images", "masks", "lesion", "diagnosis", "sample_ids")
_STANDARDIZED_FIELDS = (*_EVAL_FIELDS, "split")


def mask_to_box(mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """Tight box around all foreground of a 2-D 0/1 mask ``(H, W)``.

    Returns ``(box, valid)`` with ``box = (y0, x0, y1, x1)`` int32, end exclusive:
    ``y0 = min{y : mask[y, :].any()}``, ``y1 = max{...} + 1`` (so a lesion touching the bottom
    edge has ``y1 = H``). Several blobs get one box spanning all of them. An empty mask gives
    ``([-1, -1, -1, -1], False)``, never a fake box.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask_to_box expects a 2-D mask (H, W); got shape {mask.shape}")
    boxes, valid = masks_to_boxes(mask[None])
    return boxes[0], bool(valid[0])


def masks_to_boxes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes int32 ``(N, 4)`` as ``(y0, x0, y1, x1)`` (end exclusive) and valid uint8 ``(N,)``
    for masks ``(N, H, W)``; rows of empty masks are all -1 with valid 0. Vectorised."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks_to_boxes expects masks (N, H, W); got shape {masks.shape}")
    n, h, w = masks.shape
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # (N, H), (N, W)
    valid = rows.any(axis=1)
    boxes = np.stack(
        [
            rows.argmax(axis=1),
            cols.argmax(axis=1),
            h - rows[:, ::-1].argmax(axis=1),
            w - cols[:, ::-1].argmax(axis=1),
        ],
        axis=1,
    ).astype(np.int32)
    boxes[~valid] = -1
    return boxes.reshape(n, 4), valid.astype(np.uint8)


def boxes_to_masks(boxes: np.ndarray, valid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filled rectangles uint8 ``(N, H, W)``: ``m[i, y, x] = valid_i and y0 <= y < y1 and
    x0 <= x < x1``; all zeros where ``valid`` is 0."""
    boxes, valid = np.asarray(boxes), np.asarray(valid).astype(bool)
    ys, xs = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
    y0, x0, y1, x1 = (boxes[:, j, None, None] for j in range(4))
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    return (inside & valid[:, None, None]).astype(np.uint8)


def check_binary_masks(masks: np.ndarray, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` and the bad values unless ``masks`` is 0/1."""
    bad = np.setdiff1d(np.unique(masks), [0, 1])
    if bad.size:
        raise ValueError(
            f"{source}: masks must hold only 0 and 1 but also hold {bad[:10].tolist()}; "
            "binarize them when standardizing (fedmix.data.degrade.binarize_mask maps 0/255 "
            "to 0/1) and rebuild this file"
        )


def binarize_mask(mask: np.ndarray, source: str) -> np.ndarray:
    """Import a mask stored as 0/255 (or already 0/1) as uint8 0/1.

    Anything else (anti-aliased edges, JPEG artefacts, a mix of 1 and 255) raises ``ValueError``
    naming ``source`` and the bad values.
    """
    mask = np.asarray(mask)
    values = np.unique(mask)
    for on in (255, 1):
        if np.isin(values, [0, on]).all():
            return (mask == on).astype(np.uint8)
    bad = np.setdiff1d(values, [0, 255]).tolist()
    raise ValueError(
        f"{source}: a mask must hold 0 and 255 (or 0 and 1); found values {values[:10].tolist()} "
        f"(unexpected: {bad[:10]}); re-export the mask losslessly (PNG) without anti-aliasing"
    )


def degrade_file(src: str | os.PathLike, dst: str | os.PathLike, supervision: str) -> Path:
    """Write the train split of standardized file ``src`` to ``dst`` at ``supervision``.

    L keeps masks; B replaces them with boxes and box_valid (:func:`masks_to_boxes`); I keeps
    lesion and diagnosis; U keeps images and sample_ids only. Samples whose split is
    ``unlabelled_extra`` (BUSI's normal images) are not in it: :func:`normals_file` writes them
    apart, and each run adds them where its normal-image rule says. In a multi-class file (attr
    ``class_names``) B gets one box per class and I also the class-presence vector
    (:mod:`fedmix.data.classes`). Attrs: kind "train", supervision, task, client, source
    (synthetic or the real dataset), source_file (name of ``src``), source_sha256,
    fedmix_version and, multi-class, class_names.
    """
    if supervision not in SUPERVISION_FIELDS:
        raise ValueError(
            f"unknown supervision letter {supervision!r}; valid letters are "
            f"{sorted(SUPERVISION_FIELDS)} (L masks, B boxes, I image labels, U unlabeled)"
        )
    data, attrs = _read_standardized(src)
    keep = data["split"] == SPLIT_NAMES.index("train")
    if not keep.any():
        raise ValueError(f"{src}: no train samples; raise n or lower val/test fractions")
    train = {k: v[keep] for k, v in data.items()}
    classes = attrs.get("class_names")
    if classes:
        boxes, box_valid = class_boxes(train["masks"], len(classes))
        train["presence"] = class_presence(train["masks"], len(classes))
    else:
        boxes, box_valid = masks_to_boxes(train["masks"])
    available = {**train, "boxes": boxes, "box_valid": box_valid}
    allowed = supervision_fields(supervision, multiclass=bool(classes))
    out = {name: available[name] for name in allowed}
    if set(out) != set(allowed):  # not `assert`: must hold under python -O too
        raise AssertionError(f"train file fields {sorted(out)} differ from allowed {allowed}")
    meta = {
        "kind": "train",
        "supervision": supervision,
        **_provenance(src, attrs),
    }
    log.info("%s: %d train samples at supervision %s -> %s", src, int(keep.sum()), supervision, dst)
    return write_h5(dst, out, meta)


def normals_file(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write the ``unlabelled_extra`` samples of ``src`` (BUSI's normal images) to ``dst`` as a
    ``U`` file (images and sample_ids): their labels are known to be empty, so a run adds them to
    any client at any supervision (:mod:`fedmix.data.normals`). May be empty."""
    data, attrs = _read_standardized(src)
    extra = data["split"] == SPLIT_NAMES.index("unlabelled_extra")
    out = {name: data[name][extra] for name in SUPERVISION_FIELDS["U"]}
    log.info("%s: %d normal (lesion-free) training images -> %s", src, int(extra.sum()), dst)
    meta = {"kind": "train", "supervision": "U", "normal_images": 1, **_provenance(src, attrs)}
    return write_h5(dst, out, meta)


def holdout_file(src: str | os.PathLike, dst: str | os.PathLike, split: str) -> Path:
    """Write the ``split`` ("val" or "test") samples of ``src`` with their masks to ``dst``."""
    if split not in ("val", "test"):
        raise ValueError(f"unknown held-out split {split!r}; use 'val' or 'test'")
    data, attrs = _read_standardized(src)
    keep = data["split"] == SPLIT_NAMES.index(split)
    if not keep.any():
        raise ValueError(f"{src}: no {split} samples; raise n or the task's {split}_fraction")
    out = {name: data[name][keep] for name in _EVAL_FIELDS}
    log.info("%s: %d %s samples -> %s", src, int(keep.sum()), split, dst)
    return write_h5(dst, out, {"kind": "eval", "split": split, **_provenance(src, attrs)})


def _read_standardized(src) -> tuple[dict, dict]:
    """Read and check a standardized file (FedmixFileError if missing/corrupt; ValueError if
    its masks are not 0/1, or not class indices 0..K in a multi-class file)."""
    data, attrs = read_h5(src, _STANDARDIZED_FIELDS)
    if attrs.get("class_names"):
        check_class_masks(data["masks"], len(attrs["class_names"]), str(src))
    else:
        check_binary_masks(data["masks"], str(src))
    return data, attrs


def _provenance(src, attrs: dict) -> dict:
    """task, client and data source of ``src``, plus its file name and SHA-256."""
    missing = [k for k in ("task", "client", "source") if k not in attrs]
    if missing:
        raise FedmixFileError(
            f"{src}: standardized file lacks attribute(s) {missing}; rebuild it with snakemake"
        )
    classes = {"class_names": attrs["class_names"]} if attrs.get("class_names") else {}
    return {
        "task": attrs["task"],
        "client": attrs["client"],
        "source": attrs["source"],
        # real data: the dataset manifest's digest and PARTIAL flag, on to the tables
        **{k: attrs[k] for k in ("data_provenance", "data_partial") if k in attrs},
        "source_file": Path(src).name,
        "source_sha256": hashlib.sha256(Path(src).read_bytes()).hexdigest(),
        "fedmix_version": __version__,
        **classes,
    }
