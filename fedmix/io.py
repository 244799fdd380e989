"""Reading and writing the pipeline's files: HDF5 arrays, CSV and text, each written atomically
(a temporary name, synced, renamed when complete) and read back with its layout checked. The
layout itself (what each kind of file holds) is :mod:`fedmix.file_layout`."""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import h5py
import numpy as np

__all__ = [
    "FedmixFileError",
    "file_digests",
    "publish",
    "read_h5",
    "remove_partial",
    "write_csv",
    "write_h5",
    "write_text",
]


class FedmixFileError(RuntimeError):
    """A pipeline file is missing, truncated or not of the expected layout."""


def write_h5(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], attrs: Mapping) -> Path:
    """Write ``arrays`` and ``attrs`` to ``path`` atomically.

    The data go to ``<path>.tmp-<pid>`` first and are renamed onto ``path`` only once the file is
    closed and synced, so an interrupted run never leaves a file that looks complete. Arrays carry
    a Fletcher-32 checksum per chunk, so a flipped bit is an error when read, not a silent value.
    Non-scalar attribute values are stored as JSON strings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp, h5py.File(tmp, "w") as f:
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.dtype.kind in "UO":
                f.create_dataset(name, data=value.astype(object), dtype=h5py.string_dtype())
            elif value.ndim and value.size:
                f.create_dataset(
                    name, data=value, compression="gzip", compression_opts=4, fletcher32=True
                )
            else:
                f.create_dataset(name, data=value)
        for key, value in attrs.items():
            is_plain = isinstance(value, str | int | float | bool | np.integer | np.floating)
            f.attrs[key] = value if is_plain else json.dumps(value, sort_keys=True)
        f.attrs["complete"] = True
    return path


@contextlib.contextmanager
def _atomic(path: Path):
    """Yield ``<path>.tmp-<pid>`` to write; once the block ends, publish it onto ``path``. An
    OSError becomes a FedmixFileError naming ``path``; the temporary never outlives the call."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        publish(tmp, path)
    except OSError as err:
        raise FedmixFileError(f"{path}: could not be written ({_reason(err)})") from err
    finally:
        tmp.unlink(missing_ok=True)


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename the finished file ``tmp`` onto ``path`` durably: its data are synced to disk
    first and the folder entry after, so a power cut never leaves a renamed but empty file."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(Path(path).parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and durably (``<path>.tmp-<pid>``, synced, renamed);
    the temporary is removed on failure."""
    path = Path(path)
    with _atomic(path) as tmp:
        tmp.write_text(text)
    return path


def write_csv(path: str | os.PathLike, columns: tuple[str, ...], rows: Iterable[dict]) -> Path:
    """Write ``rows`` (already formatted) under header ``columns`` with :func:`write_text`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def remove_partial(folder: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Delete the unfinished temporaries (``<name>.tmp``, ``<name>.tmp-<pid>``) of ``names`` in
    ``folder`` that a killed or failed run left behind; return what was removed."""
    removed = []
    for name in names:
        for tmp in Path(folder).glob(f"{name}.tmp*"):
            if tmp.is_file() or tmp.is_symlink():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def file_digests(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """``{path: "sha256:<hex>"}`` of each file: what a checkpoint was trained on."""
    digests = {}
    for path in paths:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as err:
            raise FedmixFileError(f"{path}: cannot be read ({_reason(err)})") from err
        digests[str(path)] = f"sha256:{h.hexdigest()}"
    return digests


def _reason(err: OSError) -> str:
    """An OSError in words, with the fix for the common case of a full disk."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{err.strerror or err}; the disk is full: free space and run again"
    return str(err)


def read_h5(
    path: str | os.PathLike, fields: tuple[str, ...] | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Read ``fields`` (default: all datasets) and the attributes of a pipeline HDF5 file.

    Raises :class:`FedmixFileError` naming the file and the fix when it is missing, unreadable,
    was not completed, or lacks a requested field.
    """
    path = Path(path)
    if not path.exists():
        raise FedmixFileError(f"{path}: file not found; rebuild it with snakemake (it is a target)")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise FedmixFileError(
            f"{path}: not a readable HDF5 file ({err}); delete it and let snakemake rebuild it"
        ) from err
    with f:
        if not f.attrs.get("complete", False):
            raise FedmixFileError(
                f"{path}: incomplete file (no 'complete' mark); delete it and rebuild it"
            )
        names = tuple(f.keys()) if fields is None else fields
        missing = [n for n in names if n not in f]
        if missing:
            raise FedmixFileError(
                f"{path}: missing dataset(s) {missing}; it holds {sorted(f.keys())}"
            )
        try:
            arrays = {n: _read_dataset(f[n]) for n in names}
            attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
        except OSError as err:  # a failed checksum or decompression: damaged on disk
            raise FedmixFileError(
                f"{path}: damaged data ({err}); delete it and let snakemake rebuild it"
            ) from err
    return arrays, attrs


def _read_dataset(dataset: h5py.Dataset) -> np.ndarray:
    data = dataset[()]
    if dataset.dtype.kind == "O":
        data = np.array([s.decode() if isinstance(s, bytes) else s for s in data])
    return data


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value
