"""The authors' five breast folds (``split: {mode: original, fold: N}``).

The original breast split is not a random call but a fixed file of five random 80/20 splits
(repeated hold-out: the test sets of different folds overlap), shipped here as
``fedmix/datasets/data/breast_5folds.json``: ``{client: {fold: {"train": [names], "test":
[names]}}}`` for ``BUS`` (BUSI names such as ``benign (393).png``; 645 tumour images:
``benign (4)`` and ``benign (54)`` are absent and stay out), ``BUSIS`` (``case10.png``, 562)
and ``UDIAT`` (``000310.png``, 163). Fold 1 is what the authors' notebooks train and test on:
516/129, 449/113 and 130/33 images. The original had no validation split; here
``round(val_fraction * n)`` of a client's ``n`` listed images are drawn from its train list with
the split's ``seed``.

A name in the lists must match a sample id of the user's data plus ``.png``. Listed names that
are missing, or that are present under another name (another zero padding, case or extension),
stop the run with one error listing them.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Sequence
from importlib import resources

import numpy as np

from fedmix.data.splits import TEST, TRAIN, VAL

__all__ = [
    "FOLDS",
    "FOLD_CLIENTS",
    "FoldError",
    "expand_fold_tasks",
    "fold_lists",
    "load_folds",
    "original_split",
    "table_tasks",
]

FOLDS = (1, 2, 3, 4, 5)
FOLD_CLIENTS = {"busi": "BUS", "busis": "BUSIS", "udiat": "UDIAT"}  # dataset key -> file key
_SHOW = 8


class FoldError(ValueError):
    """The user's data does not hold the images the authors' fold lists name."""


@functools.cache
def load_folds() -> dict:
    text = resources.files("fedmix.datasets").joinpath("data/breast_5folds.json").read_text()
    return json.loads(text)


def fold_lists(dataset: str, fold: int) -> tuple[list[str], list[str]]:
    """(train, test) sample ids (file names without ``.png``) of ``dataset`` in ``fold``."""
    if dataset not in FOLD_CLIENTS:
        raise FoldError(
            f"split mode 'original' exists for the breast datasets {sorted(FOLD_CLIENTS)} only, "
            f"not {dataset!r}; use mode: grouped or paper"
        )
    if fold not in FOLDS:
        raise FoldError(f"split fold {fold!r}: the authors' file has folds {list(FOLDS)}")
    lists = load_folds()[FOLD_CLIENTS[dataset]][str(fold)]
    return [_stem(n) for n in lists["train"]], [_stem(n) for n in lists["test"]]


def original_split(
    dataset: str, ids: Sequence[str], fold: int, val_fraction: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(keep bool (N,), split codes uint8 (N,)) of samples ``ids`` under the authors' fold.

    ``keep`` is False for samples the lists do not name (BUSI ``benign (4)``, ``benign (54)``);
    their code is meaningless. Raises :class:`FoldError` listing every listed name that is
    missing from ``ids`` (and under which name it seems to be present, if any).
    """
    train, test = fold_lists(dataset, fold)
    ids = [str(i) for i in ids]
    present = set(ids)
    missing = [n for n in train + test if n not in present]
    if missing:
        raise FoldError(_describe_missing(dataset, fold, missing, present))
    where = {n: TRAIN for n in train} | {n: TEST for n in test}
    keep = np.array([i in where for i in ids], dtype=bool)
    split = np.array([where.get(i, TRAIN) for i in ids], dtype=np.uint8)
    n_val = int(np.floor(val_fraction * (len(train) + len(test)) + 0.5))
    if n_val:
        train_idx = np.flatnonzero(keep & (split == TRAIN))
        split[np.random.default_rng(seed).choice(train_idx, size=n_val, replace=False)] = VAL
    return keep, split


def expand_fold_tasks(config: dict) -> dict:
    """A validated config with one task ``<name>-fold<N>`` per fold of every task whose split
    sweeps ``folds`` (each a copy with ``split.fold: N``); other tasks are unchanged.

    Folds then run like any task (their own data, runs and evaluations), and a table on the
    sweeping task collects the runs of all its fold tasks (:func:`table_tasks`).
    """
    config = copy.deepcopy(config)
    for name, task in list(config["tasks"].items()):
        folds = task["split"].get("folds")
        if not folds:
            continue
        if task["split"]["mode"] != "original":
            raise FoldError(
                f"config['tasks'][{name!r}]['split']: folds {folds} need mode: original (the "
                "authors' breast fold lists); remove folds or set the mode"
            )
        for fold in folds:
            derived = copy.deepcopy(task)
            derived["split"].pop("folds")
            derived["split"]["fold"] = fold
            config["tasks"][f"{name}-fold{fold}"] = derived
    return config


def table_tasks(config: dict, table: str) -> list[str]:
    """The tasks whose runs a table collects: its task, or that task's fold tasks."""
    task = config["tables"][table]["task"]
    folds = config["tasks"][task]["split"].get("folds")
    return [f"{task}-fold{f}" for f in folds] if folds else [task]


def _stem(name: str) -> str:
    return name[:-4] if name.endswith(".png") else name


def _normal_form(name: str) -> str:
    """Lower case, digits without leading zeros, no extension: 'Case010.bmp' -> 'case10'."""
    stem = re.sub(r"\.[A-Za-z]+$", "", name.lower())
    return re.sub(r"\d+", lambda m: str(int(m.group())), stem)


def _describe_missing(dataset: str, fold: int, missing: list[str], present: set[str]) -> str:
    by_form = {_normal_form(p): p for p in present}
    renamed = [
        f"{m}.png (found as {by_form[_normal_form(m)]!r})"
        for m in missing
        if _normal_form(m) in by_form
    ]
    absent = [f"{m}.png" for m in missing if _normal_form(m) not in by_form]
    parts = []
    for what, names in (("missing", absent), ("present under another name", renamed)):
        if names:
            more = f" ... ({len(names) - _SHOW} more)" if len(names) > _SHOW else ""
            parts.append(f"{len(names)} {what}: " + ", ".join(names[:_SHOW]) + more)
    return (
        f"split mode 'original', fold {fold}: {len(missing)} image(s) of the authors' "
        f"{FOLD_CLIENTS[dataset]} list are not in the {dataset} data; "
        + "; ".join(parts)
        + ". Place the complete dataset with its published file names, or use split mode "
        "grouped"
    )
