"""PyOD's implementation of each detector it shares with adrec, for side-by-side benchmarks.

PyOD is a benchmark-only dependency (`uv run --group bench ...`): it is imported only inside
the functions here, and `pyod_version()` returns None where it is missing so a benchmark can
say so and go on.

Hyper-parameters: adrec's value where both have the parameter (read from the adrec detector's
`params` under the names below, else PyOD's own default); PyOD's defaults otherwise. The
threshold follows adrec's convention (a quantile of scores on held-out normal data), not
PyOD's contamination, so thresholded metrics compare like with like.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = dict[str, Any]


def _take(adrec: Params, mapping: dict[str, str]) -> Params:
    """PyOD keyword -> value of the adrec parameter named in `mapping`, where adrec has it."""
    return {pyod_key: adrec[key] for pyod_key, key in mapping.items() if key in adrec}


def _seeded(adrec: Params, seed: int, mapping: dict[str, str]) -> Params:
    return {"random_state": seed, **_take(adrec, mapping)}


def _neural(adrec: Params, seed: int, epochs_key: str) -> Params:
    mapped = _take(adrec, {epochs_key: "epochs", "batch_size": "batch_size"})
    return {"random_state": seed, "verbose": 0, **mapped}


@dataclass(frozen=True)
class Reference:
    pyod_class: str  # "module:Class" under pyod.models
    params: Callable[[Params, int, int], Params]  # (adrec params, seed, n_features) -> kwargs
    note: str = ""


REFERENCES: dict[str, Reference] = {
    "iforest": Reference(
        "iforest:IForest",
        lambda p, s, d: _seeded(
            p, s, {"n_estimators": "n_estimators", "max_samples": "max_samples"}
        ),
    ),
    "knn": Reference(
        "knn:KNN", lambda p, s, d: _take(p, {"n_neighbors": "n_neighbors", "method": "method"})
    ),
    "lof": Reference(
        "lof:LOF", lambda p, s, d: {"novelty": True, **_take(p, {"n_neighbors": "n_neighbors"})}
    ),
    "ocsvm": Reference(
        "ocsvm:OCSVM",
        lambda p, s, d: _take(p, {"nu": "nu", "gamma": "gamma", "kernel": "kernel"}),
        "PyOD does not standardise inputs",
    ),
    "gmm": Reference(
        "gmm:GMM",
        lambda p, s, d: _seeded(
            p,
            s,
            {
                "n_components": "n_components",
                "covariance_type": "covariance_type",
                "reg_covar": "reg_covar",
            },
        ),
    ),
    "kde": Reference("kde:KDE", lambda p, s, d: _take(p, {"bandwidth": "bandwidth"})),
    "pca": Reference(
        "pca:PCA",
        lambda p, s, d: _seeded(p, s, {"n_components": "n_components"}),
        "PyOD scores by eigenvalue-weighted distances on all components",
    ),
    # One robust-covariance counterpart for the Mahalanobis family (T² and MTS rank alike).
    "hotelling_t2": Reference(
        "mcd:MCD", lambda p, s, d: {"random_state": s}, "robust (MCD) Mahalanobis distance"
    ),
    "ae": Reference("auto_encoder:AutoEncoder", lambda p, s, d: _neural(p, s, "epoch_num")),
    "vae": Reference("vae:VAE", lambda p, s, d: _neural(p, s, "epoch_num")),
    "deep_svdd": Reference(
        "deep_svdd:DeepSVDD", lambda p, s, d: {"n_features": d, **_neural(p, s, "epochs")}
    ),
}


def pyod_version() -> str | None:
    """PyOD's version, or None where it is not installed."""
    try:
        import pyod
    except ImportError:
        return None
    return str(pyod.__version__)


class PyODDetector:
    """A fitted PyOD model with adrec's interface for the benchmark: fit, score_samples
    (higher = more anomalous: PyOD's decision_function) and a quantile threshold."""

    def __init__(self, name: str, model: Any, quantile: float = 0.99) -> None:
        self.name = name
        self.model = model
        self.quantile = quantile

    def fit(self, X: np.ndarray, X_calib: np.ndarray | None = None) -> PyODDetector:
        # PyOD's deep models drop the last incomplete batch: with fewer rows than one batch
        # (small MVTec categories) they would train on nothing and fail.
        if getattr(self.model, "batch_size", 0) > len(X):
            self.model.batch_size = len(X)
        self.model.fit(np.asarray(X, dtype=np.float32))
        calib = self.score_samples(X if X_calib is None else X_calib)
        self.threshold_ = float(np.quantile(calib, self.quantile))
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.decision_function(np.asarray(X, dtype=np.float32)), float)


def make_pyod(name: str, adrec_params: Params, seed: int, n_features: int) -> PyODDetector:
    """PyOD's counterpart of the adrec detector `name`. Raises KeyError when PyOD has none and
    ImportError when PyOD (or a package its model needs) is missing."""
    ref = REFERENCES[name]
    module, cls_name = ref.pyod_class.split(":")
    cls = getattr(importlib.import_module(f"pyod.models.{module}"), cls_name)
    return PyODDetector(f"pyod.{cls_name}", cls(**ref.params(adrec_params, seed, n_features)))
