"""Ray Data pipelines over the Parquet behaviour logs.

Each stage shards the log by user (groupby user_id) and applies the same pure functions of
adrec.data that the in-process path and the served detector use."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import ray
import ray.data
from ray.data.expressions import col

from adrec.data.behavior import DaySplit, WindowSpec, user_windows
from adrec.data.logs import events_dir
from adrec.data.schema import EVENT_COLUMNS
from adrec.recommender.sequences import item_histories, training_examples

# Half a CPU per data task: a whole CPU can starve (and deadlock) data tasks that run beside
# training workers on a small cluster, while smaller fractions start many worker processes
# at once, which costs more than it gains on 2 cores.
READ_CPUS = 0.5


def read_events(logs_dir: str) -> ray.data.Dataset:
    # Ray Data's DataSource V2 Parquet reader starts FooterReader actors per read: reading 56
    # small daily files took 47 s instead of 0.7 s with the V1 reader on 2 cores. adrec uses
    # V1 unless RAY_DATA_USE_DATASOURCE_V2=1; set on the context, since Ray reads the variable
    # only when ray.data is first imported.
    v2 = os.environ.get("RAY_DATA_USE_DATASOURCE_V2", "0").lower() in ("1", "true")
    ray.data.DataContext.get_current().use_datasource_v2 = v2
    return ray.data.read_parquet(
        str(events_dir(logs_dir)),
        columns=list(EVENT_COLUMNS),
        partitioning=None,
        num_cpus=READ_CPUS,
    )


@dataclass(frozen=True)
class LogSummary:
    n_events: int
    n_users: int
    categories: tuple[str, ...]
    first_day: str
    n_days: int


def summarize(events: ray.data.Dataset) -> LogSummary:
    """One pass over the log: size, categories and the covered days."""
    stats = events.map_batches(_batch_summary, batch_format="pandas", num_cpus=READ_CPUS)
    parts = stats.take_all()
    if not parts:
        raise ValueError("the event log is empty")
    first = min(p["first"] for p in parts)
    last = max(p["last"] for p in parts)
    categories = sorted({c for p in parts for c in p["categories"]})
    n_users = events.select_columns(["user_id"]).unique("user_id")
    return LogSummary(
        n_events=int(sum(p["n"] for p in parts)),
        n_users=len(n_users),
        categories=tuple(categories),
        first_day=pd.Timestamp(first).strftime("%Y-%m-%d"),
        n_days=(pd.Timestamp(last).normalize() - pd.Timestamp(first).normalize()).days + 1,
    )


def _batch_summary(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [len(df)],
            "first": [df["timestamp"].min()],
            "last": [df["timestamp"].max()],
            "categories": [sorted(df["category"].unique().tolist())],
        }
    )


def _by_user(events: ray.data.Dataset, num_partitions: int):
    return events.groupby("user_id", num_partitions=num_partitions)


def behaviour_windows(
    events: ray.data.Dataset, spec: WindowSpec, split: DaySplit, num_partitions: int = 4
) -> ray.data.Dataset:
    """Rows: user_id, end_day, split ("fit" / "calib" / "test"), window [W, F] float32 and
    the user's profile [F]."""
    return _by_user(events, num_partitions).map_groups(
        _windows_of_user,
        fn_kwargs={"spec": spec, "split": split},
        batch_format="pandas",
        num_cpus=READ_CPUS,
    )


def _windows_of_user(df: pd.DataFrame, spec: WindowSpec, split: DaySplit) -> dict:
    w = user_windows(df, spec, split)
    return {
        "user_id": np.full(len(w["end_day"]), df["user_id"].iloc[0], np.int64),
        **w,
        "split": w["split"].astype(str),
    }


def profiles(windows: ray.data.Dataset, window_days: int) -> dict[int, np.ndarray]:
    """Each user's profile, read off their first window (every profiled user has one)."""
    first = windows.filter(expr=col("end_day") == window_days - 1)
    out = {}
    for batch in first.select_columns(["user_id", "profile"]).iter_batches(batch_format="numpy"):
        out.update(zip(batch["user_id"].tolist(), batch["profile"], strict=True))
    return out


def column(ds: ray.data.Dataset, name: str) -> np.ndarray:
    """One column of a (small) dataset as a single array, read batch by batch."""
    parts = [b[name] for b in ds.select_columns([name]).iter_batches(batch_format="numpy")]
    return np.concatenate(parts) if parts else np.zeros(0)


def sequence_examples(
    events: ray.data.Dataset, spec: WindowSpec, cut_day: int, max_len: int, num_partitions: int = 4
) -> ray.data.Dataset:
    """SASRec training rows from events before `cut_day`: user_id, input, target [max_len]
    and is_last (the chunk that ends with the user's latest items)."""
    return _by_user(events, num_partitions).map_groups(
        _examples_of_user,
        fn_kwargs={"spec": spec, "cut_day": cut_day, "max_len": max_len},
        batch_format="pandas",
        num_cpus=READ_CPUS,
    )


def _examples_of_user(df: pd.DataFrame, spec: WindowSpec, cut_day: int, max_len: int) -> dict:
    before = df[spec.day_index(df["timestamp"]) < cut_day]
    items = item_histories(before).get(int(df["user_id"].iloc[0]), np.zeros(0, np.int64))
    ex = training_examples(items, max_len)
    n = len(ex["input"])
    return {
        "user_id": np.full(n, df["user_id"].iloc[0], np.int64),
        **ex,
        "is_last": np.arange(n) == 0,  # training_examples emits the latest chunk first
    }


def item_counts(
    events: ray.data.Dataset, spec: WindowSpec, cut_day: int, num_partitions: int = 4
) -> pd.DataFrame:
    """item_id, category, count: interactions before `cut_day` (items seen only later count 0)."""

    def mark(df: pd.DataFrame) -> pd.DataFrame:
        before = spec.day_index(df["timestamp"]) < cut_day
        return pd.DataFrame(
            {"item_id": df["item_id"], "category": df["category"], "count": before.astype(np.int64)}
        )

    counted = events.map_batches(mark, batch_format="pandas", num_cpus=READ_CPUS)
    grouped = counted.groupby(["item_id", "category"], num_partitions=num_partitions)
    out = grouped.sum("count").to_pandas()
    out = out.rename(columns={"sum(count)": "count"}).sort_values("item_id")
    return out.drop_duplicates("item_id").reset_index(drop=True)


def moment_sums(windows: ray.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over every day of every window, computed shard by shard."""

    def sums(batch: dict) -> dict:
        flat = batch["window"].reshape(-1, batch["window"].shape[-1]).astype(np.float64)
        return {"n": np.array([len(flat)]), "s1": flat.sum(0)[None], "s2": (flat**2).sum(0)[None]}

    parts = windows.map_batches(sums, batch_format="numpy", num_cpus=READ_CPUS).take_all()
    n = sum(int(p["n"]) for p in parts)
    s1 = np.sum([p["s1"] for p in parts], axis=0)
    s2 = np.sum([p["s2"] for p in parts], axis=0)
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)
