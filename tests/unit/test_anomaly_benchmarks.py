"""Anomaly benchmark loaders on tiny generated files, and once on the real shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adrec.data.anomaly_benchmarks import (
    Series,
    load_adbench_npz,
    load_merlion,
    load_nab,
    mvtec_files,
    window_features,
    window_series,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _write_nab(root: Path) -> None:
    (root / "data" / "realX").mkdir(parents=True)
    (root / "labels").mkdir()
    ts = [f"2014-04-10 00:{m:02d}:00" for m in range(0, 50, 5)]
    rows = "\n".join(f"{t},{v}" for t, v in zip(ts, range(10), strict=True))
    (root / "data" / "realX" / "s.csv").write_text("timestamp,value\n" + rows + "\n")
    windows = {"realX/s.csv": [["2014-04-10 00:10:00.000000", "2014-04-10 00:15:00.000000"]]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def test_nab_series_and_labels(tmp_path):
    _write_nab(tmp_path)
    (s,) = load_nab(tmp_path)
    assert (s.name, s.category) == ("realX/s.csv", "realX")
    assert s.values.tolist() == list(range(10))
    assert s.labels.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="not in combined_windows"):
        load_nab(tmp_path, names=["realX/missing.csv"])


def test_merlion_series(tmp_path):
    (tmp_path / "wave_spike_anomaly.csv").write_text(
        "timestamp,wave,anomaly\n0,1.5,0.0\n300,9.0,1.0\n600,1.4,0.0\n"
    )
    (tmp_path / "wave.csv").write_text("timestamp,wave\n0,1.5\n")  # no labels: not loaded
    (s,) = load_merlion(tmp_path)
    assert (s.name, s.category) == ("wave_spike_anomaly.csv", "wave")
    assert s.labels.tolist() == [0, 1, 0] and s.values[1] == 9.0
    (tmp_path / "bad_anomaly.csv").write_text("timestamp,a,b\n0,1,2\n")
    with pytest.raises(ValueError, match="anomaly"):
        load_merlion(tmp_path)


def test_adbench_npz(tmp_path):
    np.savez(tmp_path / "MVTec-AD_toy.npz", X=np.ones((4, 3)), y=np.array([0, 0, 1, 0]))
    assert list(mvtec_files(tmp_path)) == ["toy"]
    X, y = load_adbench_npz(tmp_path / "MVTec-AD_toy.npz")
    assert X.dtype == np.float32 and X.shape == (4, 3) and y.tolist() == [0, 0, 1, 0]
    np.savez(tmp_path / "bad.npz", X=np.ones((4, 3)))
    with pytest.raises(ValueError, match="missing arrays"):
        load_adbench_npz(tmp_path / "bad.npz")


def test_windows_are_scaled_by_the_fit_part_only():
    values = np.arange(100, dtype=float)
    labels = np.zeros(100, dtype=np.int64)
    labels[90] = 1
    w = window_series(Series("s", "c", values, labels), window=4, fit_fraction=0.2)
    assert w.n_fit_points == 20
    # Fit windows lie inside points 0..19; one test window ends at every later point.
    assert w.fit.shape == (17, 4, 1) and w.test.shape == (80, 4, 1)
    assert w.test_labels.shape == (80,) and w.test_labels[90 - 20] == 1
    head = values[:20]
    expected_last = (99 - head.mean()) / head.std()
    assert w.test[-1, -1, 0] == pytest.approx(expected_last, rel=1e-5)
    # Changing the test part does not change the scaling of the fit part (no leak).
    shifted = values.copy()
    shifted[20:] += 1e6
    w2 = window_series(Series("s", "c", shifted, labels), window=4, fit_fraction=0.2)
    np.testing.assert_array_equal(w.fit, w2.fit)
    assert w.fit_features.shape == (17, 6)


def test_window_features_and_errors():
    windows = np.array([[[1.0], [3.0], [2.0]]], dtype=np.float32)
    # values 1, 3, 2 (std sqrt(2/3)); differences 2, -1 (std 1.5)
    expected = [1.0, 3.0, 2.0, np.sqrt(2 / 3), 1.5]
    np.testing.assert_allclose(window_features(windows)[0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="windows must be"):
        window_features(np.zeros((2, 3)))
    short = Series("s", "c", np.zeros(20), np.zeros(20, dtype=np.int64))
    with pytest.raises(ValueError, match="too short"):
        window_series(short, window=8, fit_fraction=0.15)


@pytest.mark.skipif(not (SHARED / "nab").exists(), reason="shared data not present")
def test_real_shared_data():
    series = load_nab(SHARED / "nab", names=["realKnownCause/nyc_taxi.csv"])
    assert len(series[0].values) == 10320 and 0 < series[0].labels.sum() < 10320
    merlion = load_merlion(SHARED / "merlion-synthetic")
    assert len(merlion) == 15 and all(s.labels.any() for s in merlion)
    X, y = load_adbench_npz(mvtec_files(SHARED / "adbench" / "mvtec-resnet18")["bottle"])
    assert X.shape == (292, 512) and y.sum() == 63
