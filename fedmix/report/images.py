"""Image figures: the label-degradation gallery and qualitative test overlays.

Both read pipeline HDF5 files (layout in :mod:`fedmix.io`): images uint8 (N, C, H, W) shown as
their first channel, masks uint8 (N, H, W). Overlays also read checkpoints
``{"config": run dict, "round": int, "models": {key: state_dict}}`` (keys:
:mod:`fedmix.model_keys`).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fedmix.data.degrade import mask_to_box
from fedmix.io import DIAGNOSIS_NAMES, read_h5
from fedmix.model import predict_binary
from fedmix.model_keys import serving_key
from fedmix.report.figures import save_figure

__all__ = [
    "default_build_model",
    "mask_box",
    "pick_samples",
    "plot_label_gallery",
    "plot_overlays",
    "predict_masks",
]

GALLERY_COLUMNS = ("image (U)", "pixel mask (L)", "box (B)", "image-level label (I)")


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight box (y0, x0, y1, x1), end exclusive, of a (H, W) 0/1 mask; None when it is empty.

    The box a ``B`` client's training file holds (:func:`fedmix.data.degrade.mask_to_box`).
    """
    box, valid = mask_to_box(mask)
    return tuple(int(v) for v in box) if valid else None


def pick_samples(lesion: np.ndarray, n_lesion: int, n_free: int) -> list[int]:
    """Indices of the first ``n_lesion`` lesion images and the first ``n_free`` lesion-free ones.

    Deterministic (file order), so two builds show the same samples. Fewer are returned when a
    client has fewer of a kind.
    """
    with_lesion = np.flatnonzero(lesion == 1)[:n_lesion]
    free = np.flatnonzero(lesion == 0)[:n_free]
    return [int(i) for i in np.concatenate([with_lesion, free])]


def _show(ax, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(textwrap.fill(title, 18), fontsize="small")


CLASS_COLORS = ("tab:red", "tab:cyan", "tab:orange", "tab:purple", "tab:olive", "tab:pink")


def _contour(ax, mask: np.ndarray, color: str, style: str = "solid") -> None:
    if mask.any():
        ax.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.2, linestyles=style)


def _class_contours(ax, mask: np.ndarray, n_classes: int, style: str) -> None:
    """One colour per class (:data:`CLASS_COLORS`) of a class-index mask."""
    for k in range(n_classes):
        _contour(ax, mask == k + 1, CLASS_COLORS[k % len(CLASS_COLORS)], style)


def plot_label_gallery(
    standardized: Mapping[str, str | os.PathLike],
    out_png,
    out_pdf,
    n_lesion: int = 2,
    n_free: int = 1,
    title: str = "",
) -> Figure:
    """One row per shown sample, one column per supervision level a client could have.

    ``standardized``: {client: standardized HDF5 file}. Columns: the image alone (U), the pixel
    mask overlaid (L), the mask's bounding box (B), the image-level label and diagnosis (I).
    """
    shown = {}
    for client, path in standardized.items():
        arrays, attrs = read_h5(path, ("images", "masks", "lesion", "diagnosis", "sample_ids"))
        arrays["class_names"] = list(attrs.get("class_names") or [])
        shown[client] = (arrays, pick_samples(arrays["lesion"], n_lesion, n_free))
    n_rows = sum(len(idx) for _, idx in shown.values())
    fig = Figure(figsize=(2.0 * len(GALLERY_COLUMNS), 2.0 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, len(GALLERY_COLUMNS), squeeze=False)
    row = 0
    for client, (a, indices) in shown.items():
        for i in indices:
            _gallery_row(axes[row], a, i, titles=row == 0)
            axes[row][0].set_ylabel(f"{client}\n{a['sample_ids'][i]}", fontsize="small")
            row += 1
    fig.suptitle(title or "Label degradation: one sample per row, one supervision per column")
    return save_figure(fig, out_png, out_pdf)


def _gallery_row(axes, a: dict, i: int, titles: bool) -> None:
    image, mask = a["images"][i], a["masks"][i]
    for ax, name in zip(axes, GALLERY_COLUMNS, strict=True):
        _show(ax, image, name if titles else "")
    if a["class_names"]:
        _gallery_classes(axes, mask, a["class_names"])
        return
    axes[1].imshow(np.ma.masked_equal(mask, 0), cmap="autumn", alpha=0.5, vmin=0, vmax=1)
    _contour(axes[1], mask, "red")
    box = mask_box(mask)
    if box is None:
        axes[2].text(0.5, 0.05, "no box (empty mask)", transform=axes[2].transAxes,
                     ha="center", color="yellow", fontsize="small")  # fmt: skip
    else:
        y0, x0, y1, x1 = box
        axes[2].add_patch(
            Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="lime", lw=1.5)
        )
    label = "lesion" if a["lesion"][i] else "no lesion"
    diagnosis = DIAGNOSIS_NAMES[int(a["diagnosis"][i])]
    axes[3].text(0.5, 0.05, f"{label}\n({diagnosis})", transform=axes[3].transAxes,
                 ha="center", va="bottom", color="yellow", fontsize="small")  # fmt: skip


def _gallery_classes(axes, mask: np.ndarray, classes: list[str]) -> None:
    """Multi-class row: per-class contours (L), one box per class present (B), and the
    class-presence vector (I), one colour per class."""
    present = []
    for k, name in enumerate(classes):
        colour = CLASS_COLORS[k % len(CLASS_COLORS)]
        _contour(axes[1], mask == k + 1, colour)
        box = mask_box(mask == k + 1)
        if box is not None:
            y0, x0, y1, x1 = box
            axes[2].add_patch(
                Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.5)
            )
            present.append(name)
    axes[3].text(0.5, 0.05, ", ".join(present) or "no fluid", transform=axes[3].transAxes,
                 ha="center", va="bottom", color="yellow", fontsize="small")  # fmt: skip


def default_build_model(config: dict) -> torch.nn.Module:
    """The run's network (``config["model"]``, :mod:`fedmix.networks`) from its config, with
    one output channel per class of a multi-class task."""
    from fedmix.networks import build_network, model_spec

    spec = model_spec(config["model"], "checkpoint config")
    return build_network(spec, config["channels"], max(1, len(config.get("classes", ()))))


def predict_masks(
    checkpoint: str | os.PathLike,
    client: str,
    images: np.ndarray,
    build_model: Callable[[dict], torch.nn.Module] = default_build_model,
) -> np.ndarray:
    """Binary prediction (N, H, W) = [sigmoid(model(images / 255)) > 0.5] of a checkpoint.

    Uses the model that serves ``client`` (:func:`fedmix.model_keys.serving_key`: its own
    under local learning, else global stream 1). ``images`` is uint8 (N, C, H, W). A
    multi-class model gives a class-index map instead: at each pixel ``1 + argmax_k logit_k``
    where some channel is above 0.5, else 0 (for display).
    """
    ckpt = torch.load(checkpoint, weights_only=True, map_location="cpu")
    models = ckpt["models"]
    try:
        key = serving_key(models, client)
    except KeyError as err:
        raise ValueError(f"{checkpoint}: {err.args[0]}") from None
    model = build_model(ckpt["config"])
    model.load_state_dict(models[key])
    batch = torch.from_numpy(np.asarray(images))
    if ckpt["config"].get("classes"):
        with torch.inference_mode():
            logits = model.eval()(batch.float() / 255)
        index = (logits.argmax(1) + 1) * (logits.max(1).values > 0)
        return index.to(torch.uint8).numpy()
    return predict_binary(model, batch, batch=64).numpy()


def plot_overlays(
    test_files: Mapping[str, str | os.PathLike],
    checkpoints: Mapping[str, str | os.PathLike],
    out_png,
    out_pdf,
    n_images: int = 2,
    build_model: Callable[[dict], torch.nn.Module] = default_build_model,
    title: str = "",
) -> Figure:
    """Ground truth vs each method on the first ``n_images`` lesion test images per client.

    ``test_files``: {client: test HDF5}; ``checkpoints``: {column label: checkpoint path}.
    Rows are (client, image); the first column draws the ground truth (green), the others
    each method's prediction (red) with the ground truth (green) over the image. Multi-class
    files (attr ``class_names``): one colour per class, ground truth dashed, prediction solid.
    """
    columns = ["ground truth", *checkpoints]
    rows, classes = [], []
    for client, path in test_files.items():
        a, attrs = read_h5(path, ("images", "masks", "lesion", "sample_ids"))
        classes = list(attrs.get("class_names") or [])
        idx = pick_samples(a["lesion"], n_images, 0)
        preds = [
            predict_masks(c, client, a["images"][idx], build_model) for c in checkpoints.values()
        ]
        rows += [(client, a, i, [a["masks"][i], *(p[k] for p in preds)]) for k, i in enumerate(idx)]
    fig = Figure(figsize=(1.8 * len(columns), 1.9 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (client, a, i, masks) in enumerate(rows):
        for c, (ax, mask) in enumerate(zip(axes[r], masks, strict=True)):
            _show(ax, a["images"][i], columns[c] if r == 0 else "")
            if classes:
                _class_contours(ax, masks[0], len(classes), "dashed")
                if c > 0:
                    _class_contours(ax, mask, len(classes), "solid")
                continue
            _contour(ax, masks[0], "lime")
            if c > 0:
                _contour(ax, mask, "red")
        axes[r][0].set_ylabel(f"{client}\n{a['sample_ids'][i]}", fontsize="small")
    if classes:
        legend = ", ".join(
            f"{k} {CLASS_COLORS[j % len(CLASS_COLORS)][4:]}" for j, k in enumerate(classes)
        )
        title = title or f"Test images: ground truth dashed, prediction solid ({legend})"
    fig.suptitle(title or "Test images: ground truth (green) and each method's prediction (red)")
    return save_figure(fig, Path(out_png), Path(out_pdf))
