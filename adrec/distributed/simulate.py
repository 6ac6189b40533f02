"""Simulate behaviour logs in parallel: one Ray task per shard of users, each writing its own
Parquet part files. The result does not depend on the number of shards (per-user seeds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import ray

from adrec.data.logs import events_dir, write_event_log, write_side_files
from adrec.data.simulator import Catalog, SimulationConfig, make_catalog, simulate_users


@ray.remote(num_cpus=0.5)
def _simulate_shard(
    config: SimulationConfig, catalog: Catalog, users: np.ndarray, data_dir: str, part: str
) -> tuple[pd.DataFrame, int]:
    events, truth = simulate_users(config, users, catalog)
    write_event_log(events, data_dir, part=part)
    return truth, len(events)


def simulate_to_parquet(config: SimulationConfig, data_dir: str | Path, n_shards: int = 4) -> dict:
    """Write a simulated log under `data_dir` (replacing an earlier one); returns a summary."""
    data_dir = Path(data_dir)
    if events_dir(data_dir).exists():
        shutil.rmtree(events_dir(data_dir))
    catalog = make_catalog(config)
    shards = np.array_split(np.arange(1, config.n_users + 1), max(1, n_shards))
    refs = [
        _simulate_shard.remote(config, catalog, users, str(data_dir), f"part-{i:04d}")
        for i, users in enumerate(shards)
        if len(users)
    ]
    results = ray.get(refs)
    truth = pd.concat([t for t, _ in results], ignore_index=True).sort_values("user_id")
    write_side_files(data_dir, catalog.frame(), truth, config.to_dict())
    return {
        "events": sum(n for _, n in results),
        "users": config.n_users,
        "life_events": len(truth),
        "days": config.n_days,
    }
