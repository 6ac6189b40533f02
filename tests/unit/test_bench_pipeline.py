"""benchmarks/pipeline.py on a tiny log, without Ray: the generated log, the one-process run
in a child process with its memory and CPU sampled, the fitted growth and the report."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "benchmarks/pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_log_has_the_event_schema_and_duplicates(bench, tmp_path):
    from adrec.data.log_prep import prepare_local

    facts = bench.generate(20_000, tmp_path / "log", days=4)
    assert facts == {"events": 20_000, "users": 200, "items": 20_000, "files": 4}
    r = prepare_local(str(tmp_path / "log")).report
    assert r["rows_in"] == 20_000
    assert r["rejected"]["duplicate"] > 0
    assert r["rows_rejected"] == r["rejected"]["duplicate"]  # nothing else is bad


def test_local_run_is_measured_and_reported(bench, tmp_path):
    bench.generate(5_000, tmp_path / "log", days=3)
    r = bench.measure("local", tmp_path / "log", tmp_path / "out", 2, 5, echo=lambda m: None)
    assert r["rows_in"] == 5_000 == r["rows_out"] + r["rows_rejected"]
    assert r["peak_pss_gib"] > 0.05 and r["peak_rss_gib"] >= r["peak_pss_gib"] * 0.9
    assert r["cpu_s"] > 0 and r["processes"] >= 1
    result = {"command": "x", "machine": "m", "cpus": 2, "window": 5, "omp_threads": "1",
              "runs": [r, {**r, "rows_in": 10_000, "windowing_s": 2 * r["windowing_s"]}],
              "skipped": []}  # fmt: skip
    bench._write(result, tmp_path)
    saved = json.loads((tmp_path / "pipeline.json").read_text())
    assert saved["growth"]["local"]["ratio_last_to_first"] == pytest.approx(2.0)
    assert saved["growth"]["local"]["slope_s_per_million"] == pytest.approx(
        r["windowing_s"] / 0.005
    )
    assert "| 5,000 | local |" in (tmp_path / "pipeline.md").read_text()


def test_tree_sampler_sees_this_process(bench):
    with bench.TreeSampler(os.getpid(), every=0.01) as s:
        sum(range(200_000))
    assert s.peak_rss > 0 and s.cpu[os.getpid()] > 0


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_polars_and_duckdb_baselines_compute_the_pandas_windows(bench, engine, tmp_path):
    """The Polars and DuckDB baselines give the one-process pipeline's counts and windows, bit
    for bit (rows sorted by user and point), on a log with duplicates and a bad timestamp."""
    pytest.importorskip(engine)
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq

    from adrec.data.log_prep import prepare_local
    from adrec.detectors.behaviour.windows import InteractionWindow

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pipeline_baselines import run_engine, windows_digest

    bench.generate(20_000, tmp_path / "log", days=4)
    first = sorted((tmp_path / "log").rglob("*.parquet"))[0]
    t = pq.read_table(first)
    ts = t["timestamp"].cast(pa.timestamp("s")).cast(pa.int64()).to_numpy().copy()
    ts[:3] = 5_000_000_000  # after 2100: timestamp_out_of_range
    t = t.set_column(1, "timestamp", pa.array(ts.astype("datetime64[s]")))
    pq.write_table(t, first)
    window = InteractionWindow(5, 5)
    ref = prepare_local(str(tmp_path / "log"), window=window, stride=5)
    _, windows, report = run_engine(engine, str(tmp_path / "log"), window, 5)
    assert report["rejected"]["timestamp_out_of_range"] == 3
    assert {k: report[k] for k in report} == {k: ref.report[k] for k in report}
    assert windows_digest(windows) == windows_digest(ref.partition.windows)
