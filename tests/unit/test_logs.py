"""Event logs on disk and schema validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _adrec_helpers import make_events

from adrec.data.logs import (
    events_dir,
    read_catalog,
    read_event_log,
    read_life_events,
    write_event_log,
    write_side_files,
)
from adrec.data.schema import EVENT_COLUMNS, SchemaError, validate_events

SORT = ["user_id", "timestamp", "item_id", "category", "action", "value"]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(SORT, kind="stable").reset_index(drop=True)


def test_write_then_read_gives_the_same_rows(tmp_path, tiny_sim):
    events = tiny_sim[0]
    n_files = write_event_log(events, tmp_path)
    n_dates = events["timestamp"].dt.normalize().nunique()
    assert n_files == n_dates
    files = sorted(events_dir(tmp_path).rglob("*.parquet"))
    assert len(files) == n_dates
    assert all(f.parent.name.startswith("date=") and f.name == "part-0.parquet" for f in files)
    back = read_event_log(tmp_path)
    assert tuple(back.columns) == EVENT_COLUMNS
    assert back["timestamp"].dtype == np.dtype("datetime64[s]")
    pd.testing.assert_frame_equal(_sorted(back), _sorted(events))


def test_each_day_file_holds_only_that_day(tmp_path):
    events = make_events(
        [
            (2, "2026-01-02 23:59:59", 5, "books", "view", 0.0),
            (1, "2026-01-02 00:00:00", 3, "toys", "purchase", 9.5),
            (1, "2026-01-03 00:00:01", 4, "toys", "cart", 0.0),
        ]
    )
    assert write_event_log(events, tmp_path) == 2
    day2 = pd.read_parquet(events_dir(tmp_path) / "date=2026-01-02" / "part-0.parquet")
    assert sorted(day2["user_id"]) == [1, 2]
    # Inside a day file rows are sorted by user then time.
    assert list(day2["user_id"]) == [1, 2]
    day3 = pd.read_parquet(events_dir(tmp_path) / "date=2026-01-03" / "part-0.parquet")
    assert list(day3["item_id"]) == [4]


def test_parts_with_different_names_are_all_read(tmp_path):
    a = make_events([(1, "2026-01-01 10:00", 1, "books", "view", 0.0)])
    b = make_events([(2, "2026-01-01 11:00", 2, "toys", "view", 0.0)])
    write_event_log(a, tmp_path, part="shard-0")
    write_event_log(b, tmp_path, part="shard-1")
    back = read_event_log(tmp_path)
    assert sorted(back["user_id"]) == [1, 2]


def test_read_of_an_empty_log_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="events"):
        read_event_log(tmp_path)


def test_side_files_round_trip(tmp_path, tiny_config, tiny_sim):
    _, truth, catalog = tiny_sim
    write_side_files(tmp_path / "data", catalog.frame(), truth, tiny_config.to_dict())
    pd.testing.assert_frame_equal(read_catalog(tmp_path / "data"), catalog.frame())
    back = read_life_events(tmp_path / "data")
    assert back is not None
    assert list(back["user_id"]) == list(truth["user_id"])
    assert list(back["event_day"]) == list(truth["event_day"])
    assert read_life_events(tmp_path / "nowhere") is None


def _good() -> pd.DataFrame:
    return make_events(
        [
            (1, "2026-01-01 10:00", 1, "books", "view", 0.0),
            (1, "2026-01-01 11:00", 2, "toys", "purchase", 12.5),
        ]
    )


def test_validate_returns_schema_columns_and_dtypes():
    df = _good()
    df["extra"] = 1
    df = df[["value", "extra", "action", "category", "item_id", "timestamp", "user_id"]]
    df["user_id"] = df["user_id"].astype("int32")
    out = validate_events(df)
    assert tuple(out.columns) == EVENT_COLUMNS
    assert out["user_id"].dtype == np.int64 and out["item_id"].dtype == np.int64
    assert out["timestamp"].dtype == np.dtype("datetime64[s]")
    assert out["value"].dtype == np.float64
    # A copy: the input is not modified.
    assert "extra" in df.columns and df["user_id"].dtype == np.int32


@pytest.mark.parametrize("column", EVENT_COLUMNS)
def test_validate_names_a_missing_column(column):
    with pytest.raises(SchemaError, match=column):
        validate_events(_good().drop(columns=[column]))


def test_validate_names_the_column_with_a_null():
    df = _good()
    df["category"] = df["category"].astype(object)
    df.loc[1, "category"] = None
    with pytest.raises(SchemaError, match="category"):
        validate_events(df)


def test_validate_rejects_an_unknown_action():
    df = _good()
    df.loc[0, "action"] = "click"
    with pytest.raises(SchemaError, match="click"):
        validate_events(df)


def test_validate_rejects_a_negative_value():
    df = _good()
    df.loc[1, "value"] = -0.01
    with pytest.raises(SchemaError, match="value"):
        validate_events(df)


def test_schema_error_is_a_value_error():
    assert issubclass(SchemaError, ValueError)
