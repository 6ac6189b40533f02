"""Anomaly maps drawn over their images, as PNG (Pillow only, no plotting library)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from adrec.data.images import to_uint8

# A perceptually ordered dark-to-bright ramp (black, purple, red, orange, pale yellow), in
# the spirit of matplotlib's "inferno", sampled at five points and interpolated linearly.
_RAMP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32
)


def colorize(heat: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """A map [H, W] -> uint8 RGB [H, W, 3]; values at or below `low` (default: the map's
    minimum) are black, at or above `high` (its maximum) pale yellow."""
    heat = np.asarray(heat, np.float64)
    low = float(heat.min()) if low is None else low
    high = float(heat.max()) if high is None else high
    t = np.clip((heat - low) / max(high - low, 1e-12), 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(t.astype(int), len(_RAMP) - 2)
    frac = (t - i)[..., None]
    return np.round(_RAMP[i] * (1 - frac) + _RAMP[i + 1] * frac).astype(np.uint8)


def overlay(
    image: np.ndarray,
    heat: np.ndarray,
    low: float | None = None,
    high: float | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """uint8 RGB [H, W, 3]: the normalised image [3, H, W] blended with its coloured map."""
    rgb = to_uint8(image).astype(np.float32)
    colour = colorize(heat, low, high).astype(np.float32)
    return np.round((1 - alpha) * rgb + alpha * colour).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def save_overlays(
    images: np.ndarray,
    maps: np.ndarray,
    out_dir: str | Path,
    names: Sequence[str] | None = None,
    low: float | None = None,
    high: float | None = None,
) -> list[Path]:
    """One PNG per image (map over image) in out_dir. One colour scale for all of them:
    `low` / `high`, by default the 1st and 99.9th percentiles of all the maps together, so
    a hot region means the same in every file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    low = float(np.percentile(maps, 1)) if low is None else low
    high = float(np.percentile(maps, 99.9)) if high is None else high
    names = [f"{i:04d}" for i in range(len(images))] if names is None else list(names)
    paths = []
    for image, heat, name in zip(images, maps, names, strict=True):
        path = out / (Path(name.replace("/", "_")).stem + ".png")
        path.write_bytes(png_bytes(overlay(image, heat, low, high)))
        paths.append(path)
    return paths
