"""Image folders on Ray Data: read and sharded with `read_images` (decoded and resized to
size x size on the read tasks) and ImageNet-normalised by a map on the workers. The paths
come from adrec.data.images.mvtec_index, so Ray and the in-process loader read the same files
to the same arrays (for RGB sources: Ray resizes before converting to RGB, the in-process
loader after).

No torch here: every read task's worker process imports this module for its map function,
and torch would add seconds to each one's start (3 s of CPU each on 2 cores). The backbone
features of the feature-memory detectors are in adrec.distributed.image_features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ray.data

from adrec.data.images import MVTecIndex, load_mask, normalize

READ_CPUS = 0.25  # a whole CPU per read task would wait for training workers (README)
# At least this many images per read task: one task per image starts a worker process per
# image on a small folder, each taking longer to start than to decode its image.
IMAGES_PER_READ = 8
MAX_READ_TASKS = 64


def _normalize_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"path": batch["path"], "image": normalize(np.stack(list(batch["image"])))}


def read_tasks(n_images: int) -> int:
    """Read tasks (blocks) for n_images: IMAGES_PER_READ or more each, at most MAX_READ_TASKS."""
    return max(1, min(MAX_READ_TASKS, -(-n_images // IMAGES_PER_READ)))


def read_images(paths: list[Path], size: int, num_cpus: float = READ_CPUS) -> ray.data.Dataset:
    """Images as a Dataset of {"path": str, "image": float32 [3, size, size]}."""
    if not paths:
        raise ValueError("no image paths to read")
    ds = ray.data.read_images(
        [_key(p) for p in paths],  # absolute: the "path" column then matches _key(path)
        size=(size, size),
        mode="RGB",
        include_paths=True,
        num_cpus=num_cpus,
        override_num_blocks=read_tasks(len(paths)),
    )
    return ds.map_batches(_normalize_batch, batch_format="numpy", num_cpus=num_cpus)


def _label_and_mask(batch: dict, records: dict[str, tuple[int, str | None]], size: int) -> dict:
    """Each test image's label and mask (read on the worker; both mask namings)."""
    labels, masks = [], []
    blank = np.zeros((size, size), bool)
    for path in batch["path"]:
        label, mask = records[_key(path)]
        labels.append(label)
        masks.append(blank if mask is None else load_mask(mask, size))
    return {**batch, "label": np.array(labels, np.int64), "mask": np.stack(masks)}


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


def read_test_split(index: MVTecIndex, size: int, num_cpus: float = READ_CPUS):
    """The test images of an MVTec-layout index with "label" (0 good) and "mask" columns."""
    records = {_key(str(t.path)): (t.label, None if t.mask is None else str(t.mask))
               for t in index.test}  # fmt: skip
    ds = read_images([t.path for t in index.test], size, num_cpus)
    return ds.map_batches(_label_and_mask, fn_kwargs={"records": records, "size": size},
                          batch_format="numpy", num_cpus=num_cpus)  # fmt: skip


def collect(ds: ray.data.Dataset, columns: list[str]) -> dict[str, np.ndarray]:
    """The columns of a (small) dataset on the driver, rows in path order (Ray Data does not
    keep the order of files across read tasks)."""
    rows = ds.select_columns(["path", *columns]).take_all()
    rows.sort(key=lambda r: r["path"])
    return {c: np.stack([np.asarray(r[c]) for r in rows]) for c in ["path", *columns]}


def images_on_driver(images: ray.data.Dataset) -> tuple[np.ndarray, list]:
    got = collect(images, ["image"])
    return got["image"].astype(np.float32), list(got["path"])
