"""Make one dataset ready: find its extracted copy or download it, verify it, write its manifest.

Rule ``download`` (automatic datasets) and rule ``verify_manual`` (request-only ones) both run
:func:`prepare_dataset` on the dataset's own *entry* (:func:`dataset_entry`): its folder, its
files' mirror URLs, whether its licence is accepted and whether a partial copy is allowed. Only
that entry is a parameter of the rule, so editing another dataset's settings re-runs nothing here.

Order of preference: an extracted copy already in the folder (``datasets.paths.<key>`` or
``<root>/<key>``; official archive or a mirror, any nesting) is verified by content and used,
with no download and no licence question (you obtained it under its licence); otherwise an
automatic dataset is downloaded (licence accepted in ``datasets.accept_licences``), unpacked and
verified the same way; a request-only dataset that is not there stops with where to get it and
where to put it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from fedmix.datasets.download import (
    DownloadError,
    dataset_dir,
    fetch_archives,
    licence_notice,
    require_licence,
)
from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import REGISTRY, Dataset
from fedmix.datasets.verify import folder_files, verify_folder
from fedmix.params import ConfigError

__all__ = [
    "MissingDataError",
    "dataset_entry",
    "holds_copy",
    "prepare_dataset",
    "user_errors",
    "where_to_get",
]

log = logging.getLogger("fedmix.datasets")


class MissingDataError(DataLayoutError):
    """A dataset is neither in its folder nor downloadable."""


def dataset_entry(datasets_cfg: Mapping, key: str, registry=REGISTRY) -> dict:
    """The settings that decide what dataset ``key``'s copy is (the rules' only parameters)."""
    ds = registry[key]
    urls = datasets_cfg.get("urls", {})
    return {
        "dataset": key,
        "folder": str(dataset_dir(key, datasets_cfg)),
        "urls": {f.name: urls[f.name] for f in ds.files if f.name in urls},
        "licence_accepted": key in datasets_cfg.get("accept_licences", []),
        "allow_partial": key in datasets_cfg.get("allow_partial", []),
    }


def holds_copy(ds: Dataset, folder: Path) -> bool:
    """Whether ``folder`` holds files of ``ds`` other than its downloaded archives."""
    return bool(folder_files(folder, ds.key, {f.name for f in ds.files}))


def where_to_get(ds: Dataset, folder: Path) -> str:
    """How to obtain ``ds`` and where to put it, for messages and the preflight."""
    get = ds.request if ds.access == "request-only" else f"download it from {ds.homepage}"
    return (
        f"{get}; put the extracted folder ({ds.layout}) at {folder}, or set "
        f"datasets.paths.{ds.key} to where it is"
    )


def prepare_dataset(entry: Mapping, registry=REGISTRY) -> dict:
    """Verified manifest of the dataset of ``entry`` (see the module doc for the order).

    The manifest (:func:`fedmix.datasets.verify.verify_folder`) gains ``origin`` (``extracted
    folder`` or ``download``), ``archives`` (downloaded file -> hash), licence, citation and
    the ``entry`` itself.
    """
    key = entry["dataset"]
    ds, folder = registry[key], Path(entry["folder"])
    archives: dict[str, str] = {}
    if holds_copy(ds, folder):
        origin = "extracted folder"
        log.info("%s: using the copy in %s (no download)", key, folder)
    elif ds.access == "automatic":
        accepted = [key] if entry["licence_accepted"] else []
        try:
            require_licence(ds, {"accept_licences": accepted})
        except ConfigError as err:
            raise MissingDataError(f"{err}; or {where_to_get(ds, folder)}") from None
        log.info("%s", licence_notice(ds))
        folder.mkdir(parents=True, exist_ok=True)
        archives = fetch_archives(ds, folder, entry["urls"])
        origin = "download"
    else:
        raise MissingDataError(f"{ds.title}: no copy in {folder}. {where_to_get(ds, folder)}")
    manifest = verify_folder(key, folder, entry["allow_partial"], registry)
    manifest.update(origin=origin, archives=archives, entry=dict(entry))
    manifest.update(licence=ds.licence, citation=ds.citation)
    log.info("%s: manifest %s (%d files)", key, manifest["digest"], len(manifest["files"]))
    return manifest


@contextlib.contextmanager
def user_errors():
    """Turn an expected data error into one message and exit status 1, without a traceback.

    Expected: a dataset missing or partial, a failed or corrupt download, an unreadable image,
    a licence not accepted. The message goes to the terminal (``sys.__stderr__``, which a
    job's log redirection leaves alone) and, through ``logging``, to the job's log. Anything
    else is a bug and keeps its traceback.
    """
    try:
        yield
    except (DataLayoutError, DownloadError, ConfigError) as err:
        message = f"{type(err).__name__}: {err}"
        log.error("%s", message)
        print(f"fedmix: {message}", file=sys.__stderr__, flush=True)
        raise SystemExit(1) from None
