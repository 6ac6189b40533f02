"""train_one_epoch and minibatches (shared by in-process fits and Ray Train workers)."""

from __future__ import annotations

import math

import pytest
import torch

from adrec.training import minibatches, train_one_epoch


def _mse(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return (model(x) - y).pow(2).mean()


def _regression(n: int = 64):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([[2.0], [-1.0], [0.5]]) + 1.0
    return x, y


def test_no_batches_gives_nan_and_no_update():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert math.isnan(train_one_epoch(model, [], _mse, opt))
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q)


def test_returns_the_mean_batch_loss_and_sets_train_mode():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1).eval()
    x, y = _regression(8)
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    with torch.no_grad():
        first = _mse(model, batches[0]).item()
    # lr=0: the parameters stay put, so the mean is over losses of the same model.
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with torch.no_grad():
        second = _mse(model, batches[1]).item()
    loss = train_one_epoch(model, batches, _mse, opt)
    assert loss == pytest.approx((first + second) / 2, rel=1e-6)
    assert model.training


def test_loss_goes_down_on_a_tiny_regression():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _regression()
    gen = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(30):
        pairs = minibatches(torch.cat([x, y], dim=1), 16, gen)
        losses.append(train_one_epoch(model, [(b[:, :3], b[:, 3:]) for b in pairs], _mse, opt))
    assert losses[-1] < 0.2 * losses[0]
    assert all(math.isfinite(v) for v in losses)


def test_gradients_are_clipped():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x = torch.tensor([[1000.0]])
    y = torch.tensor([[1000.0 * 1000.0]])
    train_one_epoch(model, [(x, y)], _mse, opt, max_grad_norm=1.0)
    # Unclipped, the step would be about 2e9; clipped to norm 1 with lr 1 it is 1.
    assert abs(model.weight.item()) <= 1.0 + 1e-5


def test_minibatches_cover_every_row_once():
    x = torch.arange(23).unsqueeze(1)
    batches = minibatches(x, 5, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(torch.cat(batches).squeeze(1).tolist()) == list(range(23))
    again = minibatches(x, 5, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    other = minibatches(x, 5, torch.Generator().manual_seed(1))
    assert not all(torch.equal(a, b) for a, b in zip(batches, other, strict=True))
