"""The training workflow: Parquet logs in, a servable run directory out.

read logs (Ray Data) -> behaviour windows and profiles -> LSTM-AE (Ray Train) -> threshold and
calibration on held-out normal windows -> scoring of later windows (Ray Data actors) ->
SASRec (Ray Train) -> run directory with models, thresholds and metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import ray.data
from ray.data.expressions import col

from adrec.artifacts import RunDir, save_sasrec, save_table
from adrec.base import BaseDetector, seed_from
from adrec.data.behavior import DaySplit, WindowSpec, label_windows
from adrec.data.logs import read_life_events
from adrec.detectors.lstm_ae.detector import LSTMAEDetector
from adrec.detectors.registry import load_detector
from adrec.distributed import pipeline
from adrec.distributed.train import TrainSettings, train_lstm_ae, train_next_item_model
from adrec.metrics.detection import detection_report


def _sasrec_defaults() -> dict:
    return {
        "max_len": 50,
        "dim": 64,
        "n_layers": 2,
        "n_heads": 2,
        "dropout": 0.2,
        "epochs": 20,
        "lr": 2e-3,
        "batch_size": 64,
        "seed": 0,
    }


def _lstm_ae_defaults() -> dict:
    """The LSTM-AE's constructor parameters but its threshold (TrainOptions.quantile)."""
    params = LSTMAEDetector().get_params()
    params.pop("contamination")
    return params


@dataclass
class TrainOptions:
    window_days: int = 7
    fit_fraction: float = 0.5
    calib_fraction: float = 0.68
    quantile: float = 0.99
    detector: dict = field(default_factory=_lstm_ae_defaults)
    sasrec: dict = field(default_factory=_sasrec_defaults)
    num_partitions: int | None = None  # None: chosen from the log's size
    max_calibration_windows: int = 50_000
    settings: TrainSettings = field(default_factory=TrainSettings)


class _WindowScorer:
    """A Ray Data actor that loads the saved detector once and scores batches of windows."""

    def __init__(self, detector_dir: str):
        self.detector = load_detector(detector_dir)

    def __call__(self, batch: dict) -> dict:
        return {
            "user_id": batch["user_id"],
            "end_day": batch["end_day"],
            "score": self.detector.decision_function(batch["window"]),
        }


def _split(windows: ray.data.Dataset, name: str) -> ray.data.Dataset:
    return windows.filter(expr=col("split") == name)


class _Progress:
    """Prints one line per finished stage and keeps each stage's duration."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.t0 = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def done(self, key: str, message: str) -> None:
        now = time.perf_counter()
        self.timings[key] = round(now - self.last, 2)
        self.last = now
        self.log(f"  [{now - self.t0:6.1f}s] {message}")


@dataclass
class _Run:
    """What every stage of one training run reads."""

    events: ray.data.Dataset
    spec: WindowSpec
    split: DaySplit
    partitions: int
    dirs: RunDir
    opts: TrainOptions
    progress: _Progress


def _partitions(opts: TrainOptions, n_events: int) -> int:
    """Shuffle partitions: the configured number, or about one per million events (2 to 64);
    every partition costs a shuffle actor, which small logs do not repay."""
    return opts.num_partitions or int(np.clip(n_events // 1_000_000, 2, 64))


def train_run(
    logs_dir: str | Path,
    run_dir: str | Path,
    opts: TrainOptions | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train every model of a run from the logs in `logs_dir`; returns the run's metrics."""
    opts = opts or TrainOptions()
    run = RunDir(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    progress = _Progress(log)

    events = pipeline.read_events(str(logs_dir))
    summary = pipeline.summarize(events)
    spec = WindowSpec(summary.categories, summary.first_day, opts.window_days)
    split = DaySplit.from_fractions(summary.n_days, opts.fit_fraction, opts.calib_fraction)
    if split.fit_end < opts.window_days or split.calib_end - split.fit_end < opts.window_days:
        raise ValueError(
            f"a log of {summary.n_days} days is too short for {opts.window_days}-day windows "
            "in both the fit and the calibration period"
        )
    run.spec.write_text(json.dumps(spec.to_dict(), indent=2))
    progress.done(
        "read",
        f"read {summary.n_events} events of {summary.n_users} users over "
        f"{summary.n_days} days, {len(summary.categories)} categories",
    )
    r = _Run(events, spec, split, _partitions(opts, summary.n_events), run, opts, progress)
    detector, detector_metrics = _detector_stages(r, read_life_events(logs_dir))
    recommender_metrics = _recommender_stages(r)
    metrics = {
        "logs": str(logs_dir),
        "summary": asdict(summary),
        "split": asdict(split),
        "detector": {"name": detector.name, "threshold": detector.threshold_, **detector_metrics},
        "recommender": {"name": "sasrec", **recommender_metrics},
        "training": asdict(opts.settings),
        "timings_s": progress.timings,
    }
    run.metrics.write_text(json.dumps(metrics, indent=2, default=str))
    return metrics


def _detector_stages(r: _Run, truth: pd.DataFrame | None) -> tuple[BaseDetector, dict]:
    """Windows and profiles -> LSTM-AE (Ray Train) -> calibration -> scored test windows."""
    # Behaviour windows, sharded by user; materialised once and reused by every split.
    windows = pipeline.behaviour_windows(r.events, r.spec, r.split, r.partitions).materialize()
    fit_w, calib_w, test_w = (_split(windows, s) for s in ("fit", "calib", "test"))
    profiles = pipeline.profiles(windows, r.spec.window_days)
    save_table(r.dirs.profiles, profiles, "profile")
    counts = {s: d.count() for s, d in (("fit", fit_w), ("calib", calib_w), ("test", test_w))}
    r.progress.done("windows", f"built windows {counts} and {len(profiles)} user profiles")

    mean, std = pipeline.moment_sums(fit_w)
    config = {
        **r.opts.detector,
        "seed": seed_from(r.opts.detector.get("random_state", 0)),
        "n_features": r.spec.n_features,
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    module, train_metrics = train_lstm_ae(fit_w, config, r.dirs.root / "ray_train", r.opts.settings)
    loss = train_metrics.get("loss", float("nan"))
    r.progress.done(
        "train_lstm_ae",
        f"trained LSTM-AE on {r.opts.settings.num_workers} workers, loss {loss:.4f}",
    )

    # Threshold and calibration from held-out normal windows of later days.
    if counts["calib"] > r.opts.max_calibration_windows:
        calib_w = calib_w.random_sample(r.opts.max_calibration_windows / counts["calib"], seed=0)
    calib_x = pipeline.column(calib_w, "window")
    contamination = 1.0 - r.opts.quantile
    detector = LSTMAEDetector(contamination=contamination, **r.opts.detector).use_module(module)
    detector.calibrate(calib_x)
    detector.save(r.dirs.detector)
    r.progress.done(
        "calibrate",
        f"calibrated on {len(calib_x)} held-out windows: threshold "
        f"{detector.threshold_:.4f} (q={r.opts.quantile})",
    )

    # Score every later window with the saved detector, sharded over Ray Data actors.
    scored = test_w.map_batches(
        _WindowScorer,
        fn_constructor_kwargs={"detector_dir": str(r.dirs.detector)},
        compute=ray.data.ActorPoolStrategy(size=1),
        batch_format="numpy",
        batch_size=4096,
    ).to_pandas()
    scored.to_parquet(r.dirs.root / "test_scores.parquet", index=False)
    detection = _evaluate(scored, truth, r.spec, detector.threshold_)
    r.progress.done(
        "score",
        "scored test windows"
        + (
            f": AUROC {detection['auroc']:.3f}, AUPRC {detection['auprc']:.3f}" if detection else ""
        ),
    )
    return detector, {"train_loss": loss, "window_counts": counts, "detection": detection}


def _recommender_stages(r: _Run) -> dict:
    """Item sequences before the serving period -> SASRec (Ray Train)."""
    s = r.opts.sasrec
    examples = pipeline.sequence_examples(
        r.events, r.spec, r.split.calib_end, s["max_len"], r.partitions
    ).materialize()
    save_table(r.dirs.histories, _split_latest(examples), "items")
    catalog = pipeline.item_counts(r.events, r.spec, r.split.calib_end, r.partitions)
    catalog.to_parquet(r.dirs.catalog, index=False)
    n_sequences = examples.count()
    r.progress.done(
        "sequences", f"built {n_sequences} training sequences over {len(catalog)} items"
    )

    model_cfg = {
        "n_items": int(catalog["item_id"].max()),
        **{k: s[k] for k in ("max_len", "dim", "n_layers", "n_heads", "dropout")},
    }
    train_cfg = {"model": model_cfg, **{k: s[k] for k in ("epochs", "lr", "batch_size", "seed")}}
    model, train_metrics = train_next_item_model(
        examples, train_cfg, r.dirs.root / "ray_train", r.opts.settings
    )
    save_sasrec(model, model_cfg, r.dirs.recommender)
    loss = train_metrics.get("loss", float("nan"))
    r.progress.done(
        "train_sasrec", f"trained SASRec on {r.opts.settings.num_workers} workers, loss {loss:.4f}"
    )
    return {"train_loss": loss, "n_sequences": n_sequences}


def _split_latest(examples: ray.data.Dataset) -> dict[int, np.ndarray]:
    """Each user's latest `max_len` items: the target row of their last chunk, padding cut."""
    latest = examples.filter(expr=col("is_last") == True)  # noqa: E712 (builds an expression)
    rows = latest.select_columns(["user_id", "target"]).take_all()
    return {int(r["user_id"]): np.asarray(r["target"])[np.asarray(r["target"]) > 0] for r in rows}


def _evaluate(
    scored: pd.DataFrame, truth: pd.DataFrame | None, spec: WindowSpec, threshold: float
) -> dict | None:
    """Detection metrics on the planted life events, where the logs carry ground truth."""
    if truth is None or scored.empty:
        return None
    labels = label_windows(
        scored["user_id"].to_numpy(), scored["end_day"].to_numpy(), spec.window_days, truth
    )
    keep = labels >= 0
    if len(np.unique(labels[keep])) < 2:
        return None
    report = detection_report(labels[keep], scored["score"].to_numpy()[keep], threshold)
    report["left_out_split_windows"] = int((~keep).sum())
    return report
