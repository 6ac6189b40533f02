"""adrec's long-term SASRec against RecBole 1.2.1's default SASRec on RecBole's protocol.

    OMP_NUM_THREADS=1 uv run python benchmarks/sasrec_vs_recbole.py \\
        --recbole-result reports/recbole_default/result.json

The classic one-target leave-last-out split of ml-100k (adrec.data.splits.leave_last_out with
n_targets=1: per user, the last interaction is the test target, the one before it the
validation target, the rest training). adrec's SASRec (LongTermConfig's defaults, or
--config JSON) trains with early stopping on validation NDCG@10 with seen items kept, seeds
0, 1, 2; each seed's test NDCG@10 / HR@10 is reported with seen items kept (RecBole's
sequential "repeatable" protocol) and excluded, beside RecBole's default run on the identical
split (written from adrec's order by adrec.bench.recbole_reference): read from a saved result
(--recbole-result) or run here (over an hour on 2 cores). The report gives the ratio of
NDCG@10 means and of wall times, torch threads and the machine's load average.

--adrec-result FILE: the adrec runs of an earlier report.json beside a RecBole result that
finished later (the two may run at the same time on the machine; the load is reported).

--sweep FILE: validation only (no test target is scored): each JSON line of FILE, a name and
LongTermConfig fields over the defaults, trains on --seeds and prints the best validation
NDCG@10 and the seconds; how the defaults were chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from adrec.data.movielens import load_movielens
from adrec.data.splits import leave_last_out
from adrec.recommender.long_term import LongTermConfig, fit_long_term, ranking_metrics

K = 10


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def fit(split, n_items: int, cfg: LongTermConfig, seed: int, trainer: str, log):
    valid = (split.valid.histories, split.valid.targets)
    if trainer == "ray":
        from adrec.distributed.recommend_train import fit_long_term_on_ray

        return fit_long_term_on_ray(
            split.train, n_items, cfg, seed, valid=valid, exclude_seen=False, log=log
        )
    return fit_long_term(split.train, n_items, cfg, seed, valid=valid, exclude_seen=False, log=log)


def run_seed(split, n_items: int, cfg: LongTermConfig, seed: int, trainer: str, log) -> dict:
    t0, cpu0 = time.perf_counter(), time.process_time()
    load = _load()
    model, info = fit(split, n_items, cfg, seed, trainer, lambda m: log(f"  seed {seed}: {m}"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    hist, targets = split.test.histories, split.test.targets
    kept = ranking_metrics(model, hist, targets, exclude_seen=False, k=K)
    excluded = ranking_metrics(model, hist, targets, exclude_seen=True, k=K)
    return {
        "seed": seed,
        "test_ndcg@10_seen_kept": kept[f"ndcg@{K}"],
        "test_hr@10_seen_kept": kept[f"hr@{K}"],
        "test_ndcg@10_seen_excluded": excluded[f"ndcg@{K}"],
        "test_hr@10_seen_excluded": excluded[f"hr@{K}"],
        "best_valid_ndcg@10": info["best_valid_ndcg@10"],
        "best_epoch": info["best_epoch"],
        "epochs_run": info["epochs_run"],
        "train_seconds": round(info["train_seconds"], 1),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),  # this process only (not Ray workers)
        "loadavg_start": load,
        "loadavg_end": _load(),
        "valid_curve": info["valid_curve"],
    }


def summarise(runs: list[dict], recbole: dict | None) -> dict:
    keys = [
        k
        for k in runs[0]
        if k.startswith("test_") or k in ("train_seconds", "cpu_seconds", "epochs_run")
    ]
    mean = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    std = {k: float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0 for k in keys}
    out = {"mean": mean, "std": std, "max_train_seconds": max(r["train_seconds"] for r in runs)}
    if recbole and recbole.get("status") == "ok":
        out["ndcg_ratio"] = mean["test_ndcg@10_seen_kept"] / recbole["ndcg@10"]
        out["hr_ratio"] = mean["test_hr@10_seen_kept"] / recbole["hit@10"]
        out["time_ratio_max"] = out["max_train_seconds"] / recbole["train_seconds"]
        out["time_ratio_mean"] = mean["train_seconds"] / recbole["train_seconds"]
        if recbole.get("cpu_seconds"):
            out["cpu_ratio_max"] = max(r["cpu_seconds"] for r in runs) / recbole["cpu_seconds"]
        out["goal_met"] = bool(
            mean["test_ndcg@10_seen_kept"] >= recbole["ndcg@10"] and out["time_ratio_max"] <= 0.1
        )
    return out


def markdown(report: dict) -> str:
    rb, s = report.get("recbole") or {}, report["summary"]
    lines = [
        "# adrec SASRec vs RecBole 1.2.1 default SASRec (ml-100k)",
        "",
        f"Split: {report['split']}. Test metrics are full-ranking @10; 'kept' is RecBole's "
        "protocol (seen items stay in the ranking), 'excluded' drops the user's seen items. "
        f"adrec: early stopping on validation NDCG@10 (seen kept), torch threads "
        f"{report['torch_threads']}, trainer {report['trainer']}.",
        "",
        "| run | NDCG@10 kept | HR@10 kept | NDCG@10 excl. | HR@10 excl. | best epoch / run "
        "| train s | CPU s | load avg (start) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| adrec seed {r['seed']} | {r['test_ndcg@10_seen_kept']:.4f} | "
            f"{r['test_hr@10_seen_kept']:.4f} | {r['test_ndcg@10_seen_excluded']:.4f} | "
            f"{r['test_hr@10_seen_excluded']:.4f} | {r['best_epoch']} / {r['epochs_run']} | "
            f"{r['train_seconds']:.0f} | {r['cpu_seconds']:.0f} | {r['loadavg_start'][0]:.1f} |"
        )
    m, sd = s["mean"], s["std"]
    lines.append(
        f"| **adrec mean** | **{m['test_ndcg@10_seen_kept']:.4f}** "
        f"(sd {sd['test_ndcg@10_seen_kept']:.4f}) | {m['test_hr@10_seen_kept']:.4f} | "
        f"{m['test_ndcg@10_seen_excluded']:.4f} | {m['test_hr@10_seen_excluded']:.4f} | "
        f"- / {m['epochs_run']:.1f} | {m['train_seconds']:.0f} | {m['cpu_seconds']:.0f} | |"
    )
    if rb.get("status") == "ok":
        load = rb.get("loadavg_start", ["?"])
        lines.append(
            f"| RecBole default (seed {rb['config'].get('seed', '?')}) | **{rb['ndcg@10']:.4f}** | "
            f"{rb['hit@10']:.4f} | - | - | {rb.get('best_epoch', '?')} / {rb['epochs']} | "
            f"{rb['train_seconds']:.0f} | {rb.get('cpu_seconds', '?')} | {load[0]} |"
        )
        lines += [
            "",
            f"NDCG@10 ratio (adrec mean / RecBole): **{s['ndcg_ratio']:.3f}**; HR@10 ratio "
            f"{s['hr_ratio']:.3f}. Wall time ratio (slowest adrec seed / RecBole): "
            f"**{s['time_ratio_max']:.3f}** (mean {s['time_ratio_mean']:.3f}). Goal (mean "
            f"NDCG@10 >= RecBole's, each run <= 0.1 of its time): "
            f"{'met' if s['goal_met'] else 'NOT met'}."
            + (
                f" CPU time ratio (slowest seed / RecBole): {s['cpu_ratio_max']:.3f}."
                if "cpu_ratio_max" in s
                else ""
            ),
        ]
        curve = rb.get("valid_curve") or []
        if curve:
            loads = [r["loadavg"][0] for r in curve if "loadavg" in r]
            if loads:
                lines.append(
                    f"RecBole's 1-minute load average over its epochs: median "
                    f"{np.median(loads):.1f}, max {max(loads):.1f} (2 cores; "
                    f"{rb.get('threads', '?')} torch threads)."
                )
    else:
        lines += ["", f"RecBole: {rb.get('status', 'not run')} {rb.get('why', '')}".rstrip()]
    lines += ["", "adrec config: `" + json.dumps(report["config"]) + "`", ""]
    return "\n".join(lines)


def sweep(split, n_items: int, path: Path, seeds: list[int], out_dir: Path, log) -> list[dict]:
    """Validation only: best validation NDCG@10 (seen kept) of each candidate config."""
    rows = []
    valid = (split.valid.histories, split.valid.targets)
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        spec = json.loads(line)
        name = spec.pop("name")
        cfg = dataclasses.replace(LongTermConfig(), **spec)
        runs = []
        for seed in seeds:
            _, info = fit_long_term(
                split.train, n_items, cfg, seed, valid=valid, exclude_seen=False, log=lambda m: None
            )
            runs.append({k: info[k] for k in ("best_valid_ndcg@10", "best_epoch", "epochs_run",
                                              "train_seconds")})  # fmt: skip
        row = {
            "name": name, "overrides": spec, "runs": runs, "seeds": seeds,
            "mean_valid_ndcg@10": float(np.mean([r["best_valid_ndcg@10"] for r in runs])),
            "mean_train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
            "loadavg": _load(),
        }  # fmt: skip
        rows.append(row)
        log(f"{name}: valid NDCG@10 {row['mean_valid_ndcg@10']:.4f} over seeds {seeds}, "
            f"{row['mean_train_seconds']:.0f} s  {spec}")  # fmt: skip
        with open(out_dir / "sweep.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="../shared/data/ml-100k")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out-dir", default="reports/sasrec_vs_recbole")
    p.add_argument("--config", default="{}", help="LongTermConfig fields over its defaults (JSON)")
    p.add_argument("--recbole-result", default=None, help="a saved RecBole result.json")
    p.add_argument("--no-recbole", action="store_true", help="report adrec alone")
    p.add_argument(
        "--adrec-result", default=None,
        help="a report.json of an earlier run: its adrec runs are reported (not trained again)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--trainer", choices=("local", "ray"), default="local")
    p.add_argument("--sweep", default=None, help="JSON lines of candidate configs (validation)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]

    data = load_movielens(args.data)
    split = leave_last_out(data.ratings, n_targets=1)
    n_items = int(data.ratings["item_id"].max())
    print(f"{len(split.users)} users, {n_items} items, {sum(map(len, split.train))} training "
          f"interactions; torch threads {torch.get_num_threads()}", flush=True)  # fmt: skip
    if args.sweep:
        sweep(split, n_items, Path(args.sweep), seeds, out_dir, lambda m: print(m, flush=True))
        return 0

    cfg = dataclasses.replace(LongTermConfig(), **json.loads(args.config))
    runs = []
    if args.adrec_result:
        earlier = json.loads(Path(args.adrec_result).read_text())
        cfg = LongTermConfig(**earlier["config"])
        runs, seeds = earlier["runs"], []
    for seed in seeds:
        run = run_seed(split, n_items, cfg, seed, args.trainer, lambda m: print(m, flush=True))
        runs.append(run)
        print(f"seed {seed}: test NDCG@10 {run['test_ndcg@10_seen_kept']:.4f} (seen kept), "
              f"{run['test_ndcg@10_seen_excluded']:.4f} (excluded); best epoch "
              f"{run['best_epoch']} of {run['epochs_run']}, {run['train_seconds']} s",
              flush=True)  # fmt: skip

    if args.no_recbole:
        recbole = None
    elif args.recbole_result:
        recbole = json.loads(Path(args.recbole_result).read_text())
    else:
        from adrec.bench.recbole_reference import run_recbole_sasrec

        recbole = run_recbole_sasrec(data.ratings, out_dir / "recbole", config="default", seed=None)
    report = {
        "split": "leave_last_out, one validation and one test target per user (RecBole's LS "
        "valid_and_test on the same order)",
        "data": str(args.data),
        "n_users": len(split.users),
        "n_items": n_items,
        "config": dataclasses.asdict(cfg),
        "trainer": args.trainer,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "runs": runs,
        "recbole": recbole,
        "recbole_result": args.recbole_result,
    }
    report["summary"] = summarise(runs, recbole)
    md = markdown(report)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(md)
    print(md, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
