"""What every image detector shares, behind the detector contract (adrec.base.BaseDetector).

Inputs are float32 images [n, 3, H, W], ImageNet-normalised (adrec.data.images loads them
so). A fitted detector holds one pure nn.Module, `model_` (adrec.detectors.image.models),
with `score(x) -> [n]`, `anomaly_map(x) -> [n, H, W]` and `score_and_map(x)`; the wrapper
only validates, batches and converts. Its state is that module's state_dict plus the image
size, saved as tensors (state.pt, read back with weights_only=True).

Two kinds:
- FeatureDetector (PaDiM, PatchCore, SPADE): a frozen backbone's features of the normal
  images, summarised (Gaussians, memory bank, gallery). `extract` and `fit_features` are
  apart so a Ray Data map can extract the features on workers
  (adrec.distributed.image_features).
- TrainedImageDetector (conv AE / VAE, Deep SVDD, AnoGAN, CutPaste, FastFlow): a module
  trained by gradient descent through a Trainer (`step(batch)`), the same object in process
  and on Ray Train workers (adrec.distributed.train_detector).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from adrec.base import BaseDetector, NotFittedError, seed_from
from adrec.components.features import FeatureExtractor
from adrec.training import minibatches


class ImageDetector(BaseDetector):
    input_ndim = 4  # [n, 3, H, W]
    has_maps: ClassVar[bool] = True  # False: image scores only (anomaly_map raises)
    score_batch: ClassVar[int] = 16  # images per forward pass when scoring

    # -- inputs ----------------------------------------------------------------------------
    def _check_input(self, X: np.ndarray, name: str, fitting: bool = False) -> np.ndarray:
        X = super()._check_input(X, name, fitting)
        if X.shape[1] != 3:
            raise ValueError(f"images must have 3 channels (RGB) on axis 1, got {X.shape[1]}")
        size = getattr(self, "image_size_", None)
        if not fitting and size is not None and tuple(X.shape[-2:]) != tuple(size):
            raise ValueError(
                f"{name} images are {X.shape[-2]}x{X.shape[-1]}, the detector was fitted on "
                f"{size[0]}x{size[1]} (resize them first)"
            )
        return np.ascontiguousarray(X)

    def _new_seed(self) -> int:
        self.seed_ = seed_from(self.random_state)
        return self.seed_

    # -- scoring through the pure module ---------------------------------------------------
    def _batches(self, X: np.ndarray):
        x = torch.from_numpy(X)
        return x.split(self.score_batch)

    def _score(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            scores = [self.model_.score(b) for b in self._batches(X)]
        return torch.cat(scores).double().numpy()

    def anomaly_map(self, X: np.ndarray) -> np.ndarray:
        """Per-pixel anomaly maps [n, H, W] at the input size (higher = more anomalous)."""
        return self.score_and_map(X)[1]

    def score_and_map(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image scores [n] (those of decision_function) and maps [n, H, W] in one pass."""
        self._require_fitted()
        if not self.has_maps:
            raise NotImplementedError(f"{self.name} gives image scores only, no pixel maps")
        X = self._check_input(X, "X")
        with torch.no_grad():
            parts = [self.model_.score_and_map(b) for b in self._batches(X)]
        scores = torch.cat([p[0] for p in parts]).double().numpy()
        return scores, torch.cat([p[1] for p in parts]).double().numpy()

    def _require_fitted(self) -> None:
        if not self.is_fitted or getattr(self, "model_", None) is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # -- persistence -----------------------------------------------------------------------
    def _state(self) -> dict[str, torch.Tensor]:
        return {**self.model_.state_dict(), "image_size": torch.tensor(self.image_size_)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        self.image_size_ = tuple(state.pop("image_size").tolist())
        model = self._empty_model(state)
        model.load_state_dict(state)
        self.model_ = model.eval()

    @abstractmethod
    def _empty_model(self, state: dict[str, torch.Tensor]) -> nn.Module:
        """A model shaped for `state` (sizes read from its tensors), weights loaded next."""


class FeatureDetector(ImageDetector):
    """Subclasses declare `backbone`, `weights`, `contamination`, `random_state` (and their
    own parameters) and implement `_model_from_features` and `_empty_model`."""

    pooled_features: ClassVar[bool] = False  # whether the model needs image embeddings

    def feature_extractor(self) -> FeatureExtractor:
        """The frozen backbone of this fit (random weights seeded by random_state when
        `weights` is None); a fitted detector's own, saved with it."""
        if getattr(self, "model_", None) is not None:
            return self.model_.extractor
        seed = getattr(self, "seed_", None)
        weights = None if self.weights is None else str(self.weights)
        return FeatureExtractor(self.backbone, weights, self._new_seed() if seed is None else seed,
                                pooled=self.pooled_features)  # fmt: skip

    def extract(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(patch features [n, C, h, w], image embeddings [n, D]) of validated images."""
        extractor = self.feature_extractor()
        with torch.no_grad():
            parts = [extractor(b) for b in self._batches(X)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _fit(self, X: np.ndarray) -> None:
        self.model_, self.seed_ = None, None
        extractor = self.feature_extractor()
        patches, pooled = self.extract(X)
        self._fit_model(extractor, patches, pooled, tuple(X.shape[-2:]))
        self._fit_scores = self._training_feature_scores(patches, pooled)

    def _fit_model(self, extractor, patches, pooled, image_size) -> None:
        self.image_size_ = tuple(int(s) for s in image_size)
        self.model_ = self._model_from_features(extractor, patches, pooled).eval()

    def fit_features(
        self,
        extractor: FeatureExtractor,
        patches: torch.Tensor,
        pooled: torch.Tensor,
        image_size: tuple[int, int],
        calib: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> FeatureDetector:
        """fit() from features extracted elsewhere (a Ray Data map) by `extractor`; the
        threshold from the features of held-out normal images (`calib`) when given."""
        self._check_params()
        self.seed_ = seed_from(self.random_state)
        self._fit_model(extractor, patches, pooled, image_size)
        self.n_features_, self.fitted_ = int(image_size[1]), True
        scores = (self._training_feature_scores(patches, pooled) if calib is None
                  else self.model_.score_features(*calib).double().numpy())  # fmt: skip
        self.calibrator_ = self._calibrator_from(scores)
        return self

    def _training_feature_scores(self, patches, pooled) -> np.ndarray:
        """Scores of the training images that set the threshold without calibration data."""
        with torch.no_grad():
            return self.model_.score_features(patches, pooled).double().numpy()

    @abstractmethod
    def _model_from_features(
        self, extractor: FeatureExtractor, patches: torch.Tensor, pooled: torch.Tensor
    ) -> nn.Module: ...


def reseed(generator: torch.Generator, *keys: int) -> torch.Generator:
    """Seed `generator` from a tuple of ints (seed, rank, epoch): independent streams."""
    words = np.random.SeedSequence([int(k) for k in keys]).generate_state(2)
    return generator.manual_seed(int(words[0]) << 32 | int(words[1]))


class Trainer:
    """One optimiser step per `step(batch)`: Adam over the module's trainable parameters on
    `loss(model, batch, generator)`. `wrap` hands the module to DistributedDataParallel (Ray
    Train's prepare_model) after a checkpoint is loaded; `start_epoch` reseeds the generator
    of the method's own randomness (augmentations, latent draws) from (seed, rank, epoch), so
    a resumed run draws what an uninterrupted one would."""

    def __init__(self, module: nn.Module, lr: float, loss: Callable, seed: int):
        self.module = self.model = module
        self.loss = loss
        self.seed = seed
        self.generator = torch.Generator()
        params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=lr)

    def wrap(self, prepare: Callable[[nn.Module], nn.Module]) -> None:
        self.model = prepare(self.module)

    def start_epoch(self, epoch: int, rank: int = 0) -> None:
        reseed(self.generator, self.seed, rank, epoch)

    def step(self, batch: torch.Tensor) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.model, batch, self.generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.module.parameters(), 5.0)
        self.optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


def mean_image_loss(model: nn.Module, batch: torch.Tensor, generator: torch.Generator):
    """For modules whose forward(x) returns each image's training loss."""
    return model(batch).mean()


class TrainedImageDetector(ImageDetector):
    """Subclasses declare their module's parameters with `epochs`, `lr`, `batch_size`,
    `contamination` and `random_state`, and implement `build_module(image_shape)`; the
    module's `prepare(x)` sets what depends on the data before training (normalisation,
    Deep SVDD's centre) and `finish(x)` what is fitted after it without gradients
    (CutPaste's Gaussian)."""

    loss: ClassVar[Callable] = staticmethod(mean_image_loss)
    lr: float
    epochs: int
    batch_size: int

    @abstractmethod
    def build_module(self, image_shape: tuple[int, int, int], pretrained: bool = True) -> nn.Module:
        """A new module for images of `image_shape` (C, H, W); `pretrained=False` skips
        reading a backbone's weights file (its weights are about to be replaced)."""

    def _check_params(self) -> None:
        super()._check_params()
        for key in ("epochs", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")

    def seed(self) -> int:
        """The int seed of this fit (random_state, or fresh entropy when it is None)."""
        return seed_from(self.random_state)

    def prepared_module(self, X: np.ndarray, seed: int | None = None) -> nn.Module:
        """A new module, seeded and prepared on X: the same on a Ray Train driver and here."""
        seed = self.seed() if seed is None else seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self.build_module(tuple(int(s) for s in X.shape[1:]))
            with torch.no_grad():
                module.prepare(torch.from_numpy(np.ascontiguousarray(X, np.float32)))
        return module

    def trainer(self, module: nn.Module, seed: int) -> Trainer:
        return Trainer(module, self.lr, self.loss, seed)

    def _fit(self, X: np.ndarray) -> None:
        seed = self._new_seed()
        module = self.prepared_module(X, seed)
        trainer = self.trainer(module, seed)
        order = torch.Generator().manual_seed(seed)
        x = torch.from_numpy(X)
        self.train_losses_ = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for epoch in range(self.epochs):
                trainer.start_epoch(epoch)
                losses = [trainer.step(b) for b in minibatches(x, self.batch_size, order)]
                self.train_losses_.append(float(np.mean(losses)))
        self.use_module(module, X)

    def use_module(self, module: nn.Module, X: np.ndarray) -> TrainedImageDetector:
        """Adopt a trained module (also one trained by Ray Train) and fit what follows
        training on the normal images X (a bounded sample will do); calibrate() comes next."""
        module.eval()
        with torch.no_grad():
            module.finish(torch.from_numpy(np.ascontiguousarray(X, np.float32)))
        self.model_ = module
        self.image_size_ = tuple(int(s) for s in X.shape[-2:])
        self.n_features_ = int(X.shape[-1])
        self.fitted_ = True
        return self

    def _empty_model(self, state: dict[str, torch.Tensor]) -> nn.Module:
        return self.build_module((3, *self.image_size_), pretrained=False)
