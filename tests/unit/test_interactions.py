"""The interaction schema: canonical ids, id maps, build_interactions (ties, duplicates,
categories, actions), save / load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adrec.data.interactions import (
    IdMap,
    build_interactions,
    canonical_ids,
    load_interactions,
    save_interactions,
)


def _one_by_one(v) -> str:
    """The canonical-id rule, one value at a time (the reference the vectorised code meets)."""
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 30],
        [1.0, 2.5, -3.0, np.nan, np.inf, 1e20],
        ["a", " b ", "5", "05"],
        [True, False],
        [1, "a", 2.0, None, " 7 "],
        [2**70, 3],
        [np.int64(4), np.str_(" z")],
        [],
    ],
)
def test_canonical_ids_follow_the_one_value_rule(values):
    expected = [_one_by_one(v) for v in values]
    assert canonical_ids(values).tolist() == expected
    assert canonical_ids(np.array(values, dtype=object)).tolist() == expected


def test_canonical_ids_of_typed_columns():
    assert canonical_ids(np.array([5, 6], dtype=np.int32)).tolist() == ["5", "6"]
    assert canonical_ids(pd.Series([5.0, 6.5])).tolist() == ["5", "6.5"]
    assert canonical_ids(pd.Series([" x", "y"], dtype="str")).tolist() == ["x", "y"]
    assert canonical_ids(pd.Series([1, None], dtype="Int64")).tolist() == ["1", "<NA>"]
    # the same id as 5, 5.0 and "5"
    assert len(set(canonical_ids([5, 5.0, "5", " 5"]))) == 1


def test_int_ids_round_trip_through_the_map_in_numeric_order():
    m = IdMap.from_ids([10, 2, "3", 2.0, 10])
    assert m.raw.tolist() == ["2", "3", "10"] and m.kind == "int"
    assert m.index([2, "10", 7, 3.0]).tolist() == [0, 2, -1, 1]
    assert m.raw_ids([2, 0]) == [10, 2] and all(type(r) is int for r in m.raw_ids([0, 1]))
    assert m.index_of("3") == 1


def test_string_ids_round_trip_and_a_start_offset():
    m = IdMap.from_ids(["b", "a", 1, " a "], start=1)
    assert m.kind == "str" and m.raw.tolist() == ["1", "a", "b"]
    assert m.index(["a", 1, "zz"]).tolist() == [2, 1, -1]
    assert m.raw_ids([1, 2, 3]) == ["1", "a", "b"]
    # leading zeros make an id a string: "007" and "7" are two ids
    m = IdMap.from_ids(["007", "7"])
    assert m.kind == "str" and len(m) == 2
    empty = IdMap.from_ids([])
    assert len(empty) == 0 and empty.kind == "str" and empty.index(["x"]).tolist() == [-1]


@pytest.mark.parametrize("start", [0, 1])
def test_short_lists_take_the_dict_path_and_agree_with_the_arrow_path(start):
    m = IdMap.from_ids(["7", "a", "-3", "1180591620717411303424", " b", "é"], start=start)
    many = [7, "7", "a", -3, 2**70, "b", "é", "x", 8, "", " a", "a ", 7.0, True, None, "\u3000a"]
    slow = m.index(pd.Series(many, dtype=object)).tolist()  # a Series always takes Arrow's
    assert m.index(many).tolist() == slow  # a list with a float in it: Arrow's too
    one_by_one = [m.index([v]).tolist()[0] for v in many]  # most of these by the dict
    assert one_by_one == slow
    held = [m.index_of(r) for r in ("7", "7", "a", "-3", "1180591620717411303424", "b", "é")]
    assert slow[:7] == held and min(held) >= start and slow[7:10] == [-1, -1, -1]


def test_id_map_frames_round_trip():
    m = IdMap.from_ids(["x", "y", "z"], start=1)
    back = IdMap.from_frame(m.to_frame().sample(frac=1.0, random_state=0))
    assert back.raw.tolist() == m.raw.tolist() and back.start == 1
    assert back.index(["z"]).tolist() == [3]


def _frame(**cols) -> pd.DataFrame:
    n = len(cols["user_id"])
    base = {
        "category": [None] * n,
        "action": [None] * n,
        "value": [np.nan] * n,
        "order": list(range(n)),
    }
    return pd.DataFrame({**cols, **{k: v for k, v in base.items() if k not in cols}})


def test_ties_keep_input_order_and_duplicates_are_counted():
    frame = _frame(
        user_id=["u", "u", "u", "v", "u"],
        item_id=[3, 1, 2, 1, 1],
        timestamp=[10, 10, 10, 5, 10],
        order=[0, 1, 2, 3, 4],
    )
    inter = build_interactions(frame)
    u = inter.users.index_of("u")
    rows = inter.user == u
    assert inter.items.raw_ids(inter.item[rows]) == [3, 1, 2]  # ties in input order
    assert inter.report["rejected"] == {"duplicate": 1}
    assert inter.report["rows_in"] == 5 and inter.report["rows_used"] == 4


def test_item_categories_are_the_union_and_actions_are_coded():
    frame = _frame(
        user_id=[1, 1, 2],
        item_id=["a", "b", "a"],
        timestamp=[1, 2, 3],
        category=[["x", " y "], None, "z"],
        action=["view", None, "cart"],
        value=[1.0, np.nan, 2.0],
    )
    inter = build_interactions(frame)
    assert inter.categories == ("x", "y", "z")
    a = inter.items.index_of("a")
    assert inter.item_categories[a].tolist() == [1, 1, 1]
    assert inter.item_categories[inter.items.index_of("b")].tolist() == [0, 0, 0]
    assert inter.action_names == ("", "cart", "view")
    assert [inter.action_names[c] for c in inter.action] == ["view", "", "cart"]


def test_save_and_load_round_trip(tmp_path):
    frame = _frame(user_id=["u1", "u2"], item_id=[5, 6], timestamp=[1, 2], category=[["c"], None])
    inter = build_interactions(frame, {"source": "test"})
    save_interactions(inter, tmp_path)
    back = load_interactions(tmp_path)
    np.testing.assert_array_equal(back.item, inter.item)
    assert back.users.raw_ids([0, 1]) == ["u1", "u2"] and back.items.raw_ids([1, 2]) == [5, 6]
    assert back.categories == ("c",) and back.report["source"] == "test"


def test_a_frame_without_valid_rows_or_columns_fails_clearly():
    with pytest.raises(ValueError, match="lacks column"):
        build_interactions(pd.DataFrame({"user_id": [1]}))
