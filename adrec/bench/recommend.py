"""Does reacting to a user's detected change recommend better? The core of `adrec bench
recommend`: it trains the product's recommender (adrec.recommender.fit, the same fit step as
`adrec train`) once per seed, saves each as a run directory, and scores the held-out test
targets through the saved engine (recommend_eval), so the reported numbers are the served
model's. Ray appears only with trainer="ray" (through adrec.distributed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from adrec.bench.recommend_eval import evaluate_engine, pooled_cis
from adrec.data.interactions import Interactions
from adrec.recommender.config import FitConfig
from adrec.recommender.engine import AnomalyAwareRecommender
from adrec.recommender.fit import fit_recommender
from adrec.recommender.long_term import fit_long_term
from adrec.recommender.run import load_report, save_run

TRAINERS = ("local", "ray")


def long_term_trainer(trainer: str, use_gpu: bool = False, workers: int = 2) -> Callable:
    """The long-term model's trainer: in process, or Ray Train on the connected cluster."""
    if trainer == "local":
        return fit_long_term
    if trainer != "ray":
        raise ValueError(f"trainer must be one of {TRAINERS}, got {trainer!r}")
    from adrec.distributed.long_term import ray_long_term_trainer

    return ray_long_term_trainer(num_workers=workers, use_gpu=use_gpu)


def fit_summary(fit: dict) -> dict:
    """What the report shows of a fit: the choices it made on validation."""
    keys = ("split", "dropped", "signals", "long_term", "sources", "validation_ndcg@10", "blend",
            "seconds")  # fmt: skip
    det = fit.get("detector", {})
    return {**{k: fit.get(k) for k in keys}, "detector": det.get("chosen"),
            "detector_trials": det.get("trials", [])}  # fmt: skip


def run_bench(
    inter: Interactions,
    cfg: FitConfig,
    seeds: tuple[int, ...],
    out_dir: str | Path,
    trainer: str = "local",
    use_gpu: bool = False,
    n_bootstrap: int = 2000,
    log: Callable[[str], None] = print,
) -> dict:
    """Fit, save and evaluate one run per seed; returns the report as a JSON-able dict."""
    started = time.perf_counter()
    fit_long = long_term_trainer(trainer, use_gpu)
    report: dict = {
        "config": cfg.to_dict(),
        "data": inter.report,
        "trainer": trainer,
        "threads": {"torch": torch.get_num_threads()},
        "seeds": {},
    }
    per_seed = []
    for seed in seeds:
        log(f"seed {seed}: fitting the recommender ({trainer} trainer) ...")
        engine, fit = fit_recommender(inter, cfg, seed, train_long_term=fit_long, log=log)
        run_dir = save_run(engine, fit, Path(out_dir) / "runs" / f"seed{seed}")
        log(f"seed {seed}: saved {run_dir}; scoring the test targets through the engine ...")
        result = evaluate_engine(
            engine, cfg.split, cfg.targets_per_user, cfg.k, n_bootstrap=n_bootstrap, seed=seed
        )
        per_seed.append(result.pop("_per_point"))
        report["seeds"][str(seed)] = {**result, "run_dir": str(run_dir), "fit": fit_summary(fit)}
        log(summary_line(seed, result))
    if len(per_seed) > 1:
        report["pooled_ci_ndcg@10"] = pooled_cis(per_seed, n_bootstrap)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


def evaluate_runs(run_dirs: list[str | Path], n_bootstrap: int = 2000, log=print) -> dict:
    """The report of trained run directories (adrec train, or this benchmark's runs/seedN):
    each one's test targets scored through its saved engine with the settings it was fitted
    with; several runs of one log (other seeds) are pooled as the fitting path pools them."""
    report: dict = {"trainer": "as trained", "threads": {"torch": torch.get_num_threads()},
                    "seeds": {}}  # fmt: skip
    per_seed = []
    for run_dir in run_dirs:
        fit = load_report(run_dir)
        cfg = FitConfig.from_dict(fit["config"])
        if "config" in report and report["config"] != fit["config"]:
            raise ValueError(f"{run_dir} was fitted with other settings than {run_dirs[0]}")
        report.setdefault("config", fit["config"])
        report.setdefault("data", fit["data"])
        seed = str(fit["seed"])
        if seed in report["seeds"]:
            raise ValueError(f"two runs of seed {seed}: give each seed's run once")
        engine = AnomalyAwareRecommender.load(run_dir)
        log(f"scoring the test targets of {run_dir} through the saved engine ...")
        result = evaluate_engine(engine, cfg.split, cfg.targets_per_user, cfg.k,
                                 n_bootstrap=n_bootstrap, seed=fit["seed"])  # fmt: skip
        per_seed.append(result.pop("_per_point"))
        report["seeds"][seed] = {**result, "run_dir": str(run_dir), "fit": fit_summary(fit)}
        log(summary_line(int(seed), result))
    if len(per_seed) > 1:
        report["pooled_ci_ndcg@10"] = pooled_cis(per_seed, n_bootstrap)
    return report


def summary_line(seed: int, result: dict) -> str:
    rows = {(r["variant"], r["users"]): r["full_ndcg@10"] for r in result["table"]}
    parts = [f"{v}={rows[(v, 'all')]:.4f}/{rows[(v, 'shifting')]:.4f}"
             for v, g in rows if g == "all"]  # fmt: skip
    return f"seed {seed} test full NDCG@10 all/shifting: " + ", ".join(parts)
