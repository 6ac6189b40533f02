"""Anomaly detectors behind one contract (adrec.base.BaseDetector), found by name through
adrec.detectors.registry. Importing this package imports no detector family: each one is
imported when it is first used, so a tabular detector never loads torch. The names below are
themselves imported on first use (PEP 562), so that code which only needs a submodule (the
behaviour windows in a Ray Data worker) does not load scikit-learn."""

from adrec.lazy import lazy_getattr

_WHERE = {
    "BaseDetector": "adrec.base",
    "NotFittedError": "adrec.base",
    "detector_class": "adrec.detectors.registry",
    "detector_family": "adrec.detectors.registry",
    "detector_names": "adrec.detectors.registry",
    "load_detector": "adrec.detectors.registry",
    "make_detector": "adrec.detectors.registry",
    "register_detector": "adrec.detectors.registry",
}
__all__ = list(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
