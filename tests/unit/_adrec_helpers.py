"""Small builders shared by the unit tests (imported as a plain module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_events(rows: list[tuple]) -> pd.DataFrame:
    """Events from (user_id, timestamp, item_id, category, action, value) tuples."""
    df = pd.DataFrame(
        rows, columns=["user_id", "timestamp", "item_id", "category", "action", "value"]
    )
    df["timestamp"] = pd.to_datetime(df["timestamp"]).astype("datetime64[s]")
    df["value"] = df["value"].astype("float64")
    return df


def normal_windows(n: int = 200, days: int = 7, features: int = 5, seed: int = 0) -> np.ndarray:
    """Smooth, correlated 'normal' windows [n, days, features] (float32)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0.0, 1.0, size=(n, 1, features))
    noise = rng.normal(0.0, 0.3, size=(n, days, features))
    return (level + noise).astype(np.float32)


def interactions_from_events(events: pd.DataFrame, with_categories: bool = True):
    """The simulator's events (user_id, timestamp, item_id, category, action, value) as the
    in-memory log the fit step reads (what the tabular reader gives for them)."""
    from adrec.data.interactions import build_interactions

    frame = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy(),
            "item_id": events["item_id"].to_numpy(),
            "timestamp": pd.to_datetime(events["timestamp"]).astype("int64").to_numpy() // 10**9,
            "action": events["action"].to_numpy(),
            "value": events["value"].to_numpy(np.float64),
            "order": np.arange(len(events)),
        }
    )
    if with_categories:
        frame["category"] = [[c] for c in events["category"]]
    return build_interactions(frame, {"source": "simulator"})


def tiny_fit_config(**changes):
    """A fit configuration small enough for unit tests (seconds)."""
    from adrec.recommender.config import FitConfig

    settings = dict(
        detector="iforest", windows="interactions", features="all", window=5, min_profile=5,
        trending_days=(7.0,), gate_epochs=30, grid_step=0.25, min_fit_windows=10,
        min_calib_windows=5,
    )  # fmt: skip
    cfg = FitConfig(**{**settings, **changes})
    # Plain chunks (stride None), not the default's overlapping windows: a quarter of the
    # training steps, and these tests check behaviour, not accuracy.
    return cfg.with_long_term(dim=16, n_layers=1, max_len=20, max_epochs=2, batch_size=64,
                              stride=None)  # fmt: skip
