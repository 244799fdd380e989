"""Federations: which dataset each client of a real task is read from.

A *federation* (``tasks.<name>.source``) maps each client of a task to the dataset of
:mod:`fedmix.datasets.registry` it is read from: ``breast`` = BUSI / BUSIS / UDIAT (one dataset
per client, the paper's breast task), ``ham10000`` = HAM10000 split by its metadata ``dataset``
column (the paper's skin task), ``isic2018`` = ISIC 2018 Task 1 as a single client (no site
metadata), ``open_breast`` = BUSI and BUS-BRA (both CC BY 4.0, downloadable without an
agreement), ``retouch`` = the RETOUCH training set split by OCT vendor (the paper's multi-class
task). ``folders`` (not listed here) reads each client from a folder of your own
(:mod:`fedmix.datasets.folders`).
"""

from __future__ import annotations

__all__ = ["FEDERATIONS", "client_dataset"]

# source -> client -> (dataset key, selector). The HAM10000 selector is the `dataset` column.
FEDERATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "breast": {"bus": ("busi", ""), "busis": ("busis", ""), "udiat": ("udiat", "")},
    "ham10000": {
        name: ("ham10000", name)
        for name in ("rosendahl", "vidir_modern", "vienna_dias", "vidir_molemax")
    },
    "isic2018": {"isic2018": ("isic2018", "")},
    # openly licensed only (CC BY 4.0): anyone can download it, no signed agreement
    "open_breast": {"bus": ("busi", ""), "busbra": ("busbra", "")},
    "retouch": {vendor: ("retouch", vendor) for vendor in ("cirrus", "spectralis", "topcon")},
}


def client_dataset(source: str, client: str) -> tuple[str, str]:
    """(dataset key, selector) that ``client`` of federation ``source`` is read from."""
    if source not in FEDERATIONS:
        raise ValueError(
            f"source {source!r} is not a real federation; known: {sorted(FEDERATIONS)}"
        )
    clients = FEDERATIONS[source]
    if client not in clients:
        raise ValueError(
            f"client {client!r} is not part of federation {source!r}; its clients are "
            f"{list(clients)} (rename the task's clients to these)"
        )
    return clients[client]
