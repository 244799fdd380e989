"""Lesion geometry for the synthetic generator: smooth (benign) and spiculated (malignant) shapes.

All maps are float arrays ``(H, W)`` sampled at pixel centres ``(y + 0.5, x + 0.5)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Lesion", "draw_lesion", "lesion_maps", "pixel_grid"]


@dataclasses.dataclass(frozen=True)
class Lesion:
    """One lesion: centre ``(cy, cx)`` px, mean radius ``r`` px, semi-axis ratio ``q``, ``angle``
    rad, boundary harmonics ``(k, amplitude, phase, power)`` and margin width ``edge`` px."""

    cy: float
    cx: float
    r: float
    q: float
    angle: float
    harmonics: list[tuple[int, float, float, int]]
    edge: float


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(yy, xx)``, each ``(size, size)``."""
    c = np.arange(size) + 0.5
    return np.meshgrid(c, c, indexing="ij")


def draw_lesion(
    rng: np.random.Generator,
    size: int,
    malignant: bool,
    radius: tuple[float, float],
    centre_y: tuple[float, float],
    centre_x: tuple[float, float],
) -> Lesion:
    """Draw a lesion whose mean radius is ``U(radius) * size`` and whose centre lies at
    ``U(centre_*) * size``.

    Benign: ellipse (axis ratio 0.6-1) with gentle lobulation (k = 2, 3; amplitude <= 0.08) and a
    sharp margin. Malignant: irregular outline (k = 2..4, amplitude <= 0.18) plus 5-9 spicules
    ``s * max(0, cos(k theta + phi))**3`` with s in 0.25-0.45, and a blurrier margin.
    """
    r = rng.uniform(*radius) * size
    cy = rng.uniform(*centre_y) * size
    cx = rng.uniform(*centre_x) * size
    q = rng.uniform(0.6, 1.0)
    angle = rng.uniform(-np.pi, np.pi)
    if malignant:
        low = [(k, rng.uniform(0.05, 0.18), rng.uniform(0, 2 * np.pi), 1) for k in (2, 3, 4)]
        spikes = [(int(rng.integers(5, 10)), rng.uniform(0.25, 0.45), rng.uniform(0, 2 * np.pi), 3)]
        return Lesion(cy, cx, r, q, angle, low + spikes, edge=rng.uniform(1.2, 2.0))
    lobes = [(k, rng.uniform(0.0, 0.08), rng.uniform(0, 2 * np.pi), 1) for k in (2, 3)]
    return Lesion(cy, cx, r, q, angle, lobes, edge=rng.uniform(0.6, 1.0))


def lesion_maps(lesion: Lesion, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(mask, alpha)``: the 0/1 uint8 mask ``d <= 1`` and a soft coverage in [0, 1].

    With ``(u, v)`` the offset rotated by ``angle``, ``a = r / sqrt(q)``, ``b = r * sqrt(q)``:
    ``rho = sqrt((u/a)^2 + (v/b)^2)``, ``theta = atan2(v/b, u/a)``,
    ``f(theta) = 1 + sum_j A_j * g(cos(k_j theta + phi_j))`` (g = identity, or ``max(0, .)^3``
    for spicules), ``d = rho / f``; ``alpha = clip((1 - d) * r / edge + 0.5, 0, 1)``.
    """
    dy, dx = yy - lesion.cy, xx - lesion.cx
    cos, sin = np.cos(lesion.angle), np.sin(lesion.angle)
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    a, b = lesion.r / np.sqrt(lesion.q), lesion.r * np.sqrt(lesion.q)
    rho = np.hypot(u / a, v / b)
    theta = np.arctan2(v / b, u / a)
    f = np.ones_like(rho)
    for k, amp, phase, power in lesion.harmonics:
        wave = np.cos(k * theta + phase)
        f += amp * (wave if power == 1 else np.maximum(wave, 0.0) ** power)
    d = rho / np.maximum(f, 0.3)
    mask = (d <= 1.0).astype(np.uint8)
    alpha = np.clip((1.0 - d) * lesion.r / lesion.edge + 0.5, 0.0, 1.0)
    return mask, alpha
