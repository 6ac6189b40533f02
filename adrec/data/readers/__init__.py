"""Readers: any supported log -> validated `Interactions`, with every rejected row counted.

    InputSpec(path, format="auto", columns=Columns(), meta=None)
    read_interactions(spec, log=print) -> Interactions      (in-process, no Ray)

adrec.distributed.ingest.read_interactions_ray reads the same specs with Ray Data and gives the
same Interactions and counts.

Formats:
    parquet     a file, or a folder read recursively (hive partitions included)   tabular.py
    csv         the same for CSV files (.csv, .csv.gz, ...)                        tabular.py
    movielens   an ml-100k or ml-1m folder                                         movielens.py
    reviews     Amazon-style review JSON lines, with optional item metadata        reviews.py
    auto        a folder with u.data or ratings.dat -> movielens; a .json / .jsonl(.gz) file
                -> reviews; a .csv(.gz) file -> csv; another file -> parquet; another folder
                -> by the files it holds (Parquet, CSV or JSON lines; a mix is an error).
`columns` names the source's columns (csv and parquet); `meta` is the item-metadata file of
a reviews log.

The report of the returned Interactions holds: source, format, files (read, in order),
rows_in, rejected (every reason of validate.REJECT_REASONS, zeros included), rows_used, and
the schema facts of build_interactions (tie_rule, n_users, n_items, n_categories); always
rows_in = rows_used + sum(rejected.values()).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from adrec.data.interactions import CANONICAL_COLUMNS, Interactions, build_interactions
from adrec.data.readers import movielens, reviews, tabular
from adrec.data.readers.text import iter_lines
from adrec.data.validate import REJECT_REASONS, Columns, validate_batch

FORMATS = ("auto", "parquet", "csv", "movielens", "reviews")
_SUFFIXES = {
    "parquet": tabular.PARQUET_SUFFIXES,
    "csv": tabular.CSV_SUFFIXES,
    "reviews": reviews.SUFFIXES,
}

__all__ = [
    "FORMATS",
    "Columns",
    "InputPlan",
    "InputSpec",
    "detect_format",
    "finish",
    "plan_input",
    "read_interactions",
]


@dataclass(frozen=True)
class InputSpec:
    """What to read: a path, its format (FORMATS), the source's column names (csv, parquet)
    and, for a reviews log, an item-metadata file."""

    path: str | Path
    format: str = "auto"
    columns: Columns = Columns()
    meta: str | Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; expected one of {list(FORMATS)}")
        if not isinstance(self.columns, Columns):
            raise TypeError("InputSpec.columns must be a Columns")


@dataclass(frozen=True)
class InputPlan:
    """A checked spec: the format, the files in read order, and what each format needs
    (the columns of every tabular file; the MovieLens layout; item categories)."""

    spec: InputSpec
    format: str
    root: Path
    files: tuple[Path, ...]
    columns: Columns = Columns()
    tables: tuple[tabular.FileColumns, ...] = ()
    layout: movielens.Layout | None = None
    item_categories: dict[str, list[str]] | None = field(default=None, repr=False)
    meta_malformed: int = 0


def detect_format(path: str | Path) -> str:
    """The format `auto` picks for `path` (see the module docstring)."""
    path = Path(path)
    if movielens.is_movielens(path):
        return "movielens"
    if path.is_file():
        name = path.name.lower()
        for fmt in ("reviews", "csv"):
            if name.endswith(_SUFFIXES[fmt]):
                return fmt
        return "parquet"
    if not path.is_dir():
        raise FileNotFoundError(f"no file or folder at {path}")
    root = tabular.events_root(path)
    found = {fmt: len(tabular.data_files(root, sfx)) for fmt, sfx in _SUFFIXES.items()}
    kinds = [fmt for fmt, n in found.items() if n]
    if len(kinds) > 1:
        counts = ", ".join(f"{found[k]} {k}" for k in kinds)
        raise ValueError(f"{root} holds files of several formats ({counts}); pass a format")
    if not kinds:
        raise ValueError(
            f"{root} holds no Parquet, CSV or JSON lines file and is not a MovieLens folder"
        )
    return kinds[0]


def plan_input(spec: InputSpec) -> InputPlan:
    """Resolve the format, list the files and check them (columns, layout) before any row
    is read; load the item categories of MovieLens and reviews logs."""
    path = Path(spec.path).expanduser()
    fmt = detect_format(path) if spec.format == "auto" else spec.format
    if fmt not in ("csv", "parquet") and spec.columns != Columns():
        raise ValueError(f"columns apply to csv and parquet logs; {fmt} has a fixed layout")
    if spec.meta is not None and fmt != "reviews":
        raise ValueError(f"meta (an item-metadata file) applies to reviews logs, not {fmt}")
    if fmt == "movielens":
        layout = movielens.layout_of(path)
        cats, bad = movielens.item_categories(path, layout)
        files = (path / layout.ratings,)
        return InputPlan(
            spec, fmt, path, files, layout=layout, item_categories=cats, meta_malformed=bad
        )
    if fmt == "reviews":
        meta = Path(spec.meta).expanduser() if spec.meta is not None else None
        files = tuple(tabular.data_files(path, reviews.SUFFIXES, exclude=meta))
        _require_files(files, path, fmt)
        cats, bad = reviews.read_meta(meta) if meta is not None else ({}, 0)
        return InputPlan(spec, fmt, path, files, item_categories=cats, meta_malformed=bad)
    root = tabular.events_root(path)
    files = tuple(tabular.data_files(root, _SUFFIXES[fmt]))
    _require_files(files, root, fmt)
    tables = tuple(tabular.plan_files(list(files), root, fmt, spec.columns))
    return InputPlan(spec, fmt, root, files, columns=spec.columns, tables=tables)


def _require_files(files: tuple[Path, ...], root: Path, fmt: str) -> None:
    if not files:
        suffixes = ", ".join(_SUFFIXES[fmt])
        raise ValueError(f"no {fmt} file ({suffixes}) under {root}")


def iter_batches(plan: InputPlan) -> Iterator[tuple[pd.DataFrame | None, str, int]]:
    """(rows to validate with plan.columns or None, source file, malformed lines met) in read
    order, in-process."""
    if plan.format == "parquet":
        for fc in plan.tables:
            for df in tabular.iter_parquet(fc):
                yield df, str(fc.file), 0
    elif plan.format == "csv":
        for fc in plan.tables:
            for df, bad in tabular.iter_csv(fc):
                yield df, str(fc.file), bad
    elif plan.format == "movielens":
        for lines in iter_lines(plan.files[0], movielens.ENCODING):
            df, bad = movielens.parse_ratings(lines, plan.layout)
            yield df, str(plan.files[0]), bad
    else:
        for file in plan.files:
            for lines in iter_lines(file):
                df, bad = reviews.parse_review_lines(lines)
                yield df, str(file), bad


def read_interactions(spec: InputSpec, log: Callable[[str], object] = print) -> Interactions:
    """Read, validate and build a log in this process (see the module docstring)."""
    plan = plan_input(spec)
    frames: list[pd.DataFrame] = []
    rejected = dict.fromkeys(REJECT_REASONS[:-1], 0)  # "duplicate" is build_interactions'
    rows_in = order = 0
    for df, source, bad in iter_batches(plan):
        rejected["malformed_line"] += bad
        rows_in += bad
        if df is None or not len(df):
            continue
        canon, counts = validate_batch(df, plan.columns, order, source)
        order += len(df)
        rows_in += len(df)
        for reason, n in counts.items():
            rejected[reason] += n
        frames.append(canon)
    return finish(plan, frames, rejected, rows_in, log)


def finish(
    plan: InputPlan,
    frames: list[pd.DataFrame],
    rejected: dict[str, int],
    rows_in: int,
    log: Callable[[str], object] = print,
) -> Interactions:
    """Canonical frames (in read order) -> Interactions with the read's report; prints the
    one-line summary. Shared by the in-process and the Ray Data readers."""
    frames = [f for f in frames if len(f)]
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(CANONICAL_COLUMNS))
    )
    if plan.item_categories is not None:
        frame = reviews.attach_categories(frame, plan.item_categories)
    report: dict = {
        "source": str(plan.spec.path),
        "format": plan.format,
        "files": [str(f) for f in plan.files],
        "rows_in": int(rows_in),
        "rejected": {r: int(n) for r, n in rejected.items()},
    }
    if plan.format in ("csv", "parquet"):
        report["columns"] = dataclasses.asdict(plan.columns)
    if plan.layout is not None:
        report["layout"] = plan.layout.name
    if plan.item_categories is not None:
        report["meta_malformed"] = int(plan.meta_malformed)
        if plan.spec.meta is not None:
            report["meta"] = str(plan.spec.meta)
    if frame.empty:
        raise ValueError(
            f"{plan.spec.path}: no valid interaction among {rows_in:,} rows "
            f"(rejected: {_counts(report['rejected'])})"
        )
    inter = build_interactions(frame, report)
    r = inter.report
    if r["rows_in"] != r["rows_used"] + sum(r["rejected"].values()):  # a bug, not bad data
        raise RuntimeError(f"row accounting does not add up: {r}")
    log(summary(r))
    return inter


def summary(report: dict) -> str:
    """One line: rows in, used, rejected by reason."""
    n_files = len(report.get("files", []))
    rejected = sum(report["rejected"].values())
    line = (
        f"read {report['source']} ({report['format']}, {n_files} file{'s' * (n_files != 1)}): "
        f"{report['rows_in']:,} rows in, {report['rows_used']:,} used, {rejected:,} rejected"
    )
    if rejected:
        line += f" ({_counts(report['rejected'])})"
    return line + f"; {report['n_users']:,} users, {report['n_items']:,} items"


def _counts(rejected: dict[str, int]) -> str:
    return ", ".join(f"{r} {n:,}" for r, n in rejected.items() if n) or "none"
