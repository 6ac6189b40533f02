"""The behaviour-event schema shared by the simulator, the pipelines and the HTTP API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

ACTIONS = ("view", "cart", "purchase")

EVENT_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("timestamp", pa.timestamp("s"), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)
EVENT_COLUMNS = tuple(EVENT_SCHEMA.names)


def category_codes(values: pd.Series, categories: tuple[str, ...] | list[str]) -> np.ndarray:
    """Index of each value in `categories`, -1 for values outside them."""
    values = pd.Series(values, dtype=object)
    known = values.where(values.isin(list(categories)))
    return pd.Categorical(known, categories=list(categories)).codes.astype(np.int64)


class SchemaError(ValueError):
    """Raised when an event table does not follow EVENT_SCHEMA."""


def validate_events(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `df` with the schema's columns and dtypes, or raise SchemaError.

    Rows with a null field, a negative value or an unknown action are errors rather than
    silently dropped: callers that accept partial input must filter before calling this.
    """
    missing = [c for c in EVENT_COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(f"event table lacks column(s): {', '.join(missing)}")
    out = df.loc[:, list(EVENT_COLUMNS)].copy()
    nulls = out.isna().any()
    if nulls.any():
        raise SchemaError(f"null values in column(s): {', '.join(nulls[nulls].index)}")
    out["user_id"] = out["user_id"].astype("int64")
    out["item_id"] = out["item_id"].astype("int64")
    out["timestamp"] = pd.to_datetime(out["timestamp"]).astype("datetime64[s]")
    out["category"] = out["category"].astype(str)
    out["action"] = out["action"].astype(str)
    out["value"] = out["value"].astype("float64")
    bad_actions = sorted(set(out["action"]) - set(ACTIONS))
    if bad_actions:
        raise SchemaError(f"unknown action(s) {bad_actions}; expected one of {list(ACTIONS)}")
    if (out["value"] < 0).any():
        raise SchemaError("column value must be >= 0")
    return out
