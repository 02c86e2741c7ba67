"""Softmax regression, network classifiers and stacked autoencoders on scikit-learn's digits."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparseae import (
    NetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoderClassifier,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.5, random_state=0, stratify=y)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@parametrize_with_checks([
    SoftmaxRegression(max_iter=50),
    NetworkClassifier((5,), max_iter=50, random_state=0),
    StackedAutoencoderClassifier((4,), max_iter=20, finetune_max_iter=20, random_state=0),
])
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def test_softmax_regression_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    model = SoftmaxRegression().fit(X_train, y_train)
    assert model.coef_.shape == (10, 64) and model.intercept_.shape == (10,)
    assert model.score(X_test, y_test) > 0.93  # chance: 0.10
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[proba.argmax(axis=1)])


def test_softmax_regression_agrees_with_scikit_learn(digits):
    """The same penalised cross-entropy as LogisticRegression with C = 1 / (lambda m)."""
    X_train, X_test, y_train, _ = digits
    lam = 1e-2
    ours = SoftmaxRegression(weight_decay=lam, max_iter=2000).fit(X_train, y_train)
    theirs = LogisticRegression(C=1 / (lam * len(X_train)), max_iter=5000, tol=1e-10).fit(
        X_train, y_train)
    np.testing.assert_allclose(ours.predict_proba(X_test), theirs.predict_proba(X_test),
                               atol=2e-3)


@pytest.mark.parametrize("kwargs", [
    {"hidden_layer_sizes": (30,)},
    {"hidden_layer_sizes": (30, 20), "activation": "tanh"},
    {"hidden_layer_sizes": (30,), "activation": "relu", "solver": "adam", "max_iter": 40,
     "batch_size": 64},
    {"hidden_layer_sizes": (30,), "solver": "sgd", "max_iter": 40, "batch_size": 32,
     "learning_rate": 0.3},
    {"hidden_layer_sizes": (30,), "solver": "gd", "max_iter": 300, "learning_rate": 1.0},
])
def test_networks_learn_digits(digits, kwargs):
    X_train, X_test, y_train, y_test = digits
    model = NetworkClassifier(random_state=0, **kwargs).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.85
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_early_stopping(digits):
    X_train, _, y_train, _ = digits
    model = NetworkClassifier((30,), solver="adam", max_iter=500, batch_size=32,
                              early_stopping=True, n_iter_no_change=3, random_state=0)
    model.fit(X_train, y_train)
    assert model.n_iter_ < 500 and len(model.validation_loss_curve_) == model.n_iter_


def test_early_stopping_trains_on_the_larger_part(digits, monkeypatch):
    X_train, _, y_train, _ = digits
    seen = {}
    optimize = NetworkClassifier._optimize

    def spy(self, problem, theta0, seed, *, validation=None, **kwargs):
        seen["train"], seen["held"] = problem.n_samples, validation.n_samples
        return optimize(self, problem, theta0, seed, validation=validation, **kwargs)

    monkeypatch.setattr(NetworkClassifier, "_optimize", spy)
    NetworkClassifier(early_stopping=True, validation_fraction=0.1, max_iter=3,
                      random_state=0).fit(X_train[:600], y_train[:600])
    assert seen == {"train": 540, "held": 60}


def test_labels_come_back_as_given(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array([f"digit {k}" for k in range(10)])
    model = SoftmaxRegression(max_iter=50).fit(X_train, names[y_train])
    assert list(model.classes_) == sorted(names)
    predicted = model.predict(X_test)
    assert set(predicted) <= set(names)
    np.testing.assert_array_equal(predicted,
                                  model.classes_[model.predict_proba(X_test).argmax(axis=1)])
    assert model.score(X_test, names[y_test]) > 0.85


def test_a_minibatch_is_the_objective_of_its_rows():
    """sgd and adam step on the cost and gradient of the rows drawn, not of all the data."""
    from sparseae import network
    from sparseae.classifier import NetworkProblem

    rng = np.random.default_rng(0)
    X, y, sizes = rng.uniform(size=(10, 4)), np.arange(10) % 3, [4, 5, 3]
    theta = network.pack(network.initialize(sizes, rng))
    which = np.array([7, 2, 5])
    cost, grad = NetworkProblem(X, y, sizes, "sigmoid", "softmax", 1e-3).batch(theta, which, None)
    expected, expected_grad = NetworkProblem(X[which], y[which], sizes, "sigmoid", "softmax",
                                             1e-3).full(theta)
    assert cost == expected
    np.testing.assert_array_equal(grad, expected_grad)
    assert cost != NetworkProblem(X, y, sizes, "sigmoid", "softmax", 1e-3).cost(theta)


def test_loss_is_the_objective_at_the_fitted_weights(digits):
    X_train, _, y_train, _ = digits
    model = NetworkClassifier((10,), max_iter=20, random_state=0).fit(X_train, y_train)
    assert model.loss_ == pytest.approx(model.loss_curve_[-1], rel=1e-12)


def test_self_taught_pipeline(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(SparseAutoencoder(50, sparsity_target=0.1, max_iter=100,
                                           random_state=0), SoftmaxRegression())
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_stacked_autoencoder_before_and_after_fine_tuning(digits):
    X_train, X_test, y_train, y_test = digits
    model = StackedAutoencoderClassifier((40, 30), weight_decay=1e-4, max_iter=100,
                                         finetune_max_iter=100, random_state=0)
    model.fit(X_train, y_train)
    assert [ae.W1_.shape for ae in model.autoencoders_] == [(40, 64), (30, 40)]
    assert [L.W.shape for L in model.network_.layers_] == [(40, 64), (30, 40), (10, 30)]
    # the pretrained stack is the autoencoders' encoders and the softmax, unchanged
    np.testing.assert_array_equal(model.pretrained_.layers_[0].W, model.autoencoders_[0].W1_)
    before = model.pretrained_.score(X_test, y_test)
    after = model.score(X_test, y_test)
    assert before > 0.5 and after > 0.9
    assert model.pretrained_.loss_ > model.network_.loss_ and model.pretrained_.n_iter_ == 0


def test_the_stack_before_fine_tuning_saves_as_the_network_does(digits, tmp_path):
    import sparseae

    X_train, X_test, y_train, _ = digits
    model = StackedAutoencoderClassifier((6,), max_iter=5, finetune_max_iter=5,
                                         random_state=0).fit(X_train[:200], y_train[:200])
    for part in (model.pretrained_, model.network_):
        loaded = sparseae.load(part.save(tmp_path / "part.npz"))
        np.testing.assert_array_equal(loaded.predict_proba(X_test), part.predict_proba(X_test))
        assert loaded.interrupted_ is False and loaded.loss_ == part.loss_
    with pytest.raises(TypeError, match="^on_stage takes a function of \\(name, estimator\\), "
                                        "got 'x'$"):
        model.fit(X_train[:200], y_train[:200], on_stage="x")


def test_stacked_hands_over_each_stage_as_it_ends(digits):
    X_train, _, y_train, _ = digits
    stages = []
    model = StackedAutoencoderClassifier((6, 5), max_iter=5, finetune_max_iter=5, random_state=0)
    model.fit(X_train[:200], y_train[:200],
              on_stage=lambda name, est: stages.append((name, est, hasattr(model, "network_"))))
    assert [(name, done) for name, _, done in stages] == [
        ("autoencoder1", False), ("autoencoder2", False), ("softmax", False), ("network", True)]
    assert [est for _, est, _ in stages[:2]] == model.autoencoders_
    np.testing.assert_array_equal(stages[2][1].layers_[0].W, model.pretrained_.layers_[-1].W)
    assert stages[3][1] is model.network_


def test_the_stack_before_fine_tuning_is_its_stages_one_after_another(digits):
    """Each autoencoder's encoder (W1_ and b1_) on the features of the one below, then the
    softmax on the last features: the pretrained network predicts as the stages do."""
    X_train, X_test, y_train, _ = digits
    stages = {}
    model = StackedAutoencoderClassifier((6, 5), max_iter=5, finetune_max_iter=5, random_state=0)
    model.fit(X_train[:200], y_train[:200], on_stage=stages.__setitem__)
    first, second, softmax = stages["autoencoder1"], stages["autoencoder2"], stages["softmax"]
    for layer, (W, b) in zip(model.pretrained_.layers_, [(first.W1_, first.b1_),
                                                          (second.W1_, second.b1_),
                                                          *softmax.layers_], strict=True):
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(layer.b, b)
    np.testing.assert_allclose(model.pretrained_.predict_proba(X_test),
                               softmax.predict_proba(second.transform(first.transform(X_test))),
                               rtol=1e-12)


def stack(**settings):
    """A small stack, quick to fit, whose fits go on from its saved stages."""
    return StackedAutoencoderClassifier((6, 5), max_iter=8, finetune_max_iter=8, random_state=3,
                                        **settings)


@pytest.fixture
def saved_stack(digits, tmp_path):
    """300 digits and ``stack()`` fitted on them uninterrupted, each stage saved in
    ``tmp_path`` as an interrupted fit leaves it."""
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    whole = stack().fit(X, y, on_stage=lambda name, est: est.save(tmp_path / f"{name}.npz"))
    return X, y, whole


def test_stacked_trains_each_autoencoder_through_fit_autoencoder(saved_stack, tmp_path):
    """``fit_autoencoder(name, fit)`` trains the autoencoders not pretrained, with the options
    it gives ``fit`` (here a checkpoint each, which holds the autoencoder's end)."""
    import sparseae
    from sparseae.checkpoint import Checkpointer, load_checkpoint

    X, y, whole = saved_stack
    names = []

    def checkpointed(name, fit):
        names.append(name)
        return fit(checkpoint=Checkpointer(tmp_path / f"{name}.checkpoint.npz"))

    first = sparseae.load(tmp_path / "autoencoder1.npz")
    model = stack().fit(X, y, pretrained=[first], fit_autoencoder=checkpointed)
    assert names == ["autoencoder2"]  # (not the pretrained one)
    state = load_checkpoint(tmp_path / "autoencoder2.checkpoint.npz")
    assert state["solver"]["iteration"] == 8
    for a, b in zip(whole.network_.layers_, model.network_.layers_):
        np.testing.assert_array_equal(a.W, b.W)
    with pytest.raises(TypeError, match="^fit_autoencoder takes a function of \\(name, fit\\), "
                                        "got 3$"):
        stack().fit(X, y, fit_autoencoder=3)


def test_stacked_goes_on_from_the_autoencoders_an_interrupted_fit_saved(saved_stack, tmp_path):
    import sparseae

    X, y, whole = saved_stack
    first = sparseae.load(tmp_path / "autoencoder1.npz")
    trained = []
    resumed = stack().fit(X, y, pretrained=[first], on_stage=lambda name, est: trained.append(name))
    assert trained == ["autoencoder2", "softmax", "network"]  # the first one is not retrained
    assert resumed.autoencoders_[0] is first
    for a, b in zip(whole.network_.layers_, resumed.network_.layers_):
        np.testing.assert_array_equal(a.W, b.W)

    with pytest.raises(ValueError, match=r"^pretrained\[0\] was not trained by this stack: its "
                                         r"weight_decay is 0.003, this stack's layer 1 has 0.01 "):
        stack(weight_decay=0.01).fit(X, y, pretrained=[first])
    with pytest.raises(ValueError, match=r"its random_state is \d+, this stack's layer 1 has"):
        StackedAutoencoderClassifier((6, 5), max_iter=8, random_state=4).fit(
            X, y, pretrained=[first])
    second = sparseae.load(tmp_path / "autoencoder2.npz")
    with pytest.raises(ValueError, match=r"^pretrained\[0\] was not trained by this stack: its "
                                         r"n_hidden is 5, this stack's layer 1 has 6"):
        stack().fit(X, y, pretrained=[second])
    with pytest.raises(ValueError, match="pretrained has more autoencoders than the 2 hidden"):
        stack().fit(X, y, pretrained=[first, second, second])
    with pytest.raises(ValueError, match=r"pretrained\[0\] takes 64 inputs; this stack's "
                                         r"layer 1 gets 63"):
        stack().fit(X[:, 1:], y, pretrained=[first])
    with pytest.raises(TypeError, match="pretrained takes a list of the fitted autoencoders of "
                                        "the first layers, got SparseAutoencoder"):
        stack().fit(X, y, pretrained=first)
    with pytest.raises(NotFittedError, match=r"pretrained\[1\] is not fitted"):
        stack().fit(X, y, pretrained=[first, sparseae.SparseAutoencoder(5)])
    with pytest.raises(ValueError, match="need an integer random_state: with random_state=None"):
        StackedAutoencoderClassifier((6, 5), max_iter=8).fit(X, y, pretrained=[first])
    assert stack().fit(X, y, pretrained=None).n_iter_ == whole.n_iter_  # None: none
    loud = sparseae.load(tmp_path / "autoencoder1.npz").set_params(verbose=True)
    assert stack().fit(X, y, pretrained=[loud]).autoencoders_[0] is loud  # (verbose is no setting)


def test_stacked_goes_on_from_the_softmax_an_interrupted_fit_saved(saved_stack, tmp_path):
    """Interrupted in fine-tuning, a fit has saved every autoencoder and the softmax: with
    them all, only the fine-tuning is trained again, to the uninterrupted network."""
    import sparseae

    X, y, whole = saved_stack
    autoencoders = [sparseae.load(tmp_path / f"autoencoder{k}.npz") for k in (1, 2)]
    softmax = sparseae.load(tmp_path / "softmax.npz")
    trained = []
    resumed = stack().fit(X, y, pretrained=autoencoders, pretrained_softmax=softmax,
                          on_stage=lambda name, est: trained.append(name))
    assert trained == ["network"]  # neither the autoencoders nor the softmax again
    for a, b in zip(whole.network_.layers_ + whole.pretrained_.layers_,
                    resumed.network_.layers_ + resumed.pretrained_.layers_):
        assert a.W.tobytes() == b.W.tobytes() and a.b.tobytes() == b.b.tobytes()
    assert resumed.pretrained_.loss_ == whole.pretrained_.loss_

    def refused(n=2, **settings):
        with pytest.raises(ValueError) as caught:
            stack(**settings).fit(X, y, pretrained=autoencoders[:n], pretrained_softmax=softmax)
        return str(caught.value)

    assert refused(softmax_weight_decay=1e-3) == (  # (its weight_decay, as the stack sets it)
        "pretrained_softmax was not trained by this stack: its softmax_weight_decay is 0.0001, "
        "this stack's softmax has 0.001 (the same settings and random_state are needed to go on "
        "where an interrupted fit stopped)")
    assert refused(n=1) == ("pretrained_softmax goes with all 2 autoencoders pretrained, got 1: "
                            "it is trained on the features of the last")
    reseeded = sparseae.load(tmp_path / "softmax.npz").set_params(random_state=7)
    with pytest.raises(ValueError, match=r"^pretrained_softmax was not trained by this stack: its "
                                         r"random_state is 7, this stack's softmax has \d+ "):
        stack().fit(X, y, pretrained=autoencoders, pretrained_softmax=reseeded)
    with pytest.raises(ValueError, match=r"^pretrained_softmax has the classes \[0, 1, 2, 3, 4, "
                                         r"5, 6, 7, 8, 9\]; this stack's softmax has \[0, 1, 2, 3, "
                                         r"4, 5, 6, 7, 8\]$"):
        stack().fit(X[y < 9], y[y < 9], pretrained=autoencoders, pretrained_softmax=softmax)
    with pytest.raises(TypeError, match="^pretrained_softmax is a SparseAutoencoder, not a "
                                        "SoftmaxRegression$"):
        stack().fit(X, y, pretrained=autoencoders, pretrained_softmax=autoencoders[1])


def test_stacked_gives_each_stage_its_own_settings(digits, monkeypatch):
    """Autoencoders, softmax and fine-tuning each get their own weight decay; fine-tuning
    starts from the pretrained stack and runs its own iterations."""
    import sparseae.classifier as classifier

    X_train, _, y_train, _ = digits
    softmax_settings, inits = [], []

    class Softmax(SoftmaxRegression):
        def fit(self, X, y, **kwargs):
            softmax_settings.append((self.weight_decay, self.max_iter))
            return super().fit(X, y, **kwargs)

    fit = NetworkClassifier.fit

    def spy(self, X, y, *, init=None, **kwargs):
        inits.append(init)
        return fit(self, X, y, init=init, **kwargs)

    monkeypatch.setattr(classifier, "SoftmaxRegression", Softmax)
    monkeypatch.setattr(NetworkClassifier, "fit", spy)
    model = StackedAutoencoderClassifier((8,), weight_decay=1e-3, softmax_weight_decay=2e-4,
                                         finetune_weight_decay=3e-4, max_iter=7,
                                         finetune_max_iter=5, random_state=0)
    model.fit(X_train[:300], y_train[:300])
    assert model.autoencoders_[0].weight_decay == 1e-3
    assert model.autoencoders_[0].max_iter == 7
    assert softmax_settings == [(2e-4, 7)]  # (the softmax runs max_iter, as the autoencoders)
    assert model.network_.weight_decay == 3e-4 and model.network_.max_iter == 5
    assert model.n_iter_ == model.network_.n_iter_ == 5
    (init,) = inits[1:]  # the softmax's own fit came first
    for start, pretrained in zip(init, model.pretrained_.layers_, strict=True):
        np.testing.assert_array_equal(start.W, pretrained.W)
        np.testing.assert_array_equal(start.b, pretrained.b)


def test_the_stack_before_fine_tuning_has_the_fine_tuning_objectives_loss(digits):
    """``pretrained_.loss_`` is the cost that fine-tuning starts from (finetune_weight_decay on
    every weight, not the softmax's decay), so that it compares with ``network_.loss_``."""
    from sparseae import network

    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]  # (the digits are labelled 0 to 9: their own codes)
    model = StackedAutoencoderClassifier((8,), weight_decay=1e-3, softmax_weight_decay=2e-4,
                                         finetune_weight_decay=3e-4, max_iter=7,
                                         finetune_max_iter=3, random_state=0).fit(X, y)
    expected, _ = network.cost_and_grad(model.pretrained_.layers_, X, y, "sigmoid", "softmax",
                                        3e-4)
    assert model.pretrained_.loss_ == pytest.approx(expected, rel=1e-12)


def test_init_layers_must_fit(digits):
    from sparseae.network import Layer

    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="init layers have \\(W, b\\) shapes"):
        NetworkClassifier((5,)).fit(X_train, y_train, init=[Layer(np.zeros((5, 3)), np.zeros(5))])
    good = [Layer(np.zeros((5, 64)), np.zeros(5)), Layer(np.zeros((10, 5)), np.zeros(10))]
    with pytest.raises(ValueError, match=r"^init layers have \(W, b\) shapes \[\(\(5, 64\), "
                                         r"\(7,\)\), \(\(10, 5\), \(10,\)\)\], the network "
                                         r"needs \[\(\(5, 64\), \(5,\)\), "):
        NetworkClassifier((5,)).fit(X_train, y_train, init=[good[0]._replace(b=np.zeros(7)),
                                                             good[1]])
    with pytest.raises(ValueError, match="^init layers hold NaN or infinity$"):
        NetworkClassifier((5,)).fit(X_train, y_train, init=[good[0]._replace(b=np.full(5, np.nan)),
                                                             good[1]])
    lists = [Layer(W.tolist(), b.tolist()) for W, b in good]  # nested lists are arrays too
    assert NetworkClassifier((5,), max_iter=2).fit(X_train, y_train, init=lists).n_iter_ == 2


def test_an_unfitted_softmax_has_no_coefficients():
    from sklearn.exceptions import NotFittedError

    for name in ("coef_", "intercept_"):
        with pytest.raises(NotFittedError):
            getattr(SoftmaxRegression(), name)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes must be a tuple of positive integers"),
    ({"activation": "softsign"}, "activation must be one of"),
    ({"weight_decay": -1}, r"weight_decay must be in \[0, inf\)"),
])
def test_bad_parameters(digits, kwargs, message):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match=message):
        NetworkClassifier(**kwargs).fit(X_train, y_train)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="1 class"):
        SoftmaxRegression().fit(np.ones((5, 2)), np.zeros(5))


def test_stacked_says_which_stage_each_warning_is_of():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        StackedAutoencoderClassifier((3, 2), max_iter=2, finetune_max_iter=2).fit(
            rng.uniform(size=(30, 4)), np.arange(30) % 3)
    limit = ("lbfgs stopped after 2 iterations without converging (iteration limit reached); "
             "raise {} to train longer")
    assert [str(w.message) for w in caught] == [
        "autoencoder 1 of 2: " + limit.format("max_iter"),
        "autoencoder 2 of 2: " + limit.format("max_iter"),
        "softmax: " + limit.format("max_iter"),
        "fine-tuning: " + limit.format("finetune_max_iter")]
    assert {w.category for w in caught} == {ConvergenceWarning}


@pytest.mark.parametrize("name", ["weight_decay", "softmax_weight_decay",
                                  "finetune_weight_decay"])
def test_a_stage_s_error_names_the_stack_s_parameter_that_set_it(name):
    """The softmax and the fine-tuned network get their weight decay from the stack's own
    parameters: an error of theirs named it "weight_decay", the autoencoders' (on the command
    line, --weight-decay for a --softmax-weight-decay given)."""
    from sparseae.experiments import self_taught

    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(30, 40)), np.arange(30) % 3  # (enough weights to overflow)
    too_large = f"; {name}=1e\\+308 is too large for float64 arithmetic: lower it$"
    with pytest.raises(ValueError, match="^training cannot start: .*" + too_large):
        StackedAutoencoderClassifier((30,), max_iter=2, finetune_max_iter=2,
                                     **{name: 1e308}).fit(X, y)
    if name != "finetune_weight_decay":
        with pytest.raises(ValueError, match=too_large):
            self_taught(X, np.arange(30) % 4, unlabeled_classes=(3,), n_hidden=30, max_iter=2,
                        **{name: 1e308})


def test_stacked_checks_its_input_before_any_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("an autoencoder was trained")

    monkeypatch.setattr(SparseAutoencoder, "fit", no_training)
    X = np.random.default_rng(0).random((10, 4))
    with pytest.raises(ValueError, match="y has 1 class"):
        StackedAutoencoderClassifier((3,)).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="Unknown label type"):
        StackedAutoencoderClassifier((3,)).fit(X, np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a tuple of at least one "
                                         "positive integers, got 5"):
        StackedAutoencoderClassifier(5).fit(X, np.arange(10) % 2)
    with pytest.raises(ValueError, match="sparsity_target must be in"):
        StackedAutoencoderClassifier((3,), sparsity_target=2).fit(X, np.arange(10) % 2)


def test_stacked_checks_feature_names_itself():
    import pandas as pd

    X = np.random.default_rng(0).random((30, 4))
    df = pd.DataFrame(X, columns=list("abcd"))
    model = StackedAutoencoderClassifier((3,), max_iter=5, finetune_max_iter=5,
                                         random_state=0).fit(df, np.arange(30) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fitted without feature names" from network_
        np.testing.assert_array_equal(model.predict_proba(df), model.network_.predict_proba(X))
    with pytest.raises(ValueError, match="feature names"):
        model.predict(df[list("dcba")])
    with pytest.raises(ValueError, match="StackedAutoencoderClassifier is expecting 4 features"):
        model.predict(X[:, :3])
