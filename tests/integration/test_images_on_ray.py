"""Image folders on Ray: Ray Data reads an MVTec-layout folder (both mask namings) to the
arrays the in-process loader gives; a feature-memory detector fitted from a Ray Data
feature map scores like the same detector fitted in process; a trained image detector goes
through Ray Train (2 DDP workers) and the train-detector command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

SIZE = 32


def _write_category(root, n_train=12, seed=0):
    """A tiny MVTec-layout category: smooth random RGB images (48 px, resized to 32 on
    read); defective test images carry a bright square. Masks of 'spot' use MVTec's
    naming (000_mask.png), those of 'scratch' the image's own name (003.png)."""
    rng = np.random.default_rng(seed)

    def image(defect_box=None):
        base = rng.normal(120, 10, (6, 6, 3)).clip(0, 255).astype(np.uint8)
        im = np.asarray(Image.fromarray(base).resize((48, 48), Image.BILINEAR)).copy()
        if defect_box is not None:
            y, x = defect_box
            im[y : y + 12, x : x + 12] = 250
        return Image.fromarray(im)

    for sub in ("train/good", "test/good", "test/spot", "test/scratch",
                "ground_truth/spot", "ground_truth/scratch"):  # fmt: skip
        (root / sub).mkdir(parents=True)
    for i in range(n_train):
        image().save(root / "train/good" / f"{i:03d}.png")
    for i in range(3):
        image().save(root / "test/good" / f"{i:03d}.png")
    for defect, mask_name in (("spot", "{:03d}_mask.png"), ("scratch", "{:03d}.png")):
        for i in range(3):
            box = (8 * i + 4, 20)
            image(box).save(root / "test" / defect / f"{i:03d}.png")
            mask = np.zeros((48, 48), np.uint8)
            mask[box[0] : box[0] + 12, box[1] : box[1] + 12] = 255
            Image.fromarray(mask).save(root / "ground_truth" / defect / mask_name.format(i))
    return root


@pytest.fixture(scope="module")
def category(tmp_path_factory):
    return _write_category(tmp_path_factory.mktemp("images") / "toy")


def test_ray_data_reads_the_folder_like_the_in_process_loader(ray_cluster, category):
    from adrec.data.images import load_mvtec_category, mvtec_index
    from adrec.distributed.images import collect, read_test_split

    local = load_mvtec_category(category, SIZE)
    index = mvtec_index(category)
    got = collect(read_test_split(index, SIZE), ["image", "label", "mask"])
    names = [f"{p.split('/')[-2]}/{p.split('/')[-1]}" for p in got["path"]]
    order = [local.test_names.index(n) for n in names]
    np.testing.assert_allclose(got["image"], local.test[order], atol=1e-6)
    np.testing.assert_array_equal(got["label"], local.labels[order])
    np.testing.assert_array_equal(got["mask"], local.masks[order])
    assert got["mask"][got["label"] == 1].any(axis=(1, 2)).all()  # both mask namings found
    assert not got["mask"][got["label"] == 0].any()


def test_patchcore_from_a_ray_data_feature_map_equals_the_in_process_fit(
    ray_cluster, category, tmp_path
):
    from adrec.data.images import load_image, load_mvtec_category
    from adrec.detectors.registry import detector_class, load_detector
    from adrec.distributed.train import TrainSettings
    from adrec.distributed.train_detector import (
        normal_image_paths,
        split_paths,
        train_image_detector,
    )

    params = {"coreset_ratio": 0.5}
    det, info = train_image_detector(
        "patchcore", category, tmp_path / "ray", TrainSettings(num_workers=2, cpus_per_worker=0.5),
        size=SIZE, params=params, calib_fraction=0.25, seed=0,
    )  # fmt: skip
    assert info == {"train_images": 9, "calibration_images": 3, "size": SIZE}
    train, calib = split_paths(normal_image_paths(category), 0.25, 0)
    x_train = np.stack([load_image(p, SIZE) for p in train])
    x_calib = np.stack([load_image(p, SIZE) for p in calib])
    local = detector_class("patchcore")(**params, contamination=0.01).fit(x_train, x_calib)
    test = load_mvtec_category(category, SIZE)
    np.testing.assert_allclose(
        det.decision_function(test.test), local.decision_function(test.test), rtol=1e-5
    )
    assert det.threshold_ == pytest.approx(local.threshold_, rel=1e-5)
    loaded = load_detector(det.save(tmp_path / "patchcore"))
    np.testing.assert_array_equal(
        loaded.decision_function(test.test), det.decision_function(test.test)
    )


def test_conv_ae_trains_through_ray_train_and_the_command_saves_it(
    ray_cluster, category, tmp_path, capsys
):
    """The job entrypoint (= adrec train-detector --images) end to end: two DDP workers,
    progress reports, a saved detector whose threshold is that of the held-out images."""
    from adrec.data.images import load_image, load_mvtec_category
    from adrec.detectors.registry import load_detector
    from adrec.distributed.train_detector import normal_image_paths, split_paths
    from jobs.train_detector import main

    out = tmp_path / "conv_ae"
    params = json.dumps({"base_channels": 8, "latent": 8, "batch_size": 4, "lr": 0.01},
                        separators=(",", ":"))  # fmt: skip
    args = f"--images {category} --detector conv_ae --out {out} --size {SIZE} --epochs 2"
    args += f" --workers 2 --params {params}"
    with pytest.raises(SystemExit) as done:
        main(args.split())
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    reports = [json.loads(x.removeprefix("report: ")) for x in lines if x.startswith("report: ")]
    assert [r["epoch"] for r in reports] == [1] and np.isfinite(reports[0]["loss"])
    summary = json.loads(lines[-1])
    det = load_detector(out)
    assert det.name == "conv_ae" and summary["threshold"] == det.threshold_
    _, calib = split_paths(normal_image_paths(category), 0.2, 0)
    x_calib = np.stack([load_image(p, SIZE) for p in calib])
    expected = np.quantile(det.decision_function(x_calib).astype(np.float64), 0.99)
    assert det.threshold_ == pytest.approx(expected, rel=1e-6)
    test = load_mvtec_category(category, SIZE)
    assert det.anomaly_map(test.test).shape == (len(test.test), SIZE, SIZE)


def test_train_detector_rejects_mixed_or_wrong_inputs(category, tmp_path):
    from typer.testing import CliRunner

    from adrec.cli import app

    runner = CliRunner()
    both = runner.invoke(app, ["train-detector", "--out", str(tmp_path / "x"), "--images",
                               str(category), "--data", str(category)])  # fmt: skip
    assert both.exit_code != 0 and "not both" in both.output
    wrong = runner.invoke(app, ["train-detector", "--out", str(tmp_path / "x"), "--images",
                                str(category), "--detector", "vae"])  # fmt: skip
    assert wrong.exit_code != 0 and "patchcore" in wrong.output
