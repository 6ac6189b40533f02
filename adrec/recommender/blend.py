"""Blend candidate sources with weights that move with the user's calibrated anomaly score.

Each source gives a probability distribution over the catalogue; the blend is their weighted
sum. The weights interpolate between a profile for calm users (trust long-term taste) and one
for users whose behaviour has shifted (trust what they do now)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SOURCES = ("long_term", "short_term", "emerging")
# Optional sources a rule may also weigh; the three above are always named.
EXTRA_SOURCES = ("trending",)
ALL_SOURCES = SOURCES + EXTRA_SOURCES


def _calm() -> dict[str, float]:
    return {"long_term": 0.8, "short_term": 0.2, "emerging": 0.0}


def _shifted() -> dict[str, float]:
    return {"long_term": 0.1, "short_term": 0.4, "emerging": 0.5}


@dataclass(frozen=True)
class BlendRule:
    """weights(c) = (1 - c) * calm + c * shifted, for a calibrated score c in [0, 1].

    Both profiles name the sources in SOURCES and, optionally, the same extra sources."""

    calm: dict[str, float] = field(default_factory=_calm)
    shifted: dict[str, float] = field(default_factory=_shifted)

    def __post_init__(self) -> None:
        for name, w in (("calm", self.calm), ("shifted", self.shifted)):
            if not set(SOURCES) <= set(w) <= set(ALL_SOURCES):
                raise ValueError(
                    f"{name} weights must name the sources {SOURCES} and optionally "
                    f"{EXTRA_SOURCES}, got {sorted(w)}"
                )
            if any(v < 0 for v in w.values()) or not np.isclose(sum(w.values()), 1.0):
                raise ValueError(f"{name} weights must be >= 0 and sum to 1")
        if set(self.calm) != set(self.shifted):
            raise ValueError("calm and shifted weights must name the same sources")

    def weights(self, calibrated: float) -> dict[str, float]:
        c = float(np.clip(calibrated, 0.0, 1.0))
        return {s: (1 - c) * self.calm[s] + c * self.shifted[s] for s in self.sources}

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(s for s in ALL_SOURCES if s in self.calm)


def blend(
    sources: dict[str, np.ndarray],
    weights: dict[str, float],
    k: int,
    exclude: np.ndarray | None = None,
) -> list[dict]:
    """Top-k items of the weighted sum of source distributions (index = item id).

    Every item is labelled with the source that contributed most to its blended score.
    Items in `exclude` (and index 0, padding) are never returned."""
    names = [s for s in ALL_SOURCES if s in sources]
    for name in names:
        if not np.isfinite(sources[name]).all():
            raise ValueError(f"source {name!r} has non-finite scores")
    stacked = np.stack([weights[s] * sources[s] for s in names])  # [S, n_items + 1]
    total = stacked.sum(0)
    total[0] = -np.inf
    if exclude is not None and len(exclude):
        total[np.asarray(exclude, dtype=np.int64)] = -np.inf
    k = min(k, int(np.isfinite(total).sum()))
    top = np.argpartition(-total, k - 1)[:k] if k > 0 else np.zeros(0, np.int64)
    top = top[np.argsort(-total[top], kind="stable")]
    best = stacked[:, top].argmax(0)
    return [
        {"item_id": int(i), "score": float(total[i]), "source": names[b]}
        for i, b in zip(top, best, strict=True)
    ]
