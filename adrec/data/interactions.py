"""The one interaction schema of adrec, and the in-memory log every model is fitted on.

A log is a table of interactions with these fields (readers map a source's own column names
onto them):

    user_id     any id, integer or string (required)
    item_id     any id, integer or string (required)
    timestamp   unix seconds, or an ISO 8601 date / time (required); aware times become UTC
    category    the item's categories: none, one, or several (optional)
    action      what the user did, e.g. view / cart / purchase / rating (optional)
    value       a number: rating, spend, ... (optional)

Raw ids are mapped to dense indices by saved id maps (users from 0, items from 1: 0 is the
padding item of the sequence models); responses give raw ids back. An item's categories are
the union of the categories the log gives it.

Tie rule: a user's interactions are ordered by timestamp; interactions with equal timestamps
keep the order of the input (files in path order, rows in file order), recorded as the
`order` column by the readers. The same input therefore always gives the same sequences.

Readers (adrec.data.readers; adrec.distributed.ingest with Ray Data) turn a log into this
schema through adrec.data.validate, which lists the reasons a row is rejected; every rejected
row is counted in Interactions.report (rows_in = rows_used + sum of rejected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TIE_RULE = (
    "a user's interactions are ordered by timestamp; equal timestamps keep the input's order "
    "(files in path order, rows in file order)"
)
# The canonical frame that validation produces and build_interactions consumes.
CANONICAL_COLUMNS = ("user_id", "item_id", "timestamp", "category", "action", "value", "order")
_INT_START = re.compile(r"-?[0-9]")
_SMALL = 256  # IdMap.index looks up lists up to this long in a dict


def canonical_ids(values) -> np.ndarray:
    """Raw ids as canonical strings: integers (and integral floats) as their decimal form,
    strings stripped. The same id given as 5, 5.0 or "5" is one id.

    Vectorised by the values' type (integer, float, string columns); only a column that mixes
    types falls back to one value at a time."""
    return _canonical_arrow(values).to_numpy(zero_copy_only=False).astype(object)


def canonical_ids_arrow(values) -> pa.Array:
    """canonical_ids as an Arrow string array (what the id maps hash and sort, and what the
    Ray Data reader ships to the driver)."""
    return _canonical_arrow(values)


def _canonical_arrow(values) -> pa.Array:
    s = _as_series(values)
    dtype = s.dtype
    if not s.hasnans:
        if pd.api.types.is_bool_dtype(dtype):
            return pa.array(np.where(s.to_numpy(bool), "True", "False"), pa.string())
        if pd.api.types.is_integer_dtype(dtype):
            return pa.array(s.to_numpy()).cast(pa.string())
    if pd.api.types.is_float_dtype(dtype):
        return _float_ids(s.to_numpy(np.float64, na_value=np.nan))
    if isinstance(dtype, pd.StringDtype) and not s.hasnans:  # Arrow-backed: no Python objects
        arr = pa.array(s.array, pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return pc.utf8_trim_whitespace(arr)
    kind = pd.api.types.infer_dtype(s, skipna=False)
    if kind == "string" and not s.hasnans:
        return pc.utf8_trim_whitespace(pa.array(s.to_numpy(dtype=object), pa.string()))
    if kind == "integer":
        try:
            return pa.array(s.to_numpy(np.int64)).cast(pa.string())
        except (OverflowError, ValueError):  # beyond int64, or a missing value
            pass
    return pa.array([_canonical_id(v) for v in s.to_numpy(dtype=object)], pa.string())


def _as_series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, np.ndarray | pd.Index | pd.api.extensions.ExtensionArray):
        return pd.Series(values)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pd.Series(values.to_pandas())
    # Python lists keep their objects (no numeric inference that would turn None into NaN).
    return pd.Series(list(values), dtype=object)


def _float_ids(x: np.ndarray) -> pa.Array:
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 2.0**63)
    if integral.all():
        return pa.array(x.astype(np.int64)).cast(pa.string())
    out = x.astype(object)
    out[integral] = pa.array(x[integral].astype(np.int64)).cast(pa.string()).to_pylist()
    rest = np.flatnonzero(~integral)
    out[rest] = [_canonical_id(v) for v in x[rest]]  # non-integral ids: rare
    return pa.array(out, pa.string())


def _canonical_id(v) -> str:
    """One raw id as its canonical string (the rule canonical_ids vectorises)."""
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _integer_values(ids: pa.Array) -> np.ndarray | None:
    """int64 values of canonical id strings when every one is a canonical integer (no sign
    but "-", no leading zero, fits int64), else None."""
    if not len(ids) or not _INT_START.match(ids[0].as_py() or ""):
        return None
    try:
        ints = ids.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return ints.to_numpy() if ints.cast(pa.string()).equals(ids) else None


@dataclass(frozen=True)
class IdMap:
    """Raw ids <-> dense indices `start`, `start + 1`, ...; raw ids kept as canonical strings,
    given back as int when every id of the log is an integer."""

    raw: np.ndarray  # object array of canonical id strings, in index order
    start: int = 0

    @classmethod
    def from_ids(cls, ids, start: int = 0) -> IdMap:
        """Sorted distinct ids (numerically when all are integers)."""
        return _encode_ids(ids, start)[0]

    def _cached(self, name: str, make):
        """A value derived from `raw`, computed once (the map is frozen)."""
        if name not in self.__dict__:
            object.__setattr__(self, name, make())
        return self.__dict__[name]

    def _arrow(self) -> pa.Array:
        return self._cached("_raw_arrow", lambda: pa.array(self.raw.astype(str), pa.string()))

    def _ints(self) -> np.ndarray | None:
        return self._cached("_int_values", lambda: _integer_values(self._arrow()))

    @property
    def kind(self) -> str:
        return "int" if self._ints() is not None else "str"

    def __len__(self) -> int:
        return len(self.raw)

    def _table(self) -> dict[str, int]:
        return self._cached("_dict", lambda: {r: i for i, r in enumerate(self.raw.astype(str))})

    def index(self, ids) -> np.ndarray:
        """Dense index of each raw id; -1 for ids the map does not hold."""
        if isinstance(ids, list | tuple) and len(ids) <= _SMALL:
            small = self._index_small(ids)
            if small is not None:
                return small
        pos = pc.index_in(_canonical_arrow(ids), value_set=self._arrow())
        pos = pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.where(pos >= 0, pos + self.start, -1)

    def _index_small(self, ids) -> np.ndarray | None:
        """index() of a short list of ints and strings by dict lookup (a served request's
        ids; the Arrow path costs about a millisecond per call in building a pandas Series).
        None where a value is of another type or a string carries surrounding whitespace:
        those take the Arrow path, whose canonical form is the reference."""
        table, out = self._table(), []
        for v in ids:
            if type(v) is int:
                key = str(v)
            elif type(v) is str and v and v == v.strip():
                key = v
            else:
                return None
            out.append(table.get(key, -1 - self.start))  # -1 once start is added
        return np.asarray(out, np.int64) + self.start

    def index_of(self, raw_id) -> int:
        return int(self.index([raw_id])[0])

    def raw_ids(self, indices) -> list:
        """Raw ids (int or str, as the log gave them) of dense indices."""
        pos = np.asarray(indices, dtype=np.int64) - self.start
        if self.kind == "int":
            return self._ints()[pos].tolist()
        return self.raw[pos].astype(str).tolist()

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"index": np.arange(len(self)) + self.start, "raw_id": self.raw})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> IdMap:
        frame = frame.sort_values("index")
        start = int(frame["index"].iloc[0]) if len(frame) else 0
        return cls(frame["raw_id"].astype(str).to_numpy(dtype=object), start)


def _encode_ids(ids, start: int) -> tuple[IdMap, np.ndarray]:
    """The id map of `ids` (sorted distinct canonical ids, numerically when all are integers)
    and the dense index of every value, in one hashing pass."""
    encoded = pc.dictionary_encode(_canonical_arrow(ids))
    uniq, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    ints = _integer_values(uniq)
    if ints is not None:
        order = np.argsort(ints, kind="stable")
    else:
        order = pc.sort_indices(uniq).to_numpy()
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    raw = uniq.take(order)
    idmap = IdMap(raw.to_numpy(zero_copy_only=False).astype(object), start)
    object.__setattr__(idmap, "_raw_arrow", raw)
    return idmap, rank[codes.astype(np.int64)] + start


@dataclass
class Interactions:
    """A validated log: one row per interaction, sorted by (user, timestamp, input order).

    user [n] int64 dense user index; item [n] int64 dense item index (1..n_items); time [n]
    int64 unix seconds; value [n] float64 (NaN where absent) or None when the log has no
    values; action [n] int64 codes into action_names (or None); item_categories
    [n_items + 1, n_categories] float32 multi-hot (row 0, padding, is all zero)."""

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    users: IdMap
    items: IdMap
    categories: tuple[str, ...] = ()
    item_categories: np.ndarray | None = None
    value: np.ndarray | None = None
    action: np.ndarray | None = None
    action_names: tuple[str, ...] = ()
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.item_categories is None:
            self.item_categories = np.zeros((len(self.items) + 1, 0), np.float32)

    @property
    def n_events(self) -> int:
        return len(self.user)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def has_categories(self) -> bool:
        return len(self.categories) > 0

    def user_bounds(self) -> np.ndarray:
        """Row offsets: user u's interactions are rows [bounds[u], bounds[u + 1])."""
        return np.searchsorted(self.user, np.arange(self.n_users + 1), side="left")

    def sequences(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(items, times) of every user, in user index order."""
        b = self.user_bounds()
        return [(self.item[b[u] : b[u + 1]], self.time[b[u] : b[u + 1]]) for u in range(len(b) - 1)]

    def frame(self) -> pd.DataFrame:
        """The dense table (user, item, timestamp and, where present, value and action)."""
        out = {"user": self.user, "item": self.item, "timestamp": self.time}
        if self.value is not None:
            out["value"] = self.value
        if self.action is not None:
            out["action"] = self.action
        return pd.DataFrame(out)


def build_interactions(frame: pd.DataFrame, report: dict | None = None) -> Interactions:
    """Interactions from a canonical frame (CANONICAL_COLUMNS; `category` holds lists of
    strings or None, `action` strings or None, `value` floats or NaN, `order` the input
    order). Exact duplicates (same user, item, timestamp, action and value) are dropped and
    counted in report["rejected"]["duplicate"]."""
    missing = [c for c in ("user_id", "item_id", "timestamp") if c not in frame]
    if missing:
        raise ValueError(f"interaction frame lacks column(s) {missing}")
    report = {"rejected": {}, **(report or {})}
    report["rejected"] = dict(report["rejected"])
    # A duplicate repeats a kept row, so the ids of all rows are the ids of the kept ones.
    users, u = _encode_ids(frame["user_id"], start=0)
    items, i = _encode_ids(frame["item_id"], start=1)
    f = pd.DataFrame(
        {
            "user": u,
            "item": i,
            "timestamp": frame["timestamp"].to_numpy(np.int64),
            "order": frame["order"].to_numpy(np.int64)
            if "order" in frame
            else np.arange(len(frame), dtype=np.int64),
        }
    )
    has_value = "value" in frame and frame["value"].notna().any()
    has_action = "action" in frame and frame["action"].notna().any()
    if has_value:
        f["value"] = frame["value"].to_numpy(np.float64)
    action_names: tuple[str, ...] = ()
    if has_action:  # codes into the sorted names; a missing action is the name ""
        action_names, f["action"] = _action_codes(frame["action"].to_numpy(dtype=object))
    key = [c for c in ("user", "item", "timestamp", "action", "value") if c in f]
    dup = f.duplicated(key, keep="first").to_numpy()
    n_dup = int(dup.sum())
    if n_dup:
        report["rejected"]["duplicate"] = report["rejected"].get("duplicate", 0) + n_dup
    # Categories are item facts: a duplicate interaction still tells them.
    cats = frame["category"].to_numpy(dtype=object) if "category" in frame else None
    categories, item_cats = _item_categories(i, cats, len(items))
    f = f[~dup].reset_index(drop=True)
    if f.empty:
        raise ValueError("the log has no valid interaction")

    u = f["user"].to_numpy(np.int64)
    i = f["item"].to_numpy(np.int64)
    t = f["timestamp"].to_numpy(np.int64)
    order = np.lexsort((f["order"].to_numpy(), t, u))
    action = f["action"].to_numpy(np.int64)[order] if has_action else None
    rows_used = len(f)
    report.update(
        rows_used=rows_used,
        tie_rule=TIE_RULE,
        n_users=len(users),
        n_items=len(items),
        n_categories=len(categories),
    )
    if "rows_in" not in report:
        report["rows_in"] = rows_used + sum(report["rejected"].values())
    return Interactions(
        user=u[order],
        item=i[order],
        time=t[order],
        users=users,
        items=items,
        categories=categories,
        item_categories=item_cats,
        value=f["value"].to_numpy(np.float64)[order] if has_value else None,
        action=action,
        action_names=action_names,
        report=report,
    )


def _item_categories(
    item: np.ndarray, cats: np.ndarray | None, n_items: int
) -> tuple[tuple[str, ...], np.ndarray]:
    """Union of the categories each item is given: (names, multi-hot [n_items + 1, C]).

    A row's categories are None (none), one string, or a list / tuple / array of strings."""
    if cats is None:
        return (), np.zeros((n_items + 1, 0), np.float32)
    # Rows of an item mostly repeat one list (often the very same object, as validation
    # shares it between equal strings): keep one row per (item, list object) first.
    has = ~pd.isna(cats)
    item, cats = item[has], cats[has]
    ident = np.fromiter(map(id, cats), np.int64, len(cats))
    first = pd.DataFrame({"item": item, "obj": ident}).drop_duplicates().index.to_numpy()
    names = pd.Series(cats[first], index=item[first], dtype=object).explode()
    pairs = pd.DataFrame({"item": names.index.to_numpy(np.int64), "name": names.to_numpy(object)})
    pairs = pairs[pairs["name"].notna()].drop_duplicates()
    pairs["name"] = pairs["name"].astype(str).str.strip()
    pairs = pairs[pairs["name"] != ""].drop_duplicates()
    codes, uniques = pd.factorize(pairs["name"], sort=True)
    flags = np.zeros((n_items + 1, len(uniques)), np.float32)
    flags[pairs["item"].to_numpy(), codes] = 1.0
    return tuple(str(u) for u in uniques), flags


def _action_codes(actions: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """(sorted action names, int64 code of each row); a missing action is the name ""."""
    codes, uniques = pd.factorize(actions, use_na_sentinel=True)
    labels = [str(a) for a in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append("")
    names, remap = np.unique(np.array(labels, dtype=str), return_inverse=True)
    return tuple(str(n) for n in names), remap.astype(np.int64)[codes]


def save_interactions(inter: Interactions, root: str | Path) -> None:
    """The dense log and its id maps, as Parquet + JSON (nothing pickled)."""
    import json

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    inter.frame().to_parquet(root / "interactions.parquet", index=False)
    inter.users.to_frame().to_parquet(root / "users.parquet", index=False)
    items = inter.items.to_frame()
    for j, name in enumerate(inter.categories):
        items[f"category:{name}"] = inter.item_categories[1:, j]
    items.to_parquet(root / "items.parquet", index=False)
    meta = {"categories": list(inter.categories), "action_names": list(inter.action_names)}
    (root / "schema.json").write_text(json.dumps({**meta, "report": inter.report}, indent=2))


def load_interactions(root: str | Path) -> Interactions:
    import json

    root = Path(root)
    meta = json.loads((root / "schema.json").read_text())
    frame = pd.read_parquet(root / "interactions.parquet")
    items_frame = pd.read_parquet(root / "items.parquet")
    items = IdMap.from_frame(items_frame)
    cats = tuple(meta["categories"])
    flags = np.zeros((len(items) + 1, len(cats)), np.float32)
    for j, name in enumerate(cats):
        flags[1:, j] = items_frame.sort_values("index")[f"category:{name}"].to_numpy()
    return Interactions(
        user=frame["user"].to_numpy(np.int64),
        item=frame["item"].to_numpy(np.int64),
        time=frame["timestamp"].to_numpy(np.int64),
        users=IdMap.from_frame(pd.read_parquet(root / "users.parquet")),
        items=items,
        categories=cats,
        item_categories=flags,
        value=frame["value"].to_numpy(np.float64) if "value" in frame else None,
        action=frame["action"].to_numpy(np.int64) if "action" in frame else None,
        action_names=tuple(meta["action_names"]),
        report=meta["report"],
    )
