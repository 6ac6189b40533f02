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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TIE_RULE = (
    "a user's interactions are ordered by timestamp; equal timestamps keep the input's order "
    "(files in path order, rows in file order)"
)
# The canonical frame that validation produces and build_interactions consumes.
CANONICAL_COLUMNS = ("user_id", "item_id", "timestamp", "category", "action", "value", "order")
_INT_ID = re.compile(r"^-?(0|[1-9][0-9]*)$")


def canonical_ids(values) -> np.ndarray:
    """Raw ids as canonical strings: integers (and integral floats) as their decimal form,
    strings stripped. The same id given as 5, 5.0 or "5" is one id."""
    s = pd.Series(values, dtype=object)
    out = np.empty(len(s), dtype=object)
    for i, v in enumerate(s.to_numpy()):
        if isinstance(v, bool | np.bool_):
            out[i] = str(v)
        elif isinstance(v, int | np.integer):
            out[i] = str(int(v))
        elif isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v).strip()
    return out


@dataclass(frozen=True)
class IdMap:
    """Raw ids <-> dense indices `start`, `start + 1`, ...; raw ids kept as canonical strings,
    given back as int when every id of the log is an integer."""

    raw: np.ndarray  # object array of canonical id strings, in index order
    start: int = 0

    @classmethod
    def from_ids(cls, ids, start: int = 0) -> IdMap:
        """Sorted distinct ids (numerically when all are integers)."""
        uniq = np.unique(canonical_ids(ids).astype(str))
        if len(uniq) and all(_INT_ID.match(u) for u in uniq):
            uniq = uniq[np.argsort(uniq.astype(np.int64), kind="stable")]
        return cls(uniq.astype(object), start)

    @property
    def kind(self) -> str:
        return "int" if len(self.raw) and all(_INT_ID.match(r) for r in self.raw) else "str"

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def _lookup(self) -> dict[str, int]:
        cached = self.__dict__.get("_cache")
        if cached is None:
            cached = {r: i + self.start for i, r in enumerate(self.raw)}
            object.__setattr__(self, "_cache", cached)
        return cached

    def index(self, ids) -> np.ndarray:
        """Dense index of each raw id; -1 for ids the map does not hold."""
        lookup = self._lookup
        return np.array([lookup.get(c, -1) for c in canonical_ids(ids)], dtype=np.int64)

    def index_of(self, raw_id) -> int:
        return int(self.index([raw_id])[0])

    def raw_ids(self, indices) -> list:
        """Raw ids (int or str, as the log gave them) of dense indices."""
        vals = self.raw[np.asarray(indices, dtype=np.int64) - self.start]
        return [int(v) for v in vals] if self.kind == "int" else [str(v) for v in vals]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"index": np.arange(len(self)) + self.start, "raw_id": self.raw})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> IdMap:
        frame = frame.sort_values("index")
        start = int(frame["index"].iloc[0]) if len(frame) else 0
        return cls(frame["raw_id"].astype(str).to_numpy(dtype=object), start)


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
    f = pd.DataFrame(
        {
            "user_id": canonical_ids(frame["user_id"]).astype(str),
            "item_id": canonical_ids(frame["item_id"]).astype(str),
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
    if has_action:
        f["action"] = frame["action"].astype(object).where(frame["action"].notna(), "").to_numpy()
    key = [c for c in ("user_id", "item_id", "timestamp", "action", "value") if c in f]
    dup = f.duplicated(key, keep="first").to_numpy()
    n_dup = int(dup.sum())
    if n_dup:
        report["rejected"]["duplicate"] = report["rejected"].get("duplicate", 0) + n_dup
    items = IdMap.from_ids(f["item_id"].unique(), start=1)
    # Categories are item facts: a duplicate interaction still tells them.
    cats = frame["category"].to_numpy(dtype=object) if "category" in frame else None
    categories, item_cats = _item_categories(items.index(f["item_id"]), cats, len(items))
    f = f[~dup].reset_index(drop=True)
    if f.empty:
        raise ValueError("the log has no valid interaction")

    users = IdMap.from_ids(f["user_id"].unique())
    u = users.index(f["user_id"].to_numpy())
    i = items.index(f["item_id"].to_numpy())
    t = f["timestamp"].to_numpy(np.int64)
    order = np.lexsort((f["order"].to_numpy(), t, u))
    action = action_names = None
    if has_action:
        names = np.asarray(f["action"].to_numpy(dtype=str))
        action_names = tuple(sorted(set(names.tolist())))
        action = np.searchsorted(np.array(action_names), names).astype(np.int64)[order]
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
        action_names=action_names or (),
        report=report,
    )


def _item_categories(
    item: np.ndarray, cats: np.ndarray | None, n_items: int
) -> tuple[tuple[str, ...], np.ndarray]:
    """Union of the categories each item is given: (names, multi-hot [n_items + 1, C])."""
    if cats is None:
        return (), np.zeros((n_items + 1, 0), np.float32)
    pairs: set[tuple[int, str]] = set()
    for it, c in zip(item.tolist(), cats, strict=True):
        if c is None or (isinstance(c, float) and np.isnan(c)):
            continue
        names = [c] if isinstance(c, str) else list(c)
        pairs.update((it, str(n)) for n in names if str(n).strip())
    names = tuple(sorted({n for _, n in pairs}))
    index = {n: j for j, n in enumerate(names)}
    flags = np.zeros((n_items + 1, len(names)), np.float32)
    for it, n in pairs:
        flags[it, index[n]] = 1.0
    return names, flags


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
