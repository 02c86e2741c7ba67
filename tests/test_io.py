import errno
import io
import json
import os
import re
import stat
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sparseae
from sparseae import ModelFileError, SparseAutoencoder


@pytest.fixture
def model(patches):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseAutoencoder(n_hidden=9, max_iter=15, sparsity_target=0.05,
                                 activation="tanh", random_state=1).fit(patches)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_bit_for_bit(tmp_path, patches, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(n_hidden=4, max_iter=5, dtype=dtype, random_state=0).fit(patches)
    model.save(tmp_path / "m.npz")
    loaded = sparseae.load(tmp_path / "m.npz")
    for name in ("W1_", "b1_", "W2_", "b2_", "rho_hat_", "components_"):
        a, b = getattr(model, name), getattr(loaded, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert loaded.get_params() == model.get_params()
    assert loaded.loss_ == model.loss_ and loaded.loss_curve_ == model.loss_curve_
    assert loaded.n_iter_ == model.n_iter_ and loaded.n_features_in_ == 64
    np.testing.assert_array_equal(loaded.transform(patches), model.transform(patches))


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).uniform(size=(20, 3)), columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(n_hidden=2, max_iter=3, random_state=0).fit(X)
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]


def test_the_output_set_output_chose_survives(tmp_path, model, patches):
    pytest.importorskip("pandas")
    from sparseae.io import read_archive, write_archive

    plain = sparseae.load(model.save(tmp_path / "plain.npz"))
    assert type(plain.transform(patches)) is np.ndarray
    model.set_output(transform="pandas")
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert type(loaded.transform(patches)).__name__ == "DataFrame"
    assert list(loaded.transform(patches).columns) == list(model.get_feature_names_out())
    header, arrays = read_archive(tmp_path / "m.npz", {"sparseae.SparseAutoencoder": 1}, "model")
    header["transform_output"] = "excel"
    write_archive(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ModelFileError, match=r"is a damaged sparseae model \(ValueError: "
                                             r"transform_output is 'excel', not one of "):
        sparseae.load(tmp_path / "bad.npz")


def test_file_holds_no_pickled_object(tmp_path, model):
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}  # would raise if any array needed pickle
    assert all(a.dtype != object for a in arrays.values())
    header = json.loads(arrays["header"].tobytes())
    assert header["format"] == "sparseae.SparseAutoencoder"


def test_save_leaves_no_temporary_file(tmp_path, model):
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_saving_into_a_missing_folder_names_it(tmp_path, model):
    with pytest.raises(FileNotFoundError, match=f"no such folder: {tmp_path / 'no'} "
                       r"\(to write m.npz in\)"):
        model.save(tmp_path / "no" / "m.npz")


def test_saving_below_a_file_names_the_file_not_a_missing_folder(tmp_path, model):
    (tmp_path / "a.npy").write_text("x")
    for path in (tmp_path / "a.npy" / "m.npz", tmp_path / "a.npy" / "b" / "m.npz"):
        with pytest.raises(NotADirectoryError, match=re.escape(
                f"{tmp_path / 'a.npy'} is a file, not a folder (to write {path} in)") + "$"):
            model.save(path)


def test_a_file_that_cannot_be_made_is_named_not_its_temporary_twin(tmp_path, model,
                                                                    monkeypatch):
    import tempfile

    def refused(dir, prefix, suffix):  # (/proc, say, where os.access says yes)
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}x1y2{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError, match=rf"^\[Errno 13\] Permission denied: "
                                              rf"'{tmp_path / 'm.npz'}'$"):
        model.save(tmp_path / "m.npz")


def test_a_full_disk_is_said_of_the_file_that_could_not_be_written(tmp_path, model,
                                                                    monkeypatch):
    """Python's error for a write that found no space names no file ("[Errno 28] No space
    left on device"): it is said of the file being written, whose temporary twin goes."""
    from sparseae.cli import _text

    def full(file, **arrays):
        file.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError) as caught:
        model.save(tmp_path / "m.npz")
    assert _text(caught.value) == f"{tmp_path / 'm.npz'}: no space left on device"
    assert caught.value.errno == errno.ENOSPC
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("path", [None, 3, b"m.npz"])
def test_a_path_that_is_not_one_is_named(model, path):
    import io

    message = f"^a path is a string or a pathlib.Path, not {type(path).__name__}$"
    with pytest.raises(TypeError, match=message):
        model.save(path)
    with pytest.raises(TypeError, match=message):
        sparseae.load(path)
    with pytest.raises(TypeError, match="^a path is a string or a pathlib.Path, not BytesIO$"):
        sparseae.load(io.BytesIO(b"x"))


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SparseAutoencoder().save(tmp_path / "m.npz")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sparseae model file at"):
        sparseae.load(tmp_path / "nothing.npz")


def test_loading_a_folder_says_it_is_one(tmp_path):
    """Not "no sparseae model file at": there is something at the path, a folder."""
    with pytest.raises(IsADirectoryError, match=f"^{re.escape(str(tmp_path))} is a folder, not a "
                                                "sparseae model file$"):
        sparseae.load(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"^{re.escape(str(tmp_path))} is a folder, not a "
                                                "sparseae preprocessing file$"):
        sparseae.load_preprocessing(tmp_path)


def test_corrupt_file(tmp_path, model):
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a sparseae model"):
        sparseae.load(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match=r"not a sparseae model file \(not an .npz archive"):
        sparseae.load(tmp_path / "text.npz")


def test_an_npz_that_is_not_a_model_says_what_it_is(tmp_path, model):
    np.savez(tmp_path / "data.npz", X=np.ones((2, 2)), header=np.frombuffer(b"{x", np.uint8))
    np.savez(tmp_path / "plain.npz", X=np.ones((2, 2)))
    for name in ("data.npz", "plain.npz"):
        with pytest.raises(ModelFileError) as error:
            sparseae.load(tmp_path / name)
        assert str(error.value) == (f"{tmp_path / name} is not a sparseae model file (an .npz "
                                    "without sparseae's header)")
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError) as error:
        sparseae.load_preprocessing(tmp_path / "m.npz")
    assert str(error.value).endswith("(it is a sparseae.SparseAutoencoder file)")


def test_saved_files_take_the_usual_permissions(tmp_path, model):
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.npz").stat().st_mode) == 0o644


def test_foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", W1=np.zeros((2, 2)))
    with pytest.raises(ModelFileError, match="not a sparseae model"):
        sparseae.load(tmp_path / "other.npz")


def test_pickled_npz_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"format": "evil"}], dtype=object))
    (tmp_path / "evil.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a sparseae model"):
        sparseae.load(tmp_path / "evil.npz")


@pytest.mark.parametrize("change, problem", [
    (lambda a: {"b1": a["b1"][:-1]}, r"b1 has shape \(8,\), not \(9,\)"),
    (lambda a: {"W1": a["W1"].ravel()}, r"W1 has shape \(576,\), not \(n_hidden, n_features\)"),
    (lambda a: {"W2": a["W2"].astype(np.float32)}, "W2 is float32, not the model's float64"),
    (lambda a: {"W1": a["W1"].astype(str)}, "W1 is <U.*, not the model's float64"),
    (lambda a: {"b2": np.full_like(a["b2"], np.nan)}, "b2 holds NaN or infinity"),
    (lambda a: {"W2": a["W2"].T.copy()}, r"W2 has shape \(9, 64\), not \(64, 9\)"),
    (lambda a: {"b2": a["b2"][:-1]}, r"b2 has shape \(63,\), not \(64,\)"),
    (lambda a: {"rho_hat": a["rho_hat"][:-1]}, r"rho_hat has shape \(8,\), not \(9,\)"),
])
def test_damaged_arrays_are_named(tmp_path, model, change, problem):
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(tmp_path / "bad.npz", **{**arrays, **change(arrays)})
    with pytest.raises(ModelFileError, match=f"bad.npz is a damaged sparseae model: {problem}$"):
        sparseae.load(tmp_path / "bad.npz")


def test_missing_arrays_are_named(tmp_path, model):
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    del arrays["W2"]
    np.savez(tmp_path / "bad2.npz", **arrays)
    with pytest.raises(ModelFileError, match="missing"):
        sparseae.load(tmp_path / "bad2.npz")


# --- the preprocessing of a run ---


def _fitted_transforms(X):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from sparseae.data.scaling import PatchNormalizer, UnitScaler
    from sparseae.whitening import PCA, PCAWhitening, ZCAWhitening

    return [UnitScaler().fit(X), PatchNormalizer().fit(X), MinMaxScaler().fit(X),
            StandardScaler().fit(X), PCA(0.9).fit(X), PCAWhitening(n_components=5).fit(X),
            ZCAWhitening(epsilon=0.01).fit(X)]


@pytest.mark.parametrize("k", range(7))
def test_each_transform_round_trips(tmp_path, rng, k):
    X = rng.normal(size=(200, 12)) * rng.uniform(0.5, 4, size=12) + 3
    transform = _fitted_transforms(X)[k]
    sparseae.save_preprocessing(tmp_path / "p.npz", [transform])
    (name, loaded), = sparseae.load_preprocessing(tmp_path / "p.npz").steps
    assert type(loaded) is type(transform) and loaded.get_params() == transform.get_params()
    new = rng.normal(size=(30, 12))
    np.testing.assert_array_equal(loaded.transform(new), transform.transform(new))
    assert name == f"0-{type(transform).__name__.lower()}"


def test_a_loaded_whitening_transforms_but_does_not_go_on_fitting(tmp_path, rng):
    from sparseae.whitening import ZCAWhitening

    X = rng.normal(size=(100, 5))
    sparseae.save_preprocessing(tmp_path / "p.npz", [ZCAWhitening().partial_fit(X)])
    (_, loaded), = sparseae.load_preprocessing(tmp_path / "p.npz").steps
    assert loaded.transform(X).shape == (100, 5)
    with pytest.raises(ValueError, match="^this ZCAWhitening was loaded from a file and can only "
                                         "transform; fit a new one to go on fitting$"):
        loaded.partial_fit(X)
    assert loaded.fit(X).transform(X).shape == (100, 5)  # a new fit starts afresh


def test_preprocessing_applies_its_steps_in_order(tmp_path, rng):
    from sklearn.pipeline import make_pipeline

    from sparseae.data.scaling import UnitScaler
    from sparseae.whitening import ZCAWhitening

    X = rng.uniform(2, 5, size=(300, 6))
    scaler = UnitScaler().fit(X)
    zca = ZCAWhitening().fit(scaler.transform(X))
    sparseae.save_preprocessing(tmp_path / "p.npz", [scaler, zca])
    with np.load(tmp_path / "p.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
    preprocessing = sparseae.load_preprocessing(tmp_path / "p.npz")
    np.testing.assert_allclose(preprocessing.transform(X), zca.transform(scaler.transform(X)),
                               rtol=0, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(3, max_iter=3, decoder="linear", random_state=0)
        model.fit(zca.transform(scaler.transform(X)))
    np.testing.assert_array_equal(make_pipeline(preprocessing, model).transform(X),
                                  model.transform(preprocessing.transform(X)))


def test_no_preprocessing_passes_samples_through(tmp_path, rng):
    sparseae.save_preprocessing(tmp_path / "p.npz", [])
    X = rng.normal(size=(4, 3))
    np.testing.assert_array_equal(sparseae.load_preprocessing(tmp_path / "p.npz").transform(X), X)


def test_preprocessing_fitted_on_a_dataframe_loads_without_a_warning(tmp_path, rng):
    """Loading passes a sample through each step, which has no feature names."""
    pd = pytest.importorskip("pandas")
    from sklearn.preprocessing import StandardScaler

    X = pd.DataFrame(rng.normal(size=(20, 3)), columns=["a", "b", "c"])
    sparseae.save_preprocessing(tmp_path / "p.npz", [StandardScaler().fit(X)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = sparseae.load_preprocessing(tmp_path / "p.npz")
    assert list(loaded.steps[0][1].feature_names_in_) == ["a", "b", "c"]


def test_the_output_set_output_chose_survives_in_preprocessing(tmp_path, rng):
    """As a model's (test_the_output_set_output_chose_survives): it was dropped, and the
    loaded steps gave arrays."""
    pytest.importorskip("pandas")
    from sparseae.data.scaling import UnitScaler
    from sparseae.io import read_archive, write_archive
    from sparseae.whitening import PCA

    X = rng.uniform(2, 5, size=(50, 4))
    scaler = UnitScaler().fit(X).set_output(transform="pandas")
    pca = PCA(n_components=2).fit(X)  # set_output not called: arrays
    sparseae.save_preprocessing(tmp_path / "p.npz", [scaler, pca])
    (_, loaded_scaler), (_, loaded_pca) = sparseae.load_preprocessing(tmp_path / "p.npz").steps
    scaled = loaded_scaler.transform(X)
    assert type(scaled).__name__ == "DataFrame"
    assert list(scaled.columns) == ["x0", "x1", "x2", "x3"]
    np.testing.assert_array_equal(scaled.to_numpy(), scaler.transform(X).to_numpy())
    assert type(loaded_pca.transform(X)) is np.ndarray
    header, arrays = read_archive(tmp_path / "p.npz", {"sparseae.Preprocessing": 1}, "file")
    assert [step.get("transform_output") for step in header["steps"]] == ["pandas", None]
    header["steps"][0]["transform_output"] = "excel"
    write_archive(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError) as error:
        sparseae.load_preprocessing(tmp_path / "bad.npz")
    assert str(error.value) == (f"{tmp_path / 'bad.npz'} is a damaged sparseae preprocessing "
                                "file (the UnitScaler's transform_output is 'excel', not one "
                                "of ['default', 'pandas', 'polars'])")


def test_preprocessing_refuses_what_it_cannot_rebuild(tmp_path, rng):
    from sklearn.preprocessing import Normalizer

    with pytest.raises(TypeError, match="cannot save a Normalizer as preprocessing"):
        sparseae.save_preprocessing(tmp_path / "p.npz", [Normalizer().fit(rng.normal(size=(4, 3)))])
    assert not (tmp_path / "p.npz").exists()
    header = {"format": "sparseae.Preprocessing", "version": 1,
              "steps": [{"class": "os.system", "params": {}, "scalars": {}, "arrays": []}]}
    from sparseae.io import write_archive

    write_archive(tmp_path / "evil.npz", header, {})
    with pytest.raises(ValueError, match="damaged sparseae preprocessing file .*'os.system'"):
        sparseae.load_preprocessing(tmp_path / "evil.npz")
    np.savez(tmp_path / "other.npz", limit_=np.ones(1))
    with pytest.raises(ValueError, match="not a sparseae preprocessing file"):
        sparseae.load_preprocessing(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no sparseae preprocessing file at"):
        sparseae.load_preprocessing(tmp_path / "nothing.npz")


@pytest.mark.parametrize("change, problem", [
    (lambda h, a: a.update({"1.whitening_": a["1.whitening_"][:3, :3]}),
     r"step 1-zcawhitening: it cannot transform a sample \(ValueError: "),
    (lambda h, a: a.update({"1.mean_": a["1.mean_"][:3]}), "step 1-zcawhitening: it cannot "),
    (lambda h, a: a.update({"1.whitening_": np.full((4, 4), np.nan)}),
     r"\(ZCAWhitening.whitening_ holds NaN or infinity\)"),
    (lambda h, a: h["steps"][0]["scalars"].update(data_max_=float("nan")),
     r"\(UnitScaler.data_max_ holds NaN or infinity\)"),
    (lambda h, a: h["steps"][0]["scalars"].update(data_min_="zero"),
     "step 0-unitscaler: it cannot transform a sample"),
    (lambda h, a: h["steps"][1]["arrays"].remove("whitening_"),
     r"step 1-zcawhitening: it cannot transform a sample \(AttributeError: "),
    (lambda h, a: h["steps"][1].update(params=None), r"\(the params of ZCAWhitening are None\)"),
    (lambda h, a: h["steps"][1].update(scalars=[1]), r"\(the scalars of ZCAWhitening are \[1\]\)"),
    (lambda h, a: h.update(steps={"a": 1}), r"\(steps is \{'a': 1\}, not a list\)"),
    (lambda h, a: (h["steps"][1]["arrays"].append("transform"),
                   a.update({"1.transform": np.ones(1)})),
     r"\(ZCAWhitening has no fitted attribute 'transform'\)"),
    (lambda h, a: h["steps"][1]["scalars"].update(n_features_in_=3),
     "step 1-zcawhitening: it takes 3 features, and the step before gives 4"),
])
def test_a_damaged_preprocessing_file_is_named_when_it_is_loaded(tmp_path, rng, change,
                                                                  problem):
    """Loaded without a check, these failed inside NumPy when used, or gave NaN, or no error."""
    from sparseae.data.scaling import UnitScaler
    from sparseae.io import read_archive, write_archive
    from sparseae.whitening import ZCAWhitening

    X = rng.uniform(size=(50, 4))
    sparseae.save_preprocessing(tmp_path / "p.npz", [UnitScaler().fit(X), ZCAWhitening().fit(X)])
    header, arrays = read_archive(tmp_path / "p.npz", {"sparseae.Preprocessing": 1}, "file")
    change(header, arrays)
    write_archive(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError, match=f"bad.npz is a damaged sparseae preprocessing file .*"
                                         f"{problem}"):
        sparseae.load_preprocessing(tmp_path / "bad.npz")


def test_features_are_written_chunk_by_chunk_and_never_half(tmp_path, rng, model, monkeypatch):
    from sparseae.data import Rows
    from sparseae.data import rows as rows_module
    from sparseae.io import write_features

    X = rng.uniform(size=(1000, 64))
    monkeypatch.setattr(rows_module, "DEFAULT_CHUNK_BYTES", 64 * 8 * 300)  # 300 rows a chunk
    path = write_features(model, Rows(X), tmp_path / "f.npy")
    # the BLAS may round a 100-row product differently from a 1000-row one: 1 ulp
    np.testing.assert_allclose(np.load(path), model.transform(X), rtol=1e-14, atol=0)
    calls = []

    def failing(X):
        calls.append(len(X))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return model.transform(X)

    monkeypatch.setattr(model, "transform", failing)
    with pytest.raises(KeyboardInterrupt):
        write_features(model, Rows(X), tmp_path / "g.npy")
    assert calls == [300, 300, 300]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy"]


def test_the_features_of_a_float32_model_are_float32(tmp_path, rng):
    """``write_features`` writes what ``transform`` gives, in the model's dtype: a float32
    model's features are not widened (nor doubled in size) on disk."""
    from sparseae.io import write_features

    X = rng.uniform(size=(40, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(n_hidden=3, max_iter=2, dtype="float32", random_state=0).fit(X)
    features = np.load(write_features(model, X, tmp_path / "f.npy"))
    assert features.dtype == np.float32 and features.shape == (40, 3)
    np.testing.assert_array_equal(features, model.transform(X))


def test_numpy_scalar_parameters_are_saved_as_numbers(tmp_path):
    X = np.random.default_rng(0).uniform(0.1, 0.9, (20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(np.int64(2), weight_decay=np.float32(1e-3), max_iter=3,
                                  random_state=0).fit(X)
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert loaded.n_hidden == 2 and type(loaded.n_hidden) is int
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


@pytest.fixture(scope="module")
def classifiers():
    """A network classifier with string labels and a softmax regression, briefly trained."""
    from sparseae import NetworkClassifier, SoftmaxRegression

    rng = np.random.default_rng(0)
    X = rng.random((60, 5))
    labels = np.array(["cat", "dog", "eel"], dtype=object)[(X[:, 0] * 3).astype(int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return X, [
            NetworkClassifier((4, 3), activation="tanh", max_iter=20, random_state=0,
                              early_stopping=True).fit(X, labels),
            SoftmaxRegression(weight_decay=1e-3, max_iter=20).fit(X, (X[:, 1] > 0.5)),
        ]


@pytest.mark.parametrize("which", [0, 1])
def test_a_classifier_round_trips_bit_for_bit(tmp_path, classifiers, which):
    X, models = classifiers
    model = models[which]
    loaded = sparseae.load(model.save(tmp_path / "c.npz"))
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.classes_.dtype == model.classes_.dtype
    assert loaded.loss_curve_ == model.loss_curve_ and loaded.loss_ == model.loss_
    assert (loaded.n_iter_, loaded.n_features_in_) == (model.n_iter_, 5)
    assert loaded.stop_reason_ == model.stop_reason_ is not None
    assert hasattr(loaded, "validation_loss_curve_") == (which == 0)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:  # plain arrays only
        assert sorted(npz.files) == sorted(
            ["header", "classes", "loss_curve", *[f"{a}{k}" for k in
                                                   range(1, len(model.layers_) + 1)
                                                   for a in "Wb"]]
            + ["validation_loss_curve"] * (which == 0))


@pytest.mark.parametrize("change, problem", [
    (lambda a: {"W2": a["W2"][:, :-1]}, r"W2 has shape \(3, 3\), not \(3, 4\)"),
    (lambda a: {"b3": a["b3"].astype(np.float32)}, "b3 is float32, not float64"),
    (lambda a: {"W1": np.full_like(a["W1"], np.inf)}, "W1 holds NaN or infinity"),
    (lambda a: {"classes": a["classes"][:1]}, r"classes has shape \(1,\), not \(n_classes,\) "
                                              "with at least 2"),
    (lambda a: {"classes": a["classes"][:2]}, r"W3 has shape \(3, 3\), not \(2, 3\)"),
    (lambda a: {"classes": a["classes"][[0, 0, 1]]}, "classes holds a label twice"),
    (lambda a: {"W4": a["W3"], "b4": a["b3"]}, "W4, b4 beyond its 3 layers"),  # one layer more
])
def test_a_damaged_classifier_is_named(tmp_path, classifiers, change, problem):
    classifiers[1][0].save(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(tmp_path / "bad.npz", **{**arrays, **change(arrays)})
    with pytest.raises(ModelFileError, match=f"bad.npz is a damaged sparseae model: {problem}$"):
        sparseae.load(tmp_path / "bad.npz")
    arrays.pop("b2")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="bad.npz is a damaged sparseae model: b2 missing$"):
        sparseae.load(tmp_path / "bad.npz")


def test_a_classifier_that_load_would_refuse_is_not_saved(tmp_path, classifiers):
    import copy

    model = classifiers[1][0]  # hidden layers (4, 3)
    for change, problem in [
            (lambda m: m.set_params(hidden_layer_sizes=(5, 3)),
             r"cannot save this model: W1 has shape \(4, 5\), not \(5, 5\)"),
            (lambda m: m.layers_[0].W.__setitem__((0, 0), np.nan),
             "cannot save this model: W1 holds NaN or infinity"),
            (lambda m: m.set_params(activation="bogus"), "activation")]:
        broken = copy.deepcopy(model)
        change(broken)
        with pytest.raises(ValueError, match=problem):
            broken.save(tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())


def test_a_loaded_model_was_interrupted_if_its_run_was(tmp_path, model, classifiers):
    import copy

    for fitted in (model, classifiers[1][0]):
        stopped = copy.deepcopy(fitted)
        stopped.stop_reason_ = "interrupted"
        assert sparseae.load(stopped.save(tmp_path / "m.npz")).interrupted_
        assert not sparseae.load(fitted.save(tmp_path / "m.npz")).interrupted_


def test_a_classifier_header_naming_another_estimator_is_refused(tmp_path, classifiers):
    from sparseae.io import read_archive, write_archive

    classifiers[1][1].save(tmp_path / "c.npz")
    header, arrays = read_archive(tmp_path / "c.npz", {"sparseae.NetworkClassifier": 1}, "model")
    write_archive(tmp_path / "bad.npz", {**header, "estimator": "MLPClassifier"}, arrays)
    with pytest.raises(ModelFileError, match="damaged sparseae model .*unknown estimator "
                                             "'MLPClassifier'"):
        sparseae.load(tmp_path / "bad.npz")


def test_only_sparseae_models_are_saved(tmp_path):
    from sklearn.decomposition import PCA

    from sparseae import StackedAutoencoderClassifier

    with pytest.raises(TypeError, match="sparseae saves a SparseAutoencoder, a NetworkClassifier "
                                        "or a SoftmaxRegression, not a PCA$"):
        sparseae.save(PCA().fit(np.eye(3)), tmp_path / "p.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stack = StackedAutoencoderClassifier((2,), max_iter=2, finetune_max_iter=2,
                                             random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="not a StackedAutoencoderClassifier; save its network_ "
                                        "and its autoencoders_, each a model of its own$"):
        sparseae.save(stack, tmp_path / "s.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("change, problem", [
    (lambda h, a: h.pop("loss"), "KeyError: 'loss'"),
    (lambda h, a: h["params"].update(new_param=1), "new_param"),
    (lambda h, a: h["params"].update(activation="bogus"), "activation"),
    (lambda h, a: h.update(params=[1, 2]), "TypeError: "),
    (lambda h, a: h.update(params=None), "TypeError: "),
    (lambda h, a: h.update(n_iter="3"), "ValueError: n_iter is '3', not a number of iterations"),
    (lambda h, a: h.update(n_iter=-1), "ValueError: n_iter is -1, not a number of iterations"),
    (lambda h, a: a.update(loss_curve=np.ones((2, 2))),
     r"ValueError: loss_curve has shape \(2, 2\), not \(iterations,\)"),
    (lambda h, a: a.update(feature_names_in=np.array(["a", "b"])),
     r"ValueError: feature_names_in has shape \(2,\), but n_features_in is \d+\)$"),
])
@pytest.mark.parametrize("which", ["autoencoder", "classifier"])
def test_a_damaged_header_is_a_model_file_error(tmp_path, model, classifiers, which, change,
                                                problem):
    from sparseae.io import read_archive, write_archive

    fitted = model if which == "autoencoder" else classifiers[1][0]
    fitted.save(tmp_path / "m.npz")
    header, arrays = read_archive(tmp_path / "m.npz", {"sparseae.SparseAutoencoder": 1,
                                                       "sparseae.NetworkClassifier": 1}, "model")
    change(header, arrays)
    write_archive(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ModelFileError, match=f"is a damaged sparseae model .*{problem}"):
        sparseae.load(tmp_path / "bad.npz")


def test_labels_load_as_the_kind_of_array_they_were(tmp_path):
    from sparseae import SoftmaxRegression

    X = np.random.default_rng(0).random((30, 3))
    for labels in (np.array(["a", "b", "c"] * 10), np.array(["a", "b", "c"] * 10, object)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SoftmaxRegression(max_iter=2).fit(X, labels)
        loaded = sparseae.load(model.save(tmp_path / "m.npz"))
        assert loaded.classes_.dtype == model.classes_.dtype == labels.dtype
        assert loaded.predict(X).dtype == labels.dtype


@pytest.mark.parametrize("labels, cut", [(["a", "a\0"], "a\0"), (["a\0\0", "b"], "a\0\0")])
def test_labels_ending_in_nul_which_the_file_would_drop_are_refused(tmp_path, labels, cut):
    """NumPy's strings drop trailing NULs: 'a' and 'a\\0' were refused as 'classes holds a label
    twice', and a lone 'a\\0\\0' loaded as 'a', the label predict then gave."""
    from sparseae import SoftmaxRegression

    X = np.random.default_rng(0).random((30, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(max_iter=2).fit(X, np.array(labels * 15, dtype=object))
    with pytest.raises(ValueError) as error:
        model.save(tmp_path / "m.npz")
    assert str(error.value) == (f"cannot save this model: its label {cut!r} ends in a "
                                "NUL character, which the file would drop: it would load as "
                                "'a'; relabel it")
    assert not (tmp_path / "m.npz").exists()


def test_string_labels_of_a_file_from_before_their_kind_was_kept_load_as_objects(tmp_path):
    """Files saved before ``classes_object`` was written: their labels, strings, were Python
    objects (pandas' strings), and load as objects."""
    from sparseae import SoftmaxRegression
    from sparseae.io import read_archive, write_archive

    X = np.random.default_rng(0).random((30, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(max_iter=2).fit(X, np.array(["a", "b", "c"] * 10))
    header, arrays = read_archive(model.save(tmp_path / "m.npz"),
                                  {"sparseae.NetworkClassifier": 1}, "model")
    del header["classes_object"]
    write_archive(tmp_path / "old.npz", header, arrays)
    loaded = sparseae.load(tmp_path / "old.npz")
    assert loaded.classes_.dtype == object and list(loaded.classes_) == ["a", "b", "c"]


def test_a_loaded_model_has_every_fitted_attribute(tmp_path, model):
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert loaded.interrupted_ is False and loaded.chunk_rows_ is None
    assert loaded.stop_reason_ == model.stop_reason_ == "iteration limit reached"
    from sparseae.io import read_archive, write_archive

    header, arrays = read_archive(tmp_path / "m.npz", {"sparseae.SparseAutoencoder": 1}, "model")
    del header["stop_reason"]  # as in a file saved before it was kept
    write_archive(tmp_path / "old.npz", header, arrays)
    assert sparseae.load(tmp_path / "old.npz").stop_reason_ is None


def test_saving_over_a_folder_names_it(tmp_path, model):
    with pytest.raises(IsADirectoryError, match=f"^{tmp_path} is a folder: give the file to "
                                                "write$"):
        model.save(tmp_path)


def test_a_save_writes_through_a_link_and_never_over_a_device_or_a_pipe(tmp_path, model):
    (tmp_path / "models").mkdir()
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "models" / "m.npz")
    model.save(link)
    assert link.is_symlink() and sparseae.load(tmp_path / "models" / "m.npz").n_hidden == 9
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(FileExistsError, match=r"pipe is not a regular file \(a device or a "
                                              r"pipe, say\)"):
        model.save(tmp_path / "pipe")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    with pytest.raises(IsADirectoryError, match="new/ names a folder: give the file to write"):
        model.save(f"{tmp_path}/new/")
    assert not (tmp_path / "new").exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["latest.npz", "models", "pipe"]


def test_an_autoencoder_whose_n_hidden_disagrees_with_its_weights_is_not_saved(tmp_path,
                                                                               model):
    import copy

    broken = copy.deepcopy(model).set_params(n_hidden=30)
    with pytest.raises(ValueError, match="^cannot save this model: W1 has 9 rows, but n_hidden "
                                         "is 30$"):
        broken.save(tmp_path / "m.npz")


def test_a_replaced_file_keeps_its_permissions_and_a_loop_of_links_is_named(tmp_path, model):
    private = tmp_path / "private.npz"
    private.write_bytes(b"")
    private.chmod(0o600)
    model.save(private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="a is a loop of symbolic links: give the path of a file"):
        model.save(tmp_path / "a")


def test_a_loop_of_links_is_named_and_kept_with_path_resolve_as_python_3_13_has_it(
        tmp_path, model, monkeypatch):
    """From Python 3.13, ``Path.resolve()`` gives a loop of links back as it is, where it
    raised RuntimeError before: saving then replaced the link with the file, in silence."""
    import pathlib

    monkeypatch.setattr(pathlib.Path, "resolve",
                        lambda self, strict=False: type(self)(os.path.realpath(self)))
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="a is a loop of symbolic links: give the path of a file"):
        model.save(tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_unfitted_preprocessing_is_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    from sparseae.whitening import PCA

    with pytest.raises(NotFittedError):
        sparseae.save_preprocessing(tmp_path / "p.npz", [PCA()])


def rewritten(tmp_path, **changes):
    """A saved model whose header has ``changes``."""
    from sparseae.io import read_archive, write_archive

    model = SparseAutoencoder(3, max_iter=3, random_state=0)
    model.fit(np.random.default_rng(0).random((50, 4))).save(tmp_path / "m.npz")
    header, arrays = read_archive(tmp_path / "m.npz", {"sparseae.SparseAutoencoder": 1}, "model")
    write_archive(tmp_path / "changed.npz", {**header, **changes}, arrays)
    return tmp_path / "changed.npz"


@pytest.mark.parametrize("version, said", [(2, "of format version 2"),
                                           ("1", 'of format version "1"'),
                                           (True, "of format version true"),
                                           (None, "with no format version")])
def test_a_newer_or_damaged_format_version_is_refused(tmp_path, version, said):
    with pytest.raises(ModelFileError, match=f"model file {said}; this sparseae reads "
                                             "version 1$"):
        sparseae.load(rewritten(tmp_path, version=version))


@pytest.mark.parametrize("n_features_in", [5, "4", 4.0, None])
def test_a_header_that_disagrees_with_the_arrays_is_refused(tmp_path, n_features_in):
    with pytest.raises(ModelFileError, match=f"W1 has 4 columns, but the header says "
                                             f"n_features_in is {n_features_in!r}$"):
        sparseae.load(rewritten(tmp_path, n_features_in=n_features_in))


def test_a_float32_model_loads_as_float32_and_a_numpy_seed_is_kept(tmp_path):
    model = SparseAutoencoder(3, max_iter=3, dtype="float32", random_state=np.int64(7))
    model.fit(np.random.default_rng(0).random((50, 4))).save(tmp_path / "m.npz")
    loaded = sparseae.load(tmp_path / "m.npz")
    assert loaded.random_state == 7 and type(loaded.random_state) is int
    assert loaded.W1_.dtype == np.float32
    assert loaded.transform(np.ones((2, 4))).dtype == np.float32


def test_a_corrupted_zip_is_a_model_file_error(tmp_path, model):
    model.save(tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last entry of the zip's central directory
    data[central + 10] = 99  # its compression method: one zipfile cannot read
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="bad.npz is not a sparseae model file"):
        sparseae.load(tmp_path / "bad.npz")


def test_nan_in_a_later_chunk_is_named_by_its_row_and_nothing_is_written(tmp_path):
    from sparseae.data import Rows
    from sparseae.io import write_features

    X = np.random.default_rng(0).random((20, 4))
    model = SparseAutoencoder(3, max_iter=2, solver="gd", random_state=0).fit(X)
    X[13, 2] = np.nan

    class SmallChunks(Rows):
        def default_chunk(self):
            return 4

    with pytest.raises(ValueError, match=r"NaN \(first at row 13, column 2\)"):
        write_features(model, SmallChunks(X), tmp_path / "f.npy")
    assert not (tmp_path / "f.npy").exists()


def test_a_random_state_object_is_saved_as_none(tmp_path):
    X = np.random.default_rng(0).random((50, 4))
    model = SparseAutoencoder(3, max_iter=3, random_state=np.random.RandomState(0)).fit(X)
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_model_with_a_callback_is_saved_without_it(tmp_path):
    X = np.random.default_rng(0).random((50, 4))
    seen = []
    model = SparseAutoencoder(3, max_iter=3, random_state=0,
                              callback=lambda i, cost: seen.append(i)).fit(X)
    loaded = sparseae.load(model.save(tmp_path / "m.npz"))
    assert seen == [1, 2, 3] and loaded.callback is None
    assert loaded.get_params() == {**model.get_params(), "callback": None}


def test_the_held_out_curve_of_early_stopping_is_saved(tmp_path, patches, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stopped = SparseAutoencoder(n_hidden=9, max_iter=12, early_stopping=True,
                                    random_state=0).fit(patches)
    loaded = sparseae.load(stopped.save(tmp_path / "stopped.npz"))
    assert len(stopped.validation_loss_curve_) == 12
    assert loaded.validation_loss_curve_ == stopped.validation_loss_curve_
    assert not hasattr(sparseae.load(model.save(tmp_path / "m.npz")), "validation_loss_curve_")
