import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparseae import SparseAutoencoder


@parametrize_with_checks([SparseAutoencoder(n_hidden=3, max_iter=30, random_state=0)])
def test_scikit_learn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="X has values in")
        check(estimator)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_fit_leaves_the_callers_rows_as_they_were(dtype, solver):
    """Rows already in the model's dtype and C order are used without a copy: read-only here,
    so that any write into them raises (scikit-learn's checks pass float64 only)."""
    X = np.random.default_rng(0).random((40, 5)).astype(dtype)
    before = X.copy()
    X.flags.writeable = False
    model = SparseAutoencoder(3, solver=solver, max_iter=3, batch_size=8, dtype=dtype,
                              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        H = model.fit_transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(H, model.transform(X))
    assert H.dtype == dtype and not np.shares_memory(H, X)


def fit(X, **kwargs):
    kwargs.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseAutoencoder(**kwargs).fit(X)


def test_fitted_attributes(patches):
    model = fit(patches, n_hidden=10, max_iter=50)
    assert model.W1_.shape == (10, 64) and model.b1_.shape == (10,)
    assert model.W2_.shape == (64, 10) and model.b2_.shape == (64,)
    assert model.components_ is model.W1_
    assert model.n_iter_ == 50 == len(model.loss_curve_)
    assert model.n_features_in_ == 64
    assert model.loss_ == pytest.approx(model.loss_curve_[-1], rel=1e-12)
    assert model.loss_ == pytest.approx(model.cost(patches), rel=1e-12)
    assert model.score(patches) == -model.cost(patches)
    assert model.rho_hat_.shape == (10,)
    np.testing.assert_allclose(model.rho_hat_, model.transform(patches).mean(axis=0), rtol=1e-12)


def test_training_lowers_the_cost(patches):
    model = fit(patches, max_iter=60)
    curve = np.array(model.loss_curve_)
    assert curve[-1] < 0.1 * curve[0]
    assert np.all(np.diff(curve) <= 1e-12)  # L-BFGS with a line search never goes up


def test_transform_and_inverse_transform_shapes(patches):
    model = fit(patches, n_hidden=7, max_iter=20)
    H = model.transform(patches[:5])
    assert H.shape == (5, 7) and np.all((H > 0) & (H < 1))
    R = model.inverse_transform(H)
    assert R.shape == (5, 64)
    np.testing.assert_array_equal(R, model.reconstruct(patches[:5]))
    assert list(model.get_feature_names_out()[:2]) == ["sparseautoencoder0", "sparseautoencoder1"]


def test_same_seed_same_model(patches):
    a = fit(patches, max_iter=15, random_state=3)
    b = fit(patches, max_iter=15, random_state=3)
    c = fit(patches, max_iter=15, random_state=4)
    np.testing.assert_array_equal(a.W1_, b.W1_)
    assert not np.array_equal(a.W1_, c.W1_)


def test_float32_training_reaches_the_float64_cost(patches):
    """Early iterations take different paths in float32, but the trained costs agree."""
    m64 = fit(patches)
    m32 = fit(patches, dtype="float32")
    assert m32.W1_.dtype == np.float32 and m32.transform(patches).dtype == np.float32
    assert m32.loss_ == pytest.approx(m64.loss_, rel=0.01)


@pytest.mark.parametrize("activation, sparsity, decoder", [
    ("tanh", "kl", "sigmoid"), ("sigmoid", "l1", "sigmoid"), ("tanh", "l1", "linear"),
])
def test_variants_train(patches, activation, sparsity, decoder):
    model = fit(patches, max_iter=40, activation=activation, sparsity=sparsity, decoder=decoder,
                sparsity_target=0.1)
    assert model.loss_ < 0.2 * model.loss_curve_[0]


def test_tanh_activity_counts_minus_one_as_inhibited(patches):
    model = fit(patches, max_iter=100, activation="tanh", sparsity_target=0.05)
    np.testing.assert_allclose(
        model.rho_hat_, ((model.transform(patches) + 1) / 2).mean(axis=0), rtol=1e-12
    )
    assert model.rho_hat_.mean() < 0.2  # pushed toward rho = 0.05 from 0.5


def test_convergence_warning_when_stopped_early(patches):
    with pytest.warns(ConvergenceWarning, match=r"stopped after 2 iterations without converging "
                      r"\(iteration limit reached\); raise max_iter to train longer"):
        SparseAutoencoder(max_iter=2, random_state=0).fit(patches)


@pytest.mark.parametrize("solver, settings, reason", [
    ("lbfgs", {"max_iter": 2}, "iteration limit reached"),
    ("lbfgs", {"n_hidden": 1, "max_iter": 2000}, "the gradient is below gtol"),
    ("gd", {"max_iter": 2}, "iteration limit reached"),
    ("adam", {"max_iter": 1}, "epoch limit reached"),
    ("adam", {"max_iter": 50, "early_stopping": True, "n_iter_no_change": 1}, "stopped early"),
])
def test_the_model_keeps_why_training_ended(patches, solver, settings, reason):
    model = fit(patches[:20] if "n_hidden" in settings else patches[:500], solver=solver,
                **settings)
    assert model.stop_reason_ == reason


def test_a_penalty_that_silences_every_unit_is_called_out(patches):
    with pytest.warns(UserWarning, match=r"every hidden unit is silent \(the largest mean "
                      r"activity is .*\): the sparsity penalty outweighs the reconstruction, "
                      r"and every sample gets the same reconstruction; lower sparsity_weight "
                      r"\(the L1 penalty needs a far smaller one than KL"):
        model = SparseAutoencoder(sparsity="l1", random_state=0).fit(patches)
    assert model.rho_hat_.max() < 1e-4
    np.testing.assert_allclose(model.reconstruct(patches[:3]), model.reconstruct(patches[3:6]),
                               atol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for settings in ({"sparsity": "l1", "sparsity_weight": 0.01}, {}):
            model = SparseAutoencoder(max_iter=150, random_state=0, **settings).fit(patches)
            assert model.rho_hat_.max() > 1e-3


def test_a_failed_line_search_is_not_told_to_raise_max_iter(patches, monkeypatch):
    from sparseae import solvers

    lbfgs = solvers.lbfgs

    def failing(problem, theta0, settings, **kwargs):  # as if no step lowered the cost
        result = lbfgs(problem, theta0, dataclasses.replace(settings, max_iter=1), **kwargs)
        result.message = "the line search found no step that lowers the cost"
        return result

    monkeypatch.setitem(solvers.SOLVERS, "lbfgs", failing)
    with pytest.warns(ConvergenceWarning) as caught:
        SparseAutoencoder(max_iter=5, random_state=0).fit(patches)
    assert [str(w.message) for w in caught] == [
        "lbfgs stopped after 1 iteration without converging (the line search found no step "
        "that lowers the cost)"]
    with pytest.warns(ConvergenceWarning) as caught:  # below float64, its rounding may be why
        SparseAutoencoder(max_iter=5, random_state=0, dtype="float32").fit(patches)
    assert [str(w.message) for w in caught] == [
        "lbfgs stopped after 1 iteration without converging (the line search found no step "
        "that lowers the cost); dtype='float64' resolves smaller decreases of the cost"]


def test_callback_sees_every_iteration(patches):
    seen = []
    fit(patches, max_iter=12, callback=lambda i, c: seen.append((i, c)))
    assert [i for i, _ in seen] == list(range(1, 13))
    assert all(np.isfinite(c) for _, c in seen)


def test_warns_when_sigmoid_decoder_cannot_reach_the_data():
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.warns(UserWarning, match="decoder='linear'"):
        fit(X, n_hidden=2, max_iter=3)


def test_works_in_a_pipeline(patches):
    pipe = make_pipeline(MinMaxScaler(), SparseAutoencoder(n_hidden=5, max_iter=10,
                                                           random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        features = pipe.fit_transform(patches)
    assert features.shape == (1000, 5)


def test_blas_threads_inside_fit_and_restored_after(patches):
    """SciPy's BLAS runs on one thread inside the optimizer (its pool would fight NumPy's).
    When several threads share the rows (3000 rows pay for two), NumPy's BLAS runs on one
    thread in each; data too small to split runs NumPy's BLAS on n_threads threads instead.
    Both are restored afterwards."""
    import threading

    from threadpoolctl import threadpool_info

    from sparseae.fitting import _of_numpy

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas"}

    before = blas()
    for rows, numpy_threads in ((np.concatenate([patches] * 3), 1), (patches[:300], 2)):
        seen = []
        fit(rows, max_iter=3, n_threads=2, callback=lambda i, c, seen=seen: seen.append(
            (blas(), sum(t.name.startswith("sparseae") for t in threading.enumerate()))))
        assert blas() == before
        inside, lanes = seen[0]
        for path, threads in inside.items():
            assert threads == (numpy_threads if _of_numpy(path) else 1)
        if numpy_threads == 1:
            assert lanes >= 1  # fit's own thread takes the first part, a worker the second


def test_processes_on_one_machine_share_its_cores(monkeypatch):
    import joblib

    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    cores = joblib.cpu_count()
    assert SparseAutoencoder(distributed=True)._lanes() == max(cores // 2, 1)
    assert SparseAutoencoder()._lanes() == cores
    assert SparseAutoencoder(distributed=True, n_threads=3)._lanes() == 3
    assert SparseAutoencoder(device="cpu")._lanes() == cores  # (PyTorch's CPU as NumPy)
    assert SparseAutoencoder(device="cuda")._lanes() == SparseAutoencoder(
        device="cuda:1")._lanes() == 1


def test_training_that_diverges_is_an_error_not_a_model():
    X = np.random.default_rng(0).random((20, 4))
    model = SparseAutoencoder(2, decoder="linear", solver="gd", learning_rate=1e6, max_iter=50)
    with pytest.raises(ValueError, match="training diverged: the cost or the weights are not "
                                         "finite from iteration .* on; learning_rate times "
                                         "weight_decay is 100, .*; lower learning_rate or "
                                         "weight_decay$"):
        with np.errstate(all="ignore"):
            model.fit(X * 1e3)
    assert not hasattr(model, "W1_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone, no warning of the run's end first
        with pytest.raises(ValueError, match="^training cannot start: the cost is not finite "
                                             "at the initial weights; scale the data$"):
            with np.errstate(all="ignore"):
                SparseAutoencoder(2, decoder="linear", max_iter=3).fit(X * 1e200)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (the overflows themselves)
@pytest.mark.parametrize("solver, weights, message", [
    # Adam's squared gradients overflowed its second moment: its steps were 0, and the
    # initial weights came back as a trained model, without a word
    ("adam", {"weight_decay": 1e300}, "^training cannot go on: in epoch 1 the gradient grew "
     r"too large for adam's second moment \(its square overflows\), and the weights stopped "
     "moving; weight_decay=1e\\+300 is too large for float64 arithmetic: lower it$"),
    ("adam", {"sparsity_weight": 1e306}, "; sparsity_weight=1e\\+306 is too large for "
     "float64 arithmetic: lower it$"),
    # these said "lower the learning rate, or scale the data"; or "scale the data"
    ("gd", {"weight_decay": 1e300, "sparsity_weight": 1e300}, "^training diverged: .*; "
     "weight_decay=1e\\+300 and sparsity_weight=1e\\+300 are too large for float64 "
     "arithmetic: lower them$"),
    ("sgd", {"weight_decay": 1e150}, "^training diverged: .*; learning_rate times weight_decay "
     r"is 3e\+148, not below 2 \(1 \+ momentum\) = 3.8, where the weight decay alone makes "
     "every step overshoot further; lower learning_rate or weight_decay$"),
    ("lbfgs", {"weight_decay": 1e308}, "^training cannot start: the cost is not finite at the "
     "initial weights; weight_decay=1e\\+308 is too large for float64 arithmetic: lower it$"),
])
def test_a_run_that_overflows_from_a_penalty_weight_names_it(solver, weights, message):
    model = SparseAutoencoder(3, solver=solver, max_iter=5, batch_size=10, random_state=0,
                              **weights)
    with pytest.raises(ValueError, match=message):
        model.fit(small())
    assert not hasattr(model, "W1_")


def test_reconstruct_before_fit_is_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SparseAutoencoder().reconstruct(np.zeros((2, 3)))


def test_refit_forgets_what_the_earlier_fit_left(tmp_path):
    import pandas as pd

    from sparseae.data import NpyFile

    X = np.random.default_rng(0).uniform(0.1, 0.9, (40, 5))
    model = fit(pd.DataFrame(X, columns=list("abcde")), n_hidden=2, max_iter=5,
                early_stopping=True)
    assert hasattr(model, "validation_loss_curve_") and hasattr(model, "feature_names_in_")
    np.save(tmp_path / "x.npy", X[:, :4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(early_stopping=False).fit(NpyFile(tmp_path / "x.npy"))
    assert model.n_features_in_ == 4
    assert not hasattr(model, "validation_loss_curve_")
    assert not hasattr(model, "feature_names_in_")


def test_reproducible_is_bitwise_the_same_for_any_number_of_threads():
    X = np.random.default_rng(0).uniform(0.1, 0.9, (5000, 16))  # blocks of 2048 rows
    models = [fit(X, n_hidden=4, max_iter=10, reproducible=True, n_threads=k) for k in (1, 2, 3)]
    for model in models[1:]:
        assert model.W1_.tobytes() == models[0].W1_.tobytes()
        assert model.loss_curve_ == models[0].loss_curve_


def test_reproducible_is_bitwise_the_same_for_any_number_of_threads_on_one_block():
    """One block of rows has one lane, whose BLAS ran on n_threads threads: OpenBLAS rounds
    a product by how it splits it, so 1 and 2 threads ended in other bits."""
    X = np.random.default_rng(0).uniform(size=(512, 784))  # one block of float64 rows
    models = [fit(X, n_hidden=196, max_iter=5, reproducible=True, n_threads=k) for k in (1, 2)]
    assert models[1].W1_.tobytes() == models[0].W1_.tobytes()
    assert models[1].loss_curve_ == models[0].loss_curve_


def small(n=50, d=4):
    return np.random.default_rng(0).random((n, d))


def test_early_stopping_keeps_the_best_held_out_weights(patches):
    from sparseae.training import split

    model = SparseAutoencoder(25, solver="adam", max_iter=500, batch_size=100, learning_rate=0.05,
                              early_stopping=True, n_iter_no_change=3, tol=1e-3, random_state=0)
    model.fit(patches)
    assert model.n_iter_ < 500
    _, held = split(len(patches), model.validation_fraction, model._seed(None))
    assert model.cost(patches[held]) == pytest.approx(min(model.validation_loss_curve_),
                                                      rel=1e-10)


def test_reconstruct_uses_the_models_decoder():
    X = np.random.default_rng(0).normal(size=(50, 4))
    model = SparseAutoencoder(3, decoder="linear", max_iter=5, random_state=0).fit(X)
    np.testing.assert_allclose(model.reconstruct(X), model.inverse_transform(model.transform(X)),
                               rtol=1e-12, atol=0)
    assert model.reconstruct(X).min() < 0


def test_minibatches_larger_than_the_data_are_the_data():
    model = SparseAutoencoder(3, solver="adam", max_iter=2, memory_budget="8GiB",
                              random_state=0).fit(small(100))
    assert model.n_iter_ == 2 and model.chunk_rows_ is None


def test_data_reaching_exactly_0_and_1_is_in_the_sigmoids_range():
    X = small()
    X[0, 0], X[1, 1] = 1.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # (2 iterations: not converged)
        SparseAutoencoder(3, max_iter=2, solver="gd", random_state=0).fit(X)


def test_a_unit_is_silent_below_1e_4_and_a_tenth_of_the_target():
    """The kl penalty's silence is judged against the target: below min(1e-4, rho / 10)."""
    def silent(rho_hat, **params):
        model = SparseAutoencoder(**params)
        model.interrupted_, model.rho_hat_ = False, np.full(3, rho_hat)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            said = model._warn_if_silent()
        assert said == bool(caught)
        return said

    assert silent(5e-5, sparsity_target=0.01)
    assert not silent(5e-4, sparsity_target=0.01)  # (a tenth of the target is 1e-3)
    assert not silent(5e-6, sparsity_target=1e-5) and silent(5e-7, sparsity_target=1e-5)
    assert silent(5e-5, sparsity="l1") and not silent(5e-4, sparsity="l1")


def test_one_sample_is_not_called_samples_that_are_all_the_same():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(3, max_iter=2, random_state=0).fit(small(n=1))
    assert model.n_iter_ == 2


def test_data_in_memory_has_no_chunk_rows():
    for budget in (None, "64GiB"):
        model = SparseAutoencoder(3, max_iter=2, memory_budget=budget, random_state=0)
        assert model.fit(small()).chunk_rows_ is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(solver="adam", rho_estimate="running", rho_momentum=1.0),
     r"rho_momentum must be in \[0, 1\), got 1.0"),
    (dict(solver="adam", beta_2=1.0), r"beta_2 must be in \[0, 1\), got 1.0"),
    (dict(solver="adam", epsilon=0.0), r"^epsilon must be in \(0, inf\), got 0.0$"),
    (dict(n_hidden=True), "n_hidden must be a finite integer, got True"),
    (dict(max_iter=True), "max_iter must be a finite integer, got True"),
    (dict(batch_size=True), "batch_size must be a finite integer, got True"),
    (dict(max_iter=10**30, memory_budget="1e400"),  # (the integer beyond float's range passes)
     r"^memory_budget: memory size must be a finite number of bytes, got '1e400'$"),
    (dict(memory_budget=0), "^memory_budget: memory size must be positive, got 0$"),
    (dict(memory_budget="lots"), r"^memory_budget: cannot read 'lots' as a memory size \(e\.g\. "
                                 r"500MB, 2GiB\)$"),
])
def test_parameters_at_the_edge_of_their_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(**{"n_hidden": 3, **kwargs}).fit(small(20))


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")  # (overflows)
def test_a_run_that_diverged_after_its_best_held_out_cost_keeps_those_parameters():
    model = SparseAutoencoder(3, solver="gd", learning_rate=1e8, momentum=0.0, max_iter=40,
                              early_stopping=True, n_iter_no_change=30, decoder="linear",
                              random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"^training diverged: the cost is not finite "
                                                r"from iteration \d+ on; the parameters kept are "
                                                r"those of the lowest held-out cost, at iteration "
                                                r"1; learning_rate times weight_decay is "
                                                r"1e\+04, not below 2 \(1 \+ momentum\) = 2, "):
        model.fit(small(100))
    assert np.isfinite(model.W1_).all() and np.isfinite(model.loss_)
    assert not np.isfinite(model.loss_curve_).all()


def test_a_diverged_result_names_when():
    from sparseae.fitting import _check_finite_result
    from sparseae.solvers import Result

    _check_finite_result(Result(np.zeros(3), 2, True, "", [1.0, 0.5]), "lbfgs")
    with pytest.raises(ValueError, match="not finite after 2 iterations; scale the data$"):
        _check_finite_result(Result(np.array([0.0, np.inf, 1.0]), 2, True, "", [1.0, 0.5]),
                             "lbfgs")
    with pytest.raises(ValueError, match="not finite from epoch 2 on; lower the learning "
                                         "rate, or scale the data$"):  # (it said iteration)
        _check_finite_result(Result(np.zeros(3), 3, True, "", [1.0, np.nan, np.nan]), "adam")
    with pytest.raises(ValueError, match="not finite after 1 epoch; "):
        _check_finite_result(Result(np.array([np.nan]), 1, True, "", [1.0]), "sgd")


def test_an_interrupted_fit_does_not_warn_of_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SparseAutoencoder(3, max_iter=50, random_state=0)
        model.fit(small(), should_stop=lambda: True)
    assert model.interrupted_ and model.n_iter_ < 50


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_reconstruct_is_an_array_under_pandas_output():
    pytest.importorskip("pandas")
    X = np.random.default_rng(0).uniform(0.1, 0.9, (30, 5))
    model = SparseAutoencoder(2, max_iter=3, random_state=0).fit(X)
    expected = model.reconstruct(X)
    model.set_output(transform="pandas")
    assert list(model.transform(X).columns) == ["sparseautoencoder0", "sparseautoencoder1"]
    np.testing.assert_array_equal(model.reconstruct(X), expected)
    assert type(model.reconstruct(X)) is np.ndarray and expected.shape == (30, 5)


@pytest.mark.parametrize("curve, warned", [([3.0, 1.0, 1.4], False), ([3.0, 1.0, 1.6], True),
                                           ([3.0, 2.0, 1.0], False), ([1.0], False)])
def test_a_cost_that_rose_well_above_its_lowest_is_warned_of(curve, warned):
    from sparseae.fitting import _warn_if_the_cost_rose

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _warn_if_the_cost_rose("adam", curve)
    assert [str(w.message) for w in caught] == (
        ["adam ended at a cost of 1.6, 1.6 times the lowest it reached (1, epoch 2): its steps "
         "overshoot; lower learning_rate"] if warned else [])


def test_gradient_descent_that_overshoots_says_so(patches):
    """That alone: its cost also fell over the last iterations (from far above), but more of
    the same steps is not the advice (the two notes contradicted each other)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SparseAutoencoder(9, solver="gd", max_iter=5, random_state=0).fit(patches[:500])
    caught = [w for w in caught if w.category is ConvergenceWarning]
    assert len(caught) == 1 and re.match(
        r"^gd ended at a cost of [\d.]+, [\d.]+ times the lowest it reached \([\d.]+, "
        r"iteration \d+\): its steps overshoot; lower momentum or learning_rate$",
        str(caught[0].message))
    with warnings.catch_warnings(record=True) as caught:  # steps that do not overshoot
        warnings.simplefilter("always")
        SparseAutoencoder(9, solver="gd", max_iter=20, learning_rate=0.01, momentum=0.0,
                          random_state=0).fit(patches[:500])
    assert [str(w.message).split(" while ")[0] for w in caught] == [
        "gd used all its 20 iterations"]  # (and had not converged)


@pytest.mark.parametrize("solver, steps", [("adam", {}),
                                           ("gd", {"learning_rate": 0.01, "momentum": 0.0})])
def test_a_first_order_solver_that_stopped_while_its_cost_still_fell_says_so(patches, solver,
                                                                              steps):
    """As L-BFGS warns at max_iter; the minibatch solvers and gd ended in silence while their
    cost was still falling steeply."""
    with pytest.warns(ConvergenceWarning) as caught:
        model = SparseAutoencoder(9, solver=solver, max_iter=8, random_state=0,
                                  n_iter_no_change=3, **steps).fit(patches[:500])
    curve = model.loss_curve_
    unit, what = (("epoch", "cost (each epoch's mean over its minibatches)") if solver == "adam"
                  else ("iteration", "cost"))
    drop = min(curve[:5]) - curve[-1]
    assert drop > 1e-4
    assert [str(w.message) for w in caught] == [
        f"{solver} used all its 8 {unit}s while its {what} still fell (by {drop:.3g} over the "
        f"last 3 {unit}s, to {curve[-1]:.4g}); raise max_iter to train longer"]
    with warnings.catch_warnings():  # no such warning once it has levelled off
        warnings.simplefilter("error", ConvergenceWarning)
        SparseAutoencoder(9, solver=solver, max_iter=8, random_state=0, n_iter_no_change=3,
                          tol=10 * drop, **steps).fit(patches[:500])


def test_under_early_stopping_only_a_falling_held_out_cost_is_still_falling(patches):
    """The training cost fell to the end while the held-out cost had stopped falling long
    before: training longer would not give a better model."""
    def fit(X, n_hidden, **settings):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = SparseAutoencoder(n_hidden, solver="adam", random_state=0,
                                      early_stopping=True, **settings).fit(X)
        return model, [str(w.message) for w in caught if "still fell" in str(w.message)]

    # 300 units on 30 rows overfit: the training cost falls on, the held-out cost turns up
    model, warned = fit(np.random.default_rng(0).random((40, 64)), 300, max_iter=300,
                        n_iter_no_change=150, learning_rate=0.03, batch_size=8,
                        validation_fraction=0.25, weight_decay=0, sparsity_weight=0.0)
    curve = model.validation_loss_curve_
    assert len(curve) == 300 and int(np.argmin(curve)) < 300 - 10 and warned == []
    assert model.loss_curve_[-1] < min(model.loss_curve_[:150]) - 1e-4  # (the training cost)
    model, warned = fit(patches[:500], 9, max_iter=6, n_iter_no_change=3)
    curve = model.validation_loss_curve_
    assert warned == [f"adam used all its 6 epochs while its held-out cost still fell (by "
                      f"{min(curve[:3]) - curve[-1]:.3g} over the last 3 epochs, to "
                      f"{curve[-1]:.4g}); raise max_iter to train longer"]


def test_a_fit_that_fails_leaves_the_model_as_it_was(patches, tmp_path):
    import sparseae

    model = fit(patches, n_hidden=5, max_iter=5)
    W1, state = model.W1_, dict(vars(model))
    bad = patches[:, :10].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad)

    def fails(*args):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        model.set_params(callback=fails).fit(patches[:, :9])

    def ctrl_c(*args):  # (a second Ctrl-C, or one outside a GracefulInterrupt)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.set_params(callback=ctrl_c).fit(patches[:, :9])
    model.set_params(callback=None)
    assert model.n_features_in_ == 64 and model.W1_ is W1
    assert set(vars(model)) == set(state)
    assert model.transform(patches).shape == (1000, 5)
    assert sparseae.load(model.save(tmp_path / "m.npz")).n_features_in_ == 64
    model.n_features_in_ = 10  # as a failed fit left it before
    with pytest.raises(ValueError, match="^cannot save this model: W1 has 64 columns, but the "
                                         "header says n_features_in is 10$"):
        model.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize("hooks, message", [
    ({"checkpoint": "c.npz"}, "checkpoint takes a sparseae.checkpoint.Checkpointer, got 'c.npz'"),
    ({"should_stop": True}, "should_stop takes a function of no arguments that returns True to "
                            "stop, got True"),
])
def test_hooks_of_the_wrong_kind_are_refused_before_training(patches, hooks, message):
    from sparseae import NetworkClassifier

    for estimator, args in ((SparseAutoencoder(max_iter=2), (patches,)),
                            (NetworkClassifier(max_iter=2), (patches, patches[:, 0] > 0.5))):
        with pytest.raises(TypeError, match=f"^{message}$"):
            estimator.fit(*args, **hooks)
        assert not hasattr(estimator, "n_features_in_")


def test_a_model_that_gives_every_sample_the_same_code_says_so(tmp_path, capsys):
    """As the second autoencoder of a stack on scikit-learn's digits can: here, on data that
    varies by 1e-4, whose reconstruction the penalties outweigh."""
    from sparseae.cli import main

    X = 0.5 + 1e-4 * np.random.default_rng(0).random((200, 8))
    with pytest.warns(UserWarning, match=r"^every sample gets nearly the same code \(no hidden "
                                         r"unit's activity varies by more than \S+ between "
                                         r"samples\): the penalties outweigh the reconstruction, "
                                         "as they can when the data varies little; lower "
                                         "weight_decay or sparsity_weight, or scale the data$"):
        SparseAutoencoder(4, max_iter=50, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # (nor on data that varies)
        warnings.simplefilter("ignore", ConvergenceWarning)
        SparseAutoencoder(4, max_iter=50, random_state=0).fit((X - 0.5) * 1e4)
    with pytest.warns(UserWarning, match=r"^the samples are all the same \(the 200 evenly "
                                         r"spaced ones looked at\): there is nothing to learn$"):
        SparseAutoencoder(4, max_iter=5, random_state=0).fit(np.tile(X[0], (200, 1)))
    np.save(tmp_path / "x.npy", X)
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--max-iter", "50", "--n-hidden",
                 "4", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "between samples): the penalties outweigh the reconstruction, as they can when the " \
        "data varies little; give a smaller --weight-decay or --sparsity-weight, or --scale " \
        "standardize" in capsys.readouterr().err


def test_fit_s_warnings_point_at_the_line_that_called_fit():
    """Each warning of fit names the caller's file and line, past fit's wrapper, so that a
    user sees which of their fits it is about."""
    from sparseae import SoftmaxRegression, StackedAutoencoderClassifier
    from sparseae.data import Rows

    rng = np.random.default_rng(0)
    # (a Pipeline fits the steps before its last through joblib.Memory)
    features_then_softmax = make_pipeline(SparseAutoencoder(2, max_iter=2),
                                          SoftmaxRegression(max_iter=2))
    fits = [  # each with the number of warnings it gives (a ConvergenceWarning and another)
        (lambda: SparseAutoencoder(2, max_iter=2).fit(np.full((20, 4), 0.5)), 2),  # constant
        (lambda: SparseAutoencoder(2, max_iter=2).fit(Rows(rng.uniform(0, 2, (20, 4)))), 2),
        (lambda: SparseAutoencoder(2, solver="gd", learning_rate=50.0, max_iter=20).fit(
            rng.uniform(0, 1, (50, 4))), 2),  # overshoots, and silences every unit
        (lambda: SoftmaxRegression(max_iter=2).fit(rng.uniform(size=(30, 4)),
                                                   np.arange(30) % 3), 1),
        # through scikit-learn's fit_transform and a Pipeline, and a stack's inner fits
        (lambda: SparseAutoencoder(2, max_iter=2).fit_transform(np.full((20, 4), 0.5)), 2),
        (lambda: make_pipeline(MinMaxScaler(), SparseAutoencoder(2, max_iter=2)).fit(
            rng.uniform(size=(20, 4))), 1),
        (lambda: features_then_softmax.fit(rng.uniform(size=(30, 4)), np.arange(30) % 3), 2),
        (lambda: StackedAutoencoderClassifier((2,), max_iter=2, finetune_max_iter=2).fit(
            rng.uniform(size=(30, 4)), np.arange(30) % 3), 3),
    ]
    for fit, count in fits:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        assert len(caught) == count
        for warning in caught:
            assert (warning.filename, warning.lineno) == (__file__, fit.__code__.co_firstlineno)


def test_a_fit_on_a_dataframe_warns_of_nothing_but_alike_codes():
    """The check for alike codes encodes training rows itself: through ``transform`` it got
    the set_output container (polars' has no ``std(axis=)``) and scikit-learn's warning that
    an array has no feature names, from ``fit`` itself."""
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).random((60, 8))
    columns = [f"c{i}" for i in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SparseAutoencoder(4, max_iter=20, random_state=0)
        model.set_output(transform="pandas").fit(pd.DataFrame(X, columns=columns))
    assert list(model.feature_names_in_) == columns
    alike = pd.DataFrame(0.5 + 1e-4 * X, columns=columns)
    with pytest.warns(UserWarning, match="^every sample gets nearly the same code") as caught:
        SparseAutoencoder(4, max_iter=50, random_state=0).set_output(transform="pandas").fit(
            alike)
    assert not [w for w in caught if "feature names" in str(w.message)]


@pytest.mark.parametrize("name, value", [("dtype", np.dtype("float32")),
                                         ("activation", np.array("tanh", dtype=object))])
def test_a_choice_must_be_given_by_its_name(name, value):
    """A value merely equal to a choice's name trained, and then could not be saved."""
    assert value == {"dtype": "float32", "activation": "tanh"}[name]
    with pytest.raises(ValueError, match=f"^{name} takes the name '{value}' as a string, got "):
        SparseAutoencoder(3, max_iter=2, **{name: value}).fit(small())


@pytest.mark.parametrize("shape", [(0, 5), (4, 0)])
def test_rows_with_no_samples_or_no_features_are_refused(shape):
    from sparseae.data import Rows

    with pytest.raises(ValueError, match=rf"^X has {shape[0]} samples of {shape[1]} features: "
                                         "a fit needs at least one of each$"):
        SparseAutoencoder(3, max_iter=2).fit(Rows(np.empty(shape)))


def test_numpy_s_blas_is_told_by_numpy_s_folder_not_by_a_name_in_its_path(tmp_path):
    """A SciPy under a folder whose name holds "numpy" (a project at ~/numpy_work, say) had its
    BLAS taken for NumPy's, and let it run on all cores inside the optimizer."""
    from threadpoolctl import threadpool_info

    from sparseae.fitting import _of_numpy

    site = tmp_path / "numpy_work" / "site-packages"
    assert not _of_numpy(str(site / "scipy.libs" / "libscipy_openblas.so"))
    numpy_folder = Path(np.__file__).parent
    assert _of_numpy(str(numpy_folder / ".dylibs" / "libopenblas.dylib"))
    assert _of_numpy(str(numpy_folder.with_name("numpy.libs") / "libscipy_openblas64_.so"))
    import scipy.linalg  # noqa: F401 (its BLAS loaded)

    blas = [i["filepath"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert sorted(map(_of_numpy, blas)) == [False, True]  # pip's wheels: each has its own


@pytest.mark.parametrize("seed", [-1, 2**40, 1.5, "x", True, np.random.default_rng(0)])
def test_a_random_state_that_cannot_seed_is_refused_by_name(seed):
    from sparseae.classifier import StackedAutoencoderClassifier

    message = (r"^random_state must be a whole number from 0 to 2\*\*32 - 1, a NumPy "
               rf"RandomState or None, got {re.escape(repr(seed))}$")
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(3, max_iter=2, random_state=seed).fit(small())
    with pytest.raises(ValueError, match=message):
        StackedAutoencoderClassifier([3], max_iter=2, random_state=seed).fit(
            small(), np.arange(50) % 2)


def test_distributed_refuses_early_stopping():
    """Before any PyTorch is needed, so that installs without it hold this too."""
    model = SparseAutoencoder(3, distributed=True, early_stopping=True)
    with pytest.raises(ValueError, match=r"^early_stopping is not available with distributed=True: "
                                         r"the held-out rows would differ from one process count "
                                         r"to another$"):
        model.fit(np.full((20, 4), 0.5))


def test_distributed_without_torch_says_what_needs_it(without_torch):
    """distributed=True on NumPy without PyTorch: the error blamed "the PyTorch backend",
    which device='numpy' had not asked for."""
    result = without_torch("import os\n"
                           "os.environ.pop('WORLD_SIZE', None)\n"
                           "import numpy as np\n"
                           "from sparseae import SparseAutoencoder\n"
                           "X = np.random.default_rng(0).uniform(0.1, 0.9, (20, 4))\n"
                           "try:\n"
                           "    SparseAutoencoder(3, distributed=True).fit(X)\n"
                           "except ImportError as err:\n"
                           "    print(err)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("distributed=True needs PyTorch: pip install 'sparseae[torch]', "
                             "or give distributed=False to run one process\n")
