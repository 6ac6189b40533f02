"""Detection metrics (any detector, time series) and ranking metrics for recommenders."""

from adrec.metrics.detection import detection_report
from adrec.metrics.ranking import (
    cluster_bootstrap,
    full_ranks,
    hit_ndcg,
    paired_bootstrap,
    sampled_ranks,
)
from adrec.metrics.time_series import (
    event_prf,
    point_adjust,
    point_adjusted_prf,
    pointwise_prf,
    segments,
    time_series_report,
    windows_to_labels,
)

__all__ = [
    "cluster_bootstrap",
    "full_ranks",
    "hit_ndcg",
    "paired_bootstrap",
    "sampled_ranks",
    "detection_report",
    "event_prf",
    "point_adjust",
    "point_adjusted_prf",
    "pointwise_prf",
    "segments",
    "time_series_report",
    "windows_to_labels",
]
