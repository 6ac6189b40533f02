"""validate_batch: the canonical frame, time formats, and one test per reject reason with exact
counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from adrec.data.interactions import CANONICAL_COLUMNS
from adrec.data.validate import REASONS, Columns, parse_times, validate_batch

DAY = 1_393_977_600  # 2014-03-05T00:00:00Z


def _frame(n: int, **cols) -> pd.DataFrame:
    base = {
        "user_id": [f"u{i}" for i in range(n)],
        "item_id": list(range(n)),
        "timestamp": [DAY + i for i in range(n)],
    }
    return pd.DataFrame({**base, **cols})


def _only(counts: dict[str, int], **expected) -> None:
    assert counts == {r: expected.get(r, 0) for r in REASONS}


@pytest.mark.parametrize("dtype", [object, "str"])
def test_missing_user(dtype):
    df = _frame(5, user_id=pd.Series(["a", None, " ", "", "b"], dtype=dtype))
    out, counts = validate_batch(df, Columns(), 0)
    _only(counts, missing_user=3)
    assert out["user_id"].tolist() == ["a", "b"] and out["order"].tolist() == [0, 4]


def test_missing_item():
    df = _frame(4, item_id=pd.Series([1, None, 3, None], dtype="Int64"))
    out, counts = validate_batch(df, Columns(), 10)
    _only(counts, missing_item=2)
    assert out["item_id"].tolist() == [1, 3] and out["order"].tolist() == [10, 12]
    assert out["item_id"].dtype == np.int64


def test_missing_timestamp():
    df = _frame(4, timestamp=["2014-03-05", None, "  ", "1394000000"])
    _only(validate_batch(df, Columns(), 0)[1], missing_timestamp=2)


def test_bad_timestamp():
    df = _frame(5, timestamp=["yesterday", "2014-13-45", "05/03/2014", "nan", "2014-03-05"])
    out, counts = validate_batch(df, Columns(), 0)
    _only(counts, bad_timestamp=4)
    assert out["timestamp"].tolist() == [DAY]


def test_timestamp_out_of_range():
    df = _frame(
        6,
        timestamp=["1969-12-31T23:59:59", "2100-01-01T00:00:01", "2500-01-01", "-5", "0",
                   "2100-01-01"],
    )  # fmt: skip
    out, counts = validate_batch(df, Columns(), 0)
    _only(counts, timestamp_out_of_range=4)
    assert out["timestamp"].tolist() == [0, 4_102_444_800]


def test_bad_value():
    df = _frame(6, value=["4.5", "x", "inf", "", None, "1e400"])
    out, counts = validate_batch(df, Columns(), 0)
    _only(counts, bad_value=3)
    assert out["value"].tolist()[0] == 4.5 and np.isnan(out["value"].tolist()[1:]).all()


def test_a_row_with_several_problems_counts_once_under_its_first_reason():
    df = pd.DataFrame(
        {
            "user_id": [None, "u", "u", "u"],
            "item_id": [None, None, "i", "i"],
            "timestamp": ["junk", "junk", "junk", "2014-03-05"],
            "value": ["x", "x", "x", "x"],
        }
    )
    out, counts = validate_batch(df, Columns(), 0)
    _only(counts, missing_user=1, missing_item=1, bad_timestamp=1, bad_value=1)
    assert len(out) + sum(counts.values()) == len(df)


def test_rows_in_equals_rows_used_plus_rejected_on_a_random_mess():
    rng = np.random.default_rng(0)
    n = 2000
    pool_t = np.array(["2014-03-05", "junk", None, "1394000000", "1800-01-01", "", "7e12"], object)
    df = pd.DataFrame(
        {
            "user_id": rng.choice(np.array(["a", "b", None, " "], object), n),
            "item_id": rng.choice(np.array([1, 2, None], object), n),
            "timestamp": rng.choice(pool_t, n),
            "value": rng.choice(np.array(["1", "x", None, "2.5"], object), n),
        }
    )
    out, counts = validate_batch(df, Columns(), 0)
    assert len(out) + sum(counts.values()) == n
    assert all(counts[r] > 0 for r in REASONS)


def test_the_canonical_frame():
    df = pd.DataFrame(
        {
            "uid": ["u1", "u2"],
            "iid": [7, 8],
            "when": ["2014-03-05", "2014-03-05T10:00:00+02:00"],
            "genres": ["Drama|Comedy", " "],
            "kind": [" view", None],
            "stars": [4, 5],
            "other": ["ignored", "ignored"],
        }
    )
    cols = Columns("uid", "iid", "when", "genres", "kind", "stars", category_sep="|")
    out, counts = validate_batch(df, cols, 100)
    assert list(out.columns) == list(CANONICAL_COLUMNS)
    assert out["user_id"].tolist() == ["u1", "u2"] and out["item_id"].tolist() == [7, 8]
    assert out["timestamp"].tolist() == [DAY, DAY + 8 * 3600]
    assert out["timestamp"].dtype == np.int64
    assert out["category"].tolist() == [["Drama", "Comedy"], None]
    assert out["action"].tolist() == ["view", None]
    assert out["value"].tolist() == [4.0, 5.0] and out["order"].tolist() == [100, 101]
    _only(counts)


def test_absent_optional_columns():
    out, _ = validate_batch(_frame(2), Columns(), 0)
    assert out["category"].tolist() == [None, None] and out["action"].tolist() == [None, None]
    assert out["value"].isna().all()
    out, _ = validate_batch(_frame(2, category=["a", "b"]), Columns(category=None), 0)
    assert out["category"].tolist() == [None, None]


def test_list_categories():
    df = _frame(3, category=[["a", " b", ""], np.array(["c"]), None])
    out, _ = validate_batch(df, Columns(), 0)
    assert out["category"].tolist() == [["a", "b"], ["c"], None]


@pytest.mark.parametrize(
    ("values", "unit", "expected"),
    [
        ([DAY, DAY + 0.9], "s", [DAY, DAY]),
        ([DAY * 1000 + 999], "ms", [DAY]),
        (["1393977600", " 1393977600.5 "], "s", [DAY, DAY]),
        (["1393977600123"], "ms", [DAY]),
        (["2014-03-05", "2014-03-05 00:00:00", "2014-03-05T01:00:00+01:00"], "s", [DAY] * 3),
        (["2014-03-05T00:00:00Z", "2014-03-05T00:00:00.999"], "s", [DAY, DAY]),
        ([dt.date(2014, 3, 5), dt.datetime(2014, 3, 5), pd.Timestamp("2014-03-05")], "s",
         [DAY] * 3),
        ([pd.Timestamp("2014-03-05 01:00", tz="Europe/Paris"), DAY, "2014-03-05"], "s",
         [DAY] * 3),
    ],
)  # fmt: skip
def test_time_formats(values, unit, expected):
    seconds, missing, bad, out = parse_times(pd.Series(values, dtype=object), unit)
    assert seconds.tolist() == expected and not (missing | bad | out).any()


def test_datetime_columns_of_any_unit_and_zone():
    naive = pd.Series(pd.to_datetime(["2014-03-05", None]))
    for s in (naive, naive.astype("datetime64[s]"), naive.dt.tz_localize("Asia/Tokyo")):
        seconds, missing, _, _ = parse_times(s)
        shift = 9 * 3600 if getattr(s.dtype, "tz", None) is not None else 0
        assert seconds[0] == DAY - shift and missing.tolist() == [False, True]


def test_a_missing_required_column_names_the_file_and_the_columns_it_has():
    with pytest.raises(ValueError, match=r"events\.csv.*'item_id'.*\['user_id', 'timestamp'\]"):
        validate_batch(_frame(1).drop(columns="item_id"), Columns(), 0, "events.csv")
    # an optional column named explicitly must exist too
    with pytest.raises(ValueError, match="'rating'"):
        validate_batch(_frame(1), Columns(value="rating"), 0, "x.parquet")


def test_columns_are_checked():
    with pytest.raises(ValueError, match="time_unit"):
        Columns(time_unit="us")
    with pytest.raises(ValueError, match="more than one field"):
        Columns(user="id", item="id")
    with pytest.raises(ValueError, match="category_sep"):
        Columns(category_sep="")


def test_a_million_rows_validate_in_seconds():
    import time

    n = 1_000_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 50_000, n),
            "item_id": rng.integers(0, 20_000, n),
            "timestamp": DAY + rng.integers(0, 10**7, n),
            "category": rng.choice(np.array(["a|b", "c"], object), n),
            "value": rng.random(n),
        }
    )
    start = time.perf_counter()
    out, counts = validate_batch(df, Columns(category_sep="|"), 0)
    # generous bound for a shared 2-core machine; about 1 s when it is idle
    assert time.perf_counter() - start < 20 and len(out) == n
