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

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")

_ML100K_RATING = r"^\s*(\d+)\t(\d+)\t(\d+(?:\.\d*)?)\t(\d+)\s*$"
_ML1M_RATING = r"^\s*(\d+)::(\d+)::(\d+(?:\.\d*)?)::(\d+)\s*$"
_ML1M_MOVIE = r"^\s*(\d+)::(.*)::(.*?)\s*$"


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
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"no MovieLens folder at {path}")
    if (path / "u.data").exists():
        return _load_ml100k(path)
    if (path / "ratings.dat").exists():
        return _load_ml1m(path)
    raise ValueError(f"{path} holds neither u.data (ml-100k) nor ratings.dat (ml-1m)")


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


def _require(path: Path, names: tuple[str, ...], layout: str) -> None:
    for name in names:
        if not (path / name).exists():
            raise ValueError(f"{path} has no {name} (an {layout} folder is expected)")


def _parse(file: Path, pattern: str, encoding: str) -> tuple[pd.DataFrame, int]:
    """The regex groups of each non-blank line, and how many lines did not match."""
    lines = pd.Series(file.read_text(encoding=encoding).splitlines(), dtype=object)
    lines = lines[lines.str.strip() != ""]
    fields = lines.str.extract(pattern)
    bad = int(fields[0].isna().sum())
    fields = fields.dropna(subset=[0]).reset_index(drop=True)
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


def _load_ml100k(path: Path) -> Interactions:
    _require(path, ("u.data", "u.item", "u.genre"), "ml-100k")
    fields, bad_ratings = _parse(path / "u.data", _ML100K_RATING, "latin-1")
    genre_rows = [
        line.split("|")[0]
        for line in (path / "u.genre").read_text(encoding="latin-1").splitlines()
        if line.strip()
    ]
    genres = tuple(genre_rows)
    if not genres:
        raise ValueError(f"{path / 'u.genre'} lists no genre")
    rows, bad_items = [], 0
    for line in (path / "u.item").read_text(encoding="latin-1").splitlines():
        parts = line.split("|")
        flags = parts[-len(genres) :]
        if len(parts) < len(genres) + 2 or not parts[0].isdigit() or set(flags) - {"0", "1"}:
            bad_items += bool(line.strip())
            continue
        # The title is the second field; ids, dates and the URL never contain '|'.
        names = tuple(g for g, f in zip(genres, flags, strict=True) if f == "1")
        rows.append((int(parts[0]), parts[1], names))
    if not rows:
        raise ValueError(f"{path / 'u.item'} has no line in the expected format")
    items = pd.DataFrame(rows, columns=["item_id", "title", "genres"])
    malformed = {"u.data": bad_ratings, "u.item": bad_items}
    return Interactions(_ratings(fields), items, genres, "ml-100k", malformed)


def _load_ml1m(path: Path) -> Interactions:
    _require(path, ("ratings.dat", "movies.dat"), "ml-1m")
    fields, bad_ratings = _parse(path / "ratings.dat", _ML1M_RATING, "latin-1")
    movies, bad_movies = _parse(path / "movies.dat", _ML1M_MOVIE, "latin-1")
    names = [tuple(n for n in re.split(r"\|", g) if n) for g in movies[2]]
    # ml-1m has no genre list file: genres in the order they first appear.
    genres = tuple(dict.fromkeys(n for row in names for n in row))
    items = pd.DataFrame(
        {"item_id": movies[0].astype(np.int64), "title": movies[1], "genres": names}
    )
    malformed = {"ratings.dat": bad_ratings, "movies.dat": bad_movies}
    return Interactions(_ratings(fields), items, genres, "ml-1m", malformed)
