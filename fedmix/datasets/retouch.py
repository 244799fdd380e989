"""RETOUCH (MICCAI 2017 retinal OCT fluid challenge): check the placed training set, read slices.

Layout of the training set as released (registration at retouch.grand-challenge.org)::

    RETOUCH-TrainingSet-Cirrus/TRAIN001 ... TRAIN024/
    RETOUCH-TrainingSet-Spectralis/TRAIN025 ... TRAIN048/
    RETOUCH-TrainingSet-Topcon/TRAIN049 ... TRAIN070/
        oct.mhd + oct.raw              the B-scan volume
        reference.mhd + reference.raw  class labels 0 background, 1 IRF, 2 SRF, 3 PED

Volumes are MetaImage files, read here with numpy alone (:func:`read_mhd`; no SimpleITK):
``DimSize = X Y Z`` gives an array ``(Z, Y, X)``, i.e. ``Z`` B-scans of ``Y`` depth rows by ``X``
A-scans. Each B-scan that holds at least one fluid label becomes one sample (as the original);
images are scaled to uint8 per volume (min..max) when stored with more bits, resized bilinear,
and labels resized nearest-neighbour, keeping class indices. The sample's group is its volume,
so a grouped split never puts two slices of one volume in different partitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from fedmix.datasets.download import dataset_dir
from fedmix.datasets.manifest import file_sha256, manifest_digest, standardized_attrs
from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import REGISTRY
from fedmix.datasets.splits import make_split

__all__ = [
    "RETOUCH_CLASSES",
    "RETOUCH_VENDORS",
    "read_mhd",
    "retouch_manifest",
    "retouch_slices",
    "retouch_volumes",
    "verify_retouch",
]

RETOUCH_CLASSES = ("irf", "srf", "ped")
# vendor -> (folder, first and last volume number)
RETOUCH_VENDORS = {
    "cirrus": ("RETOUCH-TrainingSet-Cirrus", 1, 24),
    "spectralis": ("RETOUCH-TrainingSet-Spectralis", 25, 48),
    "topcon": ("RETOUCH-TrainingSet-Topcon", 49, 70),
}
_TYPES = {
    "MET_UCHAR": "u1",
    "MET_CHAR": "i1",
    "MET_USHORT": "u2",
    "MET_SHORT": "i2",
    "MET_UINT": "u4",
    "MET_INT": "i4",
    "MET_FLOAT": "f4",
    "MET_DOUBLE": "f8",
}
_FILES = ("oct.mhd", "oct.raw", "reference.mhd", "reference.raw")


def read_mhd(path: str | Path, header_only: bool = False):
    """Read a MetaImage ``.mhd`` header and its raw data: ``(array, header)``.

    Supported: uncompressed data of one channel in a separate file (``ElementDataFile`` a file
    name next to the header) or after the header (``LOCAL``), any ``ElementType`` of
    :data:`_TYPES`, either byte order, ``HeaderSize``. The array has the reversed ``DimSize``
    as shape. With ``header_only`` the array is None.
    """
    path = Path(path)
    if not path.is_file():
        raise DataLayoutError(f"{path}: MetaImage header not found")
    raw = path.read_bytes()
    header, offset = {}, 0
    for line in raw.splitlines(keepends=True):
        offset += len(line)
        key, sep, value = line.decode("latin-1").partition("=")
        if not sep:
            raise DataLayoutError(f"{path}: header line {line[:60]!r} is not 'Key = Value'")
        header[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    for key in ("DimSize", "ElementType", "ElementDataFile"):
        if key not in header:
            raise DataLayoutError(f"{path}: MetaImage header lacks {key}; found {sorted(header)}")
    if header.get("CompressedData", "False").lower() == "true":
        raise DataLayoutError(f"{path}: compressed MetaImage data is not supported")
    if int(header.get("ElementNumberOfChannels", 1)) != 1:
        raise DataLayoutError(f"{path}: only one channel per element is supported")
    if header["ElementType"] not in _TYPES:
        raise DataLayoutError(
            f"{path}: ElementType {header['ElementType']} not one of {sorted(_TYPES)}"
        )
    if header_only:
        return None, header
    shape = tuple(int(v) for v in header["DimSize"].split())[::-1]
    msb = header.get("ElementByteOrderMSB", header.get("BinaryDataByteOrderMSB", "False"))
    dtype = np.dtype(_TYPES[header["ElementType"]]).newbyteorder(
        ">" if msb.lower() == "true" else "<"
    )
    if header["ElementDataFile"] == "LOCAL":
        data, start = raw, offset
    else:
        data_path = path.with_name(header["ElementDataFile"])
        if not data_path.is_file():
            raise DataLayoutError(f"{path}: its data file {data_path.name} is missing")
        data, start = data_path.read_bytes(), 0
    n = int(np.prod(shape)) * dtype.itemsize
    start = start if int(header.get("HeaderSize", 0)) <= 0 else int(header["HeaderSize"])
    if len(data) - start != n:
        raise DataLayoutError(
            f"{path}: {len(data) - start} data bytes, expected {n} for DimSize "
            f"{header['DimSize']} of {header['ElementType']} (truncated or wrong file?)"
        )
    array = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=start)
    return array.reshape(shape).astype(dtype.newbyteorder("=")), header


def retouch_volumes(folder: str | Path, vendor: str) -> list[tuple[str, Path]]:
    """``(volume id, folder)`` of every ``TRAIN<nnn>`` of ``vendor``, in number order; raises
    :class:`DataLayoutError` on a missing vendor folder, a volume outside the vendor's number
    range or a volume lacking one of its four files."""
    if vendor not in RETOUCH_VENDORS:
        raise ValueError(f"unknown RETOUCH vendor {vendor!r}; known: {sorted(RETOUCH_VENDORS)}")
    name, first, last = RETOUCH_VENDORS[vendor]
    hits = [p for p in Path(folder).rglob(name) if p.is_dir()]
    if len(hits) != 1:
        raise DataLayoutError(
            f"{folder}: expected one folder {name}, found {len(hits)} ({[str(h) for h in hits]})"
        )
    volumes, wrong, incomplete = [], [], []
    for path in sorted(hits[0].iterdir()):
        m = re.fullmatch(r"TRAIN(\d{3})", path.name)
        if not (path.is_dir() and m):
            continue
        if not first <= int(m.group(1)) <= last:
            wrong.append(path.name)
        missing = [f for f in _FILES if not (path / f).is_file()]
        if missing:
            incomplete.append(f"{path.name} lacks {', '.join(missing)}")
        volumes.append((path.name, path))
    if wrong:
        raise DataLayoutError(
            f"{hits[0]}: {vendor} volumes are TRAIN{first:03d}-TRAIN{last:03d}, found {wrong[:5]}"
        )
    if incomplete:
        raise DataLayoutError(f"{hits[0]}: " + "; ".join(incomplete[:5]))
    return volumes


def verify_retouch(folder: str | Path, counts: dict[str, int]) -> dict:
    """Check the placed training set by content; return per-vendor volume and slice counts.

    Per vendor: the number of volumes (``counts``, e.g. 24 / 24 / 22), each with an image and
    a reference volume of the same ``DimSize``, and reference labels within 0..3.
    """
    found = {}
    for vendor, expected in counts.items():
        volumes = retouch_volumes(folder, vendor)
        if len(volumes) != expected:
            raise DataLayoutError(f"{folder}: {len(volumes)} {vendor} volumes, expected {expected}")
        slices = 0
        for _, path in volumes:
            _, oct_header = read_mhd(path / "oct.mhd", header_only=True)
            _check_raw_size(path / "oct.mhd", oct_header)
            labels, ref_header = read_mhd(path / "reference.mhd")
            if oct_header["DimSize"].split() != ref_header["DimSize"].split():
                raise DataLayoutError(
                    f"{path}: oct DimSize {oct_header['DimSize']} but reference "
                    f"{ref_header['DimSize']}"
                )
            bad = np.setdiff1d(np.unique(labels), np.arange(len(RETOUCH_CLASSES) + 1))
            if bad.size:
                raise DataLayoutError(
                    f"{path}/reference: label values {bad[:5].tolist()} not in 0..3"
                )
            slices += int(labels.reshape(labels.shape[0], -1).any(1).sum())
        found[vendor] = {"volumes": len(volumes), "slices_with_fluid": slices}
    return found


def retouch_manifest(folder: str | Path, counts: dict[str, int]) -> dict:
    """:func:`verify_retouch` plus the per-file SHA-256 and digest every verified dataset
    records as its provenance (:mod:`fedmix.datasets.manifest`)."""
    folder = Path(folder)
    found = verify_retouch(folder, counts)
    hashes = {}
    for vendor in counts:
        for vid, path in retouch_volumes(folder, vendor):
            for name in _FILES:
                hashes[f"{RETOUCH_VENDORS[vendor][0]}/{vid}/{name}"] = file_sha256(path / name)
    return {
        "dataset": "retouch",
        "folder": str(folder),
        "counts": found,
        "files": hashes,
        "digest": manifest_digest(hashes),
        "partial": None,
    }


def _check_raw_size(path: Path, header: dict) -> None:
    """The image volume is large: check its byte count against the header without reading it."""
    n = int(np.prod([int(v) for v in header["DimSize"].split()]))
    expected = n * np.dtype(_TYPES[header["ElementType"]]).itemsize
    data = path.with_name(header["ElementDataFile"])
    if header["ElementDataFile"] != "LOCAL" and (
        not data.is_file() or data.stat().st_size != expected
    ):
        found = data.stat().st_size if data.is_file() else "no file"
        raise DataLayoutError(f"{data}: {found} bytes, expected {expected} (truncated?)")


def _to_uint8(volume: np.ndarray) -> np.ndarray:
    if volume.dtype == np.uint8:
        return volume
    lo, hi = float(volume.min()), float(volume.max())
    scaled = (volume.astype(np.float64) - lo) / max(hi - lo, 1e-12)
    return np.round(scaled * 255).astype(np.uint8)


def retouch_slices(folder: str | Path, vendor: str, size: int):
    """Every fluid-holding B-scan of ``vendor``: images uint8 ``(N, 1, S, S)``, class-index
    masks uint8 ``(N, S, S)``, sample ids ``TRAIN<nnn>-s<kkk>`` and groups (volume ids)."""
    images, masks, ids, groups = [], [], [], []
    for vid, path in retouch_volumes(folder, vendor):
        volume, _ = read_mhd(path / "oct.mhd")
        labels, _ = read_mhd(path / "reference.mhd")
        if volume.shape != labels.shape:
            raise DataLayoutError(f"{path}: oct {volume.shape} but reference {labels.shape}")
        volume = _to_uint8(volume)
        for k in np.flatnonzero(labels.reshape(labels.shape[0], -1).any(1)):
            image = Image.fromarray(volume[k]).resize((size, size), Image.Resampling.BILINEAR)
            label = Image.fromarray(labels[k].astype(np.uint8))
            images.append(np.asarray(image)[None])
            masks.append(np.asarray(label.resize((size, size), Image.Resampling.NEAREST)))
            ids.append(f"{vid}-s{k:03d}")
            groups.append(vid)
    if not ids:
        raise DataLayoutError(f"{folder}: no {vendor} B-scan holds a fluid label")
    return np.stack(images), np.stack(masks), np.array(ids), np.array(groups, dtype=object)


def standardize_retouch(
    task_name: str, client: str, task_cfg: Mapping, datasets_cfg: Mapping, manifest=None
):
    """RETOUCH vendor ``client``: fluid-holding B-scans, class-index masks 0..3, split grouped
    by volume (:mod:`fedmix.datasets.retouch`)."""
    if task_cfg["channels"] != 1:
        raise DataLayoutError(
            f"RETOUCH is grayscale OCT; set channels: 1 (got {task_cfg['channels']})"
        )
    folder = dataset_dir("retouch", datasets_cfg)
    images, masks, ids, groups = retouch_slices(folder, client, task_cfg["image_size"])
    lesion = masks.reshape(len(masks), -1).any(1).astype(np.uint8)
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": lesion,
        "diagnosis": lesion.copy(),
        "sample_ids": ids,
        "split": make_split(ids, list(groups), task_cfg["split"]),
    }
    params = {
        "dataset": "retouch",
        "image_size": task_cfg["image_size"],
        "channels": 1,
        "split": dict(task_cfg["split"]),
        "volumes": len(set(groups)),
    }
    ds = REGISTRY["retouch"]
    attrs = standardized_attrs(
        task_name,
        client,
        task_cfg["source"],
        manifest,
        params,
        licence=ds.licence,
        citation=ds.citation,
        diagnosis_names=("no fluid", "fluid"),
        class_names=RETOUCH_CLASSES,
    )
    return arrays, attrs
