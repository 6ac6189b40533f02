"""How candidate sources are weighed for one user: the anomaly-aware rule, its controls and
the learned gates, all tuned on validation targets by the fit step and saved with the run.

Each source gives a probability distribution over the catalogue; the blend is their weighted
sum. The rule interpolates between a profile for calm users (the best fixed blend: trust
long-term taste) and one for users whose behaviour has shifted, by the user's calibrated
anomaly score. The recency rule is the same rule driven by the plainest recency signal
(days since the previous interaction), the control that tells whether the detector matters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adrec.calibration import ScoreCalibrator
from adrec.recommender.gate import SourceGate

# Every source the engine can build, in the order weights are stored.
ALL_SOURCES = ("long_term", "short_term", "emerging", "trending")
SERVED_BLENDS = ("rule", "gate", "fixed")


def _weights(sources: tuple[str, ...], named: dict[str, float], what: str) -> np.ndarray:
    unknown = sorted(set(named) - set(sources))
    if unknown:
        raise ValueError(
            f"{what} names source(s) {unknown} that this model does not have {sources}"
        )
    w = np.array([float(named.get(s, 0.0)) for s in sources])
    if (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"{what} weights must be >= 0 and sum to 1, got {named}")
    return w


@dataclass(frozen=True)
class BlendRule:
    """weights(c) = (1 - c) * calm + c * shifted for a calibrated signal c in [0, 1]."""

    sources: tuple[str, ...]
    calm: np.ndarray
    shifted: np.ndarray

    @classmethod
    def from_named(cls, sources, calm: dict, shifted: dict) -> BlendRule:
        sources = tuple(sources)
        return cls(sources, _weights(sources, calm, "calm"), _weights(sources, shifted, "shifted"))

    def weights(self, calibrated) -> np.ndarray:
        c = np.clip(np.atleast_1d(np.asarray(calibrated, np.float64)), 0, 1)[:, None]
        return (1 - c) * self.calm + c * self.shifted

    def named(self) -> dict:
        return {
            "calm": dict(zip(self.sources, self.calm.round(6).tolist(), strict=True)),
            "shifted": dict(zip(self.sources, self.shifted.round(6).tolist(), strict=True)),
        }


def rank_items(
    probs: np.ndarray, weights: np.ndarray, seen: list[np.ndarray], k: int, names=ALL_SOURCES
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Top-k of the blend at each point: (item indices, blended scores, index of the source
    that contributed most to each). probs [S, n, I + 1] (column 0 padding), weights [n, S];
    padding and each point's `seen` items are never returned."""
    for j in range(len(probs)):
        if not np.isfinite(probs[j]).all():
            raise ValueError(f"source {names[j]!r} has non-finite scores")
    out = []
    for p in range(probs.shape[1]):
        parts = weights[p][:, None] * probs[:, p]  # [S, I + 1]
        total = parts.sum(0)
        total[0] = -np.inf
        total[np.asarray(seen[p], np.int64)] = -np.inf
        kk = min(k, int(np.isfinite(total).sum()))
        top = np.argpartition(-total, kk - 1)[:kk] if kk > 0 else np.zeros(0, np.int64)
        top = top[np.argsort(-total[top], kind="stable")]
        out.append((top, total[top], parts[:, top].argmax(0)))
    return out


@dataclass
class Blends:
    """The served blend (`served`: rule, gate or fixed) and the controls the benchmark
    compares it with, over `sources`."""

    sources: tuple[str, ...]
    fixed: np.ndarray
    rule: BlendRule
    served: str = "rule"
    gate: SourceGate | None = None
    gate_plain: SourceGate | None = None  # the same gate without the anomaly score
    recency_rule: BlendRule | None = None
    recency_calibrator: ScoreCalibrator | None = None

    def __post_init__(self) -> None:
        if self.served not in SERVED_BLENDS:
            raise ValueError(f"served blend must be one of {SERVED_BLENDS}, got {self.served!r}")
        if self.served == "gate" and self.gate is None:
            raise ValueError("the served blend is the gate, but no gate was fitted")

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "sources": list(self.sources),
            "served": self.served,
            "fixed": dict(zip(self.sources, self.fixed.round(6).tolist(), strict=True)),
            "rule": self.rule.named(),
            "recency_rule": self.recency_rule.named() if self.recency_rule else None,
            "recency_calibrator": (
                self.recency_calibrator.to_dict() if self.recency_calibrator else None
            ),
        }
        (path / "blend.json").write_text(json.dumps(meta, indent=2))
        for name in ("gate", "gate_plain"):
            gate = getattr(self, name)
            if gate is not None:
                gate.save(path / name)

    @classmethod
    def load(cls, path: str | Path, available: tuple[str, ...]) -> Blends:
        """Blends saved with `save`; a rule or blend that names a source the engine does not
        have (`available`) is an error here, not a silently dropped weight."""
        path = Path(path)
        meta = json.loads((path / "blend.json").read_text())
        sources = tuple(meta["sources"])
        missing = sorted(set(sources) - set(available))
        if missing:
            raise ValueError(
                f"{path / 'blend.json'} weighs source(s) {missing} that the engine does not "
                f"have (it has {list(available)})"
            )
        rec = meta.get("recency_rule")
        gates = {
            n: SourceGate.load(path / n) for n in ("gate", "gate_plain") if (path / n).exists()
        }
        return cls(
            sources,
            _weights(sources, meta["fixed"], "fixed"),
            BlendRule.from_named(sources, **meta["rule"]),
            meta["served"],
            gates.get("gate"),
            gates.get("gate_plain"),
            BlendRule.from_named(sources, **rec) if rec else None,
            ScoreCalibrator.from_dict(meta["recency_calibrator"])
            if meta.get("recency_calibrator")
            else None,
        )
