"""Check a request-only dataset (BUSIS, UDIAT, RETOUCH) that the user placed by hand.

The pipeline cannot download these: the user obtains them under a signed agreement and puts the
folder at ``datasets.paths.<key>`` (default ``<datasets.root>/<key>``). :func:`verify_manual`
checks names (the published layout), counts and mask values (0/255; RETOUCH: volumes per
vendor, image and reference volumes of one size, labels 0..3) and raises
:class:`ManualDataError` naming the folder, what was expected, what was found and where to
request the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fedmix.datasets.download import dataset_dir
from fedmix.datasets.readers import DataLayoutError, list_busis, list_udiat
from fedmix.datasets.registry import REGISTRY, Dataset
from fedmix.datasets.retouch import verify_retouch
from fedmix.datasets.standardize import load_mask

__all__ = ["ManualDataError", "verify_manual"]

_LISTERS = {"busis": list_busis, "udiat": list_udiat}
_SHOW = 5


class ManualDataError(DataLayoutError):
    """A hand-placed dataset is missing or incomplete."""


def _fail(ds: Dataset, folder: Path, found: str) -> ManualDataError:
    expected = ", ".join(f"{n} {k}" for k, n in ds.counts.items())
    return ManualDataError(
        f"{ds.title}: folder {folder} does not hold the dataset. Expected: {expected} in the "
        f"layout {ds.layout}. Found: {found}. This dataset cannot be downloaded automatically; "
        f"{ds.request}, then place it at {folder} (or set datasets.paths.{ds.key})"
    )


def verify_manual(
    key: str, datasets_cfg: Mapping, registry: Mapping[str, Dataset] = REGISTRY
) -> dict:
    """Check the hand-placed folder of ``key``; return a manifest (folder, counts).

    ``registry`` is replaceable for offline tests on miniature fakes (only the counts differ).
    """
    ds = registry[key]
    if key not in (*_LISTERS, "retouch"):
        raise ValueError(
            f"{key!r} is not a request-only dataset; those are {sorted([*_LISTERS, 'retouch'])}"
        )
    folder = dataset_dir(key, datasets_cfg)
    if not folder.is_dir():
        raise _fail(ds, folder, "no such folder")
    if key == "retouch":  # volumes, not image files: checked by content per vendor
        try:
            counts = verify_retouch(folder, ds.counts)
        except DataLayoutError as err:
            raise _fail(ds, folder, str(err)) from err
        return {"dataset": key, "folder": str(folder), "counts": counts, "licence": ds.licence}
    try:
        samples = _LISTERS[key](folder)
    except DataLayoutError as err:
        raise _fail(ds, folder, str(err)) from err
    counts = {"images": len(samples)}
    counts["benign"] = sum(s.diagnosis == 1 for s in samples)
    counts["malignant"] = sum(s.diagnosis == 2 for s in samples)
    wrong = {k: counts[k] for k, n in ds.counts.items() if counts[k] != n}
    if wrong:
        raise _fail(ds, folder, ", ".join(f"{n} {k}" for k, n in wrong.items()))
    bad = []
    for s in samples:
        try:
            load_mask(s.masks)
        except DataLayoutError as err:
            bad.append(str(err))
            if len(bad) == _SHOW:
                break
    if bad:
        raise _fail(ds, folder, "masks that are not 0/255: " + "; ".join(bad))
    return {"dataset": key, "folder": str(folder), "counts": counts, "licence": ds.licence}
