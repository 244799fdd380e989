"""Preflight: the state of every dataset a config needs, all listed at once.

``fedmix data check --configfile ...`` prints it (and exits 1 if something blocks the run);
every Snakemake invocation of a config with real data prints the quick version before planning,
so a dry run already says what is missing. States:

- ``verified``: the workflow verified this copy (its manifest is in ``<root>/<key>.ready.json``
  and was made with the current settings);
- ``present``: an extracted copy is in its folder (``--full`` verifies it now; otherwise the
  workflow does);
- ``to download``: not there, licence accepted: the workflow will download it;
- ``licence not accepted`` / ``missing`` / ``problem``: the run cannot go on; the line says what
  to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fedmix.datasets.federations import client_dataset
from fedmix.datasets.manifest import provenance, read_ready
from fedmix.datasets.prepare import dataset_entry, holds_copy, where_to_get
from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import REGISTRY
from fedmix.datasets.verify import verify_folder

__all__ = ["BLOCKING", "needed_datasets", "preflight", "preflight_rows"]

BLOCKING = ("licence not accepted", "missing", "problem")


def needed_datasets(config: Mapping) -> dict[str, list[str]]:
    """Dataset key (or ``folders/<task>/<client>``) -> the ``task/client`` names reading it."""
    needed: dict[str, list[str]] = {}
    for task, spec in sorted(config["tasks"].items()):
        if spec["source"] == "synthetic":
            continue
        for client in spec["clients"]:
            if spec["source"] == "folders":
                key = f"folders/{task}/{client}"
            else:
                key = client_dataset(spec["source"], client)[0]
            needed.setdefault(key, []).append(f"{task}/{client}")
    return needed


def _folder_row(config: Mapping, key: str) -> tuple[str, str]:
    _, task, client = key.split("/")
    clients = config["tasks"][task].get("real", {}).get("folders", {}).get("clients", {})
    path = clients.get(client)
    if path is None:
        return "missing", f"set tasks.{task}.real.folders.clients.{client} to its folder"
    if not Path(path).is_dir():
        return "missing", f"{path}: no such folder (tasks.{task}.real.folders.clients.{client})"
    return "present", f"{path}, verified when standardized"


def _dataset_row(datasets_cfg: Mapping, key: str, full: bool) -> tuple[str, str]:
    ds = REGISTRY[key]
    entry = dataset_entry(datasets_cfg, key)
    folder = Path(entry["folder"])
    marker = Path(datasets_cfg.get("root", "resources/downloads")) / f"{key}.ready.json"
    if marker.is_file():
        manifest = read_ready(marker)
        if manifest.get("entry") == entry:
            return "verified", provenance(manifest)
    if holds_copy(ds, folder):
        if not full:
            return "present", f"{folder}, verified by the workflow (or: fedmix data check --full)"
        try:
            manifest = verify_folder(key, folder, entry["allow_partial"])
        except DataLayoutError as err:
            return "problem", str(err)
        return "present", f"verified now: {provenance(manifest)}"
    if ds.access == "automatic":
        if entry["licence_accepted"]:
            return "to download", f"into {folder} from {', '.join(f.url or '?' for f in ds.files)}"
        return "licence not accepted", (
            f"{ds.licence} ({ds.licence_url}): add {key} to datasets.accept_licences to download "
            f"it, or {where_to_get(ds, folder)}"
        )
    return "missing", where_to_get(ds, folder)


def preflight_rows(config: Mapping, full: bool = False) -> list[tuple[str, str, str, str]]:
    """(dataset, needed by, state, detail) for every dataset the config's tasks read."""
    rows = []
    for key, users in needed_datasets(config).items():
        if key.startswith("folders/"):
            state, detail = _folder_row(config, key)
        else:
            state, detail = _dataset_row(config["datasets"], key, full)
        rows.append((key, ", ".join(users), state, detail))
    return rows


def preflight(config: Mapping, full: bool = False) -> tuple[str, bool]:
    """(report text, whether nothing blocks the run) of :func:`preflight_rows`."""
    rows = preflight_rows(config, full)
    if not rows:
        return "fedmix data check: no real data needed (synthetic tasks only)", True
    blocked = [r for r in rows if r[2] in BLOCKING]
    lines = [f"fedmix data check: {len(rows)} dataset(s), {len(blocked)} blocking"]
    for key, users, state, detail in rows:
        lines.append(f"  {key:<24} {state:<21} (for {users})")
        lines.append(f"      {detail}")
    return "\n".join(lines), not blocked
