"""Miniature fakes of the real datasets, in each one's exact published layout.

Images are small random PNG/JPEG/BMP files of varying size; masks hold only 0 and 255 (a disc
at a known place) unless a test asks otherwise. Zips are written with the member paths of the
published archives and hashed; :func:`serve` serves a folder on 127.0.0.1 so that downloads go
through the same pooch HTTP code as a real one, and :func:`fake_registry` points a copy of the
registry at it (only URLs, hashes and counts differ).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from fedmix.datasets.readers import HAM_HEADER
from fedmix.datasets.registry import REGISTRY

__all__ = [
    "HAM_ROWS",
    "disc",
    "fake_registry",
    "BUSI_COUNTS",
    "make_busbra_folder",
    "make_busi_folder",
    "make_busi_zip",
    "make_folder_client",
    "make_busis_folder",
    "make_ham_files",
    "make_isic2018_zips",
    "make_udiat_folder",
    "serve",
    "sha256",
    "write_image",
    "write_xlsx",
]

# Real header, invented rows: lesion HAM_0000001 has two images at rosendahl; HAM_0000009 is
# imaged at vidir_modern and vidir_molemax (like the 9 real shared melanomas).
HAM_ROWS = [
    ("HAM_0000001", "ISIC_0024306", "mel", "histo", "60.0", "male", "back", "rosendahl"),
    ("HAM_0000001", "ISIC_0024307", "mel", "histo", "60.0", "male", "back", "rosendahl"),
    ("HAM_0000002", "ISIC_0024308", "nv", "follow_up", "45.0", "female", "trunk", "rosendahl"),
    ("HAM_0000009", "ISIC_0024309", "mel", "histo", "70.0", "male", "face", "vidir_modern"),
    ("HAM_0000003", "ISIC_0024310", "bkl", "consensus", "50.0", "female", "neck", "vidir_modern"),
    ("HAM_0000004", "ISIC_0024311", "bcc", "histo", "65.0", "male", "scalp", "vienna_dias"),
    ("HAM_0000009", "ISIC_0024312", "mel", "histo", "70.0", "male", "face", "vidir_molemax"),
    ("HAM_0000005", "ISIC_0024313", "nv", "follow_up", "30.0", "female", "back", "vidir_molemax"),
    (
        "HAM_0000006",
        "ISIC_0024314",
        "df",
        "histo",
        "40.0",
        "male",
        "lower extremity",
        "vidir_molemax",
    ),
]


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    """uint8 (h, w) 0/255 mask of a disc centred at (cy, cx) with radius r pixels."""
    yy, xx = np.mgrid[:h, :w]
    return np.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, 255, 0).astype(np.uint8)


def write_image(path: Path, h: int, w: int, seed: int, rgb: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3) if rgb else (h, w), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _mask(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _zip(folder: Path, zip_path: Path) -> Path:
    """Zip every file under ``folder`` with member names relative to ``folder``."""
    with zipfile.ZipFile(zip_path, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    return zip_path


BUSI_COUNTS = {"benign": 2, "malignant": 1, "normal": 1}  # of the fakes below


def make_busi_zip(out: Path) -> Path:
    """``Dataset_BUSI.zip``: 2 benign (one with ``_mask_1``), 1 malignant, 1 normal."""
    src = out / "busi_src"
    make_busi_folder(src / "Dataset_BUSI_with_GT")
    return _zip(src, out / "Dataset_BUSI.zip")


def make_busi_folder(top: Path) -> Path:
    """``Dataset_BUSI_with_GT/`` as extracted (the official zip's and Kaggle's mirror's folder):
    ``<class>/<class> (<k>).png`` and ``_mask.png``, ``_mask_1.png`` for a second lesion."""
    specs = [  # class, k, (h, w), discs (cy, cx, r) per mask file
        ("benign", 1, (40, 48), [(20, 24, 8)]),
        ("benign", 2, (44, 36), [(10, 10, 5), (30, 26, 6)]),
        ("malignant", 1, (36, 36), [(18, 18, 10)]),
        ("normal", 1, (40, 40), [None]),
    ]
    for i, (cls, k, (h, w), discs) in enumerate(specs):
        write_image(top / cls / f"{cls} ({k}).png", h, w, seed=i)
        for j, d in enumerate(discs):
            suffix = "_mask" if j == 0 else f"_mask_{j}"
            arr = np.zeros((h, w), np.uint8) if d is None else disc(h, w, *d)
            _mask(top / cls / f"{cls} ({k}){suffix}.png", arr)
    return top


def make_ham_files(out: Path, rows=HAM_ROWS) -> dict[str, Path]:
    """The four HAM10000 files; images split over the two part zips, masks in their folder."""
    imgs1, imgs2, masks = out / "ham_p1", out / "ham_p2", out / "ham_masks"
    seg = masks / "HAM10000_segmentations_lesion_tschandl"
    for i, row in enumerate(rows):
        image_id = row[1]
        write_image((imgs1 if i % 2 == 0 else imgs2) / f"{image_id}.jpg", 45, 60, seed=i)
        _mask(seg / f"{image_id}_segmentation.png", disc(45, 60, 22, 30, 12))
    meta = out / "HAM10000_metadata.csv"
    meta.write_text("\n".join([",".join(HAM_HEADER)] + [",".join(r) for r in rows]) + "\n")
    return {
        "HAM10000_images_part_1.zip": _zip(imgs1, out / "HAM10000_images_part_1.zip"),
        "HAM10000_images_part_2.zip": _zip(imgs2, out / "HAM10000_images_part_2.zip"),
        "HAM10000_metadata.csv": meta,
        "HAM10000_segmentations_lesion_tschandl.zip": _zip(
            masks, out / "HAM10000_segmentations_lesion_tschandl.zip"
        ),
    }


def make_isic2018_zips(out: Path) -> dict[str, Path]:
    """The six ISIC 2018 Task 1 zips, 2 images each, plus the licence files they carry."""
    files = {}
    for i, remote in enumerate(REGISTRY["isic2018"].files):
        stem = remote.name.removesuffix(".zip")
        src = out / f"isic_{i}" / stem
        ids = [f"ISIC_{1000 + 10 * (i // 2) + k:07d}" for k in range(2)]
        for k, image_id in enumerate(ids):
            if "Input" in stem:
                write_image(src / f"{image_id}.jpg", 30, 40, seed=10 * i + k)
            else:
                _mask(src / f"{image_id}_segmentation.png", disc(30, 40, 15, 20, 8))
        (src / "LICENSE.txt").write_text("CC BY-NC 4.0\n")
        files[remote.name] = _zip(src.parent, out / remote.name)
    return files


def make_busis_folder(folder: Path, n: int = 3) -> Path:
    """BUSIS: ``Original/caseNNN.bmp``, ``GT/caseNNN_GT.bmp``, ``BUSIS562.csv``."""
    lines = ["img name,Ground Truth Name,tumor type"]
    for k in range(1, n + 1):
        stem = f"case{k:03d}"
        write_image(folder / "Original" / f"{stem}.bmp", 32, 40, seed=k, rgb=False)
        _mask(folder / "GT" / f"{stem}_GT.bmp", disc(32, 40, 16, 20, 7))
        lines.append(f"{stem}.bmp,{stem}_GT.bmp,{'B' if k % 2 else 'M'}")
    (folder / "BUSIS562.csv").write_text("\n".join(lines) + "\n")
    return folder


def make_udiat_folder(folder: Path, n: int = 3) -> Path:
    """UDIAT Dataset B: ``original/00000k.png``, ``GT/00000k.png``, ``DatasetB.xlsx``."""
    rows = [("Image", "Type")]
    for k in range(1, n + 1):
        write_image(folder / "original" / f"{k:06d}.png", 30, 34, seed=k, rgb=False)
        _mask(folder / "GT" / f"{k:06d}.png", disc(30, 34, 15, 17, 6))
        rows.append((f"{k:06d}", "Benign" if k % 2 else "Malignant"))
    write_xlsx(folder / "DatasetB.xlsx", rows)
    return folder


def make_busbra_folder(folder: Path, n: int = 4) -> Path:
    """BUS-BRA: ``Images/bus_<case>-<view>.png``, ``Masks/mask_<case>-<view>.png``,
    ``bus_data.csv`` (ID, Pathology, Device, ...); cases of one and two views."""
    lines = ["ID,Histology,Pathology,BIRADS,Device,Width,Height,Side,BBOX"]
    for k in range(1, n + 1):
        case, view = (k + 1) // 2, "lr"[k % 2]
        name = f"{case:04d}-{view}"
        write_image(folder / "Images" / f"bus_{name}.png", 30, 36, seed=k, rgb=False)
        _mask(folder / "Masks" / f"mask_{name}.png", disc(30, 36, 15, 18, 6))
        pathology = "benign" if k % 3 else "malignant"
        device = ["GE", "Toshiba"][k % 2]
        lines.append(f"bus_{name},Fibroadenoma,{pathology},3,{device},36,30,left,[1 1 2 2]")
    (folder / "bus_data.csv").write_text("\n".join(lines) + "\n")
    return folder


def make_folder_client(folder: Path, n: int, seed: int, labels: bool = True) -> Path:
    """A client of ``source: folders``: ``images/<stem>.png``, ``masks/<stem>_mask.png``
    (a third of the images lesion-free, empty masks) and ``labels.csv`` (image, diagnosis)."""
    rows = ["image,diagnosis"]
    rng = np.random.default_rng(seed)
    for k in range(n):
        stem = f"case{k:03d}"
        size = int(rng.integers(30, 40))
        write_image(folder / "images" / f"{stem}.png", size, size, seed=seed * 100 + k)
        lesion = k % 3 != 0
        arr = (
            disc(size, size, size / 2, size / 2, size / 4)
            if lesion
            else np.zeros((size, size), np.uint8)
        )
        _mask(folder / "masks" / f"{stem}_mask.png", arr)
        rows.append(f"{stem}.png,{['normal', 'benign', 'malignant'][k % 3]}")
    if labels:
        (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def write_xlsx(path: Path, rows) -> Path:
    """A minimal one-sheet .xlsx with inline strings (what spreadsheet programs read)."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    body = "".join(
        f'<row r="{i + 1}">'
        + "".join(
            f'<c r="{chr(65 + j)}{i + 1}" t="inlineStr"><is><t>{v}</t></is></c>'
            for j, v in enumerate(row)
        )
        + "</row>"
        for i, row in enumerate(rows)
    )
    sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}"><sheetData>{body}'
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", sheet + "</sheetData></worksheet>")
    return path


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (free port) for the block; yield the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fake_registry(files: dict[str, Path], base_url: str | None, counts=None) -> dict:
    """Copy of REGISTRY whose entries holding ``files`` point at ``base_url`` with their hashes."""
    registry = dict(REGISTRY)
    for key, ds in REGISTRY.items():
        remotes = [
            dataclasses.replace(
                r,
                url=f"{base_url}/{r.name}" if base_url else None,
                known_hash=sha256(files[r.name]),
            )
            for r in ds.files
            if r.name in files
        ]
        if remotes or (counts and key in counts):
            registry[key] = dataclasses.replace(
                ds, files=tuple(remotes) or ds.files, counts=(counts or {}).get(key, ds.counts)
            )
    return registry
