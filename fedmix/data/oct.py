"""A synthetic OCT-like federation: retinal B-scans with three fluid classes, one client per vendor.

Each image is one B-scan (depth down, lateral across) of a layered retina: dark vitreous, a bright
nerve-fibre layer under the inner limiting membrane (with a foveal dip), alternating plexiform
(bright) and nuclear (dark) layers, the bright ellipsoid zone, the brightest band (the retinal
pigment epithelium, RPE) and a textured choroid below it, all under multiplicative speckle.

Fluid classes (class index in the mask; channel ``k - 1`` of the network):

1. IRF, intraretinal fluid: 1-3 round, very dark cysts inside the nuclear layers.
2. SRF, subretinal fluid: a dark, homogeneous lens between the lifted neural retina and the RPE.
3. PED, pigment-epithelium detachment: the RPE band bulges up in a dome; the dome's interior
   (between the lifted RPE and Bruch's membrane) is medium-dark and grainy.

Samples come in volumes of ``slices`` neighbouring B-scans that share their geometry (the fluid
types present, their position and size, the retina's shape) with small per-slice changes, as
real OCT volumes do; the split is grouped by volume, so no volume spans two partitions. Every
slice holds at least one fluid (the original keeps only such slices).

Per client (vendor): ``brightness``, speckle ``noise``, ``blur`` and ``resolution`` (the image
is averaged down by that factor and back up: a coarser axial/lateral sampling), and the
frequency of each fluid type (``fluid``, one probability per class). Every slice is drawn from
``np.random.default_rng([seed, crc32(client), volume, slice])`` and its volume's geometry from
``[seed, crc32(client), volume]``, so nothing depends on ``n`` or on generation order.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

from fedmix import __version__
from fedmix.data.shapes import pixel_grid
from fedmix.data.splits import assign_split
from fedmix.file_layout import SPLIT_NAMES

__all__ = ["OCT_CLASSES", "OCT_DEFAULTS", "OCT_SOURCE_VERSION", "generate_oct_client"]

OCT_SOURCE_VERSION = "fedmix-synthetic-oct-2"  # bump whenever the generated pixels change
OCT_CLASSES = ("irf", "srf", "ped")  # class indices 1, 2, 3 as in RETOUCH

# Per-client parameters left out of config["tasks"][t]["synthetic"]["clients"][c].
OCT_DEFAULTS = {
    "slices": 4,  # B-scans per volume (neighbours share geometry)
    "fluid": [0.5, 0.4, 0.3],  # probability that a volume shows IRF, SRF, PED
    "brightness": 1.0,  # global intensity factor
    "noise": 0.2,  # speckle std (Gamma, mean 1)
    "blur": 0.5,  # Gaussian blur sigma, px
    "resolution": 1.0,  # sampling factor in (0, 1]: 0.5 = half the pixels, then upsampled
}

# Layer intensities from the inner limiting membrane (t = 0) to the outer retina (t = 1).
_LAYERS = [(0.0, 0.78), (0.12, 0.5), (0.35, 0.28), (0.45, 0.6), (0.52, 0.24), (0.85, 0.72)]
_LAYERS += [(0.92, 0.36)]


def generate_oct_client(task_name: str, client: str, task_cfg: dict) -> tuple[dict, dict]:
    """Generate every B-scan of one client in the standardized layout of :mod:`fedmix.file_layout`.

    ``n`` counts volumes; the file holds ``n * slices`` samples. Returns ``(arrays, attrs)``:
    images uint8 ``(N, 1, H, W)``, masks uint8 ``(N, H, W)`` of class indices 0..3, lesion uint8
    ``(N,)`` (1: some fluid, always), diagnosis uint8 ``(N,)`` (= lesion), sample_ids
    ``<client>-v<volume>-s<slice>``, groups (the volume id) and split grouped by volume.
    """
    synth = task_cfg["synthetic"]
    if client not in synth["clients"]:
        raise ValueError(
            f"task {task_name!r} has no synthetic client {client!r}; "
            f"its clients are {sorted(synth['clients'])}"
        )
    if list(task_cfg.get("classes", [])) != list(OCT_CLASSES):
        raise ValueError(
            f"task {task_name!r}: the oct generator draws classes {list(OCT_CLASSES)} (mask values "
            f"1, 2, 3); set classes: {list(OCT_CLASSES)} (got {task_cfg.get('classes')})"
        )
    params = _params(task_name, client, synth["clients"][client])
    size, seed, key = task_cfg["image_size"], synth["seed"], zlib.crc32(client.encode())
    n_vol, n_sl = params["n"], params["slices"]
    images = np.empty((n_vol * n_sl, 1, size, size), np.uint8)
    masks = np.empty((n_vol * n_sl, size, size), np.uint8)
    for v in range(n_vol):
        volume = _volume(np.random.default_rng([seed, key, v]), params["fluid"])
        for s in range(n_sl):
            rng = np.random.default_rng([seed, key, v, s])
            images[v * n_sl + s], masks[v * n_sl + s] = oct_slice(rng, volume, params, size)
    groups = np.repeat(np.arange(n_vol), n_sl)
    split = task_cfg["split"]
    lesion = (masks.reshape(len(masks), -1) > 0).any(1).astype(np.uint8)
    arrays = {
        "images": images,
        "masks": masks,
        "lesion": lesion,
        "diagnosis": lesion.copy(),
        "sample_ids": np.array(
            [f"{client}-v{v:04d}-s{s}" for v in range(n_vol) for s in range(n_sl)]
        ),
        "split": assign_split(
            len(groups), split["val_fraction"], split["test_fraction"], [split["seed"], key], groups
        ),
    }
    attrs = {
        "kind": "standardized",
        "task": task_name,
        "client": client,
        "source": "synthetic",
        "source_version": OCT_SOURCE_VERSION,
        "params": {**params, "image_size": size, "modality": "oct", "seed": seed, "split": split},
        "class_names": list(OCT_CLASSES),
        "diagnosis_names": ["no fluid", "fluid"],
        "split_names": list(SPLIT_NAMES),
        "fedmix_version": __version__,
    }
    return arrays, attrs


def _params(task_name: str, client: str, given: dict) -> dict:
    unknown = sorted(set(given) - set(OCT_DEFAULTS) - {"n"})
    if unknown:
        raise ValueError(
            f"task {task_name!r}, client {client!r}: unknown OCT generator key(s) {unknown}; "
            f"valid: {sorted(OCT_DEFAULTS)} and n"
        )
    params = {**OCT_DEFAULTS, **given}
    fluid = [float(p) for p in params["fluid"]]
    if len(fluid) != len(OCT_CLASSES) or not all(0 <= p <= 1 for p in fluid) or sum(fluid) == 0:
        raise ValueError(
            f"task {task_name!r}, client {client!r}: fluid must be {len(OCT_CLASSES)} "
            f"probabilities (IRF, SRF, PED) in [0, 1], not all 0; got {params['fluid']}"
        )
    if not 0 < params["resolution"] <= 1:
        raise ValueError(
            f"task {task_name!r}, client {client!r}: resolution must lie in (0, 1], "
            f"got {params['resolution']}"
        )
    return {**params, "fluid": fluid}


def _volume(rng: np.random.Generator, fluid: list[float]) -> dict:
    """Geometry shared by the slices of one volume (fractions of the image size)."""
    present = rng.random(3) < np.asarray(fluid)
    if not present.any():  # every kept slice shows fluid
        present[rng.choice(3, p=np.asarray(fluid) / sum(fluid))] = True
    return {
        "present": present,
        "ilm": rng.uniform(0.15, 0.22),
        "rpe": rng.uniform(0.72, 0.8),
        "tilt": rng.uniform(-0.06, 0.06),
        "fovea": rng.uniform(0.3, 0.7),
        "irf": [(rng.uniform(0.2, 0.8), rng.uniform(0.4, 0.65)) for _ in range(rng.integers(1, 3))],
        "srf_x": rng.uniform(0.3, 0.7),
        "ped_x": rng.uniform(0.25, 0.75),
    }


def oct_slice(rng: np.random.Generator, vol: dict, params: dict, size: int):
    """One B-scan uint8 ``(1, H, W)`` and its class-index mask uint8 ``(H, W)``."""
    yy, xx = pixel_grid(size)
    x = xx[0] / size  # lateral position in [0, 1)
    mask = np.zeros((size, size), np.uint8)
    bruch = (vol["rpe"] + vol["tilt"] * (x - 0.5) + rng.normal(0, 0.005)) * size
    band = 0.05 * size  # RPE thickness
    rpe_top = bruch - band
    if vol["present"][2]:  # PED: the RPE rises in a dome over Bruch's membrane
        dome = _dome(x, vol["ped_x"] + rng.normal(0, 0.02), rng.uniform(0.14, 0.22))
        rpe_top = rpe_top - dome * rng.uniform(0.16, 0.24) * size
    retina_bottom = rpe_top.copy()
    if vol["present"][1]:  # SRF: the neural retina lifts off the RPE in a lens
        lens = _dome(x, vol["srf_x"] + rng.normal(0, 0.02), rng.uniform(0.18, 0.3))
        retina_bottom = rpe_top - lens * rng.uniform(0.1, 0.16) * size
    ilm = vol["ilm"] * size + 0.1 * size * np.exp(-(((x - vol["fovea"]) / 0.08) ** 2))
    ilm = np.minimum(ilm + vol["tilt"] * (x - 0.5) * size, retina_bottom - 0.2 * size)
    t = (yy - ilm) / (retina_bottom - ilm)  # 0 at the ILM, 1 at the outer retina
    image = np.full((size, size), 0.04)  # vitreous
    for start, level in _LAYERS:
        image[(t >= start) & (t < 1)] = level
    image[(yy >= retina_bottom) & (yy < rpe_top)] = 0.05  # SRF: optically empty
    rpe_band = (yy >= rpe_top) & (yy < rpe_top + band)
    image[rpe_band] = 0.95
    below = yy >= np.maximum(rpe_top + band, bruch)
    choroid = 0.45 * np.exp(-(yy - bruch) / (0.25 * size)) * (1 + 0.25 * _field(rng, size, 1.2))
    image[below] = choroid[below]
    ped = (yy >= rpe_top + band) & (yy < bruch)  # empty where no dome
    image[ped] = (0.18 * (1 + 0.4 * _field(rng, size, 0.8)))[ped]
    mask[(yy >= retina_bottom) & (yy < rpe_top)] = 2
    mask[ped] = 3
    if vol["present"][0]:  # IRF: dark cysts in the nuclear layers
        for cx, ct in vol["irf"]:
            r = rng.uniform(0.07, 0.12) * size
            cy = ilm + np.clip(ct + rng.normal(0, 0.03), 0.3, 0.8) * (retina_bottom - ilm)
            inside = (xx - (cx + rng.normal(0, 0.015)) * size) ** 2 + (yy - cy) ** 2 < r**2
            inside &= (t > 0.15) & (t < 0.95)
            image[inside] = 0.06
            mask[inside] = 1
    return _acquire(rng, image, params), mask


def _dome(x: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """Height profile in [0, 1]: ``sqrt(max(0, 1 - ((x - centre) / half_width)^2))``."""
    return np.sqrt(np.clip(1 - ((x - centre) / half_width) ** 2, 0, 1))


def _field(rng, size, sigma):
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    return field / max(field.std(), 1e-8)


def _acquire(rng, image: np.ndarray, params: dict) -> np.ndarray:
    """The vendor's view: coarser sampling, blur, speckle, brightness, 8-bit."""
    size = image.shape[0]
    if params["resolution"] < 1:
        low = ndimage.zoom(image, params["resolution"], order=1, grid_mode=True, mode="nearest")
        image = ndimage.zoom(low, size / low.shape[0], order=1, grid_mode=True, mode="nearest")
    image = ndimage.gaussian_filter(image, params["blur"])
    if params["noise"] > 0:
        shape = 1 / params["noise"] ** 2
        image = image * rng.gamma(shape, 1 / shape, image.shape)
    image = np.clip(image * params["brightness"], 0.0, 1.0)
    return np.round(image * 255).astype(np.uint8)[None]
