"""Real datasets: registry, downloads, verification by content, manifests, standardization.

Entry points used by the workflow: :func:`prepare_dataset` (rules ``download`` and
``verify_manual``: find the extracted copy or download it, verify it, write its manifest),
:func:`standardize_client` (rule ``standardize``), :func:`standardize_folder_client` (rule
``standardize_folder``, ``source: folders``) and :func:`preflight` (``fedmix data check`` and
every dry run). The package never reads YAML; it receives validated parts of the config.
"""

from fedmix.datasets.download import DownloadError, fetch_dataset, safe_extract
from fedmix.datasets.federations import FEDERATIONS, client_dataset
from fedmix.datasets.folders import standardize_folder_client
from fedmix.datasets.manifest import provenance, read_ready, write_ready
from fedmix.datasets.preflight import preflight, preflight_rows
from fedmix.datasets.prepare import (
    MissingDataError,
    dataset_entry,
    prepare_dataset,
    user_errors,
)
from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import REGISTRY
from fedmix.datasets.standardize import standardize_client
from fedmix.datasets.verify import PartialDataError, verify_folder

__all__ = [
    "FEDERATIONS",
    "REGISTRY",
    "DataLayoutError",
    "DownloadError",
    "MissingDataError",
    "PartialDataError",
    "client_dataset",
    "dataset_entry",
    "fetch_dataset",
    "preflight",
    "preflight_rows",
    "prepare_dataset",
    "provenance",
    "read_ready",
    "safe_extract",
    "standardize_client",
    "standardize_folder_client",
    "user_errors",
    "verify_folder",
    "write_ready",
]
