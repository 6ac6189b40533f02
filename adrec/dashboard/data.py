"""The dashboard's data layer: JSON-ready views of one run directory.

What it reads (all written by `adrec train` / `adrec demo`):
    scores.parquet        batch scores of every user's behaviour windows over the whole log
    fit_report.json       every choice of the fit step, the data report, detection metrics
    blend/, engine.json   the served blend (through the saved engine)
    log/                  the users' interactions (for the blend weights at each point)
    data/life_events.parquet, or `logs`/life_events.parquet, or beside the log `adrec
    train` read (fit_report.json's "logs")
                          ground truth of planted or labelled events, where the log has it

Views: `summary`, `population` (per day), `users` (the picker's search), `user` (one user's
series, computed on demand) and `accuracy` (test targets through the engine, cached in
<run>/dashboard/ once computed). Every number is a plain float or None (never NaN), so each
view is valid JSON. Nothing here imports Ray.
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from adrec.dashboard.series import (
    calibrated_histogram,
    episodes,
    population_by_day,
    window_labels,
)

CACHE_DIR = "dashboard"
ACCURACY_CACHE = "test_targets.parquet"
THRESHOLD = 0.5  # the calibrated score's threshold: calibrated 0.5 is the detector's threshold


def _clean(value):
    """NaN and infinities -> None, numpy scalars -> Python ones, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _categories(value) -> list[str]:
    """A truth row's new categories: a comma-separated string (the simulator's) or a list."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [c.strip() for c in value.split(",") if c.strip()]
    return [str(c) for c in value]


def rounded(a, digits: int = 4) -> list:
    """A float array as a JSON list: rounded, None where not finite."""
    a = np.round(np.asarray(a, np.float64), digits)
    return [None if not np.isfinite(v) else float(v) for v in a]


class RunData:
    """Views of a run directory for the dashboard. `engine`: the run's loaded
    AnomalyAwareRecommender where the caller has one (else loaded when first needed, for the
    blend weights and the accuracy over time)."""

    def __init__(self, run_dir: str | Path, logs: str | Path | None = None, engine=None):
        self.root = Path(run_dir)
        if not (self.root / "scores.parquet").exists():
            raise FileNotFoundError(
                f"{self.root / 'scores.parquet'} is missing: is {run_dir} a run directory "
                "trained with a behaviour detector (adrec train / adrec demo)?"
            )
        self.logs = Path(logs) if logs is not None else self._default_logs()
        self._engine = engine
        self._engine_lock = threading.Lock()
        self._accuracy_lock = threading.Lock()
        self._accuracy: dict | None = None
        self.accuracy_error: str | None = None  # why the last computation failed

    def _default_logs(self) -> Path:
        """Where the ground truth is when no `logs` is given: RUN_DIR/data (the demo simulates
        there), else the folder of the log `adrec train` read, as its fit report recorded it
        (so a served run, which has no --logs, finds it too)."""
        own = self.root / "data"
        trained = self.report.get("logs")
        if not (own / "life_events.parquet").exists() and trained:
            if (Path(trained) / "life_events.parquet").exists():
                return Path(trained)
        return own

    # -- inputs ----------------------------------------------------------------------------
    @cached_property
    def scores(self) -> pd.DataFrame:
        """Batch scores grouped by user (in order of first appearance) and sorted by time
        within each user, with `key` (the user id as text) and `code` (the user's group)."""
        s = pd.read_parquet(self.root / "scores.parquet")
        missing = {"user_id", "time", "window_start", "score", "calibrated"} - set(s)
        if missing:
            raise ValueError(f"{self.root / 'scores.parquet'} lacks columns {sorted(missing)}")
        codes, _ = pd.factorize(s["user_id"])
        order = np.lexsort((s["time"].to_numpy(), codes))
        s = s.iloc[order].reset_index(drop=True)
        return s.assign(key=s["user_id"].astype(str), code=codes[order])

    @cached_property
    def _starts(self) -> np.ndarray:
        """Row offsets of each user's group in `scores` (and len(scores) at the end)."""
        codes = self.scores["code"].to_numpy()
        if len(codes) == 0:
            return np.zeros(1, np.int64)
        return np.r_[np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]), len(codes)]

    @cached_property
    def truth(self) -> pd.DataFrame | None:
        path = self.logs / "life_events.parquet"
        if not path.exists():
            return None
        t = pd.read_parquet(path)
        return t if {"user_id", "event_time"} <= set(t) else None

    @cached_property
    def report(self) -> dict:
        path = self.root / "fit_report.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @cached_property
    def engine_meta(self) -> dict:
        path = self.root / "engine.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def engine(self):
        """The run's engine, loaded once (thread-safe)."""
        with self._engine_lock:
            if self._engine is None:
                from adrec.recommender.engine import AnomalyAwareRecommender

                self._engine = AnomalyAwareRecommender.load(self.root)
            return self._engine

    @cached_property
    def _rows(self) -> dict[str, tuple[int, int]]:
        """user key -> its rows [a, b) of `scores`."""
        st = self._starts
        keys = self.scores["key"].to_numpy()[st[:-1]]
        return {k: (int(a), int(b)) for k, a, b in zip(keys, st[:-1], st[1:], strict=True)}

    @cached_property
    def _events(self) -> dict[str, list[dict]]:
        """user key -> the user's planted or labelled events."""
        if self.truth is None:
            return {}
        t = self.truth
        times = pd.to_datetime(t["event_time"]).astype("datetime64[s]").astype("int64").tolist()
        kinds = t["kind"].astype(str).tolist() if "kind" in t else [None] * len(t)
        cats = t["new_categories"].tolist() if "new_categories" in t else [None] * len(t)
        out: dict[str, list[dict]] = {}
        for user, when, kind, new in zip(t["user_id"].astype(str).tolist(), times, kinds, cats,
                                         strict=True):  # fmt: skip
            event = {"time": int(when), "kind": kind, "new_categories": _categories(new)}
            out.setdefault(user, []).append(event)
        return out

    # -- views -----------------------------------------------------------------------------
    @cached_property
    def _summary(self) -> dict:
        r, meta, s = self.report, self.engine_meta, self.scores
        det = r.get("detector", {}).get("chosen") or meta.get("detector") or {}
        data = r.get("data", {})
        rejected = data.get("rejected", {})
        blend = r.get("blend", {})
        return _clean({
            "run": self.root.name,
            "users": meta.get("users"),
            "items": meta.get("items"),
            "sources": meta.get("sources", []),
            "served_blend": meta.get("served_blend"),
            "detector": {
                "name": det.get("name") or det.get("detector"),
                "window": det.get("window"),
                "input": det.get("input"),
                "threshold": (meta.get("detector") or {}).get("threshold"),
            },
            "threshold_calibrated": THRESHOLD,
            "scored_windows": len(s),
            "scored_users": len(self._rows),
            "flagged_windows": int((s["calibrated"] >= THRESHOLD).sum()),
            "first_time": int(s["time"].min()) if len(s) else None,
            "last_time": int(s["time"].max()) if len(s) else None,
            "data": {
                "rows_in": data.get("rows_in"), "rows_used": data.get("rows_used"),
                "rows_rejected": sum(v for v in rejected.values() if isinstance(v, int)),
                "source": data.get("source"), "format": data.get("format"),
            },
            "split": r.get("split", {}).get("kind") or r.get("config", {}).get("split"),
            "validation_ndcg@10": r.get("validation_ndcg@10", {}),
            "rule": blend.get("rule"),
            "detection": r.get("detection"),
            "ground_truth": self.truth is not None,
            "ground_truth_users": len(self._events),
        })  # fmt: skip

    def summary(self) -> dict:
        """The run: detector and threshold, served blend, windows scored, data report."""
        return self._summary

    def population(self) -> dict:
        return self._population

    @cached_property
    def _population(self) -> dict:
        """Per day: windows and users scored, share of users flagged, mean calibrated score,
        and with ground truth recall and false alarms; the calibrated score distribution."""
        labels = window_labels(self.scores, self.truth)
        days = population_by_day(self.scores, self.truth, THRESHOLD, labels)
        out = {
            "days": [d.strftime("%Y-%m-%d") for d in days.index],
            "threshold": THRESHOLD,
            "ground_truth": self.truth is not None,
            **{c: rounded(days[c]) for c in days if c not in ("windows", "users")},
            "windows": days["windows"].astype(int).tolist(),
            "users": days["users"].astype(int).tolist(),
            "histogram": calibrated_histogram(self.scores, self.truth, labels=labels),
        }
        return _clean(out)

    @cached_property
    def user_index(self) -> pd.DataFrame:
        """One row per scored user: key, raw id, windows, peak calibrated score, flagged
        windows, whether the user has a known event; most anomalous first."""
        s, st = self.scores, self._starts
        first = st[:-1]
        cal = s["calibrated"].to_numpy(np.float64)
        idx = pd.DataFrame(
            {
                "key": s["key"].to_numpy()[first],
                "user_id": s["user_id"].to_numpy()[first],
                "windows": np.diff(st),
                "peak": np.maximum.reduceat(cal, first) if len(cal) else np.zeros(0),
                "flagged": np.add.reduceat((cal >= THRESHOLD).astype(np.int64), first)
                if len(cal) else np.zeros(0, np.int64),
            }
        )  # fmt: skip
        idx["event"] = idx["key"].isin(list(self._events))
        idx["lower"] = idx["key"].str.lower()
        return idx.sort_values(["peak", "key"], ascending=[False, True], kind="stable")

    def users(self, query: str = "", limit: int = 50, offset: int = 0) -> dict:
        """The picker: users whose id contains `query` (case-insensitive; an exact match
        first), most anomalous first."""
        idx = self.user_index
        q = query.strip().lower()
        if q:
            hit = idx[idx["lower"].str.contains(q, regex=False)]
            exact = hit["lower"] == q
            hit = pd.concat([hit[exact], hit[~exact]])
        else:
            hit = idx
        page = hit.iloc[offset : offset + limit]
        return _clean({
            "total": len(idx),
            "matched": len(hit),
            "offset": offset,
            "users": [
                {"user_id": u, "key": k, "windows": int(w), "peak": round(float(p), 4),
                 "flagged": int(f), "event": bool(e)}
                for k, u, w, p, f, e in zip(page["key"], page["user_id"], page["windows"],
                                            page["peak"], page["flagged"], page["event"],
                                            strict=True)
            ],
        })  # fmt: skip

    def has_user(self, key: str) -> bool:
        return str(key) in self._rows

    @cached_property
    def _columns(self) -> dict[str, np.ndarray]:
        s = self.scores
        return {
            "time": s["time"].to_numpy(np.int64),
            "window_start": s["window_start"].to_numpy(np.int64),
            "score": s["score"].to_numpy(np.float64),
            "calibrated": s["calibrated"].to_numpy(np.float64),
            "user_id": s["user_id"].to_numpy(),
        }

    def user(self, key: str, weights: bool = True) -> dict:
        """One user's series: each scored window (end time, start, raw and calibrated score,
        flagged), the episodes of consecutive flagged windows, the user's known events and
        the served blend's source weights at each point."""
        key = str(key)
        if key not in self._rows:
            raise KeyError(key)
        a, b = self._rows[key]
        col = {k: v[a:b] for k, v in self._columns.items()}
        cal = col["calibrated"]
        user_id = col["user_id"][0]
        out = {
            "user_id": user_id.item() if hasattr(user_id, "item") else user_id,
            "key": key,
            "time": col["time"].tolist(),
            "window_start": col["window_start"].tolist(),
            "score": rounded(col["score"], 5),
            "calibrated": rounded(cal),
            "flagged": (cal >= THRESHOLD).tolist(),
            "threshold": THRESHOLD,
            "episodes": episodes(col, THRESHOLD),
            "events": self._events.get(key, []),
        }
        if weights:
            out["weights"] = self.weights_of([key])[key]
        return out

    def weights_of(self, keys: list[str], chunk: int = 20_000) -> dict[str, dict]:
        """The served blend's source weights at each of these users' scored points, as the
        engine weighs them (`blend_weights`): from the point's calibrated score alone for the
        anomaly-aware rule and the fixed blend; the learned gate also reads the history each
        point was scored from (the user's interactions before the window's end)."""
        from adrec.recommender.history import history_of

        engine = self.engine
        log, bounds = engine.log, engine.bounds
        col = self._columns
        names = list(engine.sources.names)
        blends = engine.blends
        if blends.served in ("rule", "fixed"):
            out = {}
            for key in keys:
                a, b = self._rows[key]
                served = (blends.rule.weights(col["calibrated"][a:b]) if blends.served == "rule"
                          else np.tile(blends.fixed, (b - a, 1)))  # fmt: skip
                per_source = {n: rounded(served[:, j], 3) for j, n in enumerate(names)}
                out[key] = {"sources": names, "served": blends.served, **per_source}
            return out
        firsts = [self._rows[key][0] for key in keys]
        dense = log.users.index(col["user_id"][firsts]) if keys else np.zeros(0, np.int64)
        hist, spans = [], {}
        for key, u in zip(keys, dense.tolist(), strict=True):
            if u < 0:
                continue
            a, b = self._rows[key]
            lo, hi = int(bounds[u]), int(bounds[u + 1])
            times = log.time[lo:hi]
            point_times = col["time"][a:b]
            ends = lo + np.searchsorted(times, point_times, side="left")
            # the last point of the batch scoring is the user's whole history
            if hi > lo and point_times[-1] >= times[-1]:
                ends[-1] = hi
            spans[key] = (len(hist), len(hist) + b - a, a, b)
            hist += [history_of(log, u, lo, int(e), float(t))
                     for e, t in zip(ends.tolist(), point_times.tolist(), strict=True)]  # fmt: skip
        out = {k: {"sources": names, "served": engine.blends.served,
                   **{n: [] for n in names}} for k in keys}  # fmt: skip
        if not hist:
            return out
        rows = np.concatenate([np.arange(a, b) for _, _, a, b in spans.values()])
        calibrated, scores = col["calibrated"][rows], col["score"][rows]
        served = np.zeros((len(hist), len(names)))
        for lo in range(0, len(hist), chunk):
            sl = slice(lo, lo + chunk)
            anomaly = {"score": scores[sl], "calibrated": calibrated[sl],
                       "has_window": np.ones(len(hist[sl]), bool)}  # fmt: skip
            served[sl] = engine.blend_weights(hist[sl], anomaly)["served"]
        for key, (a, b, _, _) in spans.items():
            for j, name in enumerate(names):
                out[key][name] = rounded(served[a:b, j], 3)
        return out

    # -- accuracy over time ----------------------------------------------------------------
    def accuracy(self, compute: bool = True) -> dict | None:
        """NDCG@10 / HR@10 per period of the run's test targets, all and shifting, with
        intervals; None when not computed yet and `compute` is False."""
        if self._accuracy is not None:
            return self._accuracy
        # without `compute`, never wait for a computation under way
        if not self._accuracy_lock.acquire(blocking=compute):
            return None
        try:
            if self._accuracy is None:
                points = self._test_targets(compute)
                if points is None:
                    return None
                from adrec.dashboard.accuracy import accuracy_over_time

                acc = accuracy_over_time(points, seed=int(self.report.get("seed", 0)))
                self._accuracy = _clean({**acc, "split": self._split()[0],
                                         "targets_per_user": self._split()[1]})  # fmt: skip
            return self._accuracy
        finally:
            self._accuracy_lock.release()

    def _split(self) -> tuple[str, int]:
        cfg = self.report.get("config", {})
        return cfg.get("split", "leave_last_out"), int(cfg.get("targets_per_user", 5))

    def _test_targets(self, compute: bool) -> pd.DataFrame | None:
        path = self.root / CACHE_DIR / ACCURACY_CACHE
        if path.exists() and path.stat().st_mtime >= (self.root / "engine.json").stat().st_mtime:
            return pd.read_parquet(path)
        if not compute:
            return None
        from adrec.dashboard.accuracy import score_test_targets

        kind, per_user = self._split()
        k = int(self.report.get("config", {}).get("k", 10))
        points = score_test_targets(self.engine, kind, per_user, k)
        try:  # a cache: a read-only run directory only means computing again next time
            path.parent.mkdir(exist_ok=True)
            points.to_parquet(path, index=False)
        except OSError:
            pass
        return points

    def warm(self) -> threading.Thread:
        """Read the scores, load the engine and compute the accuracy in a background thread,
        so the page's first look does not wait for them."""

        def work():
            try:
                self.summary(), self.population(), self.user_index  # noqa: B018 - caches
                self.accuracy()
                self.accuracy_error = None
            except Exception as exc:  # noqa: BLE001 - the accuracy endpoint reports it
                self.accuracy_error = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=work, name="adrec-dashboard-warm", daemon=True)
        thread.start()
        return thread
