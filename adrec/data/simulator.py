"""A deterministic simulator of users with stable habits, into which it plants life events.

Every user is generated from its own seed (`seed`, `user_id`), so any shard of users can be
simulated independently (one Ray task per shard) and the result does not depend on sharding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from adrec.data.schema import ACTIONS

CATEGORY_NAMES = (
    "books",
    "electronics",
    "fashion",
    "groceries",
    "home",
    "sports",
    "toys",
    "beauty",
    "travel",
    "baby",
    "garden",
    "music",
    "office",
    "pets",
    "health",
    "automotive",
)

# Life events move a user's interest towards the categories such an event brings.
LIFE_EVENTS = {
    "new_baby": ("baby", "toys", "health"),
    "move": ("home", "garden"),
    "trip": ("travel", "sports"),
    "new_job": ("office", "fashion"),
}


@dataclass(frozen=True)
class SimulationConfig:
    n_users: int = 300
    n_items: int = 400
    n_categories: int = 12
    n_days: int = 56
    event_fraction: float = 0.15
    # Life events start inside this part of the timeline (fractions of n_days), so the first
    # part of every log is normal behaviour that training and calibration can use.
    event_start: float = 0.7
    event_end: float = 0.85
    start_date: str = "2026-01-01"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.n_categories <= len(CATEGORY_NAMES):
            raise ValueError(f"n_categories must be in [2, {len(CATEGORY_NAMES)}]")
        if self.n_items < self.n_categories:
            raise ValueError("n_items must be >= n_categories")
        if self.n_users < 1 or self.n_days < 2:
            raise ValueError("n_users must be >= 1 and n_days >= 2")
        if not 0.0 <= self.event_fraction <= 1.0:
            raise ValueError("event_fraction must be in [0, 1]")
        if not 0.0 < self.event_start <= self.event_end < 1.0:
            raise ValueError("need 0 < event_start <= event_end < 1")

    @property
    def categories(self) -> tuple[str, ...]:
        return CATEGORY_NAMES[: self.n_categories]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Catalog:
    """Items with a category, a price and a within-category popularity order."""

    item_ids: np.ndarray  # int64, 1..n_items (0 is the padding id of sequence models)
    categories: np.ndarray  # category index of each item
    prices: np.ndarray
    category_names: tuple[str, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item_id": self.item_ids,
                "category": [self.category_names[c] for c in self.categories],
                "price": self.prices,
            }
        )


def make_catalog(config: SimulationConfig) -> Catalog:
    rng = np.random.default_rng([config.seed, 0])
    n_cat = config.n_categories
    # Every category gets at least one item; the rest are spread at random.
    cats = np.concatenate([np.arange(n_cat), rng.integers(0, n_cat, config.n_items - n_cat)])
    cats = np.sort(cats)
    base_price = rng.lognormal(mean=3.0, sigma=0.6, size=n_cat)
    prices = np.round(base_price[cats] * rng.lognormal(0.0, 0.3, size=config.n_items), 2)
    return Catalog(
        item_ids=np.arange(1, config.n_items + 1, dtype=np.int64),
        categories=cats,
        prices=prices,
        category_names=config.categories,
    )


@dataclass(frozen=True)
class _Habits:
    category_pref: np.ndarray
    daily_rate: float
    peak_hour: float
    purchase_prob: float


def _draw_habits(rng: np.random.Generator, n_cat: int) -> _Habits:
    pref = rng.dirichlet(np.full(n_cat, 0.35))
    return _Habits(
        category_pref=pref,
        daily_rate=float(rng.lognormal(np.log(4.0), 0.35)),
        peak_hour=float(rng.choice([9.0, 13.0, 19.0, 22.0]) + rng.normal(0, 1)),
        purchase_prob=float(rng.beta(2, 20)),
    )


def _life_event_habits(
    rng: np.random.Generator, habits: _Habits, categories: tuple[str, ...]
) -> tuple[str, _Habits, list[str]]:
    """Pick a life event and return the user's habits after it."""
    kind = str(rng.choice(sorted(LIFE_EVENTS)))
    targets = [categories.index(c) for c in LIFE_EVENTS[kind] if c in categories]
    # Where the catalogue lacks the event's categories, the user moves to ones they rarely used.
    if len(targets) < 2:
        rare = [int(i) for i in np.argsort(habits.category_pref) if int(i) not in targets]
        targets += rare[: 2 - len(targets)]
    new_pref = np.zeros_like(habits.category_pref)
    new_pref[targets] = rng.dirichlet(np.full(len(targets), 2.0))
    new_pref = 0.85 * new_pref + 0.15 * habits.category_pref
    shifted = _Habits(
        category_pref=new_pref / new_pref.sum(),
        daily_rate=habits.daily_rate * float(rng.uniform(1.6, 2.5)),
        peak_hour=(habits.peak_hour + float(rng.uniform(6, 12))) % 24,
        purchase_prob=min(0.6, habits.purchase_prob * float(rng.uniform(2.0, 3.5))),
    )
    return kind, shifted, [categories[t] for t in targets]


def simulate_users(
    config: SimulationConfig, user_ids: np.ndarray, catalog: Catalog | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the given users. Returns (events, life_events ground truth)."""
    catalog = catalog or make_catalog(config)
    start = pd.Timestamp(config.start_date)
    items_by_cat = [np.flatnonzero(catalog.categories == c) for c in range(config.n_categories)]
    # Zipf popularity inside each category: item order is its popularity rank.
    pop_by_cat = [1.0 / np.arange(1, len(ix) + 1) ** 1.1 for ix in items_by_cat]
    pop_by_cat = [p / p.sum() for p in pop_by_cat]
    frames, truths = [], []
    for uid in np.asarray(user_ids, dtype=np.int64):
        rng = np.random.default_rng([config.seed, 1, int(uid)])
        habits = _draw_habits(rng, config.n_categories)
        event_day, after = config.n_days, habits
        if rng.random() < config.event_fraction:
            lo = int(config.event_start * config.n_days)
            hi = max(lo + 1, int(config.event_end * config.n_days))
            event_day = int(rng.integers(lo, hi))
            kind, after, targets = _life_event_habits(rng, habits, config.categories)
            truths.append(
                {
                    "user_id": int(uid),
                    "event_day": event_day,
                    "event_time": start + pd.Timedelta(days=event_day),
                    "kind": kind,
                    "new_categories": ",".join(targets),
                }
            )
        frames.append(
            _simulate_one(
                rng,
                int(uid),
                habits,
                after,
                event_day,
                config,
                catalog,
                items_by_cat,
                pop_by_cat,
                start,
            )
        )
    events = pd.concat(frames, ignore_index=True) if frames else _empty_events()
    truth = pd.DataFrame(
        truths, columns=["user_id", "event_day", "event_time", "kind", "new_categories"]
    )
    return events, truth


def _simulate_one(
    rng, uid, before, after, event_day, config, catalog, items_by_cat, pop_by_cat, start
) -> pd.DataFrame:
    days, hours, cats = [], [], []
    for day in range(config.n_days):
        h = before if day < event_day else after
        if rng.random() > 0.85:  # inactive day
            continue
        n = rng.poisson(h.daily_rate)
        days.append(np.full(n, day))
        hours.append((rng.normal(h.peak_hour, 1.5, n)) % 24)
        cats.append(rng.choice(config.n_categories, size=n, p=h.category_pref))
    if not days:
        return _empty_events()
    day = np.concatenate(days)
    hour = np.concatenate(hours)
    cat = np.concatenate(cats)
    order = np.lexsort((hour, day))
    day, hour, cat = day[order], hour[order], cat[order]
    # Items follow a browsing pattern: after an item, a user often moves to one of the next
    # few items of the same category, which gives sequence models something to learn.
    pos = np.empty(len(cat), dtype=np.int64)
    for i, c in enumerate(cat):
        n_in_cat = len(items_by_cat[c])
        if i > 0 and cat[i - 1] == c and rng.random() < 0.6:
            pos[i] = (pos[i - 1] + rng.integers(1, 3)) % n_in_cat
        else:
            pos[i] = rng.choice(n_in_cat, p=pop_by_cat[c])
    item_index = np.array(
        [items_by_cat[c][p] for c, p in zip(cat, pos, strict=True)], dtype=np.int64
    )
    purchase_p = np.where(day < event_day, before.purchase_prob, after.purchase_prob)
    u = rng.random(len(cat))
    action = np.where(u < purchase_p, 2, np.where(u < purchase_p + 0.15, 1, 0))
    value = np.where(action == 2, catalog.prices[item_index], 0.0)
    ts = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour * 3600, unit="s")
    return pd.DataFrame(
        {
            "user_id": np.full(len(cat), uid, dtype=np.int64),
            "timestamp": ts.floor("s").astype("datetime64[s]"),
            "item_id": catalog.item_ids[item_index],
            "category": np.asarray(catalog.category_names)[cat],
            "action": np.asarray(ACTIONS)[action],
            "value": value.astype(np.float64),
        }
    )


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="int64"),
            "timestamp": pd.Series(dtype="datetime64[s]"),
            "item_id": pd.Series(dtype="int64"),
            "category": pd.Series(dtype=str),
            "action": pd.Series(dtype=str),
            "value": pd.Series(dtype="float64"),
        }
    )


def simulate(config: SimulationConfig) -> tuple[pd.DataFrame, pd.DataFrame, Catalog]:
    """Simulate every user of `config` in-process."""
    catalog = make_catalog(config)
    events, truth = simulate_users(config, np.arange(1, config.n_users + 1), catalog)
    return events, truth, catalog
