"""The bench's long-term model through Ray Train (--trainer ray): two DDP workers over a Ray
Data dataset of training sequences learn a repeated item pattern, as SASRec under the full
softmax and as GRU4Rec under the sampled one."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from adrec.bench.recommend import BenchConfig, long_term_trainer
from adrec.bench.recommend_sources import next_item_probs
from adrec.data.splits import leave_last_out
from adrec.recommender.models import build_sequence_model
from adrec.recommender.next_item import next_item_loss
from adrec.recommender.sequences import training_examples

PATTERN = np.array([3, 7, 1, 9, 4, 6])
N_ITEMS = 12


def _pattern_ratings(n_users: int = 64, length: int = 30) -> pd.DataFrame:
    rows = []
    for u in range(1, n_users + 1):
        for t in range(length):
            rows.append((u, int(PATTERN[(u + t) % len(PATTERN)]), 4.0, 1_000 * u + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def _loss(model: torch.nn.Module, sequences: list[np.ndarray], max_len: int) -> float:
    ex = [training_examples(s, max_len) for s in sequences]
    batch = {k: torch.as_tensor(np.concatenate([e[k] for e in ex])) for k in ("input", "target")}
    with torch.no_grad():
        return float(next_item_loss(model.eval(), batch))


@pytest.mark.parametrize(("kind", "loss"), [("sasrec", "full"), ("gru4rec", "sampled")])
def test_ray_trainer_learns_the_repeated_pattern(ray_cluster, kind, loss):
    cfg = dataclasses.replace(
        BenchConfig(), trainer="ray", max_len=8, dim=16, n_layers=1, dropout=0.0, epochs=8,
        batch_size=32, lr=1e-2, sequence_model=kind, loss=loss, sampled_negatives=4,
    )  # fmt: skip
    split = leave_last_out(_pattern_ratings())
    model = long_term_trainer(cfg)(split.train, N_ITEMS, cfg, 0)
    assert not model.training

    torch.manual_seed(0)  # the same initialisation the workers start from
    untrained = build_sequence_model(kind, N_ITEMS, cfg.max_len, cfg.dim, cfg.n_layers, 0.0)
    before, after = (
        _loss(untrained, split.train, cfg.max_len),
        _loss(model, split.train, cfg.max_len),
    )
    assert type(model) is type(untrained) and after < 0.5 * before

    probs = next_item_probs(model, split.test.histories)
    expected = [PATTERN[(np.flatnonzero(PATTERN == h[-1])[0] + 1) % len(PATTERN)]
                for h in split.test.histories]  # fmt: skip
    np.testing.assert_array_equal(probs.argmax(1), expected)
    np.testing.assert_array_equal(split.test.targets, expected)
