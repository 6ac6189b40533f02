"""Detectors by name: the one place the CLI, jobs, benchmarks, the recommender's fit step and
tests look a detector up, build one with a seed, or load a saved one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adrec.base import DETECTORS, BaseDetector


def _register_all() -> None:
    import adrec.detectors  # noqa: F401  (importing the package registers every family)


def detector_names() -> list[str]:
    _register_all()
    return sorted(DETECTORS)


def detector_class(name: str) -> type[BaseDetector]:
    _register_all()
    cls = DETECTORS.get(name)
    if cls is None:
        raise ValueError(f"unknown detector {name!r}; registered: {sorted(DETECTORS)}")
    return cls


def make_detector(name: str, random_state: int | None = None, **params: Any) -> BaseDetector:
    """A fresh detector `name`; `random_state` seeds it where the method is stochastic."""
    cls = detector_class(name)
    if random_state is not None and "seed" in cls().params:
        params = {"seed": random_state, **params}
    return cls(**params)


def load_detector(path: str | Path) -> BaseDetector:
    """A detector saved with `save(path)` (weights loaded with weights_only=True)."""
    return BaseDetector.load(path)
