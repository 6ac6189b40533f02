"""Single-process baselines of the log pipeline with Polars and with DuckDB, for
benchmarks/pipeline.py: each engine, with its own defaults (all cores, its own threads), reads
the Parquet log, validates it (the reject rules that apply to typed Parquet columns: missing
user, item or timestamp, a timestamp out of range, a value that is not finite), counts the
rejects by reason, drops exact duplicates (the first in input order kept), builds the
vocabulary (items sorted numerically, category and action names sorted) and sorts every user's
rows by (timestamp, input order). The windows are then computed from the sorted columns by the
same NumPy kernel every engine runs (adrec.data.windows_table.interaction_windows, one thread):
neither engine has a way to express the windows' running medians and quantiles that would be
faster than that kernel, and the point of the baselines is the fastest single-process tool for
the relational part.

    run_engine("polars" | "duckdb", source, window, stride) -> (log, windows, rejects, report)

Text logs (CSV with unparseable timestamps and values) are out of scope here: the benchmark's
log is typed Parquet, and the product's text parsing lives in adrec.data.validate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from adrec.data.interactions import IdMap
from adrec.data.log_prep import Vocabulary, list_log, log_signals, window_table
from adrec.data.validate import MAX_TIME, MIN_TIME, REJECT_REASONS
from adrec.data.windows_table import interaction_windows

REASONS = ("missing_user", "missing_item", "missing_timestamp", "timestamp_out_of_range",
           "bad_value")  # fmt: skip


def _finish(
    log: pa.Table,
    items: list[str],
    facts: pa.Table,
    actions: list[str],
    has_value: bool,
    spread: bool,
    sub_day: bool,
    counts: dict,
    rows_in: int,
    window,
    stride: int,
    steps: bool = True,
):
    """The vocabulary and the windows from the sorted, deduplicated log (user_id, item
    (dense), timestamp, action (code or null), value), as log_prep.finish_partition."""
    categories = sorted(set(facts["category"].to_pylist()))
    flags = np.zeros((len(items) + 1, len(categories)), np.float32)
    if categories:
        col = {c: j for j, c in enumerate(categories)}
        rows = facts["item"].to_numpy()
        flags[rows, [col[c] for c in facts["category"].to_pylist()]] = 1.0
    vocab = Vocabulary(IdMap(np.asarray(items, dtype=object), 1), tuple(categories), flags,
                       tuple(actions), has_value, spread)  # fmt: skip
    sig = log_signals(vocab, sub_day)
    user = log["user_id"].to_numpy(zero_copy_only=False)
    change = np.flatnonzero(user[1:] != user[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(user)]]).astype(np.int64)
    action = log["action"].to_numpy(zero_copy_only=False).astype(np.int64) if actions else None
    value = log["value"].to_numpy(zero_copy_only=False) if has_value else None
    wa = interaction_windows(bounds, log["item"].to_numpy(), log["timestamp"].to_numpy(), value,
                             action, window, sig, stride, steps)  # fmt: skip
    users = user[bounds[:-1]]
    windows = window_table(wa, users[np.searchsorted(bounds, wa.row, side="right") - 1])
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    rejected.update({k: int(v) for k, v in counts.items()})
    report = {
        "rows_in": int(rows_in),
        "rows_out": len(log),
        "rows_rejected": sum(rejected.values()),
        "rejected": rejected,
        "users": len(users),
        "items": len(items),
        "windows": len(windows),
    }
    if report["rows_in"] != report["rows_out"] + report["rows_rejected"]:
        raise RuntimeError(f"row accounting does not add up: {report}")
    return log, windows, report


def run_polars(source: str, window, stride: int, steps: bool = True):
    import polars as pl

    files = list(list_log(source, "parquet").files)
    lf = pl.scan_parquet(files, hive_partitioning=False).select(
        "user_id", "item_id", "timestamp", "category", "action", "value"
    )
    df = lf.with_row_index("order").collect()
    rows_in = df.height
    ts = pl.col("timestamp")
    ts = ts.dt.epoch("s") if df.schema["timestamp"].is_temporal() else ts.cast(pl.Int64)
    blank = lambda c: pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "")  # noqa: E731
    reason = (
        pl.when(blank("user_id")).then(pl.lit("missing_user"))
        .when(blank("item_id")).then(pl.lit("missing_item"))
        .when(ts.is_null()).then(pl.lit("missing_timestamp"))
        .when((ts < MIN_TIME) | (ts > MAX_TIME)).then(pl.lit("timestamp_out_of_range"))
        .when(pl.col("value").is_infinite()).then(pl.lit("bad_value"))
        .otherwise(pl.lit(None, pl.String))
    )  # fmt: skip
    df = df.with_columns(reason.alias("reason"), ts.alias("timestamp"))
    counts = dict(df.filter(pl.col("reason").is_not_null())["reason"].value_counts().iter_rows())
    valid = df.filter(pl.col("reason").is_null()).drop("reason")
    del df
    valid = valid.with_columns(
        pl.col("user_id").cast(pl.String), pl.col("category").str.strip_chars(),
    )  # fmt: skip
    # items: sorted numerically when they are integers (the source's type), else as text
    items = valid.select(pl.col("item_id").unique().sort())
    items = items.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("item"))
    facts = (
        valid.filter(pl.col("category").is_not_null() & (pl.col("category") != ""))
        .select("item_id", "category").unique()
        .join(items, on="item_id").select("item", "category")
    )  # fmt: skip
    names = valid["action"].drop_nulls().unique().sort().to_list()
    if names and valid["action"].null_count():
        names = sorted([*names, ""])
    codes = pl.DataFrame({"action": names, "action_code": np.arange(len(names))})
    present = valid.filter(pl.col("value").is_not_nan() & pl.col("value").is_not_null())
    finite = present.filter(pl.col("value").is_finite())["value"]
    spread = bool(len(finite) and finite.max() > finite.min())
    sub_day = bool((valid["timestamp"] % 86_400 != 0).any())
    key = ["user_id", "item_id", "timestamp", "action", "value"]
    first = valid.select(pl.struct(key).is_first_distinct()).to_series()
    counts["duplicate"] = int((~first).sum())
    log = (
        valid.filter(first)
        .join(items, on="item_id")
        .with_columns(pl.col("action").fill_null(""))
        .join(codes, on="action", how="left")
        .sort(["user_id", "timestamp", "order"])
        .select(
            "user_id", "item", "timestamp", pl.col("action_code").alias("action"), "value", "order"
        )  # fmt: skip
    ).to_arrow()
    item_raw = items["item_id"].cast(pl.String).to_list()
    return _finish(log, item_raw, facts.to_arrow(), names, len(present) > 0, spread, sub_day,
                   counts, rows_in, window, stride, steps)  # fmt: skip


def run_duckdb(source: str, window, stride: int, steps: bool = True):
    import warnings

    import duckdb

    # DuckDB 2 warns that Arrow output of execute() copies the rows once (con.sql() avoids
    # the copy but holds the connection until fetched); the copy is in the measured time.
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")

    files = list(list_log(source, "parquet").files)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE files (path VARCHAR, idx BIGINT)")
    con.executemany("INSERT INTO files VALUES (?, ?)", [[f, i] for i, f in enumerate(files)])
    con.execute(
        f"""
        CREATE TEMP TABLE raw AS
        SELECT r.user_id, r.item_id, floor(epoch(r.timestamp))::BIGINT AS ts,
               trim(r.category) AS category, r.action, r.value,
               (f.idx::BIGINT << 40) | r.file_row_number AS ord,
               CASE WHEN r.user_id IS NULL OR trim(r.user_id::VARCHAR) = '' THEN 'missing_user'
                    WHEN r.item_id IS NULL OR trim(r.item_id::VARCHAR) = '' THEN 'missing_item'
                    WHEN r.timestamp IS NULL THEN 'missing_timestamp'
                    WHEN epoch(r.timestamp) < {MIN_TIME} OR epoch(r.timestamp) > {MAX_TIME}
                        THEN 'timestamp_out_of_range'
                    WHEN isinf(r.value) THEN 'bad_value' END AS reason
        FROM read_parquet($f, filename=true, file_row_number=true, hive_partitioning=false) r
        JOIN files f ON f.path = r.filename
        """,
        {"f": files},
    )
    rows_in = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    counts = dict(con.execute("SELECT reason, count(*) FROM raw WHERE reason IS NOT NULL "
                              "GROUP BY reason").fetchall())  # fmt: skip
    con.execute("CREATE TEMP TABLE valid AS SELECT * EXCLUDE (reason) FROM raw "
                "WHERE reason IS NULL")  # fmt: skip
    con.execute("DROP TABLE raw")
    con.execute("CREATE TEMP TABLE items AS SELECT item_id, row_number() OVER (ORDER BY item_id) "
                "AS item FROM (SELECT DISTINCT item_id FROM valid)")  # fmt: skip
    facts = con.execute(
        "SELECT DISTINCT i.item, v.category FROM valid v JOIN items i USING (item_id) "
        "WHERE v.category IS NOT NULL AND v.category <> ''"
    ).to_arrow_table()
    names = [r[0] for r in con.execute("SELECT DISTINCT action FROM valid WHERE action IS NOT "
                                       "NULL ORDER BY action").fetchall()]  # fmt: skip
    if names and con.execute("SELECT count(*) FROM valid WHERE action IS NULL").fetchone()[0]:
        names = sorted([*names, ""])
    con.execute("CREATE TEMP TABLE codes (action VARCHAR, code BIGINT)")
    if names:
        con.executemany("INSERT INTO codes VALUES (?, ?)", [[a, i] for i, a in enumerate(names)])
    n_present, lo, hi, sub_day = con.execute(
        "SELECT count(*) FILTER (WHERE value IS NOT NULL AND NOT isnan(value)), "
        "min(value) FILTER (WHERE isfinite(value)), max(value) FILTER (WHERE isfinite(value)), "
        "bool_or(ts % 86400 <> 0) FROM valid"
    ).fetchone()
    dup = con.execute(
        "CREATE TEMP TABLE kept AS SELECT * FROM valid QUALIFY row_number() OVER "
        "(PARTITION BY user_id, item_id, ts, action, value ORDER BY ord) = 1"
    )
    counts["duplicate"] = (
        con.execute("SELECT (SELECT count(*) FROM valid) - (SELECT count(*) FROM kept)")
    ).fetchone()[0]
    del dup
    log = con.execute(
        "SELECT k.user_id::VARCHAR AS user_id, i.item, k.ts AS timestamp, c.code AS action, "
        'k.value, k.ord AS "order" FROM kept k JOIN items i USING (item_id) '
        "LEFT JOIN codes c ON c.action = coalesce(k.action, '') "
        "ORDER BY k.user_id::VARCHAR, k.ts, k.ord"
    ).to_arrow_table()
    item_raw = [str(r[0]) for r in con.execute("SELECT item_id FROM items ORDER BY item")
                .fetchall()]  # fmt: skip
    con.close()
    return _finish(log, item_raw, facts, names, n_present > 0, bool(hi is not None and hi > lo),
                   bool(sub_day), counts, rows_in, window, stride, steps)  # fmt: skip


ENGINES = {"polars": run_polars, "duckdb": run_duckdb}


def run_engine(engine: str, source: str, window, stride: int, steps: bool = True):
    return ENGINES[engine](source, window, stride, steps)


def windows_digest(windows: pa.Table) -> str:
    """A digest of a windows table independent of row order: rows sorted by (user_id, end),
    then every column's bytes (features and steps as float32)."""
    import hashlib

    t = windows.sort_by([("user_id", "ascending"), ("end", "ascending")])
    h = hashlib.sha256()
    for name in ("user_id", "end", "time", "window_start"):
        h.update(str(t[name].to_pylist()).encode() if name == "user_id" else
                 np.ascontiguousarray(t[name].to_numpy()).tobytes())  # fmt: skip
    for name in ("features", "steps"):
        if name in t.column_names:
            flat = t[name].combine_chunks()
            while pa.types.is_fixed_size_list(flat.type):
                flat = flat.flatten()
            h.update(np.ascontiguousarray(flat.to_numpy(), np.float32).tobytes())
    return h.hexdigest()
