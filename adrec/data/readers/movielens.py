"""MovieLens folders (ml-100k: u.data, u.item, u.genre; ml-1m: ratings.dat, movies.dat) as the
interaction schema: every rating is an interaction with action "rating", value the rating,
timestamp its unix seconds, category the movie's genres (a list; none for a movie missing from
the movie file).

Rating lines must match the layout (ml-100k: user<TAB>item<TAB>rating<TAB>time; ml-1m:
user::item::rating::time, all integers but the rating); a non-blank line that does not is a
malformed_line. Movie files are item facts: their malformed lines are counted apart
(report["meta_malformed"]). Files are latin-1, as GroupLens publishes them.

The same line parser serves the in-process reader, the Ray Data reader (read_text +
map_batches) and the older ratings loader adrec.data.movielens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adrec.data.interactions import canonical_ids

ENCODING = "latin-1"


@dataclass(frozen=True)
class Layout:
    name: str
    ratings: str
    items: str
    rating_line: str  # a regex whose 4 groups are user, item, rating, timestamp


_FIELD = r"(\d+)", r"(\d+)", r"(\d+(?:\.\d*)?)", r"(\d+)"  # user, item, rating, time
LAYOUTS = {
    "ml-100k": Layout("ml-100k", "u.data", "u.item", r"^\s*" + "\t".join(_FIELD) + r"\s*$"),
    "ml-1m": Layout("ml-1m", "ratings.dat", "movies.dat", r"^\s*" + "::".join(_FIELD) + r"\s*$"),
}
_ML1M_MOVIE = r"^\s*(\d+)::(.*)::(.*?)\s*$"


def is_movielens(path: Path) -> bool:
    return path.is_dir() and any((path / lay.ratings).is_file() for lay in LAYOUTS.values())


def layout_of(path: Path) -> Layout:
    """The layout of a MovieLens folder, told by which ratings file it holds."""
    if not path.is_dir():
        raise ValueError(f"no MovieLens folder at {path}")
    for lay in LAYOUTS.values():
        if (path / lay.ratings).exists():
            return lay
    raise ValueError(f"{path} holds neither u.data (ml-100k) nor ratings.dat (ml-1m)")


def require(path: Path, names: tuple[str, ...], layout: str) -> None:
    for name in names:
        if not (path / name).exists():
            raise ValueError(f"{path} has no {name} (an {layout} folder is expected)")


def rating_fields(lines, layout: Layout) -> tuple[pd.DataFrame, int]:
    """The 4 matched fields (strings, columns 0..3) of each rating line, and how many
    non-blank lines did not match."""
    lines = pd.Series(list(lines), dtype=object)
    lines = lines[lines.str.strip() != ""] if len(lines) else lines
    fields = lines.str.extract(layout.rating_line) if len(lines) else pd.DataFrame(columns=range(4))
    bad = int(fields[0].isna().sum())
    return fields.dropna(subset=[0]).reset_index(drop=True), bad


def parse_ratings(lines, layout: Layout) -> tuple[pd.DataFrame, int]:
    """Rating lines as schema rows (user_id, item_id, timestamp, action, value) and the number
    of malformed lines."""
    fields, bad = rating_fields(lines, layout)
    frame = pd.DataFrame(
        {
            "user_id": fields[0].astype(np.int64),
            "item_id": fields[1].astype(np.int64),
            "timestamp": fields[3].astype(np.int64),
            "action": pd.Series("rating", index=fields.index, dtype=object),
            "value": fields[2].astype(np.float64),
        }
    )
    return frame, bad


def ml100k_items(path: Path) -> tuple[pd.DataFrame, tuple[str, ...], int]:
    """(items: item_id, title, genres as a tuple; the genre names of u.genre; malformed lines
    of u.item)."""
    genres = tuple(
        line.split("|")[0]
        for line in (path / "u.genre").read_text(encoding=ENCODING).splitlines()
        if line.strip()
    )
    if not genres:
        raise ValueError(f"{path / 'u.genre'} lists no genre")
    rows, bad = [], 0
    for line in (path / "u.item").read_text(encoding=ENCODING).splitlines():
        parts = line.split("|")
        flags = parts[-len(genres) :]
        if len(parts) < len(genres) + 2 or not parts[0].isdigit() or set(flags) - {"0", "1"}:
            bad += bool(line.strip())
            continue
        # The title is the second field; ids, dates and the URL never contain '|'.
        names = tuple(g for g, f in zip(genres, flags, strict=True) if f == "1")
        rows.append((int(parts[0]), parts[1], names))
    if not rows:
        raise ValueError(f"{path / 'u.item'} has no line in the expected format")
    return pd.DataFrame(rows, columns=["item_id", "title", "genres"]), genres, bad


def ml1m_items(path: Path) -> tuple[pd.DataFrame, tuple[str, ...], int]:
    """(items: item_id, title, genres as a tuple; genre names in order of first appearance
    (ml-1m has no genre file); malformed lines of movies.dat)."""
    lines = pd.Series((path / "movies.dat").read_text(encoding=ENCODING).splitlines(), dtype=object)
    lines = lines[lines.str.strip() != ""]
    movies = lines.str.extract(_ML1M_MOVIE)
    bad = int(movies[0].isna().sum())
    movies = movies.dropna(subset=[0]).reset_index(drop=True)
    if movies.empty:
        raise ValueError(f"{path / 'movies.dat'} has no line in the expected format")
    names = [tuple(n for n in re.split(r"\|", g) if n) for g in movies[2]]
    genres = tuple(dict.fromkeys(n for row in names for n in row))
    items = pd.DataFrame(
        {"item_id": movies[0].astype(np.int64), "title": movies[1], "genres": names}
    )
    return items, genres, bad


def items_of(path: Path, layout: Layout) -> tuple[pd.DataFrame, tuple[str, ...], int]:
    if layout.name == "ml-100k":
        require(path, ("u.data", "u.item", "u.genre"), "ml-100k")
        return ml100k_items(path)
    require(path, ("ratings.dat", "movies.dat"), "ml-1m")
    return ml1m_items(path)


def item_categories(path: Path, layout: Layout) -> tuple[dict[str, list[str]], int]:
    """Canonical item id -> its genres (movies without a genre are left out), and the number
    of malformed movie lines."""
    items, _, bad = items_of(path, layout)
    ids = canonical_ids(items["item_id"])
    return {i: list(g) for i, g in zip(ids, items["genres"], strict=True) if g}, bad
