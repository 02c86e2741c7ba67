"""The objective over a data set, in memory or in chunks chosen from a memory budget.

``Problem`` is what the solvers drive: ``full`` (the exact cost and gradient over all rows),
``batch`` (a minibatch) and ``cost``. The memory budget covers the whole process: what it already
holds (the interpreter and libraries, about 150 MB with NumPy, SciPy and scikit-learn) and the
block buffers of every thread but the first (``lane_bytes``) are taken off, and half of the rest
is for the data and the evaluation's working arrays, the other half a margin for temporaries and
the optimizer. If all rows fit there they are held in memory and each evaluation makes one
forward pass; otherwise each evaluation streams the rows twice in chunks sized to fit (pass one
for ``rho_hat``, pass two for the cost and gradient: ``objective.chunked_cost_and_grad``).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from . import objective
from .backend import Backend
from .data.rows import Rows
from .objective import Spec
from .params import Params, flat

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_bytes(value) -> int:
    """``500MB``, ``2GiB``, ``1e9`` or an int, as a number of bytes."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number, unit = int(value), ""  # (an int beyond float's range stays one)
    else:
        match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot read {value!r} as a memory size (e.g. 500MB, 2GiB)")
        try:
            number = float(match.group(1))
        except ValueError:
            raise ValueError(f"cannot read {value!r} as a memory size (e.g. 500MB, 2GiB)") \
                from None
        unit = match.group(2).lower()
        if not math.isfinite(number * _UNITS[unit]):
            raise ValueError(f"memory size must be a finite number of bytes, got {value!r}")
    result = int(number * _UNITS[unit])
    if result <= 0:
        raise ValueError(f"memory size must be positive, got {value!r}")
    return result


def machine_memory() -> int | None:
    """This machine's memory in bytes, shared by the processes torchrun started on it (None
    where the system does not say: Windows)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return memory // local_processes()


def local_processes() -> int:
    """The processes torchrun started on this machine (1 without torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def resident_bytes() -> int:
    """Memory this process holds now (Linux: /proc/self/statm), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


READING = {"in place": 0, "copied": 1, "transformed": 3}  # float64 copies made per row read


def bytes_per_row(n_features: int, n_hidden: int, itemsize: int, reading: str) -> int:
    """Working memory of one row in one evaluation: the row itself, a2, a3, delta3 and
    delta2 with their temporaries (about 4 arrays of n and 4 of h), plus what reading the row
    takes: its mapped pages when it is read in place, else the float64 copies made while
    reading (and transforming) it."""
    work = (4 * n_features + 4 * n_hidden) * itemsize
    mapped = n_features * itemsize if reading == "in place" else 0
    return work + mapped + READING[reading] * n_features * 8


def lane_bytes(block: int, n_features: int, n_hidden: int, itemsize: int) -> int:
    """Memory of one thread's buffers (``objective.Lane``): a block's a3, delta3 and delta2,
    and one block's sums."""
    return (block * (2 * n_features + n_hidden) + 2 * n_features * n_hidden + n_hidden
            + n_features + 1) * itemsize


class Problem:
    """The sparse autoencoder's objective on ``rows``, as flat float64 vectors for the solvers.

    ``device`` says where the data and the arithmetic live (``"numpy"``, or a torch device such
    as ``"cpu"`` or ``"cuda"``; see ``backend.Backend``). With ``process=(rank, world_size)`` this
    process keeps its part of the rows (``distributed.part``) and every evaluation is that of all
    rows, summed over the processes. ``reproducible`` sums in fixed blocks with compensated
    summation (``objective.CompensatedSum``): a full evaluation is then bitwise the same for any
    number of processes and any memory budget that holds a block (a smaller one is refused); a
    minibatch's (``batch``) only to rounding, its rows being split by the processes' parts.
    ``threads`` splits each evaluation's rows on the CPU (NumPy or PyTorch's) among that many
    threads (``objective.Workspace``). With ``check_finite``, NaN or infinity in the rows is a clear
    error, and ``value_range`` is their smallest and largest value. ``chunk_rows`` asks for
    chunks of that many rows where the budget holds them, its margin for copies spent if need
    be: a resumed run's, so that it sums as it began (the rows the budget holds follow the
    memory the process holds when it starts, a little more or less each time).
    """

    def __init__(self, rows: Rows, spec: Spec, n_hidden: int, dtype, memory_budget=None,
                 check_finite: bool = False, device="numpy", process=None,
                 reproducible: bool = False, threads: int = 1, chunk_rows: int | None = None):
        self.spec, self.n_hidden = spec, n_hidden
        self.backend = Backend(device, dtype)
        self.dtype = self.backend.dtype
        self.n_samples, self.n_features = rows.n_samples, rows.n_features
        like = self.backend.empty((0,))
        block = objective.block_rows(rows.n_samples, self.n_features, n_hidden, like,
                                     reproducible)
        self.part, self.value_range = None, None
        if process is not None:
            from . import distributed

            self.part = distributed.part(rows.n_samples, *process,
                                         align=block if reproducible else 1)
            rows = rows.subset(np.arange(self.part.start, self.part.stop))
        self.rows = rows
        # NumPy reads a memory-mapped file's rows in place where it can (``Rows.chunks``)
        self.in_place = self.backend.is_numpy and rows.in_place(self.dtype)
        reading = "in place" if self.in_place else "transformed" if rows.transforms else "copied"
        per_row = bytes_per_row(self.n_features, n_hidden, self.dtype.itemsize, reading)
        budget = None if memory_budget is None else parse_bytes(memory_budget)
        threads = 1 if self.backend.is_gpu else threads
        # the first thread's buffers are part of the working arrays of ``bytes_per_row``
        held = resident_bytes() + (threads - 1) * lane_bytes(block, self.n_features, n_hidden,
                                                             self.dtype.itemsize)
        room = None if budget is None else max(budget - held, 0) // 2
        if room is not None and chunk_rows is not None and chunk_rows * per_row <= 2 * room:
            room = chunk_rows * per_row  # (within the budget, without its margin for copies)
        if room is None or per_row * rows.n_samples <= room:
            X = rows.to_array(self.dtype)
            if check_finite:
                self.value_range = self._checked(lambda first: Rows(X).check_finite(
                    first_row=first, dtype=X.dtype))
            self.X = self.backend.to_device(X)
            self.chunk_rows = max(rows.n_samples, 1)
        else:
            self.X = None
            self.chunk_rows = room // per_row
            if self.chunk_rows < 1:
                raise ValueError(
                    f"memory budget of {budget} bytes is too small for one row: the process "
                    f"holds {held} bytes with its threads' buffers, and one row of "
                    f"{self.n_features} features with {n_hidden} hidden units needs "
                    f"{2 * per_row} more: give at least {-(-(held + 2 * per_row) // 2**20)}MiB"
                    f" (streaming 1000 rows at a time: "
                    f"{-(-(held + 2000 * per_row) // 2**20)}MiB)"
                )
            if reproducible:  # chunks of whole blocks, which start where they do in memory
                if self.chunk_rows < block:
                    raise ValueError(
                        f"memory budget of {budget} bytes is too small for reproducible "
                        f"sums: they need chunks of whole blocks of {block} rows, and it holds "
                        f"{self.chunk_rows} rows: give at least "
                        f"{-(-(held + 2 * block * per_row) // 2**20)}MiB")
                self.chunk_rows -= self.chunk_rows % block
            if check_finite:
                self.value_range = self._checked(lambda first: rows.check_finite(
                    self.chunk_rows, first, self.dtype))
        self.max_batch = self.n_samples if self.X is not None else self.chunk_rows
        self.work = objective.Workspace(self.chunk_rows, self.n_features, n_hidden, like,
                                        reproducible, threads)
        self.full = flat(self._evaluate, self.n_features, n_hidden, self.backend)

    def _checked(self, check) -> tuple[float, float]:
        """``check(first_row)`` of this process's rows, as the smallest and the largest value
        of all rows: over all processes, which all raise the first NaN or infinity of any."""
        if self.part is None:
            return check(0)
        from . import distributed
        from .data.rows import NonFiniteError

        try:
            low, high, bad = *check(self.part.start), None
        except NonFiniteError as err:
            low, high, bad = np.inf, -np.inf, err
        return distributed.agreed_range(low, high, bad, self.backend)

    @property
    def in_memory(self) -> bool:
        return self.X is not None

    @property
    def threads(self) -> int:
        """Threads that share the rows of one full evaluation."""
        return len(self.work.parts(min(self.chunk_rows, self.rows.n_samples)))

    def chunks(self):
        return (self.backend.to_device(X)
                for X in self.rows.chunks(self.chunk_rows, self.dtype, self.in_place))

    def _shard(self, m: int):
        if self.part is None:
            return None
        from . import distributed

        return distributed.shard(m)

    def _evaluate(self, params: Params) -> tuple[float, Params]:
        shard = self._shard(self.n_samples)
        with self.backend.precision():
            if self.X is not None:
                return objective.cost_and_grad(params, self.X, self.spec, work=self.work,
                                               shard=shard)
            return objective.chunked_cost_and_grad(params, self.chunks, self.spec, self.work,
                                                   shard)

    def cost(self, theta) -> float:
        return self.full(theta)[0]

    def batch(self, theta, which, rho_estimate) -> tuple[float, np.ndarray]:
        """Cost and gradient on the rows at positions ``which`` (of all rows)."""
        mine = which if self.part is None else self.part.local(which)
        if self.X is not None:
            X = self.X[self.backend.index(mine)]
        else:
            X = self.backend.to_device(self.rows.take(mine, self.dtype))
        shard = self._shard(len(which))
        evaluate = flat(lambda p: objective.cost_and_grad(p, X, self.spec, rho_estimate,
                                                          self.work, shard),
                        self.n_features, self.n_hidden, self.backend)
        with self.backend.precision():
            return evaluate(theta)

    def rho_hat(self, params: Params) -> np.ndarray:
        """Mean activity of each hidden unit over all rows (pass one alone)."""
        params = Params(*(self.backend.to_device(p) for p in params))
        S = self.work.running_sum(self.n_hidden)
        with self.backend.precision():
            for X in [self.X] if self.X is not None else self.chunks():
                objective.activity_sums(params, X, self.spec.activation, self.work, S)
        total = objective.total(S, self._shard(self.n_samples))
        return self.backend.to_host(total, self.dtype) / self.n_samples


def split(n_samples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and held-out rows: a seeded random ``fraction`` is held out."""
    held = int(round(fraction * n_samples))
    if held < 1 or held >= n_samples:
        raise ValueError(
            f"validation_fraction {fraction} of {n_samples} samples leaves "
            f"{held} held-out and {n_samples - held} training rows; both need at least one"
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[held:]), np.sort(order[:held])


class EarlyStopping:
    """Stop when the held-out cost has not improved on the best by more than ``tol`` for
    ``patience`` iterations in a row, keeping the parameters of the lowest held-out cost (an
    improvement smaller than ``tol`` counts towards stopping, but its parameters are kept)."""

    def __init__(self, validation: Problem, patience: int, tol: float, state: dict | None = None):
        self.validation, self.patience, self.tol = validation, patience, tol
        state = state or {}
        self.best_cost = state.get("best_cost", np.inf)
        self.best_theta = state.get("best_theta")
        self.bad = state.get("bad", 0)
        self.curve = list(state.get("curve", []))

    def __call__(self, theta) -> bool:
        cost = self.validation.cost(theta)
        self.curve.append(cost)
        self.bad = 0 if cost < self.best_cost - self.tol else self.bad + 1
        if cost < self.best_cost:
            self.best_cost, self.best_theta = cost, np.array(theta)
        return self.stopped

    @property
    def stopped(self) -> bool:
        """Whether it has ended the run (a resumed state can have)."""
        return self.bad >= self.patience

    def state(self) -> dict:
        return {"best_cost": self.best_cost, "best_theta": self.best_theta, "bad": self.bad,
                "curve": list(self.curve)}
