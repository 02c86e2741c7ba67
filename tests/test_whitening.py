import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparseae import SparseAutoencoder
from sparseae.data import NpyFile, Rows
from sparseae.data.scaling import PatchNormalizer, UnitScaler
from sparseae.whitening import PCA, PCAWhitening, ZCAWhitening, make_whitening


@parametrize_with_checks([PCA(), PCAWhitening(), ZCAWhitening(), UnitScaler(), PatchNormalizer()])
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def covariance(X):
    return np.cov(X.T, bias=True)


def test_pca_keeps_99_percent_of_the_variance(patches):
    pca = PCA().fit(patches)
    kept = pca.explained_variance_ratio_[: pca.n_components_].sum()
    assert kept >= 0.99 and pca.explained_variance_ratio_[: pca.n_components_ - 1].sum() < 0.99
    Z = pca.transform(patches)
    assert Z.shape == (1000, pca.n_components_)
    np.testing.assert_allclose(covariance(Z), np.diag(pca.explained_variance_[: Z.shape[1]]),
                               atol=1e-12)
    # the dropped 1% is all the reconstruction loses
    lost = np.sum((pca.inverse_transform(Z) - patches) ** 2) / len(patches)
    assert lost == pytest.approx(pca.explained_variance_[pca.n_components_:].sum(), rel=1e-8)


def test_pca_components_come_largest_variance_first(patches):
    from sklearn.decomposition import PCA as ScikitPCA

    pca = PCA().fit(patches)
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    reference = ScikitPCA(0.99, svd_solver="full").fit(patches)
    assert pca.n_components_ == reference.n_components_
    np.testing.assert_allclose(pca.explained_variance_[: pca.n_components_],
                               reference.explained_variance_ * (999 / 1000), rtol=1e-9)


def test_pca_whitening_gives_unit_variance(patches):
    Z = PCAWhitening(epsilon=0.0).fit_transform(patches)
    np.testing.assert_allclose(covariance(Z), np.eye(Z.shape[1]), atol=1e-10)
    eps = 0.1
    white = PCAWhitening(epsilon=eps).fit(patches)
    lam = white.explained_variance_[: white.n_components_]
    np.testing.assert_allclose(np.diag(covariance(white.transform(patches))), lam / (lam + eps),
                               rtol=1e-9)


def test_zca_whitening_is_white_and_symmetric(patches):
    zca = ZCAWhitening(epsilon=0.0).fit(patches)
    np.testing.assert_allclose(covariance(zca.transform(patches)), np.eye(64), atol=1e-9)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-12)
    zca = ZCAWhitening().fit(patches)
    np.testing.assert_allclose(zca.inverse_transform(zca.transform(patches)), patches,
                               atol=1e-10)


def test_zca_whitening_with_epsilon_shrinks_each_eigendirection_as_pca_whitening_does(patches):
    """Eigenvalue lam comes out as lam / (lam + epsilon), rotated back: the covariance is
    U diag(lam / (lam + epsilon)) U^T."""
    zca = ZCAWhitening(epsilon=0.1).fit(patches)
    U, lam = zca.eigenvectors_, zca.explained_variance_
    np.testing.assert_allclose(covariance(zca.transform(patches)),
                               (U * (lam / (lam + 0.1))) @ U.T, atol=1e-9)


@pytest.mark.parametrize("name", ["pca", "pca-white", "zca"])
def test_streamed_fit_equals_whole_fit(tmp_path, patches, name, monkeypatch):
    np.save(tmp_path / "p.npy", patches)
    whole = make_whitening(name).fit(patches)
    streamed = make_whitening(name)
    for start in range(0, 1000, 130):
        streamed.partial_fit(patches[start : start + 130])
    np.testing.assert_allclose(streamed.transform(patches), whole.transform(patches),
                               atol=1e-9)
    transform = make_whitening(name)
    decompose, calls = transform._decompose, []
    monkeypatch.setattr(transform, "_decompose", lambda: calls.append(1) or decompose())
    rows = Rows(NpyFile(tmp_path / "p.npy")).fit_transform(transform)
    np.testing.assert_allclose(rows.to_array(), whole.transform(patches), atol=1e-9)
    assert len(calls) == 1  # once, not once per chunk


def test_in_a_pipeline_before_the_autoencoder(patches):
    pipe = make_pipeline(ZCAWhitening(), SparseAutoencoder(16, decoder="linear", max_iter=20,
                                                           random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        H = pipe.fit_transform(patches)
    assert H.shape == (1000, 16)


def test_bad_settings():
    with pytest.raises(ValueError, match="retain_variance must be in"):
        PCA(retain_variance=1.5).fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        ZCAWhitening(epsilon=-1).fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match=r"n_components must be in \[1, 3\], got 4"):
        PCAWhitening(n_components=4).fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="no rows to fit on"):
        ZCAWhitening().fit_chunks([])
    with pytest.raises(ValueError, match="unknown whitening"):
        make_whitening("pcaa")


def test_make_whitening_passes_on_its_settings():
    """The command line's --retain-variance and --epsilon reach the transform it makes."""
    assert make_whitening("pca", retain_variance=0.9, epsilon=0.5).get_params() == {
        "retain_variance": 0.9, "n_components": None}
    assert make_whitening("pca-white", retain_variance=0.9, epsilon=0.5).get_params() == {
        "retain_variance": 0.9, "epsilon": 0.5, "n_components": None}
    assert make_whitening("zca", retain_variance=0.9, epsilon=0.5).get_params() == {
        "epsilon": 0.5}


def test_pca_of_constant_data_keeps_as_many_components_as_it_has_features():
    """No variance to retain: every component is kept, and says so by its count and names
    (as many as the columns transform gives)."""
    pca = PCA().fit(np.full((5, 3), 2.0))
    assert pca.n_components_ == 3
    assert list(pca.get_feature_names_out()) == ["pca0", "pca1", "pca2"]
    np.testing.assert_array_equal(pca.transform(np.full((2, 3), 2.0)), np.zeros((2, 3)))


def test_pca_whitening_inverts_to_the_pca_reconstruction(patches):
    white, pca = PCAWhitening().fit(patches), PCA().fit(patches)
    np.testing.assert_allclose(white.inverse_transform(white.transform(patches)),
                               pca.inverse_transform(pca.transform(patches)), atol=1e-10)
    everything = PCAWhitening(n_components=64).fit(patches)
    np.testing.assert_allclose(everything.inverse_transform(everything.transform(patches)),
                               patches, atol=1e-10)


@pytest.mark.parametrize("cls", [PCA, PCAWhitening, ZCAWhitening])
def test_inverse_transform_checks_its_input(cls, patches):
    model = cls().fit(patches[:200])
    width = 64 if cls is ZCAWhitening else model.n_components_
    with pytest.raises(ValueError, match=f"X has 3 columns; {cls.__name__}.inverse_transform "
                                         f"takes {width}"):
        model.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.inverse_transform(np.full((1, width), np.nan))


@pytest.mark.parametrize("make", [lambda: ZCAWhitening(epsilon=0.0),
                                  lambda: PCAWhitening(epsilon=0.0, n_components=4)])
def test_whitening_a_direction_of_no_variance_is_an_error(make):
    X = np.random.default_rng(0).random((3, 4))  # 3 samples: rank 2 at most
    with pytest.raises(ValueError, match="direction of no variance.*use epsilon > 0"):
        make().fit(X)
    assert np.isfinite(ZCAWhitening(epsilon=0.1).fit(X).transform(X)).all()


@pytest.mark.parametrize("make", [lambda: ZCAWhitening(epsilon=0.0),
                                  lambda: PCAWhitening(epsilon=0.0, n_components=8)])
def test_a_repeated_feature_is_a_direction_of_no_variance_though_eigh_rounds_it(make):
    """Feature 7 is 3 times feature 0: ``eigh`` gives that direction 2.3e-16 of the largest
    variance, one ``eps`` above the old tolerance, and the transform multiplied it by 2e7
    (a change of 1e-3 in feature 0 came out as 2e4)."""
    X = np.random.default_rng(30).normal(size=(50, 8))
    X[:, 7] = 3 * X[:, 0]
    with pytest.raises(ValueError, match="direction of no variance.*use epsilon > 0"):
        make().fit(X)


@pytest.mark.parametrize("cls", [PCAWhitening, ZCAWhitening])
def test_inverse_transform_inverts_the_fitted_transform_whatever_set_params_did(cls, patches):
    """It read epsilon afresh: after set_params(epsilon=10) it was off by up to 5.5."""
    model = cls(epsilon=0.1).fit(patches)
    if cls is PCAWhitening:
        model = cls(epsilon=0.1, n_components=64).fit(patches)
    white = model.transform(patches)
    model.set_params(epsilon=10.0)
    np.testing.assert_allclose(model.inverse_transform(white), patches, atol=1e-10)


@pytest.mark.parametrize("model", [ZCAWhitening(epsilon=-1), PCA(n_components=9),
                                   ZCAWhitening(epsilon=0.0)])
def test_a_fit_that_fails_leaves_the_transform_as_it_was(model):
    """Unfitted, it stays unfitted (NotFittedError, not an AttributeError of a half-set state);
    fitted, it keeps its whole fit (not a new mean beside the old matrix)."""
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    few = rng.random((3, 4))  # (ZCA with epsilon 0: a direction of no variance)
    with pytest.raises(ValueError):
        model.fit(few)
    with pytest.raises(NotFittedError):
        model.transform(few)
    fitted = type(model)().fit(rng.random((50, 4)))
    before = {k: np.copy(v) for k, v in vars(fitted).items() if k.endswith("_")}
    with pytest.raises(ValueError):
        fitted.set_params(**model.get_params()).fit(few + 5.0)
    assert all(np.array_equal(v, getattr(fitted, k)) for k, v in before.items())


@pytest.mark.parametrize("cls", [PCA, PCAWhitening, ZCAWhitening])
def test_inverse_transform_checks_the_width_and_that_it_was_fitted(cls):
    """Unfitted, inverse_transform raised an AttributeError (n_components_, mean_), where
    transform raised scikit-learn's NotFittedError."""
    from sklearn.exceptions import NotFittedError

    X = np.random.default_rng(0).random((20, 4))
    with pytest.raises(NotFittedError, match=rf"^This {cls.__name__} instance is not fitted yet"):
        cls().inverse_transform(X)
    model = cls(n_components=3) if cls is not ZCAWhitening else cls()
    width = model.fit(X).transform(X).shape[1]
    with pytest.raises(ValueError, match=rf"^X has 5 columns; {cls.__name__}.inverse_transform "
                                         rf"takes {width}$"):
        model.inverse_transform(np.ones((2, 5)))


@pytest.mark.parametrize("cls", [UnitScaler, PatchNormalizer])
def test_a_scaler_fit_that_fails_leaves_the_scaler_as_it_was(cls):
    """The same for the scalers: a fit on data with NaN left ``n_features_in_`` (and a
    DataFrame's ``feature_names_in_``), so ``transform`` raised an AttributeError for
    ``data_max_`` or ``limit_`` and ``partial_fit`` expected the failed data's width; a failed
    refit dropped the earlier fit."""
    import pandas as pd
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    X = rng.random((20, 4))
    bad = pd.DataFrame(X, columns=list("abcd"))
    bad.iloc[3, 2] = np.nan
    for fit in ("fit", "partial_fit"):
        model = cls()
        with pytest.raises(ValueError, match=r"^the data contains NaN \(first at row 3, "
                                             r"column 2\)"):
            getattr(model, fit)(bad)
        assert vars(model) == {}
        with pytest.raises(NotFittedError):
            model.transform(X)
        assert model.partial_fit(X[:, :3]).n_features_in_ == 3  # not 4, the failed data's
    fitted = cls().fit(X)
    before = {k: np.copy(v) for k, v in vars(fitted).items()}
    with pytest.raises(ValueError, match="NaN"):
        fitted.fit(bad)
    assert vars(fitted).keys() == before.keys()
    assert all(np.array_equal(v, getattr(fitted, k)) for k, v in before.items())
    np.testing.assert_array_equal(fitted.transform(X), cls().fit(X).transform(X))


@pytest.mark.parametrize("model, message", [
    (ZCAWhitening(epsilon=np.inf), "epsilon must be >= 0 and finite, got inf"),
    (ZCAWhitening(epsilon="a"), "epsilon must be >= 0 and finite, got 'a'"),
    (PCA(n_components=2.5), "n_components must be a whole number of at least 1, got 2.5"),
    (PCA(retain_variance="x"), "retain_variance must be in"),
])
def test_parameters_of_the_wrong_kind_are_named(model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(np.random.default_rng(0).random((20, 4)))


@pytest.mark.parametrize("name", ["pca", "pca-white", "zca"])
def test_input_filters_act_on_the_input_as_the_filters_on_the_output(name, patches, rng):
    transform = make_whitening(name).fit(patches)
    W = rng.standard_normal((5, transform.transform(patches[:1]).shape[1]))
    np.testing.assert_allclose((patches - transform.mean_) @ transform.input_filters(W).T,
                               transform.transform(patches) @ W.T, atol=1e-9)
    with pytest.raises(ValueError, match=rf"^W has shape \(5, 3\); {type(transform).__name__}"
                                         rf"\.input_filters takes \(n_units, {W.shape[1]}\)"):
        transform.input_filters(W[:, :3])
