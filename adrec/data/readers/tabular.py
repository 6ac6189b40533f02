"""CSV and Parquet logs: one file, or a folder read recursively.

Files of a folder are read in sorted path order (compared folder by folder, so
`events/date=2026-01-01/part-0.parquet` comes before `events/date=2026-01-02/part-0.parquet`),
skipping names that start with "." or "_" (`_SUCCESS`, `.part-0.crc`). A folder that holds an
`events/` folder (the layout of adrec.data.logs, which the simulator writes: `events/` plus
side files such as catalog.parquet) is read from `events/` only.

Hive partition folders (`key=value`) are recursed into; a column that `Columns` asks for and a
file lacks is taken from its partition folders when one is named so (the value as a string,
e.g. a `date=2026-01-01` folder as the time column).

CSV: the first line names the columns; every column is read as text and converted by
validate_batch (so one file may mix 5 and "u5" as ids, and an unparseable cell is a rejected
row, not a failed read); an empty cell is null; a line with the wrong number of fields is a
malformed_line. Gzip / bz2 / zstd files (.csv.gz, ...) are decompressed on the fly. A file
that cannot be parsed at all fails with a ValueError naming it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from adrec.data.validate import Columns

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst")
BATCH_ROWS = 262_144  # rows per in-process Parquet batch
CSV_BLOCK_BYTES = 8 << 20  # bytes per in-process CSV block

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


def events_root(path: Path) -> Path:
    """The folder a tabular log is read from: `path/events` for the simulator's layout."""
    return path / "events" if path.is_dir() and (path / "events").is_dir() else path


def data_files(path: Path, suffixes: tuple[str, ...], exclude: Path | None = None) -> list[Path]:
    """The files a log at `path` consists of: the file itself, or the visible files under the
    folder whose name ends with one of `suffixes`, in sorted path order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no file or folder at {path}")
    found = [
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.name.lower().endswith(suffixes)
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        and (exclude is None or p.resolve() != exclude.resolve())
    ]
    return sorted(found, key=lambda p: p.relative_to(path).parts)


def hive_values(file: Path, root: Path) -> dict[str, str]:
    """`key=value` partition folders between `root` and `file`."""
    try:
        parts = file.relative_to(root).parts[:-1]
    except ValueError:
        return {}
    return {
        unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in parts if "=" in p) if k
    }


def parquet_columns(file: Path) -> list[str]:
    try:
        return list(pq.read_schema(file).names)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{file}: not a readable Parquet file ({e})") from e


def csv_header(file: Path) -> list[str]:
    """The column names on the first line of a CSV file."""
    try:
        with pa.input_stream(str(file), compression="detect") as stream:
            first = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="").readline()
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{file}: not a readable CSV file ({e})") from e
    names = next(csv.reader([first]), [])
    if not names or not any(n.strip() for n in names):
        raise ValueError(f"{file}: the first line names no column (a CSV header is expected)")
    return names


class FileColumns:
    """Where one file holds the schema's fields: `read` are the file's own columns to read,
    `hive` the fields taken from its partition folders (column -> value)."""

    def __init__(self, file: Path, root: Path, columns: list[str], cols: Columns) -> None:
        hive = hive_values(file, root)
        extra = [k for k in hive if k not in columns]
        where = cols.resolve(columns + extra, source=str(file))
        used = [c for c in where.values() if c is not None]
        self.file = file
        self.read = [c for c in used if c in columns]
        self.hive = {c: hive[c] for c in used if c not in columns}


def plan_files(files: list[Path], root: Path, fmt: str, cols: Columns) -> list[FileColumns]:
    """Check every file's columns before reading any row (a file that lacks a required column
    fails here, naming it)."""
    header = parquet_columns if fmt == "parquet" else csv_header
    return [FileColumns(f, root, header(f), cols) for f in files]


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping integer columns integral where they hold nulls (a null would
    turn int64 into float64 and round ids above 2**53), and dictionary-encoded columns (pandas
    categoricals written to Parquet) as their plain values."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table.to_pandas(types_mapper=_NULLABLE_INTS.get)


def with_hive(df: pd.DataFrame, hive: dict[str, str]) -> pd.DataFrame:
    for name, value in hive.items():
        df[name] = pd.Series(np.full(len(df), value, dtype=object), index=df.index, dtype="str")
    return df


def csv_convert_options(columns: list[str]) -> pacsv.ConvertOptions:
    """Every column as text; only an empty cell is null (validate_batch judges the rest);
    a column a file lacks comes back as nulls."""
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(columns, pa.string()),
        include_columns=list(columns),
        include_missing_columns=True,
        strings_can_be_null=True,
        null_values=[""],
    )


def iter_parquet(fc: FileColumns) -> Iterator[pd.DataFrame]:
    try:
        reader = pq.ParquetFile(fc.file)
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=fc.read):
            yield with_hive(to_pandas(pa.Table.from_batches([batch])), fc.hive)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{fc.file}: not a readable Parquet file ({e})") from e


def iter_csv(fc: FileColumns) -> Iterator[tuple[pd.DataFrame | None, int]]:
    """(frame, malformed lines met since the previous one) for each block of a CSV file; the
    last pair may carry no frame (None), only a count."""
    malformed = [0]

    def skip(row) -> str:
        malformed[0] += 1
        return "skip"

    try:
        reader = pacsv.open_csv(
            str(fc.file),
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
            convert_options=csv_convert_options(fc.read),
        )
        for batch in reader:
            n, malformed[0] = malformed[0], 0
            yield with_hive(to_pandas(pa.Table.from_batches([batch])), fc.hive), n
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{fc.file}: not a readable CSV file ({e})") from e
    if malformed[0]:
        yield None, malformed[0]
