"""Data-parallel training: two processes on this machine (gloo) give the one-process result."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from sparseae.distributed import Part, part  # noqa: E402

HERE = Path(__file__).parent


# These runs take about 10 s here. Processes whose steps differ wait for each other's
# all-reduces until gloo's own timeout (30 minutes): fail long before, and kill every worker.
TIMEOUT = 180


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, from /proc (none where there is none)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # (a process that has just ended)
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found = list(children.get(pid, []))
    for child in found:  # (grows as it goes)
        found.extend(children.get(child, []))
    return found


def kill_tree(pid: int):
    """SIGKILL the process group of ``pid`` and of every process below it: torchrun starts
    each worker in a session of its own, so killing torchrun's group alone leaves the workers
    running (reparented), holding the output pipes open."""
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(member), signal.SIGKILL)


def run(command, env=None) -> subprocess.CompletedProcess:
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}) as process:
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)  # torchrun and its workers
            try:
                process.communicate(timeout=10)
                left = ""
            except subprocess.TimeoutExpired:
                left = " (and something it started still holds its output open)"
            pytest.fail(f"{' '.join(command[1:4])}... still running after {TIMEOUT} s{left}: "
                        "did the processes take different steps and wait on each other?")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def torchrun(*args, env=None):
    return run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", *args], env)


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """The fits of distributed_fits.py, alone and on two processes (one thread each, as torchrun
    gives every process: PyTorch's sums depend on its thread count)."""
    folder = tmp_path_factory.mktemp("distributed")
    alone, together = folder / "alone.npz", folder / "together.npz"
    result = run([sys.executable, str(HERE / "distributed_fits.py"), str(alone), "alone"])
    assert result.returncode == 0, result.stderr[-3000:]
    result = torchrun(str(HERE / "distributed_fits.py"), str(together), "distributed")
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(alone), np.load(together)


def relative(a, b):
    return np.max(np.abs(a - b) / np.abs(a))


@pytest.mark.parametrize("name", ["lbfgs_numpy", "lbfgs_torch"])
def test_reproducible_lbfgs_on_two_processes_is_the_one_process_run(curves, name):
    alone, together = curves
    assert len(alone[name]) == len(together[name]) == 60
    assert relative(alone[name], together[name]) < 1e-10
    assert np.array_equal(alone[name + "_W1"], together[name + "_W1"])


def test_plain_sums_match_to_rounding_in_the_first_iterations(curves):
    alone, together = curves
    assert relative(alone["lbfgs_plain"], together["lbfgs_plain"]) < 1e-10


def test_adam_on_two_processes_follows_the_one_process_run(curves):
    alone, together = curves
    assert relative(alone["adam_torch"], together["adam_torch"]) < 1e-12


def test_cli_under_torchrun_writes_one_run_folder(tmp_path):
    out = tmp_path / "run"
    result = torchrun("-m", "sparseae", "train", "--patches", "1000", "--n-hidden", "10",
                      "--max-iter", "5", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 5 and metrics["n_samples"] == 1000
    assert result.stdout.count("trained 64-10-64") == 1  # rank 0 alone reports
    # to go on as it ran, not with every process's rows in one
    assert result.stderr.count("to train longer: ") == 1
    assert result.stderr.strip().endswith(
        f"to train longer: torchrun --nproc_per_node=2 -m sparseae train --resume {out} "
        "--max-iter 10")


def test_cli_under_torchrun_scales_the_share_of_a_process_that_gets_no_rows(tmp_path):
    """--reproducible shares whole blocks (1024 rows of 64 float64 features on PyTorch's CPU):
    of 1000 patches, rank 0 gets none, and the patch normalisation must pass its empty share
    through."""
    out = tmp_path / "run"
    result = torchrun("-m", "sparseae", "train", "--patches", "1000", "--n-hidden", "10",
                      "--max-iter", "3", "--device", "cpu", "--reproducible", "--quiet",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    alone = run([sys.executable, "-m", "sparseae", "train", "--patches", "1000", "--n-hidden",
                 "10", "--max-iter", "3", "--device", "cpu", "--reproducible", "--quiet",
                 "--out", str(tmp_path / "alone")])
    assert alone.returncode == 0, alone.stderr[-3000:]
    costs = [json.loads((folder / "metrics.json").read_text())["final_cost"]
             for folder in (out, tmp_path / "alone")]
    assert costs[0] == costs[1]


def test_the_processes_share_one_seed_and_refuse_different_data(tmp_path):
    """Without a random_state each process would draw its own starting weights, and with
    different data their steps would part ways and wait on each other's all-reduces. NaN in
    one process's part is every process's error (one process raised, naming the row in its
    part, and the other failed inside gloo), and values out of range in one process's part
    rank 0's warning (rank 0 alone reports). A stop asked for in one process stops all of
    them after the same step."""
    result = torchrun(str(HERE / "distributed_fits.py"), str(tmp_path / "out"), "checks")
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [np.load(tmp_path / f"out-{rank}.npz") for rank in (0, 1)]
    np.testing.assert_array_equal(ranks[0]["W1"], ranks[1]["W1"])
    for rank in ranks:  # each process says the same, whichever found it
        assert list(rank["errors"]) == [
            "the processes hold different data (rank 1 differs from rank 0; rank 0: 200 x 64, "
            "rank 1: 199 x 64): each must read the same rows, all of them (the same file, or "
            "samples drawn with the same seed); the processes share them out themselves",
            "the data contains NaN (first at row 130, column 2)",  # in rank 1's part
            "the data contains NaN (first at row 199, column 2)"]  # a row both compare
    assert any(message.startswith("X has values in [") and "decoder='sigmoid'" in message
               for message in ranks[0]["warnings"])
    assert list(ranks[1]["warnings"]) == []  # (the same warnings, once)
    assert [list(rank["stopped"]) for rank in ranks] == [[3, 1], [3, 1]]


def test_a_process_left_alone_says_so_instead_of_gloo_s_error(tmp_path):
    """When another process stops mid-fit, gloo's next exchange raised a RuntimeError from
    deep inside it ("[.../pair.cc:553] Connection closed by peer ... GLHF!"), which the command
    line showed as a traceback."""
    result = torchrun(str(HERE / "distributed_fits.py"), str(tmp_path / "out"), "fails")
    assert result.returncode == 0, result.stderr[-3000:]
    kind, message = (tmp_path / "out-1.txt").read_text().split("\n", 1)
    assert kind == "PeerError"
    assert re.fullmatch(r"process 1 of 2 lost the others: another process of the run stopped "
                        r"\(its own message says why\) or the connection broke \((Connection "
                        r"closed by peer|Read error .*: Connection reset by peer)[^)]*\)",
                        message), message  # (gloo's words: either, by the timing)


def test_parts_cover_the_rows_once_and_align_to_blocks():
    parts = [part(1000, r, 3, align=128) for r in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 384), (384, 640), (640, 1000)]
    # to the nearest block: 5000 would round down to 0 and leave all the work to one process
    assert [(p.start, p.stop) for p in (part(10000, r, 2, align=8192) for r in range(2))] == [
        (0, 8192), (8192, 10000)]
    assert [(p.start, p.stop) for p in (part(1000, r, 2, align=8192) for r in range(2))] == [
        (0, 0), (0, 1000)]
    assert list(Part(256, 640, 1000).local(np.array([5, 300, 639, 640]))) == [44, 383]
    assert [(p.start, p.stop) for p in (part(3, r, 3) for r in range(3))] == [
        (0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="2 rows cannot be shared by 3 processes"):
        part(2, 0, 3)


def test_the_range_is_all_processes_and_the_error_the_first_process_s(monkeypatch):
    """Each process sends its (low, high) and its part's NonFiniteError, if any (1, kind, row,
    column); every process gets the smallest low and the largest high of all, or, where any
    part failed, the error of the first rank that did (the first such row of the data)."""
    from sparseae import distributed
    from sparseae.data.rows import NonFiniteError

    sent, figures = [], [[0.2, 0.9, 0, 0, 0, 0], [-0.5, 0.7, 0, 0, 0, 0], [0.1, 3.0, 0, 0, 0, 0]]

    def gathered(values, backend):
        sent.append(list(values))
        return np.array(figures, dtype=float)

    monkeypatch.setattr(distributed, "gathered", gathered)
    assert distributed.agreed_range(0.2, 0.9, None, None) == (-0.5, 3.0)
    figures[1][2:], figures[2][2:] = [1, 1, 130, 2], [1, 0, 250, 3]
    with pytest.raises(NonFiniteError, match=r"^the data contains infinity \(first at row 130, "
                                             r"column 2\)$"):
        distributed.agreed_range(np.inf, np.inf, NonFiniteError(1, 130, 2), None)
    assert sent == [[0.2, 0.9, 0, 0, 0, 0], [np.inf, np.inf, 1, 1, 130, 2]]


def test_allgather_gives_every_process_s_array_in_rank_order(monkeypatch):
    """(A stand-in for gloo's all_gather: rank r sent r + its array.) The compensated sums of
    ``objective.Shard`` add the processes' parts in this order, the same on every process."""
    import torch

    from sparseae import distributed

    def all_gather(out, tensor):
        for rank, slot in enumerate(out):
            slot.copy_(tensor + rank)

    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 3)
    monkeypatch.setattr(torch.distributed, "all_gather", all_gather)
    got = distributed.allgather(np.array([[1.0, 2.0]]))
    assert all(isinstance(a, np.ndarray) for a in got)
    assert [a.tolist() for a in got] == [[[1.0, 2.0]], [[2.0, 3.0]], [[3.0, 4.0]]]
    assert [t.tolist() for t in distributed.allgather(torch.zeros(1))] == [[0.0], [1.0], [2.0]]
