"""The normal behaviour rows of a trained run, as `adrec train-detector` (and the GPU detector
RayJob, cluster/detector-job) reads them:

    normal_rows(run_dir, steps=False) -> (rows, info)
    python -m jobs.behaviour_rows --run-dir /data/runs/r1 --out /data/detector/rows.npy

The rows are the windows the run's own behaviour detector was fitted and calibrated on: every
user's early behaviour (the fit and calibration parts of their training interactions, as
adrec.recommender.fit.training_points cuts them), in the run's window kind and feature blocks.
`steps` gives [n, time, features] (sequence detectors: lstm_ae, lstm_vae) instead of one
summary vector per window ([n, features]: ae, vae, deep_svdd, flow). No Ray is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adrec.data.interactions import load_interactions
from adrec.data.splits import split_log
from adrec.detectors.behaviour.detector import BehaviourDetector
from adrec.detectors.behaviour.windows import Signals, window_rows
from adrec.recommender.config import FitConfig
from adrec.recommender.fit import training_points
from adrec.recommender.run import check_run_dir, load_report


def normal_rows(run_dir: str | Path, steps: bool = False) -> tuple[np.ndarray, dict]:
    root = check_run_dir(run_dir)
    if not (root / "detector").exists():
        raise ValueError(f"{root} has no behaviour detector: its windows are not defined")
    cfg = FitConfig.from_dict(load_report(root)["config"])
    log = load_interactions(root / "log")
    shares = Signals.from_log(log.item_categories, 0, None, np.zeros(1)).shares
    detector = BehaviourDetector.load(root / "detector", shares)
    split = split_log(log, cfg.split, cfg.targets_per_user)
    fit_h, calib_h = training_points(
        log, split, cfg.window, cfg.min_profile + 1, cfg.fit_fraction, cfg.calib_fraction
    )
    rows, have = window_rows(detector.window, fit_h + calib_h, detector.signals, steps)
    info = {
        "rows": len(rows),
        "shape": list(rows.shape),
        "window": detector.window.to_dict(),
        "form": "steps" if steps else "summary",
        "users": int(len({h.user for h, k in zip(fit_h + calib_h, have, strict=True) if k})),
    }
    return rows, info


def save_normal_rows(run_dir: str | Path, out: str | Path, steps: bool = False) -> dict:
    rows, info = normal_rows(run_dir, steps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, rows)
    return {"out": str(out), **info}
