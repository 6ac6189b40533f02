"""The shared pieces of the image detectors (adrec.components), against brute force or
scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.covariance import LedoitWolf

from adrec.components import (
    AnomalyMap,
    FeatureExtractor,
    GaussianDensity,
    MemoryBank,
    fit_gaussian,
    greedy_coreset,
    knn_distances,
)
from adrec.components import knn as knn_module

WEIGHTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "weights"
WEIGHTS = WEIGHTS / "mobilenet_v2_features_imagenet.pth"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def brute_force(q, b, k):
    d = torch.cdist(q.double(), b.double())
    return d.topk(k, largest=False)


@pytest.mark.parametrize("max_block", [50, 700, 1 << 22])
def test_knn_equals_brute_force_in_any_blocking(max_block):
    gen = torch.Generator().manual_seed(0)
    q, b = torch.randn(90, 12, generator=gen), torch.randn(300, 12, generator=gen)
    d, i = knn_distances(q, b, 3, max_block)
    dd, ii = brute_force(q, b, 3)
    np.testing.assert_allclose(d.numpy(), dd.numpy(), atol=1e-5)
    assert torch.equal(i, ii)
    assert d.dtype == torch.float32 and i.dtype == torch.long


def test_knn_never_builds_more_than_its_block(monkeypatch):
    """The largest distance block is about max_block entries, not queries x bank."""
    sizes = []
    real_topk = torch.Tensor.topk

    def spy(self, *args, **kwargs):
        sizes.append(self.numel())
        return real_topk(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "topk", spy)
    q, b = torch.randn(400, 8), torch.randn(2000, 8)
    knn_distances(q, b, 1, max_block=10_000)
    assert max(sizes) <= 10_000 < 400 * 2000


def test_knn_caps_k_and_rejects_bad_banks():
    q, b = torch.randn(4, 3), torch.randn(2, 3)
    d, i = knn_distances(q, b, 5)
    assert d.shape == (4, 2) and sorted(i[0].tolist()) == [0, 1]
    with pytest.raises(ValueError, match="empty"):
        knn_distances(q, b[:0])
    with pytest.raises(ValueError, match="width"):
        knn_distances(q, torch.randn(5, 4))


def test_a_row_scores_the_same_alone_or_in_a_batch():
    gen = torch.Generator().manual_seed(1)
    b = torch.randn(500, 32, generator=gen)
    q = b[:40] + 1e-4 * torch.randn(40, 32, generator=gen)  # tiny distances round worst
    together = knn_distances(q, b, 1)[0]
    alone = torch.cat([knn_distances(q[j : j + 1], b, 1)[0] for j in range(40)])
    assert torch.equal(together, alone)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_knn_scripts_for_torchscript():
    scripted = torch.jit.script(knn_module.knn_distances)
    q, b = torch.randn(10, 4), torch.randn(30, 4)
    assert torch.equal(scripted(q, b, 2)[1], knn_distances(q, b, 2)[1])


def test_greedy_coreset_picks_the_farthest_row_each_time():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    idx = greedy_coreset(x, 15, seed=3)  # no projection: 5 <= 128 dimensions
    assert len(set(idx.tolist())) == 15
    for j in range(1, 15):
        nearest = torch.cdist(x, x[idx[:j]]).amin(1)
        assert int(nearest.argmax()) == int(idx[j])
    assert torch.equal(idx, greedy_coreset(x, 15, seed=3))
    assert not torch.equal(idx, greedy_coreset(x, 15, seed=4))  # another start
    assert torch.equal(greedy_coreset(x, 500, seed=0), torch.arange(200))
    with pytest.raises(ValueError):
        greedy_coreset(x, 0, seed=0)


def test_coreset_covers_clusters_a_random_sample_misses():
    """Ten tight clusters of very different sizes: 10 coreset rows hit every cluster."""
    gen = torch.Generator().manual_seed(0)
    centres = 20 * torch.randn(10, 3, generator=gen)
    sizes = [1000] + [2] * 9
    x = torch.cat(
        [c + 0.01 * torch.randn(n, 3, generator=gen) for c, n in zip(centres, sizes, strict=True)]
    )
    labels = torch.repeat_interleave(torch.arange(10), torch.tensor(sizes))
    assert set(labels[greedy_coreset(x, 10, seed=0)].tolist()) == set(range(10))


def test_memory_bank_saves_its_rows_and_answers_queries():
    bank = MemoryBank(4).fill(torch.eye(4))
    assert bank.state_dict()["bank"].shape == (4, 4)
    d = bank(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 3]]))
    np.testing.assert_allclose(d[:, 0].numpy(), [0.0, 2.0], atol=1e-6)
    with pytest.raises(ValueError, match="bank rows"):
        bank.fill(torch.zeros(3, 5))


def test_ledoit_wolf_matches_scikit_learn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8))
    mean, precision = fit_gaussian(torch.from_numpy(x), "ledoit_wolf")
    lw = LedoitWolf().fit(x)
    np.testing.assert_allclose(mean.numpy(), lw.location_, atol=1e-10)
    np.testing.assert_allclose(precision.numpy(), lw.precision_, rtol=1e-6, atol=1e-8)


def test_gaussians_per_position_score_mahalanobis_distances():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(3, 40, 4)))  # three positions
    density = GaussianDensity(4, (3,)).fit(x, "ridge", eps=0.01)
    query = torch.from_numpy(rng.normal(size=(3, 5, 4)))
    got = density(query)
    for p in range(3):
        cov = np.cov(x[p].numpy().T) + 0.01 * np.eye(4)
        diff = query[p].numpy() - x[p].numpy().mean(0)
        expected = np.sqrt(np.einsum("nd,de,ne->n", diff, np.linalg.inv(cov), diff))
        np.testing.assert_allclose(got[p].numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="shrinkage"):
        fit_gaussian(x, "none")
    with pytest.raises(ValueError, match="2 rows"):
        fit_gaussian(x[:, :1])


def test_anomaly_map_upsamples_and_smooths_around_the_peak():
    scores = torch.zeros(1, 7, 7)
    scores[0, 2, 5] = 1.0
    out = AnomalyMap((224, 224))(scores)
    assert out.shape == (1, 224, 224)
    y, x = divmod(int(out[0].argmax()), 224)
    assert abs(y - 80) <= 16 and abs(x - 176) <= 16  # cell (2, 5) of 32-pixel cells
    assert out.max() < 1.0 and out.min() >= 0  # smoothed, not sharpened
    flat = AnomalyMap((16, 24))(torch.full((2, 2, 3), 0.5))
    torch.testing.assert_close(flat, torch.full((2, 16, 24), 0.5))  # sigma < 0.5: no blur


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "resnet18"])
def test_feature_extractor_shapes_and_frozen_statistics(backbone):
    ext = FeatureExtractor(backbone, pooled=True, seed=0)
    x = torch.randn(2, 3, 64, 48)
    patches, pooled = ext(x)
    assert patches.shape == (2, ext.patch_channels, 8, 6)
    assert pooled.shape == (2, ext.pooled_channels) and ext.pooled_channels > 0
    assert [m.shape[1] for m in ext.stage_maps(x)] == ext.stage_channels
    ext.train()  # a frozen extractor stays in eval mode, with frozen weights
    assert not ext.training and not any(p.requires_grad for p in ext.parameters())
    assert ext(x)[1].shape[1] == ext.pooled_channels
    assert FeatureExtractor(backbone)(x)[1].shape == (2, 0)  # no pooled stage asked for
    trainable = FeatureExtractor(backbone, frozen=False).train()
    assert trainable.training and all(p.requires_grad for p in trainable.parameters())


def test_feature_extractor_weights_seed_and_errors():
    a, b = FeatureExtractor(seed=1), FeatureExtractor(seed=1)
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(a(x)[0], b(x)[0])
    assert not torch.equal(FeatureExtractor(seed=2)(x)[0], a(x)[0])
    pretrained = FeatureExtractor("mobilenet_v2", WEIGHTS)
    first = pretrained.stages[0][0][0].weight
    expected = torch.load(WEIGHTS, weights_only=True)["0.0.weight"]
    assert torch.equal(first, expected)
    with pytest.raises(FileNotFoundError, match="no backbone weights"):
        FeatureExtractor("mobilenet_v2", "nowhere.pth")
    with pytest.raises(ValueError, match="backbone must be one of"):
        FeatureExtractor("vgg16")
