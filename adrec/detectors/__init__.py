"""Anomaly detectors behind one contract (adrec.base.BaseDetector).

Importing this package registers every detector family in adrec.base.DETECTORS."""

from adrec.base import DETECTORS, BaseDetector
from adrec.detectors import image, neural, tabular  # noqa: F401  (register their detectors)
from adrec.detectors.lstm_ae import LSTMAEDetector
from adrec.detectors.window_detector import WindowFeatureDetector

__all__ = ["DETECTORS", "BaseDetector", "LSTMAEDetector", "WindowFeatureDetector"]
