"""The Ray-free steps of the scalable log pipeline (adrec.data.log_prep): every bad-data case
with exact counts and its reason in the rejects, a malformed file failing with its name, the
same counts as the product's in-process reader, hash partitions giving the same result as one
partition, and windows equal to the detectors' own window_rows."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adrec.data.log_prep import (
    ReadTally,
    finish_partition,
    list_log,
    log_signals,
    prepare_local,
    read_files,
    summary_vocabulary,
    user_buckets,
)
from adrec.data.logs import write_event_log
from adrec.data.readers import InputSpec, read_interactions
from adrec.data.validate import REJECT_REASONS, Columns, Known
from adrec.detectors.behaviour.scoring import scoring_points
from adrec.detectors.behaviour.windows import InteractionWindow, Signals, window_rows

# One row per bad-data case, plus good rows. Line numbers (1-based, header = line 1) matter for
# the malformed line, which is the only reject without parsed fields.
BAD_CSV = """user_id,item_id,timestamp,category,action,value
u1,i1,2024-01-01T10:00:00Z,shoes,view,0
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
u2,i1,1704103200,books,view,
,i1,2024-01-01T10:00:00Z,shoes,view,0
u3,,2024-01-01T10:00:00Z,shoes,view,0
u3,i1,,shoes,view,0
u3,i1,yesterday,shoes,view,0
u3,i1,1850-01-01,shoes,view,0
u3,i1,2024-01-02,shoes,view,4 stars
u3,i1,2024-01-02,garden,view,0
u3,i1,2024-01-02,shoes,teleport,0
u3,i1,2024-01-02,shoes,view
u2,i3,2024-01-03T08:00:00Z,books,cart,0
"""
KNOWN = Known(categories={"shoes", "books"}, actions={"view", "cart", "purchase"})
ONE_EACH = {r: 1 for r in REJECT_REASONS}


def _counts(rejects: pa.Table) -> dict[str, int]:
    return pd.Series(rejects["reason"].to_pylist()).value_counts().to_dict()


def test_each_bad_data_case_is_rejected_once_with_its_reason(tmp_path):
    (tmp_path / "log.csv").write_text(BAD_CSV)
    res = prepare_local(str(tmp_path / "log.csv"), known=KNOWN)
    r = res.report
    assert r["rejected"] == ONE_EACH
    assert (r["rows_in"], r["rows_out"], r["rows_rejected"]) == (14, 4, 10)
    assert _counts(res.rejects) == ONE_EACH
    by_reason = {row["reason"]: row for row in res.rejects.to_pylist()}
    assert by_reason["malformed_line"]["line"] == "u3,i1,2024-01-02,shoes,view"
    assert by_reason["bad_value"]["value"] == "4 stars"
    assert by_reason["unknown_category"]["category"] == "garden"
    assert by_reason["unknown_action"]["action"] == "teleport"
    assert by_reason["bad_timestamp"]["timestamp"] == "yesterday"
    assert by_reason["duplicate"]["user_id"] == "u1" and by_reason["duplicate"]["row"] == 2
    assert {row["source"] for row in res.rejects.to_pylist()} == {str(tmp_path / "log.csv")}
    # The kept log: users in order, each user's rows in time order.
    log = res.partition.log.to_pydict()
    assert log["user_id"] == ["u1", "u1", "u2", "u2"]
    assert np.all(np.diff(log["timestamp"][:2]) >= 0)


def test_without_a_vocabulary_unknown_names_are_kept(tmp_path):
    (tmp_path / "log.csv").write_text(BAD_CSV)
    r = prepare_local(str(tmp_path / "log.csv")).report
    assert r["rejected"] == {**ONE_EACH, "unknown_category": 0, "unknown_action": 0}
    assert (r["rows_in"], r["rows_out"]) == (14, 6)


def test_counts_equal_the_product_reader(tmp_path):
    """The in-process reader of `adrec train` (read_interactions) and the pipeline's steps
    agree on every count of the same file."""
    (tmp_path / "log.csv").write_text(BAD_CSV)
    mine = prepare_local(str(tmp_path / "log.csv")).report
    theirs = read_interactions(InputSpec(tmp_path / "log.csv"), log=lambda m: None).report
    assert mine["rows_in"] == theirs["rows_in"] == 14
    assert mine["rows_out"] == theirs["rows_used"]
    assert mine["rejected"] == {**dict.fromkeys(REJECT_REASONS, 0), **theirs["rejected"]}


def test_json_lines_wrong_types_and_malformed_lines(tmp_path):
    lines = [
        {"user_id": "u1", "item_id": "i1", "timestamp": 1704103200, "value": 1.0},
        {"user_id": "u1", "item_id": "i2", "timestamp": "2024-01-01T12:00:00Z", "value": 2},
        {"user_id": None, "item_id": "i2", "timestamp": 1704103200},
        {"user_id": "u2", "item_id": "i2", "timestamp": True},
        {"user_id": "u2", "item_id": "i2", "timestamp": [1, 2]},
        {"user_id": "u2", "item_id": "i2", "timestamp": -5},
        {"user_id": "u2", "item_id": "i2", "timestamp": 1704103200, "value": "lots"},
        {"user_id": "u2", "item_id": "i2", "timestamp": 1704103200, "value": 3.0},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"user_id": "u3",\n[1, 2]\n\n'
    path = tmp_path / "log.jsonl.gz"
    path.write_bytes(gzip.compress(text.encode()))
    res = prepare_local(str(path))
    r = res.report
    assert r["rejected"] == {**dict.fromkeys(REJECT_REASONS, 0), "malformed_line": 2,
                             "missing_user": 1, "bad_timestamp": 2,
                             "timestamp_out_of_range": 1, "bad_value": 1}  # fmt: skip
    assert (r["rows_in"], r["rows_out"]) == (10, 3)
    malformed = [x for x in res.rejects.to_pylist() if x["reason"] == "malformed_line"]
    assert [(x["row"], x["line"]) for x in malformed] == [(9, '{"user_id": "u3",'), (10, "[1, 2]")]


def test_parquet_with_wrong_types_and_out_of_range_times(tmp_path):
    folder = tmp_path / "events" / "date=2024-01-01"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"user_id": [1, 1, 2, None], "item_id": ["a", "b", "a", "a"],
                  "timestamp": ["2024-01-01", "2024-01-01 05:00", "5000-01-01", "2024-01-01"],
                  "value": ["1.5", "x", "2", "3"]}),
        folder / "part-0.parquet",
    )  # fmt: skip
    pq.write_table(
        pa.table({"user_id": [3, 3], "item_id": [7, 7], "timestamp": [1704103200] * 2}),
        folder / "part-1.parquet",
    )
    r = prepare_local(str(tmp_path)).report
    assert r["files"] == 2 and r["format"] == "parquet"
    bad = {"missing_user": 1, "timestamp_out_of_range": 1, "bad_value": 1, "duplicate": 1}
    assert r["rejected"] == {**dict.fromkeys(REJECT_REASONS, 0), **bad}
    assert (r["rows_in"], r["rows_out"], r["users"]) == (6, 2, 2)


def test_a_malformed_file_fails_naming_it(tmp_path):
    good = pa.table({"user_id": [1], "item_id": [1], "timestamp": [1704103200]})
    pq.write_table(good, tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(ValueError, match=r"b\.parquet.*not a readable Parquet"):
        prepare_local(str(tmp_path))
    (tmp_path / "b.parquet").unlink()
    wrong = pa.table({"user": [1], "item_id": [1], "timestamp": [1]})
    pq.write_table(wrong, tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"c\.parquet.*'user_id'"):
        prepare_local(str(tmp_path))
    (tmp_path / "d.csv").write_bytes(b"\xff\xfe\x00 not utf-8\n")
    with pytest.raises(ValueError, match=r"d\.csv"):
        prepare_local(str(tmp_path / "d.csv"))
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        prepare_local(str(tmp_path / "nothing-here"))


def test_hash_partitions_give_the_one_partition_result(tiny_sim, tmp_path):
    """Rows split into user partitions (as the Ray read tasks write them) and finished one
    partition at a time give the same log, sequences and windows as one partition."""
    events, _, _ = tiny_sim
    dup = events.iloc[[3, 50, 51]]
    write_event_log(pd.concat([events, dup], ignore_index=True), tmp_path)
    window = InteractionWindow(5, 5)
    whole = prepare_local(str(tmp_path), window=window)
    assert whole.report["rejected"]["duplicate"] == 3

    log = list_log(str(tmp_path))
    tally = ReadTally()
    prepared = list(read_files(log, range(len(log)), Columns(), None, 3, tally, 500))
    summary = tally.summary()
    vocab = summary_vocabulary(tally.fact_table(), summary)
    sig = log_signals(vocab, summary["sub_day"])
    parts = []
    for k in range(3):
        tables = [p.valid.filter(pa.array(p.bucket == k)) for p in prepared]
        parts.append(finish_partition(tables, vocab, list(log.files), window, sig, 5))
    assert sum(len(p.duplicates) for p in parts) == 3
    for name in ("log", "sequences", "windows"):
        split = pa.concat_tables([getattr(p, name) for p in parts]).to_pandas()
        one = getattr(whole.partition, name).to_pandas()
        key = ["user_id", "end"] if name == "windows" else ["user_id"]
        if name == "log":
            key = ["user_id", "timestamp", "order"]
        split = split.sort_values(key, kind="stable").reset_index(drop=True)
        one = one.sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(split, one)
    assert all(len(p.sequences) for p in parts)  # the hash spreads 30 users over 3 parts


def test_user_buckets_are_stable():
    ids = pa.array(["u1", "u2", "u3", "u1"])
    b = user_buckets(ids, 7)
    assert b[0] == b[3]
    assert np.array_equal(b, user_buckets(ids, 7))
    assert b.min() >= 0 and b.max() < 7


def test_windows_equal_the_detectors_window_rows(tiny_sim, tmp_path):
    """The pipeline's windows are the ones the detectors compute from the product's
    Interactions (scoring_points + window_rows), feature for feature."""
    events, _, _ = tiny_sim
    write_event_log(events, tmp_path)
    window, stride = InteractionWindow(5, 5), 5
    res = prepare_local(str(tmp_path), window=window, stride=stride)
    inter = read_interactions(InputSpec(tmp_path), log=lambda m: None)
    sig = Signals.from_log(inter.item_categories, len(inter.action_names), inter.value, inter.time)
    histories = scoring_points(inter, stride)
    feats, have = window_rows(window, histories, sig, as_steps=False)
    steps, _ = window_rows(window, histories, sig, as_steps=True)
    users = np.asarray(inter.users.raw_ids(np.array([h.user for h in histories])))[have]
    ours = res.partition.windows.to_pandas()
    ours["user_id"] = ours["user_id"].astype(str)
    theirs = pd.DataFrame({"user_id": np.asarray(users).astype(str), "row": np.arange(len(feats))})
    theirs["n"] = theirs.groupby("user_id").cumcount()
    ours["n"] = ours.groupby("user_id").cumcount()
    joined = theirs.merge(ours, on=["user_id", "n"], how="outer", indicator=True)
    assert (joined["_merge"] == "both").all() and len(joined) == len(feats) > 100
    got = np.stack(joined["features"].to_numpy()).astype(np.float32)
    np.testing.assert_array_equal(got, feats[joined["row"].to_numpy()])
    got_steps = np.stack([np.stack(s) for s in joined["steps"].to_numpy()]).astype(np.float32)
    np.testing.assert_array_equal(got_steps, steps[joined["row"].to_numpy()])
    assert res.report["users"] == inter.n_users and res.report["rows_out"] == len(inter.user)


def test_a_uri_and_an_fsspec_filesystem_are_read(tmp_path):
    """A file:// URI (pyarrow's filesystems) and an fsspec filesystem (memory://) give the
    same counts as the local path."""
    import fsspec

    (tmp_path / "log.csv").write_text(BAD_CSV)
    local = prepare_local(str(tmp_path / "log.csv"), known=KNOWN).report
    assert prepare_local(f"file://{tmp_path}/log.csv", known=KNOWN).report == local
    mem = fsspec.filesystem("memory")
    with mem.open("/scale-test/events/part-0.csv", "w") as f:
        f.write(BAD_CSV)
    try:
        r = prepare_local("memory://scale-test", known=KNOWN).report
    finally:
        mem.rm("/scale-test", recursive=True)
    assert r == local
