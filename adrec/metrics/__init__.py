"""Detection metrics (any detector, time series) and ranking metrics for recommenders. The
names are imported on first use (PEP 562): the recommender's training loop on a Ray Train
worker needs the ranking metrics only, and the detection ones would load scikit-learn
(seconds in every worker process)."""

from adrec.lazy import lazy_getattr

_RANKING = ("cluster_bootstrap", "full_ranks", "hit_ndcg", "paired_bootstrap", "sampled_ranks")
_TIME_SERIES = ("event_prf", "point_adjust", "point_adjusted_prf", "pointwise_prf", "segments",
                "time_series_report", "windows_to_labels")  # fmt: skip
_WHERE = {
    "detection_report": "adrec.metrics.detection",
    **{name: "adrec.metrics.ranking" for name in _RANKING},
    **{name: "adrec.metrics.time_series" for name in _TIME_SERIES},
}
__all__ = list(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
