"""The image detectors on real photographs (../shared/data/hazelnut-toy, MVTec layout) with the
offline ImageNet MobileNetV2, and the image-folder loader. The detector contract itself runs in
test_detector_contract.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from adrec.base import NotFittedError
from adrec.data.images import load_mvtec_category
from adrec.detectors import detector_class, load_detector

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HAZELNUT = DATA / "hazelnut-toy"
WEIGHTS = DATA / "weights" / "mobilenet_v2_features_imagenet.pth"
SIZE = 112  # a quarter of the usual 224 pixels keeps the test to seconds


@pytest.fixture(scope="module")
def hazelnut():
    return load_mvtec_category(HAZELNUT, SIZE)


def test_loader_reads_the_mvtec_layout(hazelnut):
    assert hazelnut.train.shape == (28, 3, SIZE, SIZE) and hazelnut.train.dtype == np.float32
    assert len(hazelnut.test) == 23 and hazelnut.labels.sum() == 17  # 6 good, 17 colour
    good = hazelnut.labels == 0
    assert not hazelnut.masks[good].any() and all(m.any() for m in hazelnut.masks[~good])
    # ImageNet normalisation: pixels of [0, 1] images land around [-2.1, 2.6]
    assert -2.2 < hazelnut.train.min() and hazelnut.train.max() < 2.7


def test_loader_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="MVTec AD layout"):
        load_mvtec_category(tmp_path)
    for sub in ("train/good", "test/scratch"):
        (tmp_path / sub).mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train/good/0.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "test/scratch/3.png")
    with pytest.raises(FileNotFoundError, match="no mask for scratch/3.png"):
        load_mvtec_category(tmp_path, 8)
    (tmp_path / "ground_truth/scratch").mkdir(parents=True)
    Image.new("L", (8, 8), 255).save(tmp_path / "ground_truth/scratch/3_mask.png")
    assert load_mvtec_category(tmp_path, 8).masks.all()  # MVTec's own mask names


@pytest.mark.parametrize("name", ["padim", "patchcore"])
def test_pretrained_detectors_find_the_painted_defects(hazelnut, name, tmp_path):
    torch.set_num_threads(1)
    det = detector_class(name)(weights=WEIGHTS).fit(hazelnut.train)
    scores = det.decision_function(hazelnut.test)
    assert roc_auc_score(hazelnut.labels, scores) >= 0.95
    maps = det.anomaly_map(hazelnut.test)
    assert maps.shape == hazelnut.masks.shape
    assert roc_auc_score(hazelnut.masks.ravel(), maps.ravel()) >= 0.95  # pixel level
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
