"""The long-term model's fit on Ray Train (the default: SASRec, full softmax): two DDP workers
learn a repeated item pattern and stop together on validation NDCG@10, the best evaluation's
weights come back, and a second run with the same storage and name resumes from the last
checkpoint instead of training again."""

import numpy as np

from adrec.distributed.recommend_train import fit_long_term_on_ray
from adrec.recommender.long_term import LongTermConfig, next_item_probs, ranking_metrics

PATTERN = np.array([3, 7, 1, 9, 4, 6])
N_ITEMS = 12


def _pattern_split(n_users: int = 48, length: int = 20):
    seqs = [PATTERN[(u + np.arange(length)) % len(PATTERN)] for u in range(n_users)]
    train = [s[:-2] for s in seqs]
    return train, (train, np.array([s[-2] for s in seqs]))


def test_ray_fit_stops_early_returns_the_best_weights_and_resumes(ray_cluster, tmp_path):
    train, valid = _pattern_split()
    cfg = LongTermConfig(
        max_len=8, dim=16, n_layers=1, dropout=0.0, lr=1e-2, batch_size=32, max_epochs=40,
        patience=2, eval_every=2, stride=None,
    )  # fmt: skip
    lines: list[str] = []
    model, info = fit_long_term_on_ray(
        train, N_ITEMS, cfg, 0, valid=valid, exclude_seen=False, log=lines.append,
        storage=tmp_path, num_workers=2,
    )  # fmt: skip
    assert not model.training and type(model) is type(cfg.build(N_ITEMS))
    assert (cfg.kind, cfg.loss) == ("sasrec", "full")
    # The pattern is learnt fully (NDCG 1) long before 40 epochs; two evaluations after the
    # best one bring nothing better, and every worker stops there.
    assert info["best_valid_ndcg@10"] > 0.95
    assert info["epochs_run"] == info["best_epoch"] + cfg.patience * cfg.eval_every < 40
    assert [r["epoch"] for r in info["valid_curve"]] == list(range(2, info["epochs_run"] + 1, 2))
    assert info["resumed_from_epoch"] == 0 and info["train_seconds"] > 0
    # The returned weights are the best evaluation's: they score what it scored.
    again = ranking_metrics(model, valid[0], valid[1], exclude_seen=False)["ndcg@10"]
    assert abs(again - info["best_valid_ndcg@10"]) < 1e-9
    np.testing.assert_array_equal(next_item_probs(model, valid[0]).argmax(1), valid[1])
    assert sum("valid NDCG@10" in line for line in lines) == len(info["valid_curve"])

    lines.clear()
    resumed, info2 = fit_long_term_on_ray(
        train, N_ITEMS, cfg, 0, valid=valid, exclude_seen=False, log=lines.append,
        storage=tmp_path, num_workers=2,
    )  # fmt: skip
    assert info2["resumed_from_epoch"] == info["epochs_run"] == info2["epochs_run"]
    assert info2["best_epoch"] == info["best_epoch"] and info2["valid_curve"] == info["valid_curve"]
    assert any("resum" in line for line in lines)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name].numpy(), value.numpy())
