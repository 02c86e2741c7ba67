"""The objective: exact gradients, an independent re-derivation, chunked = in-memory, stability."""

import itertools

import numpy as np
import pytest

from sparseae import objective, params
from sparseae.backend import Backend, ops
from sparseae.gradcheck import check_gradient, check_variants
from sparseae.objective import PENALTIES, Spec

VARIANTS = list(itertools.product(("sigmoid", "tanh"), ("kl", "l1"), ("sigmoid", "linear")))


def problem(activation="sigmoid", sparsity="kl", decoder="sigmoid", m=10, n=16, h=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 0.9, size=(m, n))
    W1, _, W2, _ = params.initialize(n, h, rng)
    p = params.Params(W1, rng.normal(0, 0.1, h), W2, rng.normal(0, 0.1, n))
    spec = Spec(0.1, 3.0, 1e-4, activation, sparsity, decoder)
    return X, p, spec


def reference_cost_and_grad(p, X, spec):
    """The cost and gradient written sample by sample, straight from the tutorial's equations,
    sharing no code with ``sparseae.objective``."""
    W1, b1, W2, b2 = p
    m = X.shape[0]
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "linear": lambda z: z}
    df = {"sigmoid": lambda z: f["sigmoid"](z) * (1 - f["sigmoid"](z)),
          "tanh": lambda z: 1 - np.tanh(z) ** 2, "linear": lambda z: np.ones_like(z)}
    lo = {"sigmoid": 0.0, "tanh": -1.0}[spec.activation]
    rho, beta, lam = spec.sparsity_target, spec.sparsity_weight, spec.weight_decay

    z2 = [W1 @ x + b1 for x in X]
    a2 = [f[spec.activation](z) for z in z2]
    rho_hat = sum((a - lo) / (1 - lo) for a in a2) / m
    if spec.sparsity == "kl":
        penalty = beta * np.sum(rho * np.log(rho / rho_hat)
                                + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
        dpen = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    else:
        penalty = beta * sum(np.sum(np.abs((a - lo) / (1 - lo))) for a in a2) / m
        dpen = beta * np.ones_like(rho_hat)

    cost = 0.0
    gW1, gb1, gW2, gb2 = (np.zeros_like(a) for a in (W1, b1, W2, b2))
    for x, z, a in zip(X, z2, a2):
        z3 = W2 @ a + b2
        a3 = f[spec.decoder](z3)
        cost += 0.5 * np.sum((a3 - x) ** 2) / m
        d3 = (a3 - x) * df[spec.decoder](z3)
        d2 = (W2.T @ d3 + dpen / (1 - lo)) * df[spec.activation](z)
        gW2 += np.outer(d3, a) / m
        gb2 += d3 / m
        gW1 += np.outer(d2, x) / m
        gb1 += d2 / m
    cost += lam / 2 * (np.sum(W1**2) + np.sum(W2**2)) + penalty
    return cost, params.Params(gW1 + lam * W1, gb1, gW2 + lam * W2, gb2)


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_gradient_matches_central_differences(activation, sparsity, decoder):
    X, p, spec = problem(activation, sparsity, decoder)
    fun = objective.flat_cost_and_grad(X, spec, p.n_hidden)
    assert check_gradient(fun, params.pack(p), eps=1e-4) < 1e-9


def test_check_variants_covers_every_combination_below_1e_9():
    rows = check_variants()
    assert {(r["activation"], r["sparsity"], r["decoder"]) for r in rows} == set(VARIANTS)
    assert max(r["relative_difference"] for r in rows) < 1e-9


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_matches_sample_by_sample_reference(activation, sparsity, decoder):
    X, p, spec = problem(activation, sparsity, decoder, m=7, n=9, h=4, seed=3)
    cost, grad = objective.cost_and_grad(p, X, spec)
    ref_cost, ref_grad = reference_cost_and_grad(p, X, spec)
    assert cost == pytest.approx(ref_cost, rel=1e-13)
    for g, r in zip(grad, ref_grad):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_chunked_equals_in_memory(activation, sparsity, decoder):
    X, p, spec = problem(activation, sparsity, decoder, m=53)
    cost, grad = objective.cost_and_grad(p, X, spec)
    c_cost, c_grad = objective.chunked_cost_and_grad(
        p, lambda: (X[i : i + 10] for i in range(0, len(X), 10)), spec
    )
    assert c_cost == pytest.approx(cost, rel=1e-12)
    full, chunked = params.pack(grad), params.pack(c_grad)
    assert np.linalg.norm(full - chunked) <= 1e-12 * np.linalg.norm(full)


def threaded(X, n_hidden, threads, block=8, reproducible=False):
    """A workspace whose evaluations split the rows, in blocks of ``block``, among threads
    (a thread per ``parts_per_block`` to a block's worth, as the backend has it)."""
    work = objective.Workspace(len(X), X.shape[1], n_hidden, X, reproducible, threads)
    work.block, work.part_rows = block, -(-block // ops(X).parts_per_block)
    return work


def test_numpy_blocks_hold_4_mib_of_working_arrays_and_a_thread_takes_half_a_block():
    """x, a3 and delta3 of n values per row, a2 and delta2 of h; at least 512 rows."""
    like32, like64 = np.empty(0, np.float32), np.empty(0, np.float64)
    assert objective.block_rows(10000, 64, 25, like32) == 4332  # 2**22 // ((3*64 + 2*25) * 4)
    assert objective.block_rows(10000, 64, 25, like64) == 2166
    assert objective.block_rows(10000, 64, 400, like32) == 1057
    assert objective.block_rows(10000, 784, 196, like32) == 512  # (382 make thin products)
    assert objective.block_rows(300, 64, 25, like32) == 300  # fewer rows than a block
    assert objective.block_rows(300, 64, 25, like32, reproducible=True) == 4332
    work = objective.Workspace(10000, 64, 25, like32, threads=2)
    assert work.part_rows == 2166  # a second thread from half a block on
    assert work.parts(2166) == [(0, 2166)] and work.parts(2167) == [(0, 1083), (1083, 2167)]


def test_parts_are_equal_one_per_thread_in_blocks_of_equal_size():
    """So that no thread waits for another: 53 rows are 7 blocks of 8, which whole blocks
    would share out 2, 2 and 3."""
    X, p, _ = problem(m=53)
    work = threaded(X, p.n_hidden, 3)
    assert work.parts(53) == [(0, 17), (17, 35), (35, 53)]
    assert list(work.blocks(17, 35)) == [(17, 23), (23, 29), (29, 35)]  # 18 rows: 3 of 6
    assert list(work.blocks(0, 16)) == [(0, 8), (8, 16)]
    assert work.parts(9) == [(0, 3), (3, 6), (6, 9)]  # half a block each: three threads
    assert work.parts(8) == [(0, 4), (4, 8)]
    assert work.parts(4) == [(0, 4)]  # less than half a block for a second thread
    assert work.parts(0) == [(0, 0)] and list(work.blocks(0, 0)) == []


def test_reproducible_parts_are_runs_of_whole_blocks():
    """Blocks start at the same rows whatever the number of threads (or chunks, or processes)."""
    X, p, _ = problem(m=53)
    work = threaded(X, p.n_hidden, 3, reproducible=True)
    assert work.parts(53) == [(0, 16), (16, 32), (32, 53)]
    assert list(work.blocks(32, 53)) == [(32, 40), (40, 48), (48, 53)]
    assert work.parts(9) == [(0, 8), (8, 9)]


def test_a_failing_part_waits_for_the_others():
    """The caller's thread runs the first part; if it raises, the error comes out only after the
    other threads are done with their buffers."""
    import threading
    import time

    X, p, _ = problem(m=53)
    work = threaded(X, p.n_hidden, 3)
    done = []

    def step(lane, start, stop, running):
        if start == 0:
            assert threading.current_thread() is threading.main_thread()
            raise RuntimeError("first part failed")
        time.sleep(0.05)
        done.append(start)

    with pytest.raises(RuntimeError, match="first part failed"):
        work.over_parts(53, None, step)
    assert sorted(done) == [17, 35]


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_threads_give_the_one_thread_result(activation, sparsity, decoder):
    X, p, spec = problem(activation, sparsity, decoder, m=53)
    cost, grad = objective.cost_and_grad(p, X, spec)
    for threads in (2, 3):
        t_cost, t_grad = objective.cost_and_grad(p, X, spec, work=threaded(X, p.n_hidden, threads))
        assert t_cost == pytest.approx(cost, rel=1e-13)
        full, split = params.pack(grad), params.pack(t_grad)
        assert np.linalg.norm(full - split) <= 1e-13 * np.linalg.norm(full)
    c_cost, c_grad = objective.chunked_cost_and_grad(
        p, lambda: (X[i : i + 20] for i in range(0, len(X), 20)), spec,
        threaded(X[:20], p.n_hidden, 2, block=4),
    )
    assert c_cost == pytest.approx(cost, rel=1e-13)
    assert np.linalg.norm(params.pack(c_grad) - full) <= 1e-13 * np.linalg.norm(full)


def test_threaded_gradient_matches_central_differences():
    X, p, spec = problem(m=53)
    work = threaded(X, p.n_hidden, 3)
    fun = params.flat(lambda q: objective.cost_and_grad(q, X, spec, work=work), X.shape[1],
                      p.n_hidden, Backend("numpy", X.dtype))
    assert check_gradient(fun, params.pack(p), eps=1e-4) < 1e-9


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_chunked_gradient_matches_central_differences(activation, sparsity, decoder):
    """The streamed evaluation on its own (chunks of 3, 3, 3 and 1 rows), not only through its
    agreement with the in-memory one; and with compensated sums over blocks of 2 rows shared
    by 2 threads."""
    X, p, spec = problem(activation, sparsity, decoder)

    def chunks():
        return (X[i : i + 3] for i in range(0, len(X), 3))

    for work in (None, threaded(X[:3], p.n_hidden, 2, block=2, reproducible=True)):
        fun = params.flat(lambda q, work=work: objective.chunked_cost_and_grad(q, chunks, spec,
                                                                               work),
                          X.shape[1], p.n_hidden, Backend("numpy", X.dtype))
        assert check_gradient(fun, params.pack(p), eps=1e-4) < 1e-9


class Processes:
    """``n`` shards that threads stand in for: ``allreduce`` and ``allgather`` as each process
    calls them, through a barrier (the collectives of ``objective.Shard``)."""

    def __init__(self, n):
        import threading

        self.barrier, self.slots = threading.Barrier(n), [None] * n

    def shard(self, rank, m):
        def allgather(x):
            self.slots[rank] = x.copy()
            self.barrier.wait()
            gathered = list(self.slots)
            self.barrier.wait()  # (all have read the slots before any writes them again)
            return gathered

        def allreduce(x):
            x[...] = sum(allgather(x))

        return objective.Shard(m, allreduce, allgather)


def on_two_processes(q, parts, spec, reproducible, chunked):
    """The cost and gradient of two processes (threads) that hold ``parts[0]`` and
    ``parts[1]`` of the rows (streamed in chunks of 4 rows when ``chunked``), after checking
    that both got bitwise the same."""
    from concurrent.futures import ThreadPoolExecutor

    m, processes = sum(len(part) for part in parts), Processes(2)

    def evaluate(rank):
        mine, shard = parts[rank], processes.shard(rank, m)
        work = objective.Workspace(len(mine), q.n_features, q.n_hidden, mine, reproducible)
        try:
            if chunked:
                return objective.chunked_cost_and_grad(
                    q, lambda: (mine[i : i + 4] for i in range(0, len(mine), 4)), spec, work,
                    shard)
            return objective.cost_and_grad(q, mine, spec, work=work, shard=shard)
        except Exception:
            processes.barrier.abort()  # (the other process fails too, rather than wait forever)
            raise

    with ThreadPoolExecutor(2) as pool:
        (c0, g0), (c1, g1) = pool.map(evaluate, (0, 1))
    assert c0 == c1 and np.array_equal(params.pack(g0), params.pack(g1))
    return c0, g0


@pytest.mark.parametrize("reproducible", [False, True])
@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("activation, sparsity, decoder", [("tanh", "kl", "sigmoid"),
                                                           ("sigmoid", "l1", "linear")])
def test_sharded_gradient_matches_central_differences(reproducible, chunked, activation,
                                                       sparsity, decoder):
    """Rows 0-5 on one process and 6-9 on another, each summing its part and reducing over
    both (plain sums: all-reduce; compensated: all-gather): both get the gradient of all rows.
    Two variants between them take every activation, penalty and decoder."""
    X, p, spec = problem(activation, sparsity, decoder)

    def both(q):
        return on_two_processes(q, [X[:6], X[6:]], spec, reproducible, chunked)

    fun = params.flat(both, X.shape[1], p.n_hidden, Backend("numpy", X.dtype))
    assert check_gradient(fun, params.pack(p), eps=1e-4) < 1e-9
    cost, grad = objective.cost_and_grad(p, X, spec)
    assert both(p)[0] == pytest.approx(cost, rel=1e-13)


@pytest.mark.parametrize("reproducible", [False, True])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_process_with_no_rows_gets_the_objective_of_all_rows(reproducible, chunked):
    """All 10 rows on one process and none on the other (as when there are fewer blocks than
    processes): the empty one still takes part in both reductions. Streamed, it has no running
    sum from a pass over no chunks, and one must be made for it."""
    X, p, spec = problem()
    cost, grad = objective.cost_and_grad(p, X, spec)
    s_cost, s_grad = on_two_processes(p, [X, X[:0]], spec, reproducible, chunked)
    assert s_cost == pytest.approx(cost, rel=1e-13)
    full = params.pack(grad)
    assert np.linalg.norm(params.pack(s_grad) - full) <= 1e-13 * np.linalg.norm(full)


EDGES = {  # (m, n, h), data, beta, lambda
    "one row": ((1, 16, 6), "uniform", 3.0, 1e-4),
    "one feature": ((10, 1, 6), "uniform", 3.0, 1e-4),
    "one hidden unit": ((10, 16, 1), "uniform", 3.0, 1e-4),
    "one of each": ((1, 1, 1), "uniform", 3.0, 1e-4),
    "all-zero data": ((10, 16, 6), "zeros", 3.0, 1e-4),
    "beta = 0": ((10, 16, 6), "uniform", 0.0, 1e-4),
    "lambda = 0": ((10, 16, 6), "uniform", 3.0, 0.0),
    "beta = lambda = 0": ((10, 16, 6), "uniform", 0.0, 0.0),
}


@pytest.mark.parametrize("edge", list(EDGES))
@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_edge_problems_give_a_finite_cost_and_a_checked_gradient(activation, sparsity,
                                                                  decoder, edge):
    """Without a floating-point warning. Order 4: on these small problems order 2's truncation
    error alone reaches 2e-9 for tanh units (see ``gradcheck``); order 4 leaves at most 2e-11."""
    (m, n, h), data, beta, lam = EDGES[edge]
    X, p, _ = problem(activation, sparsity, decoder, m=m, n=n, h=h)
    if data == "zeros":
        X = np.zeros_like(X)
    spec = Spec(0.1, beta, lam, activation, sparsity, decoder)
    fun = objective.flat_cost_and_grad(X, spec, h)
    with np.errstate(all="raise"):
        cost, grad = fun(params.pack(p))
        assert np.isfinite(cost) and np.isfinite(grad).all()
        assert check_gradient(fun, params.pack(p), eps=1e-4, order=4) < 1e-9


@pytest.mark.parametrize("activation, biases", [
    ("sigmoid", [-36.0, -30.0, -15.0, 0.0, 15.0, 30.0]),
    ("tanh", [-18.0, -15.0, -8.0, 0.0, 8.0, 15.0, 18.0]),
])
def test_kl_gradient_of_a_unit_near_the_edges_of_rho_hat_is_exact(activation, biases):
    """On all-zero data with ``W2 = 0`` a unit's activity is ``u = sigmoid(k b1)`` in every row
    (k = 1 for sigmoid, 2 for tanh), and ``dJ/db1 = beta P'(u) du/db1 = beta k (u - rho)``.
    This holds up to ``rho_hat`` within float64's eps of 0 or 1 (2.3e-16 at the first and last
    bias), where central differences see only rounding: ``1 - rho_hat`` is resolved to 1e-16,
    and a step of 1e-4 in ``b1`` moves ``rho_hat`` by less than that. (What is left is the
    rounding of ``1 - a^2``, 1e-16 against 4.5e-7 for tanh at ``b1 = 8``: 7e-11 relative.)"""
    from scipy.special import expit

    k = {"sigmoid": 1.0, "tanh": 2.0}[activation]
    b1 = np.array(biases)
    h = b1.size
    p = params.Params(np.zeros((h, 3)), b1, np.zeros((3, h)), np.zeros(3))
    cost, grad = objective.cost_and_grad(p, np.zeros((4, 3)), Spec(0.1, 3.0, 0.0, activation))
    assert np.isfinite(cost)
    np.testing.assert_allclose(grad.b1, 3.0 * k * (expit(k * b1) - 0.1), rtol=1e-9)


def mean_activity(p, X, activation):
    """``rho_hat`` written out, sharing no code with ``sparseae.objective``."""
    z = X @ p.W1.T + p.b1
    return (1 / (1 + np.exp(-z)) if activation == "sigmoid" else (np.tanh(z) + 1) / 2).mean(0)


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_a_minibatch_gradient_with_a_given_rho_estimate_is_that_of_the_linearised_penalty(
        activation, sparsity, decoder):
    """With ``rho_estimate`` (the running average of the minibatch solvers) the penalty's term
    is taken at the estimate ``r`` instead of at the batch's own ``rho_hat``, held fixed: the
    gradient is then exactly that of the reconstruction and weight decay plus
    ``beta sum_j P'(r_j) rho_hat_j``, the penalty linearised at ``r`` (the cost reports
    ``beta sum_j P(r_j)``)."""
    X, p, spec = problem(activation, sparsity, decoder)
    r = np.random.default_rng(1).uniform(0.05, 0.3, p.n_hidden)
    penalty, slope = PENALTIES[sparsity](r, spec.sparsity_target, spec.sparsity_weight)

    def fun(theta):
        q = params.unpack(theta, X.shape[1], p.n_hidden)
        cost, grad = objective.cost_and_grad(q, X, spec, rho_estimate=lambda batch: r)
        return (cost - penalty + slope @ mean_activity(q, X, activation),
                params.pack(grad))

    assert check_gradient(fun, params.pack(p), eps=1e-4) < 1e-9


def test_reproducible_threads_give_bitwise_the_one_thread_result():
    X, p, spec = problem(m=203, seed=4)
    results = [objective.cost_and_grad(p, X, spec, work=threaded(X, p.n_hidden, t, 16, True))
               for t in (1, 2, 3, 5)]
    for cost, grad in results[1:]:
        assert cost == results[0][0]
        assert np.array_equal(params.pack(grad), params.pack(results[0][1]))


def test_reproducible_pass_one_makes_a_product_per_block(monkeypatch):
    """As pass two does, whatever the threads' parts: a product over a thread's whole run of
    blocks may round a row otherwise than one over its block alone (which the MNIST-sized test
    below sees only on some BLAS builds). 53 rows in blocks of 8, 2 threads: 3 and 4 blocks."""
    X, p, spec = problem(m=53)
    rows, encode = [], objective.encode

    def counted(params, X, *args, **kwargs):
        rows.append(X.shape[0])
        return encode(params, X, *args, **kwargs)

    monkeypatch.setattr(objective, "encode", counted)
    objective.cost_and_grad(p, X, spec, work=threaded(X, p.n_hidden, 2, reproducible=True))
    assert sorted(rows) == [5, 8, 8, 8, 8, 8, 8]


def test_reproducible_sums_are_bitwise_the_same_in_memory_and_in_chunks_of_blocks():
    """Of the MNIST-sized network's shapes, where OpenBLAS rounds a row of one product over
    many rows otherwise than the same row in a product over one block (pass one made one
    product per thread's run of blocks, a chunk of one block another)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    n, h, m = 784, 196, 1100  # blocks of 512 float64 rows
    X, p, spec = rng.uniform(size=(m, n)), params.initialize(n, h, rng), objective.Spec()
    with threadpool_limits(1):
        cost, grad = objective.cost_and_grad(
            p, X, spec, work=objective.Workspace(m, n, h, X, reproducible=True, threads=2))
        in_chunks = objective.chunked_cost_and_grad(
            p, lambda: (X[i:i + 512] for i in range(0, m, 512)), spec,
            objective.Workspace(512, n, h, X, reproducible=True))
    assert cost == in_chunks[0]
    assert np.array_equal(params.pack(grad), params.pack(in_chunks[1]))


def test_compensated_sums_over_processes_add_each_processs_low_part():
    """Each process's pair is (1e16, 2) or (-1e16, 2): the totals cancel, and the sum over the
    processes is exactly 4 only if their low parts are added too."""
    pairs = []
    for blocks in ([1e16, 1.0, 1.0], [1.0, -1e16, 1.0]):  # lo = 2: the 1s rounded away
        S = objective.CompensatedSum(np.zeros(1), 1)
        for block in blocks:
            S.add(np.array([block]))
        pairs.append(np.stack([S.total, S.lo]))
    total = objective.CompensatedSum(np.zeros(1), 1)  # (any process's: all gather the same)
    total.over_processes(objective.Shard(6, allreduce=None, allgather=lambda x: pairs))
    assert total.value()[0] == 4.0


def _threaded_cost(m):
    X, p, spec = problem(m=m)
    return objective.cost_and_grad(p, X, spec, work=threaded(X, p.n_hidden, 2))[0]


def test_threads_work_in_a_forked_child():
    """A child forked after the parent's threads started gets threads of its own."""
    import multiprocessing

    parent = _threaded_cost(53)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_threaded_cost, (53,)).get(timeout=60) == parent


def test_chunked_rejects_empty_data():
    _, p, spec = problem()
    with pytest.raises(ValueError, match="no rows"):
        objective.chunked_cost_and_grad(p, lambda: iter(()), spec)


def test_cost_terms_at_known_point():
    """With zero weights every a2 is sigmoid(0) = 1/2 and a3 = 1/2: each term is known exactly."""
    n, h, m = 4, 3, 5
    X = np.full((m, n), 0.25)
    p = params.Params(np.zeros((h, n)), np.zeros(h), np.zeros((n, h)), np.zeros(n))
    rho, beta = 0.1, 2.0
    cost, _ = objective.cost_and_grad(p, X, Spec(rho, beta, 0.5))
    reconstruction = 0.5 * n * 0.25**2
    kl = rho * np.log(rho / 0.5) + (1 - rho) * np.log((1 - rho) / 0.5)
    assert cost == pytest.approx(reconstruction + beta * h * kl, rel=1e-14)


def test_weight_decay_spares_biases():
    X, p, spec = problem()
    without = Spec(spec.sparsity_target, spec.sparsity_weight, 0.0)
    with_decay = Spec(spec.sparsity_target, spec.sparsity_weight, 0.3)
    c0, g0 = objective.cost_and_grad(p, X, without)
    c1, g1 = objective.cost_and_grad(p, X, with_decay)
    assert c1 - c0 == pytest.approx(0.15 * (np.sum(p.W1**2) + np.sum(p.W2**2)), rel=1e-12)
    np.testing.assert_allclose(g1.W1 - g0.W1, 0.3 * p.W1, atol=1e-14)
    np.testing.assert_array_equal(g1.b1, g0.b1)
    np.testing.assert_array_equal(g1.b2, g0.b2)


def test_saturated_units_give_finite_cost_and_gradient():
    """Huge weights drive every sigmoid to exactly 0 or 1: no overflow warning, no inf, no NaN."""
    X, p, spec = problem()
    huge = params.Params(p.W1 * 1e6, p.b1 - 1e6, p.W2 * 1e6, p.b2)
    with np.errstate(all="raise"):
        cost, grad = objective.cost_and_grad(huge, X, spec)
    assert np.isfinite(cost)
    assert all(np.all(np.isfinite(g)) for g in grad)


@pytest.mark.parametrize("sparsity", list(PENALTIES))
def test_sparsity_terms_are_computed_in_float64_for_float32_activity(sparsity):
    rho_hat = np.random.default_rng(0).uniform(0.0099, 0.0101, 25).astype(np.float32)
    spec = Spec(sparsity=sparsity)
    value, delta = objective.sparsity_terms(rho_hat, spec)
    value64, delta64 = objective.sparsity_terms(rho_hat.astype(np.float64), spec)
    assert value == value64  # float32 logarithms would be off by about 1e-7
    assert delta.dtype == np.float32
    np.testing.assert_array_equal(delta, delta64.astype(np.float32))


def test_kl_penalty_at_the_edges_is_finite():
    value, derivative = objective.kl_penalty(np.array([0.0, 1.0, 0.5]), 0.01, 3.0)
    assert np.isfinite(value) and np.all(np.isfinite(derivative))
    assert derivative[0] < 0 < derivative[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kl_penalty_goes_on_as_a_straight_line_within_eps_of_the_edges(dtype):
    """Beyond the clip the cost is the tangent at the clip, so the derivative is still the
    derivative of the cost, also across the clip, where the cost is continuous (a jump would
    make the difference quotient there huge). The arithmetic is in float64, with the clip of
    ``dtype``; across a clip the quotient sees the curvature on one side, 1e-3 relative."""
    eps = float(np.finfo(dtype).eps)

    def value(r):
        return objective.kl_penalty(np.array([r]), 0.01, 3.0, eps=eps)[0]

    points = [(0.0, eps / 8, 1e-6), (eps / 4, eps / 8, 1e-6), (1.0, eps, 1e-6),
              (0.3, 1e-7, 1e-6), (eps, eps / 1e3, 2e-3)]
    if dtype == np.float32:  # float64 has no room for eps / 1e3 next to 1 - eps
        points.append((1.0 - eps, eps / 1e3, 2e-3))
    for r, h, rel in points:
        slope = objective.kl_penalty(np.array([r]), 0.01, 3.0, eps=eps)[1][0]
        assert (value(r + h) - value(r - h)) / (2 * h) == pytest.approx(slope, rel=rel)


@pytest.mark.parametrize("activation, z", [("sigmoid", 17.0), ("tanh", 8.0)])
def test_a_saturated_unit_gets_about_float64s_cost_and_gradient_in_float32(activation, z):
    """A unit that is always on: float32 cannot tell 1 - rho_hat from 0 and must clip there,
    not at float64's 1e-16 (which made the gradient about 1e8 times too large). What is left
    is float32's resolution of 1 - rho_hat, about 1e-7 against a true 4e-8 (sigmoid) and
    1e-7 (tanh): a few percent of the cost, about half the gradient."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.1, 0.9, (200, 8))
    W1, W2 = rng.normal(0, 0.5, (2, 8)), rng.normal(0, 0.1, (8, 2))
    b1 = np.array([z, 0.0]) - W1 @ X.mean(0)
    p = params.Params(W1, b1, W2, np.zeros(8))
    spec = Spec(0.01, 3.0, 0.0, activation)
    c64, g64 = objective.cost_and_grad(p, X, spec)
    c32, g32 = objective.cost_and_grad(p.astype(np.float32), X.astype(np.float32), spec)
    assert c32 == pytest.approx(c64, rel=0.1)
    assert 1 / 3 < g32.b1[0] / g64.b1[0] < 3


@pytest.mark.parametrize("activation, sparsity, decoder", VARIANTS)
def test_float32_agrees_with_float64(activation, sparsity, decoder):
    """To 1e-5 relative, cost and gradient (as a whole), in every variant (measured: at most
    2e-7 and 3e-7 over three seeds)."""
    X, p, spec = problem(activation, sparsity, decoder, m=40)
    c64, g64 = objective.cost_and_grad(p, X, spec)
    c32, g32 = objective.cost_and_grad(p.astype(np.float32), X.astype(np.float32), spec)
    assert g32.W1.dtype == np.float32
    assert c32 == pytest.approx(c64, rel=1e-5)
    full = params.pack(g64)
    assert np.linalg.norm(params.pack(g32) - full) <= 1e-5 * np.linalg.norm(full)


def test_flat_gradient_is_float64_for_the_optimizer():
    X, p, spec = problem()
    fun = objective.flat_cost_and_grad(X.astype(np.float32), spec, p.n_hidden)
    cost, grad = fun(params.pack(p))
    assert grad.dtype == np.float64 and grad.shape == (params.size(16, 6),)
    assert isinstance(cost, float)


def test_unpack_gives_views_and_pack_inverts_it():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=params.size(5, 3))
    p = params.unpack(theta, 5, 3)
    assert [a.shape for a in p] == [(3, 5), (3,), (5, 3), (5,)]
    assert all(np.shares_memory(a, theta) for a in p)
    np.testing.assert_array_equal(params.pack(p), theta)
    with pytest.raises(ValueError, match="theta has shape"):
        params.unpack(theta[:-1], 5, 3)
    # the UFLDL exercise's layout, which checkpoints of theta keep: W1, W2, b1, b2, row-major
    np.testing.assert_array_equal(theta, np.concatenate([p.W1.ravel(), p.W2.ravel(), p.b1, p.b2]))


@pytest.mark.parametrize("method", params.INITS)
def test_initialisation(method):
    p = params.initialize(64, 25, np.random.default_rng(0), method)
    assert [a.shape for a in p] == [(25, 64), (25,), (64, 25), (64,)]
    assert not p.b1.any() and not p.b2.any()
    if method == "ufldl":  # the tutorial's draws: W1, then W2, uniform within r
        r, rng = np.sqrt(6 / (64 + 25 + 1)), np.random.default_rng(0)
        np.testing.assert_array_equal(p.W1, rng.uniform(-r, r, size=(25, 64)))
        np.testing.assert_array_equal(p.W2, rng.uniform(-r, r, size=(64, 25)))
    if method == "glorot_uniform":  # r = sqrt(6 / (fan_in + fan_out)), W1 drawn first
        r, rng = np.sqrt(6 / (64 + 25)), np.random.default_rng(0)
        np.testing.assert_array_equal(p.W1, rng.uniform(-r, r, size=(25, 64)))
        np.testing.assert_array_equal(p.W2, rng.uniform(-r, r, size=(64, 25)))
    if method == "glorot_normal":
        assert np.std(p.W1) == pytest.approx(np.sqrt(2 / 89), rel=0.1)
        assert np.std(p.W2) == pytest.approx(np.sqrt(2 / 89), rel=0.1)


def test_an_unknown_init_is_refused():
    with pytest.raises(ValueError, match=r"^unknown init 'he'; choose one of \['ufldl', "
                                         r"'glorot_uniform', 'glorot_normal'\]$"):
        params.initialize(64, 25, np.random.default_rng(0), "he")


@pytest.mark.parametrize("settings, message", [
    ({"activation": "relu"}, r"^activation 'relu' is unbounded, so no sparsity target applies"),
    ({"activation": "swish"}, r"^unknown activation 'swish'"),
    ({"sparsity": "l2"}, r"^sparsity must be one of \['kl', 'l1'\], got 'l2'$"),
    ({"decoder": "tanh"}, r"^decoder must be one of \['sigmoid', 'linear'\], got 'tanh'$"),
    ({"sparsity_target": 0.0}, r"^sparsity_target \(rho\) must be in \(0, 1\), got 0.0$"),
    ({"sparsity_target": 1.0}, r"^sparsity_target \(rho\) must be in \(0, 1\), got 1.0$"),
    ({"sparsity_weight": -1.0}, r"^sparsity_weight must be >= 0 and finite, got -1.0$"),
    ({"sparsity_weight": float("nan")}, r"^sparsity_weight must be >= 0 and finite, got nan$"),
    ({"weight_decay": -1e-4}, r"^weight_decay must be >= 0 and finite, got -0.0001$"),
    ({"weight_decay": float("inf")}, r"^weight_decay must be >= 0 and finite, got inf$"),
])
def test_a_spec_the_equations_do_not_cover_is_refused(settings, message):
    """These ended in NaN or a TypeError, KeyError deep inside an evaluation (a negative
    weight: a cost that falls without end)."""
    with pytest.raises(ValueError, match=message):
        Spec(**settings)


@pytest.mark.parametrize("rows, message", [
    (lambda X: X.astype(int), r"^X is int64 and the parameters are float64: give both in"),
    (lambda X: X.astype(np.float32), r"^X is float32 and the parameters are float64"),
    (lambda X: X[:, :5], r"^X must have shape \(n_samples, 16\) for these parameters, got "
                         r"\(10, 5\)$"),
    (lambda X: X[:0], r"^the data has no rows$"),
])
def test_rows_the_parameters_cannot_take_are_refused(rows, message):
    """For callers of the objective itself: these were NumPy's casting or gufunc errors, a
    ZeroDivisionError, or float32 gradients of float64 parameters."""
    X, p, spec = problem()
    with pytest.raises(ValueError, match=message):
        objective.cost_and_grad(p, rows(X), spec)
    if rows(X).shape[0]:  # (an empty chunk among others is no error)
        with pytest.raises(ValueError, match=message):
            objective.chunked_cost_and_grad(p, lambda: [X[:3], rows(X)], spec)


def test_a_workspace_that_does_not_fit_is_replaced_by_one_of_its_kind():
    X, p, spec = problem(m=40)
    small = objective.Workspace(8, X.shape[1], p.n_hidden, X, reproducible=True, threads=3)
    work = objective._workspace(small, X, p.n_hidden)
    assert work is not small and work.reproducible and len(work.lanes) == 3
    assert work.rows == 40
