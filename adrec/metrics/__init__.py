"""Detection metrics: ranking metrics for any detector and time-series metrics for series."""

from adrec.metrics.detection import detection_report
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
    "detection_report",
    "event_prf",
    "point_adjust",
    "point_adjusted_prf",
    "pointwise_prf",
    "segments",
    "time_series_report",
    "windows_to_labels",
]
