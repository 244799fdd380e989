"""A tiny federation written in the pipeline's own HDF5 layout, and a matching RunConfig."""

from __future__ import annotations

import dataclasses

import numpy as np

from fedmix.config import RunConfig
from fedmix.file_layout import SUPERVISION_FIELDS
from fedmix.io import write_h5
from fedmix.methods import strategy_class
from fedmix.networks import model_spec
from fedmix.params import build_params

CLIENTS = ("a", "b", "c")


def blob_sample(rng: np.random.Generator, size: int, lesion: bool):
    """A bright disc on noise (or noise alone) and its mask."""
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), np.uint8)
    if lesion:
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        r = rng.integers(size // 6, size // 3)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
    img = np.clip(rng.normal(80, 20, (size, size)) + 100 * mask, 0, 255).astype(np.uint8)
    return img, mask


def write_tiny_task(root, setting="I-B-L", n=(10, 8, 6), size=16, n_eval=4, seed=0):
    """Train files per client at the setting's letters plus val/test files; returns paths."""
    rng = np.random.default_rng(seed)
    letters = setting.split("-")
    train, val, test = [], [], []
    for client, sup, count in zip(CLIENTS, letters, n, strict=True):
        imgs, masks = zip(*(blob_sample(rng, size, k % 4 != 0) for k in range(count)), strict=True)
        imgs, masks = np.stack(imgs)[:, None], np.stack(masks)
        full = {
            "images": imgs,
            "sample_ids": np.array([f"{client}{k}" for k in range(count)]),
            "masks": masks,
            "lesion": masks.reshape(count, -1).max(1).astype(np.uint8),
            "diagnosis": masks.reshape(count, -1).max(1).astype(np.uint8),
        }
        boxes = np.full((count, 4), -1, np.int32)
        for k in range(count):
            if masks[k].any():
                yy, xx = np.nonzero(masks[k])
                boxes[k] = [yy.min(), xx.min(), yy.max() + 1, xx.max() + 1]
        full["boxes"], full["box_valid"] = boxes, (boxes[:, 0] >= 0).astype(np.uint8)
        arrays = {f: full[f] for f in SUPERVISION_FIELDS[sup]}
        path = root / f"train/{client}.{sup}.h5"
        write_h5(path, arrays, {"kind": "train", "supervision": sup, "client": client})
        train.append(str(path))
        for split, out in (("val", val), ("test", test)):
            ei, em = zip(*(blob_sample(rng, size, k % 4 != 0) for k in range(n_eval)), strict=True)
            em = np.stack(em)
            p = root / f"{split}/{client}.h5"
            write_h5(
                p,
                {
                    "images": np.stack(ei)[:, None],
                    "masks": em,
                    "lesion": em.reshape(n_eval, -1).max(1).astype(np.uint8),
                    "diagnosis": em.reshape(n_eval, -1).max(1).astype(np.uint8),
                    "sample_ids": np.array([f"{client}-{split}{k}" for k in range(n_eval)]),
                },
                {"kind": "eval", "split": split},
            )
            out.append(str(p))
    return train, val, test


def tiny_run(**overrides) -> RunConfig:
    """A RunConfig of the tiny federation. Keyword arguments that are not RunConfig fields are
    the method's parameters by their config keys (``tau=0.0``; ``lambda`` via ``**{...}``),
    except ``width`` and ``levels`` of the U-Net."""
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    run_keys = {k: v for k, v in overrides.items() if k in fields}
    net = {k: overrides.pop(k) for k in ("width", "levels") if k in overrides}
    params = {k: v for k, v in overrides.items() if k not in fields}
    base = dict(
        task="tiny",
        method="fedmix-tmi",
        algorithm="fedmix",
        setting="I-B-L",
        seed=0,
        clients=CLIENTS,
        supervision=("I", "B", "L"),
        data="synthetic (test blobs)",
        image_size=16,
        channels=1,
        rounds=3,
        local_epochs=1,
        batch_size=4,
        crop_size=12,
        flips=True,
        lr=1e-2,
        weight_decay=1e-4,
        selection="validation",
        selection_clients="labelled",
        checkpoint_every=2,
        precision="fp32",
        compile=False,
        model=model_spec({"width": 4, "levels": 2} | net, "tiny"),
        normal_clients=(),
        classes=(),
        class_dice="batch",
    )
    base.update(run_keys)
    if "setting" in overrides and "supervision" not in overrides:
        base["supervision"] = tuple(overrides["setting"].split("-"))
    if base["algorithm"] == "fedmix":
        params = {"variant": "tmi", "beta": 1.5, "tau": 0.5, **params}
    cls = strategy_class(base["algorithm"]).Params
    return RunConfig(**base, params=build_params(cls, params, "tiny_run"))


def crash_in_round(monkeypatch, rnd: int):
    """Make round ``rnd`` (0-based) raise, as a killed job would stop there; returns the real
    ``RoundLoop.round`` to put back before resuming."""
    from fedmix import train

    real = train.RoundLoop.round

    def crashing(self, r):
        if r == rnd:
            raise KeyboardInterrupt("killed")
        return real(self, r)

    monkeypatch.setattr(train.RoundLoop, "round", crashing)
    return real
