"""PyOD's implementation of each detector it shares with adrec, for side-by-side benchmarks.

PyOD is a benchmark-only dependency (`uv run --group bench ...`): it is imported only inside
the functions here, and `pyod_version()` returns None where it is missing so a benchmark can
say so and go on.

Hyper-parameters: PyOD's own defaults, as its users would run it, with exceptions that do
not change the method: `random_state` is the benchmark's seed (where the class has one), the
deep models are quiet (`verbose=0`), and a deep model's batch is cut to the training set
where that has fewer rows than one batch (PyOD drops incomplete batches). PyOD's
`contamination` only sets its own threshold, which the benchmark does not use: the threshold
follows adrec's convention (the 99th percentile of scores on held-out normal data) for both,
so thresholded metrics compare like with like.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

QUANTILE = 0.99


@dataclass(frozen=True)
class Reference:
    pyod_class: str  # "module:Class" under pyod.models
    required: Callable[[int], dict[str, Any]] = lambda n_features: {}  # arguments PyOD needs
    note: str = ""


REFERENCES: dict[str, Reference] = {
    "iforest": Reference("iforest:IForest"),
    "knn": Reference("knn:KNN"),
    "lof": Reference("lof:LOF"),
    "ocsvm": Reference("ocsvm:OCSVM"),
    "gmm": Reference("gmm:GMM"),
    "kde": Reference("kde:KDE"),
    "pca": Reference("pca:PCA"),
    # One robust-covariance counterpart for the Mahalanobis family (T² and MTS rank alike).
    "hotelling_t2": Reference("mcd:MCD", note="robust (MCD) Mahalanobis distance"),
    "ae": Reference("auto_encoder:AutoEncoder"),
    "vae": Reference("vae:VAE"),
    "deep_svdd": Reference("deep_svdd:DeepSVDD", lambda d: {"n_features": d}),
}


def pyod_version() -> str | None:
    """PyOD's version, or None where it is not installed."""
    try:
        import pyod
    except ImportError:
        return None
    return str(pyod.__version__)


def _pyod_class(name: str) -> type:
    module, cls_name = REFERENCES[name].pyod_class.split(":")
    return getattr(importlib.import_module(f"pyod.models.{module}"), cls_name)


def pyod_kwargs(name: str, seed: int, n_features: int) -> dict[str, Any]:
    """The constructor arguments of PyOD's counterpart of `name`: its defaults, plus the
    seed and quietness where the class takes them, plus what it requires."""
    accepted = inspect.signature(_pyod_class(name).__init__).parameters
    kwargs = dict(REFERENCES[name].required(n_features))
    if "random_state" in accepted:
        kwargs["random_state"] = seed
    if "verbose" in accepted:
        kwargs["verbose"] = 0
    return kwargs


def pyod_defaults(name: str) -> dict[str, Any]:
    """PyOD's default hyper-parameters of the counterpart of `name` (for reports)."""
    params = inspect.signature(_pyod_class(name).__init__).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.default is not inspect.Parameter.empty and p.name not in ("verbose", "contamination")
    }


class PyODDetector:
    """A PyOD model with adrec's interface for the benchmark: fit (X, X_calib),
    decision_function (higher = more anomalous: PyOD's own) and a quantile threshold."""

    def __init__(self, name: str, model: Any, quantile: float = QUANTILE) -> None:
        self.name = name
        self.model = model
        self.quantile = quantile

    def fit(self, X: np.ndarray, X_calib: np.ndarray | None = None) -> PyODDetector:
        # PyOD's deep models drop the last incomplete batch: with fewer rows than one batch
        # (small MVTec categories) they would train on nothing and fail. Only then is the
        # batch the whole training set.
        if getattr(self.model, "batch_size", 0) > len(X):
            self.model.batch_size = len(X)
        self.model.fit(np.asarray(X, dtype=np.float32))
        if X_calib is None:
            calib = np.asarray(self.model.decision_scores_, dtype=np.float64)
        else:
            calib = self.decision_function(X_calib)
        self.threshold_ = float(np.quantile(calib, self.quantile))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.decision_function(np.asarray(X, dtype=np.float32)), float)


def make_pyod(name: str, seed: int, n_features: int) -> PyODDetector:
    """PyOD's counterpart of the adrec detector `name`. Raises KeyError when PyOD has none and
    ImportError when PyOD (or a package its model needs) is missing."""
    cls = _pyod_class(name)
    return PyODDetector(f"pyod.{cls.__name__}", cls(**pyod_kwargs(name, seed, n_features)))
