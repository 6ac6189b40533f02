"""Anomaly detectors behind one contract (adrec.base.BaseDetector), found by name through
adrec.detectors.registry. Importing this package imports no detector family: each one is
imported when it is first used, so a tabular detector never loads torch."""

from adrec.base import BaseDetector, NotFittedError
from adrec.detectors.registry import (
    detector_class,
    detector_family,
    detector_names,
    load_detector,
    make_detector,
    register_detector,
)

__all__ = [
    "BaseDetector",
    "NotFittedError",
    "detector_class",
    "detector_family",
    "detector_names",
    "load_detector",
    "make_detector",
    "register_detector",
]
