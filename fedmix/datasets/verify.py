"""Verify a dataset folder by content: expected names and counts, readable images, 0/255 masks.

A copy of a dataset is accepted wherever it came from (the official archive extracted by the
download rule, a mirror such as Kaggle's BUSI, a folder you extracted yourself) when it holds the
published layout's files: :func:`verify_folder` compares the image and mask files found with the
complete dataset's names, refuses a partial or extra-file copy with a list (first 20 and a
count), opens every image and mask, and returns a manifest (per-file SHA-256 and digest,
:mod:`fedmix.datasets.manifest`). ``allow_partial`` accepts a partial copy anyway, flagged as
such in the manifest and in everything computed from it.

Layout names are paths inside the published layout (``benign/benign (1).png``,
``original/000001.png``) or bare file names where the layout does not fix the folder
(HAM10000, ISIC 2018), so the folder may be nested anywhere below ``datasets.paths.<key>``.
Hidden files, ``__MACOSX/``, ``Thumbs.db`` / ``desktop.ini``, the dataset's own archives and
unfinished extractions are ignored; other non-image files are hashed but never refused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from fedmix.datasets.manifest import file_sha256, manifest_digest
from fedmix.datasets.readers import (
    DataLayoutError,
    Sample,
    list_busbra,
    list_busi,
    list_busis,
    list_ham10000_all,
    list_isic2018,
    list_udiat,
    natural_key,
    read_busbra_rows,
    read_busis_rows,
    read_ham_metadata,
)
from fedmix.datasets.registry import REGISTRY, Dataset
from fedmix.datasets.standardize import check_sample

__all__ = [
    "IMAGE_SUFFIXES",
    "PartialDataError",
    "check_samples",
    "folder_files",
    "list_all",
    "show",
    "verify_folder",
]

log = logging.getLogger("fedmix.datasets")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
_IGNORED = {"Thumbs.db", "desktop.ini"}
SHOW = 20


class PartialDataError(DataLayoutError):
    """A dataset folder lacks files of the complete dataset or holds files it does not have."""


def show(items: list[str], what: str) -> str:
    """``<n> <what>: a, b, ... (first 20 of n)``: the start of a long list and its length."""
    more = f" (first {SHOW} of {len(items)})" if len(items) > SHOW else ""
    return f"{len(items)} {what}: " + ", ".join(items[:SHOW]) + more


def _in_layout_dir(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _bare(p: Path) -> str:
    return p.name


# How a file is named inside each published layout (see the module doc).
_NAMING: dict[str, Callable[[Path], str]] = {
    "busi": _in_layout_dir,
    "busis": _in_layout_dir,
    "udiat": _in_layout_dir,
    "busbra": _in_layout_dir,
    "ham10000": _bare,
    "isic2018": _bare,
}


def folder_files(folder: Path, key: str, skip: set[str] = frozenset()) -> dict[str, list[Path]]:
    """Layout name -> paths of every file of dataset ``key`` under ``folder`` (see module doc)."""
    name_of = _NAMING.get(key, _bare)
    found: dict[str, list[Path]] = {}
    if not Path(folder).is_dir():
        return found
    for p in sorted(Path(folder).rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if (
            not p.is_file()
            or any(part.startswith(".") or part == "__MACOSX" for part in Path(rel).parts)
            or ".tmp-" in rel
            or p.name in _IGNORED
            or p.name in skip
            or p.name.endswith(".part")
        ):
            continue
        name = name_of(p) if p.suffix.lower() in IMAGE_SUFFIXES else p.name
        found.setdefault(name, []).append(p)
    return found


_BUSI_EXTRA_MASK = re.compile(r"(\w+)/(\w+ \(\d+\))_mask_\d+\.png")


def _expected(key: str, ds: Dataset, folder: Path, files: Mapping[str, list[Path]]):
    """(layout names of every image and mask of the complete dataset or None, extra_ok)."""
    if key == "busi":
        names = {
            f"{c}/{c} ({k}){suffix}.png"
            for c, n in ds.counts.items()
            for k in range(1, n + 1)
            for suffix in ("", "_mask")
        }

        def extra_ok(name):  # additional lesions: <class> (<k>)_mask_<j>.png
            m = _BUSI_EXTRA_MASK.fullmatch(name)
            return bool(m) and f"{m[1]}/{m[2]}.png" in names

        return names, extra_ok
    if key == "udiat":
        n = ds.counts["images"]
        return {f"{d}/{k:06d}.png" for d in ("original", "GT") for k in range(1, n + 1)}, None
    if key == "busis":
        rows = read_busis_rows(_one(files, "BUSIS562.csv", folder))
        gts = {g if Path(g).suffix else f"{g}.bmp" for _, g in rows}
        return {f"Original/{i}" for i, _ in rows} | {f"GT/{g}" for g in gts}, None
    if key == "busbra":
        ids = [r["ID"] for r in read_busbra_rows(_one(files, "bus_data.csv", folder))]
        masks = {f"Masks/{i.replace('bus_', 'mask_', 1)}.png" for i in ids}
        return {f"Images/{i}.png" for i in ids} | masks, None
    if key == "ham10000":
        rows = read_ham_metadata(_one(files, "HAM10000_metadata.csv", folder))
        ids = [r["image_id"] for r in rows]
        return {f"{i}.jpg" for i in ids} | {f"{i}_segmentation.png" for i in ids}, None
    return None, None  # isic2018: names not published as a list; checked by count


def _one(files: Mapping[str, list[Path]], name: str, folder: Path) -> Path:
    if name not in files:
        raise DataLayoutError(f"{folder}: {name} not found (the dataset's metadata file)")
    return files[name][0]


def list_all(key: str, folder: Path) -> list[Sample]:
    """Every sample of dataset ``key`` (BUSI normal images included, all HAM10000 sites)."""
    listers = {
        "busi": lambda f: list_busi(f, include_normal=True),
        "busis": list_busis,
        "udiat": list_udiat,
        "busbra": list_busbra,
        "ham10000": list_ham10000_all,
        "isic2018": list_isic2018,
    }
    return listers[key](folder)


def check_samples(samples: list[Sample]) -> None:
    """Open every image and mask; DataLayoutError listing what is unreadable, not binary,
    or of another size than its image (first 20 and the count)."""
    errors = []
    for s in samples:
        try:
            check_sample(s)
        except DataLayoutError as err:
            errors.append(str(err))
    if errors:
        raise DataLayoutError(show(errors, "unusable image/mask file(s)"))


def _count_line(samples: list[Sample]) -> dict[str, int]:
    names = ("normal", "benign", "malignant")
    counts = {"images": len(samples)}
    for code, name in enumerate(names):
        n = sum(s.diagnosis == code for s in samples)
        if n:
            counts[name] = n
    return counts


def _partial(ds: Dataset, folder: Path, found: str, missing, extra) -> PartialDataError:
    parts = [show(missing, "missing")] * bool(missing) + [show(extra, "extra")] * bool(extra)
    return PartialDataError(
        f"{ds.title}: {folder} is not the complete dataset ({found}). "
        + "".join(p + ". " for p in parts)
        + f"Layout: {ds.layout}. Place the complete copy there, or, knowing what you do, add "
        f"{ds.key} to datasets.allow_partial: everything made from it is then flagged PARTIAL"
    )


def verify_folder(
    key: str, folder: str | Path, allow_partial: bool = False, registry=REGISTRY
) -> dict:
    """Check the copy of ``key`` in ``folder`` by content; return its manifest.

    Raises :class:`PartialDataError` listing missing and extra files unless ``allow_partial``,
    :class:`DataLayoutError` for unpaired, unreadable or non-binary files. The manifest holds
    ``dataset``, ``folder``, ``counts`` (images and the class split found), ``files`` (layout
    name -> SHA-256), ``digest`` and ``partial`` (None, or the numbers of missing/extra files).
    """
    ds, folder = registry[key], Path(folder)
    files = folder_files(folder, key, {f.name for f in ds.files})
    expected, extra_ok = _expected(key, ds, folder, files)
    images = {n for n in files if Path(n).suffix.lower() in IMAGE_SUFFIXES}
    duplicates = [p.as_posix() for ps in files.values() for p in ps[1:]]
    missing, extra = [], duplicates
    if expected is not None:
        missing = sorted(expected - images, key=natural_key)
        unexpected = (n for n in images - expected if not (extra_ok and extra_ok(n)))
        extra = sorted(unexpected, key=natural_key) + extra
    if (missing or extra) and not allow_partial:
        raise _partial(ds, folder, f"{len(images)} image/mask files", missing, extra)
    samples = list_all(key, folder)
    short = ds.n_images - len(samples) if not missing else 0  # e.g. a cut metadata file
    if short > 0 and not allow_partial:
        found = f"{len(samples)} images, {short} fewer than the {ds.n_images} published"
        raise _partial(ds, folder, found, [], extra)
    check_samples(samples)
    counts = _count_line(samples)
    log.info("%s: %s verified in %s", key, counts, folder)
    hashes = {name: file_sha256(paths[0]) for name, paths in files.items()}
    partial = None
    if missing or extra or short > 0:
        partial = {"missing": len(missing) + max(short, 0), "extra": len(extra)}
        log.warning("%s: accepted PARTIAL copy (allow_partial): %s", key, partial)
    return {
        "dataset": key,
        "folder": str(folder),
        "counts": counts,
        "files": hashes,
        "digest": manifest_digest(hashes),
        "partial": partial,
    }
