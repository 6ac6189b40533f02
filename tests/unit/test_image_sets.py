"""The image sets: MVTec-layout folders (both mask namings), the digits one-class tasks and
the pasted-texture set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adrec.data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    digits_one_class,
    load_mvtec_category,
    mvtec_index,
    texture_set,
)

HAZELNUT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "hazelnut-toy"


def test_loader_reads_the_hazelnut_photographs():
    split = load_mvtec_category(HAZELNUT, 64)
    assert split.train.shape == (28, 3, 64, 64) and split.train.dtype == np.float32
    assert len(split.test) == 23 and split.labels.sum() == 17  # 6 good, 17 colour
    good = split.labels == 0
    assert not split.masks[good].any() and all(m.any() for m in split.masks[~good])
    assert -2.2 < split.train.min() and split.train.max() < 2.7  # ImageNet normalisation


def test_index_finds_both_mask_namings_and_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="MVTec AD layout"):
        mvtec_index(tmp_path)
    for sub in ("train/good", "test/scratch", "test/good", "ground_truth/scratch"):
        (tmp_path / sub).mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train/good/0.png")
    for name in ("000.png", "001.png", "002.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "test/scratch" / name)
    Image.new("RGB", (8, 8)).save(tmp_path / "test/good/000.png")
    Image.new("L", (8, 8), 255).save(tmp_path / "ground_truth/scratch/000_mask.png")  # MVTec
    Image.new("L", (8, 8), 255).save(tmp_path / "ground_truth/scratch/001.png")  # hazelnut-toy
    with pytest.raises(FileNotFoundError, match="no mask for scratch/002.png"):
        mvtec_index(tmp_path)
    assert len(mvtec_index(tmp_path, masks=False).test) == 4  # masks not needed
    Image.new("L", (8, 8), 0).save(tmp_path / "ground_truth/scratch/002_mask.png")
    index = mvtec_index(tmp_path)
    masks = {t.name: t.mask.name if t.mask else None for t in index.test}
    assert masks == {"good/000.png": None, "scratch/000.png": "000_mask.png",
                     "scratch/001.png": "001.png", "scratch/002.png": "002_mask.png"}  # fmt: skip
    split = load_mvtec_category(tmp_path, 8)
    assert split.masks.sum(axis=(1, 2)).tolist() == [0, 64, 64, 0]


def test_digits_one_class_tasks():
    task = digits_one_class(3, size=16, n_train=100, anomalies_per_digit=20)
    assert task.train.shape == (100, 3, 16, 16) and task.masks is None
    digits = [int(n.split("/")[0].removeprefix("digit")) for n in task.test_names]
    assert task.labels.tolist() == [int(d != 3) for d in digits]
    assert task.labels.sum() == 9 * 20 and (task.labels == 0).sum() == 183 - 100
    assert np.allclose(
        task.train[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0],
        task.train[:, 1] * IMAGENET_STD[1] + IMAGENET_MEAN[1],
        atol=1e-5,
    )  # grey
    again = digits_one_class(3, size=16, n_train=100, anomalies_per_digit=20)
    assert np.array_equal(again.test, task.test)  # seeded
    with pytest.raises(ValueError, match="n_train"):
        digits_one_class(3, n_train=500)


def test_texture_set_pastes_foreign_patches_with_masks():
    pytest.importorskip("skimage")
    s = texture_set("brick", size=48, n_train=20, n_test=10)
    assert s.train.shape == (20, 3, 48, 48) and s.test.shape == (20, 3, 48, 48)
    assert s.labels.tolist() == [0] * 10 + [1] * 10
    sides = np.sqrt(s.masks.sum(axis=(1, 2)))
    assert (sides[:10] == 0).all() and ((sides[10:] >= 12) & (sides[10:] <= 24)).all()
    assert {n.split("/")[0] for n in s.test_names[10:]} == {"grass", "gravel"}
    grey = s.test[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    inside = [grey[i][s.masks[i]].mean() for i in range(10, 20)]
    outside = [grey[i][~s.masks[i]].mean() for i in range(10, 20)]
    assert np.abs(np.subtract(inside, outside)).mean() < 0.1  # brightness matched
    with pytest.raises(ValueError, match="texture must be one of"):
        texture_set("marble")
