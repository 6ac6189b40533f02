"""Behaviour anomaly detection: windows of a user's recent behaviour against their own past
(windows.py) and a fitted detector over them (detector.py). Names are imported on first use
(PEP 562): the windows alone do not load the detectors (scikit-learn)."""

from adrec.lazy import lazy_getattr

_WHERE = {
    "BehaviourDetector": "adrec.detectors.behaviour.detector",
    "DayWindow": "adrec.detectors.behaviour.windows",
    "InteractionWindow": "adrec.detectors.behaviour.windows",
    "Signals": "adrec.detectors.behaviour.windows",
    "window_from_dict": "adrec.detectors.behaviour.windows",
    "window_rows": "adrec.detectors.behaviour.windows",
}
__all__ = list(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
