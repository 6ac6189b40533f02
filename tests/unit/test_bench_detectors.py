"""The detector benchmark core on tiny generated data: every part runs, and the report files
have the documented schema."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from adrec.base import BaseDetector
from adrec.bench import pyod_reference
from adrec.bench.detectors import PARTS, BenchConfig, run_benchmark, write_report
from adrec.data.simulator import SimulationConfig


class MeanDistance(BaseDetector):
    """Distance to the training mean of the flattened rows; a fast stand-in detector kept out
    of the registry, so the shared contract suite ignores it."""

    def __init__(self, contamination: float = 0.01) -> None:
        self.contamination = contamination

    def _fit(self, X):
        self.mean_ = X.reshape(len(X), -1).mean(0)

    def _score(self, X):
        return np.linalg.norm(X.reshape(len(X), -1) - self.mean_, axis=1)

    def _state(self):
        return {"mean": self.mean_}

    def _set_state(self, state):
        self.mean_ = np.asarray(state["mean"])


class MeanWindowDistance(MeanDistance):
    input_ndim = 3  # stands in for the sequence detectors (windows [n, time, features])


# "knn" so that, with PyOD installed, PyOD's KNN runs beside it; "lstm_ae" takes the 3-D path.
REGISTRY = {"knn": MeanDistance, "lstm_ae": MeanWindowDistance}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    mvtec = root / "adbench" / "mvtec-resnet18"
    mvtec.mkdir(parents=True)
    X = np.vstack([rng.normal(0, 1, (40, 4)), rng.normal(5, 1, (10, 4))])
    np.savez(mvtec / "MVTec-AD_toy.npz", X=X, y=np.r_[np.zeros(40), np.ones(10)])

    n = 240
    values = np.sin(np.arange(n) / 5) + rng.normal(0, 0.05, n)
    values[200:205] += 6.0  # a spike the windows can see
    ts = [f"2014-04-10 {i // 60:02d}:{i % 60:02d}:00" for i in range(n)]
    (root / "nab" / "data" / "realX").mkdir(parents=True)
    (root / "nab" / "labels").mkdir()
    rows = "\n".join(f"{t},{v}" for t, v in zip(ts, values, strict=True))
    (root / "nab" / "data" / "realX" / "a.csv").write_text("timestamp,value\n" + rows + "\n")
    windows = {"realX/a.csv": [[ts[198], ts[208]]]}
    (root / "nab" / "labels" / "combined_windows.json").write_text(json.dumps(windows))

    (root / "merlion-synthetic").mkdir()
    flags = np.zeros(n)
    flags[200:205] = 1
    lines = "\n".join(
        f"{i * 300},{v},{f}" for i, (v, f) in enumerate(zip(values, flags, strict=True))
    )
    (root / "merlion-synthetic" / "wave_spike_anomaly.csv").write_text(
        "timestamp,wave,anomaly\n" + lines + "\n"
    )
    return root


def test_benchmark_runs_every_part_and_writes_reports(data_root, tmp_path):
    cfg = BenchConfig(
        data_root=data_root,
        seeds=(0, 1),
        window=8,
        series_fit_fraction=0.3,
        life_events=SimulationConfig(
            n_users=30, n_days=42, n_items=60, n_categories=6, event_fraction=0.3
        ),  # fmt: skip
        test_params=True,
        digits=(3,),
    )
    messages: list[str] = []
    t0 = time.process_time()  # CPU seconds: the wall clock also counts other jobs' time
    result = run_benchmark(cfg, echo=messages.append, registry=REGISTRY)
    assert time.process_time() - t0 < 10
    md, js = write_report(result, tmp_path / "out")

    report = json.loads(js.read_text())
    assert {"config", "environment", "part_seconds", "wall_s", "rows", "summary"} <= set(report)
    assert report["environment"]["threads"] == 1
    assert set(report["summary"]) == set(PARTS)
    rows = report["rows"]
    assert not [r for r in rows if r.get("error")]
    adrec = [r for r in rows if r["impl"] == "adrec"]
    # MVTec is 2-D only: the LSTM-AE (3-D) runs on series and life events, not on MVTec.
    assert {(r["part"], r["detector"]) for r in adrec} == {
        *((p, "knn") for p in PARTS),
        *((p, "lstm_ae") for p in ("nab", "merlion", "life_events")),
    }
    for r in adrec:
        assert r["fit_s"] >= 0 and r["score_s"] >= 0 and 0 <= r["auroc"] <= 1
        assert r["fit_cpu_s"] >= 0 and r["score_cpu_s"] >= 0
        if r["part"] in ("nab", "merlion"):
            assert {"point_f1", "pa_f1", "event_precision", "event_recall", "event_f1"} <= set(r)
            assert r["pa_f1"] >= r["point_f1"]  # adjustment can only add hits
    digits = [r for r in adrec if r["part"] == "digits"]
    # digit 3 normal: 183 images, 91 fit, 18 calibrate; 74 normal and 1614 other digits test
    assert [(r["n"], r["n_anomalous"]) for r in digits] == [(1688, 1614)] * 2
    mvtec = [r for r in adrec if r["part"] == "mvtec"]
    assert [r["seed"] for r in mvtec] == [0, 1]
    assert all(r["auroc"] > 0.95 for r in mvtec)  # the anomalies sit 5 sigma away
    # Test part: 40 - 20 fit - 4 calib normals, plus all 10 anomalies.
    assert all(r["n"] == 26 and r["n_anomalous"] == 10 for r in mvtec)
    (summary,) = [s for s in report["summary"]["mvtec"] if s["impl"] == "adrec"]
    assert summary["n_runs"] == 2 and "auroc_std" in summary

    text = md.read_text()
    assert "## MVTec AD" in text and "## NAB" in text and "pa_f1" in text
    assert any("mvtec toy seed 1 knn [adrec] AUROC" in m for m in messages)
    pyod_rows = [r for r in rows if r["impl"] == "pyod"]
    if pyod_reference.pyod_version() is None:
        assert not pyod_rows and any("PyOD is not installed" in m for m in messages)
    else:  # only "knn" has a PyOD counterpart here
        assert pyod_rows and {r["detector"] for r in pyod_rows} == {"knn"}
        # Both ran on the same tasks, and the ratio is of their summed fit + score seconds.
        assert len(pyod_rows) == len([r for r in adrec if r["detector"] == "knn"])
        (speed,) = report["speed"]
        adrec_s = sum(r["fit_s"] + r["score_s"] for r in adrec if r["detector"] == "knn")
        pyod_s = sum(r["fit_s"] + r["score_s"] for r in pyod_rows)
        assert speed["adrec_total_s"] == pytest.approx(adrec_s)
        assert speed["time_ratio"] == pytest.approx(adrec_s / pyod_s)
        assert speed["paired_runs"] == len(pyod_rows)
        (knn,) = [s for s in report["summary"]["digits"] if s["impl"] == "adrec"]
        assert 0 < knn["time_ratio"] and 0 < knn["cpu_ratio"]
        assert "## Speed beside PyOD" in text and "time ratio" in text


def test_config_rejects_bad_parts_and_detectors(data_root):
    with pytest.raises(ValueError, match="unknown parts"):
        BenchConfig(parts=("mvtec", "imagenet"))
    with pytest.raises(ValueError, match="unknown detectors"):
        run_benchmark(
            BenchConfig(data_root=data_root, detectors=("nope",)),
            echo=lambda m: None,
            registry=REGISTRY,
        )
