"""The settings of `adrec bench recommend`, and the per-split source bundle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adrec.recommender.blend import ALL_SOURCES
from adrec.recommender.models import SEQUENCE_MODELS
from adrec.recommender.next_item import loss_function

SOURCE_NAMES = ALL_SOURCES  # long_term, short_term, emerging, trending


@dataclass(frozen=True)
class BenchConfig:
    sequence_model: str = "sasrec"  # or "gru4rec": the long-term source
    loss: str = "full"  # or "sampled" softmax over `sampled_negatives` uniform items
    sampled_negatives: int = 100
    max_len: int = 50
    dim: int = 64
    n_layers: int = 2
    dropout: float = 0.2
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0,)
    window: int = 10
    min_profile: int = 10
    # Detector, feature block and input form are all chosen on validation targets.
    detector: str = "auto"
    features: str = "auto"
    sequence_input: str = "auto"
    gate_epochs: int = 300
    trending_days: tuple[float, ...] = (3.0, 7.0, 14.0, 30.0)  # chosen on validation
    short_term_last: int = 5
    k: int = 10
    n_negatives: int = 100
    n_bootstrap: int = 2000
    grid_step: float = 0.1
    shift_level: float = 0.5
    split: str = "leave_last_out"  # or "global_time"
    # Test (and validation) targets per user, each predicted from everything before it: more
    # than one gives the shifting users, a small group, several targets each.
    targets_per_user: int = 5
    trainer: str = "local"  # or "ray": the long-term SASRec through Ray Train
    use_gpu: bool = False  # Ray Train workers on GPUs

    def __post_init__(self):
        # Names are checked here, before minutes of splitting and scoring, not at training.
        if self.sequence_model not in SEQUENCE_MODELS:
            raise ValueError(
                f"model must be one of {sorted(SEQUENCE_MODELS)}, got {self.sequence_model!r}"
            )
        loss_function(self.loss, self.sampled_negatives)
        if self.targets_per_user < 1:
            raise ValueError(f"targets_per_user must be >= 1, got {self.targets_per_user}")


@dataclass
class SplitSources:
    """Source distributions [n_sources, n_points, n_items + 1], the calibrated anomaly score at
    each prediction point and the gate's inputs."""

    probs: np.ndarray
    calibrated: np.ndarray
    gate_features: np.ndarray | None = None
