"""Standardize one real client into the arrays of a ``standardized`` HDF5 file (fedmix.io).

Following the paper's preprocessing: each image is converted to grayscale (``channels: 1``; RGB
with ``channels: 3``) and resized to ``image_size`` x ``image_size`` with PIL bilinear
interpolation, aspect ratio ignored; each mask must hold only 0 and 255, its files are OR-merged
(BUSI ``_mask_1.png`` ...) and resized nearest-neighbour to 0/1. ``lesion`` is 1 for every image
with a benign or malignant diagnosis and 0 for BUSI's normal images (empty masks).

BUSI normal images (``tasks.<name>.real.normal_images``): the paper adds them to the BUS client
only where BUS is unlabeled (``U``). A standardized file serves every setting, so by default
(``unlabelled``) they get the split code ``unlabelled_extra``: outside the train/val/test split
of the tumour images (which therefore stays the paper's), and used only by the ``U`` training
file (:func:`fedmix.data.degrade.degrade_file`). ``all`` splits them like every other image;
``none`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import fedmix
from fedmix.datasets.download import dataset_dir
from fedmix.datasets.readers import (
    DataLayoutError,
    Sample,
    list_busi,
    list_busis,
    list_ham10000,
    list_isic2018,
    list_udiat,
    read_ham_metadata,
)
from fedmix.datasets.registry import REGISTRY, client_dataset
from fedmix.datasets.retouch import RETOUCH_CLASSES, retouch_slices
from fedmix.datasets.splits import drop_shared_groups, make_split
from fedmix.io import SPLIT_NAMES

__all__ = ["client_samples", "load_image", "load_mask", "normal_images", "standardize_client"]

_SHOW = 5


def load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """uint8 (C, size, size): grayscale (C = 1) or RGB (C = 3), bilinear resize."""
    with Image.open(path) as img:
        img = img.convert("L" if channels == 1 else "RGB").resize(
            (size, size), Image.Resampling.BILINEAR
        )
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def load_mask(paths: Sequence[Path], size: int | None = None) -> np.ndarray:
    """uint8 (H, W) 0/1: OR of the 0/255 masks in ``paths``, nearest-resized to ``size``.

    Raises :class:`DataLayoutError` naming the file if a mask holds a value other than 0 and 255
    or the masks differ in size.
    """
    merged = None
    for path in paths:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("L"))
        bad = np.setdiff1d(np.unique(arr), [0, 255])
        if bad.size:
            values = bad[:5].tolist()
            raise DataLayoutError(f"{path}: mask values {values} (only 0 and 255 allowed)")
        if merged is not None and merged.shape != arr.shape:
            raise DataLayoutError(f"{path}: mask size {arr.shape} differs from {merged.shape}")
        merged = arr == 255 if merged is None else merged | (arr == 255)
    out = Image.fromarray(merged.astype(np.uint8) * 255)
    if size is not None:
        out = out.resize((size, size), Image.Resampling.NEAREST)
    return (np.asarray(out) > 127).astype(np.uint8)


def client_samples(source: str, client: str, task_cfg: Mapping, datasets_cfg: Mapping):
    """(samples, dataset key, number of images dropped as shared lesions) of one client."""
    key, selector = client_dataset(source, client)
    folder = dataset_dir(key, datasets_cfg)
    if not folder.is_dir():
        raise DataLayoutError(
            f"{folder}: dataset folder of {key!r} not found; run the download/verify rule first"
        )
    if key == "busi":
        return list_busi(folder, normal_images(task_cfg) != "none"), key, 0
    if key in ("busis", "udiat"):
        return (list_busis if key == "busis" else list_udiat)(folder), key, 0
    if key == "isic2018":
        return list_isic2018(folder), key, 0
    samples = list_ham10000(folder, selector)
    if task_cfg["split"].get("mode", "grouped") != "grouped":
        return samples, key, 0
    rows = read_ham_metadata(folder / "HAM10000_metadata.csv")
    order = list(task_cfg["clients"])
    sites = {c: client_dataset(source, c)[1] for c in order}
    groups = {c: [r["lesion_id"] for r in rows if r["dataset"] == sites[c]] for c in order}
    keep = drop_shared_groups(groups, order)[client]
    return [s for s, k in zip(samples, keep, strict=True) if k], key, int((~keep).sum())


def normal_images(task_cfg: Mapping) -> str:
    """The task's rule for BUSI normal images: ``unlabelled`` (default), ``all`` or ``none``."""
    return task_cfg.get("real", {}).get("normal_images", "unlabelled")


def _split_codes(key: str, task_cfg: Mapping, ids, groups, diagnosis) -> np.ndarray:
    """Split codes of a client's samples; BUSI normals are ``unlabelled_extra`` by default."""
    extra = np.zeros(len(ids), dtype=bool)
    if key == "busi" and normal_images(task_cfg) == "unlabelled":
        extra = diagnosis == 0
    split = np.full(len(ids), SPLIT_NAMES.index("unlabelled_extra"), dtype=np.uint8)
    split[~extra] = make_split(ids[~extra], list(groups[~extra]), task_cfg["split"])
    return split


def _load_all(samples: list[Sample], size: int, channels: int, desc: str = "images"):
    images = np.zeros((len(samples), channels, size, size), dtype=np.uint8)
    masks = np.zeros((len(samples), size, size), dtype=np.uint8)
    errors = []
    # thousands of decodes and resizes for HAM10000: minutes, so a progress bar in the log
    for i, s in enumerate(tqdm(samples, desc=desc, unit="img", mininterval=2.0)):
        try:
            masks[i] = load_mask(s.masks, size)
            with Image.open(s.image) as img, Image.open(s.masks[0]) as mask:
                if img.size != mask.size:
                    raise DataLayoutError(f"{s.image}: size {img.size} but its mask {mask.size}")
        except DataLayoutError as err:
            errors.append(str(err))
            continue
        images[i] = load_image(s.image, size, channels)
    if errors:
        more = f" (and {len(errors) - _SHOW} more)" if len(errors) > _SHOW else ""
        raise DataLayoutError(
            f"{len(errors)} bad mask(s)/image(s){more}:\n  " + "\n  ".join(errors[:_SHOW])
        )
    return images, masks


def standardize_client(
    task_name: str, client: str, task_cfg: Mapping, datasets_cfg: Mapping
) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and attributes of ``resources/{task}/standardized/{client}.h5`` for a real client.

    Same contract as :func:`fedmix.data.synthetic.generate_client`: images uint8 (N, C, S, S),
    masks uint8 (N, S, S) 0/1, lesion uint8 (N,), diagnosis uint8 (N,), sample_ids str (N,),
    split uint8 (N,) (see :mod:`fedmix.datasets.splits`).
    """
    source, size, channels = task_cfg["source"], task_cfg["image_size"], task_cfg["channels"]
    if client_dataset(source, client)[0] == "retouch":
        return _standardize_retouch(task_name, client, task_cfg, datasets_cfg)
    samples, key, n_dropped = client_samples(source, client, task_cfg, datasets_cfg)
    images, masks = _load_all(samples, size, channels, desc=f"{task_name}/{client} ({key})")
    ids = np.array([s.sample_id for s in samples])
    diagnosis = np.array([s.diagnosis for s in samples], dtype=np.uint8)
    groups = np.array([s.group for s in samples], dtype=object)
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": (diagnosis > 0).astype(np.uint8),
        "diagnosis": diagnosis,
        "sample_ids": ids,
        "split": _split_codes(key, task_cfg, ids, groups, diagnosis),
    }
    ds = REGISTRY[key]
    attrs = {
        "kind": "standardized",
        "task": task_name,
        "client": client,
        "source": source,
        "source_version": " ".join(f.known_hash for f in ds.files) or f"{ds.access}, user-placed",
        "params": {
            "dataset": key,
            "image_size": size,
            "channels": channels,
            "split": dict(task_cfg["split"]),
            "real": dict(task_cfg.get("real", {})),
            "dropped_shared_lesion_images": n_dropped,
        },
        "split_names": list(SPLIT_NAMES),
        "diagnosis_names": ["normal", "benign", "malignant"],
        "licence": ds.licence,
        "citation": ds.citation,
        "fedmix_version": fedmix.__version__,
    }
    return arrays, attrs


def _standardize_retouch(task_name: str, client: str, task_cfg: Mapping, datasets_cfg: Mapping):
    """RETOUCH vendor ``client``: fluid-holding B-scans, class-index masks 0..3, split grouped
    by volume (:mod:`fedmix.datasets.retouch`)."""
    if task_cfg["channels"] != 1:
        raise DataLayoutError(
            f"RETOUCH is grayscale OCT; set channels: 1 (got {task_cfg['channels']})"
        )
    folder = dataset_dir("retouch", datasets_cfg)
    images, masks, ids, groups = retouch_slices(folder, client, task_cfg["image_size"])
    lesion = masks.reshape(len(masks), -1).any(1).astype(np.uint8)
    ds = REGISTRY["retouch"]
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": lesion,
        "diagnosis": lesion.copy(),
        "sample_ids": ids,
        "split": make_split(ids, list(groups), task_cfg["split"]),
    }
    attrs = {
        "kind": "standardized",
        "task": task_name,
        "client": client,
        "source": task_cfg["source"],
        "source_version": f"{ds.access}, user-placed",
        "params": {
            "dataset": "retouch",
            "image_size": task_cfg["image_size"],
            "channels": 1,
            "split": dict(task_cfg["split"]),
            "volumes": len(set(groups)),
        },
        "class_names": list(RETOUCH_CLASSES),
        "split_names": list(SPLIT_NAMES),
        "diagnosis_names": ["no fluid", "fluid"],
        "licence": ds.licence,
        "citation": ds.citation,
        "fedmix_version": fedmix.__version__,
    }
    return arrays, attrs
