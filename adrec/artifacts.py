"""A run directory: everything a trained adrec model needs to be served, in safe formats.

    detector/            the behaviour detector (state.pt + detector.json)
    recommender/         SASRec weights (sasrec.pt) and its configuration (sasrec.json)
    window_spec.json     how behaviour windows are built (categories, day 0, window length)
    profiles.parquet     each user's normal (user_id, profile)
    histories.parquet    each user's item history up to the training cut (user_id, items)
    catalog.parquet      item_id, category, count (interactions in the training logs)
    metrics.json         training and evaluation results

Tensors are loaded with torch.load(weights_only=True); nothing is unpickled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from adrec.data.behavior import WindowSpec
from adrec.data.schema import category_codes
from adrec.detectors.registry import load_detector
from adrec.recommender.engine import AnomalyAwareRecommender
from adrec.recommender.sasrec import SASRec
from adrec.scoring import BehaviorScorer


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    detector = property(lambda self: self.root / "detector")
    recommender = property(lambda self: self.root / "recommender")
    spec = property(lambda self: self.root / "window_spec.json")
    profiles = property(lambda self: self.root / "profiles.parquet")
    histories = property(lambda self: self.root / "histories.parquet")
    catalog = property(lambda self: self.root / "catalog.parquet")
    metrics = property(lambda self: self.root / "metrics.json")

    def check(self) -> RunDir:
        needed = [
            self.detector,
            self.recommender,
            self.spec,
            self.profiles,
            self.histories,
            self.catalog,
        ]
        missing = [p.name for p in needed if not p.exists()]
        if missing:
            raise FileNotFoundError(f"run directory {self.root} lacks: {', '.join(missing)}")
        return self


def save_table(path: Path, mapping: dict[int, np.ndarray], column: str) -> None:
    frame = pd.DataFrame({"user_id": list(mapping), column: [v.tolist() for v in mapping.values()]})
    frame.to_parquet(path, index=False)


def load_table(path: Path, column: str, dtype) -> dict[int, np.ndarray]:
    frame = pd.read_parquet(path)
    return {
        int(u): np.asarray(v, dtype=dtype)
        for u, v in zip(frame["user_id"], frame[column], strict=True)
    }


def save_sasrec(model: SASRec, config: dict, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "sasrec.pt")
    (path / "sasrec.json").write_text(json.dumps(config, indent=2))


def load_sasrec(path: Path) -> SASRec:
    config = json.loads((path / "sasrec.json").read_text())
    model = SASRec(**config)
    model.load_state_dict(torch.load(path / "sasrec.pt", weights_only=True, map_location="cpu"))
    return model.eval()


def load_spec(run: RunDir) -> WindowSpec:
    return WindowSpec.from_dict(json.loads(run.spec.read_text()))


def load_scorer(root: str | Path) -> BehaviorScorer:
    run = RunDir(root).check()
    profiles = load_table(run.profiles, "profile", np.float64)
    return BehaviorScorer(load_detector(run.detector), load_spec(run), profiles)


def load_recommender(root: str | Path, **kwargs) -> AnomalyAwareRecommender:
    run = RunDir(root).check()
    spec = load_spec(run)
    catalog = pd.read_parquet(run.catalog)
    n = int(catalog["item_id"].max()) + 1
    item_category = np.full(n, -1, np.int64)
    codes = category_codes(catalog["category"], spec.categories)
    item_category[catalog["item_id"].to_numpy()] = codes
    counts = np.zeros(n)
    counts[catalog["item_id"].to_numpy()] = catalog["count"].to_numpy()
    return AnomalyAwareRecommender(
        load_sasrec(run.recommender),
        spec.categories,
        item_category,
        counts,
        load_table(run.histories, "items", np.int64),
        load_table(run.profiles, "profile", np.float64),
        **kwargs,
    )
