r"""The sparse autoencoder's cost and its gradient, by hand.

Rows are samples: ``X`` is ``(m, n)``, ``W1`` is ``(h, n)``, ``W2`` is ``(n, h)``.

Forward pass::

    z2 = X W1^T + b1          a2 = f(z2)                      (m, h)
    z3 = a2 W2^T + b2         a3 = g(z3)                      (m, n)
    u  = (a2 - low) / (high - low)    activity in [0, 1]: u = a2 for sigmoid, (a2 + 1)/2 for tanh
    rho_hat = 1/m sum_i u_i           mean activity of each hidden unit over *all* m samples

Cost::

    J = 1/m sum_i 1/2 ||a3_i - x_i||^2                      reconstruction
      + lambda/2 (||W1||^2 + ||W2||^2)                       weight decay (biases are not decayed)
      + beta sum_j P(rho_hat_j)                              sparsity

    P = KL(rho || rho_hat) = rho log(rho/rho_hat) + (1-rho) log((1-rho)/(1-rho_hat))     ("kl")
    P = rho_hat, so beta sum_j rho_hat_j = beta/m sum_i ||u_i||_1                         ("l1")

Backward pass::

    delta3 = (a3 - x) * g'(z3)                                                          (m, n)
    delta2 = (delta3 W2 + beta P'(rho_hat) du/da2) * f'(z2)                              (m, h)
             with P'(rho_hat) = -rho/rho_hat + (1-rho)/(1-rho_hat) for "kl", 1 for "l1"
    dJ/dW2 = 1/m delta3^T a2 + lambda W2        dJ/db2 = 1/m sum_i delta3_i
    dJ/dW1 = 1/m delta2^T X  + lambda W1        dJ/db1 = 1/m sum_i delta2_i

``rho_hat`` couples all samples, so the objective is two reductions over the data:

    pass one   ``activity_sum``        S = sum_i u_i                     -> rho_hat = S / m
    pass two   ``reconstruction_sums`` sum_i 1/2 ||a3_i - x_i||^2 and the gradient sums above,
                                       given beta P'(rho_hat) du/da2 from pass one

Each is a plain sum over samples, so it can run chunk by chunk (data larger than memory) or shard by
shard (many processes), and ``finish`` turns the totals into ``J`` and its gradient.
``cost_and_grad`` does both passes on an in-memory ``X`` with one forward pass;
``chunked_cost_and_grad`` streams the chunks twice. Given a ``Shard``, both sum each pass's totals
over all processes (two reductions per evaluation: ``S``, then the cost and gradient sums; plain
all-reduces, or all-gathers for ``CompensatedSum``), so every process gets the objective of all
rows.

The same code runs on NumPy arrays and on torch tensors (CPU or GPU): see ``backend.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

from . import activations
from .backend import Backend, ops
from .params import Params, flat, size, unpack


@dataclass(frozen=True)
class Spec:
    """The settings of the objective: everything but the parameters and the data."""

    sparsity_target: float = 0.01  # rho
    sparsity_weight: float = 3.0  # beta
    weight_decay: float = 1e-4  # lambda
    activation: str = "sigmoid"  # f
    sparsity: str = "kl"  # P
    decoder: str = "sigmoid"  # g

    def __post_init__(self):
        """Clear errors for settings the equations above do not cover."""
        f = activations.get(self.activation)
        if f.low is None:
            raise ValueError(f"activation {self.activation!r} is unbounded, so no sparsity "
                             f"target applies to it: choose one of "
                             f"{list(activations.HIDDEN_ACTIVATIONS)}")
        if self.sparsity not in PENALTIES:
            raise ValueError(f"sparsity must be one of {list(PENALTIES)}, got "
                             f"{self.sparsity!r}")
        if self.decoder not in activations.DECODERS:
            raise ValueError(f"decoder must be one of {list(activations.DECODERS)}, got "
                             f"{self.decoder!r}")
        if not 0 < self.sparsity_target < 1:
            raise ValueError(f"sparsity_target (rho) must be in (0, 1), got "
                             f"{self.sparsity_target!r}")
        for name in ("sparsity_weight", "weight_decay"):  # (beta, lambda)
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be >= 0 and finite, got "
                                 f"{getattr(self, name)!r}")


# --- the sparsity penalties: beta sum_j P(rho_hat_j) and its derivative beta P'(rho_hat) ---


def kl_penalty(rho_hat: np.ndarray, rho: float, beta: float,
               eps: float | None = None) -> tuple[float, np.ndarray]:
    """``beta sum_j KL(rho || rho_hat_j)`` and ``beta (-rho/rho_hat + (1-rho)/(1-rho_hat))``.

    Closer than ``eps`` (the working dtype's; by default ``rho_hat``'s own) to 0 or 1,
    ``rho_hat`` is not resolved in the working precision (near 1 never; near 0 not for tanh
    units, whose activity is ``(a + 1) / 2``, nor for NumPy's sigmoid, computed from tanh).
    There the penalty goes on as the straight line that touches it at ``eps`` (or
    ``1 - eps``), and the derivative is that line's slope: a silent or saturated unit gets a
    large, finite cost whose derivative is still its gradient, rather than inf or NaN, and a
    silent unit is pushed back with the slope at ``eps`` (times ``f'(z2)`` in delta2: a unit
    saturated beyond the working precision, sigmoid below z of about -37 in float64, has
    ``f'(z2) = 0`` and gets no push at all).
    """
    xp = ops(rho_hat).xp
    eps = xp.finfo(rho_hat.dtype).eps if eps is None else eps
    r = xp.clip(rho_hat, eps, 1.0 - eps)
    slope = -rho / r + (1.0 - rho) / (1.0 - r)
    P = rho * xp.log(rho / r) + (1.0 - rho) * xp.log((1.0 - rho) / (1.0 - r))
    return float(beta * xp.sum(P + slope * (rho_hat - r))), beta * slope


def l1_penalty(rho_hat: np.ndarray, rho: float, beta: float,
               eps: float | None = None) -> tuple[float, np.ndarray]:
    """``beta/m sum_i ||u_i||_1 = beta sum_j rho_hat_j`` (activities are >= 0) and ``beta``
    (linear, so ``eps`` plays no part)."""
    return float(beta * rho_hat.sum()), ops(rho_hat).xp.full_like(rho_hat, beta)


PENALTIES: dict[str, Callable[..., tuple[float, np.ndarray]]] = {
    "kl": kl_penalty,
    "l1": l1_penalty,
}


# --- working memory and running sums ---


def block_rows(n_rows: int, n_features: int, n_hidden: int, like,
               reproducible: bool = False) -> int:
    """Rows per block of an evaluation.

    On the CPU each element-wise step is one pass over memory on one core, so the rows go in
    blocks that stay in the cache, as many rows as the backend's ``block_rows`` says, and at
    least 512, for efficient matrix products (``Workspace.blocks`` makes blocks of at most
    this many rows). Threads share out the rows in equal parts (``Workspace.parts``). A GPU runs
    each step over the whole array at once, and whole arrays serve it best. ``reproducible``
    fixes the block size whatever the number of rows (8192 rows on a GPU), so that blocks start
    at the same rows in every process layout (see ``CompensatedSum``).
    """
    block = _cache_block(n_features, n_hidden, like)
    if block is None:
        block = 8192 if reproducible else n_rows
    return max(block if reproducible else min(n_rows, block), 1)


def _cache_block(n_features: int, n_hidden: int, like) -> int | None:
    """Rows of a block on the CPU, however few rows there are (None: whole arrays)."""
    block = ops(like).block_rows(like, n_features, n_hidden)
    return None if block is None else max(512, block)


class Lane:
    """One thread's buffers for pass two: ``a3``/``delta3`` and ``delta2`` for one block, and
    ``part``, one block's sums."""

    def __init__(self, block: int, n_features: int, n_hidden: int, like):
        o = ops(like)
        self.a3 = o.empty((block, n_features), like)
        self.delta3 = o.empty((block, n_features), like)
        self.delta2 = o.empty_hidden((block, n_hidden), like)
        self.part = o.empty(size(n_features, n_hidden) + 1, like)


class Workspace:
    """Buffers that evaluations reuse instead of allocating: ``a2`` for up to ``rows`` rows and
    one ``Lane`` per thread.

    ``like`` is an array (it may be empty) whose library, device and dtype the buffers take.
    ``reproducible`` makes the running sums ``CompensatedSum`` over fixed blocks. With
    ``threads`` > 1 (on the CPU), the rows of each pass are split into that many parts, one per
    thread (``parts``, ``over_parts``): the element-wise steps, and the matrix products on
    one BLAS (or PyTorch) thread each, then run on all cores at once. The threads other than
    the caller's are the library's ``workers`` (on PyTorch, those of ``Backend.threads``).
    """

    def __init__(self, rows: int, n_features: int, n_hidden: int, like,
                 reproducible: bool = False, threads: int = 1):
        o = ops(like)
        self.rows, self.reproducible = rows, reproducible
        self.block = block_rows(rows, n_features, n_hidden, like, reproducible)
        # a second thread takes a part once the rows make parts_per_block of them to a block
        block = _cache_block(n_features, n_hidden, like) or max(rows, 1)
        self.part_rows = -(-block // o.parts_per_block)
        # reproducible: by rows. By columns, a column of a block starts where the rows held
        # (this chunk's, this process's) put it, and MKL's column sums of a2 round by that
        hidden = o.empty if reproducible else o.empty_hidden
        self.a2 = hidden((rows, n_hidden), like)
        self.ones = o.ones(max(rows, self.block), like)
        self.lanes = [Lane(self.block, n_features, n_hidden, like) for _ in range(threads)]
        self.workers = o.workers

    def fits(self, X, n_hidden: int) -> bool:
        return (X.shape[0] <= self.rows and self.lanes[0].a3.shape[1] == X.shape[1]
                and self.a2.shape[1] == n_hidden and ops(X).same_place(X, self.a2))

    def blocks(self, start: int, stop: int):
        """``(start, stop)`` of each block of the rows ``start:stop``: as few as hold at most
        ``block`` rows each, of equal size (to a row); reproducible, of ``block`` rows each
        from ``start`` (the last one fewer)."""
        if self.reproducible:
            return ((i, min(i + self.block, stop)) for i in range(start, stop, self.block))
        return _split(start, stop, -(-(stop - start) // self.block))

    def parts(self, n_rows: int) -> list[tuple[int, int]]:
        """The rows split among the threads, as many as the rows pay for (the backend's
        ``parts_per_block`` to a full block's worth), at most one each: into equal parts, so
        that no thread waits for another; reproducible, into runs of whole blocks (blocks
        start at the same rows in every layout), at most one per block."""
        n_blocks = -(-n_rows // self.block)
        if not self.reproducible:
            k = max(min(len(self.lanes), -(-n_rows // self.part_rows)), 1)
            return list(_split(0, n_rows, k))
        k = max(min(len(self.lanes), n_blocks), 1)
        edges = [min(n_rows, n_blocks * i // k * self.block) for i in range(k + 1)]
        return list(zip(edges[:-1], edges[1:]))

    def over_parts(self, n_rows: int, into: Sum | None, step: Callable) -> None:
        """``step(lane, start, stop, running)`` for each part of the rows, the first on the
        calling thread and each other on one of the workers (none: after it, on the calling
        thread), and the parts' sums added into ``into`` in order (if given). The first part
        adds straight into ``into``: with one thread this is the plain loop over the blocks."""
        parts = self.parts(n_rows)
        runnings = [into] + [None if into is None else into.empty_like() for _ in parts[1:]]
        calls = [partial(step, lane, start, stop, running)
                 for lane, (start, stop), running in zip(self.lanes, parts, runnings)]
        pool = self.workers(len(calls) - 1) if len(calls) > 1 else None
        others = [pool.submit(call) for call in calls[1:]] if pool is not None else []
        try:
            calls[0]()  # this thread takes the first part: one hand-over fewer
            for call in calls[1:] if pool is None else []:
                call()
        finally:  # the other threads' buffers are free again only when they are done
            for done in others:
                done.result()
        for running in runnings[1:] if into is not None else []:
            into.merge(running)

    def running_sum(self, length: int) -> Sum:
        return (CompensatedSum if self.reproducible else Sum)(self.a2, length)

    def gradient_sum(self) -> Sum:
        """A running sum laid out as ``gradient_views``."""
        return self.running_sum(self.lanes[0].part.shape[0])


def _split(start: int, stop: int, k: int):
    """The rows ``start:stop`` as ``k`` runs of equal length (to a row)."""
    edges = [start + (stop - start) * i // k for i in range(k + 1)] if k else [start]
    return zip(edges[:-1], edges[1:])


def _workspace(work, X, n_hidden) -> Workspace:
    """``work``, or where it does not fit ``X`` a new one of the same kind."""
    if work is not None and work.fits(X, n_hidden):
        return work
    kind = {} if work is None else {"reproducible": work.reproducible,
                                    "threads": len(work.lanes)}
    return Workspace(X.shape[0], X.shape[1], n_hidden, X, **kind)


def _check_rows(params: Params, X):
    """A clear error for rows the parameters cannot take (the estimator's checks come first;
    this is for callers of the functions below)."""
    if X.ndim != 2 or X.shape[1] != params.n_features:
        raise ValueError(f"X must have shape (n_samples, {params.n_features}) for these "
                         f"parameters, got {tuple(X.shape)}")
    if X.dtype != params.W1.dtype:
        raise ValueError(f"X is {X.dtype} and the parameters are {params.W1.dtype}: give both "
                         "in the dtype the arithmetic is to run in")


@dataclass(frozen=True)
class Shard:
    """The rows at hand are this process's part of ``m`` rows spread over several processes.
    ``allreduce(x)`` sums the contiguous array ``x`` over the processes, in place;
    ``allgather(x)`` returns every process's ``x``, in rank order."""

    m: int
    allreduce: Callable
    allgather: Callable


class Sum:
    """The running total of one reduction: block sums are added as they come, and
    ``over_processes`` sums the totals of all processes (one all-reduce)."""

    def __init__(self, like, length: int):
        self.total = ops(like).zeros(length, like)

    def add(self, part):
        self.total += part

    def empty_like(self) -> Sum:
        """A new running sum of the same kind and length, at zero."""
        return type(self)(self.total, self.total.shape[0])

    def merge(self, other: Sum):
        """Add another running sum's total."""
        self.add(other.total)

    def over_processes(self, shard: Shard):
        shard.allreduce(self.total)

    def value(self):
        return self.total


class CompensatedSum(Sum):
    """A running total kept as the unevaluated pair ``hi + lo`` (Knuth's TwoSum after every
    addition): about twice the working precision, so the rounded total does not depend on how
    the blocks were grouped (into chunks, or into processes) except in rare ties. With blocks
    that start at the same rows in every layout, a run on any number of processes then gives
    bitwise the single-process result. Costs a few passes over the totals per block."""

    def __init__(self, like, length: int):
        super().__init__(like, length)
        self.lo = ops(like).zeros(length, like)

    def add(self, part):
        hi = self.total
        s = hi + part
        b = s - hi
        self.lo += (hi - (s - b)) + (part - b)
        self.total = s

    def merge(self, other: CompensatedSum):
        self.add(other.total)
        self.add(other.lo)

    def over_processes(self, shard: Shard):
        xp = ops(self.total).xp
        pairs = shard.allgather(xp.stack([self.total, self.lo]))
        self.total, self.lo = xp.zeros_like(self.total), xp.zeros_like(self.lo)
        for hi, lo in pairs:  # the same order in every process
            self.add(hi)
            self.add(lo)

    def value(self):
        return self.total + self.lo


def gradient_views(total, params: Params) -> Params:
    """The gradient sums as views of a flat array of ``size + 1`` entries (the last one holds
    the reconstruction error), so that one reduction sums all of them."""
    return unpack(total[:-1], params.n_features, params.n_hidden)


# --- forward pass ---


def encode(params: Params, X, activation: str, out=None):
    """``a2 = f(X W1^T + b1)`` (into ``out`` when given)."""
    z2 = ops(X).matmul_add(X, params.W1.T, params.b1, out=out)
    return activations.get(activation).forward(z2)


def decode(params: Params, a2, decoder: str, out=None):
    """``a3 = g(a2 W2^T + b2)`` (into ``out`` when given)."""
    z3 = ops(a2).matmul_add(a2, params.W2.T, params.b2, out=out)
    return activations.get(decoder).forward(z3)


# --- the two reductions ---


def activity_sum(a2, activation: str, ones=None):
    """Pass one: ``S = sum_i u_i``, shape ``(h,)``; ``rho_hat = S_total / m``."""
    f = activations.get(activation)
    column_sums = a2.sum(0) if ones is None else ones[: a2.shape[0]] @ a2
    return (column_sums - a2.shape[0] * f.low) / (f.high - f.low)


def activity_sums(params: Params, X, activation: str, work: Workspace, into: Sum | None):
    """Pass one over the rows of ``X``: ``a2 = encode(params, X)`` into ``work.a2``, and its
    activity sums, block by block, into the running sum ``into`` (none: ``a2`` alone).
    Returns ``a2``."""
    a2 = work.a2[: X.shape[0]]

    def step(lane, start, stop, running):
        # reproducible: a product per block, as pass two makes them. BLAS may round a row
        # otherwise with the number of rows around it, which the chunks and processes change.
        for i, j in work.blocks(start, stop) if work.reproducible else [(start, stop)]:
            encode(params, X[i:j], activation, out=a2[i:j])
        if running is not None:
            for i, j in work.blocks(start, stop):
                running.add(activity_sum(a2[i:j], activation, work.ones))

    work.over_parts(X.shape[0], into, step)
    return a2


def sparsity_terms(rho_hat, spec: Spec) -> tuple[float, object]:
    """Between the passes: ``beta sum_j P(rho_hat_j)`` and its term in delta2,
    ``beta P'(rho_hat) du/da2`` (in ``rho_hat``'s dtype).

    Both are computed in float64 whatever the working dtype: there are only ``h`` of them, and
    near ``rho_hat = rho`` the KL divergence is a sum of logarithms of ratios near 1, which in
    float32 carries about 1e-6 of rounding, more than the decreases of the cost that L-BFGS's
    line search must see on the tutorial's plateau (it stopped there after 22 iterations). The
    edges of ``rho_hat`` stay those of the working dtype: a float32 ``1 - rho_hat`` of 0 is
    below 6e-8, not below float64's 1e-16 (whose derivative, 1e16, made a saturated unit's
    gradient 1e8 times too large)."""
    o = ops(rho_hat)
    value, dP = PENALTIES[spec.sparsity](o.float64(rho_hat), spec.sparsity_target,
                                         spec.sparsity_weight,
                                         eps=float(o.xp.finfo(rho_hat.dtype).eps))
    f = activations.get(spec.activation)
    return value, o.cast(dP / (f.high - f.low), rho_hat)


def reconstruction_sums(
    params: Params, X, a2, sparsity_delta, spec: Spec, work: Workspace, into: Sum
) -> None:
    """Pass two: ``sum_i 1/2 ||a3_i - x_i||^2`` and the unscaled gradient sums
    ``(delta2^T X, sum delta2, delta3^T a2, sum delta3)`` of the rows of ``X``, block by block
    (the blocks shared among ``work``'s threads), into the running sum ``into`` (laid out as
    ``gradient_views``).

    ``a2`` is ``encode(params, X)`` and is overwritten; ``sparsity_delta`` is
    ``beta P'(rho_hat) du/da2`` from the whole data set. Each block's sums go through its
    lane's ``part``.
    """
    o = ops(X)
    g, f = activations.get(spec.decoder), activations.get(spec.activation)

    def step(lane, start, stop, running):
        gW1, gb1, gW2, gb2 = gradient_views(lane.part, params)
        for i, j in work.blocks(start, stop):
            x, a2_block, ones = X[i:j], a2[i:j], work.ones[: j - i]
            a3 = decode(params, a2_block, spec.decoder, out=lane.a3[: j - i])
            delta3 = o.xp.subtract(a3, x, out=lane.delta3[: j - i])         # a3 - x
            lane.part[-1] = 0.5 * o.sumsq(delta3)
            g.mul_derivative(delta3, a3)                                    # * g'(z3)
            o.matmul_tn(delta3, a2_block, out=gW2)
            o.column_sums(delta3, ones, out=gb2)
            delta2 = o.matmul_add(delta3, params.W2, sparsity_delta,        # + beta P' du/da2
                                  out=lane.delta2[: j - i])
            f.mul_derivative(delta2, a2_block)                              # * f'(z2)
            o.matmul_tn(delta2, x, out=gW1)
            o.column_sums(delta2, ones, out=gb1)
            running.add(lane.part)

    work.over_parts(X.shape[0], into, step)


def finish(
    params: Params, m: int, half_sse: float, grad_sums: Params, penalty: float, spec: Spec
) -> tuple[float, Params]:
    """Totals to ``J`` and ``dJ/d(W1, b1, W2, b2)``: divide by m, add weight decay and sparsity."""
    lam = spec.weight_decay
    W1, _, W2, _ = params
    o = ops(W1)
    decay = 0.5 * lam * float(o.sumsq(W1) + o.sumsq(W2))
    cost = half_sse / m + decay + penalty
    gW1, gb1, gW2, gb2 = (g / m for g in grad_sums)
    gW1 += lam * W1
    gW2 += lam * W2
    return cost, Params(gW1, gb1, gW2, gb2)


def total(running: Sum, shard: Shard | None):
    """A pass's total over all rows: over the processes too, when there are several."""
    if shard is not None:
        running.over_processes(shard)
    return running.value()


def _finish_totals(params, m, totals, penalty, spec):
    return finish(params, m, float(totals[-1]), gradient_views(totals, params), penalty, spec)


# --- whole evaluations ---


def cost_and_grad(
    params: Params,
    X,
    spec: Spec,
    rho_estimate: Callable | None = None,
    work: Workspace | None = None,
    shard: Shard | None = None,
) -> tuple[float, Params]:
    """``J`` and its gradient on an in-memory ``X``, with a single forward pass.

    ``rho_estimate`` maps the mean activity of these rows to the ``rho_hat`` that is penalised;
    by default it is that mean itself (exact when ``X`` is the whole data set). Minibatch solvers
    pass a running average here. ``work`` holds reusable buffers (see ``Workspace``). With
    ``shard``, ``X`` is this process's part of the rows and the result is that of all of them.
    """
    _check_rows(params, X)
    m = X.shape[0] if shard is None else shard.m
    if m == 0:
        raise ValueError("the data has no rows")
    work = _workspace(work, X, params.n_hidden)
    S = work.running_sum(params.n_hidden)
    a2 = activity_sums(params, X, spec.activation, work, S)
    rho_hat = total(S, shard) / m
    if rho_estimate is not None:
        rho_hat = rho_estimate(rho_hat)
    penalty, sparsity_delta = sparsity_terms(rho_hat, spec)
    sums = work.gradient_sum()
    reconstruction_sums(params, X, a2, sparsity_delta, spec, work, sums)
    return _finish_totals(params, m, total(sums, shard), penalty, spec)


def chunked_cost_and_grad(
    params: Params, chunks: Callable[[], Iterable], spec: Spec,
    work: Workspace | None = None, shard: Shard | None = None,
) -> tuple[float, Params]:
    """``J`` and its gradient over data given as chunks of rows, in two streamed passes.

    ``chunks()`` must yield the same row blocks each time it is called. Pass one accumulates
    ``sum_i u_i`` and nothing else; pass two recomputes each chunk's forward pass and accumulates
    the reconstruction error and the gradient sums. The result equals ``cost_and_grad`` on the
    stacked rows up to rounding.
    """
    m, S = 0, None
    for X in chunks():
        _check_rows(params, X)
        m += X.shape[0]
        work = _workspace(work, X, params.n_hidden)
        if S is None:
            S = work.running_sum(params.n_hidden)
        activity_sums(params, X, spec.activation, work, S)
    m = m if shard is None else shard.m
    if m == 0:
        raise ValueError("the data has no rows")
    if S is None:  # this process has no rows
        work = _workspace(work, params.W1[:0], params.n_hidden)
        S = work.running_sum(params.n_hidden)
    penalty, sparsity_delta = sparsity_terms(total(S, shard) / m, spec)

    sums = work.gradient_sum()
    for X in chunks():
        work = _workspace(work, X, params.n_hidden)
        a2 = activity_sums(params, X, spec.activation, work, None)
        reconstruction_sums(params, X, a2, sparsity_delta, spec, work, sums)
    return _finish_totals(params, m, total(sums, shard), penalty, spec)


# --- the flat view the optimizers see ---


def flat_cost_and_grad(
    X: np.ndarray, spec: Spec, n_hidden: int
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (J, dJ/dtheta)`` on an in-memory ``X``, the arithmetic in ``X.dtype``."""
    return flat(lambda p: cost_and_grad(p, X, spec), X.shape[1], n_hidden,
                Backend("numpy", X.dtype))
