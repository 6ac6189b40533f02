"""PaDiM and PatchCore exported to TorchScript: the saved file, loaded without adrec's
classes, scores and maps like the eager detector within 1e-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adrec.detectors import detector_class
from adrec.detectors.image.export import export_torchscript, load_torchscript

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def images(n, seed):
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.normal(size=(n, 3, 6, 6)).astype(np.float32))
    return torch.nn.functional.interpolate(coarse, size=(48, 48), mode="bilinear").numpy()


@pytest.mark.parametrize("name", ["padim", "patchcore"])
def test_torchscript_round_trip_scores_equal_eager_mode(name, tmp_path):
    torch.set_num_threads(1)
    det = detector_class(name)(**detector_class(name).get_test_params()).fit(images(30, 0))
    path = export_torchscript(det, tmp_path / f"{name}.pt")
    scripted = load_torchscript(path)
    test = images(9, 1)
    test[:3, :, 10:20, 10:20] = 3.0  # some anomalous
    scores, maps = scripted(torch.from_numpy(test))
    eager_scores, eager_maps = det.score_and_map(test)
    np.testing.assert_allclose(scores.numpy(), eager_scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maps.numpy(), eager_maps, rtol=1e-4, atol=1e-4)
    assert scores.shape == (9,) and maps.shape == (9, 48, 48)
    assert scores[:3].mean() > scores[3:].mean()  # not a constant: the defects score higher


def test_only_padim_and_patchcore_export():
    det = detector_class("conv_ae")(**detector_class("conv_ae").get_test_params())
    det.fit(images(8, 0))
    with pytest.raises(TypeError, match="supports"):
        export_torchscript(det, "unused.pt")
