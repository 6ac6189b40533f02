"""Behaviour anomaly detection: windows of a user's recent behaviour against their own past
(windows.py) and a fitted detector over them (detector.py)."""

from adrec.detectors.behaviour.detector import BehaviourDetector
from adrec.detectors.behaviour.windows import (
    DayWindow,
    InteractionWindow,
    Signals,
    window_from_dict,
    window_rows,
)

__all__ = [
    "BehaviourDetector",
    "DayWindow",
    "InteractionWindow",
    "Signals",
    "window_from_dict",
    "window_rows",
]
