"""Anomaly detectors behind one contract (adrec.base.BaseDetector), found by name through
adrec.detectors.registry. Importing this package imports no detector family: each one is
imported when it is first used, so a tabular detector never loads torch. The names below are
themselves imported on first use (PEP 562), so that code which only needs a submodule (the
behaviour windows in a Ray Data worker) does not load scikit-learn."""

from importlib import import_module

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


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
