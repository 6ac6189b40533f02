"""The anomaly-aware recommender as it is served and evaluated: what the fit step saved
(the log as each user's history, id maps, sources, blends, behaviour detector) and the one
code path from a user's History to ranked items.

Offline evaluation builds Histories from a split of the log; a served request builds one from
the stored log plus the request's events (`history_for`). Both go through `anomaly`,
`sources.probs`, `blend_weights` and `rank`, so a served answer equals the offline one for
the same history and prediction time.

A run directory holds:
    log/         the validated log (interactions, id maps, item categories)
    sources/     the sequential model's weights, item transitions, item counts (sources.json)
    blend/       the served blend and its controls (blend.json, gate/, gate_plain/)
    detector/    the behaviour detector and its window (absent when the data had too little)
    engine.json  what is served and with which settings
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adrec.data.interactions import Interactions, load_interactions, save_interactions
from adrec.detectors.behaviour import BehaviourDetector, Signals
from adrec.errors import BadEventsError
from adrec.recommender.blend import Blends, rank_items
from adrec.recommender.history import History, history_of
from adrec.recommender.source_set import SourceSet

ENGINE_FORMAT = 1
_DAY = 86_400.0


@dataclass
class RequestEvents:
    """Events of one request: raw item ids, unix times, action names (None = not given)
    and values (NaN = not given)."""

    items: list
    times: np.ndarray
    actions: list
    values: np.ndarray

    @classmethod
    def empty(cls) -> RequestEvents:
        return cls([], np.zeros(0, np.int64), [], np.zeros(0))


class AnomalyAwareRecommender:
    def __init__(
        self,
        log: Interactions,
        sources: SourceSet,
        blends: Blends,
        detector: BehaviourDetector | None,
        signals: Signals,
        gate_recent: int = 10,
    ):
        if tuple(blends.sources) != sources.names:
            raise ValueError(
                f"the blend weighs {list(blends.sources)} but the engine has sources "
                f"{list(sources.names)}"
            )
        self.log = log
        self.sources = sources
        self.blends = blends
        self.detector = detector
        self.signals = signals
        self.gate_recent = gate_recent
        self.bounds = log.user_bounds()
        self._action_codes = {name: i for i, name in enumerate(log.action_names)}

    # -- histories -------------------------------------------------------------------------
    def stored_history(self, user: int, now: float | None = None) -> History:
        """A known user's whole stored history (interactions at or before `now`)."""
        a, b = int(self.bounds[user]), int(self.bounds[user + 1])
        if now is not None:
            b = a + int(np.searchsorted(self.log.time[a:b], now, side="right"))
        end = float(self.log.time[b - 1]) if b > a else 0.0
        return history_of(self.log, user, a, b, end if now is None else now)

    def history_for(
        self, user_id, events: RequestEvents, at: float | None = None
    ) -> tuple[History, dict, bool]:
        """The History a request describes: a known user's stored interactions plus the
        request's new events, or, for a user the model has never seen, the request's events
        alone. Returns (history, ignored event counts, known user)."""
        u = self.log.users.index_of(user_id)
        known = u >= 0
        item = self.log.items.index(events.items) if len(events.items) else np.zeros(0, np.int64)
        times = np.asarray(events.times, np.int64)
        ignored = {
            "unknown_item": int((item < 0).sum()),
            "already_known": 0,
            "before_history": 0,
            "after_prediction_time": 0,
        }
        keep = item >= 0
        stored_last = None
        if known and self.bounds[u + 1] > self.bounds[u]:
            stored_last = int(self.log.time[self.bounds[u + 1] - 1])
        if at is None:
            candidates = [*times[keep].tolist(), *([stored_last] if stored_last else [])]
            at = float(max(candidates)) if candidates else 0.0
        late = keep & (times > at)
        ignored["after_prediction_time"] = int(late.sum())
        keep &= ~late
        actions = self._action_array(events.actions)
        values = np.asarray(events.values, np.float64)
        if known:
            stored = self.stored_history(u, at)
            if len(stored):
                pairs = set(zip(stored.items.tolist(), stored.times.tolist(), strict=True))
                dup = np.array(
                    [(int(i), int(t)) in pairs for i, t in zip(item, times, strict=True)], bool
                )
                dup &= keep
                early = keep & ~dup & (times < stored.times[-1])
                ignored["already_known"] = int(dup.sum())
                ignored["before_history"] = int(early.sum())
                keep &= ~dup & ~early
        order = np.flatnonzero(keep)[np.argsort(times[keep], kind="stable")]
        new = History(
            item[order],
            times[order],
            float(at),
            values[order] if self.log.value is not None else None,
            actions[order] if actions is not None else None,
            u,
        )
        if not known:
            return new, ignored, False
        return _concat(stored, new, float(at)), ignored, True

    def _action_array(self, names: list) -> np.ndarray | None:
        """Action codes of the request's events; None when the model has no actions (the
        field is then not read). An action the log never had is a request error."""
        if not self.log.action_names:
            return None
        out = np.zeros(len(names), np.int64)
        for i, name in enumerate(names):
            if name is None:
                out[i] = 0
                continue
            code = self._action_codes.get(name)
            if code is None:
                raise BadEventsError(
                    f"events[{i}].action: unknown action {name!r}; this model knows "
                    f"{list(self.log.action_names)}"
                )
            out[i] = code
        return out

    # -- scoring ---------------------------------------------------------------------------
    def anomaly(self, histories: list[History]) -> dict[str, np.ndarray]:
        """score (NaN without a window), calibrated (0 without one), has_window."""
        if self.detector is None:
            n = len(histories)
            return {"score": np.full(n, np.nan), "calibrated": np.zeros(n),
                    "has_window": np.zeros(n, bool)}  # fmt: skip
        return self.detector.score(histories)

    def gate_features(self, histories: list[History], calibrated: np.ndarray) -> np.ndarray:
        return gate_features(histories, calibrated, self.sources.shares, self.gate_recent)

    def blend_weights(self, histories: list[History], anomaly: dict) -> dict[str, np.ndarray]:
        """[n, n_sources] weights of the served blend and of every control."""
        b, n = self.blends, len(histories)
        c = anomaly["calibrated"]
        out = {
            "best fixed blend": np.tile(b.fixed, (n, 1)),
            "anomaly-aware rule": b.rule.weights(c) if n else np.zeros((0, len(b.sources))),
        }
        if b.recency_rule is not None and b.recency_calibrator is not None:
            r = b.recency_calibrator.transform(recency_days(histories))
            out["recency rule"] = b.recency_rule.weights(r)
        if b.gate is not None and n:
            X = self.gate_features(histories, c)
            out["learned gate"] = b.gate.weights(X)
            if b.gate_plain is not None:
                out["learned gate, no anomaly score"] = b.gate_plain.weights(X[:, 1:])
        served = {"rule": "anomaly-aware rule", "gate": "learned gate", "fixed": "best fixed blend"}
        out["served"] = out[served[b.served]]
        return out

    def rank(self, probs: np.ndarray, weights: np.ndarray, histories: list[History], k: int):
        """Top-k (item index, blended score, index of the source that contributed most) per
        history; padding and the history's own items are never recommended."""
        return rank_items(probs, weights, [h.items for h in histories], k, self.sources.names)

    def recommend(
        self, histories: list[History], k: int | list[int], anomaly: dict | None = None
    ) -> list:
        """The served answer for each history: ranked items (raw ids), the weights, the
        emerging categories and the anomaly. `k` is one count for all, or one per history
        (a served batch mixes requests: the sources run once for the batch, and each history
        is ranked with its own k exactly as it would be alone)."""
        anomaly = anomaly or self.anomaly(histories)
        probs = self.sources.probs(histories)
        weights = self.blend_weights(histories, anomaly)["served"]
        names = self.sources.names
        emerging = self._emerging(histories)
        ks = [k] * len(histories) if isinstance(k, int | np.integer) else list(k)
        if len(ks) != len(histories):
            raise ValueError(f"{len(ks)} values of k for {len(histories)} histories")
        ranked: list = [None] * len(histories)
        for kk in sorted(set(ks)):
            at = [p for p, x in enumerate(ks) if x == kk]
            if len(at) == len(histories):
                part = self.rank(probs, weights, histories, kk)
            else:
                part = self.rank(probs[:, at], weights[at], [histories[p] for p in at], kk)
            for p, r in zip(at, part, strict=True):
                ranked[p] = r
        out = []
        for p, (top, score, src) in enumerate(ranked):
            raw = self.log.items.raw_ids(top)
            out.append({
                "items": [
                    {"item_id": r, "score": float(s), "source": names[j],
                     "categories": self.item_categories(int(i))}
                    for r, i, s, j in zip(raw, top, score, src, strict=True)
                ],
                "weights": dict(zip(names, weights[p].round(6).tolist(), strict=True)),
                "emerging_categories": emerging[p],
            })  # fmt: skip
        return out

    def item_categories(self, item: int) -> list[str]:
        flags = self.log.item_categories[item]
        return [self.log.categories[j] for j in np.flatnonzero(flags)]

    def _emerging(self, histories: list[History]) -> list[dict]:
        if not self.sources.has_emerging:
            return [{} for _ in histories]
        from adrec.recommender.sources import emerging_weights

        w = emerging_weights(
            histories,
            self.sources.shares,
            self.sources.emerging_recent,
            self.sources.emerging_min_profile,
        )
        cats = self.log.categories
        return [{cats[j]: round(float(v), 4) for j, v in enumerate(row) if v > 0} for row in w]

    def describe(self) -> dict:
        return {
            "users": self.log.n_users,
            "items": self.log.n_items,
            "sources": list(self.sources.names),
            "served_blend": self.blends.served,
            "detector": self.detector.describe() if self.detector else None,
        }

    # -- persistence ------------------------------------------------------------------------
    def save(self, run_dir: str | Path) -> Path:
        root = Path(run_dir)
        root.mkdir(parents=True, exist_ok=True)
        save_interactions(self.log, root / "log")
        self.sources.save(root / "sources")
        self.blends.save(root / "blend")
        if self.detector is not None:
            self.detector.save(root / "detector")
        meta = {"format": ENGINE_FORMAT, "gate_recent": self.gate_recent,
                "signals": self.signals.meta(), **self.describe()}  # fmt: skip
        (root / "engine.json").write_text(json.dumps(meta, indent=2))
        return root

    @classmethod
    def load(cls, run_dir: str | Path) -> AnomalyAwareRecommender:
        from adrec.recommender.run import check_run_dir

        root = check_run_dir(run_dir)
        meta = json.loads((root / "engine.json").read_text())
        if meta.get("format") != ENGINE_FORMAT:
            raise ValueError(f"{root}: run format {meta.get('format')}, expected {ENGINE_FORMAT}")
        log = load_interactions(root / "log")
        sig = meta["signals"]
        signals = Signals.from_log(log.item_categories, 0, None, np.zeros(1))
        signals = Signals(signals.shares, sig["n_actions"], sig["has_values"], sig["sub_day"])
        sources = SourceSet.load(root / "sources", signals.shares, (log.item, log.time))
        blends = Blends.load(root / "blend", sources.names)
        detector = (
            BehaviourDetector.load(root / "detector", signals.shares)
            if (root / "detector").exists()
            else None
        )
        return cls(log, sources, blends, detector, signals, meta["gate_recent"])


def _concat(a: History, b: History, now: float) -> History:
    def cat(x, y):
        return None if x is None else np.concatenate([x, y if y is not None else x[:0]])

    return History(
        np.concatenate([a.items, b.items]),
        np.concatenate([a.times, b.times]),
        now,
        cat(a.values, b.values),
        cat(a.actions, b.actions),
        a.user,
    )


def recency_days(histories: list[History]) -> np.ndarray:
    """Days since the user's previous interaction at each prediction time."""
    return np.array([max(h.now - float(h.times[-1]), 0.0) / _DAY if len(h) else 0.0
                     for h in histories])  # fmt: skip


def gate_features(
    histories: list[History], calibrated: np.ndarray, shares: np.ndarray, recent: int
) -> np.ndarray:
    """The learned gate's inputs: [calibrated anomaly score, log1p days since the previous
    interaction, share of the recent interactions' categories new to the user, log1p history
    length]."""
    new = np.array([_new_category_share(h, shares, recent) for h in histories])
    length = np.log1p([len(h) for h in histories])
    days = np.log1p(recency_days(histories))
    return np.column_stack([calibrated, days, new, length]) if len(histories) else np.zeros((0, 4))


def _new_category_share(h: History, shares: np.ndarray, recent: int) -> float:
    """Share of the last `recent` interactions' category mass in categories the earlier
    history never had (0 for shorter histories or logs without categories)."""
    if shares.shape[1] < 2 or len(h) <= recent:
        return 0.0
    now = shares[h.items[-recent:]].sum(0)
    before = shares[h.items[:-recent]].sum(0)
    total = now.sum()
    return float(now[before == 0].sum() / total) if total else 0.0
