"""Exact data-parallel training on torch.distributed.

Each process holds a contiguous part of the rows (``part``). Every evaluation of the objective is
two sums over the rows (see ``objective.py``), so each process computes its part's sums and two
all-reduces make them the sums over all rows: first the hidden units' activity sums (for
``rho_hat``), then the reconstruction error and gradient sums. Every process then holds the same
cost and gradient, the solvers take the same steps from the same parameters, and the result is
that of one process on all rows, up to the order of the floating-point additions.

Start the processes with ``torchrun`` (``torchrun --nproc_per_node=2 -m sparseae train ...``); it
sets the environment variables ``init`` reads. The gloo backend serves NumPy arrays and CPU
tensors, nccl serves CUDA tensors.
"""

from __future__ import annotations

import atexit
import os
import re
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .backend import Backend, import_torch, is_tensor


class PeerError(RuntimeError):
    """An exchange with the other processes failed: one of them stopped (its own error or
    signal says why), or the connection between them broke."""


def _exchange(call):
    """``call()``, a collective operation, with gloo's failure when another process has gone
    away (a RuntimeError from deep inside it: "Connection closed by peer ... GLHF!") as a
    ``PeerError`` that says what it means, gloo's own text beside it. (Every RuntimeError:
    gloo's is a plain one in PyTorch 2.13, not a ``torch.distributed.DistError``.)"""
    try:
        return call()
    except RuntimeError as err:
        import torch.distributed as dist

        text = str(err).split("\n")[0]
        text = re.sub(r"^\[[^\]]*\] ", "", text).split(". This is typically")[0]
        who = (f"process {dist.get_rank()} of {dist.get_world_size()}"
               if dist.is_initialized() else "this process")
        raise PeerError(f"{who} lost the others: another process of the run stopped (its own "
                        f"message says why) or the connection broke ({text})") from err


def requested() -> bool:
    """Whether this process was started as one of several (by torchrun)."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(text) > 1
    except ValueError:
        raise ValueError(f"the environment's WORLD_SIZE={text!r} is not a number of processes "
                         "(torchrun sets it; unset it to run one process)") from None


@contextmanager
def warnings_on_rank0(process: tuple[int, int] | None):
    """Warnings as usual in one process or in rank 0 (``process`` is ``(rank, world_size)``,
    or None), and none in the other ranks, which would each give the same ones: rank 0 alone
    reports."""
    if process is None or process[0] == 0:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def init(backend: Backend) -> tuple[int, int]:
    """Join the process group that torchrun describes (if not joined yet): nccl for a CUDA
    backend, gloo otherwise. Returns ``(rank, world_size)``."""
    # (the command line comes here for a WORLD_SIZE above 1; Python for distributed=True)
    if requested():
        asked = f"training on {os.environ['WORLD_SIZE']} processes (WORLD_SIZE in the environment)"
        alone = "unset WORLD_SIZE"
    else:
        asked, alone = "distributed=True", "give distributed=False"
    torch = import_torch(asked, f"{alone} to run one process")
    dist = torch.distributed
    if not dist.is_available():
        raise ImportError("this PyTorch build has no torch.distributed")
    if not dist.is_initialized():
        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
                   if k not in os.environ]
        if missing:  # (a ValueError: the environment is input like any other)
            raise ValueError(
                f"distributed training needs the environment torchrun sets ({', '.join(missing)} "
                f"missing): start it with torchrun --nproc_per_node=N ..., or {alone} to run "
                "one process"
            )
        dist.init_process_group("nccl" if backend.is_gpu else "gloo")
        # Leave the group before exit: gloo's threads torn down at exit abort the process.
        atexit.register(dist.destroy_process_group)
    if backend.is_gpu:
        local, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
        if backend.device != "cuda":
            raise ValueError(f"device={backend.device!r} puts every process on one GPU: give "
                             "device='cuda', and each process takes the GPU of its LOCAL_RANK")
        if local >= gpus:
            raise ValueError(f"process {local} of this machine has no GPU of its own: PyTorch "
                             f"sees {gpus}; start at most that many processes per machine "
                             "(--nproc_per_node)")
        torch.cuda.set_device(local)
    return dist.get_rank(), dist.get_world_size()


def any_process(flag: Callable[[], bool], backend: Backend) -> Callable[[], bool]:
    """``flag`` asked on every process, true on all when true on any: a Ctrl-C seen by one
    process stops all of them after the same step, instead of leaving the others waiting in an
    all-reduce."""
    torch = import_torch()
    device = backend.empty((0,)).device if backend.is_gpu else "cpu"

    def agreed() -> bool:
        vote = torch.tensor([1.0 if flag() else 0.0], device=device)
        _exchange(lambda: torch.distributed.all_reduce(vote, op=torch.distributed.ReduceOp.MAX))
        return bool(vote.item())

    return agreed


def gathered(values, backend: Backend) -> np.ndarray:
    """Every process's float64 ``values`` (as many on each), one row per rank, on the host."""
    torch = import_torch()
    device = backend.empty((0,)).device if backend.is_gpu else "cpu"
    mine = torch.as_tensor(np.asarray(values, dtype=np.float64).ravel(), device=device)
    out = [torch.empty_like(mine) for _ in range(torch.distributed.get_world_size())]
    _exchange(lambda: torch.distributed.all_gather(out, mine))
    return np.stack([t.cpu().numpy() for t in out])


def common_seed(seed: int, backend: Backend) -> int:
    """Rank 0's ``seed`` on every process: they must start from the same weights, and a
    ``random_state`` of None draws a seed in each."""
    return int(gathered([seed], backend)[0, 0])  # (seeds below 2**31: exact in float64)


def check_same_rows(rows, backend: Backend) -> None:
    """A clear error on every process, instead of steps that part ways and all-reduces that
    wait on each other, when the processes do not all hold the same rows: their number, their
    width, and the sum and sum of squares of up to 64 evenly spaced rows must agree."""
    sample = rows.take(np.linspace(0, rows.n_samples - 1, min(rows.n_samples, 64)).astype(int))
    figures = gathered([rows.n_samples, rows.n_features, sample.sum(), np.vdot(sample, sample)],
                       backend)
    differ = [rank for rank, theirs in enumerate(figures)  # (NaN: checked after, by its row)
              if not np.allclose(theirs, figures[0], rtol=1e-9, atol=0, equal_nan=True)]
    if differ:
        shapes = ", ".join(f"rank {r}: {int(n)} x {int(f)}" for r, (n, f, *_) in
                           enumerate(figures))
        raise ValueError(
            f"the processes hold different data (rank {differ[0]} differs from rank 0; "
            f"{shapes}): each must read the same rows, all of them (the same file, or samples "
            "drawn with the same seed); the processes share them out themselves")


def agreed_range(low: float, high: float, bad, backend: Backend) -> tuple[float, float]:
    """The smallest and the largest value of all processes' rows, given each one's (``low``,
    ``high``) and the ``NonFiniteError`` its part raised, if any (``bad``); where any did, the
    first one's error, on every process (instead of one error, and the others left waiting)."""
    from .data.rows import NonFiniteError

    found = [0, 0, 0, 0] if bad is None else [1, bad.kind, bad.row, bad.column]
    figures = gathered([low, high, *found], backend)  # (rows below 2**53: exact in float64)
    for _, _, failed, kind, row, column in figures:  # in rank order: the first row first
        if failed:
            raise NonFiniteError(int(kind), int(row), int(column))
    return float(figures[:, 0].min()), float(figures[:, 1].max())


def allreduce(x) -> None:
    """Sum ``x`` (a contiguous NumPy array or a tensor) over all processes, in place."""
    torch = import_torch()
    _exchange(lambda: torch.distributed.all_reduce(x if is_tensor(x) else torch.from_numpy(x)))


def allgather(x) -> list:
    """Every process's ``x`` (a NumPy array or a tensor, the same shape in all), in rank
    order, as arrays of ``x``'s kind."""
    torch = import_torch()
    tensor = x if is_tensor(x) else torch.from_numpy(np.ascontiguousarray(x))
    out = [torch.empty_like(tensor) for _ in range(torch.distributed.get_world_size())]
    _exchange(lambda: torch.distributed.all_gather(out, tensor.contiguous()))
    return out if is_tensor(x) else [t.numpy() for t in out]


def shard(m: int):
    """The ``objective.Shard`` of ``m`` rows spread over the processes."""
    from .objective import Shard

    return Shard(m, allreduce, allgather)


@dataclass(frozen=True)
class Part:
    """Rows ``start`` to ``stop`` of ``n`` belong to this process."""

    start: int
    stop: int
    n: int

    def local(self, positions: np.ndarray) -> np.ndarray:
        """The positions (of all rows) that are this process's, as positions in its part."""
        positions = np.asarray(positions)
        mine = (positions >= self.start) & (positions < self.stop)
        return positions[mine] - self.start


def part(n: int, rank: int, world_size: int, align: int = 1) -> Part:
    """Contiguous, near-equal parts: process ``rank`` of ``world_size`` takes rows
    ``[n rank / size, n (rank + 1) / size)``, each boundary rounded to the nearest multiple of
    ``align`` rows (not beyond ``n``). With fewer blocks than processes some parts are empty."""
    if n < world_size:
        raise ValueError(f"{n} rows cannot be shared by {world_size} processes")

    def boundary(r):
        return n if r == world_size else min((n * r // world_size + align // 2) // align * align,
                                             n)

    return Part(boundary(rank), boundary(rank + 1), n)
