"""Any neural detector trains through Ray Train (2 DDP workers over Ray Data shards), is
calibrated on held-out rows, saved, and loads to the same scores."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_vae_trains_through_ray_train_and_round_trips(ray_cluster, tmp_path):
    from adrec.base import BaseDetector
    from adrec.distributed.train import TrainSettings
    from adrec.distributed.train_detector import load_rows, train_detector

    rng = np.random.default_rng(0)
    normal = rng.normal(size=(600, 6)).astype(np.float32) + 1.0
    normal[:5, 0] = np.nan  # rejected and counted, not trained on
    np.save(tmp_path / "rows.npy", normal)
    rows, calib, info = load_rows(tmp_path / "rows.npy", calib_fraction=0.2, seed=0)
    assert info == {"rows": 600, "rejected_non_finite": 5, "train_rows": 476,
                    "calibration_rows": 119}  # fmt: skip

    det, metrics = train_detector(
        "vae",
        rows,
        calib,
        tmp_path / "ray",
        TrainSettings(num_workers=2, cpus_per_worker=0.5),
        params={"hidden": [16], "latent": 3, "epochs": 4, "lr": 1e-2, "batch_size": 64},
        report_every=2,
    )
    assert metrics["epoch"] == 3 and np.isfinite(metrics["loss"])
    assert det.threshold_ == np.quantile(det.score_samples(calib).astype(np.float64), 0.99)

    loaded = BaseDetector.load(det.save(tmp_path / "vae"))
    test = rng.normal(size=(50, 6)).astype(np.float32) + 1.0
    np.testing.assert_array_equal(loaded.score_samples(test), det.score_samples(test))
    shifted = test + np.array([4, 4, 0, 0, 0, 0], np.float32)
    assert (loaded.score_samples(shifted) > loaded.score_samples(test)).mean() > 0.9


def test_train_detector_job_shows_its_command_help():
    out = subprocess.run([sys.executable, "-m", "jobs.train_detector", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "train-detector [OPTIONS]" in out.stdout and "--detector" in out.stdout
