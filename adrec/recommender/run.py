"""A run directory: the saved engine (AnomalyAwareRecommender.save) and the fit report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REPORT = "fit_report.json"
PARTS = ("engine.json", "log", "sources", "blend")


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def check_run_dir(run_dir: str | Path) -> Path:
    """A run directory's parts exist (without loading any model: fast, torch-free)."""
    root = Path(run_dir)
    missing = [n for n in PARTS if not (root / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"{root} is not a trained run directory (adrec train writes one); it lacks "
            f"{', '.join(missing)}"
        )
    return root


def save_run(engine, report: dict, run_dir: str | Path) -> Path:
    """Save the engine (AnomalyAwareRecommender.save) and the fit report beside it."""
    root = engine.save(run_dir)
    (root / REPORT).write_text(json.dumps(report, indent=2, default=_json_default))
    return root


def load_report(run_dir: str | Path) -> dict:
    path = Path(run_dir) / REPORT
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no {REPORT} (adrec train writes one)")
    return json.loads(path.read_text())
