"""List the samples of each real dataset from its folder, in its published layout.

Each ``list_*`` function returns :class:`Sample` records in a fixed order (natural sort of the
file names, or metadata row order for HAM10000), pairing every image with its mask file(s). An
image without a mask, or a mask without an image, raises :class:`DataLayoutError` listing the
first offending files. Folders are searched recursively, so an extra top folder inside a zip
does not matter. Diagnosis codes follow :data:`fedmix.file_layout.DIAGNOSIS_NAMES` (0 normal,
1 benign, 2 malignant).
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "HAM_HEADER",
    "HAM_MALIGNANT",
    "DataLayoutError",
    "Sample",
    "list_busbra",
    "list_busi",
    "list_busis",
    "list_ham10000",
    "list_ham10000_all",
    "list_isic2018",
    "list_udiat",
    "natural_key",
    "read_busbra_rows",
    "read_busis_rows",
    "read_ham_metadata",
    "read_xlsx_rows",
]

HAM_HEADER = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization", "dataset"]
HAM_MALIGNANT = {"mel", "bcc", "akiec"}
_SHOW = 5


class DataLayoutError(ValueError):
    """A dataset folder does not hold what its published layout says."""


class Sample(NamedTuple):
    """One image: id, image file, mask file(s) to OR-merge, diagnosis code, split group."""

    sample_id: str
    image: Path
    masks: tuple[Path, ...]
    diagnosis: int
    group: str


def natural_key(name: str) -> list:
    """Sort key putting ``benign (2)`` before ``benign (10)``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _offenders(folder: Path, what: str, names) -> None:
    names = sorted(names, key=natural_key)
    if names:
        shown = ", ".join(names[:_SHOW]) + (" ..." if len(names) > _SHOW else "")
        raise DataLayoutError(f"{folder}: {len(names)} {what}: {shown}")


def _find(folder: Path, pattern: str) -> dict[str, Path]:
    """File name -> path for every file under ``folder`` whose name fully matches ``pattern``."""
    rx = re.compile(pattern)
    found = {}
    for p in folder.rglob("*"):
        if p.is_file() and rx.fullmatch(p.name) and ".tmp-" not in p.as_posix():
            found[p.name] = p  # skips leftovers of an interrupted extraction
    return found


_BUSI = re.compile(r"(benign|malignant|normal) \((\d+)\)(_mask(?:_\d+)?)?\.png")


def list_busi(folder: Path, include_normal: bool = False) -> list[Sample]:
    """BUSI: ``<class> (<k>).png`` with ``_mask.png`` and extra ``_mask_<j>.png`` (OR-merged)."""
    folder = Path(folder)
    images, masks = {}, {}
    for name, path in _find(folder, _BUSI.pattern).items():
        cls, k, suffix = _BUSI.fullmatch(name).groups()
        stem = f"{cls} ({k})"
        if suffix:
            masks.setdefault(stem, []).append(path)
        else:
            images[stem] = path
    if not images:
        raise DataLayoutError(f"{folder}: no BUSI image '<class> (<k>).png' found")
    _offenders(folder, "image(s) without a mask", set(images) - set(masks))
    _offenders(folder, "mask(s) without an image", set(masks) - set(images))
    code = {"normal": 0, "benign": 1, "malignant": 2}
    samples = []
    for stem in sorted(images, key=natural_key):
        if include_normal or not stem.startswith("normal"):
            files = tuple(sorted(masks[stem], key=lambda p: natural_key(p.name)))
            samples.append(Sample(stem, images[stem], files, code[stem.split(" ")[0]], stem))
    return samples


def read_busis_rows(path: Path) -> list[tuple[str, str]]:
    """(image name, ground-truth name) of every row of ``BUSIS562.csv``."""
    rows = _read_csv(Path(path), ("img name", "Ground Truth Name", "tumor type"))
    return [(r["img name"].strip(), r["Ground Truth Name"].strip()) for r in rows]


def list_busis(folder: Path) -> list[Sample]:
    """BUSIS: ``BUSIS562.csv`` names each image in ``Original/`` and its mask in ``GT/``."""
    folder = Path(folder)
    csv_path = _find(folder, r"BUSIS562\.csv").get("BUSIS562.csv", folder / "BUSIS562.csv")
    folder = csv_path.parent
    rows = _read_csv(csv_path, ("img name", "Ground Truth Name", "tumor type"))
    originals = {p.name: p for p in (folder / "Original").glob("*") if p.is_file()}
    by_stem = {p.stem: p for p in originals.values()}
    gts = {p.name: p for p in (folder / "GT").glob("*") if p.is_file()}
    samples, no_image, no_mask = [], [], []
    for row in rows:
        name, gt = row["img name"].strip(), row["Ground Truth Name"].strip()
        image = originals.get(name) or by_stem.get(Path(name).stem)
        mask = gts.get(gt) or gts.get(f"{Path(gt).stem}.bmp")
        if image is None:
            no_image.append(f"Original/{name}")
        if mask is None:
            no_mask.append(f"GT/{gt}")
        if image is not None and mask is not None:
            diagnosis = _diagnosis(row["tumor type"], folder / "BUSIS562.csv", name)
            samples.append(Sample(image.stem, image, (mask,), diagnosis, image.stem))
    _offenders(folder, "image(s) listed in BUSIS562.csv but missing", no_image)
    _offenders(folder, "mask(s) listed in BUSIS562.csv but missing", no_mask)
    return samples


def list_udiat(folder: Path) -> list[Sample]:
    """UDIAT Dataset B: ``original/<6 digits>.png``, ``GT/<same>.png``, ``DatasetB.xlsx``."""
    folder = _holding(Path(folder), "DatasetB.xlsx")
    images = _find(folder / "original", r"\d{6}\.png")
    masks = _find(folder / "GT", r"\d{6}\.png")
    _offenders(folder, "image(s) in original/ without a mask in GT/", set(images) - set(masks))
    _offenders(folder, "mask(s) in GT/ without an image in original/", set(masks) - set(images))
    types = {}
    for row in read_xlsx_rows(folder / "DatasetB.xlsx"):
        key = str(row.get("Image", "")).strip()
        if key:
            types[key.split(".")[0].zfill(6)] = row.get("Type", "")
    xlsx = folder / "DatasetB.xlsx"
    _offenders(xlsx, "image(s) without a Type row", {n for n in images if n[:6] not in types})
    return [
        Sample(n[:6], images[n], (masks[n],), _diagnosis(types[n[:6]], xlsx, n), n[:6])
        for n in sorted(images)
    ]


def read_ham_metadata(path: Path) -> list[dict]:
    """Rows of ``HAM10000_metadata.csv`` in file order, after checking its header."""
    return _read_csv(Path(path), tuple(HAM_HEADER), exact=True)


def list_ham10000(folder: Path, site: str) -> list[Sample]:
    """HAM10000 images of one site (metadata ``dataset`` value), in metadata row order."""
    folder = Path(folder)
    rows = [r for r in read_ham_metadata(folder / "HAM10000_metadata.csv") if r["dataset"] == site]
    if not rows:
        raise DataLayoutError(f"{folder}/HAM10000_metadata.csv: no row has dataset == {site!r}")
    images = _find(folder, r"ISIC_\d+\.jpg")
    masks = _find(folder, r"ISIC_\d+_segmentation\.png")
    ids = [r["image_id"] for r in rows]
    no_image = {i for i in ids if f"{i}.jpg" not in images}
    no_mask = {i for i in ids if f"{i}_segmentation.png" not in masks}
    _offenders(folder, f"{site} image(s) missing", no_image)
    _offenders(folder, f"{site} image(s) without a mask", no_mask)
    samples = []
    for r in rows:
        i = r["image_id"]
        diagnosis = 2 if r["dx"] in HAM_MALIGNANT else 1
        samples.append(
            Sample(
                i, images[f"{i}.jpg"], (masks[f"{i}_segmentation.png"],), diagnosis, r["lesion_id"]
            )
        )
    return samples


def list_ham10000_all(folder: Path) -> list[Sample]:
    """Every HAM10000 image of every site, in metadata row order."""
    folder = Path(folder)
    sites = dict.fromkeys(r["dataset"] for r in read_ham_metadata(folder / "HAM10000_metadata.csv"))
    return [s for site in sites for s in list_ham10000(folder, site)]


BUSBRA_COLUMNS = ("ID", "Pathology", "Device")


def read_busbra_rows(path: Path) -> list[dict]:
    """Rows of BUS-BRA's ``bus_data.csv`` (columns ``ID``, ``Pathology``, ``Device``, ...)."""
    return _read_csv(Path(path), BUSBRA_COLUMNS)


def list_busbra(folder: Path) -> list[Sample]:
    """BUS-BRA: ``Images/bus_<case>-<view>.png``, ``Masks/mask_<case>-<view>.png``,
    ``bus_data.csv`` (``Pathology`` benign/malignant). Group = the case number, so every
    image of one case falls in one split."""
    folder = _holding(Path(folder), "bus_data.csv")
    rows = read_busbra_rows(folder / "bus_data.csv")
    images = _find(folder / "Images", r"bus_[\w-]+\.png")
    masks = _find(folder / "Masks", r"mask_[\w-]+\.png")
    ids = [r["ID"].strip() for r in rows]
    _offenders(
        folder,
        "image(s) listed in bus_data.csv but missing in Images/",
        {i for i in ids if f"{i}.png" not in images},
    )
    mask_of = {i: i.replace("bus_", "mask_", 1) + ".png" for i in ids}
    no_mask = {i for i in ids if mask_of[i] not in masks}
    _offenders(folder, "image(s) without a mask in Masks/", no_mask)
    samples = []
    for r, i in zip(rows, ids, strict=True):
        case = re.sub(r"\D", "", i.split("-")[0])
        diagnosis = _diagnosis(r["Pathology"], folder / "bus_data.csv", i)
        samples.append(Sample(i, images[f"{i}.png"], (masks[mask_of[i]],), diagnosis, case))
    return samples


def _holding(folder: Path, name: str) -> Path:
    """The folder under ``folder`` that holds file ``name`` (``folder`` itself if none does)."""
    hit = _find(folder, re.escape(name)).get(name)
    return hit.parent if hit is not None else folder


def list_isic2018(folder: Path) -> list[Sample]:
    """ISIC 2018 Task 1: ``ISIC_<id>.jpg`` paired with ``ISIC_<id>_segmentation.png``."""
    folder = Path(folder)
    images = {v.stem: v for v in _find(folder, r"ISIC_\d+\.jpe?g").values()}
    found = _find(folder, r"ISIC_\d+_segmentation\.png")
    masks = {p.removesuffix("_segmentation.png"): v for p, v in found.items()}
    _offenders(folder, "image(s) without a mask", set(images) - set(masks))
    _offenders(folder, "mask(s) without an image", set(masks) - set(images))
    # Task 1 gives no diagnosis: every image shows a lesion, recorded as benign (1).
    return [Sample(i, images[i], (masks[i],), 1, i) for i in sorted(images)]


def _diagnosis(value: str, where: Path, name: str) -> int:
    letter = str(value).strip()[:1].upper()
    if letter not in ("B", "M"):
        raise DataLayoutError(f"{where}: tumour type {value!r} of {name} is neither B nor M")
    return 1 if letter == "B" else 2


def _read_csv(path: Path, columns: tuple[str, ...], exact: bool = False) -> list[dict]:
    if not path.is_file():
        raise DataLayoutError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        bad = header != list(columns) if exact else not set(columns) <= set(header)
        if bad:
            raise DataLayoutError(f"{path}: header {header}, expected columns {list(columns)}")
        return list(reader)


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_xlsx_rows(path: Path) -> list[dict]:
    """Rows of the first sheet of an .xlsx file as dicts keyed by the first row (stdlib only)."""
    path = Path(path)
    if not path.is_file():
        raise DataLayoutError(f"{path}: file not found")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            text_tag = f"{{{_NS['m']}}}t"
            shared = [
                "".join(t.text or "" for t in si.iter(text_tag)) for si in root.findall("m:si", _NS)
            ]
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    table = []
    for row in sheet.iter(f"{{{_NS['m']}}}row"):
        cells = {}
        for c in row.findall("m:c", _NS):
            col = re.match(r"[A-Z]+", c.get("r", "A")).group()
            v = c.find("m:v", _NS)
            text = c.find("m:is/m:t", _NS)
            value = (text.text if text is not None else v.text if v is not None else "") or ""
            cells[col] = shared[int(value)] if c.get("t") == "s" else value
        table.append(cells)
    if not table:
        return []
    header = {col: str(name).strip() for col, name in table[0].items()}
    return [{header[c]: v for c, v in r.items() if c in header} for r in table[1:]]
