"""Standardize one real client into the arrays of a ``standardized`` HDF5 file (fedmix.file_layout).

Following the paper's preprocessing: each image is converted to grayscale (``channels: 1``; RGB
with ``channels: 3``) and resized to ``image_size`` x ``image_size`` with PIL bilinear
interpolation, aspect ratio ignored; each mask must hold only 0 and 255, its files are OR-merged
(BUSI ``_mask_1.png`` ...) and resized nearest-neighbour to 0/1. ``lesion`` is 1 for every image
with a benign or malignant diagnosis and 0 for BUSI's normal images (empty masks).

BUSI normal images (``tasks.<name>.real.normal_images``): the original code trained on them but
never tested on them. ``tmi`` (every unlabeled client's training data, as the TMI code), ``arxiv``
(the bus client's training data in every setting, as the arXiv code) and ``auto`` (``arxiv`` for
the arXiv FedMix variant, ``tmi`` for every other method; the default) give them the split code
``unlabelled_extra``: outside the train/val/test split of the tumour images, which therefore
stays the original's; which runs train on them is decided per run (:mod:`fedmix.data.normals`).
``all`` splits them like every other image (not with ``split.mode: original``, whose lists do
not name them); ``none`` leaves them out.

``split.mode: original`` takes the authors' fold lists (:mod:`fedmix.datasets.folds`); images
the lists do not name (BUSI ``benign (4)``, ``benign (54)``) are left out, as in the original.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from fedmix.datasets.download import dataset_dir
from fedmix.datasets.federations import client_dataset
from fedmix.datasets.folds import original_split
from fedmix.datasets.manifest import standardized_attrs
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
from fedmix.datasets.registry import REGISTRY
from fedmix.datasets.retouch import standardize_retouch
from fedmix.datasets.splits import drop_shared_groups, make_split
from fedmix.file_layout import SPLIT_NAMES

__all__ = [
    "check_sample",
    "client_samples",
    "load_image",
    "load_mask",
    "load_samples",
    "normal_images",
    "open_image",
    "standardize_client",
]

_SHOW = 5
log = logging.getLogger(__name__)


def open_image(path: Path) -> Image.Image:
    """The decoded image at ``path``; DataLayoutError naming the file if it cannot be read."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataLayoutError(
            f"{path}: not a readable image ({type(err).__name__}: {err}); replace it with the "
            "file from the original dataset (a download cut short or a copy error)"
        ) from None


def load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """uint8 (C, size, size): grayscale (C = 1) or RGB (C = 3), bilinear resize."""
    img = open_image(path).convert("L" if channels == 1 else "RGB")
    img = img.resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def load_mask(paths: Sequence[Path], size: int | None = None) -> np.ndarray:
    """uint8 (H, W) 0/1: OR of the 0/255 masks in ``paths``, nearest-resized to ``size``.

    Raises :class:`DataLayoutError` naming the file if a mask holds a value other than 0 and 255
    or the masks differ in size.
    """
    merged = None
    for path in paths:
        arr = np.asarray(open_image(path).convert("L"))
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
    """The task's rule for BUSI normal images: ``auto`` (default), ``tmi``, ``arxiv``, ``all``
    or ``none``."""
    return task_cfg.get("real", {}).get("normal_images", "auto")


def _split_codes(key: str, task_cfg: Mapping, ids, groups, diagnosis):
    """(keep, split codes) of a client's samples; BUSI normals are ``unlabelled_extra`` unless
    ``normal_images`` is ``all``; ``keep`` is False only for images the original lists omit."""
    extra = np.zeros(len(ids), dtype=bool)
    if key == "busi" and normal_images(task_cfg) not in ("all", "none"):
        extra = diagnosis == 0
    keep = np.ones(len(ids), dtype=bool)
    split = np.full(len(ids), SPLIT_NAMES.index("unlabelled_extra"), dtype=np.uint8)
    cfg = task_cfg["split"]
    if cfg.get("mode", "grouped") == "original":
        if key == "busi" and normal_images(task_cfg) == "all":
            raise ValueError(
                "normal_images: all splits BUSI's normal images like the others, but split mode "
                "'original' follows the authors' lists, which do not name them; use auto, tmi, "
                "arxiv or none"
            )
        kept, codes = original_split(
            key, ids[~extra], cfg.get("fold", 1), cfg["val_fraction"], cfg["seed"]
        )
        keep[~extra], split[~extra] = kept, codes
    else:
        split[~extra] = make_split(ids[~extra], list(groups[~extra]), cfg)
    return keep, split


def check_sample(s: Sample) -> None:
    """Image and masks of ``s`` readable, masks 0/255 and of the image's size (DataLayoutError)."""
    load_mask(s.masks)
    image, mask = open_image(s.image), open_image(s.masks[0])
    if image.size != mask.size:
        raise DataLayoutError(f"{s.image}: size {image.size} but its mask {mask.size}")


def load_samples(samples: list[Sample], size: int, channels: int, desc: str = "images"):
    """(images uint8 (N, C, S, S), masks uint8 (N, S, S) 0/1) of ``samples``, resized."""
    images = np.zeros((len(samples), channels, size, size), dtype=np.uint8)
    masks = np.zeros((len(samples), size, size), dtype=np.uint8)
    errors = []
    # thousands of decodes and resizes for HAM10000: minutes, so a progress bar in the log
    for i, s in enumerate(tqdm(samples, desc=desc, unit="img", mininterval=2.0)):
        try:
            check_sample(s)
            masks[i] = load_mask(s.masks, size)
            images[i] = load_image(s.image, size, channels)
        except DataLayoutError as err:
            errors.append(str(err))
    if errors:
        more = f" (and {len(errors) - _SHOW} more)" if len(errors) > _SHOW else ""
        raise DataLayoutError(
            f"{len(errors)} bad mask(s)/image(s){more}:\n  " + "\n  ".join(errors[:_SHOW])
        )
    return images, masks


def standardize_client(
    task_name: str,
    client: str,
    task_cfg: Mapping,
    datasets_cfg: Mapping,
    manifest: Mapping | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and attributes of ``resources/{task}/standardized/{client}.h5`` for a real client.

    Same contract as :func:`fedmix.data.synthetic.generate_client`: images uint8 (N, C, S, S),
    masks uint8 (N, S, S) 0/1, lesion uint8 (N,), diagnosis uint8 (N,), sample_ids str (N,),
    split uint8 (N,) (see :mod:`fedmix.datasets.splits`). ``manifest`` (the dataset's verified
    manifest, see :mod:`fedmix.datasets.verify`) is recorded as provenance
    (:func:`fedmix.datasets.manifest.standardized_attrs`).
    """
    source, size, channels = task_cfg["source"], task_cfg["image_size"], task_cfg["channels"]
    if client_dataset(source, client)[0] == "retouch":
        return standardize_retouch(task_name, client, task_cfg, datasets_cfg, manifest)
    samples, key, n_dropped = client_samples(source, client, task_cfg, datasets_cfg)
    ids = np.array([s.sample_id for s in samples])
    diagnosis = np.array([s.diagnosis for s in samples], dtype=np.uint8)
    groups = np.array([s.group for s in samples], dtype=object)
    keep, split = _split_codes(key, task_cfg, ids, groups, diagnosis)
    if not keep.all():
        left_out = ids[~keep].tolist()
        log.info(
            "%s/%s: %d image(s) the split lists omit are left out: %s",
            task_name,
            client,
            len(left_out),
            left_out,
        )
        samples = [s for s, k in zip(samples, keep, strict=True) if k]
        ids, diagnosis, split = ids[keep], diagnosis[keep], split[keep]
    images, masks = load_samples(samples, size, channels, desc=f"{task_name}/{client} ({key})")
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": (diagnosis > 0).astype(np.uint8),
        "diagnosis": diagnosis,
        "sample_ids": ids,
        "split": split,
    }
    ds = REGISTRY[key]
    params = {
        "dataset": key,
        "image_size": size,
        "channels": channels,
        "split": dict(task_cfg["split"]),
        "real": dict(task_cfg.get("real", {})),
        "dropped_shared_lesion_images": n_dropped,
        "left_out_by_split_lists": int((~keep).sum()),
    }
    attrs = standardized_attrs(
        task_name, client, source, manifest, params, licence=ds.licence, citation=ds.citation
    )
    return arrays, attrs
