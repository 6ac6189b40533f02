"""Recommendation accuracy over time, from a run directory alone.

The run's test targets (recomputed from its log and split settings: the fit step never read
them) are scored through the saved engine, one row per target with HR@10 and NDCG@10 of
each blend (full ranking, the user's seen items excluded), the user, the target's time and
whether the user was shifting then (calibrated anomaly score >= 0.5 at prediction time, as
in `adrec bench recommend`). The rows are then grouped by period (day, week or month, by
the span of the targets) with 95% intervals from a bootstrap that resamples users, not
targets: one user's targets are not independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VARIANTS = ("best fixed blend", "anomaly-aware rule", "learned gate")
METRICS = ("ndcg@10", "hr@10")
SHIFT_LEVEL = 0.5
GROUPS = ("all", "shifting")


def score_test_targets(engine, split_kind: str, targets_per_user: int, k: int = 10,
                       chunk: int = 2000) -> pd.DataFrame:  # fmt: skip
    """One row per test target: user (dense index), time (unix s), calibrated, shifting,
    and `<metric>|<variant>` for every metric and every variant the run has."""
    from adrec.data.splits import split_log
    from adrec.metrics.ranking import full_ranks, hit_ndcg
    from adrec.recommender.history import histories_at
    from adrec.recommender.tuning import mixed

    points = split_log(engine.log, split_kind, targets_per_user).test
    parts = []
    for lo in range(0, len(points), chunk):
        part = points.subset(np.arange(lo, min(lo + chunk, len(points))))
        hist = histories_at(engine.log, part)
        anomaly = engine.anomaly(hist)
        probs = engine.sources.probs(hist)
        weights = engine.blend_weights(hist, anomaly)
        seen = [h.items for h in hist]
        frame = {"user": part.user, "time": part.time, "calibrated": anomaly["calibrated"]}
        for variant in VARIANTS:
            if variant in weights:
                ranks = full_ranks(mixed(probs, weights[variant]), part.target, seen)
                hit, ndcg = hit_ndcg(ranks, k)
                frame[f"hr@10|{variant}"], frame[f"ndcg@10|{variant}"] = hit, ndcg
        parts.append(pd.DataFrame(frame))
    out = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"user": [], "time": [], "calibrated": []})
    )
    out["shifting"] = out["calibrated"].to_numpy(np.float64) >= SHIFT_LEVEL
    return out


def choose_period(times: np.ndarray) -> str:
    """day, week or month: the finest that gives at most about 20 periods."""
    if len(times) == 0:
        return "day"
    span_days = (float(np.max(times)) - float(np.min(times))) / 86_400
    return "day" if span_days <= 20 else "week" if span_days <= 140 else "month"


def period_starts(times: np.ndarray, period: str) -> pd.DatetimeIndex:
    """The start of each time's period (UTC): the day, the Monday of its week, the month."""
    dt = pd.to_datetime(np.asarray(times, np.int64), unit="s")
    days = dt.normalize()
    if period == "day":
        return pd.DatetimeIndex(days)
    if period == "week":
        return pd.DatetimeIndex(days - pd.to_timedelta(days.day_of_week, unit="D"))
    if period == "month":
        return pd.DatetimeIndex(days.to_period("M").to_timestamp())
    raise ValueError(f"period must be day, week or month, got {period!r}")


def user_bootstrap(values: np.ndarray, users: np.ndarray, n_boot: int, rng,
                   level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Mean of each column of `values` [n, m] and its percentile interval from resampling
    users with replacement (each resampled user brings all of their rows)."""
    values = np.asarray(values, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    mean = values.mean(0) if len(values) else np.full(values.shape[1], np.nan)
    _, inverse = np.unique(users, return_inverse=True)
    n_users = int(inverse.max()) + 1 if len(inverse) else 0
    if n_users < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    sums = np.zeros((n_users, values.shape[1]))
    np.add.at(sums, inverse, values)
    counts = np.bincount(inverse, minlength=n_users).astype(np.float64)
    # how often each user is drawn in each resample: [n_boot, n_users]
    draws = rng.multinomial(n_users, np.full(n_users, 1.0 / n_users), size=n_boot)
    means = (draws @ sums) / (draws @ counts)[:, None]
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    return mean, low, high


def _round(a, digits: int = 4) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(a)]


def accuracy_over_time(points: pd.DataFrame, period: str | None = None, n_boot: int = 500,
                       seed: int = 0) -> dict:  # fmt: skip
    """Per period and group (all targets, shifting targets): targets, users and, per metric
    and variant, the mean with a 95% user-resampling interval; the same over the whole test
    period in `overall`."""
    variants = [v for v in VARIANTS if f"ndcg@10|{v}" in points]
    columns = [f"{m}|{v}" for m in METRICS for v in variants]
    times = points["time"].to_numpy(np.int64)
    period = period or choose_period(times)
    starts = period_starts(times, period)
    labels = sorted(set(starts))
    rng = np.random.default_rng(seed)
    users = points["user"].to_numpy()
    shifting = points["shifting"].to_numpy(bool)
    values = points[columns].to_numpy(np.float64) if columns else np.zeros((len(points), 0))

    def summarise(mask: np.ndarray) -> dict:
        mean, low, high = user_bootstrap(values[mask], users[mask], n_boot, rng)
        out = {"targets": int(mask.sum()), "users": int(len(np.unique(users[mask])))}
        for j, col in enumerate(columns):
            metric, variant = col.split("|")
            out.setdefault(metric, {})[variant] = [mean[j], low[j], high[j]]
        return out

    groups = {}
    for group in GROUPS:
        in_group = shifting if group == "shifting" else np.ones(len(points), bool)
        rows = [summarise(in_group & (starts == p)) for p in labels]
        whole = summarise(in_group)
        groups[group] = {
            "targets": [r["targets"] for r in rows],
            "users": [r["users"] for r in rows],
            **{
                metric: {
                    v: {
                        key: _round([r[metric][v][i] if metric in r else np.nan for r in rows])
                        for i, key in enumerate(("mean", "low", "high"))
                    }
                    for v in variants
                }
                for metric in METRICS
            },
            "overall": {
                "targets": whole["targets"],
                "users": whole["users"],
                **{m: {v: _round(whole[m][v]) for v in variants} for m in METRICS if m in whole},
            },
        }
    fmt = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}[period]
    return {
        "period": period,
        "periods": [p.strftime(fmt) for p in labels],
        "variants": variants,
        "metrics": list(METRICS),
        "groups": groups,
        "shift_level": SHIFT_LEVEL,
        "bootstrap": {"resamples": n_boot, "level": 0.95, "unit": "user"},
    }
