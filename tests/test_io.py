import io
import json
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


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SparseAutoencoder().save(tmp_path / "m.npz")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sparseae model file at"):
        sparseae.load(tmp_path / "nothing.npz")


def test_corrupt_file(tmp_path, model):
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a sparseae model"):
        sparseae.load(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="not a sparseae model"):
        sparseae.load(tmp_path / "text.npz")


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


def test_damaged_arrays(tmp_path, model):
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["b1"] = arrays["b1"][:-1]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="inconsistent shapes"):
        sparseae.load(tmp_path / "bad.npz")
    del arrays["W2"]
    np.savez(tmp_path / "bad2.npz", **arrays)
    with pytest.raises(ModelFileError, match="missing"):
        sparseae.load(tmp_path / "bad2.npz")
