"""The Ray-free steps of the scalable pipeline (adrec.distributed.pipeline): list a log's files
on any filesystem, read them in batches, validate each batch with validate_rows (the one
definition of every reject reason), hash-partition the valid rows by user, and turn one
partition of whole users into the sorted, deduplicated log and its behaviour windows.

    list_log(source, fmt="auto", filesystem=None) -> LogFiles
    file_batches(files, i, columns, batch_rows) -> (raw frame | None, malformed lines)
    prepare_batch(raw, columns, known, file_index, row_start, source, n_buckets) -> Prepared
    read_files(log, indices, columns, known, n_buckets, tally) -> Prepared batches (ReadTally)
    finish_partition(tables, vocab, sources, window, sig, stride, steps) -> Partition
    prepare_local(source, ...) -> LocalResult   (all of it in one process: the baseline)

Input order and ties: a valid row carries `order` = file index * 2**40 + its row in the file,
so sorting a user's rows by (timestamp, order) keeps the input order among equal timestamps
(files in path order, rows in file order): interactions.TIE_RULE, without a global count.
Duplicates are build_interactions' rule (an exact repeat of an earlier row's user, item,
timestamp, action and value): rows of one user share a partition, so a partition finds all
of its own. Rejected rows keep their raw values (as text), the file and row they came from
and a reason (validate.REJECT_REASONS).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from adrec.data.interactions import IdMap, canonical_ids_arrow
from adrec.data.readers import tabular
from adrec.data.validate import REJECT_REASONS, ROW_REASONS, Columns, Known, validate_rows
from adrec.data.windows_table import interaction_windows
from adrec.detectors.behaviour.windows import InteractionWindow, Signals

FORMATS = {"parquet": tabular.PARQUET_SUFFIXES, "csv": tabular.CSV_SUFFIXES,
           "jsonl": (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")}  # fmt: skip
ROW_BITS = 40  # order = file index << ROW_BITS | row in the file
BATCH_ROWS = 262_144
SCHEMA_FIELDS = ("user_id", "item_id", "timestamp", "category", "action", "value")
VALID_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", pa.int64()),
        ("action", pa.string()),
        ("value", pa.float64()),
        ("order", pa.int64()),
    ]
)
REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("row", pa.int64()),
        ("reason", pa.string()),
        *[(f, pa.string()) for f in SCHEMA_FIELDS],
        ("line", pa.string()),
    ]
)
FACT_SCHEMA = pa.schema([("item_id", pa.string()), ("category", pa.string())])


# ---- files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFiles:
    """A log's data files, in path order, on `filesystem` (pyarrow), and its format."""

    filesystem: pafs.FileSystem
    root: str
    files: tuple[str, ...]
    format: str

    def __len__(self) -> int:
        return len(self.files)


def resolve_filesystem(source: str, filesystem=None) -> tuple[pafs.FileSystem, str]:
    """(pyarrow filesystem, path on it) of a local path or a URI: any scheme pyarrow knows
    (file://, s3://, gs://, hdfs://, ...) or fsspec knows (wrapped for pyarrow); `filesystem`
    (pyarrow or fsspec) when given is used with `source` as its path."""
    if filesystem is not None:
        if not isinstance(filesystem, pafs.FileSystem):
            filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(filesystem))
        return filesystem, str(source)
    if "://" not in str(source):
        return pafs.LocalFileSystem(), str(Path(source).expanduser().resolve())
    try:
        return pafs.FileSystem.from_uri(str(source))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import fsspec

        fs, path = fsspec.core.url_to_fs(str(source))
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def list_log(source: str, fmt: str = "auto", filesystem=None) -> LogFiles:
    """The data files of a log: the file itself, or the visible files under the folder (names
    starting with "." or "_" skipped; `events/` only where the folder has one), in path order,
    compared folder by folder, as the in-process readers list them."""
    fs, path = resolve_filesystem(source, filesystem)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"no file or folder at {source}")
    if info.type == pafs.FileType.File:
        found, root = [path], str(PurePosixPath(path).parent)
    else:
        events = fs.get_file_info(f"{path.rstrip('/')}/events")
        root = events.path if events.type == pafs.FileType.Directory else path
        selector = pafs.FileSelector(root, recursive=True)
        found = [
            f.path
            for f in fs.get_file_info(selector)
            if f.type == pafs.FileType.File
            and not any(
                p.startswith((".", "_")) for p in PurePosixPath(f.path).relative_to(root).parts
            )
        ]
    if fmt == "auto":
        kinds = {k for f in found for k, sfx in FORMATS.items() if f.lower().endswith(sfx)}
        if len(kinds) != 1:
            what = f"files of several formats ({sorted(kinds)})" if kinds else "no data file"
            raise ValueError(f"{source} holds {what}; pass a format (parquet, csv, jsonl)")
        fmt = kinds.pop()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    files = sorted(
        (f for f in found if f.lower().endswith(FORMATS[fmt])),
        key=lambda f: PurePosixPath(f).relative_to(root).parts,
    )
    if not files:
        raise ValueError(f"no {fmt} file ({', '.join(FORMATS[fmt])}) under {source}")
    return LogFiles(fs, root, tuple(files), fmt)


def file_batches(
    log: LogFiles, index: int, columns: Columns, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[pd.DataFrame | None, list[tuple[int | None, str]]]]:
    """(rows to validate, or None, and the malformed lines met since the last batch as
    (line number, text)) of file `index`. A file that cannot be read at all raises
    ValueError naming it; so does one that lacks a column `columns` requires."""
    path = log.files[index]
    hive = tabular.hive_values(PurePosixPath(path), PurePosixPath(log.root))
    try:
        if log.format == "parquet":
            yield from _parquet_batches(log.filesystem, path, hive, columns, batch_rows)
        elif log.format == "csv":
            yield from _csv_batches(log.filesystem, path, hive, columns)
        else:
            yield from _json_batches(log.filesystem, path, hive, columns, batch_rows)
    except (pa.ArrowException, OSError, UnicodeDecodeError, EOFError) as e:
        kind = {"parquet": "Parquet", "csv": "CSV", "jsonl": "JSON lines"}[log.format]
        raise ValueError(f"{path}: not a readable {kind} file ({e})") from e


def _fields(available: list[str], hive: dict, columns: Columns, path: str):
    """(source columns to read, partition-folder values to add) for one file."""
    where = columns.resolve(list(available) + [k for k in hive if k not in available], path)
    used = [c for c in where.values() if c is not None]
    return [c for c in used if c in available], {c: hive[c] for c in used if c not in available}


def _parquet_batches(fs, path, hive, columns, batch_rows):
    with fs.open_input_file(path) as f:
        reader = pq.ParquetFile(f)
        read, extra = _fields(reader.schema_arrow.names, hive, columns, path)
        for batch in reader.iter_batches(batch_size=batch_rows, columns=read):
            yield tabular.with_hive(tabular.to_pandas(pa.Table.from_batches([batch])), extra), []


def _csv_batches(fs, path, hive, columns):
    bad: list[tuple[int | None, str]] = []

    def skip(row) -> str:
        bad.append((row.number, row.text))
        return "skip"

    with fs.open_input_stream(path, compression="detect") as f:
        first = io.TextIOWrapper(f, encoding="utf-8-sig", newline="").readline()
    header = next(csv.reader([first]), [])
    if not header or not any(n.strip() for n in header):
        raise ValueError(f"{path}: the first line names no column (a CSV header is expected)")
    read, extra = _fields(header, hive, columns, path)
    reader = pacsv.open_csv(
        fs.open_input_stream(path, compression="detect"),
        read_options=pacsv.ReadOptions(block_size=tabular.CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
        convert_options=tabular.csv_convert_options(read),
    )
    for batch in reader:
        out, bad[:] = list(bad), []
        yield tabular.with_hive(tabular.to_pandas(pa.Table.from_batches([batch])), extra), out
    if bad:
        yield None, list(bad)


def _json_batches(fs, path, hive, columns, batch_rows):
    """JSON lines: one object per line; a line that does not parse, or is not an object, is
    malformed. The schema's fields are taken as the JSON gives them (validate_rows judges
    their types); a field a line lacks is null."""
    wanted = columns.wanted()
    with fs.open_input_stream(path, compression="detect") as f:
        text = io.TextIOWrapper(f, encoding="utf-8")
        rows: list[dict] = []
        bad: list[tuple[int | None, str]] = []
        seen: set[str] = set()
        for number, line in enumerate(text, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                bad.append((number, line.rstrip("\r\n")))
                continue
            seen.update(k for k in wanted if k in record)
            rows.append({k: record.get(k) for k in wanted})
            if len(rows) >= batch_rows:
                yield _json_frame(rows, wanted, hive, columns, path), bad
                rows, bad = [], []
        if rows or bad:
            yield (_json_frame(rows, wanted, hive, columns, path) if rows else None), bad


def _json_frame(rows, wanted, hive, columns, path) -> pd.DataFrame:
    present = [k for k in wanted if any(r.get(k) is not None for r in rows)]
    required = {columns.user, columns.item, columns.time}
    read, extra = _fields(sorted(set(present) | (required - set(hive))), hive, columns, path)
    frame = pd.DataFrame({k: pd.Series([r.get(k) for r in rows], dtype=object) for k in read})
    return tabular.with_hive(frame, extra)


# ---- one batch -----------------------------------------------------------------------------


@dataclass
class Prepared:
    """A validated batch: valid rows (VALID_SCHEMA) with each row's partition, rejected rows
    (REJECT_SCHEMA), counts by reason, and the item facts and log facts it saw."""

    valid: pa.Table
    bucket: np.ndarray
    rejects: pa.Table
    counts: dict[str, int]
    facts: pa.Table
    actions: set[str] = field(default_factory=set)
    missing_action: bool = False
    values: tuple[int, float, float] = (0, np.inf, -np.inf)  # present, finite min, max


def user_buckets(user_ids: pa.Array, n_buckets: int) -> np.ndarray:
    """The partition of each canonical user id: a stable hash (the same on every machine
    and run) modulo n_buckets."""
    ids = user_ids.to_numpy(zero_copy_only=False).astype(object)
    return (pd.util.hash_array(ids, categorize=True) % np.uint64(n_buckets)).astype(np.int32)


def prepare_batch(
    raw: pd.DataFrame,
    columns: Columns,
    known: Known | None,
    file_index: int,
    row_start: int,
    source: str,
    n_buckets: int,
) -> Prepared:
    """validate_rows over one batch of a file; valid rows in canonical form with their
    partition and input order, rejected rows with their reason."""
    canon, counts, reason = validate_rows(raw, columns, 0, source, known)
    rows = np.flatnonzero(reason == 0)
    user = canonical_ids_arrow(canon["user_id"])
    item = canonical_ids_arrow(canon["item_id"])
    action = canon["action"].to_numpy(dtype=object)
    value = canon["value"].to_numpy(np.float64)
    valid = pa.table(
        {
            "user_id": user,
            "item_id": item,
            "timestamp": pa.array(canon["timestamp"].to_numpy(np.int64)),
            "action": pa.array(action, pa.string(), from_pandas=True),
            "value": pa.array(value, pa.float64()),
            "order": pa.array((np.int64(file_index) << ROW_BITS) + row_start + rows),
        },
        schema=VALID_SCHEMA,
    )
    present = ~np.isnan(value)
    finite = value[np.isfinite(value)]
    names = pd.unique(action[pd.notna(action)]) if len(action) else []
    return Prepared(
        valid=valid,
        bucket=user_buckets(user, n_buckets),
        rejects=rejected_rows(raw, columns, reason, source, row_start),
        counts=counts,
        facts=item_facts(item, canon["category"].to_numpy(dtype=object)),
        actions={str(a) for a in names},
        missing_action=bool(len(action) and pd.isna(action).any()),
        values=(
            int(present.sum()),
            float(finite.min()) if len(finite) else np.inf,
            float(finite.max()) if len(finite) else -np.inf,
        ),
    )


def item_facts(items: pa.Array, cats: np.ndarray) -> pa.Table:
    """Distinct (item, category name) pairs of a batch; an item without any category has one
    pair with a null category (so that every item is listed)."""
    codes, uniq = pd.factorize(items.to_numpy(zero_copy_only=False).astype(object))
    has = ~pd.isna(cats)
    first = pd.DataFrame({"code": codes, "obj": [id(c) for c in cats]}).drop_duplicates()
    rows = first.index.to_numpy()
    rows = rows[has[rows]]
    names = pd.Series(cats[rows], index=codes[rows], dtype=object).explode().dropna()
    pairs = pd.DataFrame({"code": names.index.to_numpy(np.int64), "name": names.astype(str)})
    pairs = pairs.drop_duplicates()
    bare = np.setdiff1d(np.arange(len(uniq)), pairs["code"].to_numpy())
    item = np.concatenate([uniq[pairs["code"].to_numpy()], uniq[bare]]).astype(object)
    cat = np.concatenate([pairs["name"].to_numpy(object), np.full(len(bare), None, object)])
    return pa.table(
        {"item_id": pa.array(item, pa.string()), "category": pa.array(cat, pa.string())},
        schema=FACT_SCHEMA,
    )


def _as_text(values: pd.Series) -> list[str | None]:
    out = []
    for v in values.to_numpy(dtype=object):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, list | tuple | np.ndarray):
            out.append(json.dumps([None if x is None else str(x) for x in v]))
        else:
            out.append(str(v))
    return out


def rejected_rows(
    raw: pd.DataFrame, columns: Columns, reason: np.ndarray, source: str, row_start: int
) -> pa.Table:
    """The rows validate_rows rejected, their raw values as text, with their reason."""
    bad = np.flatnonzero(reason > 0)
    if not len(bad):
        return REJECT_SCHEMA.empty_table()
    where = columns.resolve(raw.columns, source)
    data = {
        "source": pa.array([source] * len(bad), pa.string()),
        "row": pa.array(row_start + bad, pa.int64()),
        "reason": pa.array(np.array(ROW_REASONS, dtype=object)[reason[bad] - 1], pa.string()),
    }
    for name in SCHEMA_FIELDS:
        col = where.get(name)
        text = _as_text(raw[col].iloc[bad]) if col is not None else [None] * len(bad)
        data[name] = pa.array(text, pa.string())
    data["line"] = pa.nulls(len(bad), pa.string())
    return pa.table(data, schema=REJECT_SCHEMA)


def malformed_rows(lines: list[tuple[int | None, str]], source: str) -> pa.Table:
    """Malformed lines as rejects (their text in `line`; `row` the line number where known)."""
    n = len(lines)
    data = {
        "source": pa.array([source] * n, pa.string()),
        "row": pa.array([number for number, _ in lines], pa.int64()),
        "reason": pa.array(["malformed_line"] * n, pa.string()),
        **{f: pa.nulls(n, pa.string()) for f in SCHEMA_FIELDS},
        "line": pa.array([text for _, text in lines], pa.string()),
    }
    return pa.table(data, schema=REJECT_SCHEMA)


@dataclass
class ReadTally:
    """What a read of some files saw: rows in, rejected rows by reason (every reason but
    "duplicate", which the partitions count), the rejected rows themselves, the item facts,
    the action names, and whether values and sub-day times are present. Plain data: a Ray
    task returns its tally's summary() and the driver merges them (merge_summaries)."""

    rows_in: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECT_REASONS[:-1], 0))
    rejects: list[pa.Table] = field(default_factory=list)
    facts: list[pa.Table] = field(default_factory=list)
    actions: set[str] = field(default_factory=set)
    missing_action: bool = False
    sub_day: bool = False
    values: tuple[int, float, float] = (0, np.inf, -np.inf)

    def add_malformed(self, bad: list[tuple[int | None, str]], source: str) -> None:
        self.rejected["malformed_line"] += len(bad)
        self.rows_in += len(bad)
        self.rejects.append(malformed_rows(bad, source))

    def add(self, raw_rows: int, p: Prepared) -> None:
        self.rows_in += raw_rows
        for reason, n in p.counts.items():
            self.rejected[reason] += n
        if len(p.rejects):
            self.rejects.append(p.rejects)
        self.facts.append(p.facts)
        self.actions |= p.actions
        self.missing_action |= p.missing_action
        n, lo, hi = self.values
        self.values = (n + p.values[0], min(lo, p.values[1]), max(hi, p.values[2]))
        ts = p.valid["timestamp"].to_numpy()
        self.sub_day |= bool((ts % 86_400 != 0).any())

    def fact_table(self) -> pa.Table:
        t = pa.concat_tables(self.facts) if self.facts else FACT_SCHEMA.empty_table()
        return t.group_by(["item_id", "category"]).aggregate([])

    def reject_table(self) -> pa.Table:
        return pa.concat_tables(self.rejects) if self.rejects else REJECT_SCHEMA.empty_table()

    def summary(self) -> dict:
        """The JSON-able part (no tables)."""
        n, lo, hi = self.values
        return {"rows_in": self.rows_in, "rejected": dict(self.rejected),
                "actions": sorted(self.actions), "missing_action": self.missing_action,
                "sub_day": self.sub_day, "values": [n, lo if np.isfinite(lo) else None,
                                                    hi if np.isfinite(hi) else None]}  # fmt: skip


def merge_summaries(summaries: list[dict]) -> dict:
    """The summary of a read made of reads with these summaries."""
    rejected = dict.fromkeys(REJECT_REASONS[:-1], 0)
    for s in summaries:
        for r, n in s["rejected"].items():
            rejected[r] += n
    lows = [s["values"][1] for s in summaries if s["values"][1] is not None]
    highs = [s["values"][2] for s in summaries if s["values"][2] is not None]
    return {
        "rows_in": sum(s["rows_in"] for s in summaries),
        "rejected": rejected,
        "actions": sorted(set().union(*[set(s["actions"]) for s in summaries])),
        "missing_action": any(s["missing_action"] for s in summaries),
        "sub_day": any(s["sub_day"] for s in summaries),
        "values": [
            sum(s["values"][0] for s in summaries),
            min(lows, default=None),
            max(highs, default=None),
        ],  # fmt: skip
    }


def read_files(
    log: LogFiles,
    indices,
    columns: Columns,
    known: Known | None,
    n_buckets: int,
    tally: ReadTally,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Prepared]:
    """Every validated batch of the files `indices` of `log`, in order; what each batch
    rejected (and the malformed lines) goes to `tally`."""
    for index in indices:
        row = 0
        source = log.files[index]
        for raw, bad in file_batches(log, index, columns, batch_rows):
            if bad:
                tally.add_malformed(bad, source)
            if raw is None or not len(raw):
                continue
            p = prepare_batch(raw, columns, known, index, row, source, n_buckets)
            row += len(raw)
            tally.add(len(raw), p)
            yield p


# ---- the log's item and action vocabulary ---------------------------------------------------


@dataclass
class Vocabulary:
    """What the partitions need of the whole log: the item map and the items' categories
    (as build_interactions makes them), the action names, and whether values and sub-day
    times are present (Signals)."""

    items: IdMap
    categories: tuple[str, ...]
    item_categories: np.ndarray  # [n_items + 1, C] float32
    action_names: tuple[str, ...]
    has_value: bool
    value_spread: bool

    def to_frame(self) -> pd.DataFrame:
        frame = self.items.to_frame()
        for j, name in enumerate(self.categories):
            frame[f"category:{name}"] = self.item_categories[1:, j]
        return frame

    def meta(self) -> dict:
        return {
            "categories": list(self.categories),
            "action_names": list(self.action_names),
            "has_value": self.has_value,
            "value_spread": self.value_spread,
        }

    @classmethod
    def from_saved(cls, frame: pd.DataFrame, meta: dict) -> Vocabulary:
        frame = frame.sort_values("index")
        cats = tuple(meta["categories"])
        flags = np.zeros((len(frame) + 1, len(cats)), np.float32)
        for j, name in enumerate(cats):
            flags[1:, j] = frame[f"category:{name}"].to_numpy()
        return cls(
            IdMap.from_frame(frame[["index", "raw_id"]]),
            cats,
            flags,
            tuple(meta["action_names"]),
            bool(meta["has_value"]),
            bool(meta["value_spread"]),
        )


def vocabulary(
    facts: pa.Table, actions: set[str], missing_action: bool, values: tuple[int, float, float]
) -> Vocabulary:
    """The log's vocabulary from the facts of all its batches (build_interactions' rules:
    items sorted, numerically when all are integers; category names sorted; action names
    sorted, "" for a missing action when the log has actions)."""
    facts = facts.group_by(["item_id", "category"]).aggregate([])
    items = IdMap.from_ids(pc.unique(facts["item_id"]), start=1)
    named = facts.filter(pc.is_valid(facts["category"]))
    names = pc.utf8_trim_whitespace(named["category"])
    keep = pc.not_equal(names, "")
    names, item_of = names.filter(keep), named["item_id"].filter(keep)
    categories = tuple(sorted(set(names.to_pylist())))
    flags = np.zeros((len(items) + 1, len(categories)), np.float32)
    if len(categories):
        col = pc.index_in(names, value_set=pa.array(categories, pa.string())).to_numpy()
        flags[items.index(item_of), col] = 1.0
    action_names: tuple[str, ...] = ()
    if actions:
        action_names = tuple(sorted(actions | ({""} if missing_action else set())))
    n_present, lo, hi = values
    return Vocabulary(items, categories, flags, action_names, n_present > 0, bool(hi > lo))


# ---- one partition of whole users -----------------------------------------------------------


@dataclass
class Partition:
    """One partition's sorted, deduplicated log (dense items, action codes), its duplicates
    as rejects, each user's item sequence, and its windows (or None)."""

    log: pa.Table
    duplicates: pa.Table
    sequences: pa.Table
    windows: pa.Table | None


def finish_partition(
    tables: list[pa.Table],
    vocab: Vocabulary,
    sources: list[str],
    window=None,
    sig=None,
    stride: int = 10,
    steps: bool = True,
) -> Partition:
    """Duplicates out (the first occurrence in input order kept), every user's rows in
    (timestamp, input order), items as dense indices, actions as codes; then the windows of
    every user (interaction_windows) where a window is given. `sources`: the file of each
    file index (for the duplicates' rejects)."""
    t = pa.concat_tables(tables) if tables else VALID_SCHEMA.empty_table()
    t = t.combine_chunks()
    codes, users = pd.factorize(t["user_id"].to_numpy(zero_copy_only=False).astype(object))
    rank = np.empty(len(users), np.int64)
    rank[np.argsort(users.astype(str), kind="stable")] = np.arange(len(users))
    users = np.sort(users.astype(str)).astype(object)
    user_code = rank[codes]
    # One sort: user, time, input order; exact repeats then follow their first occurrence.
    order = np.lexsort((t["order"].to_numpy(), t["timestamp"].to_numpy(), user_code))
    t, user_code = t.take(pa.array(order)), user_code[order]
    item = vocab.items.index(t["item_id"])
    if (item < 0).any():
        raise RuntimeError("a partition holds an item the vocabulary lacks")
    action = None
    if vocab.action_names:
        names = pc.fill_null(t["action"], "")
        action = pc.index_in(names, value_set=pa.array(vocab.action_names)).to_numpy()
        action = action.astype(np.int64)
    value = t["value"].to_numpy(zero_copy_only=False)
    key = {"user": user_code, "item": item, "timestamp": t["timestamp"].to_numpy()}
    key.update(action=action if action is not None else np.zeros(len(t), np.int64), value=value)
    dup = pd.DataFrame(key).duplicated(keep="first").to_numpy()
    duplicates = _duplicate_rejects(t.filter(pa.array(dup)), sources)
    if dup.any():
        keep = ~dup
        t, user_code, item = t.filter(pa.array(keep)), user_code[keep], item[keep]
        action = None if action is None else action[keep]
    value = t["value"].to_numpy(zero_copy_only=False) if vocab.has_value else None
    cols = {"user_id": t["user_id"], "item": pa.array(item), "timestamp": t["timestamp"]}
    if action is not None:
        cols["action"] = pa.array(action)
    if value is not None:
        cols["value"] = pa.array(value)
    cols["order"] = t["order"]
    log = pa.table(cols)
    bounds = np.searchsorted(user_code, np.arange(len(users) + 1))
    present = np.diff(bounds) > 0
    offsets = pa.array(bounds[np.r_[True, present]].astype(np.int32))
    sequences = pa.table(
        {
            "user_id": pa.array(users[present], pa.string()),
            "items": pa.ListArray.from_arrays(offsets, pa.array(item)),
            "times": pa.ListArray.from_arrays(offsets, t["timestamp"].combine_chunks()),
        }
    )
    windows = None
    if window is not None:
        wa = interaction_windows(
            bounds, item, t["timestamp"].to_numpy(), value, action, window, sig, stride, steps
        )
        windows = window_table(wa, users[np.searchsorted(bounds, wa.row, side="right") - 1])
    return Partition(log, duplicates, sequences, windows)


def window_table(wa, user_ids: np.ndarray) -> pa.Table:
    """WindowArrays as Arrow: user_id, end, time, window_start, features (fixed-size list of
    float32) and steps (fixed-size list of fixed-size lists) when computed."""
    n, width = wa.features.shape
    cols = {
        "user_id": pa.array(np.asarray(user_ids, dtype=object), pa.string()),
        "end": pa.array(wa.end.astype(np.int64)),
        "time": pa.array(wa.time),
        "window_start": pa.array(wa.window_start),
        "features": pa.FixedSizeListArray.from_arrays(pa.array(wa.features.reshape(-1)), width),
    }
    if wa.steps is not None:
        _, size, sf = wa.steps.shape
        inner = pa.FixedSizeListArray.from_arrays(pa.array(wa.steps.reshape(-1)), sf)
        cols["steps"] = pa.FixedSizeListArray.from_arrays(inner, size)
    return pa.table(cols)


def _duplicate_rejects(dups: pa.Table, sources: list[str]) -> pa.Table:
    n = len(dups)
    if not n:
        return REJECT_SCHEMA.empty_table()
    order = dups["order"].to_numpy()
    file_index = order >> ROW_BITS
    data = {
        "source": pa.array(np.asarray(sources, dtype=object)[file_index], pa.string()),
        "row": pa.array(order & ((1 << ROW_BITS) - 1)),
        "reason": pa.array(["duplicate"] * n, pa.string()),
        "user_id": dups["user_id"],
        "item_id": dups["item_id"],
        "timestamp": pc.cast(dups["timestamp"], pa.string()),
        "category": pa.nulls(n, pa.string()),
        "action": dups["action"],
        "value": pc.cast(dups["value"], pa.string()),
        "line": pa.nulls(n, pa.string()),
    }
    return pa.table(data, schema=REJECT_SCHEMA)


# ---- the whole computation in one process ---------------------------------------------------


def log_signals(vocab: Vocabulary, sub_day: bool) -> Signals:
    """What the log offers a window (Signals.from_log's rules, from the vocabulary's facts)."""
    base = Signals.from_log(vocab.item_categories, len(vocab.action_names), None, np.zeros(1))
    return Signals(base.shares, base.n_actions, vocab.has_value and vocab.value_spread, sub_day)


def summary_vocabulary(facts: pa.Table, summary: dict) -> Vocabulary:
    """vocabulary() from the item facts and a read's summary (ReadTally.summary)."""
    n, lo, hi = summary["values"]
    lo = np.inf if lo is None else lo
    hi = -np.inf if hi is None else hi
    return vocabulary(facts, set(summary["actions"]), summary["missing_action"], (n, lo, hi))


@dataclass
class LocalResult:
    """prepare_local's output: the whole log as one Partition, the read's summary (rows_in,
    rejected by reason, duplicates included), every rejected row, and the vocabulary."""

    partition: Partition
    report: dict
    rejects: pa.Table
    vocab: Vocabulary


def prepare_local(
    source: str,
    columns: Columns | None = None,
    known: Known | None = None,
    fmt: str = "auto",
    window: InteractionWindow | None = None,
    stride: int | None = None,
    steps: bool = True,
    batch_rows: int = BATCH_ROWS,
    filesystem=None,
) -> LocalResult:
    """The pipeline's computation in this process with the same steps (read in batches,
    validate, vocabulary, sort, deduplicate, windows), all users in one partition: the
    single-process baseline of benchmarks/pipeline.py and the reference of its tests.
    report: rows_in, rows_out, rows_rejected, rejected (every validate.REJECT_REASONS)."""
    log = list_log(source, fmt, filesystem)
    tally = ReadTally()
    batches = read_files(log, range(len(log)), columns or Columns(), known, 1, tally, batch_rows)
    valid = [p.valid for p in batches]
    summary = tally.summary()
    vocab = summary_vocabulary(tally.fact_table(), summary)
    sig = log_signals(vocab, summary["sub_day"])
    stride = stride or (window.size if window is not None else 10)
    part = finish_partition(valid, vocab, list(log.files), window, sig, stride, steps)
    rejected = {**summary["rejected"], "duplicate": len(part.duplicates)}
    report = {
        "files": len(log),
        "format": log.format,
        "rows_in": summary["rows_in"],
        "rows_out": len(part.log),
        "rows_rejected": sum(rejected.values()),
        "rejected": rejected,
        "users": len(part.sequences),
        "items": len(vocab.items),
        "windows": 0 if part.windows is None else len(part.windows),
    }
    if report["rows_in"] != report["rows_out"] + report["rows_rejected"]:  # a bug, not bad data
        raise RuntimeError(f"row accounting does not add up: {report}")
    rejects = pa.concat_tables([tally.reject_table(), part.duplicates])
    return LocalResult(part, report, rejects, vocab)


# ---- the pipeline's output folder, read back (no Ray) ---------------------------------------


def _output_files(fs: pafs.FileSystem, root: str, sub: str) -> list[str]:
    sel = pafs.FileSelector(f"{root}/{sub}", recursive=True, allow_not_found=True)
    return sorted(f.path for f in fs.get_file_info(sel) if f.path.endswith(".parquet"))


def saved_vocabulary(out: str, filesystem=None) -> tuple[Vocabulary, dict]:
    """(Vocabulary, vocabulary.json) of a pipeline output folder."""
    fs, root = resolve_filesystem(out, filesystem)
    root = root.rstrip("/")
    with fs.open_input_file(f"{root}/items.parquet") as f:
        frame = pq.read_table(f).to_pandas()
    with fs.open_input_stream(f"{root}/vocabulary.json") as f:
        meta = json.loads(f.read())
    return Vocabulary.from_saved(frame, meta), meta


def pipeline_interactions(out: str, filesystem=None):
    """The product's Interactions from a pipeline output folder (adrec.distributed.pipeline):
    the validated, deduplicated log of every partition, users numbered as build_interactions
    numbers them (sorted, numerically when all are integers), rows in (user, timestamp, input
    order), items, categories, actions and values from the vocabulary; the report carries
    the pipeline's rows_in and rejects by reason. Equal to read_interactions on the same log
    (tested)."""
    from adrec.data.interactions import TIE_RULE, Interactions, _encode_ids

    fs, root = resolve_filesystem(out, filesystem)
    root = root.rstrip("/")
    vocab, meta = saved_vocabulary(out, filesystem)
    with fs.open_input_stream(f"{root}/report.json") as f:
        run = json.loads(f.read())
    files = _output_files(fs, root, "log")
    columns = ["user_id", "item", "timestamp", "order"]
    columns += ["action"] if vocab.action_names else []
    columns += ["value"] if vocab.has_value else []
    t = pa.concat_tables([pq.read_table(p, filesystem=fs, columns=columns) for p in files])
    if not len(t):
        raise ValueError(
            f"{run['source']}: no valid interaction among {run['rows_in']:,} rows "
            f"(rejected: {run['rejected']})"
        )
    users, user = _encode_ids(t["user_id"], start=0)
    time = t["timestamp"].to_numpy()
    order = np.lexsort((t["order"].to_numpy(), time, user))
    rejected = {r: int(n) for r, n in run["rejected"].items() if n or r != "duplicate"}
    report = {
        "source": run["source"],
        "format": run["format"],
        "files": run["files"],
        "rows_in": int(run["rows_in"]),
        "rejected": rejected,
        "columns": run.get("columns"),
        "rows_used": len(t),
        "tie_rule": TIE_RULE,
        "n_users": len(users),
        "n_items": len(vocab.items),
        "n_categories": len(vocab.categories),
        "pipeline": {
            "out": str(out),
            "partitions": run["partitions"],
            "seconds": run["seconds"],
        },  # fmt: skip
    }
    action = t["action"].to_numpy()[order].astype(np.int64) if vocab.action_names else None
    value = t["value"].to_numpy(zero_copy_only=False)[order] if vocab.has_value else None
    return Interactions(
        user=user[order],
        item=t["item"].to_numpy()[order].astype(np.int64),
        time=time[order].astype(np.int64),
        users=users,
        items=vocab.items,
        categories=vocab.categories,
        item_categories=vocab.item_categories,
        value=None if value is None else value.astype(np.float64),
        action=action,
        action_names=vocab.action_names,
        report=report,
    )


def pipeline_windows(out: str, filesystem=None, columns: list[str] | None = None) -> pa.Table:
    """Every partition's windows table of a pipeline output folder (window_table's columns)."""
    fs, root = resolve_filesystem(out, filesystem)
    files = _output_files(fs, root.rstrip("/"), "windows")
    tables = [pq.read_table(p, filesystem=fs, columns=columns) for p in files]
    return pa.concat_tables(tables) if tables else pa.table({})
