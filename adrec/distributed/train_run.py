"""`adrec train` on a Ray cluster: the log read and validated with Ray Data, the product's fit
step with its sequential model trained by Ray Train (DDP workers, checkpoints under the run
directory, so a rerun resumes), the engine saved as the run directory, and every user's
behaviour windows batch-scored into scores.parquet (with detection metrics where the log
comes with ground truth, as simulated logs do)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from adrec.detectors.behaviour.scoring import detection_metrics, score_log
from adrec.distributed.ingest import read_interactions_ray
from adrec.distributed.long_term import ray_long_term_trainer
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
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"reading {spec.path} with Ray Data ...")
    inter = read_interactions_ray(spec, log=log)
    trainer = ray_long_term_trainer(
        num_workers=workers, use_gpu=use_gpu, storage=run_dir / "ray_train"
    )
    engine, report = fit_recommender(inter, cfg, seed, train_long_term=trainer, log=log)
    report["training"] = {"workers": workers, "use_gpu": use_gpu}
    if engine.detector is not None:
        scores = score_log(inter, engine.detector, stride=cfg.window)
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
    log(f"saved the run to {run_dir} ({report['wall_seconds']} s)")
    return report
