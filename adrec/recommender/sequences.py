"""Training examples for sequence models from chronological item histories."""

from __future__ import annotations

import numpy as np
import pandas as pd


def item_histories(events: pd.DataFrame) -> dict[int, np.ndarray]:
    """Each user's items in time order. Ties in timestamp break by the log's row order
    (stable sort), which is deterministic for a given log."""
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable")
    return {int(u): g.to_numpy(np.int64) for u, g in ordered.groupby("user_id")["item_id"]}


def training_examples(items: np.ndarray, max_len: int) -> dict[str, np.ndarray]:
    """Input / next-item target pairs of one user's history, cut into chunks of `max_len`
    positions from the end and left-padded with 0: {"input", "target"} each [n, max_len]."""
    items = np.asarray(items, dtype=np.int64)
    inputs, targets = [], []
    end = len(items)
    while end >= 2:
        start = max(0, end - max_len - 1)
        chunk = items[start:end]
        pad = max_len + 1 - len(chunk)
        chunk = np.concatenate([np.zeros(pad, np.int64), chunk])
        inputs.append(chunk[:-1])
        targets.append(np.where(chunk[:-1] > 0, chunk[1:], 0))  # no target after padding
        end = start + 1 if start > 0 else 0
    if not inputs:
        return {
            "input": np.zeros((0, max_len), np.int64),
            "target": np.zeros((0, max_len), np.int64),
        }
    return {"input": np.stack(inputs), "target": np.stack(targets)}
