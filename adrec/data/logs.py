"""Behaviour logs on disk: date-partitioned Parquet plus the simulator's side files.

Layout of a data directory:
    events/date=YYYY-MM-DD/<part>.parquet   the event log (EVENT_SCHEMA)
    catalog.parquet                          item_id, category, price
    life_events.parquet                      ground truth of planted life events (simulated data)
    simulation.json                          the simulator's configuration
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adrec.data.schema import EVENT_SCHEMA, validate_events


def events_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "events"


def write_event_log(events: pd.DataFrame, data_dir: str | Path, part: str = "part-0") -> int:
    """Write `events` as one file `<part>.parquet` per day (replacing a file of the same part
    and day; use distinct parts to add to a log); returns the number of files written."""
    events = validate_events(events)
    root = events_dir(data_dir)
    written = 0
    for date, day in events.groupby(events["timestamp"].dt.strftime("%Y-%m-%d"), sort=True):
        out = root / f"date={date}"
        out.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(
            day.sort_values(["user_id", "timestamp"]), schema=EVENT_SCHEMA, preserve_index=False
        )
        pq.write_table(table, out / f"{part}.parquet")
        written += 1
    return written


def read_event_log(data_dir: str | Path) -> pd.DataFrame:
    """Read the whole log in-process (small data; the Ray pipeline reads large logs)."""
    files = sorted(events_dir(data_dir).rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files under {events_dir(data_dir)}")
    tables = [pq.read_table(f, schema=EVENT_SCHEMA) for f in files]
    return validate_events(pa.concat_tables(tables).to_pandas())


def write_side_files(
    data_dir: str | Path, catalog: pd.DataFrame, truth: pd.DataFrame, config: dict
) -> None:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    catalog.to_parquet(data_dir / "catalog.parquet", index=False)
    truth.to_parquet(data_dir / "life_events.parquet", index=False)
    (data_dir / "simulation.json").write_text(json.dumps(config, indent=2))


def read_catalog(data_dir: str | Path) -> pd.DataFrame:
    return pd.read_parquet(Path(data_dir) / "catalog.parquet")


def read_life_events(data_dir: str | Path) -> pd.DataFrame | None:
    path = Path(data_dir) / "life_events.parquet"
    return pd.read_parquet(path) if path.exists() else None
