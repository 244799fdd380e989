"""Client data held on the training device, and batched random views of it.

Images stay uint8 on the device (a few hundred MB at paper scale); crops and flips are drawn for
a whole client at once, so no per-image Python work happens inside a round.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from fedmix.data.classes import class_box_masks
from fedmix.data.degrade import boxes_to_masks
from fedmix.file_layout import supervision_fields
from fedmix.filechecks import check_eval_arrays, check_train_arrays
from fedmix.io import FedmixFileError, read_h5

__all__ = ["ClientData", "EvalData", "load_client", "load_eval", "views"]


@dataclasses.dataclass
class ClientData:
    """One client's training split at its supervision level.

    images: uint8 (N, C, H, W); masks: uint8 (N, H, W) for ``L`` only; box_masks: bool
    (N, H, W) filled boxes for ``B`` only (all False where the mask was empty); lesion: uint8 (N,)
    for ``I`` only. A weak client's file never holds masks, so neither does this object.
    Multi-class (``class_names`` given): masks hold class indices, box_masks is bool
    (N, K, H, W) with one box per class, presence uint8 (N, K) for ``I``.
    """

    name: str
    supervision: str
    images: torch.Tensor
    masks: torch.Tensor | None = None
    box_masks: torch.Tensor | None = None
    lesion: torch.Tensor | None = None
    presence: torch.Tensor | None = None
    class_names: tuple[str, ...] = ()

    @property
    def n_train(self) -> int:
        return int(self.images.shape[0])


@dataclasses.dataclass
class EvalData:
    """A held-out split of one client: images uint8 (N, C, H, W), masks uint8 (N, H, W)."""

    name: str
    images: torch.Tensor
    masks: torch.Tensor
    lesion: torch.Tensor
    sample_ids: list[str]
    class_names: tuple[str, ...] = ()  # multi-class: masks hold class indices


def load_client(path: str | Path, name: str, supervision: str, device) -> ClientData:
    """Read a training file and check that it holds exactly what ``supervision`` allows, in
    valid values (:func:`fedmix.filechecks.check_train_arrays`); else :class:`FedmixFileError`."""
    arrays, attrs = read_h5(path)
    classes = tuple(attrs.get("class_names") or ())
    expected = set(supervision_fields(supervision, multiclass=bool(classes)))
    if set(arrays) != expected or attrs.get("supervision") != supervision:
        raise FedmixFileError(
            f"{path}: expected a {supervision!r} training file with fields {sorted(expected)}, "
            f"found supervision {attrs.get('supervision')!r} and fields {sorted(arrays)}; "
            "rebuild it with the degrade rule"
        )
    check_train_arrays(path, supervision, arrays, len(classes))
    images = torch.from_numpy(arrays["images"]).to(device)
    data = ClientData(name=name, supervision=supervision, images=images, class_names=classes)
    if supervision == "L":
        data.masks = torch.from_numpy(arrays["masks"]).to(device)
    elif supervision == "B":
        h, w = images.shape[-2:]
        fill = class_box_masks if classes else boxes_to_masks
        boxes = fill(arrays["boxes"], arrays["box_valid"], h, w)
        data.box_masks = torch.from_numpy(boxes).bool().to(device)
    elif supervision == "I":
        data.lesion = torch.from_numpy(arrays["lesion"]).to(device)
        if classes:
            data.presence = torch.from_numpy(arrays["presence"]).to(device)
    return data


def load_eval(path: str | Path, name: str, device) -> EvalData:
    """Read and check a validation or test file (:func:`fedmix.filechecks.check_eval_arrays`)."""
    fields = ("images", "masks", "lesion", "sample_ids")
    arrays, attrs = read_h5(path, fields)
    check_eval_arrays(path, arrays, len(attrs.get("class_names") or ()))
    return EvalData(
        name=name,
        images=torch.from_numpy(arrays["images"]).to(device),
        masks=torch.from_numpy(arrays["masks"]).to(device),
        lesion=torch.from_numpy(arrays["lesion"]).to(device),
        sample_ids=[str(s) for s in arrays["sample_ids"]],
        class_names=tuple(attrs.get("class_names") or ()),
    )


def views(
    images: torch.Tensor,
    maps: list[torch.Tensor | None],
    crop: int,
    flips: bool,
    generator: torch.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """One random crop (and flips, p = 0.5 each) per sample, applied alike to images and maps.

    images: (N, C, H, W); each map: (N, H, W), (N, K, H, W) or None. The random numbers come
    from ``generator`` (CPU) so a round's views depend only on its seed, not on the device.
    """
    n, _, h, w = images.shape
    dev = images.device
    if crop < h or crop < w:
        oy = torch.randint(0, h - crop + 1, (n,), generator=generator).to(dev)
        ox = torch.randint(0, w - crop + 1, (n,), generator=generator).to(dev)
        ar = torch.arange(crop, device=dev)
        iy, ix = oy[:, None] + ar, ox[:, None] + ar  # (N, crop)
        rows = torch.arange(n, device=dev)
        chans = torch.arange(images.shape[1], device=dev)[None, :, None, None]
        images = images[
            rows[:, None, None, None], chans, iy[:, None, :, None], ix[:, None, None, :]
        ]
        maps = [None if m is None else _crop(m, rows, iy, ix) for m in maps]
    if flips:
        fh = (torch.rand(n, generator=generator) < 0.5).to(dev)
        fv = (torch.rand(n, generator=generator) < 0.5).to(dev)
        images = _flip(_flip(images, fh, -1), fv, -2)
        maps = [None if m is None else _flip(_flip(m, fh, -1), fv, -2) for m in maps]
    return images.contiguous(), [None if m is None else m.contiguous() for m in maps]


def _crop(m: torch.Tensor, rows, iy, ix) -> torch.Tensor:
    """Crop rows ``iy`` and columns ``ix`` of each sample of a map (N, H, W) or (N, K, H, W)."""
    if m.ndim == 3:
        return m[rows[:, None, None], iy[:, :, None], ix[:, None, :]]
    chans = torch.arange(m.shape[1], device=m.device)[None, :, None, None]
    return m[rows[:, None, None, None], chans, iy[:, None, :, None], ix[:, None, None, :]]


def _flip(x: torch.Tensor, which: torch.Tensor, dim: int) -> torch.Tensor:
    shape = (-1,) + (1,) * (x.dim() - 1)
    return torch.where(which.view(shape), x.flip(dim), x)
