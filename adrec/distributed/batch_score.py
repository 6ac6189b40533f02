"""Batch scoring of a whole log on a Ray cluster: `adrec score` and `python -m jobs.score`.

    batch_score(run_dir, out, spec=None, actors=2, log=print) -> dict

1. The log: the run's own (RUN_DIR/log, what `adrec train` read) or another one (`spec`, read
   and validated by Ray Data exactly as `adrec train` reads, then mapped onto the run's item
   and action ids: interactions with an item or action the run has never seen are left out
   and counted, as the service ignores unknown items).
2. Shards of whole users (contiguous ranges of users, about equal in interactions) become a
   Ray Data dataset; an actor pool (ShardScorer, each actor loads the run's behaviour
   detector once) scores each shard with adrec.detectors.behaviour.scoring.score_log_fast, the
   same core `adrec train` runs in process, so the scores are equal (tested).
3. The rows come back in user order and are written as one Parquet file (user_id, time,
   window_start, score, calibrated, flagged: the dashboard's input), with detection metrics
   where the log has ground truth (life_events.parquet beside a simulated log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from adrec.data.interactions import IdMap, Interactions, load_interactions
from adrec.detectors.behaviour.detector import BehaviourDetector
from adrec.detectors.behaviour.scoring import detection_metrics, score_log_fast
from adrec.detectors.behaviour.windows import Signals
from adrec.recommender.run import check_run_dir

SCORE_COLUMNS = ("user_id", "time", "window_start", "score", "calibrated", "flagged")
ACTOR_CPUS = 1.0


def run_stride(run_dir: str | Path) -> int:
    """The stride `adrec train` scored its windows with: the run's interaction window."""
    root = Path(run_dir)
    report = root / "fit_report.json"
    if report.exists():
        window = json.loads(report.read_text()).get("config", {}).get("window")
        if window:
            return int(window)
    return int(json.loads((root / "engine.json").read_text()).get("gate_recent", 10))


def run_signals(run_log: Interactions, run_dir: str | Path) -> Signals:
    """The item category shares and signal flags the run's detector was fitted with."""
    spec = json.loads((Path(run_dir) / "detector" / "behaviour.json").read_text())
    base = Signals.from_log(run_log.item_categories, 0, None, np.zeros(1))
    return Signals(base.shares, spec["n_actions"], spec["has_values"], spec["sub_day"])


def onto_run_ids(inter: Interactions, run_log: Interactions, signals: Signals):
    """`inter` with its items and actions as the run's indices; interactions whose item or
    action the run does not know are left out. Returns (interactions, counts left out)."""
    item_map = run_log.items.index(inter.items.raw)  # new dense index - 1 -> run index
    item = item_map[inter.item - 1]
    keep = item >= 0
    dropped = {"unknown_item": int((~keep).sum()), "unknown_action": 0}
    action = None
    if signals.n_actions:
        if inter.action is None:
            action = np.zeros(inter.n_events, np.int64)  # as a request without actions
        else:
            codes = {n: i for i, n in enumerate(run_log.action_names)}
            table = np.array([codes.get(n, -1) for n in inter.action_names], np.int64)
            action = table[inter.action]
            dropped["unknown_action"] = int((keep & (action < 0)).sum())
            keep &= action >= 0
    value = inter.value
    if signals.has_values and value is None:
        value = np.full(inter.n_events, np.nan)
    out = Interactions(
        user=inter.user[keep],
        item=item[keep],
        time=inter.time[keep],
        users=inter.users,
        items=run_log.items,
        categories=run_log.categories,
        item_categories=run_log.item_categories,
        value=None if value is None else value[keep],
        action=None if action is None else action[keep],
        action_names=run_log.action_names,
        report=inter.report,
    )
    return out, dropped


def user_shards(inter: Interactions, n_shards: int) -> list[pd.DataFrame]:
    """Contiguous ranges of whole users, about equal in interactions, one frame each (rows in
    the log's order: user, time, input order). Columns: user (the global dense index), item,
    time, value and action where the log has them, shard, shard_rows."""
    bounds = inter.user_bounds()
    n = inter.n_events
    n_shards = max(1, min(n_shards, inter.n_users))
    # user index at which each shard starts: the first user whose rows pass k/n of the log
    cuts = np.searchsorted(bounds[1:], [n * k / n_shards for k in range(1, n_shards)], "left")
    starts = np.unique(np.concatenate([[0], cuts + 1]))
    starts = starts[starts < inter.n_users]
    ends = np.append(starts[1:], inter.n_users)
    frames = []
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        rows = slice(int(bounds[a]), int(bounds[b]))
        f = {"user": inter.user[rows], "item": inter.item[rows], "time": inter.time[rows]}
        if inter.value is not None:
            f["value"] = inter.value[rows]
        if inter.action is not None:
            f["action"] = inter.action[rows]
        frame = pd.DataFrame(f)
        frame["shard"] = k
        frame["shard_rows"] = len(frame)
        frames.append(frame)
    return frames


def shard_interactions(batch: pd.DataFrame) -> Interactions:
    """A shard's rows as Interactions whose user ids are the global user indices."""
    users, local = np.unique(batch["user"].to_numpy(np.int64), return_inverse=True)
    return Interactions(
        user=local.astype(np.int64),
        item=batch["item"].to_numpy(np.int64),
        time=batch["time"].to_numpy(np.int64),
        users=IdMap(users.astype(str).astype(object)),
        items=IdMap(np.zeros(0, object), 1),  # not read by scoring: the detector has shares
        value=batch["value"].to_numpy(np.float64) if "value" in batch else None,
        action=batch["action"].to_numpy(np.int64) if "action" in batch else None,
    )


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.zeros(0, np.int64),
            "time": np.zeros(0, np.int64),
            "window_start": np.zeros(0, np.int64),
            "score": np.zeros(0),
            "calibrated": np.zeros(0),
            "flagged": np.zeros(0, bool),
        }
    )


class ShardScorer:
    """A Ray Data actor holding the run's behaviour detector (loaded once, from the run
    directory, with the item category shares of the run's log); scores whole shards of users
    with score_log (user_id in its output: the global user index)."""

    def __init__(self, run_dir: str, stride: int):
        root = Path(run_dir)
        shares = run_signals(load_interactions(root / "log"), root).shares
        self.detector = BehaviourDetector.load(root / "detector", shares)
        self.stride = stride

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        counts = batch.groupby("shard")["shard_rows"].agg(["size", "first"])
        split = counts[counts["size"] != counts["first"]]
        if len(split):  # a shard cut in two would score its users from partial histories
            raise RuntimeError(f"shards {list(split.index)} arrived incomplete: {split}")
        out = score_log_fast(shard_interactions(batch), self.detector, stride=self.stride)
        return out if len(out) else _empty_scores()


def score_shards(
    frames: list[pd.DataFrame], run_dir: str | Path, stride: int, actors: int = 2
) -> pd.DataFrame:
    """Score shards (user_shards) on an actor pool of 1 to `actors` ShardScorers; rows in
    shard order, user_id the global user index."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    saved = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True
    try:
        ds = ray.data.from_pandas(frames).map_batches(
            ShardScorer,
            fn_constructor_kwargs={"run_dir": str(Path(run_dir).resolve()), "stride": stride},
            batch_size=None,  # a block (one shard, whole users) per call
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, actors)),
            num_cpus=ACTOR_CPUS,
        )
        parts = [b for b in ds.iter_batches(batch_format="pyarrow", batch_size=None) if len(b)]
    finally:
        ctx.execution_options.preserve_order = saved
    if not parts:
        return _empty_scores()
    out = pa.concat_tables(parts).to_pandas()  # NumPy dtypes, as score_log's own frame
    # shards are contiguous user ranges in order; a stable sort keeps each user's windows in time
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


def _trained_logs(root: Path) -> Path | None:
    report = root / "fit_report.json"
    logs = json.loads(report.read_text()).get("logs") if report.exists() else None
    return Path(logs) if logs else None


def batch_score(
    run_dir: str | Path,
    out: str | Path,
    spec=None,
    actors: int = 2,
    shards: int | None = None,
    stride: int | None = None,
    log: Callable[[str], object] = print,
) -> dict:
    """Score every user's behaviour windows of a log (the run's own, or `spec`, an
    InputSpec) with the run's detector on the connected Ray cluster; write `out` (Parquet)
    and return a summary. See the module docstring."""
    t0 = time.perf_counter()
    root = check_run_dir(run_dir)
    if not (root / "detector").exists():
        raise ValueError(
            f"{root} has no behaviour detector (its log was too short for one, or it was "
            "trained with --detector none): nothing to score"
        )
    stride = stride or run_stride(root)
    run_log = load_interactions(root / "log")
    signals = run_signals(run_log, root)
    dropped = {"unknown_item": 0, "unknown_action": 0}
    if spec is None:
        log(f"1/3 scoring the run's own log ({run_log.n_events} interactions, {run_log.n_users} "
            f"users) from {root / 'log'}")  # fmt: skip
        inter, logs = run_log, None
    else:
        from adrec.distributed.ingest import read_interactions_ray

        log(f"1/3 reading {spec.path} with Ray Data ...")
        inter, dropped = onto_run_ids(read_interactions_ray(spec, log=log), run_log, signals)
        logs = Path(spec.path)
        if any(dropped.values()):
            log(f"  left out interactions the run does not know: {dropped}")
    shards = shards or max(1, 4 * actors)
    frames = user_shards(inter, shards)
    log(f"2/3 scoring {inter.n_users} users in {len(frames)} shards on up to {actors} "
        f"actor(s) holding the run's detector (stride {stride}) ...")  # fmt: skip
    scores = score_shards(frames, root, stride, actors)
    if len(scores):
        scores["user_id"] = inter.users.raw_ids(scores["user_id"].to_numpy(np.int64))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out, index=False)
    if logs is None:  # the log the run was trained on, as `adrec train` recorded it
        logs = _trained_logs(root)
    truth = None
    if logs is not None and logs.is_dir() and (logs / "life_events.parquet").exists():
        truth = pd.read_parquet(logs / "life_events.parquet")
    threshold = json.loads((root / "engine.json").read_text())["detector"]["threshold"]
    summary = {
        "out": str(out),
        "windows": len(scores),
        "flagged": int(scores["flagged"].sum()) if len(scores) else 0,
        "users": inter.n_users,
        "shards": len(frames),
        "stride": stride,
        "left_out": dropped,
        "detection": detection_metrics(scores, truth, threshold),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(f"3/3 wrote {len(scores)} scored windows ({summary['flagged']} flagged) -> {out} "
        f"({summary['seconds']} s)")  # fmt: skip
    if summary["detection"]:
        d = summary["detection"]
        log(f"  detection on the planted life events: AUROC {d['auroc']:.3f}, AUPRC "
            f"{d['auprc']:.3f} ({d['n']} windows, {d['n_anomalous']} anomalous)")  # fmt: skip
    return summary
