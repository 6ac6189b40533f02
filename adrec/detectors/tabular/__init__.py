"""Feature (tabular) detectors over [n, features] inputs: scikit-learn where it implements the
method, hand-written where it does not. Importing this package registers them."""

from adrec.detectors.tabular.density import GMMDetector, KDEDetector
from adrec.detectors.tabular.iforest import IsolationForestDetector
from adrec.detectors.tabular.mahalanobis import HotellingT2Detector, MahalanobisTaguchiDetector
from adrec.detectors.tabular.neighbors import KNNDetector, LOFDetector
from adrec.detectors.tabular.ocsvm import OneClassSVMDetector
from adrec.detectors.tabular.rpca import RPCADetector, principal_component_pursuit
from adrec.detectors.tabular.subspace import NMFDetector, PCADetector

__all__ = [
    "GMMDetector",
    "HotellingT2Detector",
    "IsolationForestDetector",
    "KDEDetector",
    "KNNDetector",
    "LOFDetector",
    "MahalanobisTaguchiDetector",
    "NMFDetector",
    "OneClassSVMDetector",
    "PCADetector",
    "RPCADetector",
    "principal_component_pursuit",
]
