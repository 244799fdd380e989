"""``source: folders``: a federation read from plain folders, one per client (your own data).

Each client is a folder holding images and their masks (PNG, JPEG, BMP or TIFF). The task's
``real.folders`` block says how they pair::

    real:
      folders:
        images: images              # subfolder of each client folder with the images ("." = itself)
        masks: masks                # subfolder with the masks (may equal images)
        mask_name: "{stem}_mask.png"  # the mask of image <stem>.<ext>
        labels: labels.csv          # optional, in the client folder: columns image, diagnosis
                                    # (normal | benign | malignant or 0 | 1 | 2), optional group
        clients: {hospital_a: /data/a, hospital_b: /data/b, hospital_c: /data/c}

Masks hold 0 (background) and 255 (lesion). Without a labels file an image's diagnosis is 1
(lesion, class not given) where its mask is not empty and 0 otherwise. ``group`` (a patient id)
keeps all images of one group in one split; by default every image is its own group. Every
client is verified like a published dataset (every image paired, every labels row matched,
images readable, masks 0/255 and of the image's size) and its manifest is written next to the
standardized file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fedmix.datasets.manifest import file_sha256, manifest_digest, standardized_attrs
from fedmix.datasets.readers import DataLayoutError, Sample
from fedmix.datasets.splits import make_split
from fedmix.datasets.standardize import load_samples
from fedmix.datasets.verify import IMAGE_SUFFIXES, show
from fedmix.params import ConfigError

__all__ = [
    "DIAGNOSIS_VALUES",
    "check_folder_task",
    "client_folder",
    "list_folder",
    "standardize_folder_client",
]

DIAGNOSIS_VALUES = {"normal": 0, "benign": 1, "malignant": 2, "0": 0, "1": 1, "2": 2}


def client_folder(folders_cfg: Mapping, client: str) -> Path:
    """The folder of ``client``; ValueError naming the configured clients otherwise."""
    clients = folders_cfg.get("clients", {})
    if client not in clients:
        raise DataLayoutError(
            f"client {client!r} has no folder in real.folders.clients (it has {sorted(clients)})"
        )
    return Path(clients[client])


def _mask_pattern(mask_name: str) -> re.Pattern:
    if mask_name.count("{stem}") != 1:
        raise DataLayoutError(f"real.folders.mask_name {mask_name!r} must contain {{stem}} once")
    head, tail = mask_name.split("{stem}")
    return re.compile(re.escape(head) + r"(?P<stem>.+)" + re.escape(tail))


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataLayoutError(f"{folder}: no such folder")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _labels(path: Path, stems: list[str]) -> dict[str, tuple[int, str]]:
    """stem -> (diagnosis, group) from the labels CSV; every image needs exactly one row."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"image", "diagnosis"} <= set(reader.fieldnames or []):
            raise DataLayoutError(
                f"{path}: header {reader.fieldnames}, expected columns image, diagnosis[, group]"
            )
        rows = list(reader)
    out, bad = {}, []
    for r in rows:
        stem = Path(r["image"].strip()).stem
        value = r["diagnosis"].strip().lower()
        if value not in DIAGNOSIS_VALUES:
            bad.append(f"{r['image']}: {r['diagnosis']!r}")
        out[stem] = (DIAGNOSIS_VALUES.get(value, 0), (r.get("group") or stem).strip())
    if bad:
        raise DataLayoutError(
            f"{path}: " + show(bad, "diagnosis value(s) not in normal/benign/malignant/0/1/2")
        )
    missing = [s for s in stems if s not in out]
    extra = sorted(set(out) - set(stems))
    problems = [show(missing, "image(s) without a row") if missing else ""]
    problems += [show(extra, "row(s) naming no image") if extra else ""]
    if missing or extra:
        raise DataLayoutError(f"{path}: " + "; ".join(p for p in problems if p))
    return out


def list_folder(folder: Path, folders_cfg: Mapping) -> tuple[list[Sample], list[Path]]:
    """(samples in name order, every file used) of one client folder; DataLayoutError listing
    unpaired images and masks (first 20 and the count)."""
    folder = Path(folder)
    pattern = _mask_pattern(folders_cfg.get("mask_name", "{stem}_mask.png"))
    image_dir = folder / folders_cfg.get("images", ".")
    mask_dir = folder / folders_cfg.get("masks", folders_cfg.get("images", "."))
    masks = {m["stem"]: p for p in _files(mask_dir) if (m := pattern.fullmatch(p.name))}
    mask_paths = set(masks.values())
    images = {p.stem: p for p in _files(image_dir) if p not in mask_paths}
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(masks[s].name for s in set(masks) - set(images))
    if no_mask or no_image:
        parts = [show([images[s].name for s in no_mask], "image(s) without a mask")] * bool(no_mask)
        parts += [show(no_image, "mask(s) without an image")] * bool(no_image)
        raise DataLayoutError(
            f"{folder}: {'; '.join(parts)} (masks are named {pattern.pattern!r} in {mask_dir})"
        )
    stems = sorted(images)
    used = [images[s] for s in stems] + [masks[s] for s in stems]
    labels = None
    if folders_cfg.get("labels"):
        labels_path = folder / folders_cfg["labels"]
        if not labels_path.is_file():
            raise DataLayoutError(f"{labels_path}: labels file not found (real.folders.labels)")
        labels = _labels(labels_path, stems)
        used.append(labels_path)
    # diagnosis -1: not given, taken from the mask when standardizing
    diagnosis = (labels[s] if labels else (-1, s) for s in stems)
    samples = [
        Sample(s, images[s], (masks[s],), d, g) for s, (d, g) in zip(stems, diagnosis, strict=True)
    ]
    if not samples:
        raise DataLayoutError(f"{image_dir}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return samples, used


def standardize_folder_client(
    task_name: str, client: str, task_cfg: Mapping
) -> tuple[dict[str, np.ndarray], dict, dict]:
    """(arrays, attributes, manifest) of one client of a ``source: folders`` task.

    Same arrays as :func:`fedmix.datasets.standardize.standardize_client`; the manifest hashes
    every image, mask and the labels file, with names relative to the client folder.
    """
    folders_cfg = task_cfg["real"]["folders"]
    folder = client_folder(folders_cfg, client)
    samples, used = list_folder(folder, folders_cfg)
    size, channels = task_cfg["image_size"], task_cfg["channels"]
    images, masks = load_samples(samples, size, channels, desc=f"{task_name}/{client}")
    lesion = masks.reshape(len(masks), -1).any(axis=1).astype(np.uint8)
    given = np.array([s.diagnosis for s in samples])
    diagnosis = np.where(given >= 0, given, lesion).astype(np.uint8)
    ids = np.array([s.sample_id for s in samples])
    groups = np.array([s.group for s in samples], dtype=object)
    hashes = {p.relative_to(folder).as_posix(): file_sha256(p) for p in used}
    manifest = {
        "dataset": f"folders/{client}",
        "folder": str(folder),
        "counts": {"images": len(samples)},
        "files": hashes,
        "digest": manifest_digest(hashes),
        "partial": None,
    }
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": (diagnosis > 0).astype(np.uint8),
        "diagnosis": diagnosis,
        "sample_ids": ids,
        "split": make_split(ids, list(groups), task_cfg["split"]),
    }
    params = {
        "dataset": f"folders/{client}",
        "folder": str(folder),
        "image_size": size,
        "channels": channels,
        "split": dict(task_cfg["split"]),
        "folders": {k: v for k, v in folders_cfg.items() if k != "clients"},
    }
    attrs = standardized_attrs(
        task_name, client, "folders", manifest, params, licence="your own data", citation=""
    )
    return arrays, attrs, manifest


def check_folder_task(name: str, task: Mapping) -> None:
    """ConfigError unless every client of folder task ``name`` has a folder in real.folders."""
    folders = task.get("real", {}).get("folders")
    if folders is None:
        raise ConfigError(
            f"config['tasks'][{name!r}]: source is folders but real.folders is missing; give "
            "real.folders.clients: {<client>: <folder>} (see docs/data.md)"
        )
    missing = [c for c in task["clients"] if c not in folders["clients"]]
    if missing:
        raise ConfigError(
            f"config['tasks'][{name!r}]: client(s) {missing} have no folder in "
            f"real.folders.clients (it names {sorted(folders['clients'])})"
        )
