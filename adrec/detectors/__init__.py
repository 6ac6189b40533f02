"""Anomaly detectors behind one contract (adrec.base.BaseDetector)."""

from adrec.base import DETECTORS, BaseDetector
from adrec.detectors.lstm_ae import LSTMAEDetector

__all__ = ["DETECTORS", "BaseDetector", "LSTMAEDetector"]
