"""The long-term model's in-process fit: training windows, early stopping (best weights back,
patience, evaluation cadence), determinism, validation metrics, and SASRec's encoder
variants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from adrec.recommender import long_term
from adrec.recommender.long_term import (
    EarlyStopping,
    LongTermConfig,
    fit_long_term,
    next_item_probs,
    ranking_metrics,
    training_windows,
)
from adrec.recommender.sasrec import SASRec, left_pad
from adrec.recommender.sequences import training_examples

N_ITEMS = 12
PATTERN = np.array([3, 7, 1, 9, 4, 6])
TINY = LongTermConfig(
    max_len=8, dim=16, n_layers=1, n_heads=2, dropout=0.0, lr=1e-2, batch_size=16,
    max_epochs=6, patience=2,
)  # fmt: skip


def _pattern_split(n_users: int = 24, length: int = 14):
    """Each user walks PATTERN from another start: train on all but the last two items,
    validate on the one before the last."""
    seqs = [PATTERN[(u + np.arange(length)) % len(PATTERN)] for u in range(n_users)]
    train = [s[:-2] for s in seqs]
    return train, (train, np.array([s[-2] for s in seqs]))


@pytest.mark.parametrize("stride", [1, 3, 8, None])
@pytest.mark.parametrize("length", [2, 3, 8, 9, 10, 17, 30])
def test_training_windows_predict_every_item_once_with_enough_context(stride, length):
    max_len = 8
    items = np.arange(101, 101 + length)
    w = training_windows(items, max_len, stride)
    inp, tgt = w["input"], w["target"]
    assert inp.shape == tgt.shape and inp.shape[1] == max_len and inp.dtype == np.int64
    assert sorted(tgt[tgt > 0].tolist()) == items[1:].tolist()  # every target exactly once
    for row_in, row_tgt in zip(inp, tgt, strict=True):
        for pos in np.flatnonzero(row_tgt):
            # The input before a target is its true predecessor, with all context the window
            # can hold: at least max_len - stride items, or everything before it.
            assert row_in[pos] == row_tgt[pos] - 1
            context = int((row_in[: pos + 1] > 0).sum())
            need = min(row_tgt[pos] - 101, max_len - (stride or max_len) + 1)
            assert context >= need
    assert (tgt[inp == 0] == 0).all()  # no target at padding


@pytest.mark.parametrize("length", [2, 3, 8, 9, 17, 30])
def test_training_windows_without_stride_are_the_plain_chunks(length):
    items = np.arange(1, length + 1)
    w, ex = training_windows(items, 8), training_examples(items, 8)
    np.testing.assert_array_equal(w["input"], ex["input"])
    np.testing.assert_array_equal(w["target"], ex["target"])


def test_early_stopping_counts_evaluations_without_improvement():
    stopper = EarlyStopping(patience=2)
    assert stopper.update(1, 0.1) and stopper.update(2, 0.3)
    assert not stopper.update(3, 0.3) and not stopper.should_stop  # equal is no better
    assert not stopper.update(4, 0.2) and stopper.should_stop
    assert (stopper.best, stopper.best_epoch) == (0.3, 2)
    assert [r["epoch"] for r in stopper.curve] == [1, 2, 3, 4]
    again = EarlyStopping.from_dict(stopper.to_dict())
    assert again == stopper


def _scripted_scores(monkeypatch, scores: list[float]) -> list[dict]:
    """Replace validation by a script of scores; returns the weights seen at each call."""
    seen: list[dict] = []

    def fake(model, histories, targets, exclude_seen=True, k=10):
        seen.append({k_: v.clone() for k_, v in model.state_dict().items()})
        return {"ndcg@10": scores[len(seen) - 1], "hr@10": 0.0}

    monkeypatch.setattr(long_term, "ranking_metrics", fake)
    return seen


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_early_stopping_returns_the_best_epochs_weights(monkeypatch, ema_decay):
    """With ema_decay, the averaged weights are the ones evaluated and returned."""
    seen = _scripted_scores(monkeypatch, [0.1, 0.3, 0.2, 0.25, 0.9])
    train, valid = _pattern_split()
    cfg = dataclasses.replace(TINY, patience=2, max_epochs=10, ema_decay=ema_decay)
    model, info = fit_long_term(train, N_ITEMS, cfg, 0, valid=valid, log=lambda m: None)
    assert info["epochs_run"] == 4 and info["best_epoch"] == 2  # 2 evaluations after the best
    assert info["best_valid_ndcg@10"] == pytest.approx(0.3)
    assert [r["epoch"] for r in info["valid_curve"]] == [1, 2, 3, 4]
    assert len(seen) == 4 and info["train_seconds"] > 0
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, seen[1][name])  # epoch 2's weights, not epoch 4's
    assert not torch.equal(model.item_emb.weight, seen[3]["item_emb.weight"])
    assert not model.training and model.item_emb.weight.device.type == "cpu"


@pytest.mark.parametrize(
    ("eval_every", "max_epochs", "epochs"), [(1, 20, 4), (2, 20, 8), (3, 7, 7)]
)
def test_patience_and_evaluation_cadence(monkeypatch, eval_every, max_epochs, epochs):
    seen = _scripted_scores(monkeypatch, [0.5] + [0.1] * 10)
    train, valid = _pattern_split()
    cfg = dataclasses.replace(TINY, patience=3, eval_every=eval_every, max_epochs=max_epochs)
    _, info = fit_long_term(train, N_ITEMS, cfg, 0, valid=valid, log=lambda m: None)
    # Stops after 3 evaluations without improvement, or at max_epochs (always evaluated).
    assert info["epochs_run"] == epochs and info["best_epoch"] == eval_every
    expected = [e for e in range(1, epochs + 1) if e % eval_every == 0 or e == max_epochs]
    assert [r["epoch"] for r in info["valid_curve"]] == expected
    assert len(seen) == len(expected)


def test_averaged_weights_trail_the_trained_ones():
    train, _ = _pattern_split()
    cfg = dataclasses.replace(TINY, max_epochs=2)
    plain, _ = fit_long_term(train, N_ITEMS, cfg, 0)
    averaged, _ = fit_long_term(train, N_ITEMS, dataclasses.replace(cfg, ema_decay=0.5), 0)
    # The same steps (same seed): the averaged weights differ from the last ones, but not much.
    diff = (plain.item_emb.weight - averaged.item_emb.weight).abs()
    assert 0 < diff.max().item() < plain.item_emb.weight.abs().max().item()


def test_without_validation_it_trains_max_epochs(monkeypatch):
    seen = _scripted_scores(monkeypatch, [])
    train, _ = _pattern_split()
    _, info = fit_long_term(train, N_ITEMS, dataclasses.replace(TINY, max_epochs=3), 0)
    assert info["epochs_run"] == 3 and info["best_epoch"] == 3 and info["valid_curve"] == []
    assert info["best_valid_ndcg@10"] is None and not seen


def test_a_seed_makes_the_fit_deterministic():
    train, valid = _pattern_split()
    cfg = dataclasses.replace(TINY, dropout=0.3, max_epochs=3)
    fits = [
        fit_long_term(train, N_ITEMS, cfg, s, valid=valid, log=lambda m: None) for s in (1, 1, 2)
    ]
    (a, ia), (b, ib), (c, _) = fits
    for name, value in a.state_dict().items():
        torch.testing.assert_close(value, b.state_dict()[name], rtol=0, atol=0)

    def curve(info):
        return [(r["epoch"], r["valid_ndcg@10"], r["loss"]) for r in info["valid_curve"]]

    assert curve(ia) == curve(ib) and len(curve(ia)) == 3
    assert not torch.equal(a.item_emb.weight, c.item_emb.weight)


@pytest.mark.parametrize("kind", ["sasrec", "gru4rec"])
def test_it_learns_the_pattern_and_logs_each_evaluation(kind):
    train, valid = _pattern_split()
    lines: list[str] = []
    cfg = dataclasses.replace(TINY, kind=kind, max_epochs=12, patience=12)
    model, info = fit_long_term(train, N_ITEMS, cfg, 0, valid=valid, exclude_seen=False,
                                log=lines.append)  # fmt: skip
    assert info["best_valid_ndcg@10"] > 0.9 and len(lines) == info["epochs_run"]
    assert "valid NDCG@10" in lines[0]
    probs = next_item_probs(model, valid[0])
    np.testing.assert_array_equal(probs.argmax(1), valid[1])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


class _FixedScores(nn.Module):
    """A stand-in model whose next-item scores favour items 1, 2, 3 in that order."""

    max_len = 4

    def full_sort_predict(self, seq):
        scores = torch.zeros(len(seq), 6)
        scores[:, 1:4] = torch.tensor([3.0, 2.0, 1.0])
        scores[:, 0] = float("-inf")
        return scores


def test_validation_metrics_keep_or_exclude_seen_items():
    model = _FixedScores().train()
    histories, targets = [np.array([1, 5]), np.array([4])], np.array([2, 1])
    kept = ranking_metrics(model, histories, targets, exclude_seen=False)
    excluded = ranking_metrics(model, histories, targets, exclude_seen=True)
    # Kept: ranks 1 and 0. Excluded: user 0's seen item 1 leaves the list, so 2 ranks first.
    assert kept["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1) / 2)
    assert excluded["ndcg@10"] == pytest.approx(1.0)
    assert kept["hr@10"] == excluded["hr@10"] == 1.0
    assert model.training  # its mode is restored


def test_config_validates_names_and_sizes():
    with pytest.raises(ValueError, match="kind"):
        LongTermConfig(kind="caser")
    with pytest.raises(ValueError, match="loss"):
        LongTermConfig(loss="bpr")
    with pytest.raises(ValueError, match="stride"):
        LongTermConfig(max_len=8, stride=9)
    with pytest.raises(ValueError, match="patience"):
        LongTermConfig(patience=0)
    with pytest.raises(ValueError, match="ema_decay"):
        LongTermConfig(ema_decay=1.0)
    cfg = LongTermConfig(kind="gru4rec", max_len=7, dim=8, n_layers=1, dropout=0.1)
    assert cfg.model_config(5) == {"n_items": 5, "max_len": 7, "dim": 8, "n_layers": 1,
                                   "dropout": 0.1}  # fmt: skip
    assert set(LongTermConfig().model_config(5)) > {"ffn_dim", "norm_first", "n_heads"}


VARIANTS = [
    {},
    {"norm_first": False, "activation": "gelu", "ffn_dim": 32, "emb_scale": False},
    {"norm_first": False, "init_std": 0.02, "attn_dropout": 0.0},
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_encoder_variant_is_causal_and_ignores_padding(variant):
    torch.manual_seed(0)
    model = SASRec(N_ITEMS, max_len=8, dim=16, n_layers=2, n_heads=2, dropout=0.3, **variant)
    model.eval()
    a = torch.tensor([[0, 0, 3, 1, 4, 1, 5, 9]])
    b = a.clone()
    b[0, 5] = 7
    with torch.no_grad():
        ha, hb = model(a), model(b)
        torch.testing.assert_close(ha[:, :5], hb[:, :5], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(ha[:, 5:], hb[:, 5:])
        model.item_emb.weight[0].normal_()  # the padding row leaves no trace
        torch.testing.assert_close(model(a)[:, 2:], ha[:, 2:], rtol=1e-5, atol=1e-6)
        out = model.train().full_sort_predict(left_pad([0], 8)[None])
    assert torch.isfinite(out[0, 1:]).all()


def test_the_encoder_switches_change_the_layout():
    post = SASRec(N_ITEMS, 8, 16, 1, 2, 0.0, ffn_dim=48, norm_first=False, activation="gelu")
    pre = SASRec(N_ITEMS, 8, 16, 1, 2, 0.0)
    assert isinstance(post.norm, nn.Identity) and isinstance(post.emb_norm, nn.LayerNorm)
    assert isinstance(pre.norm, nn.LayerNorm) and isinstance(pre.emb_norm, nn.Identity)
    assert post.blocks[0].ffn_in.out_features == 48 and pre.blocks[0].ffn_in.out_features == 16
    with pytest.raises(ValueError, match="activation"):
        SASRec(N_ITEMS, activation="swish")
    init = SASRec(N_ITEMS, 8, 64, 1, 2, 0.0, init_std=0.02)
    assert init.blocks[0].qkv.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert init.blocks[0].qkv.bias.abs().max().item() == 0.0
