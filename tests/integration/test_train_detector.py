"""Any neural detector trains through Ray Train (2 DDP workers over Ray Data shards), is
calibrated on held-out rows, saved, and loads to the same scores."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_vae_trains_through_ray_train_and_round_trips(ray_cluster, tmp_path):
    from adrec.detectors.registry import load_detector
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
    assert det.threshold_ == np.quantile(det.decision_function(calib).astype(np.float64), 0.99)

    loaded = load_detector(det.save(tmp_path / "vae"))
    test = rng.normal(size=(50, 6)).astype(np.float32) + 1.0
    np.testing.assert_array_equal(loaded.decision_function(test), det.decision_function(test))
    shifted = test + np.array([4, 4, 0, 0, 0, 0], np.float32)
    assert (loaded.decision_function(shifted) > loaded.decision_function(test)).mean() > 0.9


def test_train_detector_job_shows_its_command_help():
    out = subprocess.run([sys.executable, "-m", "jobs.train_detector", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "train-detector [OPTIONS]" in out.stdout and "--detector" in out.stdout


def test_job_trains_lstm_ae_on_parquet_windows(ray_cluster, tmp_path, capsys):
    """The job entrypoint end to end: Parquet windows [n, time, features] -> lstm_ae through
    the generic loop -> per-report progress, the threshold, and a saved detector that loads.
    Run again with more epochs (the same --out, so the same Ray Train storage and run name),
    it resumes from the last checkpoint and trains only the epochs that are left."""
    from adrec.detectors.registry import load_detector
    from jobs.train_detector import main

    windows = np.random.default_rng(1).normal(size=(120, 5, 3)).astype(np.float32)
    frame = pd.DataFrame({"window": [[list(day) for day in w] for w in windows]})
    frame.to_parquet(tmp_path / "windows.parquet")
    out = tmp_path / "lstm_ae"
    params = json.dumps({"hidden": 8, "latent": 2, "batch_size": 32}, separators=(",", ":"))
    args = f"--data {tmp_path / 'windows.parquet'} --column window --out {out} --params {params}"
    args += " --detector lstm_ae --workers 2"

    def run(epochs: int) -> tuple[list[dict], dict]:
        with pytest.raises(SystemExit) as done:  # the CLI exits like a process
            main(f"{args} --epochs {epochs}".split())
        assert done.value.code == 0
        lines = capsys.readouterr().out.splitlines()
        reports = [json.loads(x.removeprefix("report: ")) for x in lines
                   if x.startswith("report: ")]  # fmt: skip
        return reports, json.loads(lines[-1])

    reports, summary = run(epochs=2)
    assert [(r["epoch"], r["start_epoch"]) for r in reports] == [(1, 0)]
    assert list(out.with_name(out.name + ".ray").rglob("checkpoint_*"))
    loaded = load_detector(out)
    assert loaded.name == "lstm_ae" and summary["threshold"] == loaded.threshold_
    assert loaded.decision_function(windows[:10]).shape == (10,)

    reports, summary = run(epochs=3)
    # Only epoch 2 ran: the loop started from the checkpoint of epoch 1.
    assert [(r["epoch"], r["start_epoch"]) for r in reports] == [(2, 2)]
    assert np.isfinite(reports[0]["loss"])
    assert summary["threshold"] == load_detector(out).threshold_
