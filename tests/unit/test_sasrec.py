"""SASRec, its loss, left padding, and the sequence examples it trains on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from adrec.recommender.next_item import next_item_loss
from adrec.recommender.sasrec import SASRec, left_pad
from adrec.recommender.sequences import item_histories, training_examples

N_ITEMS, MAX_LEN, DIM = 12, 8, 16


def tiny_model(seed: int = 0, dropout: float = 0.0, **kw) -> SASRec:
    torch.manual_seed(seed)
    args = {"n_items": N_ITEMS, "max_len": MAX_LEN, "dim": DIM, "n_layers": 1, "n_heads": 2}
    return SASRec(**{**args, **kw}, dropout=dropout)


def test_forward_shape():
    model = tiny_model().eval()
    seq = torch.tensor([[0, 0, 0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7, 8]])
    assert model(seq).shape == (2, MAX_LEN, DIM)
    # Shorter sequences than max_len are allowed.
    assert model(seq[:, -3:]).shape == (2, 3, DIM)


def test_too_long_sequences_are_rejected():
    model = tiny_model()
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, MAX_LEN + 1, dtype=torch.long))


@pytest.mark.parametrize(
    "seq",
    [
        [0] * MAX_LEN,  # all padding
        [0] * (MAX_LEN - 1) + [5],  # one item
        list(range(1, MAX_LEN + 1)),  # full
    ],
)
@pytest.mark.parametrize("train", [False, True])
def test_full_sort_predict_masks_padding_and_has_no_nan(seq, train):
    model = tiny_model(dropout=0.2)
    model.train(train)
    with torch.no_grad():
        out = model.full_sort_predict(torch.tensor([seq]))
    assert out.shape == (1, N_ITEMS + 1)
    assert out[0, 0].item() == float("-inf")
    assert torch.isfinite(out[0, 1:]).all()
    probs = torch.softmax(out, -1)
    assert not torch.isnan(probs).any() and probs[0, 0] == 0


def test_attention_is_causal():
    model = tiny_model().eval()
    a = torch.tensor([[0, 0, 3, 1, 4, 1, 5, 9]])
    b = a.clone()
    b[0, -1] = 2  # change the latest item
    c = a.clone()
    c[0, 4] = 7  # change a middle item
    with torch.no_grad():
        ha, hb, hc = model(a), model(b), model(c)
    torch.testing.assert_close(ha[:, :-1], hb[:, :-1], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ha[:, -1], hb[:, -1])
    torch.testing.assert_close(ha[:, :4], hc[:, :4], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ha[:, 4:], hc[:, 4:])


def test_padding_items_do_not_leak_into_real_positions():
    """The padding embedding is zero and masked: its weight row never changes the output."""
    model = tiny_model().eval()
    seq = torch.tensor([[0, 0, 0, 2, 4, 6, 8, 10]])
    with torch.no_grad():
        before = model(seq)
        model.item_emb.weight[0].normal_()
        after = model(seq)
    torch.testing.assert_close(before[:, 3:], after[:, 3:])


def test_next_item_loss_is_finite_and_near_log_n_at_init():
    model = tiny_model()
    inp = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8]])
    tgt = torch.tensor([[0, 0, 2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 6, 7, 8, 9]])
    loss = next_item_loss(model, {"input": inp, "target": tgt})
    assert loss.ndim == 0 and math.isfinite(loss.item())
    assert abs(loss.item() - math.log(N_ITEMS + 1)) < 1.0
    loss.backward()
    assert model.item_emb.weight.grad is not None
    assert torch.isfinite(model.item_emb.weight.grad).all()


def test_next_item_loss_ignores_positions_without_target():
    model = tiny_model().eval()
    inp = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 6]])
    tgt = torch.tensor([[0, 0, 2, 3, 4, 5, 6, 7]])
    loss = next_item_loss(model, {"input": inp, "target": tgt})
    with torch.no_grad():
        logits = model.item_logits(model(inp))[0, 2:]
    expected = F.cross_entropy(logits, tgt[0, 2:])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_learns_a_deterministic_cycle():
    n = 8
    model = tiny_model(n_items=n, dim=32)
    cycle = np.arange(1, n + 1)
    seqs = np.stack([np.roll(cycle, -s)[np.arange(MAX_LEN + 1) % n] for s in range(n)])
    batch = {"input": torch.tensor(seqs[:, :-1]), "target": torch.tensor(seqs[:, 1:])}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        model.train()
        opt.zero_grad()
        loss = next_item_loss(model, batch)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first
    model.eval()
    with torch.no_grad():
        top1 = model.item_logits(model(batch["input"])).argmax(-1)
        assert (top1 == batch["target"]).float().mean() > 0.9
        # From a short, left-padded prefix too: after ... 3, 4 comes 5.
        nxt = model.full_sort_predict(left_pad([2, 3, 4], MAX_LEN)[None]).argmax(-1)
    assert nxt.item() == 5


def test_left_pad():
    out = left_pad([1, 2, 3], 5)
    assert out.dtype == torch.long
    assert out.tolist() == [0, 0, 1, 2, 3]
    assert left_pad(np.arange(1, 11), 4).tolist() == [7, 8, 9, 10]
    assert left_pad([], 3).tolist() == [0, 0, 0]
    assert left_pad(torch.tensor([4, 5]), 2).tolist() == [4, 5]


@pytest.mark.parametrize("length", [2, 3, 8, 9, 10, 17, 30])
def test_training_examples_cover_every_pair_once(length):
    max_len = 8
    items = np.arange(101, 101 + length)
    ex = training_examples(items, max_len)
    inp, tgt = ex["input"], ex["target"]
    assert inp.shape == tgt.shape and inp.shape[1] == max_len
    assert inp.dtype == np.int64 and tgt.dtype == np.int64
    real = inp > 0
    pairs = list(zip(inp[real].tolist(), tgt[real].tolist(), strict=True))
    expected = list(zip(items[:-1].tolist(), items[1:].tolist(), strict=True))
    assert sorted(pairs) == expected  # every consecutive pair, exactly once
    for row_in, row_tgt in zip(inp, tgt, strict=True):
        # Padding is on the left: after the first real item, no zero.
        nz = np.flatnonzero(row_in)
        assert len(nz) and (row_in[nz[0] :] > 0).all()
        # At real positions, targets are the inputs shifted by one.
        real_pos = row_in[:-1] > 0
        np.testing.assert_array_equal(row_tgt[:-1][real_pos], row_in[1:][real_pos])
    # The first row holds the most recent items.
    assert tgt[0, -1] == items[-1]


def test_padding_positions_have_no_target():
    """next_item_loss trains 'at every non-padding position' and keeps positions whose
    target is > 0, so a padding input position must carry target 0."""
    for length in (3, 8, 12):
        ex = training_examples(np.arange(1, length + 1), 8)
        pad = ex["input"] == 0
        assert (ex["target"][pad] == 0).all(), (length, ex)


@pytest.mark.parametrize("items", [[], [5]])
def test_training_examples_need_two_items(items):
    ex = training_examples(np.array(items, dtype=np.int64), 6)
    assert ex["input"].shape == (0, 6) and ex["target"].shape == (0, 6)


def test_item_histories_order_by_time_with_stable_ties():
    ts = pd.to_datetime(
        [
            "2026-01-02 10:00:00",
            "2026-01-01 09:00:00",
            "2026-01-02 10:00:00",  # tie with the first row: log order decides
            "2026-01-01 08:00:00",
            "2026-01-03 00:00:00",
        ]
    )
    events = pd.DataFrame(
        {"user_id": [2, 1, 2, 2, 1], "timestamp": ts, "item_id": [30, 11, 31, 29, 12]}
    )
    hist = item_histories(events)
    assert set(hist) == {1, 2}
    assert hist[1].tolist() == [11, 12]
    assert hist[2].tolist() == [29, 30, 31]
    assert hist[2].dtype == np.int64
    swapped = events.iloc[[2, 1, 0, 3, 4]]
    assert item_histories(swapped)[2].tolist() == [29, 31, 30]
