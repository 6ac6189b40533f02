"""The Ray Data reader gives exactly the Interactions and counts of the in-process reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adrec.data.readers import InputSpec, read_interactions
from adrec.data.validate import Columns

DAY = 1_393_977_600
ML100K = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ml-100k"


def _both(spec: InputSpec):
    from adrec.distributed.ingest import read_interactions_ray

    local = read_interactions(spec, log=lambda _: None)
    lines: list[str] = []
    distributed = read_interactions_ray(spec, log=lines.append)
    assert len(lines) == 1
    for name in ("user", "item", "time", "item_categories", "value", "action"):
        a, b = getattr(local, name), getattr(distributed, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert local.users.raw.tolist() == distributed.users.raw.tolist()
    assert local.items.raw.tolist() == distributed.items.raw.tolist()
    assert local.categories == distributed.categories
    assert local.action_names == distributed.action_names
    assert local.report == distributed.report
    r = distributed.report
    assert r["rows_in"] == r["rows_used"] + sum(r["rejected"].values())
    return distributed


def test_csv_with_bad_rows(ray_cluster, tmp_path):
    rows = ["user,item,when,genres,stars"]
    rng = np.random.default_rng(0)
    for k in range(3000):
        user = rng.choice(["u1", "u2", "u3", "", "7"])
        when = rng.choice(["2014-03-05", "2014-03-05T10:00:00+02:00", "x", "1394000000", "1800"])
        stars = rng.choice(["1", "4.5", "", "bad"])
        rows.append(f"{user},i{k % 50},{when},A|B,{stars}")
        if k % 500 == 0:
            rows.append("a line,with,too,many,fields,here")
    (tmp_path / "a.csv").write_text("\n".join(rows[:1500]) + "\n")
    with gzip.open(tmp_path / "b.csv.gz", "wt") as f:
        f.write("\n".join([rows[0], *rows[1500:]]) + "\n")
    cols = Columns("user", "item", "when", "genres", None, "stars", category_sep="|")
    inter = _both(InputSpec(tmp_path, columns=cols))
    rejected = inter.report["rejected"]
    assert rejected["malformed_line"] == 6 and rejected["missing_user"] > 0
    assert rejected["bad_timestamp"] > 0 and rejected["duplicate"] > 0


def test_partitioned_parquet_with_bad_rows_and_changing_schemas(ray_cluster, tmp_path):
    ev = tmp_path / "events"
    rng = np.random.default_rng(1)
    for d in range(4):
        folder = ev / f"date=2014-03-0{d + 5}"
        folder.mkdir(parents=True)
        n = 400
        users = rng.integers(0, 30, n).astype(object)
        users[rng.random(n) < 0.05] = None
        times = (DAY + d * 86400 + rng.integers(0, 5, n)).astype(np.int64)  # many ties
        times[rng.random(n) < 0.03] = -100
        table = {
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array(rng.integers(0, 80, n)),
            "timestamp": pa.array(times),
            "category": pa.array(rng.choice(["books", "toys"], n)),
        }
        if d >= 2:  # later files add a value column (a new run of the Ray read)
            values = rng.random(n)
            values[rng.random(n) < 0.05] = np.inf
            table["value"] = pa.array(values)
        pq.write_table(pa.table(table), folder / "part-0.parquet")
    (ev / "_SUCCESS").write_text("")
    inter = _both(InputSpec(tmp_path))
    rejected = inter.report["rejected"]
    assert rejected["missing_user"] > 0 and rejected["timestamp_out_of_range"] > 0
    assert rejected["bad_value"] > 0


def test_partition_folder_as_time_column(ray_cluster, tmp_path):
    for day in ("2014-03-05", "2014-03-06"):
        (tmp_path / f"day={day}").mkdir()
        pq.write_table(pa.table({"u": [1, 2], "i": [3, 4]}), tmp_path / f"day={day}" / "p.parquet")
    inter = _both(InputSpec(tmp_path, columns=Columns("u", "i", "day")))
    assert sorted(set(inter.time.tolist())) == [DAY, DAY + 86400]


def test_reviews_and_movielens(ray_cluster, tmp_path):
    lines = [
        json.dumps(
            {
                "reviewerID": f"A{k % 7}",
                "asin": f"{k % 11:04d}",
                "overall": k % 5 + 1,
                "unixReviewTime": DAY + k % 3,
            }
        )  # fmt: skip
        for k in range(200)
    ] + ["{broken", "[]"]
    with gzip.open(tmp_path / "r.json.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    meta = tmp_path / "meta.json"
    meta.write_text("{'asin': '0001', 'categories': [['Books', 'Fiction']]}\n")
    inter = _both(InputSpec(tmp_path / "r.json.gz", meta=meta))
    assert inter.report["rejected"]["malformed_line"] == 2
    inter = _both(InputSpec(ML100K))
    assert (inter.n_events, inter.n_users, inter.n_items) == (100_000, 943, 1682)


def test_many_small_files_grouped_into_read_tasks_keep_their_order(ray_cluster, tmp_path):
    from adrec.distributed.ingest import read_tasks

    n_files = 40
    assert read_tasks(n_files) < n_files  # several files per task
    for k in range(n_files):  # every file holds user 1 at the same second: one long tie
        folder = tmp_path / f"part={k:03d}"
        folder.mkdir()
        pq.write_table(pa.table({"user_id": [1, 2], "item_id": [k, k], "timestamp": [DAY, DAY]}),
                       folder / "f.parquet")  # fmt: skip
    inter = _both(InputSpec(tmp_path))
    rows = inter.user == inter.users.index_of(1)
    assert inter.items.raw_ids(inter.item[rows]) == list(range(n_files))
