"""Backbone features of images on Ray Data, for the feature-memory detectors (PaDiM,
PatchCore, SPADE): a pool of map actors that each hold the frozen extractor, built once."""

from __future__ import annotations

import numpy as np
import ray.data
import torch

from adrec.distributed.images import collect


class _Extract:
    """A map actor: the frozen extractor, built once, applied to batches of images."""

    def __init__(self, extractor: torch.nn.Module, threads: int = 1):
        torch.set_num_threads(threads)
        self.extractor = extractor.eval()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            patches, pooled = self.extractor(torch.from_numpy(np.ascontiguousarray(batch["image"])))
        return {"path": batch["path"], "patches": patches.numpy(), "pooled": pooled.numpy()}


def extract_features(
    images: ray.data.Dataset,
    extractor: torch.nn.Module,
    workers: int = 2,
    batch_size: int = 8,
    cpus_per_worker: float = 1.0,
) -> ray.data.Dataset:
    """{"path", "patches" [C, h, w], "pooled" [D]} per image, computed by `workers` actors
    (the extractor travels to them through the object store, so workers need no weights
    file)."""
    return images.map_batches(
        _Extract,
        fn_constructor_kwargs={"extractor": extractor},
        compute=ray.data.ActorPoolStrategy(size=workers),
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=cpus_per_worker,
    )


def features_on_driver(features: ray.data.Dataset) -> tuple[torch.Tensor, torch.Tensor, list]:
    got = collect(features, ["patches", "pooled"])
    return torch.from_numpy(got["patches"]), torch.from_numpy(got["pooled"]), list(got["path"])
