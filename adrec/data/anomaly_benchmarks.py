"""Loaders of public anomaly benchmarks and sliding windows over univariate series.

- ADBench `.npz` files (`X` [n, d], `y` 0 normal / 1 anomalous), e.g. MVTec AD as ResNet18
  embeddings (`MVTec-AD_<category>.npz`).
- NAB series (`data/<category>/<name>.csv` with `timestamp,value`) labelled by
  `labels/combined_windows.json` (`"<category>/<name>.csv": [[start, end], ...]`).
- Merlion synthetic series (`timestamp,<series>,anomaly` CSVs).

Every loader takes any path the caller gives; nothing here knows where data lives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adrec.metrics.time_series import windows_to_labels


@dataclass(frozen=True)
class Series:
    """One labelled univariate series."""

    name: str  # unique within its benchmark, e.g. "realTweets/Twitter_volume_AAPL.csv"
    category: str
    values: np.ndarray  # float64 [n]
    labels: np.ndarray  # int64 [n], 1 = anomalous point


def load_adbench_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 [n, d], y int64 [n]) of an ADBench `.npz` file."""
    with np.load(Path(path), allow_pickle=False) as data:
        missing = {"X", "y"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (has {data.files})")
        X, y = data["X"].astype(np.float32), data["y"].astype(np.int64).ravel()
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"{path}: X {X.shape} must be 2-D with one row per label ({len(y)})")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: y must hold only 0 and 1")
    return X, y


def mvtec_files(directory: str | Path) -> dict[str, Path]:
    """Category -> file of ADBench's MVTec AD embeddings (`MVTec-AD_<category>.npz`)."""
    files = sorted(Path(directory).glob("MVTec-AD_*.npz"))
    if not files:
        raise FileNotFoundError(f"no MVTec-AD_*.npz files in {directory}")
    return {f.stem.removeprefix("MVTec-AD_"): f for f in files}


def load_nab_series(csv_path: str | Path, windows: list, name: str | None = None) -> Series:
    """One NAB series with point labels from its anomaly windows (both ends inclusive)."""
    csv_path = Path(csv_path)
    frame = pd.read_csv(csv_path)
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise ValueError(f"{csv_path}: missing columns {sorted(missing)}")
    name = name or f"{csv_path.parent.name}/{csv_path.name}"
    return Series(
        name=name,
        category=name.split("/")[0],
        values=_finite_values(frame["value"], csv_path),
        labels=windows_to_labels(frame["timestamp"], windows),
    )


def load_nab(root: str | Path, names: list[str] | None = None) -> list[Series]:
    """NAB series under `root` (which holds `data/` and `labels/combined_windows.json`), in
    the order of the windows file or of `names` (keys like "realTweets/Twitter_volume_AAPL.csv")."""
    root = Path(root)
    all_windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    unknown = set(names or []) - set(all_windows)
    if unknown:
        raise ValueError(f"series not in combined_windows.json: {sorted(unknown)}")
    return [
        load_nab_series(root / "data" / key, all_windows[key], name=key)
        for key in (names or sorted(all_windows))
    ]


def load_merlion_series(csv_path: str | Path) -> Series:
    """A Merlion synthetic series: `timestamp`, one value column and an `anomaly` 0/1 column."""
    csv_path = Path(csv_path)
    frame = pd.read_csv(csv_path)
    value_cols = [c for c in frame.columns if c not in ("timestamp", "anomaly")]
    if "anomaly" not in frame.columns or len(value_cols) != 1:
        raise ValueError(
            f"{csv_path}: need columns timestamp, one value column and anomaly; "
            f"got {list(frame.columns)}"
        )
    labels = frame["anomaly"].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{csv_path}: anomaly must hold only 0 and 1")
    return Series(
        name=csv_path.name,
        category=value_cols[0],
        values=_finite_values(frame[value_cols[0]], csv_path),
        labels=labels.astype(np.int64),
    )


def load_merlion(directory: str | Path) -> list[Series]:
    """Every `*_anomaly.csv` series in a directory, sorted by name."""
    files = sorted(Path(directory).glob("*_anomaly.csv"))
    if not files:
        raise FileNotFoundError(f"no *_anomaly.csv files in {directory}")
    return [load_merlion_series(f) for f in files]


def _finite_values(column: pd.Series, path: Path) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: value column has missing or non-numeric entries")
    return values


MIN_FIT_WINDOWS = 16  # windows inside the fit part: enough to fit on and calibrate


@dataclass(frozen=True)
class SeriesWindows:
    """Sliding windows of one series split in time: windows inside the fit part, and one window
    ending at every point of the test part (so a window's score is that point's score)."""

    fit: np.ndarray  # float32 [n_fit_windows, window, 1]
    test: np.ndarray  # float32 [n_test_points, window, 1]
    test_labels: np.ndarray  # int64 [n_test_points]
    n_fit_points: int

    @property
    def fit_features(self) -> np.ndarray:
        return window_features(self.fit)

    @property
    def test_features(self) -> np.ndarray:
        return window_features(self.test)


def window_series(series: Series, window: int = 16, fit_fraction: float = 0.15) -> SeriesWindows:
    """Windows of a series normalised by the mean and std of its fit part only (the first
    `fit_fraction` of points, e.g. NAB's 15% probationary period), so the test part leaks
    nothing into the scaling."""
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    if not 0.0 < fit_fraction < 1.0:
        raise ValueError(f"fit_fraction must be in (0, 1), got {fit_fraction}")
    n_fit = int(len(series.values) * fit_fraction)
    need = window + MIN_FIT_WINDOWS - 1
    if n_fit < need or n_fit >= len(series.values):
        raise ValueError(
            f"series {series.name}: fit part of {n_fit} points is too short for windows of "
            f"{window} (need >= {need}: {MIN_FIT_WINDOWS} windows) or leaves no test points"
        )
    head = series.values[:n_fit]
    std = head.std()
    scaled = ((series.values - head.mean()) / (std if std > 0 else 1.0)).astype(np.float32)
    all_windows = np.lib.stride_tricks.sliding_window_view(scaled, window)[..., None]
    # all_windows[i] ends at point i + window - 1.
    return SeriesWindows(
        fit=np.ascontiguousarray(all_windows[: n_fit - window + 1]),
        test=np.ascontiguousarray(all_windows[n_fit - window + 1 :]),
        test_labels=series.labels[n_fit:].astype(np.int64),
        n_fit_points=n_fit,
    )


def window_features(windows: np.ndarray) -> np.ndarray:
    """Per-window features for 2-D detectors, [n, w + 2] for windows [n, w, 1]: the (already
    normalised) values, the window's standard deviation and that of its first differences
    (noise level). The two spreads are non-linear, so the features stay linearly independent
    (appending the differences themselves would make every covariance singular)."""
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[2] != 1:
        raise ValueError(f"windows must be [n, window, 1], got shape {windows.shape}")
    values = windows[:, :, 0]
    spread = np.column_stack([values.std(axis=1), np.diff(values, axis=1).std(axis=1)])
    return np.concatenate([values, spread], axis=1)
