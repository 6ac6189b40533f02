"""The scalable log pipeline on Ray Data: a raw interaction log in, a validated log partitioned
by user, every user's item sequence and behaviour windows, and the rejected rows out, the log
never held in one process.

    run_pipeline(source, out, options=PipelineOptions(), log=print) -> report

1. Read and validate (Ray Data, one task per group of files, streamed batch by batch): the
   files of a Parquet, CSV or JSON lines log on any filesystem (a local path or a URI) are
   read in batches and validated by adrec.data.validate.validate_rows (the product's one
   definition of every reject reason); each valid row goes to the partition of its user (a
   stable hash of the user id) and is written to a staging file of that partition; rejected
   rows go to rejects/ with their reason. A task holds at most FLUSH_ROWS rows at a time.
2. The vocabulary (on the driver, small): the item map and the items' categories, the action
   names, whether values and sub-day times are present, from the item facts of step 1.
3. Partitions (Ray Data, one task per partition of whole users): duplicates out (to rejects/),
   each user's rows sorted by (timestamp, input order), items as dense indices, then the
   user's item sequence and behaviour windows (adrec.data.windows_table), written as Parquet.

Output folder:
    log/bucket=K/part.parquet        user_id, item, timestamp, action, value, order
    sequences/bucket=K/part.parquet  user_id, items, times (lists, in time order)
    windows/bucket=K/part.parquet    user_id, end, time, window_start, features, steps
    rejects/*.parquet                source, row, reason, the raw fields as text, line
    items.parquet, vocabulary.json   the item map with category flags, action names, signals
    report.json                      rows_in = rows_out + rows_rejected, by reason; timings

A file that cannot be read (not Parquet, not CSV, bad encoding) or that lacks a required
column fails the run with a ValueError naming it. Every data task asks for `task_cpus` CPUs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import ray
import ray.data

from adrec.data.log_prep import (
    REJECT_SCHEMA,
    LogFiles,
    ReadTally,
    Vocabulary,
    finish_partition,
    list_log,
    log_signals,
    merge_summaries,
    read_files,
    resolve_filesystem,
    summary_vocabulary,
)
from adrec.data.validate import Columns, Known
from adrec.detectors.behaviour.windows import InteractionWindow, Signals

FLUSH_ROWS = 1_000_000  # valid rows a read task buffers before writing its partitions' files
ROWS_PER_PARTITION = 500_000  # the partition count aims at about this many rows each
GROUP_BYTES = 64 << 20  # input bytes per read task (files are grouped in path order)
STAGING_COMPRESSION = "lz4"  # of the staging files (Arrow IPC); None: uncompressed


@dataclass(frozen=True)
class PipelineOptions:
    """columns / known: the log's schema and vocabulary (validate_rows); fmt: parquet, csv,
    jsonl or auto; partitions: None picks about ROWS_PER_PARTITION rows each (at least two
    per CPU); window / stride / steps: the behaviour windows (None: no windows); task_cpus:
    CPUs each data task asks for; filesystem: a pyarrow or fsspec filesystem for the source
    (otherwise taken from its URI)."""

    columns: Columns = Columns()
    known: Known | None = None
    fmt: str = "auto"
    partitions: int | None = None
    window: InteractionWindow | None = field(default_factory=lambda: InteractionWindow(10, 10))
    stride: int | None = None  # None: the window's size
    steps: bool = True
    task_cpus: float = 1.0
    batch_rows: int = 262_144
    filesystem: object | None = None


def _cluster_cpus() -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _estimate_rows(log: LogFiles) -> tuple[int, list[int]]:
    """(rows estimate, bytes of each file): Parquet footers give rows; text ~ 60 bytes a row."""
    infos = log.filesystem.get_file_info(list(log.files))
    sizes = [max(int(i.size or 0), 1) for i in infos]
    if log.format != "parquet":
        return sum(sizes) // 60 + 1, sizes
    rows = 0
    for f in log.files:
        with log.filesystem.open_input_file(f) as h:
            try:
                rows += pq.ParquetFile(h).metadata.num_rows
            except (pa.ArrowException, OSError) as e:
                raise ValueError(f"{f}: not a readable Parquet file ({e})") from e
    return rows, sizes


def file_groups(sizes: list[int], n_groups: int) -> list[list[int]]:
    """Consecutive runs of files of about equal bytes, at most n_groups of them."""
    total = sum(sizes)
    n_groups = max(1, min(n_groups, len(sizes)))
    cuts = np.searchsorted(np.cumsum(sizes), [total * k / n_groups for k in range(1, n_groups)])
    groups, start = [], 0
    for c in list(cuts + 1) + [len(sizes)]:
        c = int(min(max(c, start + 1), len(sizes)))
        if c > start:
            groups.append(list(range(start, c)))
            start = c
    if start < len(sizes):
        groups[-1].extend(range(start, len(sizes)))
    return groups


class _Output:
    """The output folder on its filesystem (shared by the driver and every task)."""

    def __init__(self, out: str, filesystem=None):
        self.fs, self.root = resolve_filesystem(out, filesystem)
        self.root = self.root.rstrip("/")

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def write(self, table: pa.Table, *parts: str) -> None:
        path = self.path(*parts)
        self.fs.create_dir(str(PurePosixPath(path).parent), recursive=True)
        pq.write_table(table, path, filesystem=self.fs)

    def read_dir(self, *parts: str, suffix: str = ".parquet") -> list[str]:
        sel = pafs.FileSelector(self.path(*parts), recursive=True, allow_not_found=True)
        return sorted(f.path for f in self.fs.get_file_info(sel) if f.path.endswith(suffix))

    def write_staging(self, table: pa.Table, *parts: str) -> None:
        """A staging file: Arrow IPC with LZ4 (read once, by one task, then deleted: cheaper
        to write and read than Parquet's encodings)."""
        path = self.path(*parts)
        self.fs.create_dir(str(PurePosixPath(path).parent), recursive=True)
        with self.fs.open_output_stream(path) as f:
            opts = pa.ipc.IpcWriteOptions(compression=STAGING_COMPRESSION)
            with pa.ipc.new_file(f, table.schema, options=opts) as w:
                w.write_table(table)

    def read_staging(self, path: str) -> pa.Table:
        with self.fs.open_input_file(path) as f:
            return pa.ipc.open_file(f).read_all()


def _prepare_group(batch: dict, log: LogFiles, opts: PipelineOptions, out: _Output, n_parts: int):
    """Stage 1 for one group of files (a Ray Data map over group numbers)."""
    t0, c0 = time.perf_counter(), time.process_time()
    group = int(batch["group"][0])
    files = [int(i) for i in batch["files"][0]]
    tally = ReadTally()
    buffers: dict[int, list[pa.Table]] = {}
    buffered, flushes = 0, 0

    def flush() -> None:
        nonlocal buffered, flushes
        for part, tables in buffers.items():
            out.write_staging(pa.concat_tables(tables), "staging", f"bucket={part:05d}",
                              f"g{group:05d}-{flushes:04d}.arrow")  # fmt: skip
        buffers.clear()
        buffered, flushes = 0, flushes + 1

    for p in read_files(log, files, opts.columns, opts.known, n_parts, tally, opts.batch_rows):
        order = np.argsort(p.bucket, kind="stable")
        cuts = np.searchsorted(p.bucket[order], np.arange(n_parts + 1))
        sorted_rows = p.valid.take(pa.array(order))
        for part in np.flatnonzero(np.diff(cuts)):
            a, b = int(cuts[part]), int(cuts[part + 1])
            buffers.setdefault(int(part), []).append(sorted_rows.slice(a, b - a))
        buffered += len(p.valid)
        if buffered >= FLUSH_ROWS:
            flush()
    if buffers:
        flush()
    if tally.rejects:
        out.write(tally.reject_table(), "rejects", f"rows-g{group:05d}.parquet")
    out.write(tally.fact_table(), "staging", "facts", f"g{group:05d}.parquet")
    took = {"task_s": time.perf_counter() - t0, "task_cpu_s": time.process_time() - c0,
            "node": ray.get_runtime_context().get_node_id()}  # fmt: skip
    stats = {"group": group, "files": len(files), **tally.summary(), **took}
    return {"stats": [json.dumps(stats)]}


def _finish_bucket(batch: dict, out: _Output, sources: list[str], opts: PipelineOptions):
    """Stage 3 for one partition (a Ray Data map over partition numbers)."""
    t0, c0 = time.perf_counter(), time.process_time()
    part = int(batch["bucket"][0])
    files = out.read_dir("staging", f"bucket={part:05d}", suffix=".arrow")
    tables = [out.read_staging(f) for f in files]
    vocab = _load_vocabulary(out)
    sig = _signals(vocab, out)
    window = opts.window
    stride = opts.stride or (window.size if window is not None else 10)
    p = finish_partition(tables, vocab, sources, window, sig, stride, opts.steps)
    name = f"bucket={part:05d}"
    out.write(p.log, "log", name, "part.parquet")
    out.write(p.sequences, "sequences", name, "part.parquet")
    if p.windows is not None:
        out.write(p.windows, "windows", name, "part.parquet")
    if len(p.duplicates):
        out.write(p.duplicates, "rejects", f"duplicates-{name}.parquet")
    for f in files:
        out.fs.delete_file(f)
    n_windows = 0 if p.windows is None else len(p.windows)
    took = {"task_s": time.perf_counter() - t0, "task_cpu_s": time.process_time() - c0,
            "node": ray.get_runtime_context().get_node_id()}  # fmt: skip
    stats = {"bucket": part, "rows_out": len(p.log), "duplicates": len(p.duplicates),
             "users": len(p.sequences), "windows": n_windows, **took}  # fmt: skip
    return {"stats": [json.dumps(stats)]}


def _load_vocabulary(out: _Output) -> Vocabulary:
    with out.fs.open_input_file(out.path("items.parquet")) as f:
        frame = pq.read_table(f).to_pandas()
    with out.fs.open_input_stream(out.path("vocabulary.json")) as f:
        meta = json.loads(f.read())
    return Vocabulary.from_saved(frame, meta)


def _signals(vocab: Vocabulary, out: _Output) -> Signals:
    with out.fs.open_input_stream(out.path("vocabulary.json")) as f:
        meta = json.loads(f.read())
    return log_signals(vocab, bool(meta["sub_day"]))


def _iter_stats(ds: ray.data.Dataset):
    """Each task's stats as it finishes; a task's error re-raised as the error it was (a
    ValueError naming a malformed file stays a ValueError naming it)."""
    try:
        for row in ds.iter_rows():
            yield json.loads(row["stats"])
    except Exception as e:  # Ray wraps the task's error: find the user's own
        cause = e
        while cause is not None and not isinstance(cause, ValueError | FileNotFoundError):
            cause = cause.__cause__
        if cause is not None:
            message = str(cause).splitlines()[-1] if "\n" in str(cause) else str(cause)
            raise type(cause)(message) from e
        raise


def run_pipeline(
    source: str, out: str, options: PipelineOptions | None = None, log: Callable = print
) -> dict:
    """The pipeline of the module docstring on the connected Ray cluster; returns the report
    (also written as out/report.json)."""
    opts = options or PipelineOptions()
    t0 = time.perf_counter()
    files = list_log(source, opts.fmt, opts.filesystem)
    output = _Output(out)
    if output.fs.get_file_info(output.path("staging")).type != pafs.FileType.NotFound:
        output.fs.delete_dir(output.path("staging"))
    for sub in ("log", "sequences", "windows", "rejects"):
        if output.fs.get_file_info(output.path(sub)).type != pafs.FileType.NotFound:
            output.fs.delete_dir(output.path(sub))
    rows_guess, sizes = _estimate_rows(files)
    cpus = _cluster_cpus()
    n_parts = opts.partitions or max(2 * cpus, math.ceil(rows_guess / ROWS_PER_PARTITION))
    n_groups = max(2 * cpus, math.ceil(sum(sizes) / GROUP_BYTES))
    groups = file_groups(sizes, n_groups)
    log(f"pipeline: {len(files)} {files.format} file(s), about {rows_guess:,} rows -> "
        f"{len(groups)} read tasks, {n_parts} user partitions, on {cpus} CPU(s)")  # fmt: skip

    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = False  # one line per finished task instead (below)
    try:
        items = [{"group": g, "files": idx} for g, idx in enumerate(groups)]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _prepare_group,
            fn_kwargs={"log": files, "opts": opts, "out": output, "n_parts": n_parts},
            batch_size=1,
            num_cpus=opts.task_cpus,
        )
        stats = []
        rows_seen = files_seen = 0
        for s in _iter_stats(ds):
            stats.append(s)
            rows_seen += s["rows_in"]
            files_seen += s["files"]
            dt = time.perf_counter() - t0
            log(f"  read {files_seen}/{len(files)} files, {rows_seen:,} rows "
                f"({rows_seen / max(dt, 1e-9):,.0f} rows/s), {dt:.1f} s")  # fmt: skip
        t_read = time.perf_counter() - t0

        read = merge_summaries(stats)
        rejected = {**read["rejected"], "duplicate": 0}
        fact_files = output.read_dir("staging", "facts")
        facts = pa.concat_tables([pq.read_table(f, filesystem=output.fs) for f in fact_files])
        vocab = summary_vocabulary(facts, read)
        sub_day = read["sub_day"]
        output.write(pa.Table.from_pandas(vocab.to_frame(), preserve_index=False), "items.parquet")
        meta = {**vocab.meta(), "sub_day": sub_day}
        with output.fs.open_output_stream(output.path("vocabulary.json")) as f:
            f.write(json.dumps(meta, indent=2).encode())
        log(f"  vocabulary: {len(vocab.items):,} items, {len(vocab.categories)} categories, "
            f"actions {list(vocab.action_names)}")  # fmt: skip

        parts = [{"bucket": k} for k in range(n_parts)]
        ds = ray.data.from_items(parts, override_num_blocks=n_parts).map_batches(
            _finish_bucket,
            fn_kwargs={"out": output, "sources": list(files.files), "opts": opts},
            batch_size=1,
            num_cpus=opts.task_cpus,
        )
        done = []
        for s in _iter_stats(ds):
            done.append(s)
            dt = time.perf_counter() - t0
            log(f"  partition {len(done)}/{n_parts}: {sum(d['users'] for d in done):,} users, "
                f"{sum(d['windows'] for d in done):,} windows, {dt:.1f} s")  # fmt: skip
    finally:
        ctx.enable_progress_bars = saved
    if output.fs.get_file_info(output.path("staging")).type != pafs.FileType.NotFound:
        output.fs.delete_dir(output.path("staging"))
    rejected["duplicate"] = sum(d["duplicates"] for d in done)
    rows_in = sum(s["rows_in"] for s in stats)
    rows_out = sum(d["rows_out"] for d in done)
    report = {
        "source": str(source),
        "format": files.format,
        "files": len(files),
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_rejected": sum(rejected.values()),
        "rejected": rejected,
        "users": sum(d["users"] for d in done),
        "items": len(vocab.items),
        "windows": sum(d["windows"] for d in done),
        "window": None if opts.window is None else opts.window.to_dict(),
        "stride": opts.stride or (opts.window.size if opts.window is not None else None),
        "partitions": n_parts,
        "read_tasks": len(groups),
        "task_nodes": len({x["node"] for x in stats + done}),
        "columns": asdict(opts.columns),
        "seconds": {
            "read_validate_partition": round(t_read, 2),
            "total": round(time.perf_counter() - t0, 2),
        },  # fmt: skip
        # Each task's own wall and CPU seconds: a per-task cost model of the run (how long
        # each stage would take on more CPUs: benchmarks/pipeline.py projects it).
        "tasks": {
            "read": [[round(x["task_s"], 3), round(x["task_cpu_s"], 3)] for x in stats],
            "partition": [[round(x["task_s"], 3), round(x["task_cpu_s"], 3)] for x in done],
        },
    }
    if rows_in != rows_out + report["rows_rejected"]:  # a bug, not bad data
        raise RuntimeError(f"row accounting does not add up: {report}")
    with output.fs.open_output_stream(output.path("report.json")) as f:
        f.write(json.dumps(report, indent=2).encode())
    bad = ", ".join(f"{r} {n:,}" for r, n in rejected.items() if n) or "none"
    log(f"pipeline: {rows_in:,} rows in = {rows_out:,} out + {report['rows_rejected']:,} "
        f"rejected ({bad}); {report['users']:,} users, {report['windows']:,} windows -> {out} "
        f"({report['seconds']['total']} s)")  # fmt: skip
    return report


def read_rejects(out: str) -> pd.DataFrame:
    """Every rejected row of a pipeline run (source, row, reason, raw fields, line)."""
    output = _Output(out)
    tables = [pq.read_table(f, filesystem=output.fs) for f in output.read_dir("rejects")]
    return pa.concat_tables(tables or [REJECT_SCHEMA.empty_table()]).to_pandas()


# ---- the product's read: `adrec train` and `adrec prep` ---------------------------------------

PIPELINE_FORMATS = ("parquet", "csv")  # the product's tabular formats (readers.FORMATS)


def pipeline_format(spec) -> str | None:
    """The pipeline format of an InputSpec (adrec.data.readers), or None where the product
    reads the log another way (MovieLens, reviews: layouts with item facts beside)."""
    from adrec.data.readers import plan_input

    fmt = plan_input(spec).format
    return fmt if fmt in PIPELINE_FORMATS else None


def read_with_pipeline(
    spec,
    out: str,
    window: InteractionWindow | None,
    stride: int | None = None,
    log: Callable = print,
):
    """(Interactions, report): the log of `spec` through run_pipeline into `out` (validated,
    deduplicated, partitioned by user, with its windows), then the product's Interactions from
    that output (adrec.data.log_prep.pipeline_interactions). Data tasks ask for at most one
    CPU and no more than the cluster has free (Serve replicas may hold the rest)."""
    from adrec.data.log_prep import pipeline_interactions
    from adrec.distributed.resources import available_cpus

    fmt = pipeline_format(spec)
    if fmt is None:
        raise ValueError(f"{spec.path}: the pipeline reads parquet and csv logs")
    task_cpus = max(0.25, min(1.0, available_cpus()))
    opts = PipelineOptions(columns=spec.columns, fmt=fmt, window=window, stride=stride,
                           task_cpus=task_cpus)  # fmt: skip
    report = run_pipeline(str(spec.path), out, opts, log=log)
    return pipeline_interactions(out), report
