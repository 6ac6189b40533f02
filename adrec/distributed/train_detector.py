"""Ray Train for any neural detector (ae, vae, deep_svdd, flow, lstm_vae, ...): one loop,
the same for 1 or N workers and for CPU or GPU. Image detectors at the end of this module.

The driver builds the detector's module and prepares it on a sample of the training rows
(normalisation statistics, Deep SVDD's centre), so every worker starts from the same state;
Ray Data shards the rows across workers; DDP syncs the gradients of `forward`, which returns
each row's training loss. The trained module goes back into the detector class, which is then
calibrated on held-out normal rows on the driver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import ray
import ray.data
import ray.train
import ray.train.torch
import torch

from adrec.detectors.neural.torch_detector import TorchDetector
from adrec.detectors.registry import detector_class, detector_names
from adrec.distributed.ingest import read_context
from adrec.distributed.train import (
    TrainSettings,
    _fit,
    _load_model,
    _report,
    _resume,
    _train_epochs,
    fit_with_progress,
)


def detector_loop(config: dict) -> None:
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(config["seed"])
    det = detector_class(config["detector"])(**config["params"])
    model = det.build_module(config["n_features"])
    model.load_state_dict(config["initial_state"])
    optimizer = torch.optim.Adam(model.parameters(), lr=det.lr)
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()
    batch_size = det.batch_size

    def batches():
        for b in shard.iter_torch_batches(
            batch_size=batch_size, device=device, local_shuffle_buffer_size=4 * batch_size
        ):
            yield b["x"].float()

    _train_epochs(model, optimizer, batches, det.loss, config)


def neural_detector(name: str, params: dict | None = None) -> TorchDetector:
    neural = detector_names("neural")
    if name not in neural:
        raise ValueError(f"detector {name!r} is not a neural detector; choose from {neural}")
    return detector_class(name)(**(params or {}))


def train_detector(
    name: str,
    rows: ray.data.Dataset,
    calibration: np.ndarray,
    storage: Path,
    settings: TrainSettings,
    params: dict | None = None,
    quantile: float = 0.99,
    sample_rows: int = 20_000,
    run_name: str | None = None,
    report_every: int = 5,
    log: Callable[[dict], None] | None = None,
) -> tuple[TorchDetector, dict]:
    """Train detector `name` on `rows` (column "x": one row or window per record) through
    Ray Train, then calibrate it on `calibration`; returns the fitted detector and the last
    reported metrics (epoch, loss). `log`, when given, gets the metrics of every report.
    Re-running with the same storage and run name resumes."""
    det = neural_detector(name, params)
    det.set_params(contamination=1.0 - quantile)
    seed = det.seed()  # one seed for the driver's preparation and every worker
    sample = np.stack(rows.take_batch(sample_rows, batch_format="numpy")["x"]).astype(np.float32)
    if sample.ndim != det.input_ndim:
        raise ValueError(
            f"{name} expects rows with {det.input_ndim - 1} axes, got shape {sample.shape[1:]}"
        )
    module = det.prepared_module(sample, seed)
    config = {
        "detector": name,
        "params": det.get_params(),
        "seed": seed,
        "n_features": int(sample.shape[-1]),
        "initial_state": module.state_dict(),
        "epochs": det.epochs,
        "report_every": report_every,
    }
    datasets = {"train": rows.select_columns(["x"])}
    run = (detector_loop, config, datasets, run_name or f"detector-{name}", storage, settings)
    result = _fit(*run) if log is None else fit_with_progress(*run, log)
    trained = _load_model(result, det.build_module(config["n_features"]))
    det.use_module(trained).calibrate(calibration)
    return det, dict(result.metrics or {})


def load_rows(
    path: Path, column: str = "x", calib_fraction: float = 0.2, seed: int = 0
) -> tuple[ray.data.Dataset, np.ndarray, dict]:
    """Normal training rows from a .npy array ([n, features] or [n, time, features]) or from
    Parquet (a column of fixed-length vectors), as a Ray Dataset with column "x", and a
    seeded held-out share for calibration. Rows with NaN or infinite values are dropped and
    counted (in the returned info), never passed on."""
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False).astype(np.float32)
        if arr.ndim not in (2, 3) or len(arr) < 2:
            raise ValueError(
                f"{path}: expected [n, features] or [n, time, features], got {arr.shape}"
            )
    else:
        with read_context():
            # a quarter CPU: a whole one would wait for training workers
            data = ray.data.read_parquet(str(path), num_cpus=0.25)
            frame = data.select_columns([column]).to_pandas()
        try:
            arr = _dense(frame[column].to_numpy()).astype(np.float32)
        except ValueError as exc:
            msg = f"{path}: column {column!r} holds no fixed-length vectors: {exc}"
            raise ValueError(msg) from None
    finite = np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    arr = arr[finite]
    order = np.random.default_rng(seed).permutation(len(arr))
    n_calib = max(1, int(round(calib_fraction * len(arr))))
    if len(arr) - n_calib < 2:
        raise ValueError(f"{path}: too few finite rows ({len(arr)}) to train and calibrate")
    calib, train = arr[order[:n_calib]], arr[order[n_calib:]]
    rows = ray.data.from_numpy(train).rename_columns({"data": "x"})
    info = {"rows": int(len(finite)), "rejected_non_finite": int((~finite).sum()),
            "train_rows": int(len(train)), "calibration_rows": int(n_calib)}  # fmt: skip
    return rows, calib, info


def _dense(values: np.ndarray) -> np.ndarray:
    """Parquet list columns arrive as object arrays of arrays (nested for windows)."""
    return np.stack([_dense(v) if v.dtype == object else v for v in values])


# -- image detectors ------------------------------------------------------------------------
# Images come from a folder (MVTec layout: train/good/, or a plain folder of normal images)
# through Ray Data (adrec.distributed.images). The feature-memory detectors (padim,
# patchcore, spade) get their features from a Ray Data map and are fitted on the driver; the
# trained ones go through Ray Train with the detector's own Trainer (the same object that
# fits them in process).


def image_detector_loop(config: dict) -> None:
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(config["seed"])
    det = detector_class(config["detector"])(**config["params"])
    module = det.build_module(tuple(config["image_shape"]), pretrained=False)
    module.load_state_dict(config["initial_state"])
    trainer = det.trainer(module, config["seed"])
    start = _resume(module, trainer)
    trainer.wrap(ray.train.torch.prepare_model)
    rank = ray.train.get_context().get_world_rank()
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()
    epochs, every = config["epochs"], config["report_every"]
    for epoch in range(start, epochs):
        trainer.start_epoch(epoch, rank)
        losses = [
            trainer.step(b["image"].float())
            for b in shard.iter_torch_batches(
                batch_size=det.batch_size, device=device,
                local_shuffle_buffer_size=4 * det.batch_size,
            )
        ]  # fmt: skip
        if (epoch + 1) % every == 0 or epoch == epochs - 1:
            loss = float(np.mean(losses)) if losses else float("nan")
            _report({"epoch": epoch, "loss": loss, "start_epoch": start}, module, trainer, epoch)


def normal_image_paths(folder: Path) -> list[Path]:
    """The normal training images of `folder`: train/good/ of an MVTec-layout category, or
    the images directly in a plain folder."""
    from adrec.data.images import SUFFIXES, mvtec_index

    folder = Path(folder)
    if (folder / "train" / "good").is_dir():
        return mvtec_index(folder, masks=False).train
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not paths:
        raise ValueError(f"{folder} has no images ({', '.join(SUFFIXES)}) and no train/good/")
    return paths


def split_paths(paths: list[Path], calib_fraction: float, seed: int) -> tuple[list, list]:
    """(training paths, calibration paths): a seeded held-out share sets the threshold."""
    order = np.random.default_rng(seed).permutation(len(paths))
    n_calib = max(1, int(round(calib_fraction * len(paths))))
    if len(paths) - n_calib < 2:
        raise ValueError(f"too few images ({len(paths)}) to train and calibrate")
    calib = sorted(paths[i] for i in order[:n_calib])
    return sorted(paths[i] for i in order[n_calib:]), calib


def train_image_detector(
    name: str,
    folder: Path,
    storage: Path,
    settings: TrainSettings,
    size: int = 224,
    params: dict | None = None,
    quantile: float = 0.99,
    calib_fraction: float = 0.2,
    seed: int = 0,
    sample_images: int = 256,
    run_name: str | None = None,
    report_every: int = 5,
    log: Callable[[dict], None] | None = None,
):
    """Fit image detector `name` on the normal images of `folder` (resized to size x size),
    threshold it on a held-out share; returns (detector, info). Feature-memory detectors:
    features by a Ray Data map on `settings.num_workers` actors, fitted on the driver.
    Trained ones: Ray Train (DDP over Ray Data shards) from a module prepared on the driver
    on up to `sample_images` images, which also fit what follows training (CutPaste's
    Gaussian). Re-running with the same storage and run name resumes training."""
    from adrec.detectors.image.base import FeatureDetector, TrainedImageDetector
    from adrec.distributed import image_features
    from adrec.distributed import images as ray_images

    images = detector_names("image")
    if name not in images:
        raise ValueError(f"detector {name!r} is not an image detector; choose from {images}")
    det = detector_class(name)(**(params or {}))
    det.set_params(contamination=1.0 - quantile)
    train_paths, calib_paths = split_paths(normal_image_paths(folder), calib_fraction, seed)
    info = {"train_images": len(train_paths), "calibration_images": len(calib_paths),
            "size": size}  # fmt: skip
    if isinstance(det, FeatureDetector):
        # one feature map (one actor pool) over training and calibration images together
        det._check_params()
        extractor = det.feature_extractor()
        everything = ray_images.read_images(train_paths + calib_paths, size)
        mapped = image_features.extract_features(
            everything, extractor, settings.num_workers, cpus_per_worker=settings.cpus_per_worker
        )
        patches, pooled, paths = image_features.features_on_driver(mapped)
        is_calib = np.isin(np.array(paths), [str(Path(p).resolve()) for p in calib_paths])
        det.fit_features(
            extractor, patches[~is_calib], pooled[~is_calib], (size, size),
            (patches[is_calib], pooled[is_calib]),
        )  # fmt: skip
        return det, info
    if not isinstance(det, TrainedImageDetector):
        raise TypeError(f"{name} is neither a feature-memory nor a trained image detector")
    det._check_params()
    train_ds = ray_images.read_images(train_paths, size)
    seed_ = det.seed()
    sample = np.stack(train_ds.take_batch(sample_images, batch_format="numpy")["image"])
    module = det.prepared_module(sample.astype(np.float32), seed_)
    config = {
        "detector": name,
        "params": det.get_params(),
        "seed": seed_,
        "image_shape": list(sample.shape[1:]),
        "initial_state": module.state_dict(),
        "epochs": det.epochs,
        "report_every": report_every,
    }
    datasets = {"train": train_ds.select_columns(["image"])}
    run = (image_detector_loop, config, datasets, run_name or f"image-{name}", storage, settings)
    result = _fit(*run) if log is None else fit_with_progress(*run, log)
    trained = _load_model(result, det.build_module(tuple(sample.shape[1:]), pretrained=False))
    calib, _ = ray_images.images_on_driver(ray_images.read_images(calib_paths, size))
    det.use_module(trained, sample).calibrate(calib)
    return det, {**info, **dict(result.metrics or {})}
