"""The scale benchmark's pure parts: data, the growth exponent, the summary and the report
(the runs themselves are processes timed by benchmarks/detector_scale.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adrec.bench.detector_scale import (
    ScaleConfig,
    growth_exponent,
    make_data,
    render_markdown,
    run_one,
    summarize,
    write_report,
)


def test_data_has_the_asked_shape_and_one_percent_anomalies():
    train, test, labels = make_data(2000, 10, seed=0)
    assert train.shape == test.shape == (2000, 10) and train.dtype == np.float64
    assert labels.sum() == 20 and set(np.unique(labels)) == {0, 1}
    assert train[:, 0].std() > 10 * np.median(train.std(axis=0))  # features on other scales
    again = make_data(2000, 10, seed=0)
    np.testing.assert_array_equal(again[0], train)


def test_growth_exponent_recovers_a_power_law():
    sizes = [10_000, 30_000, 100_000]
    assert growth_exponent(sizes, [2e-9 * n**1.5 for n in sizes]) == pytest.approx(1.5)
    assert growth_exponent(sizes[:1], [1.0]) is None


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match="increasing"):
        ScaleConfig(sizes=(30_000, 10_000))


def test_one_run_measures_time_memory_and_accuracy(tmp_path):
    for key, arr in zip(("train", "test", "labels"), make_data(500, 4, seed=1), strict=True):
        np.save(tmp_path / f"{key}.npy", arr)
    row = run_one("gmm", "adrec", str(tmp_path), seed=0, threads=1)
    assert row["total_s"] == pytest.approx(row["fit_s"] + row["score_s"])
    assert row["peak_mb"] >= 0 and row["cpu_s"] >= 0 and row["auroc"] > 0.9


def test_summary_and_report_show_ratios_exponents_and_skips(tmp_path):
    rows = []
    for n, a, p in ((10_000, 1.0, 2.0), (30_000, 3.0, 8.0)):
        rows.append({"detector": "knn", "impl": "adrec", "n": n, "total_s": a, "cpu_s": a,
                     "peak_mb": 5.0, "auroc": 0.9})  # fmt: skip
        rows.append({"detector": "knn", "impl": "pyod", "n": n, "total_s": p, "cpu_s": p,
                     "peak_mb": 7.0, "auroc": 0.9})  # fmt: skip
    rows.append({"detector": "knn", "impl": "pyod", "n": 100_000, "skipped": "projected"})
    result = {
        "config": {
            "sizes": [10_000, 30_000, 100_000],
            "n_features": 10,
            "threads": 1,
            "budget_s": 600.0,
        },  # fmt: skip
        "environment": {"cpu_count": 2, "pyod": "x"},
        "wall_s": 1.0,
        "rows": rows,
    }
    adrec, pyod = summarize(result)
    assert adrec["ratio"] == {10_000: 0.5, 30_000: 0.375} == adrec["cpu_ratio"]
    assert pyod["exponent"] == pytest.approx(np.log(4) / np.log(3))
    assert pyod["not_run"] == {100_000: "projected"}
    text = render_markdown(result)
    assert "| knn | adrec | 1.00 (1.00) | 3.00 (3.00) | – |" in text
    assert "| knn | 0.50 (0.50) | 0.38 (0.38) | – |" in text
    md, js = write_report(result, tmp_path)
    assert json.loads(js.read_text())["summary"][0]["detector"] == "knn" and md.exists()
