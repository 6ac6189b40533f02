"""MovieLens folders (ml-100k, ml-1m) and the project's Parquet event log as one ratings contract.

Every loader returns `Interactions`: ratings (user_id, item_id, rating, timestamp in unix
seconds) sorted by user, then timestamp; items (item_id, title, genres as a tuple of names);
and the genre names in a fixed order.

Tie rule: MovieLens timestamps record rating sessions, and many of a user's ratings share one
second. Ratings with equal (user, timestamp) keep the order of the source file (a stable sort),
so the same files always give the same sequences.

Malformed lines (wrong field count, non-numeric ids) are not dropped silently: each loader
counts them per file in `Interactions.malformed`; a file with no valid line is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adrec.data.readers.movielens import ENCODING, Layout, items_of, layout_of, rating_fields

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


@dataclass
class Interactions:
    """Ratings sorted by (user_id, timestamp), ties in source order; items with genre tuples."""

    ratings: pd.DataFrame
    items: pd.DataFrame
    genres: tuple[str, ...]
    source: str
    malformed: dict[str, int] = field(default_factory=dict)

    def genre_flags(self) -> np.ndarray:
        """Multi-hot [max item id + 1, n_genres]; row 0 (padding) and ids without an item row
        stay all zero."""
        n_rows = max(int(self.items["item_id"].max()), int(self.ratings["item_id"].max())) + 1
        index = {g: i for i, g in enumerate(self.genres)}
        flags = np.zeros((n_rows, len(self.genres)))
        for item, names in zip(self.items["item_id"], self.items["genres"], strict=True):
            for name in names:
                flags[int(item), index[name]] = 1.0
        return flags


def load_movielens(path: str | Path) -> Interactions:
    """Read an ml-100k folder (u.data, u.item, u.genre) or an ml-1m folder (ratings.dat,
    movies.dat), detected by which files it holds."""
    return _load(Path(path), layout_of(Path(path)))


def load_event_log(data_dir: str | Path) -> Interactions:
    """The project's Parquet event log (adrec.data.logs) under the same contract: every event
    is an interaction, its value the rating; an item's categories are its genres."""
    from adrec.data.logs import events_dir, read_event_log

    try:
        events = read_event_log(data_dir)
    except FileNotFoundError:
        raise ValueError(f"no Parquet event log under {events_dir(data_dir)}") from None
    ratings = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy(np.int64),
            "item_id": events["item_id"].to_numpy(np.int64),
            "rating": events["value"].to_numpy(np.float64),
            "timestamp": events["timestamp"].astype("int64").to_numpy(),
        }
    )
    categories = events.groupby("item_id", sort=True)["category"].unique()
    genres = tuple(sorted(events["category"].unique()))
    items = pd.DataFrame(
        {
            "item_id": categories.index.to_numpy(np.int64),
            "title": categories.index.astype(str),
            "genres": [tuple(sorted(c)) for c in categories],
        }
    )
    return Interactions(_chronological(ratings), items, genres, "parquet event log")


def _chronological(ratings: pd.DataFrame) -> pd.DataFrame:
    # np.lexsort is stable: equal (user, timestamp) keep their row order.
    order = np.lexsort((ratings["timestamp"].to_numpy(), ratings["user_id"].to_numpy()))
    return ratings.iloc[order].reset_index(drop=True)


def _parse(file: Path, layout: Layout) -> tuple[pd.DataFrame, int]:
    """The fields of each rating line, and how many non-blank lines did not match."""
    fields, bad = rating_fields(file.read_text(encoding=ENCODING).splitlines(), layout)
    if fields.empty:
        raise ValueError(f"{file} has no line in the expected format")
    return fields, bad


def _ratings(fields: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user_id": fields[0].astype(np.int64),
            "item_id": fields[1].astype(np.int64),
            "rating": fields[2].astype(np.float64),
            "timestamp": fields[3].astype(np.int64),
        }
    )
    return _chronological(frame)


def _load(path: Path, layout: Layout) -> Interactions:
    items, genres, bad_items = items_of(path, layout)
    fields, bad_ratings = _parse(path / layout.ratings, layout)
    malformed = {layout.ratings: bad_ratings, layout.items: bad_items}
    return Interactions(_ratings(fields), items, genres, layout.name, malformed)
