"""What the contract suite does not cover for the neural detectors: Deep SVDD's bias-free
network, the flow's exact change of variables, deterministic VAE scores, and separation of
shifted data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from adrec.detectors.neural import (
    DeepSVDDNet,
    RealNVP,
    VariationalAutoencoder,
    neural_detector_names,
)
from adrec.detectors.registry import detector_class

NEURAL = neural_detector_names()


def gaussian_rows(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix + 2.0).astype(np.float32)


def test_the_neural_family_is_registered():
    assert {"ae", "vae", "deep_svdd", "flow", "lstm_ae", "lstm_vae"} <= set(NEURAL)


def test_deep_svdd_has_no_bias_terms_and_a_centre_away_from_zero():
    torch.manual_seed(0)
    net = DeepSVDDNet(6, [16, 8], 4, eps=0.1)
    net.prepare(torch.from_numpy(gaussian_rows(100, 6, 0)))
    names = [name for name, _ in net.named_parameters()]
    assert names and all(name.endswith("weight") for name in names)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())
    assert (net.center.abs() >= 0.1 - 1e-7).all()
    assert "center" in net.state_dict()


def test_flow_inverts_and_its_log_det_is_the_jacobian():
    torch.manual_seed(0)
    flow = RealNVP(3, n_layers=4, hidden=8)
    for p in flow.parameters():  # away from the identity start
        torch.nn.init.normal_(p, std=0.3)
    flow.prepare(torch.from_numpy(gaussian_rows(50, 3, 1)))
    x = torch.from_numpy(gaussian_rows(5, 3, 2)).double()
    flow = flow.double()
    z, log_det = flow.to_latent(x)
    torch.testing.assert_close(flow.from_latent(z), x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda r: flow.to_latent(r[None])[0][0], x[i])
        assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)


def test_flow_density_integrates_to_one_in_2d():
    det = detector_class("flow")(n_layers=4, hidden=16, epochs=20, lr=1e-2, batch_size=64)
    det.fit(gaussian_rows(400, 2, 3))
    grid = np.linspace(-6, 10, 161)
    xx, yy = np.meshgrid(grid, grid)
    pts = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    density = np.exp(-det.decision_function(pts))
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    assert mass == pytest.approx(1.0, abs=0.05)


def test_vae_scores_are_deterministic_but_training_loss_samples():
    torch.manual_seed(0)
    vae = VariationalAutoencoder(4, [8], 2)
    x = torch.from_numpy(gaussian_rows(20, 4, 4))
    torch.testing.assert_close(vae.score(x), vae.score(x), rtol=0, atol=0)
    assert not torch.equal(vae(x), vae(x))


@pytest.mark.parametrize("name", NEURAL)
def test_neural_detectors_separate_a_shift(name):
    cls = detector_class(name)
    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    if cls.input_ndim == 3:
        base = rng.normal(size=(600, 6, 4)).astype(np.float32)
        shifted = base[:100].copy()
        shifted[:, :, :2] += 3.0
    else:
        base = gaussian_rows(600, 8, 5)
        shifted = base[:100].copy()
        shifted[:, :3] += 3.0
    det = cls(**cls.get_test_params()).fit(base[:400], base[400:500])
    normal = det.decision_function(base[500:])
    labels = np.r_[np.zeros(len(normal)), np.ones(100)]
    assert roc_auc_score(labels, np.r_[normal, det.decision_function(shifted)]) > 0.9


def test_adopting_a_trained_module_gives_the_same_scores():
    x = gaussian_rows(200, 5, 6)
    ae = detector_class("ae")
    det = ae(**ae.get_test_params()).fit(x, x)
    other = ae(**det.get_params()).use_module(det.module_).calibrate(x)
    np.testing.assert_array_equal(other.decision_function(x), det.decision_function(x))
    assert other.threshold_ == det.threshold_
