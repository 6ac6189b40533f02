"""Detectors by name: the one place the CLI, jobs, benchmarks, the recommender's fit step and
tests look a detector up, build one with a seed, or load a saved one.

The table maps each name to the module that defines it, imported on first use: listing the
names, or using a tabular detector, imports neither torch nor the image backbones."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrec.base import BaseDetector, read_meta, read_state

FAMILIES = ("tabular", "window", "neural", "image")


@dataclass(frozen=True)
class _Entry:
    target: str  # "package.module:ClassName"
    family: str  # tabular: [n, features] without torch; window: [n, time, features] over a
    # tabular detector; neural: trained by gradient descent (Ray Train can train it); image


_T, _N = "adrec.detectors.tabular", "adrec.detectors.neural"
_REGISTRY: dict[str, _Entry] = {
    "gmm": _Entry(f"{_T}.density:GMMDetector", "tabular"),
    "hotelling_t2": _Entry(f"{_T}.mahalanobis:HotellingT2Detector", "tabular"),
    "iforest": _Entry(f"{_T}.iforest:IsolationForestDetector", "tabular"),
    "kde": _Entry(f"{_T}.density:KDEDetector", "tabular"),
    "knn": _Entry(f"{_T}.neighbors:KNNDetector", "tabular"),
    "lof": _Entry(f"{_T}.neighbors:LOFDetector", "tabular"),
    "mahalanobis_taguchi": _Entry(f"{_T}.mahalanobis:MahalanobisTaguchiDetector", "tabular"),
    "nmf": _Entry(f"{_T}.subspace:NMFDetector", "tabular"),
    "ocsvm": _Entry(f"{_T}.ocsvm:OneClassSVMDetector", "tabular"),
    "pca": _Entry(f"{_T}.subspace:PCADetector", "tabular"),
    "rpca": _Entry(f"{_T}.rpca:RPCADetector", "tabular"),
    "window_features": _Entry("adrec.detectors.window_detector:WindowFeatureDetector", "window"),
    "ae": _Entry(f"{_N}.autoencoder:AEDetector", "neural"),
    "deep_svdd": _Entry(f"{_N}.deep_svdd:DeepSVDDDetector", "neural"),
    "flow": _Entry(f"{_N}.flow:FlowDetector", "neural"),
    "lstm_ae": _Entry("adrec.detectors.lstm_ae.detector:LSTMAEDetector", "neural"),
    "lstm_vae": _Entry(f"{_N}.lstm_vae:LSTMVAEDetector", "neural"),
    "vae": _Entry(f"{_N}.vae:VAEDetector", "neural"),
    "padim": _Entry("adrec.detectors.image.padim:PaDiMDetector", "image"),
    "patchcore": _Entry("adrec.detectors.image.patchcore:PatchCoreDetector", "image"),
    # the rest of the image catalogue (issue 16)
    "anogan": _Entry("adrec.detectors.image.anogan:AnoGANDetector", "image"),
    "conv_ae": _Entry("adrec.detectors.image.reconstruction:ConvAEDetector", "image"),
    "conv_svdd": _Entry("adrec.detectors.image.svdd:ConvSVDDDetector", "image"),
    "conv_vae": _Entry("adrec.detectors.image.reconstruction:ConvVAEDetector", "image"),
    "cutpaste": _Entry("adrec.detectors.image.cutpaste:CutPasteDetector", "image"),
    "fastflow": _Entry("adrec.detectors.image.fastflow:FastFlowDetector", "image"),
    "spade": _Entry("adrec.detectors.image.spade:SPADEDetector", "image"),
}


def register_detector(name: str, target: str | type[BaseDetector], family: str) -> None:
    """Add a detector under `name`: its class, or "module:Class" to import on first use."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if isinstance(target, type):
        if getattr(target, "name", None) != name:
            raise ValueError(f"{target.__name__}.name must be {name!r}")
        target = f"{target.__module__}:{target.__qualname__}"
    _REGISTRY[name] = _Entry(target, family)
    _classes.pop(name, None)


def detector_names(family: str | None = None) -> list[str]:
    """Every registered name, or those of one family (see FAMILIES), sorted."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return sorted(n for n, e in _REGISTRY.items() if family in (None, e.family))


def detector_family(name: str) -> str:
    return _entry(name).family


_classes: dict[str, type[BaseDetector]] = {}


def detector_class(name: str) -> type[BaseDetector]:
    """The class registered as `name` (its module is imported now, on first use)."""
    cls = _classes.get(name)
    if cls is None:
        module, _, attr = _entry(name).target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        if not (isinstance(cls, type) and issubclass(cls, BaseDetector)) or cls.name != name:
            raise TypeError(f"{module}:{attr} is not a detector named {name!r}")
        _classes[name] = cls
    return cls


def accepts(cls: type[BaseDetector], param: str) -> bool:
    """Whether `cls` takes the constructor parameter `param`."""
    return param in inspect.signature(cls.__init__).parameters


def make_detector(name: str, random_state: int | None = None, **params: Any) -> BaseDetector:
    """A fresh detector `name`; `random_state` seeds it where the method is stochastic (and
    is ignored by a deterministic one), `params` are its other constructor parameters."""
    cls = detector_class(name)
    if random_state is not None and accepts(cls, "random_state"):
        params = {**params, "random_state": random_state}
    return cls(**params)


def load_detector(path: str | Path) -> BaseDetector:
    """A detector saved with `save(path)`: arrays read with allow_pickle=False, tensors with
    torch.load(weights_only=True), parameters and calibration from JSON."""
    meta = read_meta(path)
    try:
        cls = detector_class(meta["detector"])
    except ValueError:
        raise ValueError(f"unknown detector {meta['detector']!r} in {path}") from None
    return cls._from_saved(meta, read_state(path))


def _entry(name: str) -> _Entry:
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"unknown detector {name!r}; registered: {detector_names()}")
    return entry
