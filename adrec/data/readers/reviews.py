"""Review logs as JSON lines, in the shape Amazon publishes them (2014 and 2018 releases).

One JSON object per line (.json or .jsonl, optionally .gz):
    reviewerID       -> user_id
    asin             -> item_id
    unixReviewTime   -> timestamp (unix seconds); else reviewTime "MM DD, YYYY" ("09 13, 2009",
                        "11 2, 2016"), taken as midnight UTC
    overall          -> value (the star rating)
                        action is "review"
Other fields (reviewText, summary, vote, style, ...) are ignored. A non-blank line that is not
valid JSON, or is JSON but not an object, is a malformed_line.

Item metadata (optional, JSON lines, .gz allowed): records with `asin` and either `categories`
(2014: a list of category paths, e.g. [["Books", "Fiction"], ["Kindle Store"]]; every name of
every path is a category) or `category` (2018: a list of names). The 2014 metadata files are
Python literals rather than JSON (single quotes); such a line is read with ast.literal_eval,
which evaluates literals only. Items without metadata have no category. Malformed metadata
lines are counted apart (report["meta_malformed"]).
"""

from __future__ import annotations

import ast
import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from adrec.data.interactions import canonical_ids
from adrec.data.readers.text import iter_lines

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
ACTION = "review"
REVIEW_TIME_FORMAT = "%m %d, %Y"


_SLOW_LINES = 2048
_FIELDS = pa.schema(
    [
        ("reviewerID", pa.string()),
        ("asin", pa.string()),
        ("unixReviewTime", pa.int64()),
        ("reviewTime", pa.string()),
        ("overall", pa.float64()),
    ]
)


def parse_review_lines(lines: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """Review lines as schema rows (user_id, item_id, timestamp, action, value; unvalidated),
    and the number of malformed lines. Blank lines are skipped.

    A batch whose every line is a well-typed review (string ids, an integer unixReviewTime, a
    numeric overall) is parsed by Arrow's JSON reader at once; any other batch line by line
    with the json module, which gives the same rows and counts a line that does not parse."""
    lines = [line for line in lines if line.strip()]
    fields, bad = _parse(lines)
    users, items, unix, dates, values = fields
    frame = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": _review_times(unix, dates),
            "action": pd.Series(np.full(len(users), ACTION, dtype=object), dtype=object),
            "value": values,
        }
    )
    return frame, bad


def _parse(lines: list[str]) -> tuple[list[pd.Series], int]:
    """Fast where it can: a batch Arrow cannot read is halved until the halves it cannot read
    are small enough to parse line by line (malformed lines are usually rare)."""
    fields = _parse_fast(lines)
    if fields is not None:
        return fields, 0
    if len(lines) <= _SLOW_LINES:
        return _parse_slow(lines)
    mid = len(lines) // 2
    (a, bad_a), (b, bad_b) = _parse(lines[:mid]), _parse(lines[mid:])
    joined = [pd.concat([x, y], ignore_index=True) for x, y in zip(a, b, strict=True)]
    return joined, bad_a + bad_b


def _parse_fast(lines: list[str]) -> list[pd.Series] | None:
    """The five fields of every line, or None when Arrow cannot read the batch as exactly
    one review per line with the expected types."""
    if not lines:
        return None
    options = pajson.ParseOptions(explicit_schema=_FIELDS, unexpected_field_behavior="ignore")
    try:
        table = pajson.read_json(io.BytesIO("\n".join(lines).encode()), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeEncodeError):
        return None
    if table.num_rows != len(lines):  # e.g. two objects on one line: not a record per line
        return None
    types = {"unixReviewTime": pd.Int64Dtype()}
    return [
        table.column(name).to_pandas(types_mapper=lambda t, n=name: types.get(n))
        for name in _FIELDS.names
    ]


def _parse_slow(lines: list[str]) -> tuple[list[pd.Series], int]:
    out: list[list] = [[], [], [], [], []]
    bad = 0
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(r, dict):
            bad += 1
            continue
        for column, name in zip(out, _FIELDS.names, strict=True):
            column.append(r.get(name))
    return [pd.Series(column, dtype=object) for column in out], bad


def _review_times(unix: pd.Series, dates: pd.Series) -> pd.Series:
    """unixReviewTime where given, else reviewTime "MM DD, YYYY" as unix seconds; a reviewTime
    that does not parse is kept as text (validation rejects it as bad_timestamp)."""
    fallback = unix.isna().to_numpy() & dates.notna().to_numpy()
    if not fallback.any():
        return unix
    times = unix.astype(object)
    text = dates[fallback].astype(str).str.strip()
    parsed = pd.to_datetime(text, format=REVIEW_TIME_FORMAT, errors="coerce")
    filled = text.to_numpy(dtype=object).copy()
    ok = parsed.notna().to_numpy()
    filled[ok] = ((parsed[ok] - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).tolist()
    times[fallback] = filled
    if pd.api.types.infer_dtype(times, skipna=False) == "integer":
        return times.astype(np.int64)
    return times


def parse_meta_lines(lines: Iterable[str]) -> tuple[dict[str, list[str]], int]:
    """Item metadata lines -> {canonical asin: category names} (items with no category are left
    out) and the number of malformed lines (not a record, or no asin)."""
    cats: dict[str, list[str]] = {}
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        r = _record(line)
        if not isinstance(r, dict) or r.get("asin") in (None, ""):
            bad += 1
            continue
        names = _names(r.get("categories", r.get("category")))
        if names:
            key = canonical_ids([r["asin"]])[0]
            cats[key] = list(dict.fromkeys(cats.get(key, []) + names))
    return cats, bad


def _record(line: str):
    try:
        return json.loads(line)
    except ValueError:
        pass
    try:  # the 2014 metadata: Python dict literals
        return ast.literal_eval(line.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _names(value) -> list[str]:
    """Every category name in a name, a list of names, or a list of paths (lists of names)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list | tuple):
        return list(dict.fromkeys(n for v in value for n in _names(v)))
    return _names(str(value))


def read_meta(path: Path) -> tuple[dict[str, list[str]], int]:
    """The categories of an item-metadata file (in-process) and its malformed line count."""
    if not path.is_file():
        raise FileNotFoundError(f"no item metadata file at {path}")
    cats: dict[str, list[str]] = {}
    bad = 0
    for lines in iter_lines(path):
        part, n = parse_meta_lines(lines)
        bad += n
        for key, names in part.items():
            cats[key] = list(dict.fromkeys(cats.get(key, []) + names))
    return cats, bad


def attach_categories(frame: pd.DataFrame, cats: dict[str, list[str]]) -> pd.DataFrame:
    """The canonical frame with `category` set from item facts (None for unknown items)."""
    out = frame.copy()
    found = pd.Series(canonical_ids(frame["item_id"]), dtype=object).map(cats)
    values = found.to_numpy(dtype=object).copy()
    values[found.isna().to_numpy()] = None
    out["category"] = values
    return out
