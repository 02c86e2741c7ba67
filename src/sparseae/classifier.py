"""Classifiers on the checked feedforward network: softmax regression, a general network
classifier, and stacked sparse autoencoders with fine-tuning."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import network
from .data.rows import validated
from .estimator import RESCALE, SparseAutoencoder
from .fitting import (
    TRAIN_LONGER,
    USE_ADAM,
    SolverMixin,
    check_choice,
    check_hooks,
    check_number,
    random_states,
    store_params,
    warn,
)
from .guard import unchanged_on_failure

# TRAIN_LONGER of the fine-tuning, whose iterations finetune_max_iter sets
FINETUNE_LONGER = "raise finetune_max_iter to train longer"


class NetworkProblem:
    """A network's objective on in-memory data, as the solvers drive it."""

    def __init__(self, X, y, sizes, hidden, output, weight_decay):
        self.X, self.y, self.sizes = X, y, list(sizes)
        self.hidden, self.output, self.weight_decay = hidden, output, weight_decay
        self.n_samples = X.shape[0]
        self.full = self._flat(X, y)

    def _flat(self, X, y):
        def fun(theta):
            cost, grads = network.cost_and_grad(network.unpack(theta, self.sizes), X, y,
                                                self.hidden, self.output, self.weight_decay)
            return cost, network.pack(grads)

        return fun

    def cost(self, theta) -> float:
        return self.full(theta)[0]

    def batch(self, theta, which, rho_estimate):
        return self._flat(self.X[which], self.y[which])(theta)


class NetworkClassifier(SolverMixin, ClassifierMixin, BaseEstimator):
    """A feedforward network with a softmax output, trained on the cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=()
        Units of each hidden layer; ``()`` is softmax regression.
    activation : {"sigmoid", "tanh", "relu"}, default="sigmoid"
    weight_decay : float >= 0, default=1e-4
        ``lambda/2 sum ||W||^2``; biases are not decayed.
    solver, max_iter, ... : as ``SparseAutoencoder`` (``lbfgs``, ``gd``, ``sgd``, ``adam``).

    Attributes
    ----------
    classes_ : ndarray
    layers_ : list of ``network.Layer`` (``W`` of shape ``(n_out, n_in)``, ``b``)
    loss_, loss_curve_, n_iter_, stop_reason_ : the training objective, as
        ``SparseAutoencoder``'s
    """

    def __init__(
        self,
        hidden_layer_sizes=(),
        *,
        activation="sigmoid",
        weight_decay=1e-4,
        solver="lbfgs",
        max_iter=400,
        batch_size=256,
        learning_rate=None,
        learning_rate_schedule="constant",
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_threads=None,
        random_state=None,
        verbose=False,
        callback=None,
    ):
        store_params(self, locals())

    run_params = ("hidden_layer_sizes", "activation", "weight_decay")

    def check_params(self):
        _check_layer_sizes(self.hidden_layer_sizes)
        check_choice(self, "activation", network.HIDDEN)
        check_number(self, "weight_decay", 0)
        self._check_solver_params()

    @unchanged_on_failure
    def fit(self, X, y, *, init=None, resume=None, checkpoint=None, should_stop=None):
        """Train on ``X`` ``(n_samples, n_features)`` and labels ``y``. ``init`` is a list of
        ``network.Layer`` to start from (a pretrained stack) instead of random weights."""
        self.check_params()
        check_hooks(checkpoint, should_stop)
        X, y = validated(self, X, y, dtype=np.float64, order="C")
        self.classes_, codes = _classes(y)
        sizes = [X.shape[1], *self.hidden_layer_sizes, len(self.classes_)]
        seed = self._seed(resume)
        validation = None
        if self.early_stopping:
            from .training import split

            train, held = split(len(X), self.validation_fraction, seed)
            validation = NetworkProblem(X[held], codes[held], sizes, self.activation, "softmax",
                                        self.weight_decay)
            X, codes = X[train], codes[train]
        problem = NetworkProblem(X, codes, sizes, self.activation, "softmax", self.weight_decay)
        if resume is not None:
            theta0 = self._resumed_theta(resume, network.n_params(sizes))
        elif init is not None:
            layers = [] if isinstance(init, (str, network.Layer)) else list(init)
            if not layers or not all(isinstance(layer, network.Layer) for layer in layers):
                raise TypeError(f"init takes a list of sparseae.network.Layer, got {init!r}")
            init = [network.Layer(np.asarray(W, dtype=np.float64), np.asarray(b, np.float64))
                    for W, b in layers]
            shapes = [(layer.W.shape, layer.b.shape) for layer in init]
            needed = [((o, i), (o,)) for i, o in zip(sizes[:-1], sizes[1:])]
            if shapes != needed:
                raise ValueError(f"init layers have (W, b) shapes {shapes}, the network needs "
                                 f"{needed}")
            if not all(np.isfinite(layer.W).all() and np.isfinite(layer.b).all()
                       for layer in init):
                raise ValueError("init layers hold NaN or infinity")
            theta0 = network.pack(init)
        else:
            theta0 = network.pack(network.initialize(sizes, np.random.default_rng(seed)))
        result = self._optimize(problem, theta0, seed, validation=validation, resume=resume,
                                checkpoint=checkpoint, should_stop=should_stop,
                                flops=6.0 * len(X) * network.n_params(sizes))
        self._set_layers(network.unpack(result.theta, sizes))
        self.loss_ = problem.cost(result.theta)
        return self

    def _set_layers(self, layers):
        self.layers_ = [network.Layer(np.array(W), np.array(b)) for W, b in layers]

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validated(self, X, dtype=np.float64, reset=False)
        return network.forward(self.layers_, X, self.activation, "softmax")[-1]

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def save(self, path):
        """Write the fitted classifier to ``path`` (a ``.npz`` without pickled objects;
        ``sparseae.load`` reads it); returns the path."""
        from .io import save

        return save(self, path)


class SoftmaxRegression(NetworkClassifier):
    """Softmax (multinomial logistic) regression, as the tutorial's exercise: weight decay 1e-4,
    L-BFGS. It is ``NetworkClassifier`` without hidden layers."""

    hidden_layer_sizes = ()  # fixed, not parameters
    activation = "sigmoid"  # unused: there is no hidden layer

    def __init__(self, *, weight_decay=1e-4, solver="lbfgs", max_iter=400, batch_size=256,
                 learning_rate=None, learning_rate_schedule="constant", momentum=0.9,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, shuffle=True, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, n_threads=None,
                 random_state=None, verbose=False, callback=None):
        store_params(self, locals())

    @property
    def coef_(self):
        """``(n_classes, n_features)`` weights."""
        check_is_fitted(self, "layers_")
        return self.layers_[0].W

    @property
    def intercept_(self):
        check_is_fitted(self, "layers_")
        return self.layers_[0].b


def _check_layer_sizes(sizes, at_least: int = 0):
    if not isinstance(sizes, (tuple, list)) or len(sizes) < at_least or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(f"hidden_layer_sizes must be a tuple of {'at least one ' * at_least}"
                         f"positive integers, got {sizes!r}")


def _classes(y) -> tuple[np.ndarray, np.ndarray]:
    """The classes of the labels ``y`` and each label's index among them."""
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y has {len(classes)} class; a classifier needs at least 2")
    return classes, codes


class StackedAutoencoderClassifier(ClassifierMixin, BaseEstimator):
    """Greedy layer-wise pretraining of sparse autoencoders, a softmax on the last features, then
    fine-tuning of the whole network by backpropagation (UFLDL's stacked autoencoder).

    Each autoencoder is trained on the features of the one below (``sparsity_target``,
    ``sparsity_weight``, ``weight_decay``, ``max_iter`` L-BFGS iterations); the softmax uses
    ``softmax_weight_decay``; fine-tuning runs ``finetune_max_iter`` L-BFGS iterations on the
    cross-entropy with ``finetune_weight_decay`` on every weight. The softmax, trained alone
    on the last features before fine-tuning, also runs ``max_iter`` iterations.

    Attributes
    ----------
    autoencoders_ : list of SparseAutoencoder
    pretrained_ : NetworkClassifier, the stack before fine-tuning (for comparison; its
        ``loss_`` is the fine-tuning objective where fine-tuning starts, ``n_iter_`` 0)
    network_ : NetworkClassifier, the fine-tuned network that ``predict`` uses
    n_iter_ : int, fine-tuning iterations
    classes_ : ndarray
    """

    def __init__(self, hidden_layer_sizes=(200, 200), *, sparsity_target=0.1,
                 sparsity_weight=3.0, weight_decay=3e-3, softmax_weight_decay=1e-4,
                 finetune_weight_decay=1e-4, max_iter=400, finetune_max_iter=400,
                 random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.weight_decay = weight_decay
        self.softmax_weight_decay = softmax_weight_decay
        self.finetune_weight_decay = finetune_weight_decay
        self.max_iter = max_iter
        self.finetune_max_iter = finetune_max_iter
        self.random_state = random_state
        self.verbose = verbose

    @unchanged_on_failure
    def fit(self, X, y, *, on_stage=None, pretrained=(), fit_autoencoder=None,
            pretrained_softmax=None):
        """Pretrain, train the softmax, fine-tune. ``on_stage(name, estimator)``, if given, is
        called as each stage ends, with ``"autoencoder1"``, ``"autoencoder2"``, ...,
        ``"softmax"`` and ``"network"`` (the fine-tuned one): to save each as soon as it is
        trained, so that an interruption loses none of them. ``pretrained`` are the
        autoencoders of the first layers that such an interrupted fit already trained (loaded
        with ``sparseae.load``): they are used as they are, and the fit goes on as the
        interrupted one would have, to the same result. They must be what this stack would
        train: the same settings and seeds, on the same data. ``pretrained_softmax`` is the
        softmax that such a fit trained on the top features (with every autoencoder
        ``pretrained``): it is used as it is too, and only the fine-tuning is trained.

        ``fit_autoencoder(name, fit)``, if given, trains each autoencoder not pretrained:
        ``fit(**options)`` is its ``SparseAutoencoder.fit`` on the features of the layer below,
        taking that method's ``resume``, ``checkpoint`` and ``should_stop``, and it returns the
        fitted autoencoder (default: ``fit()``). With them an autoencoder's training can be
        checkpointed, interrupted and gone on with, as ``sparseae stacked`` does; to stop the
        stack where ``should_stop`` stopped an autoencoder, it raises (``KeyboardInterrupt``,
        say) instead of returning it."""
        if on_stage is not None and not callable(on_stage):
            raise TypeError(f"on_stage takes a function of (name, estimator), got {on_stage!r}")
        stage = on_stage or (lambda name, estimator: None)
        train = autoencoder_training(fit_autoencoder)
        # everything is checked before the first autoencoder's long training
        X, y = validated(self, X, y, dtype=np.float64)
        classes, codes = _classes(y)
        _check_layer_sizes(self.hidden_layer_sizes, at_least=1)
        sizes = tuple(self.hidden_layer_sizes)
        check_number(self, "finetune_weight_decay", 0)
        check_number(self, "softmax_weight_decay", 0)
        check_number(self, "finetune_max_iter", 1, integer=True)

        def autoencoder(n_hidden, seed):
            return SparseAutoencoder(
                n_hidden, sparsity_target=self.sparsity_target,
                sparsity_weight=self.sparsity_weight, weight_decay=self.weight_decay,
                max_iter=self.max_iter, random_state=seed, verbose=self.verbose)

        autoencoder(sizes[0], 0).check_params()
        rng = random_states(self.random_state)
        seeds = [rng.randint(2**31 - 1) for _ in sizes]
        softmax = partial(SoftmaxRegression, weight_decay=self.softmax_weight_decay,
                          max_iter=self.max_iter, random_state=rng.randint(2**31 - 1),
                          verbose=self.verbose)
        pretrained = _pretrained_list(pretrained, self.random_state)
        widths = [X.shape[1], *sizes]
        for k, ae in enumerate(pretrained):
            _check_pretrained(k, ae, autoencoder(sizes[k], seeds[k]) if k < len(sizes) else None,
                              widths[k], len(sizes))
        if pretrained_softmax is not None:
            if len(pretrained) < len(sizes):
                raise ValueError(f"pretrained_softmax goes with all {len(sizes)} autoencoders "
                                 f"pretrained, got {len(pretrained)}: it is trained on the "
                                 "features of the last")
            check_softmax_trained_as(pretrained_softmax, softmax(), sizes[-1], classes,
                                     "this stack")
        features = X
        self.autoencoders_ = []
        for k, (n_hidden, seed) in enumerate(zip(sizes, seeds), 1):
            if k <= len(pretrained):
                ae = pretrained[k - 1]
            else:
                with warnings_of(f"autoencoder {k} of {len(sizes)}",  # (no decoder option)
                                  {RESCALE: "rescale X to [0, 1]"}):
                    ae = train(f"autoencoder{k}", partial(autoencoder(n_hidden, seed).fit,
                                                          features))
                stage(f"autoencoder{k}", ae)
            self.autoencoders_.append(ae)
            features = ae.transform(features)
        if pretrained_softmax is None:
            with warnings_of("softmax"), named_as({"weight_decay": "softmax_weight_decay"}):
                top = softmax().fit(features, y)
            stage("softmax", top)
        else:
            top = pretrained_softmax
        self.classes_ = top.classes_
        layers = [network.Layer(ae.W1_, ae.b1_) for ae in self.autoencoders_] + top.layers_

        def stack(**kwargs):
            return NetworkClassifier(sizes, weight_decay=self.finetune_weight_decay,
                                     max_iter=self.finetune_max_iter, verbose=self.verbose,
                                     random_state=rng.randint(2**31 - 1), **kwargs)

        self.pretrained_ = stack()
        self.pretrained_.n_features_in_ = X.shape[1]
        self.pretrained_.classes_ = classes
        self.pretrained_._set_layers(layers)
        # assembled, not trained: its objective where fine-tuning starts, and no iterations
        self.pretrained_.loss_ = NetworkProblem(
            X, codes, [X.shape[1], *sizes, len(classes)], self.pretrained_.activation,
            "softmax", self.finetune_weight_decay).cost(network.pack(layers))
        self.pretrained_.loss_curve_, self.pretrained_.n_iter_ = [], 0
        self.pretrained_.stop_reason_ = "assembled from the pretrained layers, not trained"
        self.pretrained_.interrupted_ = False
        with warnings_of("fine-tuning", {TRAIN_LONGER: FINETUNE_LONGER}), \
                named_as({"weight_decay": "finetune_weight_decay",
                          "max_iter": "finetune_max_iter"}):
            self.network_ = stack().fit(X, y, init=layers)
        stage("network", self.network_)
        self.n_iter_ = self.network_.n_iter_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.network_.predict_proba(validated(self, X, reset=False))

    def predict(self, X):
        check_is_fitted(self)
        return self.network_.predict(validated(self, X, reset=False))


def autoencoder_training(fit_autoencoder):
    """The ``fit_autoencoder(name, fit)`` of a fit that takes one (None: ``fit()``), with a
    clear error for what cannot be one."""
    if fit_autoencoder is None:
        return lambda name, fit: fit()
    if not callable(fit_autoencoder):
        raise TypeError(f"fit_autoencoder takes a function of (name, fit), got "
                        f"{fit_autoencoder!r}")
    return fit_autoencoder


def _solver_fixed(err: MemoryError, stage: str | None = None) -> MemoryError:
    """The MemoryError ``err`` (of the solver's memory check, or NumPy's) of a training whose
    solver cannot be chosen, without the advice to use Adam, naming ``stage`` if given."""
    message = str(err).replace(USE_ADAM, "")
    return MemoryError(": ".join(filter(None, (stage, message))))  # (NumPy's can say nothing)


@contextmanager
def named_as(names: dict[str, str]):
    """The ValueError of a training with the parameters it names (``weight_decay``) as the
    caller's that set them (``softmax_weight_decay``): a softmax or a network trained by a stack
    or an experiment with settings of its own ("softmax_weight_decay=1e+308 is too large")."""
    try:
        yield
    except ValueError as err:
        said = re.sub(rf"\b({'|'.join(names)})\b", lambda match: names[match[1]], str(err))
        if said == str(err):
            raise
        raise ValueError(said) from None


class warnings_of:
    """The warnings of one stage of a stack's fit or an experiment, each said again at the
    caller of ``fit``, naming the stage (``stage: message``), with the advice of ``rewording``
    in the caller's terms; its MemoryError too, without the advice to use Adam (their solver
    cannot be chosen). (A class, not a generator: ``warn`` finds the caller past our own frames
    only.)"""

    def __init__(self, stage: str, rewording: dict[str, str] | None = None):
        self.stage, self.rewording = stage, rewording or {}
        self.recording = warnings.catch_warnings(record=True)

    def __enter__(self):
        self.caught = self.recording.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self.recording.__exit__(*exc)
        for w in self.caught:
            message = str(w.message)
            for theirs, ours in self.rewording.items():
                message = message.replace(theirs, ours)
            warn(f"{self.stage}: {message}", w.category)
        if isinstance(exc[1], MemoryError):
            raise _solver_fixed(exc[1], self.stage) from None
        return False


def _pretrained_list(pretrained, random_state) -> list:
    """``pretrained`` as a list (None: none), with clear errors for what cannot be one."""
    if pretrained is None:
        return []
    if isinstance(pretrained, BaseEstimator) or not isinstance(pretrained, Iterable):
        raise TypeError("pretrained takes a list of the fitted autoencoders of the first layers, "
                        f"got {type(pretrained).__name__}")
    pretrained = list(pretrained)
    if pretrained and not isinstance(random_state, (int, np.integer)):
        raise ValueError("pretrained autoencoders need an integer random_state: with "
                         f"random_state={random_state!r} each fit draws other seeds, so none "
                         "could be what this fit would train")
    return pretrained


# why a pretrained autoencoder must match in every setting (the command line says it in its
# options)
SAME_SETTINGS = ("the same settings and random_state are needed to go on where an interrupted "
                 "fit stopped")


class PretrainedError(ValueError):
    """An autoencoder of ``pretrained`` (the ``index``-th of a list; None: the one given), or
    the ``pretrained_softmax`` (``of``), that would not have been trained here: ``reason`` says
    why. Where a parameter differs, ``setting`` names it and ``values`` are its value and the
    one it would be trained with (else both None)."""

    def __init__(self, index: int | None, reason: str, setting: str | None = None,
                 values: tuple | None = None, of: str = "pretrained"):
        super().__init__(f"{of}{'' if index is None else f'[{index}]'} {reason}")
        self.index, self.reason, self.setting, self.values = index, reason, setting, values
        self.of = of


def differing_setting(ae, expected, label: str) -> str | None:
    """The first parameter (``verbose`` aside) in which the fitted model ``ae`` differs from
    ``expected``, the unfitted autoencoder or softmax that would be trained in its place; None
    if none. Clear errors, naming it ``label``, if ``ae`` is not such a fitted model."""
    if not isinstance(ae, type(expected)):
        raise TypeError(f"{label} is a {type(ae).__name__}, not a {type(expected).__name__}")
    try:
        check_is_fitted(ae)
    except NotFittedError:
        raise NotFittedError(f"{label} is not fitted: {label.split('[')[0]} takes the models "
                             "that an interrupted fit trained") from None
    ours, theirs = expected.get_params(), ae.get_params()
    return next((name for name in ours if name != "verbose" and ours[name] != theirs[name]),
                None)


def _check_pretrained(k: int, ae, expected, n_features: int, n_layers: int):
    """A clear error unless ``ae`` is the autoencoder ``expected`` (unfitted, with this stack's
    settings and seed), fitted on ``n_features`` inputs: the ``k``-th of ``pretrained``."""
    if expected is None:
        raise ValueError(f"pretrained has more autoencoders than the {n_layers} hidden layers")
    check_trained_as(ae, expected, n_features, k)


def check_trained_as(ae, expected: SparseAutoencoder, n_features: int,
                     index: int | None = None):
    """A ``PretrainedError`` unless the fitted ``ae`` is what training ``expected`` (unfitted,
    with the settings and seed that would train it) on ``n_features`` inputs gives: the
    ``index``-th autoencoder of a stack, or the one of a run (None)."""
    by, place = (("this run", "this run") if index is None else
                 ("this stack", f"this stack's layer {index + 1}"))
    name = differing_setting(ae, expected, "pretrained" + ("" if index is None else
                                                            f"[{index}]"))
    if name is not None:
        values = ae.get_params()[name], expected.get_params()[name]
        raise PretrainedError(
            index, f"was not trained by {by}: its {name} is {values[0]!r}, {place} has "
            f"{values[1]!r} ({SAME_SETTINGS})", name, values)
    if ae.n_features_in_ != n_features:
        raise PretrainedError(index, f"takes {ae.n_features_in_} inputs; {place} gets "
                                     f"{n_features}")


def check_softmax_trained_as(softmax, expected: SoftmaxRegression, n_features: int, classes,
                             by: str):
    """A ``PretrainedError`` of ``pretrained_softmax`` unless the fitted ``softmax`` is what
    training ``expected`` (unfitted, with the settings and seed that would train it) on
    ``n_features`` features of the labels ``classes`` gives, in the run or stack ``by``; its
    weight_decay said as the caller's softmax_weight_decay."""
    of, place = "pretrained_softmax", f"{by}'s softmax"
    name = differing_setting(softmax, expected, of)
    if name is not None:
        values = softmax.get_params()[name], expected.get_params()[name]
        name = "softmax_weight_decay" if name == "weight_decay" else name
        raise PretrainedError(None, f"was not trained by {by}: its {name} is {values[0]!r}, "
                              f"{place} has {values[1]!r} ({SAME_SETTINGS})", name, values, of)
    if softmax.n_features_in_ != n_features:
        raise PretrainedError(None, f"takes {softmax.n_features_in_} inputs; {place} gets "
                                    f"{n_features}", of=of)
    if not np.array_equal(softmax.classes_, classes):
        raise PretrainedError(None, f"has the classes {softmax.classes_.tolist()}; {place} has "
                                    f"{np.asarray(classes).tolist()}", of=of)


__all__ = ["NetworkClassifier", "SoftmaxRegression", "StackedAutoencoderClassifier",
           "NetworkProblem"]
