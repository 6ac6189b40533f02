"""What every tabular detector shares: parameter defaults, float64 arithmetic, the fitted
flags, and one standardiser whose statistics are saved as tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from adrec.base import BaseDetector


class TabularDetector(BaseDetector):
    """A detector over [n, features] rows. Subclasses declare `defaults` and implement
    `_learn` / `_score_rows` on float64 arrays and `_state` / `_restore`."""

    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, quantile: float = 0.99, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:  # as Python itself would for a misspelt keyword
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) {unknown}")
        super().__init__(quantile, **{**self.defaults, **params})

    def _learn(self, X: np.ndarray) -> None:
        raise NotImplementedError

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def _fit(self, X: np.ndarray) -> None:
        self._learn(X.astype(np.float64))
        # Score from exactly the arrays a saved model holds (contiguous copies): BLAS may
        # round differently for another memory layout, and loaded scores must be identical.
        self._restore(self._state())
        self.n_features_ = X.shape[1]
        self.fitted_ = True

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._score_rows(X.astype(np.float64))

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self._restore(state)


def positive_int(params: dict[str, Any], key: str, minimum: int = 1) -> int:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def to_tensors(**arrays: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def to_array(state: dict[str, torch.Tensor], key: str) -> np.ndarray:
    return state[key].numpy()


@dataclass(frozen=True)
class Standardizer:
    """Per-feature centre and scale of the training rows; a constant feature keeps scale 1 so
    it stays finite (and any later move along it stays visible)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, robust: bool = False) -> Standardizer:
        """Mean and standard deviation; with `robust`, the median (which a few gross errors
        cannot move) and the root mean square around it. Not the MAD: on sparse features
        (mostly zeros) it collapses and inflates them up to 100x."""
        if robust:
            center = np.median(X, axis=0)
            spread = np.sqrt(np.mean(np.square(X - center), axis=0))
        else:
            center, spread = X.mean(axis=0), X.std(axis=0)
        return cls(center, np.where(spread > 1e-12, spread, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    def state(self) -> dict[str, torch.Tensor]:
        return to_tensors(scaler_mean=self.mean, scaler_scale=self.scale)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> Standardizer:
        return cls(to_array(state, "scaler_mean"), to_array(state, "scaler_scale"))
