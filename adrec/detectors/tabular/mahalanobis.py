"""Mahalanobis-distance detectors: Hotelling's T² (with thresholds from its sampling law as an
alternative to the empirical quantile) and the Mahalanobis-Taguchi system."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.covariance import LedoitWolf

from adrec.calibration import ScoreCalibrator
from adrec.detectors.tabular._common import (
    Scaler,
    TabularDetector,
    check_choice,
    row_norms_squared,
)

COVARIANCES = ("ledoit_wolf", "empirical")
THRESHOLDS = ("quantile", "f", "chi2")


def whitening(cov: np.ndarray, ridge: float) -> np.ndarray:
    """W with W Wᵀ = (cov + ridge·I)⁻¹, so a distance is ‖(x - m) W‖²: the Cholesky factor
    of the precision, the same factorisation scikit-learn's GaussianMixture stores."""
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    reg = cov + ridge * np.eye(len(cov))
    try:
        chol = np.linalg.cholesky(reg)
    except np.linalg.LinAlgError:
        raise ValueError(
            "covariance is singular (constant or linearly dependent features); "
            "use covariance='ledoit_wolf' or a positive ridge"
        ) from None
    return np.linalg.inv(chol).T


def squared_distance(X: np.ndarray, mean: np.ndarray, white: np.ndarray) -> np.ndarray:
    return row_norms_squared((X - mean) @ white)


class HotellingT2Detector(TabularDetector):
    """T² = (x - x̄)ᵀ S⁻¹ (x - x̄) of a new row against the training mean x̄ and covariance S
    (Ledoit-Wolf shrinkage by default, or the empirical covariance plus `ridge`·I).

    threshold="quantile" sets the threshold like every detector, from calibration scores.
    threshold="f" or "chi2" sets it from T²'s law at level alpha = 1 - quantile instead:
    - "f", the phase-II (prediction) form for a new observation independent of the n
      training rows of p features: T² · n(n - p) / (p(n + 1)(n - 1)) ~ F(p, n - p)
      (Tracy, Young & Mason 1992, J. Quality Technology 24(2); Montgomery, Introduction to
      Statistical Quality Control, the phase-II T² limit). The form without n/(n + 1),
      T² (n - p)/(p(n - 1)) ~ F(p, n - p), is the one-sample test of the *mean* (x̄
      against μ, T² scaled by n), not of a new row, and would set the limit too low.
    - "chi2", the large-n limit with known mean and covariance: T² ~ χ²(p).
    Both assume Gaussian rows and the empirical covariance; with shrinkage they are
    approximations (good when n is large beside p, where the shrinkage is small).
    The calibrated score keeps its median anchor from the calibration data."""

    name = "hotelling_t2"

    def __init__(
        self,
        covariance: str = "ledoit_wolf",
        ridge: float = 1e-6,
        threshold: str = "quantile",
        contamination: float = 0.01,
    ) -> None:
        self.covariance = covariance
        self.ridge = ridge
        self.threshold = threshold
        self.contamination = contamination

    def _learn(self, X: np.ndarray) -> None:
        kind = check_choice(self.covariance, "covariance", COVARIANCES)
        law = check_choice(self.threshold, "threshold", THRESHOLDS)
        n, p = X.shape
        if law == "f" and n <= p:
            raise ValueError(f'threshold="f" needs more rows than features, got n={n}, p={p}')
        if n < 2:
            raise ValueError(f"X needs at least 2 rows to estimate a covariance, got {n}")
        # On the unbiased (n - 1) scale that the laws assume; Ledoit-Wolf shrinks the n-scaled
        # empirical covariance, so it is rescaled alike.
        if kind == "ledoit_wolf":
            cov = LedoitWolf().fit(X).covariance_ * (n / (n - 1))
        else:
            cov = np.cov(X, rowvar=False).reshape(p, p)
        self.mean_ = X.mean(axis=0)
        self.white_ = whitening(cov, self.ridge)
        self.n_train_ = n

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return squared_distance(X, self.mean_, self.white_)

    def law_threshold(self) -> float:
        """T²'s (1 - alpha) quantile under the chosen law, alpha = 1 - quantile."""
        n, p, q = self.n_train_, len(self.mean_), self.quantile
        if self.threshold == "chi2":
            return float(stats.chi2.ppf(q, p))
        if self.threshold == "f":
            return float(p * (n + 1) * (n - 1) / (n * (n - p)) * stats.f.ppf(q, p, n - p))
        raise ValueError('law_threshold needs threshold="f" or "chi2"')

    def _calibrator_from(self, scores: np.ndarray) -> ScoreCalibrator:
        calibrator = super()._calibrator_from(scores)
        if self.threshold == "quantile":
            return calibrator
        return ScoreCalibrator(self.law_threshold(), calibrator.median, self.quantile)

    def _state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "white": self.white_, "n_train": np.array(self.n_train_)}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.mean_ = state["mean"]
        self.white_ = state["white"]
        self.n_train_ = int(state["n_train"])


class MahalanobisTaguchiDetector(TabularDetector):
    """The Mahalanobis-Taguchi system (Taguchi & Jugulum 2002): the normal rows form the
    "unit space"; each feature is standardised by the unit space's mean and standard
    deviation, and a row's score is its scaled Mahalanobis distance MD = zᵀ R⁻¹ z / p, with R
    the unit space's correlation matrix (ridge-regularised), so unit-space rows average
    MD ≈ 1. (MTS's second stage, choosing features by signal-to-noise ratios over orthogonal
    arrays, needs labelled abnormal rows and is left to the caller.)"""

    name = "mahalanobis_taguchi"

    def __init__(self, ridge: float = 1e-6, contamination: float = 0.01) -> None:
        self.ridge = ridge
        self.contamination = contamination

    def _learn(self, X: np.ndarray) -> None:
        self.scaler_ = Scaler.fit(X)
        Z = self.scaler_.transform(X)
        corr = (Z.T @ Z) / len(Z)  # the correlation matrix: Z has unit variance per column
        self.white_ = whitening(corr, self.ridge)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        return squared_distance(Z, 0.0, self.white_) / Z.shape[1]

    def _state(self) -> dict[str, np.ndarray]:
        return {**self.scaler_.state(), "white": self.white_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scaler_ = Scaler.from_state(state)
        self.white_ = state["white"]
