"""Tabular detectors: what the shared contract suite does not check. Scores agree with the
scikit-learn estimators they wrap, Hotelling's law thresholds, PCP recovery, NMF below the
training minimum, and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from adrec.detectors.registry import detector_class, detector_names, load_detector
from adrec.detectors.tabular import (
    GMMDetector,
    HotellingT2Detector,
    IsolationForestDetector,
    KDEDetector,
    KNNDetector,
    LOFDetector,
    MahalanobisTaguchiDetector,
    NMFDetector,
    OneClassSVMDetector,
    PCADetector,
    RPCADetector,
    principal_component_pursuit,
)

TABULAR = (
    "iforest",
    "lof",
    "ocsvm",
    "knn",
    "hotelling_t2",
    "mahalanobis_taguchi",
    "gmm",
    "kde",
    "pca",
    "rpca",
    "nmf",
)


def gaussian(n: int, p: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(p, p)) / np.sqrt(p) + np.eye(p)
    return (rng.normal(size=(n, p)) @ mix).astype(np.float32)


X, Y = gaussian(150, seed=0), gaussian(40, seed=1) * 1.5


def test_every_tabular_detector_is_registered_for_2d_input():
    for name in TABULAR:
        assert detector_class(name).input_ndim == 2
    assert sorted(TABULAR) == detector_names("tabular")


def test_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="n_neighbours"):
        KNNDetector(n_neighbours=3)


def test_iforest_scores_are_sklearns_from_the_saved_tree_arrays():
    det = IsolationForestDetector(n_estimators=20, max_samples=64, random_state=3).fit(X)
    ref = IsolationForest(n_estimators=20, max_samples=64, random_state=3).fit(X)
    # adrec: the paper's s minus 0.5; scikit-learn's score_samples is -s.
    np.testing.assert_allclose(det.decision_function(Y), -ref.score_samples(Y) - 0.5, atol=1e-12)


def test_ocsvm_decision_function_is_sklearns_on_standardised_rows():
    for kernel in ("rbf", "poly", "sigmoid", "linear"):
        det = OneClassSVMDetector(kernel=kernel, nu=0.2).fit(X)
        Z = det.scaler_.transform(X.astype(np.float64))
        ref = OneClassSVM(kernel=kernel, nu=0.2, gamma=det.gamma_).fit(Z)
        Zy = det.scaler_.transform(Y.astype(np.float64))
        np.testing.assert_allclose(det.svm_decision(Zy), ref.decision_function(Zy), atol=1e-9)
    with pytest.raises(ValueError, match="gamma"):
        OneClassSVMDetector(gamma="wide").fit(X)
    with pytest.raises(ValueError, match="nu"):
        OneClassSVMDetector(nu=0.0).fit(X)


@pytest.mark.parametrize("method", ["largest", "mean", "median"])
def test_knn_summarises_distances_to_the_k_nearest_training_rows(method):
    det = KNNDetector(n_neighbors=4, method=method, scaling="none").fit(X)
    dist = np.sort(np.linalg.norm(Y[:, None, :] - X[None], axis=2), axis=1)[:, :4]
    expected = {"largest": dist[:, -1], "mean": dist.mean(1), "median": np.median(dist, 1)}
    np.testing.assert_allclose(det.decision_function(Y), expected[method], rtol=1e-5)


def test_knn_and_lof_parameter_errors():
    with pytest.raises(ValueError, match="method"):
        KNNDetector(method="max").fit(X)
    with pytest.raises(ValueError, match="n_neighbors"):
        LOFDetector(n_neighbors=150).fit(X)
    with pytest.raises(ValueError, match="n_neighbors"):
        KNNDetector(n_neighbors=0).fit(X)


def test_lof_is_sklearns_outlier_factor():
    det = LOFDetector(n_neighbors=10, scaling="none").fit(X)
    ref = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(X.astype(np.float64))
    np.testing.assert_allclose(det.decision_function(Y), -ref.score_samples(Y), rtol=1e-6)


def test_hotelling_t2_is_the_mahalanobis_distance_to_the_training_mean():
    det = HotellingT2Detector(covariance="empirical", ridge=0.0).fit(X)
    X64 = X.astype(np.float64)
    diff = Y - X64.mean(0)
    expected = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(np.cov(X64, rowvar=False)), diff)
    np.testing.assert_allclose(det.decision_function(Y), expected, rtol=1e-8)


@pytest.mark.parametrize("law", ["f", "chi2"])
def test_hotelling_law_threshold_is_used_and_saved(law, tmp_path):
    n, p = X.shape
    det = HotellingT2Detector(threshold=law, contamination=0.05).fit(X, Y)
    if law == "f":
        expected = p * (n + 1) * (n - 1) / (n * (n - p)) * stats.f.ppf(0.95, p, n - p)
    else:
        expected = stats.chi2.ppf(0.95, p)
    assert det.threshold_ == pytest.approx(expected)
    assert det.threshold_ != pytest.approx(np.quantile(det.decision_function(Y), 0.95))
    # The median anchor of the calibrated score still comes from the calibration rows.
    assert det.calibrator_.median == pytest.approx(np.median(det.decision_function(Y)))
    np.testing.assert_array_equal(det.predict(Y), det.decision_function(Y) >= expected)
    loaded = load_detector(det.save(tmp_path / "t2"))
    assert loaded.threshold_ == det.threshold_
    np.testing.assert_array_equal(loaded.predict(Y), det.predict(Y))


def test_hotelling_f_threshold_flags_alpha_of_new_gaussian_rows():
    """The phase-II F law is exact for Gaussian rows: over many training sets, a fraction
    alpha of new rows exceeds the limit (the form without n/(n+1) would give about 0.058)."""
    rng = np.random.default_rng(0)
    n, p, alpha = 20, 4, 0.05
    flagged = []
    for _ in range(300):
        train, new = rng.normal(size=(n, p)), rng.normal(size=(200, p))
        det = HotellingT2Detector(
            covariance="empirical", ridge=0.0, threshold="f", contamination=alpha
        )
        flagged.append(det.fit(train).predict(new).mean())
    assert abs(np.mean(flagged) - alpha) < 0.005


def test_hotelling_parameter_errors():
    with pytest.raises(ValueError, match="threshold"):
        HotellingT2Detector(threshold="t").fit(X)
    with pytest.raises(ValueError, match="covariance"):
        HotellingT2Detector(covariance="mcd").fit(X)
    with pytest.raises(ValueError, match="more rows than features"):
        HotellingT2Detector(threshold="f").fit(X[:4])
    with pytest.raises(ValueError, match="singular"):
        HotellingT2Detector(covariance="empirical", ridge=0.0).fit(np.tile(X[:, :1], (1, 3)))


def test_mahalanobis_taguchi_averages_one_on_its_unit_space():
    det = MahalanobisTaguchiDetector(ridge=0.0).fit(X)
    assert det.decision_function(X).mean() == pytest.approx(1.0, rel=1e-6)
    # Scale-free: MD does not change when a feature is rescaled.
    scaled = X * np.array([1, 100, 1, 0.01], dtype=np.float32)
    again = MahalanobisTaguchiDetector(ridge=0.0).fit(scaled)
    np.testing.assert_allclose(
        again.decision_function(Y * np.array([1, 100, 1, 0.01])),
        det.decision_function(Y),
        rtol=1e-4,
    )


def test_gmm_scores_are_sklearns_negative_log_likelihood(tmp_path):
    for kind in ("full", "diag", "tied", "spherical"):
        det = GMMDetector(n_components=2, covariance_type=kind, random_state=1).fit(X)
        ref = GaussianMixture(2, covariance_type=kind, random_state=1).fit(X.astype(np.float64))
        np.testing.assert_allclose(det.decision_function(Y), -ref.score_samples(Y), rtol=1e-6)
        loaded = load_detector(det.save(tmp_path / kind))
        np.testing.assert_array_equal(loaded.decision_function(Y), det.decision_function(Y))
    with pytest.raises(ValueError, match="covariance_type"):
        GMMDetector(covariance_type="block").fit(X)


def test_kde_bandwidth_rules_and_errors():
    n, p = X.shape
    assert KDEDetector(bandwidth="scott").fit(X).bandwidth_ == pytest.approx(n ** (-1 / (p + 4)))
    silverman = (n * (p + 2) / 4) ** (-1 / (p + 4))
    assert KDEDetector(bandwidth="silverman").fit(X).bandwidth_ == pytest.approx(silverman)
    narrow, wide = KDEDetector(bandwidth=0.2).fit(X), KDEDetector(bandwidth=2.0).fit(X)
    assert narrow.bandwidth_ == 0.2
    assert np.ptp(narrow.decision_function(Y)) > np.ptp(wide.decision_function(Y))
    with pytest.raises(ValueError, match="bandwidth"):
        KDEDetector(bandwidth=-1.0).fit(X)


def test_pca_weighted_scores_are_eigenvalue_weighted_squared_coordinates():
    Z = (X - X.mean(0)) / X.std(0)  # the standard scaling, as the detector does
    Zy = (Y - X.mean(0)) / X.std(0)
    lam, V = np.linalg.eigh(np.cov(Z, rowvar=False))  # ddof 1, as scikit-learn's PCA
    coords = Zy @ V
    for power in (0.0, 0.5, 1.0):
        det = PCADetector(power=power).fit(X)
        np.testing.assert_allclose(det.variance_, lam[::-1], rtol=1e-6)
        expected = (coords**2 / lam**power).sum(1)
        np.testing.assert_allclose(det.decision_function(Y), expected, rtol=1e-5)
    # power 1 over all components is the Mahalanobis distance of the standardised row.
    maha = np.einsum("ij,jk,ik->i", Zy, np.linalg.inv(np.cov(Z, rowvar=False)), Zy)
    np.testing.assert_allclose(PCADetector(power=1.0).fit(X).decision_function(Y), maha, rtol=1e-5)
    assert len(PCADetector(n_components=2).fit(X).components_) == 2
    assert len(PCADetector(n_components=0.999).fit(X).components_) == X.shape[1]


def test_pca_drops_components_without_variance():
    """A feature that repeats another gives a zero eigenvalue: it must not divide a score."""
    twin = np.c_[X, X[:, :1] * 2.0]
    det = PCADetector(power=1.0).fit(twin)
    assert len(det.components_) == X.shape[1]
    assert np.isfinite(det.decision_function(np.c_[Y, Y[:, :1] * 2.0])).all()


@pytest.mark.parametrize("method", ["weighted", "residual", "pyod"])
def test_pca_on_constant_training_rows_scores_the_distance_to_them(method):
    """A flat series gives identical training rows: no principal axis, finite scores, and a
    row away from them scores higher than one on them."""
    flat = np.full((60, 5), 3.0, dtype=np.float32)
    det = PCADetector(method=method).fit(flat)
    scores = det.decision_function(np.vstack([flat[:1], flat[:1] + 0.5]))
    assert np.isfinite(scores).all() and np.isfinite(det.threshold_)
    assert scores[1] > scores[0]


def test_pca_residual_and_pyod_scores():
    det = PCADetector(method="residual", n_components=0.999).fit(X)
    assert len(det.components_) == X.shape[1] - 1  # all p would leave no residual
    W = det.components_
    normal = np.random.default_rng(0).normal(size=X.shape[1])
    normal -= W.T @ (W @ normal)
    normal /= np.linalg.norm(normal)  # a unit direction off the kept components

    def raw(z: np.ndarray) -> np.ndarray:  # standardised, centred coordinates -> input row
        return (det.scaler_.mean + det.scaler_.scale * z)[None]

    assert det.decision_function(raw(2.0 * W[0] - W[1]))[0] == pytest.approx(0.0, abs=1e-9)
    assert det.decision_function(raw(W[0] + 3.0 * normal))[0] == pytest.approx(9.0, rel=1e-5)
    # PyOD's: distances to the eigenvectors (as points) over each one's share of variance.
    pyod = PCADetector(method="pyod").fit(X)
    Zy = pyod.scaler_.transform(Y.astype(np.float64))
    dist = np.linalg.norm(Zy[:, None, :] - pyod.components_[None], axis=2)
    expected = (dist / pyod.variance_ratio_).sum(1)
    np.testing.assert_allclose(pyod.decision_function(Y), expected, rtol=1e-8)
    with pytest.raises(ValueError, match="n_components"):
        PCADetector(n_components=0).fit(X)
    with pytest.raises(ValueError, match="method"):
        PCADetector(method="eigen").fit(X)


def test_pcp_recovers_a_planted_low_rank_plus_sparse_matrix():
    rng = np.random.default_rng(0)
    m, n, rank = 80, 60, 3
    low = rng.normal(size=(m, rank)) @ rng.normal(size=(rank, n))
    sparse = np.zeros((m, n))
    support = rng.random((m, n)) < 0.05
    sparse[support] = rng.choice([-10.0, 10.0], size=support.sum())
    result = principal_component_pursuit(low + sparse)
    assert result.converged
    assert np.linalg.norm(result.low_rank - low) / np.linalg.norm(low) < 1e-3
    np.testing.assert_array_equal(np.abs(result.sparse) > 1.0, support)
    assert np.linalg.matrix_rank(result.low_rank, tol=1e-3 * np.linalg.norm(low, 2)) == rank


def test_rpca_subspace_resists_gross_errors_that_pull_pca():
    """Rows on a 2-D plane of R^6 plus gross errors in a few entries: the subspace PCP
    learns stays the plane, so clean plane rows score near 0; PCA's tilts towards the
    errors."""
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T
    train = rng.normal(size=(300, 2)) @ basis * 3.0
    train[rng.random(train.shape) < 0.03] += 25.0
    clean = rng.normal(size=(50, 2)) @ basis * 3.0
    rpca = RPCADetector(max_rank=2).fit(train)
    pca = PCADetector(n_components=2).fit(train)
    assert np.median(rpca.decision_function(clean)) < 0.1 * np.median(pca.decision_function(clean))
    with pytest.raises(ValueError, match="max_rank"):
        RPCADetector(max_rank=0).fit(train)


def test_nmf_codes_are_non_negative_and_values_below_the_minimum_still_count():
    det = NMFDetector(n_components=2).fit(X)
    assert (det.codes(Y) >= 0).all()
    row = X[:1].copy()
    lowest = X[:, 0].min()
    scores = []
    for below in (0.0, 1.0, 3.0, 6.0):
        row[0, 0] = lowest - below
        scores.append(det.decision_function(row)[0])
    assert np.all(np.diff(scores) > 0)  # further below the training minimum, higher score


@pytest.mark.parametrize("name", TABULAR)
def test_default_detectors_round_trip_identically_on_wider_data(name, tmp_path):
    """The contract suite uses 5 features; at 20, BLAS takes other code paths, and a fitted
    array in another memory layout than the loaded one changed the last bits (T², MTS, PCA)."""
    x, y = gaussian(300, p=20, seed=2), gaussian(50, p=20, seed=3)
    det = detector_class(name)().fit(x)
    loaded = load_detector(det.save(tmp_path / name))
    np.testing.assert_array_equal(loaded.decision_function(y), det.decision_function(y))


def test_iforest_matches_sklearn_for_deep_trees_feature_subsets_and_either_layout(monkeypatch):
    import adrec.detectors.tabular.iforest as iforest

    big = gaussian(3000, seed=4)
    for kw in ({"max_samples": 2000}, {"max_features": 0.5}):
        det = IsolationForestDetector(n_estimators=15, random_state=5, **kw).fit(big)
        ref = IsolationForest(n_estimators=15, random_state=5, **kw).fit(big)
        assert det.forest_.complete
        np.testing.assert_allclose(
            det.decision_function(Y), -ref.score_samples(Y) - 0.5, atol=1e-12
        )
    monkeypatch.setattr(iforest, "_MAX_COMPLETE_NODES", 1)  # force scikit-learn's node layout
    det = IsolationForestDetector(n_estimators=15, random_state=5).fit(big)
    ref = IsolationForest(n_estimators=15, random_state=5).fit(big)
    assert not det.forest_.complete
    np.testing.assert_allclose(det.decision_function(Y), -ref.score_samples(Y) - 0.5, atol=1e-12)


def test_lof_threshold_comes_from_the_training_rows_own_outlier_factors():
    det = LOFDetector(n_neighbors=10, scaling="none", contamination=0.1).fit(X)
    ref = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(X.astype(np.float64))
    training_lof = -ref.negative_outlier_factor_
    assert det.threshold_ == pytest.approx(np.quantile(training_lof, 0.9), rel=1e-9)


def test_knn_threshold_leaves_each_training_row_out_of_its_own_neighbours():
    det = KNNDetector(n_neighbors=3, scaling="none", contamination=0.1).fit(X)
    dist = np.linalg.norm(X[:, None, :].astype(np.float64) - X[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    third = np.sort(dist, axis=1)[:, 2]
    assert det.threshold_ == pytest.approx(np.quantile(third, 0.9), rel=1e-6)


def test_calibration_reads_a_bounded_seeded_sample(monkeypatch):
    import adrec.base

    monkeypatch.setattr(adrec.base, "MAX_CALIBRATION_ROWS", 50)
    det = GMMDetector().fit(X)  # 150 training rows, 50 scored for the threshold
    sample = adrec.base.bounded_sample(X)
    assert len(sample) == 50 and len(np.unique(sample, axis=0)) == 50
    np.testing.assert_array_equal(sample, adrec.base.bounded_sample(X))  # same rows each time
    expected = np.quantile(det.decision_function(sample).astype(np.float64), 0.99)
    assert det.threshold_ == pytest.approx(expected, rel=1e-9)
    big = np.vstack([Y] * 3)  # a calibration set above the bound: sampled too
    det.fit(X, big)
    calib = adrec.base.bounded_sample(big)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_function(calib), 0.99))


def test_shrink_scaling_floors_each_spread_at_the_common_one():
    from adrec.detectors.tabular._common import Scaler

    rows = np.random.default_rng(0).normal(size=(500, 3)) * np.array([10.0, 1.0, 0.01])
    spread = rows.std(0)
    rms = np.sqrt(np.mean(spread**2))
    shrink = Scaler.fit(rows, "shrink")
    np.testing.assert_allclose(shrink.scale, [spread[0], rms, rms])
    np.testing.assert_allclose(Scaler.fit(rows, "standard").scale, spread)
    np.testing.assert_array_equal(Scaler.fit(rows, "none").scale, np.ones(3))
    np.testing.assert_allclose(Scaler.fit(rows, "range").scale, np.ptp(rows, axis=0))
    assert KDEDetector().fit(X).scaler_.scale == pytest.approx(np.ptp(X.astype(float), axis=0))
    with pytest.raises(ValueError, match="scaling"):
        KNNDetector(scaling="minmax").fit(X)


def test_kde_tolerance_keeps_the_log_density_within_it():
    exact = KDEDetector(rtol=0.0).fit(X).decision_function(Y)
    fast = KDEDetector().fit(X).decision_function(Y)
    np.testing.assert_allclose(fast, exact, atol=2e-4)  # |log(1 + 1e-4)| and rounding
    with pytest.raises(ValueError, match="rtol"):
        KDEDetector(rtol=-1.0).fit(X)


def test_ocsvm_scores_in_bounded_blocks_equal_one_block(monkeypatch):
    import adrec.detectors.tabular._common as common

    det = OneClassSVMDetector().fit(X)
    whole = det.decision_function(Y)
    monkeypatch.setattr(common, "_BLOCK_VALUES", 7 * len(det.support_vectors_))
    np.testing.assert_allclose(det.decision_function(Y), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_one_component_gmm_is_the_em_solution_in_closed_form(kind):
    det = GMMDetector(covariance_type=kind).fit(X)
    ref = GaussianMixture(1, covariance_type=kind, random_state=0).fit(X.astype(np.float64))
    # The same model; EM sums in another order (and adds 10 eps to the component weight).
    np.testing.assert_allclose(det.gmm_.covariances_, ref.covariances_, rtol=1e-7)
    np.testing.assert_allclose(det.decision_function(Y), -ref.score_samples(Y), rtol=1e-7)


def test_neighbours_leave_out_the_row_itself_but_keep_its_duplicates():
    from adrec.detectors.tabular.neighbors import NeighborIndex

    rows = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    dist, ind = NeighborIndex(rows).query_training(np.arange(4), 2)
    np.testing.assert_array_equal(np.sort(ind[:2], axis=1), [[1, 2], [0, 2]])
    np.testing.assert_allclose(dist[:2], [[0.0, 1.0], [0.0, 1.0]])
    assert not (ind == np.arange(4)[:, None]).any()


def test_high_dimensional_neighbours_are_exact_brute_force():
    wide, query = gaussian(120, p=30, seed=6), gaussian(10, p=30, seed=7)
    det = KNNDetector(n_neighbors=4, scaling="none").fit(wide)
    dist = np.sort(np.linalg.norm(query[:, None, :] - wide[None].astype(np.float64), axis=2), 1)
    np.testing.assert_allclose(det.decision_function(query), dist[:, 3], rtol=1e-6)


def test_large_brute_force_neighbours_are_exact_duplicates_included():
    # From 1,200 rows FAISS's float32 search proposes candidates; their exact distances
    # decide. A duplicated row must sit at distance 0 (float32's |x|^2 + |y|^2 - 2xy gives
    # about 1e-3 there), and every neighbour must match an exact float64 search.
    from adrec.detectors.tabular.neighbors import NeighborIndex

    rows = gaussian(3100, p=24, seed=8).astype(np.float64) * 10.0  # norms far above gaps
    rows[1] = rows[0]
    queries = np.concatenate([rows[:2], gaussian(30, p=24, seed=9) * 10.0])
    index = NeighborIndex(rows.astype(np.float32))
    assert index._rows32 is not None  # the FAISS path, not the small-set one
    dist, ind = index.query(queries, 6)
    rows32 = rows.astype(np.float32).astype(np.float64)
    exact = np.linalg.norm(queries.astype(np.float32)[:, None, :] - rows32[None], axis=2)
    np.testing.assert_allclose(dist, np.sort(exact, axis=1)[:, :6], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(dist[:2, :2], 0.0)
    np.testing.assert_array_equal(np.sort(ind[:2, :2], axis=1), [[0, 1], [0, 1]])
    dist, ind = index.query_training(np.arange(3), 4)
    assert dist[0, 0] == 0.0 and ind[0, 0] == 1 and ind[1, 0] == 0


def test_neighbour_queries_in_leaf_order_give_each_row_its_own_answer(monkeypatch):
    import adrec.detectors.tabular.neighbors as neighbors

    monkeypatch.setattr(neighbors, "_ORDER_FROM_ROWS", 1)  # every batch searched in leaf order
    det = LOFDetector(n_neighbors=5).fit(X)
    whole = det.decision_function(Y)
    one_by_one = np.concatenate([det.decision_function(Y[i : i + 1]) for i in range(len(Y))])
    np.testing.assert_array_equal(whole, one_by_one)
    ref = LocalOutlierFactor(n_neighbors=5, novelty=True).fit(det.train_)
    np.testing.assert_allclose(whole, -ref.score_samples(det.scaler_.transform(Y)), rtol=1e-9)


def test_kde_above_fifteen_features_sums_every_kernel_exactly(tmp_path):
    wide, query = gaussian(80, p=20, seed=8), gaussian(30, p=20, seed=9) * 3.0
    det = KDEDetector().fit(wide)
    assert det.kde_ is None  # no tree: it would prune next to nothing in 20 dimensions
    Z, h = det.scaler_.transform(query), det.bandwidth_
    sq = np.sum((Z[:, None, :] - det.train_[None]) ** 2, axis=2)
    direct = stats.norm.logpdf(np.sqrt(sq), scale=h)  # one feature's kernel, times the rest:
    direct += (wide.shape[1] - 1) * stats.norm.logpdf(0.0, scale=h)  # the d-dim Gaussian
    expected = -(np.logaddexp.reduce(direct, axis=1) - np.log(len(wide)))
    np.testing.assert_allclose(det.decision_function(query), expected, rtol=1e-10)
    loaded = load_detector(det.save(tmp_path / "kde"))
    np.testing.assert_array_equal(loaded.decision_function(query), det.decision_function(query))
