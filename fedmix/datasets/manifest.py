"""Manifests: the SHA-256 of every file of a dataset folder and one digest naming them all.

A manifest maps each file's *layout name* (its path inside the dataset's published layout, e.g.
``benign/benign (1).png``, independent of where the folder lives or how deep it is nested) to its
SHA-256. Its digest, ``sha256:<hex>`` of the sorted ``<sha256>  <name>`` lines, identifies the
exact bytes a result was computed from: two copies of a dataset (the official zip extracted, a
mirror's folder) have the same digest exactly when they hold the same files. The digest goes into
every standardized HDF5 file and, through the evaluation files, into the tables' ``data`` column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "data_attrs",
    "file_sha256",
    "manifest_digest",
    "provenance",
    "read_ready",
    "standardized_attrs",
    "write_ready",
]

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the bytes of ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def manifest_digest(files: Mapping[str, str]) -> str:
    """``sha256:<hex>`` of the sorted ``<sha256>  <layout name>`` lines of ``files``."""
    lines = "".join(f"{files[name]}  {name}\n" for name in sorted(files))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def provenance(manifest: Mapping) -> str:
    """One line naming a verified dataset copy: key, digest, file count, partial flag.

    Example: ``busi manifest sha256:1f0c2d3e4f5a6b7c (1578 files)`` (the digest's first 16 hex
    digits; the full digest is in the manifest and the HDF5 attribute ``data_manifest_digest``);
    a copy accepted with ``allow_partial`` adds ``PARTIAL (allow_partial: 12 missing, 0 extra)``.
    """
    digest = manifest["digest"][: len("sha256:") + 16]
    text = f"{manifest['dataset']} manifest {digest} ({len(manifest['files'])} files)"
    partial = manifest.get("partial")
    if partial:
        text += f" PARTIAL (allow_partial: {partial['missing']} missing, {partial['extra']} extra)"
    return text


def write_ready(path: str | Path, manifest: Mapping) -> Path:
    """Write the marker/manifest JSON of a verified dataset (atomically: temporary, renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_ready(path: str | Path) -> dict:
    """The manifest JSON written by :func:`write_ready`."""
    return json.loads(Path(path).read_text())


def data_attrs(manifest: Mapping | None) -> dict:
    """Provenance attributes of a standardized file from its dataset's manifest.

    ``source_version`` and ``data_provenance`` name the manifest digest (and the partial flag);
    ``data_partial`` is 1 for a copy accepted with ``allow_partial``. Without a manifest (a
    folder read directly, not through the workflow) the file says it is unverified.
    """
    if manifest is None:
        text = "unverified folder (no manifest)"
        return {"source_version": text, "data_provenance": text, "data_partial": 0}
    text = provenance(manifest)
    return {
        "source_version": text,
        "data_provenance": text,
        "data_manifest_digest": manifest["digest"],
        "data_partial": int(bool(manifest.get("partial"))),
    }


def standardized_attrs(
    task: str,
    client: str,
    source: str,
    manifest: Mapping | None,
    params: Mapping,
    *,
    licence: str,
    citation: str,
    diagnosis_names: tuple[str, ...] = ("normal", "benign", "malignant"),
    class_names: tuple[str, ...] | None = None,
) -> dict:
    """The attributes of a ``standardized`` HDF5 file: what it is, where its data came from
    (:func:`data_attrs`), how it was made (``params``), and the data's licence and citation."""
    import fedmix
    from fedmix.file_layout import SPLIT_NAMES

    attrs = {
        "kind": "standardized",
        "task": task,
        "client": client,
        "source": source,
        **data_attrs(manifest),
        "params": dict(params),
    }
    if class_names is not None:
        attrs["class_names"] = list(class_names)
    return attrs | {
        "split_names": list(SPLIT_NAMES),
        "diagnosis_names": list(diagnosis_names),
        "licence": licence,
        "citation": citation,
        "fedmix_version": fedmix.__version__,
    }
