"""Feature (tabular) detectors over [n, features] inputs: scikit-learn where it implements the
method, hand-written where it does not. Importing this package registers them."""
