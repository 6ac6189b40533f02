"""MovieLens loaders (ml-100k, ml-1m) and the Parquet event log under one ratings contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adrec.data.movielens import load_event_log, load_movielens

ML100K = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ml-100k"


def _ml100k(path: Path, data: str) -> Path:
    (path / "u.data").write_text(data)
    (path / "u.genre").write_text("A|0\nB|1\n\n")
    (path / "u.item").write_text("1|X|d||u|1|0\n2|Y|d||u|1|1\n3|Z|d||u|0|0\nbroken line\n")
    return path


def test_ml100k_is_sorted_by_user_then_time_with_ties_in_file_order(tmp_path):
    data = load_movielens(_ml100k(tmp_path, "2\t1\t3\t50\n1\t2\t4\t20\n1\t1\t5\t10\n1\t3\t2\t10\n"))
    assert data.source == "ml-100k" and data.genres == ("A", "B")
    assert data.ratings.columns.tolist() == ["user_id", "item_id", "rating", "timestamp"]
    assert data.ratings["user_id"].tolist() == [1, 1, 1, 2]
    assert data.ratings["item_id"].tolist() == [1, 3, 2, 1]  # the tie at t=10 in file order
    assert data.items["genres"].tolist() == [("A",), ("A", "B"), ()]
    assert data.malformed == {"u.data": 0, "u.item": 1}
    np.testing.assert_array_equal(data.genre_flags(), [[0, 0], [1, 0], [1, 1], [0, 0]])


def test_malformed_rating_lines_are_counted(tmp_path):
    data = load_movielens(_ml100k(tmp_path, "1\t1\t5\t10\n1\tx\t5\t11\n1\t2\n\n2\t3\t4\t9\n"))
    assert len(data.ratings) == 2 and data.malformed["u.data"] == 2


def test_ml1m_layout_with_double_colon_separators_and_latin1(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::2::5::30\n1::1::3::30\n2::2::4::5\n")
    (tmp_path / "movies.dat").write_bytes(
        "1::Caf\xe9 (1995)::Drama|Comedy\n2::Alien: The Movie (1979)::Horror\n".encode("latin-1")
    )
    data = load_movielens(tmp_path)
    assert data.source == "ml-1m" and data.genres == ("Drama", "Comedy", "Horror")
    assert data.ratings["item_id"].tolist() == [2, 1, 2]
    assert data.items["title"].tolist() == ["Caf\xe9 (1995)", "Alien: The Movie (1979)"]
    assert data.items["genres"].tolist() == [("Drama", "Comedy"), ("Horror",)]


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="u.data"):
        load_movielens(tmp_path)
    (tmp_path / "u.data").write_text("1\t1\t5\t10\n")
    with pytest.raises(ValueError, match="u.item"):
        load_movielens(tmp_path)
    with pytest.raises(ValueError, match="no MovieLens folder"):
        load_movielens(tmp_path / "absent")


def test_event_log_maps_to_the_ratings_contract(tmp_path):
    from adrec.data.logs import write_event_log

    events = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 1],
            "timestamp": pd.to_datetime([100, 50, 70, 100], unit="s"),
            "item_id": [7, 8, 7, 9],
            "category": ["books", "music", "books", "books"],
            "action": ["view", "view", "purchase", "cart"],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    write_event_log(events, tmp_path)
    data = load_event_log(tmp_path)
    assert data.genres == ("books", "music")
    assert data.ratings["user_id"].tolist() == [1, 1, 1, 2]
    assert data.ratings["timestamp"].tolist() == [50, 100, 100, 70]
    assert data.ratings["item_id"].tolist()[0] == 8
    assert dict(zip(data.items["item_id"], data.items["genres"], strict=True)) == {
        7: ("books",), 8: ("music",), 9: ("books",)
    }  # fmt: skip
    with pytest.raises(ValueError, match="event log"):
        load_event_log(tmp_path / "empty")


@pytest.mark.skipif(not ML100K.is_dir(), reason="../shared/data/ml-100k is absent")
def test_real_ml100k():
    data = load_movielens(ML100K)
    r = data.ratings
    assert len(r) == 100_000 and r["user_id"].nunique() == 943 and len(data.items) == 1682
    assert len(data.genres) == 19 and data.malformed == {"u.data": 0, "u.item": 0}
    # sorted by user, then time
    assert (np.diff(r["user_id"]) >= 0).all()
    same_user = np.diff(r["user_id"]) == 0
    assert (np.diff(r["timestamp"])[same_user] >= 0).all()
    assert data.genre_flags().shape == (1683, 19)
