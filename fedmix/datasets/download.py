"""Hashed downloads and safe extraction of the automatic datasets (through pooch).

Every file is streamed by :func:`pooch.retrieve` (progress bar on stderr) to ``<name>.part``, its
hash is compared with the registry's, and only a matching file is renamed to ``<name>``
(``os.replace``, atomic on one file system). A mismatch removes the file and raises
:class:`DownloadError` naming the URL, the expected and the actual hash. Files already present with
the right hash are not fetched again, so an interrupted ``fetch_dataset`` resumes at the first
missing file (a half-downloaded file itself restarts from zero). Zips are unpacked into a
temporary folder renamed when complete; absolute member names, ``..`` and links are refused.

Nothing is downloaded until the dataset's key is listed in ``datasets.accept_licences``.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pooch
import requests

from fedmix.datasets.registry import REGISTRY, Dataset, RemoteFile
from fedmix.params import ConfigError

__all__ = [
    "DownloadError",
    "dataset_dir",
    "fetch_dataset",
    "fetch_archives",
    "fetch_file",
    "licence_notice",
    "require_licence",
    "safe_extract",
]

log = logging.getLogger("fedmix.datasets")


class DownloadError(RuntimeError):
    """A download failed its hash check, or an archive is unsafe or unreadable."""


def licence_notice(ds: Dataset) -> str:
    """The licence terms shown before a download (and in the refusal when not accepted)."""
    return (
        f"{ds.title} ({ds.key}) is distributed under {ds.licence} ({ds.licence_url}). "
        f"Cite: {ds.citation}"
    )


def require_licence(ds: Dataset, datasets_cfg: Mapping) -> None:
    """Raise ConfigError unless ``ds.key`` is in ``datasets_cfg['accept_licences']``."""
    accepted = datasets_cfg.get("accept_licences", [])
    if ds.key not in accepted:
        raise ConfigError(
            f"downloading {ds.key!r} needs your acceptance of its licence. "
            f"{licence_notice(ds)} To accept, add {ds.key!r} to datasets.accept_licences in the "
            f"config (now {list(accepted)}), e.g. "
            f"--config 'datasets={{accept_licences: [{ds.key}]}}' on the snakemake command line"
        )


def _hash_of(path: Path, known_hash: str) -> str:
    alg = known_hash.split(":", 1)[0] or "sha256"  # no published hash: record the SHA-256
    return f"{alg}:{pooch.file_hash(str(path), alg=alg)}"


def _retrieve(url: str, part: Path) -> None:
    """pooch download of ``url`` to ``part``; DownloadError (one line) on any network failure."""
    try:
        pooch.retrieve(url, known_hash=None, fname=part.name, path=part.parent, progressbar=True)
    except (requests.exceptions.RequestException, OSError, ValueError) as err:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {url}: {type(err).__name__}: {err}. Check the connection and "
            f"retry; or get the file another way and place it at {part.with_suffix('')}, or "
            "place the extracted dataset folder (see docs/data.md)"
        ) from None


def fetch_file(remote: RemoteFile, folder: Path, url: str | None = None) -> Path:
    """Download ``remote`` into ``folder`` (unless present with the right hash); return its path.

    ``url`` overrides ``remote.url`` (a mirror); the hash is checked either way. A file without any
    URL must have been placed by hand; its absence raises :class:`DownloadError`.
    """
    folder = Path(folder)
    target = folder / remote.name
    url = url or remote.url
    if target.exists():
        actual = _hash_of(target, remote.known_hash)
        if remote.known_hash and actual != remote.known_hash:
            raise DownloadError(
                f"{target}: hash {actual} differs from the expected {remote.known_hash}; the "
                "file is incomplete or not the published one: delete it and run again"
            )
        return target
    if url is None:
        raise DownloadError(f"{target}: not found and no URL is known for it")
    part = folder / f"{remote.name}.part"
    part.unlink(missing_ok=True)
    log.info("downloading %s -> %s", url, target)
    _retrieve(url, part)
    actual = _hash_of(part, remote.known_hash)
    if not remote.known_hash:
        log.warning("%s: no published hash; recorded %s in the manifest", remote.name, actual)
        print(f"{remote.name}: no published hash; this download is {actual}", flush=True)
    elif actual != remote.known_hash:
        part.unlink()
        raise DownloadError(
            f"hash mismatch for {url}: expected {remote.known_hash}, got {actual}; the file "
            "was removed. Retry, or check that the URL serves the published file"
        )
    os.replace(part, target)
    return target


def _check_member(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DownloadError(
            f"{archive}: unsafe member name {name!r} (absolute or containing '..'); "
            "nothing was extracted. The archive is not the published one"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DownloadError(f"{archive}: member {name!r} is a symbolic link; nothing extracted")


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack zip ``archive`` into folder ``dest`` after checking every member name.

    Members go to ``<dest>.tmp-<pid>`` first, renamed onto ``dest`` when all are written, so a
    folder named ``dest`` is always complete. Raises :class:`DownloadError` before writing
    anything if a member is absolute, contains ``..`` or is a link.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as err:
        raise DownloadError(f"{archive}: not a readable zip ({err}); delete it") from err
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    with zf:
        members = zf.infolist()
        for info in members:
            _check_member(info, archive)
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            try:
                zf.extractall(tmp, members)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
                raise DownloadError(
                    f"{archive}: corrupt archive ({err}); nothing was kept. Delete {archive} and "
                    "download it again"
                ) from None
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def dataset_dir(key: str, datasets_cfg: Mapping) -> Path:
    """Folder of dataset ``key``: ``datasets.paths.<key>`` if set, else ``<root>/<key>``."""
    path = datasets_cfg.get("paths", {}).get(key)
    return Path(path) if path else Path(datasets_cfg.get("root", "resources/downloads")) / key


def fetch_dataset(
    key: str, datasets_cfg: Mapping, registry: Mapping[str, Dataset] = REGISTRY
) -> dict:
    """Download, check and unpack every file of automatic dataset ``key``; return a manifest.

    Files go to :func:`dataset_dir`; zip ``X.zip`` is unpacked into folder ``X/``. The manifest
    lists each file with its hash. ``registry`` is replaceable for offline tests (only URLs and
    hashes differ there; the code path is the same).
    """
    ds = registry[key]
    if ds.access != "automatic":
        raise ConfigError(f"dataset {key!r} is {ds.access}: it cannot be downloaded; {ds.request}")
    require_licence(ds, datasets_cfg)
    log.info("%s", licence_notice(ds))
    folder = dataset_dir(key, datasets_cfg)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"dataset": key, "folder": str(folder), "licence": ds.licence, "files": {}}
    manifest["files"] = fetch_archives(ds, folder, datasets_cfg.get("urls", {}))
    return manifest


def fetch_archives(ds: Dataset, folder: Path, urls: Mapping[str, str]) -> dict[str, str]:
    """Fetch (or find) and unpack every file of ``ds`` into ``folder``; name -> hash."""
    hashes = {}
    for remote in ds.files:
        try:
            path = fetch_file(remote, folder, urls.get(remote.name))
        except DownloadError as err:
            if remote.url is None and remote.name not in urls:
                raise DownloadError(f"{err}; {ds.request}") from err
            raise
        unpacked = folder / path.name.removesuffix(".zip")
        if remote.extract and not unpacked.is_dir():  # a folder there is complete (atomic)
            safe_extract(path, unpacked)
        hashes[remote.name] = remote.known_hash or _hash_of(path, "sha256:")
    return hashes
