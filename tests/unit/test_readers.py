"""Readers: CSV, Parquet (files, partitioned folders, the simulator's layout), MovieLens and
review JSON lines -> Interactions, with exact reject counts and the row invariant."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adrec.data.readers import InputSpec, detect_format, read_interactions
from adrec.data.validate import REJECT_REASONS, Columns

ML100K = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ml-100k"
DAY = 1_393_977_600  # 2014-03-05T00:00:00Z


def _read(path, **kw):
    lines: list[str] = []
    inter = read_interactions(InputSpec(path, **kw), log=lines.append)
    assert len(lines) == 1 and "rows in" in lines[0]
    r = inter.report
    assert r["rows_in"] == r["rows_used"] + sum(r["rejected"].values())
    assert set(REJECT_REASONS) - {"duplicate"} <= set(r["rejected"])
    return inter


def _rejected(inter, **expected) -> None:
    got = {k: v for k, v in inter.report["rejected"].items() if v}
    assert got == expected


def _sequence(inter, raw_user) -> list:
    rows = inter.user == inter.users.index_of(raw_user)
    return inter.items.raw_ids(inter.item[rows])


CSV = """user,item,when,genres,stars
alice,i1,2014-03-05,Drama|Comedy,4
alice,i2,2014-03-05T10:00:00+02:00,Drama,5
bob,i1,2014-03-06 12:00:00,Drama|Comedy,3
bob,i3,1394100000,,
carol,i2,not a time,Drama,1
,i1,2014-03-05,Drama,1
dave,i9,1850-01-01,Drama,1
erin,i1,2014-03-05,Drama,four
broken line without enough fields
frank,i1,2014-03-05,Drama,1,extra
alice,i1,2014-03-05,Drama|Comedy,4
"""
CSV_COLUMNS = Columns("user", "item", "when", "genres", None, "stars", category_sep="|")


def test_csv_with_string_ids_iso_and_date_times_and_every_bad_row_counted(tmp_path):
    (tmp_path / "log.csv").write_text(CSV)
    inter = _read(tmp_path / "log.csv", columns=CSV_COLUMNS)
    r = inter.report
    assert r["format"] == "csv" and r["rows_in"] == 11 and r["rows_used"] == 4
    _rejected(
        inter,
        malformed_line=2,
        missing_user=1,
        bad_timestamp=1,
        timestamp_out_of_range=1,
        bad_value=1,
        duplicate=1,
    )
    assert inter.users.kind == "str" and inter.users.raw_ids([0, 1]) == ["alice", "bob"]
    assert _sequence(inter, "alice") == ["i1", "i2"]
    alice = inter.time[inter.user == inter.users.index_of("alice")]
    assert alice.tolist() == [DAY, DAY + 8 * 3600]
    assert inter.categories == ("Comedy", "Drama")
    assert inter.item_categories[inter.items.index_of("i1")].tolist() == [1, 1]
    assert inter.item_categories[inter.items.index_of("i3")].tolist() == [0, 0]
    assert np.isnan(inter.value[inter.item == inter.items.index_of("i3")]).all()


def test_csv_millisecond_times_and_gzip(tmp_path):
    text = "user_id,item_id,timestamp\n1,10,1393977600123\n1,11,1393977601999\n2,10,x\n"
    with gzip.open(tmp_path / "ms.csv.gz", "wt") as f:
        f.write(text)
    inter = _read(tmp_path / "ms.csv.gz", columns=Columns(time_unit="ms"))
    assert inter.time.tolist() == [DAY, DAY + 1]
    assert inter.users.kind == "int" and inter.users.raw_ids([0]) == [1]
    _rejected(inter, bad_timestamp=1)


def test_a_missing_column_fails_naming_the_file_and_its_columns(tmp_path):
    (tmp_path / "a.csv").write_text("user_id,item_id,timestamp\n1,2,3\n")
    (tmp_path / "b.csv").write_text("user_id,product,timestamp\n1,2,3\n")
    with pytest.raises(ValueError, match=r"b\.csv: no column 'item_id'.*'product'"):
        read_interactions(InputSpec(tmp_path), log=lambda _: None)
    pq.write_table(pa.table({"user_id": [1], "ts": [3]}), tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"c\.parquet: no column 'item_id'"):
        read_interactions(InputSpec(tmp_path / "c.parquet"), log=lambda _: None)


def _events(users, items, times, **extra) -> pa.Table:
    return pa.table({"user_id": users, "item_id": items, "timestamp": times, **extra})


def test_parquet_file_with_typed_columns_and_bad_rows(tmp_path):
    table = pa.table(
        {
            "user_id": pa.array([1, 2, None, 2**60 + 1], pa.int64()),
            "item_id": pa.array(["a", "b", "c", "d"]),
            "timestamp": pa.array(
                [DAY * 10**6, None, DAY * 10**6, (DAY + 5) * 10**6], pa.timestamp("us", "UTC")
            ),
            "category": pa.array([["x", "y"], None, ["z"], []], pa.list_(pa.string())),
            "value": pa.array([1.0, 2.0, 3.0, float("inf")]),
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    inter = _read(tmp_path / "log.parquet")
    _rejected(inter, missing_user=1, missing_timestamp=1, bad_value=1)
    assert inter.users.raw_ids([0]) == [1] and inter.time.tolist() == [DAY]
    assert inter.categories == ("x", "y")


def _partitioned(root: Path) -> Path:
    """events/date=.../part-*.parquet plus side files, hidden files and a tie across files."""
    ev = root / "events"
    for day, parts in {
        "2014-03-05": {"part-0": _events([1, 1, 2], [5, 6, 7], [DAY, DAY, DAY])},
        "2014-03-06": {
            "part-0": _events([1, None], [9, 9], [DAY, DAY + 5]),
            "part-1": _events([2, 1], [3, 4], [DAY + 86400, -7]),
        },
    }.items():
        (ev / f"date={day}").mkdir(parents=True)
        for name, table in parts.items():
            pq.write_table(table, ev / f"date={day}" / f"{name}.parquet")
    (ev / "_SUCCESS").write_text("")
    pq.write_table(pa.table({"item_id": [1], "price": [2.0]}), root / "catalog.parquet")
    return root


def test_a_partitioned_folder_is_read_in_path_order_and_ties_keep_it(tmp_path):
    inter = _read(_partitioned(tmp_path))
    r = inter.report
    assert r["format"] == "parquet" and len(r["files"]) == 3
    days = [Path(f).parent.name for f in r["files"]]
    assert days == ["date=2014-03-05", "date=2014-03-06", "date=2014-03-06"]
    _rejected(inter, missing_user=1, timestamp_out_of_range=1)
    # user 1 has items 5, 6 (first file) and 9 (second file) all at DAY: file order, row order
    assert _sequence(inter, 1) == [5, 6, 9]
    assert _sequence(inter, 2) == [7, 3]


def test_a_partition_folder_can_be_the_time_column(tmp_path):
    for day in ("2014-03-05", "2014-03-06"):
        (tmp_path / f"day={day}").mkdir()
        pq.write_table(pa.table({"u": [1], "i": [2]}), tmp_path / f"day={day}" / "p.parquet")
    inter = _read(tmp_path, columns=Columns("u", "i", "day"))
    assert inter.time.tolist() == [DAY, DAY + 86400]


def test_simulator_output_reads_as_the_same_events(tmp_path):
    from adrec.data.logs import write_event_log, write_side_files
    from adrec.data.simulator import SimulationConfig, simulate

    config = SimulationConfig(n_users=25, n_days=20, n_items=50, n_categories=5)
    events, truth, catalog = simulate(config)
    write_event_log(events, tmp_path)
    write_side_files(tmp_path, catalog.frame(), truth, config.to_dict())
    assert detect_format(tmp_path) == "parquet"
    inter = _read(tmp_path)
    key = ["user_id", "timestamp", "item_id", "action", "value"]
    expected = events.assign(timestamp=events["timestamp"].astype("datetime64[s]").astype("int64"))
    n_dup = int(expected.duplicated(key).sum())
    assert inter.report["rows_in"] == len(events)
    assert inter.report["rows_used"] == len(events) - n_dup
    got = pd.DataFrame(
        {
            "user_id": inter.users.raw_ids(inter.user),
            "timestamp": inter.time,
            "item_id": inter.items.raw_ids(inter.item),
            "action": [inter.action_names[a] for a in inter.action],
            "value": inter.value,
        }
    )
    want = expected.drop_duplicates(key)[key]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True),
        want.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    # each item's category is the catalog's
    cat_of = dict(zip(events["item_id"], events["category"], strict=False))
    for item in inter.items.raw_ids(np.arange(1, inter.n_items + 1)):
        flags = inter.item_categories[inter.items.index_of(item)]
        assert [inter.categories[j] for j in np.flatnonzero(flags)] == [cat_of[item]]


def test_ml100k_exact_counts_and_the_legacy_loaders_sequences():
    from adrec.data.movielens import load_movielens

    inter = _read(ML100K)
    r = inter.report
    assert (r["format"], r["layout"]) == ("movielens", "ml-100k")
    assert (r["rows_in"], r["rows_used"], inter.n_users, inter.n_items) == (
        100_000,
        100_000,
        943,
        1682,
    )
    assert len(inter.categories) == 19 and inter.action_names == ("rating",)
    _rejected(inter)
    legacy = load_movielens(ML100K).ratings
    assert inter.users.raw_ids(inter.user) == legacy["user_id"].tolist()
    assert inter.items.raw_ids(inter.item) == legacy["item_id"].tolist()
    assert inter.time.tolist() == legacy["timestamp"].tolist()
    assert inter.value.tolist() == legacy["rating"].tolist()


def test_ml1m_layout_with_malformed_lines(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::2::5::30\n1::1::3::30\nbad::line\n\n2::2::4::5\n")
    (tmp_path / "movies.dat").write_bytes(
        "1::Caf\xe9 (1995)::Drama|Comedy\n2::Alien (1979)::Horror\nnope\n".encode("latin-1")
    )
    inter = _read(tmp_path)
    assert inter.report["layout"] == "ml-1m" and inter.report["meta_malformed"] == 1
    _rejected(inter, malformed_line=1)
    assert _sequence(inter, 1) == [2, 1]  # the tie at t=30 in file order
    assert inter.categories == ("Comedy", "Drama", "Horror")


def _review(user, asin, **kw) -> str:
    return json.dumps({"reviewerID": user, "asin": asin, "reviewText": "...", **kw})


def test_review_json_lines_gzip_with_malformed_lines_and_2014_metadata(tmp_path):
    lines = [
        _review("A1", "0001", unixReviewTime=DAY, overall=5.0),
        _review("A1", "0002", reviewTime="03 6, 2014", overall=4.0),
        "{not json",
        "[1, 2]",
        "",
        _review("A2", "0001", reviewTime="13 45, 2014", overall=3.0),
        _review(None, "0001", unixReviewTime=DAY, overall=3.0),
        _review("A2", "0003", unixReviewTime=DAY, overall="great"),
        _review("A2", "0002", unixReviewTime=DAY),
    ]
    with gzip.open(tmp_path / "reviews_Books.json.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    meta = tmp_path / "meta_Books.json"
    meta.write_text(
        "{'asin': '0001', 'categories': [['Books', 'Fiction'], ['Kindle Store']]}\n"
        "{'asin': '0002', 'title': 'no categories'}\n"
        "not a record\n"
    )
    inter = _read(tmp_path / "reviews_Books.json.gz", meta=meta)
    r = inter.report
    assert r["format"] == "reviews" and r["rows_in"] == 8 and r["meta_malformed"] == 1
    _rejected(inter, malformed_line=2, bad_timestamp=1, missing_user=1, bad_value=1)
    assert inter.action_names == ("review",)
    assert inter.items.kind == "str" and inter.items.raw_ids([1, 2]) == ["0001", "0002"]
    assert _sequence(inter, "A1") == ["0001", "0002"]
    assert inter.time[inter.user == inter.users.index_of("A1")].tolist() == [DAY, DAY + 86400]
    assert inter.categories == ("Books", "Fiction", "Kindle Store")
    assert inter.item_categories[inter.items.index_of("0002")].sum() == 0


def test_reviews_folder_with_2018_metadata_and_auto_detection(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_review("A1", "B1", unixReviewTime=DAY, overall=5) + "\n")
    (folder / "b.json").write_text(_review("A2", "B2", unixReviewTime=DAY, overall=1) + "\n")
    meta = tmp_path / "meta.jsonl"
    meta.write_text(json.dumps({"asin": "B1", "category": ["Toys", "Games"]}) + "\n")
    assert detect_format(folder) == "reviews"
    inter = _read(folder, meta=meta)
    assert [Path(f).name for f in inter.report["files"]] == ["a.jsonl", "b.json"]
    assert inter.categories == ("Games", "Toys") and inter.n_events == 2


def test_format_detection_and_spec_errors(tmp_path):
    assert detect_format(ML100K) == "movielens"
    (tmp_path / "x.csv").write_text("user_id,item_id,timestamp\n")
    assert detect_format(tmp_path / "x.csv") == "csv"
    assert detect_format(tmp_path) == "csv"
    pq.write_table(_events([1], [1], [DAY]), tmp_path / "y.parquet")
    with pytest.raises(ValueError, match="several formats"):
        detect_format(tmp_path)
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown format"):
        InputSpec(tmp_path, format="xml")
    with pytest.raises(ValueError, match="columns apply to csv and parquet"):
        read_interactions(InputSpec(ML100K, columns=Columns(user="u")))
    with pytest.raises(ValueError, match="no valid interaction among 1 rows"):
        (tmp_path / "bad.csv").write_text("user_id,item_id,timestamp\n1,2,never\n")
        read_interactions(InputSpec(tmp_path / "bad.csv"), log=lambda _: None)


def test_pandas_categoricals_and_date_columns_in_parquet(tmp_path):
    import datetime as dt

    df = pd.DataFrame(
        {
            "user_id": pd.Categorical(["a", " ", "a"]),
            "item_id": [1, 2, 3],
            "timestamp": [dt.date(2014, 3, 5)] * 3,
            "category": pd.Categorical(["x", "y", None]),
        }
    )
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "cat.parquet")
    inter = _read(tmp_path / "cat.parquet")
    _rejected(inter, missing_user=1)
    assert inter.time.tolist() == [DAY, DAY] and inter.categories == ("x",)


def test_review_batches_parse_the_same_fast_or_line_by_line():
    from adrec.data.readers import reviews
    from adrec.data.validate import validate_batch

    rng = np.random.default_rng(0)
    good = [
        _review(
            f"A{rng.integers(9)}",
            f"{rng.integers(30):04d}",
            overall=int(rng.integers(1, 6)),
            unixReviewTime=DAY + int(rng.integers(100)),
        )  # fmt: skip
        for _ in range(6000)
    ]
    lines = good[:1000] + ["{broken", '{"a": 1} {"b": 2}'] + good[1000:4000] + ["7"] + good[4000:]
    fast, bad = reviews.parse_review_lines(lines)
    fields, slow_bad = reviews._parse_slow(lines)
    names = ["user_id", "item_id", "unix", "dates", "value"]
    slow = pd.DataFrame(dict(zip(names, fields, strict=True)))
    assert bad == slow_bad == 3 and len(fast) == len(slow) == 6000
    a, _ = validate_batch(fast, Columns(), 0)
    b, _ = validate_batch(
        pd.DataFrame(
            {"user_id": slow.user_id, "item_id": slow.item_id, "timestamp": slow.unix,
             "value": slow.value}
        ),
        Columns(),
        0,
    )  # fmt: skip
    for col in ("user_id", "item_id", "timestamp", "value"):
        assert a[col].tolist() == b[col].tolist()


def test_an_unreadable_file_fails_naming_it(tmp_path):
    pq.write_table(_events([1], [1], [DAY]), tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=r"b\.parquet: not a readable Parquet file"):
        read_interactions(InputSpec(tmp_path), log=lambda _: None)
