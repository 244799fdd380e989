"""Image figures: the label-degradation gallery and qualitative test overlays.

Both are drawn at print size with the fonts and contour colours of :mod:`fedmix.report.style`
(ground truth cyan, prediction orange: apart for every common colour-vision deficiency).

Both read pipeline HDF5 files (layout in :mod:`fedmix.file_layout`): images uint8 (N, C, H, W)
shown as their first channel, masks uint8 (N, H, W). Overlays also read checkpoints
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
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from fedmix.data.degrade import mask_to_box
from fedmix.file_layout import DIAGNOSIS_NAMES
from fedmix.io import read_h5
from fedmix.metrics import dice
from fedmix.model import predict_binary, predict_channels
from fedmix.model_keys import serving_key
from fedmix.report import style
from fedmix.report.figures import save_figure

__all__ = [
    "default_build_model",
    "disagreement_order",
    "mask_box",
    "pick_samples",
    "plot_label_gallery",
    "plot_overlays",
    "predict_masks",
]

GALLERY_COLUMNS = ("image (U)", "mask (L)", "box (B)", "label (I)")
BOX = "#FFD700"  # the B column: a box drawn in a third colour, away from both contours


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


def _show(ax, image: np.ndarray, title: str = "", width: int = 18) -> None:
    ax.imshow(image[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(textwrap.fill(title, width), fontsize=style.MIN_FONT_PT)


def _contour(ax, mask: np.ndarray, color: str, lw: float = 1.0) -> None:
    """The 0.5 level of ``mask``, padded with background so a lesion cut by the image border
    still gets a closed outline (along the border)."""
    if mask.any():
        padded = np.pad(mask.astype(float), 1)
        h, w = mask.shape
        ys, xs = np.arange(-1, h + 1), np.arange(-1, w + 1)
        ax.contour(xs, ys, padded, levels=[0.5], colors=color, linewidths=lw)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)


def _note(ax, text: str, where: str = "bottom") -> None:
    """Text inside a panel, white on a dark outline so it reads on any image."""
    y, va = (0.03, "bottom") if where == "bottom" else (0.97, "top")
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va=va, color="white",
            fontsize=style.MIN_FONT_PT,
            path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])  # fmt: skip


@style.styled
def plot_label_gallery(
    standardized: Mapping[str, str | os.PathLike],
    out_png,
    out_pdf,
    n_lesion: int = 1,
    n_free: int = 1,
    title: str = "",
) -> Figure:
    """One row per client; per shown sample, one column per supervision level.

    ``standardized``: {client: standardized HDF5 file}. Samples: the client's first ``n_lesion``
    lesion images, then its first ``n_free`` lesion-free ones (file order). Columns of a sample:
    the image alone (U), the pixel mask's outline (L), the mask's bounding box (B), the
    image-level label and diagnosis (I). Sized to the page width.
    """
    shown = {}
    for client, path in standardized.items():
        arrays, _ = read_h5(path, ("images", "masks", "lesion", "diagnosis", "sample_ids"))
        shown[client] = (arrays, pick_samples(arrays["lesion"], n_lesion, n_free))
    n_samples = n_lesion + n_free
    n_cols = n_samples * len(GALLERY_COLUMNS)
    panel = (style.PAGE_IN - 0.35) / n_cols
    height = min(style.MAX_HEIGHT_IN, panel * len(shown) + 0.45)
    fig = Figure(figsize=(style.PAGE_IN, height), layout="constrained")
    axes = fig.subplots(len(shown), n_cols, squeeze=False)
    for row, (client, (a, indices)) in enumerate(shown.items()):
        for k in range(n_samples):
            block = axes[row][k * len(GALLERY_COLUMNS) : (k + 1) * len(GALLERY_COLUMNS)]
            if k < len(indices):
                _gallery_block(block, a, indices[k], titles=row == 0)
            else:  # the client has fewer samples of this kind
                for ax in block:
                    ax.set_axis_off()
                _note(block[0], "(none)", "top")
        axes[row][0].set_ylabel(client, fontsize=style.MIN_FONT_PT)
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png, out_pdf)


def _gallery_block(axes, a: dict, i: int, titles: bool) -> None:
    image, mask = a["images"][i], a["masks"][i]
    for ax, name in zip(axes, GALLERY_COLUMNS, strict=True):
        _show(ax, image, name if titles else "", width=10)
    axes[0].set_xlabel(str(a["sample_ids"][i]), fontsize=style.MIN_FONT_PT)
    _contour(axes[1], mask, style.GROUND_TRUTH)
    box = mask_box(mask)
    if box is None:
        _note(axes[2], "no box")
    else:
        y0, x0, y1, x1 = box
        axes[2].add_patch(
            Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=BOX, lw=1.0)
        )
    label = "lesion" if a["lesion"][i] else "no lesion"
    _note(axes[3], f"{label}\n{DIAGNOSIS_NAMES[int(a['diagnosis'][i])]}")


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
    multi-class model gives the union of its class channels (any fluid), drawn like a lesion.
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
        return predict_channels(model, batch, batch=64).any(1).numpy()
    return predict_binary(model, batch, batch=64).numpy()


def disagreement_order(scores: np.ndarray) -> list[int]:
    """Image indices by how much the methods disagree: Dice range (max - min over methods,
    rows of ``scores`` (M, N)) descending, ties by index. Deterministic."""
    spread = scores.max(axis=0) - scores.min(axis=0)
    return [int(i) for i in np.lexsort((np.arange(spread.size), -spread))]


@style.styled
def plot_overlays(
    test_files: Mapping[str, str | os.PathLike],
    checkpoints: Mapping[str, str | os.PathLike],
    out_png,
    out_pdf,
    n_images: int = 2,
    build_model: Callable[[dict], torch.nn.Module] = default_build_model,
    title: str = "",
) -> Figure:
    """Ground truth vs each method on the ``n_images`` lesion test images per client where the
    methods disagree most (:func:`disagreement_order` of the per-image Dice).

    ``test_files``: {client: test HDF5}; ``checkpoints``: {column label: checkpoint path}.
    Rows are (client, image); the first column draws the ground truth (cyan), the others each
    method's prediction (orange) over it, with that prediction's Dice written in the panel.
    """
    columns = ["ground truth", *checkpoints]
    rows = []
    for client, path in test_files.items():
        a, _ = read_h5(path, ("images", "masks", "lesion", "sample_ids"))
        lesion = np.flatnonzero(a["lesion"] == 1)
        preds = [
            predict_masks(c, client, a["images"][lesion], build_model) for c in checkpoints.values()
        ]
        truth = a["masks"][lesion].astype(bool)
        scores = np.array([[dice(p[k], truth[k]) for k in range(len(lesion))] for p in preds])
        for k in disagreement_order(scores)[:n_images]:
            masks = [truth[k], *(p[k] for p in preds)]
            rows.append((client, a, int(lesion[k]), masks, [None, *scores[:, k]]))
    panel = (style.PAGE_IN - 0.4) / len(columns)
    height = min(style.MAX_HEIGHT_IN, panel * len(rows) + 0.75)
    fig = Figure(figsize=(style.PAGE_IN, height), layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (client, a, i, masks, scores) in enumerate(rows):
        for c, (ax, mask) in enumerate(zip(axes[r], masks, strict=True)):
            _show(ax, a["images"][i], columns[c] if r == 0 else "", width=13)
            _contour(ax, masks[0], style.GROUND_TRUTH)
            if c > 0:
                _contour(ax, mask, style.PREDICTION)
                _note(ax, f"{scores[c]:.2f}", "top")
        axes[r][0].set_ylabel(f"{client}\n{a['sample_ids'][i]}", fontsize=style.MIN_FONT_PT)
    legend = [
        Line2D([], [], color=style.GROUND_TRUTH, label="ground truth"),
        Line2D([], [], color=style.PREDICTION, label="prediction (Dice in the panel)"),
    ]
    fig.legend(handles=legend, loc="outside lower center", ncols=2)
    if title:
        fig.suptitle(title)
    return save_figure(fig, Path(out_png), Path(out_pdf))
