"""A run directory: the saved engine (AnomalyAwareRecommender.save) and the fit report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from adrec.recommender.engine import AnomalyAwareRecommender

REPORT = "fit_report.json"


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def save_run(engine: AnomalyAwareRecommender, report: dict, run_dir: str | Path) -> Path:
    root = engine.save(run_dir)
    (root / REPORT).write_text(json.dumps(report, indent=2, default=_json_default))
    return root


def load_report(run_dir: str | Path) -> dict:
    path = Path(run_dir) / REPORT
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no {REPORT} (adrec train writes one)")
    return json.loads(path.read_text())
