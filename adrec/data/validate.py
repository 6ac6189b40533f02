"""Validation of one batch of a log into the canonical interaction frame (no Ray, vectorised).

A reader maps a source onto the interaction schema of `adrec.data.interactions` with
`Columns` (the source's column names) and hands each batch of rows to `validate_batch`, which
returns the canonical frame (CANONICAL_COLUMNS) and how many rows it rejected, by reason.

Field rules:
    user_id, item_id   kept as given (integers or strings); null or blank is missing.
    timestamp          whole unix seconds (int64). Accepted: numbers (seconds, or milliseconds
                       with time_unit="ms"; fractions are floored), numeric strings (the same),
                       ISO 8601 strings with or without a zone ("2014-03-05T10:00:00+02:00",
                       "2014-03-05 10:00:00", "2014-03-05T10:00:00Z"), date-only strings
                       ("2014-03-05", midnight), and date / datetime / timestamp values (pandas,
                       Arrow, Python). Aware times are converted to UTC; naive times are taken
                       as UTC.
    category           None, or a list of category names: a list column as it is, a string
                       column as one name, or split on Columns.category_sep ("Drama|Comedy").
                       Names are stripped; blank names are dropped.
    action             a stripped string, or None where null or blank.
    value              float64; NaN where absent (null, blank, NaN).
    order              order_start + the row's position in the batch: the input order that
                       breaks ties in time (see interactions.TIE_RULE).

Reject reasons. A row with several problems is counted once, under the first of these (in this
order); a batch's counts always hold every reason of REASONS, zeros included:
    missing_user            the user id is null or blank
    missing_item            the item id is null or blank
    missing_timestamp       the timestamp is null or blank
    bad_timestamp           the timestamp is neither a number nor an ISO 8601 date / time
                            (nor a date value), or is a number that is not finite
    timestamp_out_of_range  before 1970-01-01T00:00:00Z or after 2100-01-01T00:00:00Z
    bad_value               a value that is present but not a finite number ("4 stars", inf)
With a vocabulary (`Known`: the categories and / or actions a log may use), also:
    unknown_category        a category name outside Known.categories
    unknown_action          an action outside Known.actions
Counted by the readers, outside this module:
    malformed_line          a line that is not a record (a CSV line with the wrong number of
                            fields, a JSON line that does not parse or is not an object, a
                            MovieLens line that does not match the layout)
    duplicate               an exact repeat of an earlier row (same user, item, timestamp,
                            action and value), counted by interactions.build_interactions

So for every read: rows_in = rows_used + sum(rejected.values()).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from adrec.data.interactions import CANONICAL_COLUMNS

REASONS = (
    "missing_user",
    "missing_item",
    "missing_timestamp",
    "bad_timestamp",
    "timestamp_out_of_range",
    "bad_value",
)
# Reasons that only a vocabulary (Known) can give.
VOCABULARY_REASONS = ("unknown_category", "unknown_action")
# Every reason a read can report, in the order reports list them.
REJECT_REASONS = ("malformed_line", *REASONS, *VOCABULARY_REASONS, "duplicate")

MIN_TIME = 0  # 1970-01-01T00:00:00Z
MAX_TIME = 4_102_444_800  # 2100-01-01T00:00:00Z
TIME_UNITS = {"s": 1, "ms": 1000}
_ISO_DATE = r"^\s*([+-]?\d{4,})-\d{2}-\d{2}"
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


@dataclass(frozen=True)
class Columns:
    """Where the schema's fields are in a source: the source's column names.

    user, item and time are required. category, action and value are optional: None means the
    source has no such column. An optional column left at its default name is used when a file
    has it and ignored when not; an optional column given another name must exist.
    category_sep splits a string category column ("Drama|Comedy" with "|"); time_unit is the
    unit of numeric timestamps, "s" or "ms"."""

    user: str = "user_id"
    item: str = "item_id"
    time: str = "timestamp"
    category: str | None = "category"
    action: str | None = "action"
    value: str | None = "value"
    category_sep: str | None = None
    time_unit: str = "s"

    def __post_init__(self) -> None:
        for name in ("user", "item", "time"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Columns.{name} must name a column, got {getattr(self, name)!r}")
        for name in ("category", "action", "value"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise ValueError(f"Columns.{name} must be a column name or None, got {v!r}")
        named = [c for c in self.fields().values() if c is not None]
        repeated = sorted({c for c in named if named.count(c) > 1})
        if repeated:
            raise ValueError(f"Columns names the column(s) {repeated} for more than one field")
        if self.time_unit not in TIME_UNITS:
            raise ValueError(f"Columns.time_unit must be one of {list(TIME_UNITS)}")
        if self.category_sep == "":
            raise ValueError("Columns.category_sep must be None or a non-empty separator")

    def fields(self) -> dict[str, str | None]:
        """Schema field -> source column (None where absent)."""
        return {
            "user_id": self.user,
            "item_id": self.item,
            "timestamp": self.time,
            "category": self.category,
            "action": self.action,
            "value": self.value,
        }

    @property
    def required(self) -> tuple[str, str, str]:
        return (self.user, self.item, self.time)

    def wanted(self) -> list[str]:
        """Every source column these columns may read."""
        return [c for c in self.fields().values() if c is not None]

    def resolve(self, available, source: str = "") -> dict[str, str | None]:
        """Schema field -> source column for a file whose columns are `available`: optional
        columns at their default name that the file lacks become None. Raises ValueError,
        naming the file and the column, for a required (or explicitly named) column the file
        lacks."""
        available = [str(c) for c in available]
        have = set(available)
        defaults = {f.name: f.default for f in fields(Columns)}
        out: dict[str, str | None] = {}
        for (field_name, col), attr in zip(self.fields().items(), _ATTRS, strict=True):
            if col is None or col in have:
                out[field_name] = col
            elif attr in ("user", "item", "time") or col != defaults[attr]:
                where = f"{source}: " if source else ""
                raise ValueError(
                    f"{where}no column {col!r} for the {field_name} field "
                    f"(Columns.{attr}); the columns are {available}"
                )
            else:
                out[field_name] = None
        return out


_ATTRS = ("user", "item", "time", "category", "action", "value")


@dataclass(frozen=True)
class Known:
    """The vocabulary of a log: the category names and the actions it may use (None: any).
    A row naming another one is rejected (unknown_category / unknown_action)."""

    categories: frozenset[str] | None = None
    actions: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("categories", "actions"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, frozenset(str(x).strip() for x in v))


# Row reason codes of validate_rows: 0 valid, k the k-th reason of ROW_REASONS.
ROW_REASONS = REASONS + VOCABULARY_REASONS


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(REASONS, 0)


def validate_batch(
    df: pd.DataFrame, cols: Columns, order_start: int, source: str = "", known: Known | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The canonical frame of the valid rows of `df` (CANONICAL_COLUMNS, in input order) and
    the number of rejected rows by reason (every reason of REASONS, and of VOCABULARY_REASONS
    with a vocabulary `known`). See the module docstring for the rules. Raises ValueError
    naming `source` when a required column is missing."""
    out, counts, _ = validate_rows(df, cols, order_start, source, known)
    return out, counts


def validate_rows(
    df: pd.DataFrame, cols: Columns, order_start: int, source: str = "", known: Known | None = None
) -> tuple[pd.DataFrame, dict[str, int], np.ndarray]:
    """validate_batch, and each row's reason code (int8: 0 valid, k ROW_REASONS[k - 1]), for
    readers that write the rejected rows out with their reason."""
    where = cols.resolve(df.columns, source)
    n = len(df)
    reason = np.zeros(n, np.int8)  # 0: valid; k: ROW_REASONS[k - 1]

    def reject(mask: np.ndarray, name: str) -> None:
        reason[(reason == 0) & mask] = ROW_REASONS.index(name) + 1

    user, item, times = df[where["user_id"]], df[where["item_id"]], df[where["timestamp"]]
    reject(_blank(user), "missing_user")
    reject(_blank(item), "missing_item")
    seconds, t_missing, t_bad, t_range = parse_times(times, cols.time_unit)
    reject(t_missing, "missing_timestamp")
    reject(t_bad, "bad_timestamp")
    reject(t_range, "timestamp_out_of_range")
    if where["value"] is not None:
        value, v_bad = parse_values(df[where["value"]])
        reject(v_bad, "bad_value")
    else:
        value = np.full(n, np.nan)

    action = None
    if known is not None and known.categories is not None and where["category"] is not None:
        bad = _unknown_categories(df[where["category"]], cols.category_sep, known.categories)
        reject(bad, "unknown_category")
    if known is not None and known.actions is not None and where["action"] is not None:
        action = parse_actions(df[where["action"]])
        named = pd.notna(action)
        unknown = named & ~pd.Series(action, dtype=object).isin(sorted(known.actions)).to_numpy()
        reject(unknown, "unknown_action")

    keep = reason == 0
    k = int(keep.sum())
    names = ROW_REASONS if known is not None else REASONS
    tally = np.bincount(reason, minlength=len(ROW_REASONS) + 1)[1 : len(names) + 1].tolist()
    counts = dict(zip(names, tally, strict=True))
    if where["category"] is not None:
        category = parse_categories(df[where["category"]][keep], cols.category_sep)
    else:
        category = np.full(k, None, dtype=object)
    if action is not None:
        action = action[keep]
    elif where["action"] is not None:
        action = parse_actions(df[where["action"]][keep])
    else:
        action = np.full(k, None, dtype=object)
    out = pd.DataFrame(
        {
            "user_id": _ids(user[keep]),
            "item_id": _ids(item[keep]),
            "timestamp": seconds[keep],
            "category": pd.Series(category, dtype=object),
            "action": pd.Series(action, dtype=object),
            "value": value[keep],
            "order": order_start + np.flatnonzero(keep).astype(np.int64),
        },
        columns=list(CANONICAL_COLUMNS),
    )
    return out, counts, reason


def _unknown_categories(s: pd.Series, sep: str | None, names: frozenset[str]) -> np.ndarray:
    """Rows that name a category outside `names` (each distinct value judged once)."""
    values = s.to_numpy(dtype=object)

    def unknown(v) -> bool:
        return any(c not in names for c in _category_list(v, sep) or ())

    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # lists or arrays: not hashable, one row at a time
        return np.array([unknown(v) for v in values], bool)
    verdict = np.array([unknown(u) for u in uniques] + [False], bool)
    return verdict[codes]  # code -1 (null) takes the trailing False


def _is_str_dtype(dtype) -> bool:
    """A pandas string dtype (not object, which may hold anything)."""
    if isinstance(dtype, pd.StringDtype):
        return True
    return isinstance(dtype, pd.ArrowDtype) and (
        pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    )


def _blank(s: pd.Series) -> np.ndarray:
    """Null, or a string that is empty once stripped."""
    text = _text(s)
    if text is not None:
        return _np_bool(pc.or_kleene(text.is_null(), pc.equal(text, "")), fill=True)
    missing = s.isna().to_numpy().copy()
    if pd.api.types.is_object_dtype(s.dtype) and len(s):
        stripped = _stripped_text(s)
        missing |= (stripped == "").to_numpy(dtype=bool, na_value=False)
    return missing


def _text(s: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The column as stripped Arrow strings when it holds strings only (and nulls), else None
    (numbers, dates, or a mix of types: those take the pandas paths)."""
    if _is_str_dtype(s.dtype):
        arr = pa.array(s.array)
    elif pd.api.types.is_object_dtype(s.dtype) and (
        len(s) and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    ):
        arr = pa.array(s.to_numpy(dtype=object), pa.string(), from_pandas=True)
    else:
        return None
    return pc.utf8_trim_whitespace(arr)


def _np_bool(arr, fill: bool) -> np.ndarray:
    return np.asarray(arr.fill_null(fill).to_numpy(zero_copy_only=False), dtype=bool)


def _text_numbers(text) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, is_number) of stripped strings: a decimal number, with an optional sign,
    fraction and exponent; anything else is not a number (value NaN)."""
    is_number = pc.match_substring_regex(text, _NUMBER).fill_null(False)
    numbers = pc.cast(pc.if_else(is_number, text, pa.scalar(None, text.type)), pa.float64())
    values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64).copy()
    return values, _np_bool(is_number, fill=False)


def _stripped_text(s: pd.Series) -> pd.Series:
    """Strings stripped, other values (numbers, dates in an object column) as they are."""
    if _is_str_dtype(s.dtype):
        return s.str.strip()
    return s.map(lambda v: v.strip() if isinstance(v, str) else v)


def _ids(s: pd.Series) -> np.ndarray:
    """Ids as given: int64 for an integer column (nullable or not), integral floats (an
    integer column that held nulls) as int64, anything else as objects."""
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.to_numpy(np.int64)
    if pd.api.types.is_float_dtype(s.dtype):
        x = s.to_numpy(np.float64)
        if np.all(np.floor(x) == x) and np.all(np.abs(x) < 2.0**63):
            return x.astype(np.int64)
    return s.to_numpy(dtype=object)


def parse_times(
    s: pd.Series, unit: str = "s"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(seconds int64, missing, bad, out_of_range) for a column of timestamps; the masks are
    disjoint and `seconds` is 0 where any of them holds."""
    n = len(s)
    per_second = TIME_UNITS[unit]
    seconds = np.zeros(n, np.float64)
    missing = s.isna().to_numpy().copy()
    bad = np.zeros(n, bool)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        seconds = _datetime_seconds(s)
    elif pd.api.types.is_bool_dtype(s.dtype):
        bad = ~missing
    elif pd.api.types.is_numeric_dtype(s.dtype):
        seconds = _numeric_seconds(s.to_numpy(np.float64, na_value=np.nan), per_second)
    else:
        missing = _blank(s)
        arrow = _text(s)
        if arrow is not None:
            numbers, is_number = _text_numbers(arrow)
            text = pd.Series(arrow.to_pandas(), index=s.index)
        else:  # an object column mixing strings, numbers and dates
            text = _stripped_text(s)
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            is_number = ~np.isnan(numbers) & ~missing
            # A boolean is not a time (a JSON `true` would otherwise read as 1 s).
            flags = np.fromiter((isinstance(v, bool | np.bool_) for v in s.to_numpy(object)),
                                bool, n)  # fmt: skip
            bad |= flags
            is_number &= ~flags
            missing &= ~flags
        seconds[is_number] = _numeric_seconds(numbers[is_number], per_second)
        rest = ~missing & ~is_number
        if rest.any():
            parsed = pd.to_datetime(text[rest], format="ISO8601", utc=True, errors="coerce")
            seconds[rest] = _datetime_seconds(parsed)
            failed = np.flatnonzero(rest)[np.isnan(seconds[rest])]
            # An ISO date too far out for pandas' timestamps is out of range, not unreadable.
            years = text.iloc[failed].astype(str).str.extract(_ISO_DATE)[0]
            far = pd.to_numeric(years, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            far_out = (far < 1970) | (far > 2100)
            seconds[failed[far_out]] = np.where(far[far_out] < 1970, -np.inf, np.inf)
    bad |= ~missing & np.isnan(seconds)
    valid = ~missing & ~bad
    with np.errstate(invalid="ignore"):
        out_of_range = valid & ((seconds < MIN_TIME) | (seconds > MAX_TIME))
    ok = valid & ~out_of_range
    result = np.zeros(n, np.int64)
    result[ok] = seconds[ok].astype(np.int64)
    return result, missing, bad, out_of_range


def _numeric_seconds(x: np.ndarray, per_second: int) -> np.ndarray:
    """Floored seconds of numeric times (NaN stays NaN; infinities become NaN: unreadable)."""
    with np.errstate(invalid="ignore"):
        out = np.floor(x / per_second) if per_second != 1 else np.floor(x)
    out[np.isinf(out)] = np.nan
    return out


def _datetime_seconds(s: pd.Series) -> np.ndarray:
    """Floored unix seconds of a datetime column (float64, NaN where NaT); aware times in UTC."""
    if getattr(s.dtype, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    values = s.to_numpy()
    unit, count = np.datetime_data(values.dtype)
    ticks = values.view(np.int64)
    per_second = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit] // count
    out = np.floor_divide(ticks, per_second).astype(np.float64)
    out[np.isnat(values)] = np.nan
    return out


def parse_values(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, bad): absent (null, blank, NaN) -> NaN and not bad; present but not a
    finite number -> bad."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(np.float64, na_value=np.nan)
        return x, np.isinf(x)
    absent = _blank(s)
    arrow = _text(s)
    if arrow is not None:
        x = _text_numbers(arrow)[0]
    else:  # an object column mixing strings and numbers
        text = _stripped_text(s)
        x = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan, copy=True)
    bad = ~absent & ~np.isfinite(x)
    x[absent] = np.nan
    return x, bad


def parse_categories(s: pd.Series, sep: str | None = None) -> np.ndarray:
    """An object array of category lists (or None) from a column of strings, lists or nulls.
    Rows with the same string share one list object: treat the lists as read-only."""
    values = s.to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # lists or arrays: not hashable, one row at a time
        for i, v in enumerate(values):
            out[i] = _category_list(v, sep)
        return out
    parsed = np.full(len(uniques), None, dtype=object)
    for j, v in enumerate(uniques):
        parsed[j] = _category_list(v, sep)
    hit = codes >= 0
    out[hit] = parsed[codes[hit]]
    return out


def _category_list(v, sep: str | None) -> list[str] | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, str):
        parts = v.split(sep) if sep else [v]
    elif isinstance(v, list | tuple | np.ndarray | pd.Series):
        parts = [p for p in v if p is not None and not (isinstance(p, float) and np.isnan(p))]
    else:
        parts = [v]
    names = [str(p).strip() for p in parts]
    names = [p for p in names if p]
    return names or None


def parse_actions(s: pd.Series) -> np.ndarray:
    """Stripped action strings (None where null or blank) as an object array."""
    values = s.to_numpy(dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = np.array([str(u).strip() or None for u in uniques] + [None], dtype=object)
    return names[codes]  # code -1 takes the trailing None
