"""The long-term model through Ray Train (--trainer ray): two DDP workers over a Ray Data
dataset of training sequences learn a repeated item pattern, as GRU4Rec under the sampled
softmax. (SASRec under the full softmax, the default, learns the same pattern through the
same trainer in test_long_term_ray, with early stopping: one Ray Train run less.)"""

import numpy as np
import pandas as pd
import pytest
import torch

from adrec.bench.recommend import long_term_trainer
from adrec.data.interactions import build_interactions
from adrec.data.splits import split_last
from adrec.recommender.long_term import LongTermConfig, next_item_probs
from adrec.recommender.next_item import next_item_loss
from adrec.recommender.sequences import training_examples

PATTERN = np.array([3, 7, 1, 9, 4, 6])
N_ITEMS = 12


def _pattern_log(n_users: int = 64, length: int = 30):
    rows = [(u, int(PATTERN[(u + t) % len(PATTERN)]), 1_000 * u + t)
            for u in range(1, n_users + 1) for t in range(length)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    # every pattern item appears, so dense item index = raw id rank; map back for checking
    return build_interactions(frame)


def _loss(model: torch.nn.Module, sequences: list[np.ndarray], max_len: int) -> float:
    ex = [training_examples(s, max_len) for s in sequences]
    batch = {k: torch.as_tensor(np.concatenate([e[k] for e in ex])) for k in ("input", "target")}
    with torch.no_grad():
        return float(next_item_loss(model.eval(), batch))


@pytest.mark.parametrize(("kind", "loss"), [("gru4rec", "sampled")])
def test_ray_trainer_learns_the_repeated_pattern(ray_cluster, kind, loss):
    cfg = LongTermConfig(kind=kind, loss=loss, n_negatives=4, max_len=8, dim=16, n_layers=1,
                         dropout=0.0, max_epochs=8, batch_size=32, lr=1e-2,
                         stride=None)  # fmt: skip
    inter = _pattern_log()
    split = split_last(inter, 1)
    train = split.train_sequences(inter.item)
    model, info = long_term_trainer("ray")(train, inter.n_items, cfg, 0)
    assert not model.training and info["epochs_run"] >= 1

    torch.manual_seed(0)  # the same initialisation the workers start from
    untrained = cfg.build(inter.n_items)
    before, after = _loss(untrained, train, cfg.max_len), _loss(model, train, cfg.max_len)
    assert type(model) is type(untrained) and after < 0.5 * before

    histories = [inter.item[s:e] for s, e in zip(split.test.start, split.test.end, strict=True)]
    probs = next_item_probs(model, histories)
    np.testing.assert_array_equal(probs.argmax(1), split.test.target)
