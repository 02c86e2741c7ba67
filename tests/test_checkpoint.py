"""Checkpoints, Ctrl-C and resume: an interrupted-and-resumed run ends where an uninterrupted one
does, bit for bit, for GD, SGD and Adam."""

import json
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import sparseae
from sparseae.checkpoint import Checkpointer, load_checkpoint, save_checkpoint

RUNS = {
    "adam": ["--solver", "adam", "--max-iter", "16", "--batch-size", "8"],
    "sgd": ["--solver", "sgd", "--max-iter", "16", "--batch-size", "8",
            "--rho-estimate", "running"],
    "gd": ["--solver", "gd", "--max-iter", "400"],
    "lbfgs": ["--solver", "lbfgs", "--max-iter", "200"],
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "x.npy"
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(5000, 64))
    np.save(path, X)
    return path


def command(data, out, solver, *extra):
    return [sys.executable, "-m", "sparseae", "train", "--data", str(data), "--n-hidden", "16",
            "--sparsity-target", "0.1", "--checkpoint-every", "1", "--out", str(out), "--quiet",
            *RUNS[solver], *extra]


def interrupt_midway(cmd, checkpoint, at_least=2, signum=signal.SIGINT):
    """Start ``cmd``, send ``signum`` once a checkpoint of ``at_least`` iterations exists."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if load_checkpoint(checkpoint)["solver"]["iteration"] >= at_least:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.02)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def arrays(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.parametrize("solver, signum", [("adam", signal.SIGINT), ("sgd", signal.SIGINT),
                                            ("gd", signal.SIGINT), ("adam", signal.SIGTERM)],
                         ids=["adam", "sgd", "gd", "adam-sigterm"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, data, solver, signum):
    """Ctrl-C, or SIGTERM (kill, timeout, docker stop, a batch scheduler), stops the run after
    the current step and saves it."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    subprocess.run(command(data, whole, solver), check=True, capture_output=True, timeout=300)

    code, _, err = interrupt_midway(command(data, parts, solver), parts / "checkpoint.npz",
                                    signum=signum)
    assert code == 130, err
    assert "continue with: sparseae train --resume" in err and "Traceback" not in err
    assert not (parts / "model.npz").exists()
    state = load_checkpoint(parts / "checkpoint.npz")["solver"]
    assert 2 <= state["iteration"] < int(RUNS[solver][3])

    subprocess.run([sys.executable, "-m", "sparseae", "train", "--resume", str(parts),
                    "--quiet"], check=True, capture_output=True, timeout=300)
    a, b = arrays(whole / "model.npz"), arrays(parts / "model.npz")
    for name in ("W1", "b1", "W2", "b2", "loss_curve", "rho_hat"):
        assert a[name].tobytes() == b[name].tobytes(), name
    whole_metrics, parts_metrics = (json.loads((run / "metrics.json").read_text())
                                    for run in (whole, parts))
    assert whole_metrics["final_cost"] == parts_metrics["final_cost"]
    assert whole_metrics["resumed_from_iteration"] is None
    assert parts_metrics["resumed_from_iteration"] == state["iteration"]


def test_lbfgs_resume_continues_the_run_exactly(tmp_path, data):
    run = tmp_path / "run"
    code, _, err = interrupt_midway(command(data, run, "lbfgs"), run / "checkpoint.npz", 5)
    assert code == 130, err
    saved = load_checkpoint(run / "checkpoint.npz")["solver"]
    subprocess.run([sys.executable, "-m", "sparseae", "train", "--resume", str(run), "--quiet"],
                   check=True, capture_output=True, timeout=300)
    model = sparseae.load(run / "model.npz")
    assert model.loss_curve_[: saved["iteration"]] == saved["loss_curve"]
    assert len(model.loss_curve_) == model.n_iter_ <= 200
    assert model.loss_ < saved["loss_curve"][-1]
    n_params = 2 * model.W1_.size + sum(model.W1_.shape)
    assert saved["s"].shape == saved["y"].shape == (min(saved["iteration"], 10), n_params)
    whole = tmp_path / "whole"
    subprocess.run(command(data, whole, "lbfgs"), check=True, capture_output=True, timeout=300)
    assert sparseae.load(whole / "model.npz").loss_curve_ == model.loss_curve_


def test_resume_of_a_finished_run_does_nothing(tmp_path, data):
    run = tmp_path / "run"
    subprocess.run(command(data, run, "adam", "--max-iter", "1"), check=True,
                   capture_output=True, timeout=300)
    result = subprocess.run([sys.executable, "-m", "sparseae", "train", "--resume", str(run)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "already complete" in result.stdout


def test_resume_of_a_folder_that_is_no_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sparseae", "train", "--resume",
                             str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "is not a run folder (no config.json)" in result.stderr


def test_checkpoint_round_trip(tmp_path):
    state = {"seed": 3, "solver": {"theta": np.arange(5.0), "loss_curve": [1.5, 0.1 + 0.2],
                                   "rng": {"state": {"state": 2**100 + 7, "inc": 11}},
                                   "rule": {"m": np.ones(2, np.float32), "t": 4},
                                   "rho_hat": None, "epoch_sum": float("inf")}}
    save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(tmp_path / "c.npz")
    assert back["solver"]["rng"]["state"]["state"] == 2**100 + 7
    assert back["solver"]["loss_curve"] == [1.5, 0.1 + 0.2]
    assert back["solver"]["rule"]["m"].dtype == np.float32 and back["solver"]["rule"]["t"] == 4
    np.testing.assert_array_equal(back["solver"]["theta"], np.arange(5.0))
    assert back["solver"]["rho_hat"] is None and back["solver"]["epoch_sum"] == float("inf")


def test_checkpointer_interval_and_atomic_writes(tmp_path):
    saved = []
    checkpoint = Checkpointer(tmp_path / "c.npz", every=3)
    for i in range(1, 8):
        if checkpoint.maybe_save(i, lambda i=i: {"iteration": i}):
            saved.append(i)
    assert saved == [3, 6]
    assert load_checkpoint(tmp_path / "c.npz") == {"iteration": 6}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temporary left behind


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"iteration": 1})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "c.npz", {"iteration": object()})  # not serialisable
    assert load_checkpoint(tmp_path / "c.npz") == {"iteration": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match="not a sparseae checkpoint"):
        load_checkpoint(tmp_path / "c.npz")


class Kept:
    """A checkpointer that keeps the last state in memory (``state``), and only at the end."""

    state = None

    def maybe_save(self, iteration, state):
        return False

    def save(self, state):
        self.state = state


@pytest.mark.parametrize("solver", ["adam", "sgd", "gd", "lbfgs"])
def test_stop_mid_epoch_and_resume_in_process(patches, solver):
    """Adam and SGD stop after 37 steps, mid-epoch (900 training rows / 64 = 15 steps per
    epoch); GD and L-BFGS after 3 iterations."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    kwargs = dict(solver=solver, max_iter=6, batch_size=64, random_state=2,
                  rho_estimate="running", early_stopping=True, n_iter_no_change=50)
    calls = {"n": 0}
    limit = 37 if solver in ("adam", "sgd") else 3

    def stop_after_limit():
        calls["n"] += 1
        return calls["n"] > limit

    saved = Kept()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = sparseae.SparseAutoencoder(**kwargs).fit(patches)
        first = sparseae.SparseAutoencoder(**kwargs).fit(patches, checkpoint=saved,
                                                          should_stop=stop_after_limit)
        resumed = sparseae.SparseAutoencoder(**kwargs).fit(patches, resume=saved.state)
    assert first.interrupted_ and first.n_iter_ < 6
    if solver in ("adam", "sgd"):
        assert saved.state["solver"]["step"] == 37 - 2 * 15
    assert resumed.n_iter_ == whole.n_iter_ == 6
    assert resumed.W1_.tobytes() == whole.W1_.tobytes()
    assert resumed.loss_curve_ == whole.loss_curve_
    assert resumed.validation_loss_curve_ == whole.validation_loss_curve_


@pytest.mark.parametrize("kwargs", [
    dict(solver="adam", early_stopping=True, n_iter_no_change=2, tol=1e-2, batch_size=32),
    dict(solver="gd", early_stopping=True, n_iter_no_change=2, tol=1e-3, learning_rate=1.0),
])
def test_the_last_state_of_a_run_that_stopped_early_resumes_to_the_same_end(kwargs):
    """Early stopping that ended a run ends its resumed last state at once (it trained one more
    epoch)."""
    import warnings

    X = np.random.default_rng(0).uniform(0.1, 0.9, (300, 16))
    saved = Kept()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sparseae.SparseAutoencoder(5, random_state=3, max_iter=60, **kwargs)
        whole.fit(X, checkpoint=saved)
        again = sparseae.SparseAutoencoder(5, random_state=3, max_iter=60, **kwargs)
        again.fit(X, resume=saved.state)
    assert whole.stop_reason_ == again.stop_reason_ == "stopped early" and whole.n_iter_ < 60
    assert again.n_iter_ == whole.n_iter_
    assert again.W1_.tobytes() == whole.W1_.tobytes()


def train(*argv) -> int:
    from sparseae.cli import main

    return main(["train", "--quiet", *argv])


def new_run(out, max_iter) -> int:
    return train("--patches", "2000", "--max-iter", str(max_iter), "--out", str(out))


def test_a_finished_run_trained_longer_equals_the_longer_run(tmp_path, capsys):
    short, long = tmp_path / "short", tmp_path / "long"
    assert new_run(short, 12) == 0
    assert new_run(long, 30) == 0
    capsys.readouterr()
    assert train("--resume", str(short), "--max-iter", "30", "--seed", "5") == 0
    printed = capsys.readouterr()
    assert "note: --seed ignored: a resumed run keeps its own settings" in printed.err
    assert re.search(r", 30 iterations, the last 18 in \d+\.\d s\n", printed.out)
    a, b = sparseae.load(short / "model.npz"), sparseae.load(long / "model.npz")
    assert a.n_iter_ == b.n_iter_ == 30
    assert a.loss_curve_ == b.loss_curve_ and a.W1_.tobytes() == b.W1_.tobytes()
    assert json.loads((short / "config.json").read_text())["max_iter"] == 30
    metrics = json.loads((short / "metrics.json").read_text())
    assert metrics["iterations"] == 30 and metrics["resumed_from_iteration"] == 12


def test_a_resumed_run_may_change_how_it_is_computed(tmp_path, capsys):
    """--memory-budget and --threads say how a run is computed, not what: given with --resume
    they replace the run's (a smaller machine, a budget that proved too large), and stay."""
    run = tmp_path / "run"
    assert new_run(run, 12) == 0
    assert json.loads((run / "config.json").read_text())["memory_budget"] == "auto"
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "14", "--memory-budget", "2GiB",
                 "--threads", "1") == 0
    assert "ignored" not in capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert (config["memory_budget"], config["threads"], config["max_iter"]) == ("2GiB", 1, 14)
    assert train("--resume", str(run), "--max-iter", "16") == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["memory_budget"], config["threads"], config["max_iter"]) == ("2GiB", 1, 16)
    assert train("--resume", str(run), "--max-iter", "18", "--memory-budget", "1KB") == 2
    assert "memory budget of 1000 bytes is too small" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["memory_budget"] == "2GiB"


def test_a_resumed_run_may_take_another_tol(tmp_path, capsys):
    """--tol says how long a run goes on, as --max-iter does: given with --resume it replaces
    the run's, and stays. gd's cost still falls at its iteration limit by more than 1e-4, but
    not by more than 1e9."""
    run = tmp_path / "run"
    assert train("--solver", "gd", "--learning-rate", "0.01", "--patches", "2000",
                 "--max-iter", "5", "--out", str(run)) == 0
    assert "note: gd used all its 5 iterations while its cost still fell" \
        in capsys.readouterr().err
    assert train("--resume", str(run), "--max-iter", "8", "--tol", "1e9") == 0
    assert capsys.readouterr().err == ""
    assert json.loads((run / "config.json").read_text())["tol"] == 1e9
    assert train("--resume", str(run), "--max-iter", "10") == 0
    assert capsys.readouterr().err == ""
    assert json.loads((run / "config.json").read_text())["tol"] == 1e9
    assert sparseae.load(run / "model.npz").n_iter_ == 10


def test_a_resumed_run_may_go_on_on_another_device(tmp_path, capsys):
    """--device is how too: a run of a GPU goes on on the CPU (or NumPy), or on a machine with
    fewer GPUs; without --device it keeps the run's."""
    pytest.importorskip("torch")
    run = tmp_path / "run"
    assert train("--patches", "300", "--n-hidden", "5", "--max-iter", "3", "--device", "cpu",
                 "--out", str(run)) == 0
    assert json.loads((run / "config.json").read_text())["device"] == "cpu"
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "5", "--device", "numpy") == 0
    assert "ignored" not in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["device"] == "numpy"
    assert sparseae.load(run / "model.npz").device == "numpy"
    assert train("--resume", str(run), "--max-iter", "7") == 0
    assert json.loads((run / "config.json").read_text())["device"] == "numpy"
    model = sparseae.load(run / "model.npz")
    assert model.n_iter_ == 7 and np.isfinite(model.loss_curve_).all()


def test_a_checkpoint_that_failed_to_save_counts_as_none(tmp_path, monkeypatch, capsys):
    """A new run whose first checkpoint could not be written (a full disk) saved nothing: it
    leaves no folder that would block the same command again."""
    import sparseae.checkpoint as checkpoint

    def full(path, state):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "save_checkpoint", full)
    run = tmp_path / "run"
    assert train("--patches", "200", "--max-iter", "3", "--checkpoint-every", "1",
                 "--out", str(run)) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {run / 'checkpoint.npz'}: no space left on device")
    assert not run.exists()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_checkpoint_that_fails_to_save_in_a_fit_is_an_error_and_the_last_one_is_kept(
        tmp_path, monkeypatch):
    """A fit given a checkpoint promises states to resume from: one that cannot be saved (a
    full disk) ends it with the error naming the file, as train does, and leaves the
    estimator as it was (unchanged_on_failure); the file keeps the last state saved, which
    resumes to the uninterrupted fit's end."""
    import errno

    import sparseae.checkpoint as checkpoint
    from sparseae import SparseAutoencoder

    X = np.random.default_rng(0).random((40, 5))
    save = checkpoint.save_checkpoint

    def full_after_2(path, state):
        if state["solver"]["iteration"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return save(path, state)

    model = SparseAutoencoder(3, max_iter=6, random_state=0)
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "save_checkpoint", full_after_2)
        with pytest.raises(OSError) as caught:
            model.fit(X, checkpoint=Checkpointer(tmp_path / "ck.npz", every=2))
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(tmp_path / "ck.npz"))
    assert not hasattr(model, "W1_")
    state = load_checkpoint(tmp_path / "ck.npz")
    assert state["solver"]["iteration"] == 2
    whole = SparseAutoencoder(3, max_iter=6, random_state=0).fit(X)
    np.testing.assert_array_equal(model.fit(X, resume=state).W1_, whole.W1_)


def test_a_run_is_only_trained_longer_with_more_iterations(tmp_path, capsys):
    run = tmp_path / "run"
    assert new_run(run, 12) == 0
    capsys.readouterr()
    assert train("--resume", str(run)) == 0
    assert "already complete; nothing to resume (to train it longer, give --max-iter above " \
        "its 12)" in capsys.readouterr().out
    assert train("--resume", str(run), "--tol", "0.01") == 0  # (used to pass in silence)
    assert capsys.readouterr().out == (
        f"{run} is already complete; nothing to resume (to train it longer, give --max-iter "
        "above its 12); --tol has no effect, since nothing runs\n")
    assert train("--resume", str(run), "--tol", "0.01", "--threads", "1") == 0
    assert capsys.readouterr().out.endswith("; --tol and --threads have no effect, since "
                                            "nothing runs\n")
    assert train("--resume", str(run), "--max-iter", "12") == 2
    assert "has done 12 iterations; to continue it, --max-iter must be more than that, got " \
        "12" in capsys.readouterr().err
    assert train("--resume", str(run), "--max-iter", "20", "--out", str(tmp_path / "new")) == 2
    assert f"--out has no effect with --resume: the run goes on in {run} and its model.npz is " \
        f"replaced; to keep {run} as it is, copy it and resume the copy (cp -r {run} " \
        f"{tmp_path / 'new'} && sparseae train --resume {tmp_path / 'new'} ...)" \
        in capsys.readouterr().err
    assert sparseae.load(run / "model.npz").n_iter_ == 12 and not (tmp_path / "new").exists()


def test_a_run_without_its_checkpoint_is_not_trained_longer_from_the_start(tmp_path, capsys):
    """A finished run whose checkpoint.npz was deleted has no state to go on from: --max-iter
    is refused, not taken for a new training of that many iterations over its model."""
    run = tmp_path / "run"
    assert new_run(run, 12) == 0
    (run / "checkpoint.npz").unlink()
    model = (run / "model.npz").read_bytes()
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "20") == 2
    assert capsys.readouterr().err == (
        f"sparseae: error: {run} has no checkpoint.npz to continue from\n")
    assert (run / "model.npz").read_bytes() == model


def test_a_run_from_before_a_setting_was_recorded_goes_on_with_its_default(tmp_path, capsys):
    """config.json of a run from before lr_schedule and rho_estimate were recorded: the run did
    what their defaults do, and is trained longer so (it was a KeyError, a traceback)."""
    run = tmp_path / "run"
    assert new_run(run, 12) == 0
    config = json.loads((run / "config.json").read_text())
    del config["lr_schedule"], config["rho_estimate"]
    (run / "config.json").write_text(json.dumps(config))
    assert train("--resume", str(run), "--max-iter", "14") == 0
    assert sparseae.load(run / "model.npz").n_iter_ == 14
    config = json.loads((run / "config.json").read_text())
    assert (config["lr_schedule"], config["rho_estimate"]) == ("constant", "batch")


def test_training_a_run_longer_says_its_features_are_of_the_model_before(tmp_path, capsys):
    run = tmp_path / "run"
    assert new_run(run, 12) == 0
    from sparseae.cli import main

    assert main(["encode", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "14") == 0
    assert (f"note: {run / 'features.npy'} holds the features of the model before this "
            f"training; to renew them: sparseae encode {run}") in capsys.readouterr().err


def test_a_run_that_stopped_itself_is_not_told_to_train_longer(tmp_path, capsys):
    run = tmp_path / "run"
    assert train("--patches", "2000", "--max-iter", "400", "--early-stopping", "--patience", "1",
                 "--out", str(run)) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_reason"] == "stopped early" and metrics["iterations"] < 400
    capsys.readouterr()
    assert train("--resume", str(run)) == 0
    assert capsys.readouterr().out.strip() == (
        f"{run} is already complete; nothing to resume (it stopped itself after "
        f"{metrics['iterations']} of its 400 iterations: early stopping ended it, as the "
        "held-out cost had stopped falling; more iterations would not take it much further)")
    (run / "metrics.json").write_text(json.dumps({**metrics, "stop_reason": None}))
    assert train("--resume", str(run)) == 0  # (None: a run from before it was recorded)
    assert ("iterations: converged, stopped early, or no step lowered the cost; more "
            "iterations would not take it much further") in capsys.readouterr().out


def test_more_iterations_for_a_run_that_converged_say_that_they_train_nothing(tmp_path, capsys):
    """L-BFGS resumed where it converged stops at once: --max-iter 3000 trained 0 iterations
    and said only "196 iterations, the last 0 in 0.0 s"."""
    run = tmp_path / "run"
    assert train("--patches", "20", "--n-hidden", "1", "--max-iter", "2000",
                 "--out", str(run)) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_reason"] == "the gradient is below gtol"
    done = metrics["iterations"]
    assert done < 2000
    files = {name: (run / name).read_bytes() for name in ("config.json", "model.npz")}
    capsys.readouterr()
    for more, said in ((["--max-iter", "3000"], "--max-iter 3000"),
                       (["--max-iter", "10"], "--max-iter 10"), ([], "more iterations")):
        assert train("--resume", str(run), *more) == 0
        assert capsys.readouterr().out == (
            f"{run} is already complete; nothing to resume (it converged after {done} "
            f"iterations: the gradient is below gtol, and L-BFGS stops there at once, so {said} "
            f"would train nothing; no option sets L-BFGS's tolerances (--tol is early "
            "stopping's))\n")
    assert files == {name: (run / name).read_bytes() for name in files}
    (run / "metrics.json").write_text(json.dumps(
        {**metrics, "stop_reason": "the relative decrease of the cost is below ftol"}))
    assert train("--resume", str(run), "--max-iter", "3000") == 0
    assert (f"(it converged after {done} iterations: the relative decrease of the cost is "
            "below ftol, and L-BFGS stops") in capsys.readouterr().out


def test_an_interrupted_extension_resumes_to_its_new_total(tmp_path):
    """metrics.json of iteration 12 with a checkpoint of iteration 20 (an extension to 30
    stopped there): plain --resume goes on to 30."""
    run, mid, long = tmp_path / "run", tmp_path / "mid", tmp_path / "long"
    assert new_run(run, 12) == 0
    assert new_run(mid, 20) == 0
    assert new_run(long, 30) == 0
    (run / "checkpoint.npz").write_bytes((mid / "checkpoint.npz").read_bytes())
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "max_iter": 30}))
    assert train("--resume", str(run)) == 0
    a, b = sparseae.load(run / "model.npz"), sparseae.load(long / "model.npz")
    assert a.n_iter_ == 30 and a.loss_curve_ == b.loss_curve_


def test_an_extension_killed_before_its_first_checkpoint_resumes_to_its_new_total(tmp_path):
    """config.json says 30 while the checkpoint and metrics.json still say 12, reached at the
    iteration limit (an extension to 30 killed before it saved anything): the run is not
    complete, and plain --resume goes on to 30."""
    run, long = tmp_path / "run", tmp_path / "long"
    assert new_run(run, 12) == 0
    assert new_run(long, 30) == 0
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "max_iter": 30}))
    assert train("--resume", str(run)) == 0
    a, b = sparseae.load(run / "model.npz"), sparseae.load(long / "model.npz")
    assert a.n_iter_ == 30 and a.loss_curve_ == b.loss_curve_


def test_an_extension_killed_after_its_last_checkpoint_goes_on_with_the_same_command(
        tmp_path, capsys):
    """An extension to 30 killed (SIGKILL) after its checkpoint of iteration 30 and before its
    model.npz and metrics.json (still of 12): the same command, given again, saves them; it
    was told that --max-iter must be more than 30, which would have trained past what it
    asked for."""
    run, long = tmp_path / "run", tmp_path / "long"
    assert new_run(run, 12) == 0
    before = {name: (run / name).read_bytes() for name in ("model.npz", "metrics.json")}
    assert train("--resume", str(run), "--max-iter", "30") == 0
    for name, content in before.items():
        (run / name).write_bytes(content)
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "30") == 0
    assert new_run(long, 30) == 0
    a, b = sparseae.load(run / "model.npz"), sparseae.load(long / "model.npz")
    assert a.n_iter_ == 30 and a.loss_curve_ == b.loss_curve_
    assert json.loads((run / "metrics.json").read_text())["iterations"] == 30
    capsys.readouterr()
    assert train("--resume", str(run), "--max-iter", "30") == 2  # complete now
    assert "has done 30 iterations; to continue it, --max-iter must be more than that" in \
        capsys.readouterr().err


def handlers():
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


@pytest.mark.parametrize("first, second", [(signal.SIGINT, signal.SIGINT),
                                           (signal.SIGTERM, signal.SIGTERM),
                                           (signal.SIGTERM, signal.SIGINT)],
                         ids=["sigint", "sigterm", "sigterm-then-sigint"])
def test_ctrl_c_sets_a_flag_once_and_interrupts_the_second_time(first, second):
    from sparseae.checkpoint import GracefulInterrupt

    def outside(signum, frame):  # (SIGTERM's default would end pytest)
        raise AssertionError(f"signal {signum} reached the handler from before")

    previous = signal.signal(signal.SIGTERM, outside)
    try:
        before = handlers()
        with GracefulInterrupt() as stop:
            assert not stop()
            signal.raise_signal(first)
            assert stop()
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(second)
        assert handlers() == before
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_graceful_interrupt_outside_the_main_thread_sets_no_handler():
    """Only the main thread may set signal handlers: a fit in another thread given a
    GracefulInterrupt as should_stop runs, with handlers left as they were."""
    from sparseae.checkpoint import GracefulInterrupt

    before, seen = handlers(), []

    def fit():
        with GracefulInterrupt() as stop:
            model = sparseae.SparseAutoencoder(n_hidden=3, max_iter=2, random_state=0)
            model.fit(np.random.default_rng(0).uniform(size=(20, 4)), should_stop=stop)
            seen.append((model.n_iter_, handlers()))

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join()
    assert seen == [(2, before)]
    assert handlers() == before


def test_a_signal_the_parent_process_ignores_stays_ignored():
    """A shell's background job (``sparseae train ... &``) ignores SIGINT: Ctrl-C in the
    terminal is not meant for it, and does not become a request to stop. SIGTERM is still
    answered; both are as they were after."""
    from sparseae.checkpoint import stop_signals

    def handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        before = signal.getsignal(signal.SIGTERM)
        with stop_signals(handler):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is handler
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_checkpoint_keeps_tuples_of_arrays_as_lists(tmp_path):
    state = {"pair": (np.arange(3.0), 2), "nested": [(np.ones(2, np.float32),)]}
    save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(tmp_path / "c.npz")
    assert isinstance(back["pair"], list) and back["pair"][1] == 2
    np.testing.assert_array_equal(back["pair"][0], np.arange(3.0))
    assert back["nested"][0][0].dtype == np.float32


def test_a_checkpoint_keeps_lists_of_arrays_apart(tmp_path):
    state = {"seed": 3, "solver": {"history": [np.ones(2), np.zeros(2), {"a": np.arange(3)}]}}
    back = load_checkpoint(save_checkpoint(tmp_path / "c.npz", state))["solver"]["history"]
    np.testing.assert_array_equal(back[0], np.ones(2))
    np.testing.assert_array_equal(back[1], np.zeros(2))
    np.testing.assert_array_equal(back[2]["a"], np.arange(3))


def test_a_checkpoint_missing_an_array_is_named_damaged(tmp_path):
    from sparseae.io import read_archive, write_archive

    save_checkpoint(tmp_path / "c.npz", {"seed": 1, "solver": {"theta": np.zeros(3)}})
    header, arrays = read_archive(tmp_path / "c.npz", {"sparseae.checkpoint": 1}, "checkpoint")
    del arrays["state/solver/theta"]
    write_archive(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError, match="damaged checkpoint: state/solver/theta missing"):
        load_checkpoint(tmp_path / "bad.npz")


def test_models_and_checkpoints_are_not_taken_for_each_other(tmp_path):
    model = sparseae.SparseAutoencoder(3, max_iter=3, random_state=0)
    model.fit(np.random.default_rng(0).random((50, 4))).save(tmp_path / "m.npz")
    save_checkpoint(tmp_path / "c.npz", {"seed": 1, "solver": {"theta": np.zeros(3)}})
    with pytest.raises(sparseae.ModelFileError, match="not a sparseae model file"):
        sparseae.load(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="not a sparseae checkpoint"):
        load_checkpoint(tmp_path / "m.npz")
    for every in (0, 2.5, "5", None):
        with pytest.raises(ValueError, match=f"^checkpoint interval must be an integer of at "
                                             f"least 1, got {every!r}$"):
            Checkpointer(tmp_path / "c.npz", every=every)


def test_a_wrong_resume_is_refused_before_training(tmp_path):
    from sparseae import NetworkClassifier, SparseAutoencoder

    X = np.random.default_rng(0).random((40, 5))
    model = SparseAutoencoder(3, solver="adam", max_iter=2, random_state=0)
    model.fit(X, checkpoint=Checkpointer(tmp_path / "ck.npz"))
    state = load_checkpoint(tmp_path / "ck.npz")
    for resume in (str(tmp_path / "ck.npz"), model, {}):
        with pytest.raises(TypeError, match=r"^resume takes the state that sparseae.checkpoint."
                                            r"load_checkpoint\(path\) returns, got "):
            SparseAutoencoder(3, solver="adam").fit(X, resume=resume)
    with pytest.raises(ValueError, match="^resume is a state of the 'adam' solver; this model's "
                                         "is 'lbfgs' \\(set solver='adam' to continue it\\)$"):
        SparseAutoencoder(3).fit(X, resume=state)
    with pytest.raises(ValueError, match="^resume holds 38 parameters, but this model has 49 "):
        SparseAutoencoder(4, solver="adam").fit(X, resume=state)
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="^resume holds 38 parameters, but this model has 12 "):
        NetworkClassifier(solver="adam").fit(X, y, resume=state)
    for kwargs, data, message in [  # what the state depends on, or too few epochs for it
            ({"batch_size": 16}, X, "^resume is of a run with batch_size=256; this model has "
                                    r"batch_size=16 \(set batch_size=256 to continue it\)$"),
            ({"shuffle": False}, X, "^resume is of a run with shuffle=True; this model has "
                                    "shuffle=False "),
            ({"early_stopping": True}, X, "^resume is of a run with early_stopping=False; this "
                                          "model has early_stopping=True "),
            ({}, X[:30], "^resume is of a run on 40 training rows; this fit has 30 "),
            ({"max_iter": 1}, X, r"^resume has done 2 epochs, more than max_iter=1 \(to "
                                 r"continue it, max_iter must be at least 2\)$")]:
        with pytest.raises(ValueError, match=message):
            SparseAutoencoder(3, solver="adam", **kwargs).fit(data, resume=state)
    with pytest.raises(FileNotFoundError, match=f"^no such folder: {tmp_path / 'no'} \\(to "
                                                "write ck.npz in\\)$"):  # before any iteration
        SparseAutoencoder(3, callback=lambda *a: pytest.fail("trained")).fit(
            X, checkpoint=Checkpointer(tmp_path / "no" / "ck.npz"))
    with pytest.raises(TypeError, match="^init takes a list of sparseae.network.Layer, got 'x'$"):
        NetworkClassifier().fit(X, y, init="x")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_resuming_the_last_state_of_a_finished_run_trains_nothing(tmp_path):
    X = np.random.default_rng(0).random((40, 5))
    model = sparseae.SparseAutoencoder(3, solver="adam", max_iter=2, random_state=0)
    model.fit(X, checkpoint=Checkpointer(tmp_path / "ck.npz"))
    state = load_checkpoint(tmp_path / "ck.npz")
    assert state["solver"]["iteration"] == 2
    again = sparseae.SparseAutoencoder(3, solver="adam", max_iter=2, callback=lambda *a:
                                       pytest.fail("trained")).fit(X, resume=state)
    assert again.n_iter_ == 2 and again.loss_curve_ == model.loss_curve_
    assert again.W1_.tobytes() == model.W1_.tobytes()


def test_a_run_that_diverges_keeps_the_last_checkpoint_it_could_go_on_from(tmp_path):
    from sparseae.fitting import _goes_on
    from sparseae.solvers import Result

    X = np.random.default_rng(0).random((20, 4)) * 1e3
    model = sparseae.SparseAutoencoder(2, decoder="linear", solver="gd", learning_rate=1e6,
                                       max_iter=50)
    with pytest.raises(ValueError, match="^training diverged: "), np.errstate(all="ignore"):
        model.fit(X, checkpoint=Checkpointer(tmp_path / "ck.npz", every=1))
    state = load_checkpoint(tmp_path / "ck.npz")
    assert state["solver"]["iteration"] >= 1 and np.isfinite(state["solver"]["theta"]).all()
    assert np.isfinite(state["solver"]["loss_curve"]).all()
    # gd's last cost is of the weights before its last step: those after it are checked too
    finite = {"theta": np.zeros(3)}
    assert _goes_on(Result(np.zeros(3), 1, False, "", [1.0], state=finite))
    assert not _goes_on(Result(np.zeros(3), 1, False, "", [1.0],
                               state={"theta": np.array([0.0, np.inf, 0.0])}))
    assert not _goes_on(Result(np.zeros(3), 1, False, "", [np.inf], state=finite))


def test_a_resume_under_another_objective_or_other_steps_is_refused(tmp_path):
    """Settings of the same number of parameters went on silently from the state of another
    objective, and the model claimed settings it was not trained with."""
    from sparseae import NetworkClassifier, SparseAutoencoder

    X = np.random.default_rng(0).random((40, 5))
    run = {"solver": "adam", "max_iter": 2, "random_state": 0}
    SparseAutoencoder(3, **run).fit(X, checkpoint=Checkpointer(tmp_path / "ck.npz"))
    state = load_checkpoint(tmp_path / "ck.npz")
    for kwargs, differs in [
            ({"sparsity_weight": 1}, "sparsity_weight=3.0; this model has sparsity_weight=1"),
            ({"sparsity_target": 0.1}, "sparsity_target=0.01; this model has "
                                       "sparsity_target=0.1"),
            ({"weight_decay": 0}, "weight_decay=0.0001; this model has weight_decay=0"),
            ({"activation": "tanh"}, "activation='sigmoid'; this model has activation='tanh'"),
            ({"sparsity": "l1"}, "sparsity='kl'; this model has sparsity='l1'"),
            ({"decoder": "linear"}, "decoder='sigmoid'; this model has decoder='linear'"),
            ({"init": "glorot_uniform"}, "init='ufldl'; this model has init='glorot_uniform'"),
            ({"dtype": "float32"}, "dtype='float64'; this model has dtype='float32'"),
            ({"learning_rate": 0.1}, "learning_rate=0.01; this model has learning_rate=0.1"),
            ({"learning_rate_schedule": "cosine"}, "learning_rate_schedule='constant'; this "
                                                   "model has learning_rate_schedule='cosine'"),
            ({"beta_2": 0.99}, "beta_2=0.999; this model has beta_2=0.99"),
            ({"rho_estimate": "running"}, "rho_estimate='batch'; this model has "
                                          "rho_estimate='running'"),
            ({"random_state": 1}, "random_state=0; this model has random_state=1")]:
        advice = f"set {differs.split(';')[0]} to continue it"
        with pytest.raises(ValueError, match="^" + re.escape(f"resume is of a run with {differs} "
                                                             f"({advice})") + "$"):
            SparseAutoencoder(3, **{**run, **kwargs}).fit(X, resume=state)
    # how long it runs and how it is computed may change; None is the default rate it was
    model = SparseAutoencoder(3, solver="adam", max_iter=4, learning_rate=0.01, tol=1,
                              n_iter_no_change=2, n_threads=1, reproducible=True,
                              momentum=0.5, rho_momentum=0.5).fit(X, resume=state)
    assert model.n_iter_ == 4
    old = {**state, "run": {k: state["run"][k] for k in ("n_samples", "validation",
                                                          "batch_size", "shuffle")}}
    model = SparseAutoencoder(3, **{**run, "max_iter": 3, "sparsity_weight": 1})
    model.fit(X, resume=old)
    assert model.n_iter_ == 3  # (a state saved before these were: taken at its word)
    y = np.arange(40) % 2
    NetworkClassifier((2,), max_iter=2, random_state=0).fit(
        X, y, checkpoint=Checkpointer(tmp_path / "net.npz"))
    with pytest.raises(ValueError, match="^resume is of a run with activation='sigmoid'; this "
                                         "model has activation='tanh' "):
        NetworkClassifier((2,), activation="tanh", max_iter=3).fit(
            X, y, resume=load_checkpoint(tmp_path / "net.npz"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_resume_under_the_l1_penalty_may_give_another_sparsity_target(tmp_path):
    """The L1 penalty has no target (objective.l1_penalty), yet a resumed fit with another
    sparsity_target was refused ("resume is of a run with sparsity_target=0.01; this model has
    sparsity_target=0.2"); under KL it still is."""
    from sparseae import SparseAutoencoder

    X = np.random.default_rng(0).random((40, 5))
    run = {"solver": "adam", "max_iter": 2, "random_state": 0}
    for sparsity in ("l1", "kl"):
        SparseAutoencoder(3, sparsity=sparsity, **run).fit(
            X, checkpoint=Checkpointer(tmp_path / f"{sparsity}.npz"))
    whole = SparseAutoencoder(3, sparsity="l1", **{**run, "max_iter": 4}).fit(X)
    resumed = SparseAutoencoder(3, sparsity="l1", sparsity_target=0.2, **{**run, "max_iter": 4})
    resumed.fit(X, resume=load_checkpoint(tmp_path / "l1.npz"))
    assert resumed.n_iter_ == 4
    np.testing.assert_array_equal(resumed.W1_, whole.W1_)
    with pytest.raises(ValueError, match="^" + re.escape(
            "resume is of a run with sparsity_target=0.01; this model has sparsity_target=0.2 "
            "(set sparsity_target=0.01 to continue it)") + "$"):
        SparseAutoencoder(3, sparsity="kl", sparsity_target=0.2, **{**run, "max_iter": 4}).fit(
            X, resume=load_checkpoint(tmp_path / "kl.npz"))
    with pytest.raises(ValueError, match="^" + re.escape(
            "resume is of a run with sparsity='l1'; this model has sparsity='kl' "
            "(set sparsity='l1' to continue it)") + "$"):
        SparseAutoencoder(3, sparsity="kl", **{**run, "max_iter": 4}).fit(
            X, resume=load_checkpoint(tmp_path / "l1.npz"))


def test_a_run_is_not_resumed_on_other_data(tmp_path, capsys):
    data, run = tmp_path / "x.npy", tmp_path / "run"
    rng = np.random.default_rng(0)
    original = rng.uniform(0.1, 0.9, (60, 16))
    np.save(data, original)
    assert train("--data", str(data), "--max-iter", "5", "--n-hidden", "3", "--out", str(run),
                 "--quiet") == 0
    capsys.readouterr()
    for other, change in [(rng.uniform(0.1, 0.9, (70, 16)),
                           "it had 60 samples of 16 features, now 70 of 16"),
                          (rng.uniform(0.1, 0.9, (60, 16)),
                           "the same number of samples and features, other values")]:
        np.save(data, other)
        assert train("--resume", str(run), "--max-iter", "8") == 2
        assert capsys.readouterr().err.strip() == (
            f"sparseae: error: the data of {run} ({data}) changed since the run began: "
            f"{change}; a resumed run goes on with the data it began with, so train a new run "
            f"on the new data (or, if {run / 'config.json'} was edited by hand, put back the "
            "settings that read it)")
    np.save(data, original)
    assert train("--resume", str(run), "--max-iter", "8", "--quiet") == 0
    assert sparseae.load(run / "model.npz").n_iter_ == 8
