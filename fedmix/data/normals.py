"""BUSI's normal images: which clients of a run train on them, and how they join a client.

BUSI ships 133 lesion-free ("normal") ultrasound images with empty masks. The authors never
tested on them but trained on them, by two different rules (``tasks.<task>.real.normal_images``):

- ``tmi`` (the TMI code): every unlabeled (``U``) client gets them, e.g. bus and busis in
  ``U-U-L``; in FedMix's own ``I-B-L`` nobody does.
- ``arxiv`` (the arXiv code): the bus client gets them in every setting and for every method,
  ``B-B-L`` included, where they count in its static ``n_i``.
- ``auto`` (default): ``arxiv`` for the arXiv FedMix variant, ``tmi`` for every other method.
- ``all`` (split like the other images, so already in every file) and ``none``: nothing to add.

Their labels are known to be empty, so a client at any supervision level can take them: an ``L``
client gets empty masks, a ``B`` client empty boxes, an ``I`` client "no lesion", a ``U`` client
the images alone. They reach a run as one ``U`` file (:func:`fedmix.data.degrade.normals_file`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch only where images are appended: the workflow plans without it
    import torch

    from fedmix.clients import ClientData
    from fedmix.runconfig import RunConfig

__all__ = [
    "NORMAL_IMAGE_RULES",
    "append_normals",
    "normal_image_clients",
    "normal_image_source",
    "resolve_normal_rule",
    "with_normal_images",
]

log = logging.getLogger("fedmix.data.normals")

NORMAL_IMAGE_RULES = ("auto", "tmi", "arxiv", "all", "none")


def resolve_normal_rule(value: str, algorithm: str, variant: str | None) -> str:
    """The rule a run follows: ``tmi``, ``arxiv`` or ``none`` (``all`` and ``none`` add nothing)."""
    if value not in NORMAL_IMAGE_RULES:
        raise ValueError(f"normal_images {value!r}: use one of {list(NORMAL_IMAGE_RULES)}")
    if value == "auto":
        return "arxiv" if (algorithm, variant) == ("fedmix", "arxiv") else "tmi"
    return value if value in ("tmi", "arxiv") else "none"


def normal_image_source(task: Mapping) -> str | None:
    """The client of a task whose dataset holds normal images to add (bus, read from BUSI), or
    None: synthetic tasks, other federations, or ``normal_images`` ``all`` / ``none``."""
    from fedmix.datasets.federations import FEDERATIONS

    rule = task.get("real", {}).get("normal_images", "auto")
    if task["source"] not in FEDERATIONS or rule in ("all", "none"):
        return None
    owners = [c for c in task["clients"] if FEDERATIONS[task["source"]].get(c, ("",))[0] == "busi"]
    return owners[0] if owners else None


def normal_image_clients(
    rule: str, clients: Sequence[str], supervision: Sequence[str], normal_client: str | None
) -> tuple[str, ...]:
    """Clients that train on the normal images under ``rule`` (``normal_client``: the client
    whose dataset holds them, e.g. bus; None when the task has none)."""
    if normal_client is None or rule == "none":
        return ()
    if rule == "tmi":
        return tuple(c for c, s in zip(clients, supervision, strict=True) if s == "U")
    if rule == "arxiv":
        return (normal_client,)
    raise ValueError(f"normal-image rule {rule!r}: use tmi, arxiv or none")


def append_normals(client: ClientData, images: torch.Tensor) -> ClientData:
    """``client`` with lesion-free ``images`` (uint8 (M, C, H, W)) appended, each with the empty
    label of the client's supervision level."""
    import torch

    from fedmix.clients import ClientData

    if images.shape[1:] != client.images.shape[1:]:
        raise ValueError(
            f"normal images {tuple(images.shape[1:])} do not match client {client.name!r} "
            f"images {tuple(client.images.shape[1:])}"
        )
    m, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    images = images.to(client.images.device)

    def extend(x: torch.Tensor | None, empty_shape) -> torch.Tensor | None:
        return None if x is None else torch.cat([x, x.new_zeros(empty_shape)])

    return ClientData(
        name=client.name,
        supervision=client.supervision,
        images=torch.cat([client.images, images]),
        masks=extend(client.masks, (m, h, w)),
        box_masks=extend(client.box_masks, (m, h, w)),
        lesion=extend(client.lesion, (m,)),
    )


def with_normal_images(
    clients: list[ClientData], run: RunConfig, normals_file, device
) -> list[ClientData]:
    """``clients`` with the normals file's images added to each of ``run.normal_clients``."""
    from fedmix.clients import load_client

    if not run.normal_clients:
        return clients
    if normals_file is None:
        raise ValueError(
            f"clients {list(run.normal_clients)} train on normal images but no normals file "
            "was given; run through the workflow (rule normals) or pass normals_file"
        )
    normals = load_client(normals_file, "normals", "U", device).images
    log.info("%d normal images join %s", normals.shape[0], list(run.normal_clients))
    return [append_normals(c, normals) if c.name in run.normal_clients else c for c in clients]
