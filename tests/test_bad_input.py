"""Every bad input gets a clear error that names the problem."""

import re

import numpy as np
import pytest
from scipy.io import savemat
from sklearn.exceptions import ConvergenceWarning

from sparseae import (
    NetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoderClassifier,
)
from sparseae.data import image_patches, load, read_images, sample_patches
from sparseae.whitening import PCA, PCAWhitening, ZCAWhitening

X = np.random.default_rng(0).uniform(size=(20, 4))


@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinity"),
                                         (-np.inf, "infinity")])
def test_nan_and_inf_are_named_with_their_position(value, kind):
    bad = X.copy()
    bad[3, 1] = value
    message = rf"^the data contains {kind} \(first at row 3, column 1\)$"
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(n_hidden=2, max_iter=2).fit(bad)
    with pytest.warns(ConvergenceWarning):
        model = SparseAutoencoder(n_hidden=2, max_iter=2).fit(X)
    for use in (model.transform, model.reconstruct, model.cost, model.score):
        with pytest.raises(ValueError, match=message):
            use(bad)
    with pytest.raises(ValueError, match=rf"^H contains {kind} \(first at row 3, column 1\)$"):
        model.inverse_transform(bad[:, :2])


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_number_beyond_float32_is_not_called_infinity_alone():
    bad = X.copy()
    bad[3, 1] = 1e39  # finite in float64
    with pytest.raises(ValueError, match=r"^the data contains infinity \(first at row 3, "
                                         r"column 1\); if the data was converted to float32, "
                                         r"a value beyond its range, 3\.4e\+38, became "
                                         r"infinity$"):
        SparseAutoencoder(n_hidden=2, max_iter=2, dtype="float32").fit(bad)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("streamed", [False, True])
def test_a_number_beyond_float32_in_a_file_is_named_in_memory_and_streamed(tmp_path, monkeypatch,
                                                                           streamed):
    """A file's rows are checked as they are trained, in float32: read in float64 for the
    check, 1e39 passed it streamed ("the cost is not finite at the initial weights") and was
    called plain infinity in memory."""
    from sparseae import training
    from sparseae.data import NpyFile, Rows
    from sparseae.objective import Spec

    monkeypatch.setattr(training, "resident_bytes", lambda: 0)
    bad = X.copy()
    bad[13, 2] = 1e39
    np.save(tmp_path / "x.npy", bad)
    budget = 2 * 5 * training.bytes_per_row(4, 2, 4, "copied") if streamed else None
    problem = training.Problem(Rows(NpyFile(tmp_path / "x.npy")), Spec(), 2, np.float32,
                               memory_budget=budget)
    assert problem.in_memory is not streamed and problem.chunk_rows == (5 if streamed else 20)
    message = (r"^the data contains infinity \(first at row 13, column 2\); if the data was "
               r"converted to float32, a value beyond its range, 3\.4e\+38, became infinity$")
    with pytest.raises(ValueError, match=message):
        training.Problem(Rows(NpyFile(tmp_path / "x.npy")), Spec(), 2, np.float32,
                         memory_budget=budget, check_finite=True)
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(n_hidden=2, max_iter=2, dtype="float32",
                          memory_budget=budget).fit(NpyFile(tmp_path / "x.npy"))


@pytest.mark.parametrize("row, col", [(0, 0), (3494, 299), (3495, 0), (4999, 7)])
def test_value_range_finds_the_first_bad_value_in_any_block_of_rows(row, col):
    from sparseae.data.rows import value_range

    big = np.random.default_rng(0).random((5000, 300))  # searched 3495 rows at a time
    assert value_range(big) == (big.min(), big.max())
    big[row, col] = -np.inf
    big[4999, 299] = np.nan  # a later one is not the first
    with pytest.raises(ValueError, match=rf"^the data contains infinity \(first at row "
                                         rf"{100 + row}, column {col}\)$"):
        value_range(big, first_row=100)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", [
    SoftmaxRegression(max_iter=2), NetworkClassifier((3,), max_iter=2),
    StackedAutoencoderClassifier((3,), max_iter=2, finetune_max_iter=2), PCA(), PCAWhitening(),
    ZCAWhitening(),
], ids=lambda estimator: type(estimator).__name__)
def test_every_estimator_names_the_first_nan(estimator):
    bad = X.copy()
    bad[5, 2] = np.nan
    y = np.arange(len(X)) % 2
    message = r"^the data contains NaN \(first at row 5, column 2\)$"
    fit = estimator.fit if hasattr(estimator, "predict") else (lambda X, y: estimator.fit(X))
    with pytest.raises(ValueError, match=message):
        fit(bad, y)
    fit(X, y)
    use = estimator.predict if hasattr(estimator, "predict") else estimator.transform
    with pytest.raises(ValueError, match=message):
        use(bad)


def test_empty_array():
    with pytest.raises(ValueError, match="0 sample"):
        SparseAutoencoder().fit(np.empty((0, 4)))


def test_one_dimensional_array():
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        SparseAutoencoder().fit(X[0])


def test_text_in_the_data():
    with pytest.raises(ValueError, match="could not convert string to float"):
        SparseAutoencoder().fit([["a", "b"], ["c", "d"]])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_rows_for_training_are_refused_by_transform_and_cost_with_the_way_to_do_it(tmp_path):
    from sparseae.data import NpyFile, Rows
    from sparseae.io import write_features

    np.save(tmp_path / "x.npy", X)
    model = SparseAutoencoder(n_hidden=2, max_iter=2).fit(NpyFile(tmp_path / "x.npy"))
    for rows in (NpyFile(tmp_path / "x.npy"), Rows(X)):
        message = (rf"^{type(rows).__name__} is for training; pass the rows as an array .* "
                   r"sparseae.io.write_features\(model, rows, path\)$")
        for use in (model.transform, model.reconstruct, model.cost, model.score):
            with pytest.raises(TypeError, match=message):
                use(rows)
        # the way it names takes what was refused
        path = write_features(model, rows, tmp_path / "features.npy")
        np.testing.assert_allclose(np.load(path), model.transform(X), rtol=1e-6)
    with pytest.raises(TypeError, match="^write_features takes the samples as Rows, an NpyFile "
                                        "or a 2-D array, not list$"):
        write_features(model, X.tolist(), tmp_path / "features.npy")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_feature_count_mismatch():
    model = SparseAutoencoder(n_hidden=2, max_iter=2).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but SparseAutoencoder is expecting 4"):
        model.transform(X[:, :3])
    with pytest.raises(ValueError, match="this model has 2 hidden units"):
        model.inverse_transform(np.ones((3, 5)))


@pytest.mark.parametrize("params, message", [
    ({"sparsity_target": 0.0}, r"sparsity_target must be in \(0, 1\), got 0.0"),
    ({"sparsity_target": 1.5}, r"sparsity_target must be in \(0, 1\), got 1.5"),
    ({"sparsity_target": float("nan")}, "sparsity_target must be a finite number"),
    ({"weight_decay": -1e-4}, r"weight_decay must be in \[0, inf\), got -0.0001"),
    ({"sparsity_weight": -3}, r"sparsity_weight must be in \[0, inf\)"),
    ({"n_hidden": 0}, r"n_hidden must be in \[1, inf\)"),
    ({"n_hidden": 2.5}, "n_hidden must be a finite integer"),
    ({"max_iter": 0}, r"max_iter must be in \[1, inf\)"),
    ({"activation": "relu"}, r"activation must be one of \['sigmoid', 'tanh'\]"),
    ({"sparsity": "l2"}, "sparsity must be one of"),
    ({"decoder": "tanh"}, "decoder must be one of"),
    ({"solver": "newton"}, "solver must be one of"),
    ({"init": "zeros"}, "init must be one of"),
    ({"verbose": "yes"}, r"verbose must be one of \[True, False\], got 'yes'"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"n_threads": 0}, r"n_threads must be in \[1, inf\)"),
    ({"callback": 3}, "callback must be callable"),
])
def test_out_of_range_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(**params).fit(X)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        image_patches(str(tmp_path / "IMAGES.mat"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("read", ["load", "image_patches", "read_images", "NpyFile",
                                  "model", "labeled_data", "encode", "selftaught --resume",
                                  "save into"])
def test_a_loop_of_symbolic_links_or_a_link_to_a_missing_file_is_called_that(tmp_path, read,
                                                                            capsys):
    """Not "no such file": the user would look for a file that is, as a link, right there."""
    import sparseae
    from sparseae.cli import main
    from sparseae.data import NpyFile
    from sparseae.experiments import labeled_data

    fit = SparseAutoencoder(2, max_iter=1).fit
    readers = {"load": load, "image_patches": image_patches, "read_images": read_images,
               "NpyFile": NpyFile, "model": sparseae.load, "labeled_data": labeled_data,
               "encode": lambda path: main(["encode", str(path)]),
               "selftaught --resume": lambda path: main(["selftaught", "--resume", str(path)]),
               "save into": lambda path: fit(X).save(path / "m.npz")}  # (path: its folder)
    (tmp_path / "a.npy").symlink_to("b.npy")
    (tmp_path / "b.npy").symlink_to("a.npy")
    (tmp_path / "gone.npy").symlink_to("missing.npy")
    said = {tmp_path / "a.npy": "a.npy is a loop of symbolic links",
            tmp_path / "a.npy" / "x": "a.npy/x passes through a loop of symbolic links",
            tmp_path / "gone.npy": "gone.npy is a symbolic link to a missing file (missing.npy)"}
    for path, message in said.items():
        try:
            code = readers[read](path)
        except OSError as err:
            assert message in str(err) and "no such" not in str(err)
        else:  # the command line's
            err = capsys.readouterr().err
            assert code == 2 and message in err and "no such" not in err, err


def test_unreadable_image(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="cannot read image"):
        read_images(tmp_path / "broken.png")


def test_unreadable_mat(tmp_path):
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(ValueError, match="cannot read MATLAB file"):
        load(tmp_path / "broken.mat")


def test_unknown_file_kind(tmp_path):
    (tmp_path / "data.xyz").write_text("1,2,3")
    with pytest.raises(ValueError, match="expected .npy, .npz, .csv, .mat, an MNIST IDX file"):
        load(tmp_path / "data.xyz")


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(ValueError, match=r"has no image files \(.*\)$"):
        read_images(tmp_path)
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match=r"has no image files \(.*\); the images must be in the "
                                         r"folder itself, not in its subfolders \(cats, dogs\)$"):
        read_images(tmp_path)


def test_image_smaller_than_patch(tmp_path):
    savemat(tmp_path / "tiny.mat", {"IMAGES": np.zeros((6, 30, 2))})
    with pytest.raises(ValueError, match=r"^2 of the 2 images are smaller than the 8x8 patch: "
                                         r"image 0 \(6x30\), image 1 \(6x30\)$"):
        image_patches(str(tmp_path / "tiny.mat"))
    with pytest.raises(ValueError, match=r"^1 of the 2 images is smaller than the 12x12 patch: "
                                         r"image 1 \(11x40\)$"):
        sample_patches([np.zeros((20, 20)), np.zeros((11, 40))], 5, 12, np.random.default_rng())
    many = [np.zeros((4, 4))] * 7
    with pytest.raises(ValueError, match=r"image 4 \(4x4\) and 2 more$"):
        sample_patches(many, 5, 8, np.random.default_rng())


def test_an_image_too_small_is_named_by_its_file(tmp_path):
    from PIL import Image

    for name, size in (("big.png", 20), ("small.png", 5)):
        Image.fromarray(np.zeros((size, size), np.uint8)).save(tmp_path / name)
    for source in (tmp_path, tmp_path / "small.png"):
        with pytest.raises(ValueError, match=r"smaller than the 8x8 patch: small.png \(5x5\)$"):
            image_patches(str(source))


def test_nan_in_mat_images(tmp_path):
    stack = np.zeros((16, 16, 1))
    stack[2, 2, 0] = np.nan
    savemat(tmp_path / "nan.mat", {"IMAGES": stack})
    with pytest.raises(ValueError, match="NaN"):
        load(tmp_path / "nan.mat")


@pytest.mark.parametrize("n_patches, patch_size", [(0, 8), (5.0, 8), (5, 8.0), (5, True)])
def test_patch_counts_and_sizes_are_positive_integers(n_patches, patch_size):
    with pytest.raises(ValueError, match="must be positive integers"):
        image_patches("natural", n_patches, patch_size)


def test_nan_in_streamed_and_loaded_data(tmp_path):
    from sparseae.data import NpyFile

    bad = X.copy()
    bad[7, 2] = np.nan
    np.save(tmp_path / "x.npy", bad)
    with pytest.raises(ValueError, match=r"NaN \(first at row 7, column 2\)"):
        SparseAutoencoder(n_hidden=2, max_iter=2).fit(NpyFile(tmp_path / "x.npy"))
    np.savetxt(tmp_path / "x.csv", bad, delimiter=",")
    with pytest.raises(ValueError, match="x.csv line 8, column 3: nan is not a finite number"):
        SparseAutoencoder(n_hidden=2, max_iter=2).fit(load(tmp_path / "x.csv"))


@pytest.mark.parametrize("scale", ["none", "unit", "patch", "minmax", "standardize"])
@pytest.mark.parametrize("in_memory", [False, True])
def test_nan_is_named_by_its_row_before_a_scaling_fitted_on_it_spreads_it(
        tmp_path, monkeypatch, scale, in_memory):
    from sparseae.data import Rows, rows, scaled

    monkeypatch.setattr(rows, "DEFAULT_CHUNK_BYTES", 8 * 4 * 6)  # six rows per chunk
    bad = X.copy()
    bad[13, 2] = np.nan  # in the third chunk
    np.save(tmp_path / "x.npy", bad)
    with pytest.raises(ValueError, match=r"^the data contains NaN \(first at row 13, column 2\)$"):
        data = scaled(Rows(bad), scale) if in_memory else load(tmp_path / "x.npy", scale=scale)
        SparseAutoencoder(n_hidden=2, max_iter=2).fit(data)


@pytest.mark.parametrize("prewhiten", [True, False])
def test_patches_from_color_images_or_a_bare_array_are_refused_clearly(prewhiten):
    from sparseae.data import patches_from_images

    image = np.random.default_rng(0).random((40, 40))
    for images, message in [
        ([image, np.stack([image] * 3, axis=2)], r"^image 1 has shape \(40, 40, 3\); expected a "
                                                 r"2-D grayscale image \(for a color one: "
                                                 r"sparseae.data.images.to_grayscale\(image\)\)$"),
        (image, r"^images must be a list of 2-D arrays, got one array of shape \(40, 40\) "
                r"\(one image: pass \[image\]\)$"),
        ([], "^no images to sample patches from$"),
    ]:
        with pytest.raises(ValueError, match=message):
            patches_from_images(images, 10, 8, prewhiten=prewhiten)
    assert patches_from_images([image], 10, 8, prewhiten=prewhiten).shape == (10, 64)


def test_patches_from_a_data_matrix_are_refused(tmp_path):
    with pytest.raises(ValueError, match="digits holds a data matrix, not images"):
        image_patches("digits")
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match="holds a data matrix, not images"):
        image_patches(str(tmp_path / "x.npy"))


@pytest.mark.parametrize("name", ["natural", "digits", "x.npy", "x.csv", "a.png", "."])
def test_a_key_for_a_source_without_named_arrays_is_refused(tmp_path, name):
    # (refused before it is read: a.png does not exist, the folder holds no images)
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    source = name if name in ("natural", "digits") else str(tmp_path / name)
    with pytest.raises(ValueError, match=rf"key='X' names an array inside a \.npz or \.mat file, "
                                         rf"and {re.escape(source)} is not one"):
        load(source, key="X")


def test_a_solver_whose_vectors_exceed_the_machine_is_refused_before_it_starts(
        monkeypatch, tmp_path, capsys):
    """On a machine of 1 MiB (a stand-in for a model far too large for this one), L-BFGS on
    64-100-64 would keep its 12,964 float64 parameters 28 times over 400 iterations (2.9 MB),
    Adam 5 times (0.5 MB): the system would kill the process, with no message, when its
    vectors filled the memory."""
    import os

    from sparseae.cli import main

    sysconf = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PHYS_PAGES": 256,
                                                     "SC_PAGE_SIZE": 4096}.get(name) or
                        sysconf(name))
    patches = np.random.default_rng(0).uniform(0.1, 0.9, size=(100, 64))
    with pytest.raises(MemoryError, match=r"^lbfgs on 12,964 parameters needs about 1\.2 MiB "
                                          r"for its own vectors, more than this machine's 1\.0 "
                                          r"MiB: train a smaller model \(fewer hidden units or "
                                          r"input features\), or use solver='adam', which keeps "
                                          r"fewer$"):
        SparseAutoencoder(100, max_iter=2).fit(patches)  # (2 curvature pairs: 12 copies)
    with pytest.raises(MemoryError, match=r"^lbfgs on 25,864 parameters .* input features\)$"):
        SparseAutoencoder(200, max_iter=2).fit(patches)  # (Adam's 1 MB would not fit either)
    assert SparseAutoencoder(100, solver="adam", max_iter=1).fit(patches).n_iter_ == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # (torchrun's processes share the machine)
    with pytest.raises(MemoryError, match=r"more than this machine's 0\.5 MiB \(its share for "
                                          r"each of 2 processes\): train a smaller model "
                                          r"\(fewer hidden units or input features\)$"):
        SparseAutoencoder(100, max_iter=2).fit(patches)
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    np.save(tmp_path / "x.npy", patches)
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--n-hidden", "100",
                 "--memory-budget", "1GB", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "sparseae: error: out of memory: lbfgs on 12,964 parameters needs about 2.8 MiB for its "
        "own vectors, more than this machine's 1.0 MiB: train a smaller model (fewer hidden "
        "units or input features), or use --solver adam, which keeps fewer")
    assert not (tmp_path / "run").exists()  # (nothing begun: the same command can be given)


def test_a_model_too_large_for_the_machine_is_refused_for_that_before_the_budget_s_advice(
        monkeypatch, tmp_path, capsys):
    """Under the default budget (half of a machine of 1 MiB, as above) the budget refused
    first: "give at least ...MiB", more than the machine has, and with that given the solver's
    check refused. The check that refuses on this machine whatever the budget comes first."""
    import os

    from sparseae.cli import main

    sysconf = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PHYS_PAGES": 256,
                                                     "SC_PAGE_SIZE": 4096}.get(name) or
                        sysconf(name))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, size=(100, 64)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--n-hidden", "100",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "sparseae: error: out of memory: lbfgs on 12,964 parameters needs about 2.8 MiB for its "
        "own vectors, more than this machine's 1.0 MiB: train a smaller model (fewer hidden "
        "units or input features), or use --solver adam, which keeps fewer\n")
    assert not (tmp_path / "run").exists()


def test_out_of_memory_where_the_solver_cannot_be_chosen_does_not_advise_adam(
        monkeypatch, tmp_path, capsys):
    """The self-taught experiment and a stack train with L-BFGS, and take no solver: the
    advice to use Adam, right for SparseAutoencoder and NetworkClassifier, could not be
    followed there. On a machine of 1 MiB, as above, where Adam would fit; a stack names the
    stage."""
    import os

    from sparseae.cli import main
    from sparseae.experiments import self_taught

    sysconf = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PHYS_PAGES": 256,
                                                     "SC_PAGE_SIZE": 4096}.get(name) or
                        sysconf(name))
    rng = np.random.default_rng(0)
    digits, labels = rng.uniform(0.1, 0.9, size=(100, 64)), np.arange(100) % 10
    smaller = (r"needs about 1\.2 MiB for its own vectors, more than this machine's 1\.0 MiB: "
               r"train a smaller model \(fewer hidden units or input features\)$")
    with pytest.raises(MemoryError, match=rf"^autoencoder: lbfgs on 12,964 parameters "
                                          rf"{smaller}"):  # (the stage named, as a stack's)
        self_taught(digits, labels, n_hidden=100, max_iter=2)
    with pytest.raises(MemoryError, match=rf"^autoencoder 1 of 1: lbfgs on 12,964 parameters "
                                          rf"{smaller}"):
        StackedAutoencoderClassifier((100,), max_iter=2).fit(digits, labels)
    with pytest.raises(MemoryError, match=r"or use solver='adam', which keeps fewer$"):
        NetworkClassifier((150,), max_iter=2).fit(digits, labels)  # (its solver is chosen)
    assert main(["selftaught", "--data", "digits", "--n-hidden", "100", "--max-iter", "2",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sparseae: error: out of memory: autoencoder: lbfgs on ")
    assert err.endswith("train a smaller model (fewer hidden units or input features)"), err


def test_a_stage_s_memory_error_without_a_message_names_the_stage(monkeypatch):
    """A MemoryError that says nothing (Python's own) became "autoencoder 1 of 1: ", which
    the command line printed as "out of memory: autoencoder 1 of 1: "."""
    def fit(self, X, y=None, **options):
        raise MemoryError()

    monkeypatch.setattr(SparseAutoencoder, "fit", fit)
    with pytest.raises(MemoryError) as caught:
        StackedAutoencoderClassifier((3,), max_iter=2).fit(np.eye(4), [0, 1, 0, 1])
    assert str(caught.value) == "autoencoder 1 of 1"


@pytest.mark.parametrize("make", ["standardize", "patch", "zca", "pca-white", "pca"])
@pytest.mark.parametrize("streamed", [False, True])
def test_values_whose_squares_overflow_are_refused_before_a_scaling_fits_on_them(
        tmp_path, make, streamed):
    """Values of 1e200 were reported as NaN in the data (the scaling's sums of squares had
    overflowed), or as eigenvalues that did not converge; unit and min-max scaling need no
    squares, and still take them."""
    from sparseae.data import NpyFile, Rows
    from sparseae.data.scaling import make_scaler
    from sparseae.whitening import make_whitening

    huge = np.random.default_rng(0).normal(size=(40, 4)) * 1e200
    np.save(tmp_path / "x.npy", huge)
    rows = Rows(NpyFile(tmp_path / "x.npy")) if streamed else Rows(huge)
    transform = (make_whitening(make) if make in ("zca", "pca-white", "pca") else
                 make_scaler(make))
    largest = re.escape(f"{np.abs(huge).max():.3g}")
    with pytest.raises(ValueError, match=rf"^the data holds values up to {largest} in "
                                         rf"magnitude, too large for the "
                                         rf"{type(transform).__name__} fitted on it: their "
                                         r"squares overflow float64; rescale the data"):
        rows.fit_transform(transform)
    for squares_none in ("unit", "minmax"):
        assert np.isfinite(rows.fit_transform(make_scaler(squares_none)).to_array()).all()


@pytest.mark.parametrize("make", ["unit", "minmax"])
@pytest.mark.parametrize("streamed", [False, True])
def test_values_too_far_apart_for_their_difference_are_refused_before_unit_or_minmax_scaling(
        tmp_path, monkeypatch, make, streamed):
    """Values beyond 9e307 of both signs made max - min overflow into infinity: unit scaling
    gave NaN and zeros, min-max scaling zeros, without a word. Streamed, the two extremes lie
    in the first and the last of three chunks, so the range checked must be that of all rows
    so far."""
    from sparseae.data import NpyFile, Rows
    from sparseae.data.scaling import make_scaler

    monkeypatch.setattr("sparseae.data.rows.DEFAULT_CHUNK_BYTES", 4 * 8 * 2)  # (4 rows)
    X = np.zeros((10, 2))
    X[0, 0], X[-1, 0] = 1e308, -1e308
    np.save(tmp_path / "x.npy", X)
    rows = Rows(NpyFile(tmp_path / "x.npy")) if streamed else Rows(X)
    scaler = make_scaler(make)
    with pytest.raises(ValueError, match=rf"^the data holds values from -1e\+308 to 1e\+308, "
                                         rf"too far apart for the {type(scaler).__name__} "
                                         r"fitted on it: their difference overflows float64; "
                                         r"rescale the data \(divide it by a power of ten"):
        rows.fit_transform(scaler)
    scaled = Rows(X / 10).fit_transform(make_scaler(make)).to_array()  # (a tenth: it fits)
    assert scaled[0, 0] == 1.0 and scaled[-1, 0] == 0.0 and scaled[1, 0] == pytest.approx(0.5)


def test_unit_scaler_fitted_directly_refuses_values_too_far_apart():
    """The same for ``UnitScaler`` outside ``Rows`` (a scikit-learn pipeline), chunk by chunk:
    the extremes come in two calls of ``partial_fit``, and the first fit is kept."""
    from sparseae.data.scaling import UnitScaler

    scaler = UnitScaler().partial_fit(np.full((2, 2), 1e308))
    with pytest.raises(ValueError, match=r"^the data holds values from -1e\+308 to 1e\+308, "
                                         r"too far apart for the UnitScaler"):
        scaler.partial_fit(np.full((2, 2), -1e308))
    assert (scaler.data_min_, scaler.data_max_) == (1e308, 1e308)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dates_and_durations_are_refused_not_read_as_numbers_of_their_unit():
    """NumPy turns datetime64 into days or seconds since 1970 without a word, and a pandas
    column of them fails inside NumPy's type promotion."""
    import pandas as pd

    days = (np.datetime64("2020-01-01") + np.arange(40)).reshape(20, 2)
    frame = pd.DataFrame({"when": pd.date_range("2020", periods=20, tz="UTC"),
                          "x": np.linspace(0, 1, 20)})
    fitted = SparseAutoencoder(2, max_iter=2).fit(X[:, :2])
    for data, where, dtype in [(days, "", days.dtype), (days - days[0, 0], "", "timedelta64[D]"),
                               (frame, " (column 'when')", frame["when"].dtype)]:
        message = (f"^X holds dates or durations{re.escape(where)}, of dtype "
                   rf"{re.escape(str(dtype))}; give numbers \(seconds since a date, say\)$")
        for use in (SparseAutoencoder(2).fit, fitted.transform,
                    lambda d: SoftmaxRegression().fit(d, np.arange(20) % 2)):
            with pytest.raises(TypeError, match=message):
                use(data)
