"""Training on streamed data, the first-order solvers, early stopping."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sparseae import SparseAutoencoder, objective, params
from sparseae.data import NpyFile, Rows
from sparseae.objective import Spec
from sparseae.solvers import Settings, learning_rate
from sparseae.training import Problem, bytes_per_row, parse_bytes, resident_bytes

ALL_VARIANTS = [(a, s, d) for a in ("sigmoid", "tanh") for s in ("kl", "l1")
                for d in ("sigmoid", "linear")]


def fit(X, **kwargs):
    kwargs.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseAutoencoder(**kwargs).fit(X)


def budget_for(rows, n_hidden=25):
    """A memory budget that leaves room for about ``rows`` rows of 64 features per chunk, read
    in place from a float64 file."""
    return resident_bytes() + 2 * rows * bytes_per_row(64, n_hidden, 8, "in place")


@pytest.fixture
def npy(tmp_path, patches):
    np.save(tmp_path / "patches.npy", patches)
    return tmp_path / "patches.npy"


@pytest.mark.parametrize("activation, sparsity, decoder", ALL_VARIANTS)
def test_chunked_problem_equals_in_memory(npy, patches, activation, sparsity, decoder):
    spec = Spec(0.05, 3.0, 1e-4, activation, sparsity, decoder)
    in_memory = Problem(Rows(patches), spec, 10, np.float64)
    chunked = Problem(Rows(NpyFile(npy)), spec, 10, np.float64,
                      memory_budget=budget_for(97, 10))
    assert in_memory.in_memory and not chunked.in_memory and 50 < chunked.chunk_rows < 150
    theta = params.pack(params.initialize(64, 10, np.random.default_rng(1)))
    c1, g1 = in_memory.full(theta)
    c2, g2 = chunked.full(theta)
    assert c2 == pytest.approx(c1, rel=1e-12)
    assert np.linalg.norm(g2 - g1) <= 1e-12 * np.linalg.norm(g1)


def test_a_streamed_problems_rho_hat_is_the_mean_activity_over_all_rows(npy, patches):
    """The activities are summed chunk by chunk and divided by the number of all rows, not of
    a chunk's rows: what a fitted model reports as ``rho_hat_``."""
    problem = Problem(Rows(NpyFile(npy)), Spec(), 10, np.float64,
                      memory_budget=budget_for(97, 10))
    assert not problem.in_memory
    p = params.initialize(64, 10, np.random.default_rng(1))
    np.testing.assert_allclose(problem.rho_hat(p),
                               objective.encode(p, patches, "sigmoid").mean(axis=0), rtol=1e-12)


def test_lbfgs_on_a_memory_mapped_file_matches_in_memory(npy, patches):
    a = fit(patches, max_iter=30)
    b = fit(NpyFile(npy), max_iter=30, memory_budget=budget_for(300))
    assert b.n_features_in_ == 64
    assert b.loss_ == pytest.approx(a.loss_, rel=1e-8)
    np.testing.assert_allclose(b.W1_, a.W1_, rtol=1e-6, atol=1e-9)


def test_an_npy_opened_with_np_load_is_streamed_from_its_file(npy, patches, monkeypatch):
    """``np.load(path, mmap_mode="r")`` is the usual way to open a large file; under a budget
    it streams as ``NpyFile`` does, with the same result. Views, slices and copy-on-write
    mappings (which the file may not match) are arrays like any other."""
    from sparseae import training
    from sparseae.data.npyfile import opened_npy

    monkeypatch.setattr(training, "resident_bytes", lambda: 10**8)  # the same for both fits
    budget = 10**8 + 2 * 150 * bytes_per_row(64, 25, 8, "in place")
    mapped = np.load(npy, mmap_mode="r")
    views = NpyFile.views
    read = []  # chunks read from the file, not from an array in memory
    monkeypatch.setattr(NpyFile, "views", lambda self, rows: read.append(rows) or views(self, rows))
    streamed = fit(mapped, max_iter=5, memory_budget=budget, n_threads=1)
    assert read and read[0] == streamed.chunk_rows_
    from_file = fit(NpyFile(npy), max_iter=5, memory_budget=budget, n_threads=1)
    assert streamed.chunk_rows_ == from_file.chunk_rows_ < len(patches)
    np.testing.assert_array_equal(streamed.W1_, from_file.W1_)
    assert opened_npy(mapped).shape == patches.shape
    for other in (mapped[::-1], mapped[:50], mapped.T, np.load(npy, mmap_mode="c"),
                  np.asarray(mapped), patches):
        assert opened_npy(other) is None
    np.save(npy.with_name("wide.npy"), patches.T.copy())
    raw = np.memmap(npy.with_name("wide.npy"), mode="r", dtype=np.float64, offset=128,
                    shape=patches.shape)  # the file's bytes read as another shape
    assert opened_npy(raw) is None


def test_memory_budget_too_small_for_one_row(npy):
    with pytest.raises(ValueError, match="too small for one row"):
        fit(NpyFile(npy), memory_budget=100)


def test_batch_larger_than_the_budget(npy):
    with pytest.raises(ValueError,
                       match=r"batch_size 256 does not fit the memory budget \(\d+ rows"):
        fit(NpyFile(npy), solver="adam", memory_budget=budget_for(50), n_threads=1)


def test_the_budget_counts_each_extra_threads_buffers(npy, monkeypatch):
    from sparseae import training

    monkeypatch.setattr(training, "resident_bytes", lambda: 10**8)
    per_row = bytes_per_row(64, 25, 8, "in place")
    budget = 10**8 + 2 * 500 * per_row
    one, three = (Problem(Rows(NpyFile(npy)), Spec(), 25, np.float64, memory_budget=budget,
                          threads=t) for t in (1, 3))
    assert one.in_place and one.chunk_rows == 500
    lanes = 2 * training.lane_bytes(1000, 64, 25, 8)  # (a block: all 1000 rows)
    assert three.chunk_rows == (2 * 500 * per_row - lanes) // 2 // per_row


def test_the_budget_counts_how_rows_are_read(npy, monkeypatch):
    """Rows read in place cost their mapped pages; rows copied out, a float64 copy; rows
    transformed, three."""
    from sparseae import training
    from sparseae.data.scaling import UnitScaler

    monkeypatch.setattr(training, "resident_bytes", lambda: 10**8)
    budget, room = 10**8 + 2 * 10**6, 10**6
    in_place = Problem(Rows(NpyFile(npy)), Spec(), 25, np.float64, memory_budget=budget)
    copied = Problem(Rows(NpyFile(npy)), Spec(), 25, np.float32, memory_budget=budget)
    transformed = Problem(Rows(NpyFile(npy)).fit_transform(UnitScaler()), Spec(), 25,
                          np.float64, memory_budget=budget)
    assert in_place.in_place and not copied.in_place and not transformed.in_place
    assert not (in_place.in_memory or copied.in_memory or transformed.in_memory)
    assert in_place.chunk_rows == room // ((4 * 64 + 4 * 25) * 8 + 64 * 8) == 297
    assert copied.chunk_rows == room // ((4 * 64 + 4 * 25) * 4 + 64 * 8) == 516
    assert transformed.chunk_rows == room // ((4 * 64 + 4 * 25) * 8 + 3 * 64 * 8) == 228


@pytest.mark.parametrize("text, expected", [
    ("500MB", 500 * 10**6), ("2GiB", 2 * 2**30), ("1e9", 10**9), (4096, 4096), ("64 kb", 64000),
])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text, message", [
    ("lots", "cannot read 'lots' as a memory size"),
    ("5 parsecs", "cannot read '5 parsecs' as a memory size"),
    ("--5MB", "cannot read '--5MB' as a memory size"),
    ("-5MB", "memory size must be positive, got '-5MB'"),
    ("-5", "memory size must be positive, got '-5'"),
    ("0", "memory size must be positive, got '0'"),
    (-1, "memory size must be positive, got -1"),
])
def test_parse_bytes_rejects(text, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_bytes(text)


@pytest.mark.parametrize("solver, kwargs", [
    ("gd", {"max_iter": 150}),
    ("sgd", {"max_iter": 15, "batch_size": 50}),
    ("adam", {"max_iter": 15, "batch_size": 50}),
    ("adam", {"max_iter": 15, "batch_size": 50, "rho_estimate": "running"}),
    ("sgd", {"max_iter": 15, "batch_size": 50, "learning_rate_schedule": "cosine"}),
])
def test_first_order_solvers_train(patches, solver, kwargs):
    model = fit(patches, solver=solver, **kwargs)
    start = SparseAutoencoder(random_state=0, max_iter=1)
    initial = Problem(Rows(patches), start._spec(), 25, np.float64).cost(
        params.pack(params.initialize(64, 25, np.random.default_rng(
            np.random.RandomState(0).randint(np.iinfo(np.int32).max)))))
    assert model.loss_ < 0.2 * initial
    assert model.n_iter_ == kwargs["max_iter"] == len(model.loss_curve_)
    assert abs(model.rho_hat_.mean() - 0.01) < 0.05


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_same_seed_same_result(patches, solver):
    a = fit(patches, solver=solver, max_iter=4, batch_size=64, random_state=7)
    b = fit(patches, solver=solver, max_iter=4, batch_size=64, random_state=7)
    c = fit(patches, solver=solver, max_iter=4, batch_size=64, random_state=8)
    assert a.W1_.tobytes() == b.W1_.tobytes()
    assert a.W1_.tobytes() != c.W1_.tobytes()


def test_shuffling_changes_the_path(patches):
    a = fit(patches, solver="adam", max_iter=3, batch_size=64, shuffle=True)
    b = fit(patches, solver="adam", max_iter=3, batch_size=64, shuffle=False)
    assert not np.array_equal(a.W1_, b.W1_)


def test_learning_rate_schedules():
    s = Settings(max_iter=100, learning_rate=0.4, schedule="cosine")
    assert learning_rate(s, "adam", 0) == 0.4
    assert learning_rate(s, "adam", 50) == pytest.approx(0.2)
    assert learning_rate(s, "adam", 100) == pytest.approx(0.0)
    s = Settings(max_iter=100, learning_rate=0.4, schedule="step")
    assert [learning_rate(s, "sgd", e) for e in (0, 49.9, 50, 75)] == [0.4, 0.4, 0.2, 0.1]
    assert learning_rate(Settings(), "adam", 3) == 0.01  # the solver's default


def test_early_stopping_stops_and_keeps_the_best(patches):
    model = fit(patches, solver="adam", max_iter=500, batch_size=100, learning_rate=0.05,
                early_stopping=True, n_iter_no_change=3, tol=1e-3)
    assert model.n_iter_ < 500
    curve = model.validation_loss_curve_
    assert len(curve) == model.n_iter_
    assert np.argmin(curve) == len(curve) - 4  # three epochs without improvement after the best
    assert model.loss_ > 0


@pytest.mark.parametrize("fraction", [0.1, 0.9])  # none held out; none left to train on
def test_early_stopping_needs_rows_on_both_sides(fraction):
    with pytest.raises(ValueError, match="both need at least one"):
        fit(np.random.default_rng(0).uniform(size=(3, 4)), early_stopping=True,
            validation_fraction=fraction)


@pytest.mark.parametrize("params_, message", [
    ({"solver": "adam", "learning_rate": 0.0}, r"learning_rate must be in \(0, inf\)"),
    ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
    ({"batch_size": 0}, r"batch_size must be in \[1, inf\)"),
    ({"learning_rate_schedule": "linear"}, "learning_rate_schedule must be one of"),
    ({"rho_estimate": "exact"}, "rho_estimate must be one of"),
    ({"validation_fraction": 1.0}, r"validation_fraction must be in \(0, 1\)"),
    ({"memory_budget": "a lot"}, "cannot read 'a lot' as a memory size"),
])
def test_bad_solver_settings(patches, params_, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(**params_).fit(patches)


def test_two_loop_is_minus_the_bfgs_inverse_hessian_times_the_gradient():
    """Against the dense BFGS update of H, applied pair by pair from H0 = (s.y / y.y) I."""
    from sparseae.solvers import Pair, two_loop

    rng = np.random.default_rng(0)
    n = 7
    B = rng.normal(size=(n, n))
    A = B @ B.T + n * np.eye(n)  # y = A s: every pair meets the curvature condition
    steps = rng.normal(size=(4, n))
    pairs = [Pair.of(s, A @ s) for s in steps]
    g = rng.normal(size=n)
    s, y = pairs[-1].s, pairs[-1].y
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y, sy, _ in pairs:
        V = np.eye(n) - np.outer(y, s) / sy
        H = V.T @ H @ V + np.outer(s, s) / sy
    np.testing.assert_allclose(two_loop(g, pairs), -H @ g, rtol=1e-12)
    single = [Pair.of(p.s.astype(np.float32), p.y.astype(np.float32)) for p in pairs]
    direction = two_loop(g, single)
    assert direction.dtype == np.float32
    assert np.linalg.norm(direction + H @ g) <= 1e-6 * np.linalg.norm(H @ g)
    np.testing.assert_array_equal(two_loop(g, []), -g)


def test_the_line_search_cache_evaluates_each_new_point_once():
    """The cache compares a sample of the entries first: a point that differs from the last
    one only where the sample does not look must still be evaluated anew."""
    from sparseae.solvers import _Cached

    calls = []
    fun = _Cached(lambda x: calls.append(x.copy()) or (float(x @ x), 2 * x))
    x = np.zeros(1000)
    assert fun.cost(x) == 0.0 and len(calls) == 1
    np.testing.assert_array_equal(fun.grad(x.copy()), np.zeros(1000))  # equal: no evaluation
    assert len(calls) == 1
    y = x.copy()
    y[1] = 1.0  # the sample takes every 15th entry, from the first
    assert fun.cost(y) == 1.0 and len(calls) == 2
    assert fun.cost(np.zeros(999)) == 0.0 and len(calls) == 3  # another shape


def test_a_failed_line_search_is_reported_by_its_result_not_a_warning():
    """L-BFGS handles a line search that finds no step (it falls back to steepest descent, or
    stops with a message): SciPy's "did not converge" warning must not reach the user."""
    from sparseae.solvers import _Cached, _wolfe

    fun = _Cached(lambda x: (float(x @ x), 2 * x))
    theta = np.ones(3)
    cost, grad = fun(theta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = _wolfe(fun, theta, grad, grad, cost)  # uphill: no step lowers the cost
    assert found is None


def test_the_budget_boundary_is_inclusive(monkeypatch):
    from sparseae import training

    monkeypatch.setattr(training, "resident_bytes", lambda: 0)
    X = np.random.default_rng(0).random((100, 8))
    per_row = bytes_per_row(8, 3, 8, "copied")
    assert Problem(Rows(X), Spec(), 3, "float64", memory_budget=2 * per_row * 100).in_memory
    streamed = Problem(Rows(X), Spec(), 3, "float64", memory_budget=2 * per_row * 100 - 2)
    assert not streamed.in_memory and streamed.chunk_rows == 99


def test_reproducible_sums_are_bitwise_the_same_in_memory_and_streamed(tmp_path, monkeypatch):
    from sparseae import training

    monkeypatch.setattr(training, "resident_bytes", lambda: 0)
    X = np.random.default_rng(0).uniform(0.1, 0.9, (5000, 64))  # blocks of 2166 rows
    np.save(tmp_path / "x.npy", X)
    budget = 2 * bytes_per_row(64, 25, 8, "in place") * 3000
    whole = Problem(Rows(X), Spec(), 25, "float64", reproducible=True)
    streamed = Problem(Rows(NpyFile(tmp_path / "x.npy")), Spec(), 25, "float64",
                       memory_budget=budget, reproducible=True)
    assert whole.in_memory and not streamed.in_memory and streamed.chunk_rows == 2166
    theta = params.pack(params.initialize(64, 25, np.random.default_rng(0)))
    (c1, g1), (c2, g2) = whole.full(theta), streamed.full(theta)
    assert c1 == c2 and g1.tobytes() == g2.tobytes()


def test_reproducible_sums_refuse_a_budget_below_one_block(tmp_path, monkeypatch):
    """Chunks smaller than a block would group the rows otherwise than in memory: the error
    names the budget that holds one block, and that budget gives the in-memory result."""
    from sparseae import training

    monkeypatch.setattr(training, "resident_bytes", lambda: 0)
    X = np.random.default_rng(0).uniform(0.1, 0.9, (5000, 64))  # blocks of 2166 rows
    np.save(tmp_path / "x.npy", X)
    rows = Rows(NpyFile(tmp_path / "x.npy"))
    with pytest.raises(ValueError, match=r"whole blocks of 2166 rows, and it holds 1500 rows: "
                                         r"give at least (\d+)MiB") as caught:
        Problem(rows, Spec(), 25, "float64", reproducible=True,
                memory_budget=2 * bytes_per_row(64, 25, 8, "in place") * 1500)
    smallest = int(re.search(r"(\d+)MiB", str(caught.value)).group(1)) * 2**20
    streamed = Problem(rows, Spec(), 25, "float64", memory_budget=smallest, reproducible=True)
    assert not streamed.in_memory and streamed.chunk_rows == 2166
    whole = Problem(Rows(X), Spec(), 25, "float64", reproducible=True)
    theta = params.pack(params.initialize(64, 25, np.random.default_rng(0)))
    (c1, g1), (c2, g2) = whole.full(theta), streamed.full(theta)
    assert c1 == c2 and g1.tobytes() == g2.tobytes()


def test_early_stopping_counts_flat_costs_and_resumes_its_count():
    from types import SimpleNamespace

    from sparseae.training import EarlyStopping

    flat = SimpleNamespace(cost=lambda theta: 1.0)
    stopper = EarlyStopping(flat, patience=2, tol=0.0)
    assert [stopper(np.zeros(2)) for _ in range(3)] == [False, False, True]
    stopper = EarlyStopping(flat, patience=3, tol=0.0)
    assert [stopper(np.zeros(2)) for _ in range(3)] == [False, False, False]
    resumed = EarlyStopping(flat, patience=3, tol=0.0, state=stopper.state())
    assert resumed(np.zeros(2)) is True and resumed.curve == [1.0] * 4


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_a_streamed_run_resumed_under_its_budget_sums_in_the_chunks_it_began_with(
        npy, tmp_path, monkeypatch, solver):
    """The rows a budget holds follow the memory the process holds when it starts, which
    differs from one start to the next: a run resumed under the same budget streams in the
    chunks it began with (the held-out rows' too), so that it ends bit for bit where it would
    have; under another budget, in the chunks that budget holds."""
    from sparseae import training
    from sparseae.checkpoint import Checkpointer, load_checkpoint

    per_row = bytes_per_row(64, 25, 8, "in place")
    kwargs = dict(solver=solver, max_iter=6, batch_size=64, early_stopping=True,
                  n_iter_no_change=50, n_threads=1, memory_budget=10**8 + 2 * 300 * per_row)
    monkeypatch.setattr(training, "resident_bytes", lambda: 10**8)
    whole = fit(NpyFile(npy), **kwargs)
    calls, stop = iter(range(10**6)), 20 if solver == "adam" else 3  # (steps, iterations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = SparseAutoencoder(random_state=0, **kwargs).fit(
            NpyFile(npy), checkpoint=Checkpointer(tmp_path / "c.npz", every=100),
            should_stop=lambda: next(calls) >= stop)
    state = load_checkpoint(tmp_path / "c.npz")
    assert first.interrupted_ and whole.chunk_rows_ == 300
    assert state["run"]["chunk_rows"] == {"train": 300, "validation": 100}
    monkeypatch.setattr(training, "resident_bytes", lambda: 10**8 + 200 * per_row)  # held more
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        resumed = SparseAutoencoder(random_state=0, **kwargs).fit(NpyFile(npy), resume=state)
        kwargs["memory_budget"] = 10**8 + 200 * per_row + 2 * 250 * per_row
        other = SparseAutoencoder(random_state=0, **kwargs).fit(NpyFile(npy), resume=state)
    assert resumed.chunk_rows_ == 300 and resumed.n_iter_ == whole.n_iter_ == 6
    assert resumed.W1_.tobytes() == whole.W1_.tobytes()
    assert resumed.loss_curve_ == whole.loss_curve_
    assert resumed.validation_loss_curve_ == whole.validation_loss_curve_
    assert other.chunk_rows_ == 250  # (its own room: the same result to rounding)
    np.testing.assert_allclose(other.W1_, whole.W1_, rtol=1e-9, atol=1e-12)
