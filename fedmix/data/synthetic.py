"""The embedded synthetic federation: ultrasound-like and dermoscopy-like clients.

Every sample is drawn from its own generator, ``np.random.default_rng([seed, crc32(client), k])``,
so sample ``k`` of a client does not depend on ``n``, on the order of generation or on any other
client. Whether sample ``k`` is lesion-free or malignant comes from two Weyl sequences
``frac(o + k * phi)`` and ``frac(o' + k * sqrt 2)`` (offsets from ``(seed, crc32(client))``), so
the fractions are met closely even for small ``n`` while staying independent of ``n``.

Ultrasound: speckled, layered tissue; a hypoechoic (dark) lesion, smooth ellipse if benign,
irregular and spiculated if malignant; below it an acoustic shadow (50-70% darker) or posterior
enhancement (40-70% brighter), chosen per client. The mask covers the lesion only, never the
shadow: a client that only ever sees enhancement learns to include shadows in its masks.

Dermoscopy: skin-toned background with a dark vignette, a brown lesion (malignant: irregular,
darker, variegated with blue-grey zones), faint freckles, dark hair strands with probability
``hair``; converted to grayscale when ``channels == 1``.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

from fedmix import __version__
from fedmix.data.shapes import draw_lesion, lesion_maps, pixel_grid
from fedmix.data.splits import assign_split
from fedmix.file_layout import DIAGNOSIS_NAMES, SPLIT_NAMES

__all__ = ["GENERATOR_DEFAULTS", "SOURCE_VERSION", "generate_client", "generate_sample"]

SOURCE_VERSION = "fedmix-synthetic-1"  # bump whenever the generated pixels change

# Per-client generator parameters left out of config["tasks"][t]["synthetic"]["clients"][c].
GENERATOR_DEFAULTS = {
    "lesion_free": 0.2,  # fraction of images without a lesion
    "malignant": 0.3,  # fraction of malignant among lesion images
    "posterior": "none",  # ultrasound only: shadow | enhancement | none
    "hair": 0.0,  # dermoscopy only: probability of hair strands
    "brightness": 1.0,  # global intensity factor
    "noise": 0.1,  # speckle std (ultrasound) or additive Gaussian std (dermoscopy)
    "blur": 0.5,  # Gaussian blur sigma, px
    "lesion_radius": [0.15, 0.30],  # mean lesion radius range, fraction of image size
}
_ONLY = {"posterior": "ultrasound", "hair": "dermoscopy"}
_PHI, _SQRT2 = (np.sqrt(5.0) - 1) / 2, np.sqrt(2.0)
_SKIN, _BROWN, _DARK, _BLUE = (
    np.array(c)[:, None, None]
    for c in ([0.82, 0.63, 0.53], [0.52, 0.34, 0.23], [0.30, 0.19, 0.14], [0.38, 0.42, 0.52])
)


def generate_client(task_name: str, client: str, task_cfg: dict) -> tuple[dict, dict]:
    """Generate every sample of one client in the standardized layout of :mod:`fedmix.file_layout`.

    ``task_cfg`` is one validated entry of ``config["tasks"]``. Returns ``(arrays, attrs)``:
    images uint8 ``(N, C, H, W)``, masks uint8 ``(N, H, W)`` in {0, 1}, lesion and diagnosis
    uint8 ``(N,)``, sample_ids str ``(N,)``, split uint8 ``(N,)`` from :func:`assign_split`
    seeded with ``[split.seed, crc32(client)]``.
    """
    synth = task_cfg["synthetic"]
    if client not in synth["clients"]:
        raise ValueError(
            f"task {task_name!r} has no synthetic client {client!r}; "
            f"its clients are {sorted(synth['clients'])}"
        )
    split = task_cfg["split"]
    if split.get("mode", "grouped") != "grouped":
        raise ValueError(
            f"task {task_name!r}: split mode {split['mode']!r} is defined for real data only; "
            "use mode: grouped for a synthetic task (each sample is its own group)"
        )
    modality, size, channels = synth["modality"], task_cfg["image_size"], task_cfg["channels"]
    params = _client_params(task_name, client, synth["clients"][client], modality, size)
    n = params["n"]
    kinds = _sample_kinds(synth["seed"], client, n, params["lesion_free"], params["malignant"])
    images = np.empty((n, channels, size, size), np.uint8)
    masks = np.empty((n, size, size), np.uint8)
    for k in range(n):
        rng = np.random.default_rng([synth["seed"], zlib.crc32(client.encode()), k])
        images[k], masks[k] = generate_sample(rng, modality, kinds[k], params, size, channels)
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": (kinds > 0).astype(np.uint8),
        "diagnosis": kinds.astype(np.uint8),
        "sample_ids": np.array([f"{client}-{k:05d}" for k in range(n)]),
        "split": assign_split(
            n,
            split["val_fraction"],
            split["test_fraction"],
            [split["seed"], zlib.crc32(client.encode())],
        ),
    }
    attrs = {
        "kind": "standardized",
        "task": task_name,
        "client": client,
        "source": "synthetic",
        "source_version": SOURCE_VERSION,
        "params": {
            **params,
            "image_size": size,
            "channels": channels,
            "modality": modality,
            "seed": synth["seed"],
            "split": dict(split),
        },
        "diagnosis_names": list(DIAGNOSIS_NAMES),
        "split_names": list(SPLIT_NAMES),
        "fedmix_version": __version__,
    }
    return arrays, attrs


def _client_params(task_name, client, given, modality, size) -> dict:
    """The client's parameters with :data:`GENERATOR_DEFAULTS` filled in, checked."""
    for key, only in _ONLY.items():
        if key in given and modality != only:
            raise ValueError(
                f"task {task_name!r}, client {client!r}: {key!r} applies to {only} only, but the "
                f"modality is {modality!r}; remove {key!r} from this client"
            )
    params = {**GENERATOR_DEFAULTS, **given}
    lo, hi = params["lesion_radius"]
    if not (0 < lo <= hi <= 0.5) or lo * size < 1.5:
        raise ValueError(
            f"task {task_name!r}, client {client!r}: lesion_radius {[lo, hi]} must satisfy "
            f"0 < low <= high <= 0.5 and low * image_size ({size}) >= 1.5 px"
        )
    params["lesion_radius"] = [float(lo), float(hi)]
    return params


def _sample_kinds(seed: int, client: str, n: int, lesion_free: float, malignant: float):
    """Diagnosis of each sample (0 normal, 1 benign, 2 malignant) from two Weyl sequences."""
    offsets = np.random.default_rng([seed, zlib.crc32(client.encode())]).random(2)
    k = np.arange(n)
    free = (offsets[0] + k * _PHI) % 1.0 < lesion_free
    bad = (offsets[1] + k * _SQRT2) % 1.0 < malignant
    return np.where(free, 0, np.where(bad, 2, 1))


def generate_sample(rng, modality, kind, params, size, channels):
    """One image uint8 ``(C, H, W)`` and its mask uint8 ``(H, W)``; ``kind`` as diagnosis."""
    draw = _ultrasound if modality == "ultrasound" else _dermoscopy
    image, mask = draw(rng, kind, params, size)  # float (3 or 1, H, W) in about [0, 1]
    image = ndimage.gaussian_filter(image, sigma=(0, params["blur"], params["blur"]))
    if channels == 1 and image.shape[0] == 3:
        image = np.tensordot([0.299, 0.587, 0.114], image, axes=1)[None]
    elif channels == 3 and image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)  # ultrasound is gray: same values in R, G, B
    image = np.clip(image * params["brightness"], 0.0, 1.0)
    return np.round(image * 255).astype(np.uint8), mask


def _smooth_field(rng, size, sigma):
    """Zero-mean, unit-std Gaussian random field ``(H, W)`` with correlation length ``sigma``."""
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    return field / max(field.std(), 1e-8)


def _ultrasound(rng, kind, params, size):
    """Speckled tissue, hypoechoic lesion, posterior shadow or enhancement (float ``(1, H, W)``)."""
    yy, xx = pixel_grid(size)
    depth = yy / size
    tissue = 0.45 + 0.20 * np.exp(-depth / 0.08)  # bright near-field layer at the top
    tissue += 0.06 * np.sin(2 * np.pi * (yy / rng.uniform(6, 14) + rng.uniform()))  # layers
    tissue += 0.07 * _smooth_field(rng, size, 2.5)
    tissue *= 1.0 - 0.2 * depth  # residual attenuation with depth
    tissue = _distractors(rng, tissue, yy, xx, size, level=(0.65, 0.85))
    mask = np.zeros((size, size), np.uint8)
    if kind:
        lesion = draw_lesion(
            rng, size, kind == 2, params["lesion_radius"], (0.25, 0.55), (0.25, 0.75)
        )
        mask, alpha = lesion_maps(lesion, yy, xx)
        echo = rng.uniform(0.3, 0.55) * (1 + 0.1 * _smooth_field(rng, size, 1.5))
        tissue = tissue * (1 - alpha * (1 - echo))
        tissue *= _posterior(rng, alpha, params["posterior"], lesion.r)
    if params["noise"] > 0:  # multiplicative speckle, Gamma with mean 1 and std `noise`
        tissue = tissue * rng.gamma(1 / params["noise"] ** 2, params["noise"] ** 2, tissue.shape)
    return tissue[None], mask


def _posterior(rng, alpha, posterior, radius):
    """Multiplicative map below the lesion: ``1 - s * p`` (shadow, s in 0.5-0.7), ``1 + e * p``
    (enhancement, e in 0.4-0.7) or 1, where ``p`` is the region under the lesion outline
    (running max of ``alpha`` down each column minus ``alpha``) fading as ``exp(-depth / L)``."""
    if posterior == "none":
        return 1.0
    below = np.clip(np.maximum.accumulate(alpha, axis=0) - alpha, 0, 1)
    below = ndimage.gaussian_filter1d(below, 0.6, axis=1)
    depth = np.cumsum(below, axis=0)  # px below the lesion's lower edge
    if posterior == "shadow":
        return 1 - rng.uniform(0.5, 0.7) * below * np.exp(-depth / (8 * radius))
    return 1 + rng.uniform(0.4, 0.7) * below * np.exp(-depth / (2.5 * radius))


def _distractors(rng, image, yy, xx, size, level):
    """0-2 small darker blobs (radius 1-2.5 px, intensity x U(level)) that are not lesions."""
    for _ in range(int(rng.integers(0, 3))):
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1.0, 2.5)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
        image = image * (1 - blob * (1 - rng.uniform(*level)))
    return image


def _dermoscopy(rng, kind, params, size):
    """Skin, vignette, brown lesion, freckles and hair (float ``(3, H, W)``)."""
    yy, xx = pixel_grid(size)
    skin = _SKIN * rng.uniform(0.9, 1.1) + rng.normal(0, 0.03, (3, 1, 1))
    image = skin * (1 + 0.04 * _smooth_field(rng, size, 3.0))
    image = _distractors(rng, image, yy, xx, size, level=(0.75, 0.9))
    mask = np.zeros((size, size), np.uint8)
    if kind:
        lesion = draw_lesion(
            rng, size, kind == 2, params["lesion_radius"], (0.35, 0.65), (0.35, 0.65)
        )
        mask, alpha = lesion_maps(lesion, yy, xx)
        image = (1 - alpha) * image + alpha * _pigment(rng, kind == 2, size)
    image = _hair(rng, image, yy, xx, size) if rng.random() < params["hair"] else image
    radius = np.hypot(yy - size / 2, xx - size / 2) / (size / np.sqrt(2))
    image = image * (1 - rng.uniform(0.3, 0.6) * np.clip((radius - 0.55) / 0.45, 0, 1) ** 1.5)
    return image + rng.normal(0, params["noise"], image.shape), mask


def _pigment(rng, malignant, size):
    """Lesion colour ``(3, H, W)``: brown with mild variation (benign) or dark brown, strongly
    variegated, with blue-grey zones where a random field exceeds 0.8 std (malignant)."""
    if not malignant:
        return _BROWN * rng.uniform(0.85, 1.2) * (1 + 0.08 * _smooth_field(rng, size, 2.0))
    tone = _DARK * rng.uniform(0.8, 1.3) * (1 + 0.3 * _smooth_field(rng, size, 1.5))
    blue = np.clip(_smooth_field(rng, size, 2.0) - 0.8, 0, 1)
    return (1 - blue) * tone + blue * _BLUE


def _hair(rng, image, yy, xx, size):
    """1-4 dark, slightly curved strands ``|d| ~ 0.4-0.7 px`` wide crossing the image."""
    for _ in range(int(rng.integers(1, 5))):
        y0, x0, a = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0, np.pi)
        t = (xx - x0) * np.cos(a) + (yy - y0) * np.sin(a)
        d = -(xx - x0) * np.sin(a) + (yy - y0) * np.cos(a) - rng.normal(0, 0.02) * t**2
        strand = np.exp(-0.5 * (d / rng.uniform(0.4, 0.7)) ** 2)
        image = image * (1 - rng.uniform(0.6, 0.85) * strand)
    return image
