"""The simulator: deterministic, shard-independent, schema-valid, with planted life events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adrec.data.schema import EVENT_COLUMNS, validate_events
from adrec.data.simulator import (
    CATEGORY_NAMES,
    LIFE_EVENTS,
    SimulationConfig,
    make_catalog,
    simulate,
    simulate_users,
)


def test_same_config_gives_identical_frames(tiny_config, tiny_sim):
    events, truth, catalog = tiny_sim
    events2, truth2, catalog2 = simulate(tiny_config)
    pd.testing.assert_frame_equal(events, events2)
    pd.testing.assert_frame_equal(truth, truth2)
    pd.testing.assert_frame_equal(catalog.frame(), catalog2.frame())


def test_another_seed_gives_other_events(tiny_config, tiny_sim):
    events, _, _ = tiny_sim
    other = SimulationConfig(**{**tiny_config.to_dict(), "seed": 1})
    events2, _, _ = simulate(other)
    assert len(events) != len(events2) or not events.equals(events2)


def test_result_does_not_depend_on_sharding(tiny_config, tiny_sim):
    events, truth, _ = tiny_sim
    catalog = make_catalog(tiny_config)
    ids = np.arange(1, tiny_config.n_users + 1)
    parts = [simulate_users(tiny_config, half, catalog) for half in (ids[:11], ids[11:])]
    # Shards in reverse order, sorted back: each user's events must not depend on the shard.
    ev = pd.concat([parts[1][0], parts[0][0]], ignore_index=True)
    ev = ev.sort_values("user_id", kind="stable").reset_index(drop=True)
    tr = pd.concat([p[1] for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(ev, events)
    pd.testing.assert_frame_equal(tr.reset_index(drop=True), truth)
    # A single user simulated alone equals its rows in the full run.
    alone, _ = simulate_users(tiny_config, np.array([17]), catalog)
    pd.testing.assert_frame_equal(alone, events[events["user_id"] == 17].reset_index(drop=True))


def test_events_follow_the_schema(tiny_config, tiny_sim):
    events, _, catalog = tiny_sim
    assert tuple(events.columns) == EVENT_COLUMNS
    validated = validate_events(events)
    pd.testing.assert_frame_equal(validated, events)
    start = pd.Timestamp(tiny_config.start_date)
    assert events["timestamp"].min() >= start
    assert events["timestamp"].max() < start + pd.Timedelta(days=tiny_config.n_days)
    assert set(events["user_id"]) <= set(range(1, tiny_config.n_users + 1))
    assert events["item_id"].between(1, tiny_config.n_items).all()
    assert set(events["category"]) <= set(tiny_config.categories)
    # Each event's category is its item's catalogue category.
    cat_of_item = catalog.frame().set_index("item_id")["category"]
    assert (events["category"].to_numpy() == cat_of_item[events["item_id"]].to_numpy()).all()
    # Only purchases carry a value, and it is the item's price.
    purchase = events["action"] == "purchase"
    assert (events.loc[~purchase, "value"] == 0).all()
    price = catalog.frame().set_index("item_id")["price"]
    np.testing.assert_allclose(
        events.loc[purchase, "value"], price[events.loc[purchase, "item_id"]].to_numpy()
    )
    # Each user's log is in time order.
    assert events.groupby("user_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()


def test_catalog_covers_every_category(tiny_config):
    catalog = make_catalog(tiny_config)
    assert len(catalog.item_ids) == tiny_config.n_items
    assert catalog.item_ids[0] == 1  # 0 is the padding id of sequence models
    assert set(catalog.categories) == set(range(tiny_config.n_categories))
    assert (catalog.prices > 0).all()


def test_share_of_users_with_a_life_event_is_near_event_fraction():
    config = SimulationConfig(
        n_users=200, n_days=10, n_items=30, n_categories=6, event_fraction=0.4, seed=3
    )
    _, truth, _ = simulate(config)
    share = truth["user_id"].nunique() / config.n_users
    # Binomial sd is about 0.035; allow ~3.5 sd.
    assert abs(share - 0.4) < 0.12
    assert truth["user_id"].is_unique


@pytest.mark.parametrize("fraction, expected", [(0.0, 0), (1.0, 12)])
def test_event_fraction_extremes(fraction, expected):
    config = SimulationConfig(
        n_users=12, n_days=30, n_items=30, n_categories=6, event_fraction=fraction
    )
    _, truth, _ = simulate(config)
    assert len(truth) == expected


def test_event_days_lie_in_the_event_period(tiny_config, tiny_sim):
    _, truth, _ = tiny_sim
    assert len(truth) > 0
    lo = int(tiny_config.event_start * tiny_config.n_days)
    hi = int(np.ceil(tiny_config.event_end * tiny_config.n_days))
    assert truth["event_day"].between(lo, hi - 1).all()
    start = pd.Timestamp(tiny_config.start_date)
    expected_time = start + pd.to_timedelta(truth["event_day"], unit="D")
    assert (truth["event_time"] == expected_time).all()
    assert set(truth["kind"]) <= set(LIFE_EVENTS)
    for cats in truth["new_categories"]:
        names = cats.split(",")
        assert len(names) >= 2 and len(set(names)) == len(names)
        assert set(names) <= set(tiny_config.categories)


def test_after_a_life_event_the_category_mix_moves_to_new_categories():
    config = SimulationConfig(n_users=24, n_days=40, n_items=60, n_categories=6, event_fraction=1.0)
    events, truth, _ = simulate(config)
    day = (events["timestamp"] - pd.Timestamp(config.start_date)).dt.days
    moved = 0
    for row in truth.itertuples():
        mine = events["user_id"] == row.user_id
        in_new = events["category"].isin(row.new_categories.split(","))
        before = in_new[mine & (day < row.event_day)].mean()
        after = in_new[mine & (day >= row.event_day)].mean()
        assert (mine & (day >= row.event_day)).sum() > 0
        moved += after > before
        # After the event 85% of the preference sits on the new categories.
        assert after > 0.6, (row.user_id, before, after)
    assert moved == len(truth)


def test_activity_rises_after_the_event():
    config = SimulationConfig(n_users=24, n_days=40, n_items=60, n_categories=6, event_fraction=1.0)
    events, truth, _ = simulate(config)
    day = (events["timestamp"] - pd.Timestamp(config.start_date)).dt.days
    ratios = []
    for row in truth.itertuples():
        mine = events["user_id"] == row.user_id
        per_day_before = (mine & (day < row.event_day)).sum() / row.event_day
        per_day_after = (mine & (day >= row.event_day)).sum() / (config.n_days - row.event_day)
        ratios.append(per_day_after / per_day_before)
    assert np.median(ratios) > 1.3


def test_users_without_any_event_give_no_rows():
    # With a two-day log some users are active on no day or draw no event on their active
    # days; they must simply have no rows (simulate must not crash).
    config = SimulationConfig(n_users=200, n_days=2, n_items=60, n_categories=6)
    events, _, _ = simulate(config)
    validate_events(events)
    assert 0 < events["user_id"].nunique() < config.n_users
    assert events["timestamp"].max() < pd.Timestamp(config.start_date) + pd.Timedelta(days=2)


@pytest.mark.parametrize(
    "bad",
    [
        {"n_categories": 1},
        {"n_categories": 17},
        {"n_items": 5, "n_categories": 6},
        {"n_users": 0},
        {"n_days": 1},
        {"event_fraction": -0.1},
        {"event_fraction": 1.5},
        {"event_start": 0.0},
        {"event_start": 0.9, "event_end": 0.8},
        {"event_end": 1.0},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        SimulationConfig(**bad)


def test_config_round_trips_through_dict(tiny_config):
    d = tiny_config.to_dict()
    assert d["n_users"] == 30 and d["n_categories"] == 6
    assert SimulationConfig(**d) == tiny_config
    assert tiny_config.categories == CATEGORY_NAMES[:6]
