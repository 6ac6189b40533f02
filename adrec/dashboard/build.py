"""Read a run directory and / or a benchmark report and write the dashboard page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from adrec.dashboard.page import dashboard_html
from adrec.dashboard.series import accuracy_by_month, anomaly_by_day


def run_anomaly_series(run_dir: str | Path, logs: str | Path | None = None) -> pd.DataFrame:
    """anomaly_by_day of a trained run: its batch scores (scores.parquet) and, where the logs
    carry them (default: the run's data/, where the demo simulates), the planted life events."""
    path = Path(run_dir) / "scores.parquet"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: is {run_dir} a trained run directory with a detector?"
        )
    truth_path = Path(logs or Path(run_dir) / "data") / "life_events.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.exists() else None
    return anomaly_by_day(pd.read_parquet(path), truth)


def write_dashboard(
    out: str | Path,
    run_dir: str | Path | None = None,
    bench_report: str | Path | None = None,
    logs: str | Path | None = None,
) -> Path:
    """The page from a run (anomaly scores over time) and / or `adrec bench recommend`'s
    recommend.json (accuracy over time); returns its path."""
    if run_dir is None and bench_report is None:
        raise ValueError("give a run directory, a benchmark report, or both")
    notes, anomaly, accuracy = [], None, None
    if run_dir is not None:
        anomaly = run_anomaly_series(run_dir, logs)
        notes.append(f"Anomaly scores: run {run_dir}, {int(anomaly['windows'].sum())} windows.")
    if bench_report is not None:
        path = Path(bench_report)
        if not path.exists():
            raise FileNotFoundError(f"no benchmark report {path}")
        accuracy = accuracy_by_month(json.loads(path.read_text()))
        if accuracy.empty:
            raise ValueError(f"{path} has no NDCG@10-by-month series (not a recommend.json?)")
        notes.append(f"Accuracy: {path}.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dashboard_html(anomaly, accuracy, "adrec dashboard", notes))
    return out
