"""GRU4Rec beside SASRec under one contract, and the sampled-softmax loss against the full one."""

from __future__ import annotations

import pytest
import torch

from adrec.recommender.gru4rec import GRU4Rec
from adrec.recommender.models import SEQUENCE_MODELS, build_sequence_model
from adrec.recommender.next_item import loss_function, next_item_loss, sampled_next_item_loss
from adrec.recommender.sasrec import left_pad
from adrec.training import train_one_epoch

N_ITEMS, MAX_LEN, DIM = 12, 8, 16


def _model(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_sequence_model(kind, N_ITEMS, MAX_LEN, DIM, n_layers=1, dropout=0.0)


def _pattern_batch() -> dict[str, torch.Tensor]:
    """Sequences of the cycle 1 -> 2 -> ... -> 6 -> 1, each row from another start."""
    rows = [[(s + j) % 6 + 1 for j in range(MAX_LEN + 1)] for s in range(6)]
    seq = torch.tensor(rows)
    return {"input": seq[:, :-1], "target": seq[:, 1:]}


def test_gru4rec_ignores_leading_padding_and_is_causal():
    model = _model("gru4rec").eval()
    short = left_pad([3, 4, 5], MAX_LEN)[None]
    with torch.no_grad():
        padded = model(short)[0, -3:]
        alone = model(torch.tensor([[3, 4, 5]]))[0]
        torch.testing.assert_close(padded, alone)  # padding leaves no trace
        a = model(torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]]))
        b = model(torch.tensor([[1, 2, 3, 4, 9, 9, 9, 9]]))
    torch.testing.assert_close(a[0, :4], b[0, :4])  # no position sees a later item
    assert not torch.allclose(a[0, 4], b[0, 4])
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, MAX_LEN + 1, dtype=torch.long))


@pytest.mark.parametrize("kind", sorted(SEQUENCE_MODELS))
@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_every_model_learns_a_cycle_under_either_loss(kind, loss):
    model, batch = _model(kind), _pattern_batch()
    fn = loss_function(loss, n_negatives=4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    with torch.no_grad():
        before = float(next_item_loss(model.eval(), batch))
    for _ in range(60):
        train_one_epoch(model, [batch], fn, opt)
    model.eval()
    with torch.no_grad():
        assert float(next_item_loss(model, batch)) < 0.3 * before
        nxt = model.full_sort_predict(left_pad([2, 3, 4], MAX_LEN)[None])
    assert nxt[0, 0] == float("-inf") and int(nxt.argmax()) == 5


@pytest.mark.parametrize("kind", sorted(SEQUENCE_MODELS))
def test_sampled_loss_never_exceeds_the_full_one_and_meets_it_over_the_catalogue(kind):
    model, batch = _model(kind).eval(), _pattern_batch()
    full = next_item_loss(model, batch)
    torch.manual_seed(1)
    few = sampled_next_item_loss(model, batch, n_negatives=3)
    assert few < full
    # With every item drawn many times, the target's own draws masked, the sampled partition
    # function holds each other item (repeated): the loss is at least the full one minus
    # log(repeats), so it approaches the full one from below.
    torch.manual_seed(2)
    many = sampled_next_item_loss(model, batch, n_negatives=2000)
    assert few < many
    assert sampled_next_item_loss(model, batch, n_negatives=1).requires_grad


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="loss must be one of"):
        loss_function("bpr")
    with pytest.raises(ValueError, match="n_negatives"):
        loss_function("sampled", 0)
    with pytest.raises(ValueError, match="model must be one of"):
        build_sequence_model("caser", N_ITEMS, MAX_LEN, DIM, 1, 0.0)
    assert isinstance(_model("gru4rec"), GRU4Rec)
