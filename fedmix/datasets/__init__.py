"""Real datasets: registry, hashed downloads, hand-placed data checks, standardization, splits.

Entry points used by the workflow: :func:`fetch_dataset` (rule ``download``),
:func:`verify_manual` (rule ``verify_manual``) and :func:`standardize_client` (rule
``standardize``). The package never reads YAML; it receives the validated ``datasets`` block
and one task's block of the config.
"""

from fedmix.datasets.download import DownloadError, fetch_dataset, safe_extract
from fedmix.datasets.manual import ManualDataError, verify_manual
from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import FEDERATIONS, REGISTRY, client_dataset
from fedmix.datasets.standardize import standardize_client

__all__ = [
    "FEDERATIONS",
    "REGISTRY",
    "DataLayoutError",
    "DownloadError",
    "ManualDataError",
    "client_dataset",
    "fetch_dataset",
    "safe_extract",
    "standardize_client",
    "verify_manual",
]
