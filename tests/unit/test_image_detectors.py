"""The image detectors beyond the shared contract (test_detector_contract.py): real
photographs (../shared/data/hazelnut-toy) with the offline ImageNet MobileNetV2, and each
method's own mechanics on small synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from adrec.base import NotFittedError
from adrec.data.images import load_mvtec_category
from adrec.detectors import detector_class, detector_names, load_detector

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HAZELNUT = DATA / "hazelnut-toy"
WEIGHTS = DATA / "weights" / "mobilenet_v2_features_imagenet.pth"
SIZE = 112  # a quarter of the usual 224 pixels keeps the test to seconds
IMAGE = detector_names("image")
MAPS = [n for n in IMAGE if detector_class(n).has_maps]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def hazelnut():
    return load_mvtec_category(HAZELNUT, SIZE)


def small(name: str, **overrides):
    cls = detector_class(name)
    return cls(**{**cls.get_test_params(), **overrides})


def blobs(n: int, size: int = 16, seed: int = 0, defect: bool = False) -> np.ndarray:
    """Smooth random images; with `defect`, a bright 4x4 square at a random place."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.normal(size=(n, 3, 4, 4)).astype(np.float32))
    x = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear").numpy()
    if defect:
        for img in x:
            y0, x0 = rng.integers(0, size - 4, 2)
            img[:, y0 : y0 + 4, x0 : x0 + 4] = 4.0
    return x


PRETRAINED = {
    "padim": {},
    "patchcore": {},
    "spade": {},
    "fastflow": {"epochs": 2, "n_steps": 4},
    "cutpaste": {"epochs": 2, "patch_size": 32},
}


@pytest.mark.parametrize("name", PRETRAINED)
def test_pretrained_detectors_find_the_painted_defects(hazelnut, name, tmp_path):
    det = detector_class(name)(weights=WEIGHTS, **PRETRAINED[name]).fit(hazelnut.train)
    scores, maps = det.score_and_map(hazelnut.test)
    assert roc_auc_score(hazelnut.labels, scores) >= 0.95
    assert maps.shape == hazelnut.masks.shape
    assert roc_auc_score(hazelnut.masks.ravel(), maps.ravel()) >= 0.9  # pixel level
    loaded = load_detector(det.save(tmp_path / name))  # the backbone travels with it
    np.testing.assert_allclose(loaded.decision_function(hazelnut.test[:3]), scores[:3], rtol=1e-5)


def test_missing_weights_grey_images_and_unfitted_maps_are_clear_errors(hazelnut):
    with pytest.raises(FileNotFoundError, match="no backbone weights"):
        detector_class("padim")(weights="nowhere.pth").fit(hazelnut.train)
    with pytest.raises(ValueError, match="3 channels"):
        detector_class("padim")().fit(hazelnut.train[:, :1])
    with pytest.raises(ValueError, match="n_channels"):
        detector_class("padim")(n_channels=0).fit(hazelnut.train)
    with pytest.raises(NotFittedError):
        detector_class("patchcore")().anomaly_map(hazelnut.test[:1])


@pytest.fixture(scope="module")
def fitted_small():
    """Every image detector fitted on 40 small normal images (test parameters)."""
    torch.set_num_threads(1)
    x = blobs(40)
    return {name: small(name).fit(x[:30], x[30:]) for name in IMAGE}


@pytest.mark.parametrize("name", IMAGE)
def test_scores_maps_and_sizes(fitted_small, name):
    det = fitted_small[name]
    x = blobs(5, seed=1, defect=True)
    scores = det.decision_function(x)
    if det.has_maps:
        same, maps = det.score_and_map(x)
        np.testing.assert_allclose(same, scores, rtol=1e-5)
        assert maps.shape == (5, 16, 16) and np.isfinite(maps).all()
        np.testing.assert_allclose(det.anomaly_map(x), maps, rtol=1e-5)
    else:
        with pytest.raises(NotImplementedError, match="image scores only"):
            det.anomaly_map(x)
    with pytest.raises(ValueError, match="fitted on 16x16"):
        det.decision_function(blobs(2, size=24)[:, :, :, :16])


@pytest.mark.parametrize("name", [n for n in MAPS if n != "cutpaste"])
def test_maps_point_at_a_planted_defect(name):
    """A bright square (a quarter of the side) on smooth images: its pixels score higher
    than the rest. The feature-memory methods see 64 px images: at 32 px PatchCore's 3 x 3
    neighbourhood of stride-8 cells spans most of the image. (CutPaste maps at stride 16:
    its maps are tested on the photographs above.)"""
    cls = detector_class(name)
    params = {"epochs": 20} if "epochs" in cls().get_params() else {}
    if "weights" in cls().get_params():
        params["weights"] = WEIGHTS
    if name == "anogan":
        params["search_steps"] = 30
    size = 64 if "epochs" not in params else 32
    det = small(name, **params).fit(blobs(60, size=size))
    rng = np.random.default_rng(5)
    x = blobs(6, size=size, seed=5)
    masks = np.zeros((6, size, size), bool)
    side = size // 4
    for img, mask in zip(x, masks, strict=True):
        y0, x0 = rng.integers(4, size - side - 4, 2)
        img[:, y0 : y0 + side, x0 : x0 + side] = 4.0
        mask[y0 : y0 + side, x0 : x0 + side] = True
    assert roc_auc_score(masks.ravel(), det.anomaly_map(x).ravel()) > 0.8


def test_patchcore_bank_is_the_coreset_share_of_patches():
    x = blobs(10, size=32)  # 4 x 4 patches per image at stride 8: 160 patches
    assert small("patchcore", coreset_ratio=0.25).fit(x).model_.memory.bank.shape[0] == 40
    assert (
        small("patchcore", coreset_ratio=1.0, max_bank=50).fit(x).model_.memory.bank.shape[0] == 50
    )
    with pytest.raises(ValueError, match="coreset_ratio"):
        small("patchcore", coreset_ratio=0).fit(x)


def test_spade_training_images_leave_themselves_out():
    x = blobs(12)
    det = small("spade", n_neighbors=3)
    det.fit(x)
    patches, pooled = det.extract(x)
    own = det.model_.score_features(patches, pooled).numpy()  # each its own neighbour
    loo = det._training_feature_scores(patches, pooled)
    assert (own < loo).all()  # itself at distance 0 drags the mean down
    gallery = det.model_.gallery_pooled
    for j in (0, 7):
        others = torch.cat([gallery[:j], gallery[j + 1 :]])
        expected = torch.cdist(pooled[j : j + 1], others).topk(3, largest=False).values.mean()
        assert loo[j] == pytest.approx(float(expected), rel=1e-5)


def test_reconstruction_training_lowers_its_loss():
    det = small("conv_ae", epochs=15).fit(blobs(60))
    assert det.train_losses_[-1] < 0.8 * det.train_losses_[0]


def test_decoder_restores_odd_image_sizes():
    from adrec.detectors.image.models.conv import ConvAutoencoder

    ae = ConvAutoencoder((3, 37, 29), base=4, latent=3)
    assert ae.score_and_map(torch.randn(2, 3, 37, 29))[1].shape == (2, 37, 29)


def test_anogan_search_lowers_the_score_it_reports():
    det = small("anogan", epochs=5, search_steps=0).fit(blobs(60))
    x = blobs(8, seed=2)
    start, start_maps = det.score_and_map(x)
    # no search: z* is the fixed start, and the score is
    # (1 - lambda) * mean |x - G(z)| + lambda * mean |f(x) - f(G(z))|, the map |x - G(z)|
    model = det.model_
    with torch.no_grad():
        z = model.normalize(torch.from_numpy(x))
        fake = model.generator(model.z_start.expand(8, -1))
        residual = (z - fake).abs()
        disc = (model.discriminator.features(z) - model.discriminator.features(fake)).abs()
    expected = 0.9 * residual.flatten(1).mean(1) + 0.1 * disc.mean(1)
    np.testing.assert_allclose(start, expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(start_maps, residual.mean(1).numpy(), rtol=1e-5, atol=1e-6)
    model.search_steps = 40
    assert (det.decision_function(x) < start).mean() >= 0.75


def test_cut_paste_and_scar_change_one_rectangle():
    from adrec.detectors.image.models.cutpaste import cut_paste, cutpaste_batch, scar

    gen = torch.Generator().manual_seed(0)
    crop, source = torch.zeros(3, 32, 32), torch.ones(3, 64, 64)
    for _ in range(20):
        pasted = cut_paste(crop, source, gen)
        changed = (pasted != 0).any(0)
        rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert changed.sum() == h * w  # one filled rectangle
        assert 0.01 * 32 * 32 <= h * w <= 0.2 * 32 * 32
        strip = (scar(crop, source, gen) != 0).any(0)
        assert 0 < strip.sum() and min(strip.any(1).sum(), strip.any(0).sum()) <= 8
    assert (crop == 0).all()  # the input is not modified
    crops, labels = cutpaste_batch(torch.randn(4, 3, 40, 40), 16, gen)
    assert crops.shape == (12, 3, 16, 16) and labels.tolist() == [0, 1, 2] * 4


def test_fastflow_coupling_log_det_is_the_jacobian_determinant():
    from adrec.detectors.image.models.fastflow import Coupling

    torch.manual_seed(0)
    step = Coupling(4, hidden_ratio=1.0, kernel=3)
    torch.nn.init.normal_(step.net[-1].weight, std=0.3)  # away from the identity start
    x = torch.randn(1, 4, 2, 2)
    jac = torch.autograd.functional.jacobian(lambda v: step(v.view(1, 4, 2, 2))[0].flatten(),
                                             x.flatten())  # fmt: skip
    with torch.no_grad():
        _, log_det = step(x)
    assert float(log_det) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-4)


def test_trainer_draws_depend_on_seed_rank_and_epoch_only():
    from adrec.detectors.image.base import Trainer

    trainer = Trainer(torch.nn.Linear(2, 2), 0.1, lambda m, b, g: m(b).sum(), seed=7)

    def draws(epoch, rank):
        trainer.start_epoch(epoch, rank)
        return torch.rand(3, generator=trainer.generator)

    assert torch.equal(draws(2, 0), draws(2, 0))
    assert not torch.equal(draws(2, 0), draws(2, 1))
    assert not torch.equal(draws(2, 0), draws(3, 0))


def test_trained_detectors_reject_bad_training_parameters():
    for name in ("conv_ae", "fastflow", "anogan"):
        with pytest.raises(ValueError, match="epochs"):
            small(name, epochs=0).fit(blobs(4))
    with pytest.raises(ValueError, match="lam"):
        small("anogan", lam=2.0).fit(blobs(4))
