"""Run directories for the dashboard's tests, built in-process (no Ray) the way `adrec train`
writes them: a simulated log with planted life events, the fit step with the unit tests'
tiny settings, every user's windows batch-scored, the ground truth under <run>/data.

`widen_run` turns a fitted run into one of many more users (10,000 for the scale test)
without fitting or scoring again: each new user replays one fitted user's interactions,
batch scores, life events and scored test targets (the dashboard's accuracy cache) shifted
by a few days, and the same saved models serve them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DAY = 86_400
# the unit tests' tiny fit settings (tests/unit/_adrec_helpers.py)
FIT_SETTINGS = dict(
    detector="iforest", windows="interactions", features="all", window=5, min_profile=5,
    trending_days=(7.0,), gate_epochs=30, grid_step=0.25, min_fit_windows=10,
    min_calib_windows=5,
)  # fmt: skip


def interactions_of(events: pd.DataFrame):
    from adrec.data.interactions import build_interactions

    frame = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy(),
            "item_id": events["item_id"].to_numpy(),
            "timestamp": events["timestamp"].astype("datetime64[s]").astype("int64").to_numpy(),
            "action": events["action"].to_numpy(),
            "value": events["value"].to_numpy(np.float64),
            "order": np.arange(len(events)),
            "category": [[c] for c in events["category"]],
        }
    )
    return build_interactions(frame, {"source": "simulator", "rows_in": len(frame)})


def _save(engine, report: dict, scores: pd.DataFrame, truth: pd.DataFrame, root: Path) -> Path:
    from adrec.detectors.behaviour.scoring import detection_metrics
    from adrec.recommender.run import save_run

    root.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(root / "scores.parquet", index=False)
    report = {**report, "detection": detection_metrics(scores, truth, engine.detector.threshold),
              "scored_windows": len(scores)}  # fmt: skip
    save_run(engine, report, root)
    (root / "data").mkdir(exist_ok=True)
    truth.to_parquet(root / "data" / "life_events.parquet", index=False)
    return root


def make_run(root: Path, n_users: int = 60, n_days: int = 42, n_items: int = 120,
             seed: int = 0) -> Path:  # fmt: skip
    """A fitted, scored run directory of a simulated log (about 10 s on 2 cores). Life events
    fall in the last 15% of the log, so some held-out test targets (each user's last
    interactions) come from users the detector flags: the shifting-users charts have data."""
    import torch

    torch.set_num_threads(1)
    from adrec.data.simulator import SimulationConfig, simulate
    from adrec.recommender.config import FitConfig
    from adrec.recommender.fit import fit_recommender

    FIT = FitConfig(**FIT_SETTINGS)

    sim = SimulationConfig(n_users=n_users, n_days=n_days, n_items=n_items,
                           event_fraction=0.25, event_start=0.85, event_end=0.95,
                           seed=seed)  # fmt: skip
    events, truth, _ = simulate(sim)
    cfg = FIT.with_long_term(dim=16, n_layers=1, max_len=20, max_epochs=2, batch_size=64)
    from adrec.detectors.behaviour.scoring import score_log

    engine, report = fit_recommender(interactions_of(events), cfg, seed=seed, log=lambda m: None)
    scores = score_log(engine.log, engine.detector, stride=cfg.window)
    return _save(engine, report, scores, truth, Path(root))


def widen_run(run_dir: Path, root: Path, n_users: int) -> Path:
    """A run of `n_users` users from a fitted run: user k + 1 replays fitted user k % n's
    interactions, batch scores and life events, shifted by (k // n) % 7 days."""
    import json

    from adrec.data.interactions import IdMap, Interactions
    from adrec.recommender.engine import AnomalyAwareRecommender

    run_dir = Path(run_dir)
    base = AnomalyAwareRecommender.load(run_dir)
    log, n = base.log, base.log.n_users
    bounds = log.user_bounds()
    k = np.arange(n_users)
    src, shift = k % n, ((k // n) % 7) * DAY

    def replay(starts, stops):
        """Rows of every new user (its source user's rows) and the new user of each."""
        lengths = (stops - starts)[src]
        rows = np.concatenate([np.arange(starts[u], stops[u]) for u in src])
        return rows, np.repeat(k, lengths)

    rows, user = replay(bounds[:-1], bounds[1:])
    wide = Interactions(
        user=user, item=log.item[rows], time=log.time[rows] + shift[user],
        users=IdMap(np.array([str(i + 1) for i in k], dtype=object)),
        items=log.items, categories=log.categories, item_categories=log.item_categories,
        value=None if log.value is None else log.value[rows],
        action=None if log.action is None else log.action[rows],
        action_names=log.action_names, report={**log.report, "rows_in": len(rows)},
    )  # fmt: skip
    engine = AnomalyAwareRecommender(wide, base.sources, base.blends, base.detector,
                                     base.signals, base.gate_recent)  # fmt: skip

    scores = pd.read_parquet(run_dir / "scores.parquet")
    code = log.users.index(scores["user_id"].to_numpy())
    scores = scores.iloc[np.argsort(code, kind="stable")].reset_index(drop=True)
    code = np.sort(code)
    starts = np.searchsorted(code, np.arange(n), side="left")
    stops = np.searchsorted(code, np.arange(n), side="right")
    rows, user = replay(starts, stops)
    new_scores = scores.iloc[rows].reset_index(drop=True)
    new_scores["user_id"] = user + 1
    new_scores["time"] += shift[user]
    new_scores["window_start"] += shift[user]

    truth = pd.read_parquet(run_dir / "data" / "life_events.parquet")
    t_code = log.users.index(truth["user_id"].to_numpy())
    new_truth = []
    for u, event in zip(t_code, truth.itertuples(index=False), strict=True):
        mine = k[src == u]
        new_truth.append(pd.DataFrame({
            "user_id": mine + 1, "event_day": event.event_day,
            "event_time": event.event_time + pd.to_timedelta(shift[mine], unit="s"),
            "kind": event.kind, "new_categories": event.new_categories,
        }))  # fmt: skip
    report = json.loads((run_dir / "fit_report.json").read_text())
    source = f"{n_users} users replaying the {n} users of {run_dir.name}"
    report["data"] = {**report.get("data", {}), "rows_in": wide.n_events,
                      "rows_used": wide.n_events, "n_users": n_users, "source": source}  # fmt: skip
    root = _save(engine, report, new_scores, pd.concat(new_truth, ignore_index=True), Path(root))

    from adrec.dashboard.data import ACCURACY_CACHE, CACHE_DIR, RunData

    RunData(run_dir).accuracy()  # scores the fitted run's test targets, cached
    targets = pd.read_parquet(run_dir / CACHE_DIR / ACCURACY_CACHE)
    targets = targets.sort_values("user", kind="stable")
    code = targets["user"].to_numpy()
    starts = np.searchsorted(code, np.arange(n), side="left")
    stops = np.searchsorted(code, np.arange(n), side="right")
    rows, user = replay(starts, stops)
    replayed = targets.iloc[rows].reset_index(drop=True)
    replayed["user"] = user
    replayed["time"] += shift[user]
    (root / CACHE_DIR).mkdir(exist_ok=True)
    replayed.to_parquet(root / CACHE_DIR / ACCURACY_CACHE, index=False)
    return root
