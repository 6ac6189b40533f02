"""Reading a log with Ray Data: the same Interactions and counts as the in-process reader.

    read_interactions_ray(spec, log=print) -> Interactions

The driver plans the read exactly as adrec.data.readers.read_interactions does (format, files
in sorted path order, every file's columns checked before any row is read; MovieLens movie
files and review metadata, which are item facts, are parsed on the driver). Ray Data then
reads and validates the rows on the workers:

    parquet     read_parquet (runs of files with the same columns and types; a run is one
                dataset, runs are unioned in order), then map_batches(validate_batch)
    csv         a FileBasedDatasource that parses each file with Arrow's CSV reader, as
                read_csv does, and also counts the lines with a wrong number of fields
                (read_csv skips or fails on them without a count), then map_batches
    movielens   read_text of the ratings file, then map_batches(parse the lines + validate)
    reviews     read_text of the JSON lines files, then map_batches(parse + validate): a
                malformed line is counted, not fatal

Every data task asks for DATA_CPUS (a fraction of a CPU): Ray Data tasks that ask for a whole
CPU wait forever beside training workers on a 2-CPU cluster. Files are grouped, in order, into
two read tasks per cluster CPU (read_tasks), each of which reads and validates its files in one
fused task. Order is preserved
(DataContext.execution_options.preserve_order) so that the rows reach the driver in input
order and ties in time keep it (interactions.TIE_RULE). Each validated batch carries its reject
counts as extra rows (a `_reason` and a `_count` column), so the counts travel with the data;
the driver gathers the canonical rows and builds Interactions with build_interactions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import ray.data
from ray.data.datasource import FileBasedDatasource

from adrec.data.interactions import CANONICAL_COLUMNS, Interactions, canonical_ids_arrow
from adrec.data.readers import InputPlan, InputSpec, finish, plan_input, reviews, tabular
from adrec.data.readers import movielens as ml
from adrec.data.readers.text import BATCH_LINES
from adrec.data.validate import REJECT_REASONS, Columns, validate_batch

DATA_CPUS = 0.25
_REASON, _COUNT, _MALFORMED = "_reason", "_count", "_malformed"
CANONICAL_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", pa.int64()),
        ("category", pa.list_(pa.string())),
        ("action", pa.string()),
        ("value", pa.float64()),
        ("order", pa.int64()),
        (_REASON, pa.string()),
        (_COUNT, pa.int64()),
    ]
)


def read_interactions_ray(spec: InputSpec, log: Callable[[str], object] = print) -> Interactions:
    """Read, validate and build a log with Ray Data (joins the running Ray cluster, or starts
    a local one as ray.data does). See the module docstring."""
    plan = plan_input(spec)
    with read_context(preserve_order=True):
        frames, rejected, rows_in = _gather(_dataset(plan))
    return finish(plan, frames, rejected, rows_in, log)


@contextmanager
def read_context(preserve_order: bool = False) -> Iterator[None]:
    """Ray Data's context for adrec's reads, restored after: Parquet through the V1 reader
    unless RAY_DATA_USE_DATASOURCE_V2=1 opts in (the V2 reader starts footer-reading actors
    for every read: the demo's 56 small files took 47 s instead of 0.7 s, and one small
    file of windows for train-detector 10-15 s instead of 0.5 s), and rows in the order of
    the files if asked."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.execution_options.preserve_order, ctx.use_datasource_v2
    ctx.execution_options.preserve_order = preserve_order
    ctx.use_datasource_v2 = os.environ.get("RAY_DATA_USE_DATASOURCE_V2", "0") in ("1", "true")
    try:
        yield
    finally:
        ctx.execution_options.preserve_order, ctx.use_datasource_v2 = saved


def _dataset(plan: InputPlan) -> ray.data.Dataset:
    if plan.format == "parquet":
        return _parquet(plan)
    if plan.format == "csv":
        return _csv(plan)
    encoding = ml.ENCODING if plan.format == "movielens" else "utf-8"
    lines = ray.data.read_text(
        [str(f) for f in plan.files],
        encoding=encoding,
        drop_empty_lines=True,
        num_cpus=DATA_CPUS,
        override_num_blocks=read_tasks(len(plan.files)),
    )
    return lines.map_batches(
        _validate_lines,
        fn_kwargs={"fmt": plan.format, "layout": plan.layout},
        batch_format="pyarrow",
        batch_size=BATCH_LINES,
        num_cpus=DATA_CPUS,
    )


def read_tasks(n_files: int) -> int:
    """Read tasks for `n_files` files: two per CPU of the cluster, files grouped in order.
    Ray's default of one task per file, each split in blocks, costs more in task overhead
    than it parallelises on small files, and the split keeps Ray from fusing the read with
    the validation into one task."""
    cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1
    return max(1, min(n_files, 2 * cpus))


def _gather(ds: ray.data.Dataset) -> tuple[list[pd.DataFrame], dict[str, int], int]:
    """The canonical rows in input order (as one frame, `order` renumbered from 0), the
    reject counts and rows_in."""
    tables, rejected = [], dict.fromkeys(REJECT_REASONS[:-1], 0)
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        is_stats = pc.is_valid(batch[_REASON])
        for reason, n in zip(
            batch.filter(is_stats)[_REASON].to_pylist(),
            batch.filter(is_stats)[_COUNT].to_pylist(),
            strict=True,
        ):
            rejected[reason] += n
        tables.append(batch.filter(pc.invert(is_stats)).select(list(CANONICAL_COLUMNS)))
    rows = sum(len(t) for t in tables)
    if not rows:
        return [], rejected, sum(rejected.values())
    frame = pa.concat_tables(tables).to_pandas()
    frame["order"] = np.arange(rows, dtype=np.int64)
    return [frame], rejected, rows + sum(rejected.values())


def canonical_table(canon: pd.DataFrame, counts: dict[str, int]) -> pa.Table:
    """A validated batch as Arrow (ids as canonical strings), followed by one row per
    nonzero reject count."""
    n = len(canon)
    items = canonical_ids_arrow(canon["item_id"])
    data = {
        "user_id": canonical_ids_arrow(canon["user_id"]),
        "item_id": items,
        "timestamp": pa.array(canon["timestamp"].to_numpy(np.int64)),
        "category": _categories_once(items, canon["category"].to_numpy(dtype=object)),
        "action": pa.array(canon["action"].to_numpy(dtype=object), pa.string(), from_pandas=True),
        "value": pa.array(canon["value"].to_numpy(np.float64), pa.float64()),
        "order": pa.array(canon["order"].to_numpy(np.int64)),
        _REASON: pa.nulls(n, pa.string()),
        _COUNT: pa.nulls(n, pa.int64()),
    }
    stats = [(r, c) for r, c in counts.items() if c]
    table = pa.table(data, schema=CANONICAL_SCHEMA)
    if not stats:
        return table
    extra = {f.name: pa.nulls(len(stats), f.type) for f in CANONICAL_SCHEMA}
    extra[_REASON] = pa.array([r for r, _ in stats], pa.string())
    extra[_COUNT] = pa.array([c for _, c in stats], pa.int64())
    return pa.concat_tables([table, pa.table(extra, schema=CANONICAL_SCHEMA)])


def _categories_once(items: pa.Array, cats: np.ndarray) -> pa.Array:
    """Categories are item facts that build_interactions unions over an item's rows: ship the
    union of the batch on each item's first row only (null on the others), which gives the
    same Interactions for far less data than a list on every row."""
    n = len(cats)
    has = ~pd.isna(cats)
    if not has.any():
        return pa.nulls(n, pa.list_(pa.string()))
    codes = pc.dictionary_encode(items).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.flatnonzero(has)
    # one row per (item, list object) first: validation shares one list between equal strings
    ident = np.fromiter(map(id, cats[rows]), np.int64, len(rows))
    rows = rows[~pd.DataFrame({"c": codes[rows], "o": ident}).duplicated().to_numpy()]
    names = pd.Series(cats[rows], index=codes[rows], dtype=object).explode().dropna()
    pairs = pd.DataFrame({"code": names.index, "name": names.to_numpy(object)})
    pairs = pairs.drop_duplicates().sort_values("code", kind="stable")
    code_of_pair = pairs["code"].to_numpy(np.int64)
    listed, starts = np.unique(code_of_pair, return_index=True)
    offsets = np.append(starts, len(code_of_pair)).astype(np.int32)
    lists = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(pairs["name"].to_numpy(object), pa.string())
    )
    # row r takes list j when r is the first row of the j-th listed item
    first = np.unique(codes, return_index=True)[1]
    take = np.full(n, -1, np.int64)
    take[first[listed]] = np.arange(len(listed))
    return lists.take(pa.array(take, mask=take < 0))


# ---- Parquet -------------------------------------------------------------------------------


def _parquet(plan: InputPlan) -> ray.data.Dataset:
    """One read_parquet per run of consecutive files with the same columns (names and
    types), unioned in order: a single read over files of different schemas would take the
    first file's schema for all."""
    runs: list[tuple[tuple, list[tabular.FileColumns]]] = []
    for fc in plan.tables:
        schema = pq.read_schema(fc.file)
        key = (tuple((c, str(schema.field(c).type)) for c in fc.read), tuple(sorted(fc.hive)))
        if runs and runs[-1][0] == key:
            runs[-1][1].append(fc)
        else:
            runs.append((key, [fc]))
    parts = []
    for _, fcs in runs:
        hive_keys = sorted(fcs[0].hive)
        ds = ray.data.read_parquet(
            [str(fc.file) for fc in fcs],
            columns=fcs[0].read,
            partitioning=None,
            include_paths=bool(hive_keys),
            file_extensions=None,
            num_cpus=DATA_CPUS,
            override_num_blocks=read_tasks(len(fcs)),
        )
        parts.append(
            ds.map_batches(
                _validate_table,
                fn_kwargs={"cols": plan.columns, "root": str(plan.root), "hive_keys": hive_keys},
                batch_format="pyarrow",
                batch_size=None,
                num_cpus=DATA_CPUS,
            )
        )
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _validate_table(batch: pa.Table, cols: Columns, root: str, hive_keys: list[str]) -> pa.Table:
    malformed = 0
    if _MALFORMED in batch.column_names:
        marks = batch[_MALFORMED]
        malformed = int(pc.sum(marks).as_py() or 0)
        batch = batch.filter(pc.is_null(marks)).drop_columns([_MALFORMED])
    if hive_keys and "path" in batch.column_names:
        batch = _with_hive(batch, Path(root), hive_keys)
    canon, counts = validate_batch(tabular.to_pandas(batch), cols, 0)
    counts["malformed_line"] = malformed
    return canonical_table(canon, counts)


def _with_hive(batch: pa.Table, root: Path, keys: list[str]) -> pa.Table:
    """Partition-folder values of each row's file as string columns (read_parquet's `path`
    column dropped)."""
    paths = batch["path"].to_numpy(zero_copy_only=False)
    uniq, inverse = np.unique(paths.astype(str), return_inverse=True)
    values = [tabular.hive_values(Path(p), root) for p in uniq]
    batch = batch.drop_columns(["path"])
    for key in keys:
        col = np.array([v.get(key) for v in values], dtype=object)[inverse]
        batch = batch.append_column(key, pa.array(col, pa.string(), from_pandas=True))
    return batch


# ---- CSV -----------------------------------------------------------------------------------


class CsvWithMalformed(FileBasedDatasource):
    """CSV files read as read_csv reads them (Arrow's streaming CSV reader, every schema
    column as text), plus a `_malformed` count of the lines with a wrong number of fields:
    null on data rows, the count on one extra row at the end of each file that had any."""

    def __init__(self, files: dict[str, tuple[list[str], dict[str, str]]], columns: list[str]):
        super().__init__(list(files), file_extensions=None)
        self._files = files  # resolved path -> (columns to read, partition-folder values)
        self._columns = columns  # the output's columns, in order

    def _read_stream(self, f: pa.NativeFile, path: str):
        read, hive = self._files[str(Path(path).resolve())]
        bad = [0]

        def skip(row) -> str:
            bad[0] += 1
            return "skip"

        try:
            reader = pacsv.open_csv(
                f,
                read_options=pacsv.ReadOptions(
                    use_threads=False, block_size=tabular.CSV_BLOCK_BYTES
                ),
                parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
                convert_options=tabular.csv_convert_options(read),
            )
            for batch in reader:
                yield self._shape(pa.Table.from_batches([batch]), hive, None)
        except (pa.ArrowException, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a readable CSV file ({e})") from e
        if bad[0]:
            empty = pa.table({c: pa.nulls(1, pa.string()) for c in self._columns})
            yield self._shape(empty, {}, bad[0])

    def _shape(self, table: pa.Table, hive: dict[str, str], malformed: int | None) -> pa.Table:
        n = len(table)
        cols = {}
        for c in self._columns:
            if c in hive:
                cols[c] = pa.array([hive[c]] * n, pa.string())
            elif c in table.column_names:
                cols[c] = table[c]
            else:
                cols[c] = pa.nulls(n, pa.string())
        cols[_MALFORMED] = pa.array([malformed] * n, pa.int64())
        return pa.table(cols)


def _csv(plan: InputPlan) -> ray.data.Dataset:
    columns = list(dict.fromkeys(c for fc in plan.tables for c in fc.read + list(fc.hive)))
    files = {str(fc.file.resolve()): (fc.read, fc.hive) for fc in plan.tables}
    ds = ray.data.read_datasource(
        CsvWithMalformed(files, columns),
        num_cpus=DATA_CPUS,
        override_num_blocks=read_tasks(len(files)),
    )
    return ds.map_batches(
        _validate_table,
        fn_kwargs={"cols": plan.columns, "root": str(plan.root), "hive_keys": []},
        batch_format="pyarrow",
        batch_size=None,
        num_cpus=DATA_CPUS,
    )


# ---- MovieLens and reviews (text lines) ----------------------------------------------------


def _validate_lines(batch: pa.Table, fmt: str, layout: ml.Layout | None) -> pa.Table:
    lines = batch["text"].to_pylist()
    if fmt == "movielens":
        df, bad = ml.parse_ratings(lines, layout)
    else:
        df, bad = reviews.parse_review_lines(lines)
    canon, counts = validate_batch(df, Columns(), 0)
    counts["malformed_line"] = bad
    return canonical_table(canon, counts)
