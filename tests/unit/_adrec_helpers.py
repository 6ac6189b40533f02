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
