"""`adrec train` on a Ray cluster: the log read and validated with Ray Data, the product's fit
step with its sequential model trained by Ray Train (DDP workers, checkpoints under the run
directory, so a rerun resumes and says from which epoch), the engine saved as the run
directory, and every user's behaviour windows batch-scored into scores.parquet (with
detection metrics where the log comes with ground truth, as simulated logs do).

Before anything is read, the resource plan (adrec.distributed.resources) checks that the
training workers fit beside the Ray Data tasks that feed them, and fails at once, saying what
to change, where they cannot (they would otherwise wait for CPUs forever)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from adrec.data.log_prep import log_signals, pipeline_windows, saved_vocabulary
from adrec.detectors.behaviour.scoring import (
    detection_metrics,
    same_signals,
    score_log_fast,
    score_windows,
    vectorised,
)
from adrec.detectors.behaviour.windows import InteractionWindow
from adrec.distributed.ingest import read_interactions_ray
from adrec.distributed.long_term import ray_long_term_trainer
from adrec.distributed.pipeline import pipeline_format, read_with_pipeline
from adrec.distributed.resources import TrainingPlan, available_cpus, plan_training
from adrec.recommender.config import FitConfig
from adrec.recommender.fit import fit_recommender
from adrec.recommender.run import save_run


def ground_truth(logs: Path) -> pd.DataFrame | None:
    """Planted life events beside a simulated log (life_events.parquet), if any."""
    path = Path(logs) / "life_events.parquet"
    return pd.read_parquet(path) if Path(logs).is_dir() and path.exists() else None


def train_run(
    spec,
    run_dir: str | Path,
    cfg: FitConfig | None = None,
    seed: int = 0,
    workers: int = 2,
    use_gpu: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Train a servable run directory from the log `spec` names (an InputSpec)."""
    t0 = time.perf_counter()
    cfg = cfg or FitConfig()
    run_dir = Path(run_dir)
    # Fails here, before any work, when the workers cannot fit beside their data tasks.
    plan = plan_training(workers, use_gpu)
    log(f"training plan: {plan.describe()}")
    free = available_cpus()
    if plan.checked and free < plan.cpus_needed:
        log(f"  only {free:g} of the cluster's {plan.cluster_cpus:g} CPUs are free now (other "
            f"jobs or Serve replicas hold the rest): training waits until {plan.cpus_needed:g} "
            "are; `ray status` shows who holds them")  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    prep = run_dir / "prep" if pipeline_format(spec) else None
    window = InteractionWindow(cfg.window, cfg.min_profile)
    if prep is not None:  # the log pipeline of benchmarks/pipeline.py, windows included
        log(f"1/4 reading {spec.path} with the Ray Data log pipeline -> {prep} ...")
        inter, _ = read_with_pipeline(spec, str(prep), window, cfg.window, log=log)
    else:
        log(f"1/4 reading {spec.path} with Ray Data ...")
        inter = read_interactions_ray(spec, log=log)
    log("2/4 fitting the recommender (the sequential model on Ray Train) ...")
    trainer = _announced(_long_term_trainer(plan, run_dir / "ray_train"), run_dir, log)
    engine, report = fit_recommender(inter, cfg, seed, train_long_term=trainer, log=log)
    report["training"] = {"workers": workers, "use_gpu": use_gpu,
                          "cpus_per_worker": plan.cpus_per_worker}  # fmt: skip
    report["logs"] = str(spec.path)
    if engine.detector is not None:
        log("3/4 batch-scoring every user's behaviour windows ...")
        scores, report["scored_from"] = _score(
            inter, engine.detector, prep, window, cfg.window, log
        )
        scores.to_parquet(run_dir / "scores.parquet", index=False)
        report["detection"] = detection_metrics(
            scores, ground_truth(Path(spec.path)), engine.detector.threshold
        )
        report["scored_windows"] = len(scores)
        flagged = int(scores["flagged"].sum()) if len(scores) else 0
        log(f"  batch-scored {len(scores)} behaviour windows ({flagged} flagged) -> "
            f"{run_dir / 'scores.parquet'}")  # fmt: skip
        if report["detection"]:
            d = report["detection"]
            log(f"  detection on the planted life events: AUROC {d['auroc']:.3f}, AUPRC "
                f"{d['auprc']:.3f} ({d['n']} windows, {d['n_anomalous']} anomalous)")  # fmt: skip
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    save_run(engine, report, run_dir)
    log(f"4/4 saved the run to {run_dir} ({report['wall_seconds']} s)")
    return report


def _score(inter, detector, prep: Path | None, window, stride: int, log):
    """(score_log's frame, where its windows came from): the pipeline's windows where they
    are the detector's (its window and the log's signals), else computed with score_log."""
    if prep is not None and detector.window == window:
        vocab, meta = saved_vocabulary(str(prep))
        if same_signals(detector.signals, log_signals(vocab, bool(meta["sub_day"]))):
            log(f"  scoring the pipeline's windows ({prep / 'windows'})")
            return score_windows(pipeline_windows(str(prep)), inter, detector), "pipeline windows"
    why = "not a pipeline read" if prep is None else f"the detector reads {detector.window}"
    fast = vectorised(detector)
    log(
        f"  computing the windows to score here, {'vectorised' if fast else 'user by user'} ({why})"
    )
    return score_log_fast(inter, detector, stride=stride), "log_windows" if fast else "score_log"


def _long_term_trainer(plan: TrainingPlan, storage: Path) -> Callable:
    """The Ray Train trainer of the long-term model at the plan's workers and CPUs each."""
    return ray_long_term_trainer(plan.workers, plan.use_gpu, storage, plan.cpus_per_worker)


def _announced(fit: Callable, run_dir: Path, log: Callable[[str], None]) -> Callable:
    """`fit` (the long-term trainer) with a line before a fresh start and one after a resumed
    training: from which epoch (info["resumed_from_epoch"]) and why (a previous run's
    checkpoint, or a worker failure that Ray Train recovered from)."""

    def wrapped(*args, **kwargs):
        storage = run_dir / "ray_train"
        found = sorted(p.parent for p in storage.glob("*/checkpoint_*")) if storage.exists() else []
        if not found:  # (the trainer says when it finds one)
            log(f"  training the sequential model from scratch (checkpoints: {storage})")
        model, info = fit(*args, **kwargs)
        start = int(info.get("resumed_from_epoch") or 0)
        if start and found:
            log(f"  resumed the sequential model from the checkpoint of epoch {start} (a "
                "previous run's)")  # fmt: skip
        elif start:  # no checkpoint before this run: Ray Train restarted failed workers
            log(f"  resumed the sequential model from the checkpoint of epoch {start} after a "
                "worker failure (Ray Train restarted the workers)")  # fmt: skip
        elif found:
            log("  the checkpoint held no finished epoch: the sequential model started over")
        return model, info

    return wrapped
