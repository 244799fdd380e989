"""The layout of the pipeline's files: one HDF5 layout for every task, synthetic or real, and
the columns of history.csv and the evaluation CSVs (read and written by :mod:`fedmix.io`).

Three kinds of file, all written atomically (temporary name, renamed when complete);
``resources/`` below stands for ``resources/<experiment>/``:

``standardized`` -- ``resources/{task}/standardized/{client}.h5``: every sample of one client.

    images      uint8  (N, C, H, W)  intensities 0..255, C = 1 (grayscale) by default
    masks       uint8  (N, H, W)     0/1 lesion mask; in a multi-class task (attr
                                     ``class_names``, K names) class indices 0..K, 0 background,
                                     k + 1 = class_names[k] (RETOUCH: 1 IRF, 2 SRF, 3 PED)
    lesion      uint8  (N,)          image-level label: 1 lesion present, 0 absent
    diagnosis   uint8  (N,)          0 normal, 1 benign, 2 malignant (attr ``diagnosis_names``)
    sample_ids  str    (N,)          stable id of each sample (file stem or generator id)
    split       uint8  (N,)          0 train, 1 val, 2 test (attr ``split_names``), seeded;
                                     3 unlabelled_extra: training images for letter U only
                                     (BUSI's normal images, as the paper adds them)
    attrs: kind, task, client, source, source_version, params (JSON), fedmix_version,
           class_names (multi-class tasks only; every file derived from this one carries it)

``train`` -- ``resources/{task}/train/{client}.{supervision}.h5``: the train split of one client
holding only what its supervision letter allows (see :mod:`fedmix.data.degrade`):

    L: images, sample_ids, masks
    B: images, sample_ids, boxes int32 (N, 4) as (y0, x0, y1, x1), end exclusive,
       box_valid uint8 (N,) 0 where the mask is empty (box then all -1, never a fake box)
    I: images, sample_ids, lesion, diagnosis
    U: images, sample_ids

    Multi-class (K classes): L masks hold class indices; B has one box per class,
    boxes int32 (N, K, 4) and box_valid uint8 (N, K) (0 where the class is absent);
    I also holds presence uint8 (N, K), the class-presence vector (1 where class k + 1 occurs).

``eval`` -- ``resources/{task}/{val,test}/{client}.h5``: one split of one client with its masks
(images, masks, lesion, diagnosis, sample_ids). Training opens the val files for model
selection; only the evaluation rule opens the test files.
"""

from __future__ import annotations

__all__ = [
    "CLASS_METRICS",
    "DIAGNOSIS_NAMES",
    "EVAL_CLIENT_COLUMNS",
    "EVAL_IMAGE_COLUMNS",
    "HISTORY_COLUMNS",
    "SPLIT_NAMES",
    "SUPERVISION_FIELDS",
    "class_columns",
    "supervision_fields",
]

SPLIT_NAMES = ("train", "val", "test", "unlabelled_extra")
DIAGNOSIS_NAMES = ("normal", "benign", "malignant")

# Which arrays a training file may hold, per supervision letter.
SUPERVISION_FIELDS: dict[str, tuple[str, ...]] = {
    "L": ("images", "sample_ids", "masks"),
    "B": ("images", "sample_ids", "boxes", "box_valid"),
    "I": ("images", "sample_ids", "lesion", "diagnosis"),
    "U": ("images", "sample_ids"),
}

# Extra arrays of a multi-class task's training file (the rest keeps the binary names).
MULTICLASS_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {"I": ("presence",)}


def supervision_fields(supervision: str, multiclass: bool = False) -> tuple[str, ...]:
    """The arrays a training file at ``supervision`` holds, binary or multi-class."""
    if supervision not in SUPERVISION_FIELDS:
        raise ValueError(
            f"unknown supervision letter {supervision!r}; valid letters are "
            f"{sorted(SUPERVISION_FIELDS)} (L masks, B boxes, I image labels, U unlabeled)"
        )
    extra = MULTICLASS_EXTRA_FIELDS.get(supervision, ()) if multiclass else ()
    return SUPERVISION_FIELDS[supervision] + extra


# Columns of the CSV files a run leaves in
# results/<experiment>/{task}/{method}/{setting}/seed{seed}/, written by training and evaluation
# and read by the report: one definition for both.
HISTORY_COLUMNS = (  # history.csv: one row per round and client
    "round",
    "client",
    "supervision",
    "n_samples",  # n_i: kept samples (weak clients) or training-set size (L), 0 if skipped
    "n_train",
    "train_loss",  # l_i: stream-1 mean training loss this round
    "train_loss_stream2",
    "weight",  # w_i actually used in aggregation
    "val_dice",  # validation Dice of the client's global model after the round
)
EVAL_IMAGE_COLUMNS = ("client", "sample_id", "lesion", "dice", "iou", "hd95", "one_empty")
EVAL_CLIENT_COLUMNS = (
    "task",
    "method",
    "setting",
    "seed",
    "which",
    "round",
    "selection",
    "data",
    "client",
    "n_images",
    "dice",
    "iou",
    "hd95",
    "dice_lesion",
    "n_one_empty",
)

CLASS_METRICS = ("dice", "iou", "hd95", "dice_present")


def class_columns(classes) -> tuple[str, ...]:
    """Per-class columns a multi-class evaluation adds to both CSVs: ``<metric>_<class>`` for
    Dice, IoU, HD95 and Dice over the images where the class is present; () when binary."""
    return tuple(f"{m}_{c}" for c in classes for m in CLASS_METRICS)
