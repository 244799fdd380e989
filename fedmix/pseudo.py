"""FedMix pseudo labels: cross-stream labels and sample selection for weakly labelled clients.

Everything works on whole batches of boolean tensors (N, H, W) on any device; nothing loops over
images. ``p1`` and ``p2`` are ``sigmoid(G_k(x)) > 0.5`` of the two global models on the same
(cropped, flipped) images. Stream 1 trains on the label derived from P2, stream 2 on the label
derived from P1 (cross pseudo supervision).

Selection rules per supervision letter (``d = batch_dice(P1, P2)``):

- ``B``, ``variant="tmi"``: refine first, ``Pk := Pk & box`` (if ``box_refinement``), then keep
  if ``d >= tau`` and ``batch_dice(P1, box) >= box_tau`` (both on the refined maps).
- ``B``, ``variant="arxiv"``: keep if ``d >= tau`` on the unrefined maps; then ``Pk := Pk & box``
  (if ``box_refinement``). No box-consistency test.
- ``U``: keep if ``d >= tau``.
- ``I`` with ``use_image_labels``: as ``U`` for lesion-present images, except that an image whose
  agreed map ``P1 & P2`` is empty is rejected; a lesion-absent image gets an all-background label
  for both streams and is always kept. With ``use_image_labels=False``, ``I`` is exactly ``U``.

``tau = 0`` switches the agreement test off (``d >= 0`` always holds) and ``box_tau = 0`` the
box-consistency test; with both at 0 there is no sample selection. The two image-level rules of
``I`` stay on at any ``tau``: they correct labels that are known to be wrong, they do not measure
agreement.

An empty box (a ``B`` image without lesion) refines both maps to empty, so its Dice values are
1 and the sample is kept with an all-background label under ``tmi``.
"""

from __future__ import annotations

import torch

__all__ = ["batch_dice", "select_pseudo_labels"]

SUPERVISIONS = ("B", "I", "U")
VARIANTS = ("tmi", "arxiv")


def batch_dice(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Per-sample Dice ``(2 |a & b| + eps) / (|a| + |b| + eps)`` of boolean maps (N, H, W).

    Returns float64 (N,). Two empty maps give exactly 1 (the original code's behaviour).
    """
    _check_maps(a, "a", b.shape)
    _check_maps(b, "b", a.shape)
    inter = (a & b).flatten(1).sum(1).double()
    total = a.flatten(1).sum(1).double() + b.flatten(1).sum(1).double()
    return (2.0 * inter + eps) / (total + eps)


def _check_maps(x: torch.Tensor | None, name: str, shape: torch.Size) -> None:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.bool or x.ndim != 3:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a boolean tensor (N, H, W), got {got}")
    if x.shape != shape:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {tuple(shape)}")


def _check_args(p1, p2, supervision, variant, tau, box_tau, box_masks, lesion) -> None:
    if supervision not in SUPERVISIONS:
        raise ValueError(
            f"pseudo labels are made for supervision B, I or U, got {supervision!r} "
            "(an L client trains on its own masks)"
        )
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    for name, value in (("tau", tau), ("box_tau", box_tau)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    _check_maps(p1, "p1", p2.shape)
    _check_maps(p2, "p2", p1.shape)
    if (box_masks is not None) != (supervision == "B"):
        raise ValueError(
            f"box_masks must be given exactly for a B client (supervision {supervision!r}, "
            f"box_masks {'given' if box_masks is not None else 'None'})"
        )
    if box_masks is not None:
        _check_maps(box_masks, "box_masks", p1.shape)
    if (lesion is not None) and supervision != "I":
        raise ValueError(f"lesion labels are only used for an I client, not {supervision!r}")


def _lesion_flags(lesion: torch.Tensor | None, n: int, device) -> torch.Tensor:
    if lesion is None:
        raise ValueError("an I client with use_image_labels=True needs lesion (N,) of 0/1")
    lesion = torch.as_tensor(lesion, device=device)
    if lesion.shape != (n,):
        raise ValueError(f"lesion must have shape ({n},), got {tuple(lesion.shape)}")
    if not bool(((lesion == 0) | (lesion == 1)).all()):
        raise ValueError(f"lesion must hold only 0 and 1, got values {lesion.unique().tolist()}")
    return lesion.bool()


def select_pseudo_labels(
    p1: torch.Tensor,
    p2: torch.Tensor,
    *,
    supervision: str,
    variant: str,
    tau: float,
    box_tau: float,
    box_refinement: bool,
    use_image_labels: bool,
    box_masks: torch.Tensor | None = None,
    lesion: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels for both streams and the kept-sample mask of one batch (rules in the module doc).

    Args:
        p1, p2: bool (N, H, W), thresholded predictions of global models G1 and G2.
        supervision: the client's letter, ``"B"``, ``"I"`` or ``"U"``.
        variant: ``"tmi"`` or ``"arxiv"`` (only changes ``B``).
        tau: agreement threshold on ``batch_dice(P1, P2)``; 0 keeps every sample.
        box_masks: bool (N, H, W) filled boxes, all-False where the mask was empty; ``B`` only.
        lesion: (N,) 0/1 image-level labels; ``I`` only (ignored if not ``use_image_labels``).
        box_refinement: multiply the maps by the box (``B``).
        use_image_labels: apply the ``I`` rules; False makes ``I`` behave as ``U``.
        box_tau: box-consistency threshold on ``batch_dice(P1, box)`` (``B``, tmi).

    Returns:
        ``(label_for_stream1, label_for_stream2, keep)``: bool (N, H, W) derived from P2 and P1
        respectively, and bool (N,). Labels of rejected samples are returned too; drop them
        with ``keep``.
    """
    _check_args(p1, p2, supervision, variant, tau, box_tau, box_masks, lesion)
    if supervision == "B" and variant == "tmi":
        if box_refinement:
            p1, p2 = p1 & box_masks, p2 & box_masks
        keep = (batch_dice(p1, p2) >= tau) & (batch_dice(p1, box_masks) >= box_tau)
        return p2, p1, keep
    keep = batch_dice(p1, p2) >= tau
    if supervision == "B" and box_refinement:
        p1, p2 = p1 & box_masks, p2 & box_masks
    if supervision == "I" and use_image_labels:
        present = _lesion_flags(lesion, p1.shape[0], p1.device)
        agreed_empty = ~(p1 & p2).flatten(1).any(1)
        keep = torch.where(present, keep & ~agreed_empty, torch.ones_like(keep))
        absent = ~present[:, None, None]
        p1, p2 = p1 & ~absent, p2 & ~absent
    return p2, p1, keep
