"""The PyTorch backend (CPU here) against the NumPy path: the same objective, every solver."""

import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from sparseae import SparseAutoencoder, gradcheck, objective, params
from sparseae.activations import DECODERS, HIDDEN_ACTIVATIONS
from sparseae.backend import Backend, ops
from sparseae.data import Rows
from sparseae.objective import PENALTIES, Spec
from sparseae.training import Problem

torch = pytest.importorskip("torch")

VARIANTS = [(f, p, g) for f in HIDDEN_ACTIVATIONS for p in PENALTIES for g in DECODERS]


def relative(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(a))


@pytest.mark.parametrize("activation,sparsity,decoder", VARIANTS)
@pytest.mark.parametrize("budget", [None, "chunks"])
def test_cost_and_gradient_equal_numpy_in_float64(patches, activation, sparsity, decoder,
                                                   budget):
    spec = Spec(activation=activation, sparsity=sparsity, decoder=decoder)
    theta = params.pack(params.initialize(64, 10, np.random.default_rng(1)))
    numpy_problem = Problem(Rows(patches), spec, 10, np.float64)
    torch_problem = Problem(Rows(patches), spec, 10, np.float64, device="cpu")
    if budget:  # stream 150-row chunks through the torch backend
        torch_problem.X, torch_problem.chunk_rows = None, 150
    cost, grad = numpy_problem.full(theta)
    torch_cost, torch_grad = torch_problem.full(theta)
    assert torch_grad.dtype == np.float64 and torch_grad.shape == theta.shape
    assert abs(torch_cost - cost) <= 1e-12 * abs(cost)
    assert relative(grad, torch_grad) < 1e-12


@pytest.mark.parametrize("activation,sparsity,decoder", VARIANTS)
def test_torch_gradient_passes_the_numerical_check(activation, sparsity, decoder, rng):
    spec = Spec(activation=activation, sparsity=sparsity, decoder=decoder)
    X = rng.uniform(0.05, 0.95, (10, 8))
    fun = Problem(Rows(X), spec, 4, np.float64, device="cpu").full
    theta = params.pack(params.initialize(8, 4, rng))
    theta[-12:] = rng.normal(0, 0.1, 12)  # nonzero biases
    _, grad = fun(theta)
    numerical = gradcheck.numerical_gradient(lambda t: fun(t)[0], theta, eps=1e-4)
    assert gradcheck.relative_difference(numerical, grad) < 1e-9


@pytest.mark.parametrize("activation,sparsity,decoder", VARIANTS)
def test_float32_agrees_with_float64(activation, sparsity, decoder, rng):
    """PyTorch's fused derivatives in float32: cost and gradient within 1e-5 of float64
    (measured: at most 6e-8 and 2e-7)."""
    spec = Spec(0.1, 3.0, 1e-4, activation, sparsity, decoder)
    X = rng.uniform(0.1, 0.9, (40, 16))
    theta = params.pack(params.initialize(16, 6, rng))
    theta[-22:] = rng.normal(0, 0.1, 22)  # nonzero biases
    cost, grad = Problem(Rows(X), spec, 6, np.float64, device="cpu").full(theta)
    cost32, grad32 = Problem(Rows(X), spec, 6, np.float32, device="cpu").full(theta)
    assert grad32.dtype == np.float64  # (the solvers' vector, whatever the device's dtype)
    assert abs(cost32 - cost) <= 1e-5 * abs(cost)
    assert relative(grad, grad32) < 1e-5


@pytest.mark.parametrize("sparsity", list(PENALTIES))
def test_sparsity_terms_of_float32_activity_are_computed_in_float64_on_torch(sparsity):
    """As on NumPy (test_objective): float32 logarithms would be off by about 1e-7."""
    rho_hat = np.random.default_rng(0).uniform(0.0099, 0.0101, 25).astype(np.float32)
    spec = Spec(sparsity=sparsity)
    value, delta = objective.sparsity_terms(torch.from_numpy(rho_hat), spec)
    value64, delta64 = objective.sparsity_terms(rho_hat.astype(np.float64), spec)
    assert float(value) == pytest.approx(value64, rel=1e-15)
    assert delta.dtype == torch.float32
    np.testing.assert_array_equal(delta.numpy(), delta64.astype(np.float32))


def test_a_tensor_is_in_the_same_place_only_in_the_same_dtype_on_the_same_device():
    """Whether a workspace's buffers can take a problem's rows (objective.Workspace)."""
    x = torch.zeros(2, dtype=torch.float64)
    o = ops(x)
    assert o.same_place(x, torch.ones(3, dtype=torch.float64))
    assert not o.same_place(x, x.float())
    assert not o.same_place(x, x.to("meta"))
    assert not o.same_place(x, x.numpy())


def test_data_stays_on_the_device_as_a_tensor(patches):
    problem = Problem(Rows(patches), Spec(), 10, np.float32, device="cpu")
    assert isinstance(problem.X, torch.Tensor) and problem.X.dtype == torch.float32
    assert isinstance(problem.work.a2, torch.Tensor)


def test_the_cpu_evaluates_in_blocks_shared_by_threads_and_a_gpu_whole_arrays(patches):
    """On the CPU, PyTorch's evaluations go in blocks of 512 KiB of inputs, at least 512 rows,
    split among the threads as NumPy's (4 MiB of working arrays), a thread per block's worth;
    elsewhere (a GPU; here the meta device, which no kernel runs on) whole arrays, and fixed
    8192-row blocks when reproducible."""
    like = {dtype: torch.empty(0, dtype=getattr(torch, dtype)) for dtype in ("float32", "float64")}
    assert objective.block_rows(10000, 64, 25, like["float32"]) == 2048
    assert objective.block_rows(10000, 64, 25, like["float64"]) == 1024
    assert objective.block_rows(10000, 64, 400, like["float32"]) == 2048
    assert objective.block_rows(10000, 784, 196, like["float32"]) == 512
    assert objective.block_rows(1000, 64, 25, like["float32"]) == 1000  # (fewer than a block)
    assert objective.block_rows(1000, 64, 25, like["float32"], reproducible=True) == 2048
    assert objective.block_rows(10000, 64, 25, np.empty(0, np.float64)) == 2166
    meta = torch.empty(0, device="meta")
    assert objective.block_rows(10000, 64, 25, meta) == 10000
    assert objective.block_rows(10000, 64, 25, meta, reproducible=True) == 8192
    X = np.concatenate([patches] * 5)
    problem = Problem(Rows(X), Spec(), 10, np.float64, device="cpu", threads=2)
    assert problem.threads == 2 and len(problem.work.lanes) == 2
    assert problem.work.parts(5000) == [(0, 2500), (2500, 5000)]
    assert problem.work.parts(1024) == [(0, 1024)]  # one block's worth: one thread
    assert list(problem.work.blocks(0, 2500)) == [(0, 833), (833, 1666), (1666, 2500)]
    lanes = [lane.delta2 for lane in problem.work.lanes]
    assert all(isinstance(b, torch.Tensor) and b.shape == (1024, 10) for b in lanes)


def test_the_cpu_keeps_the_hidden_layer_by_columns_and_a_gpu_by_rows(patches):
    """PyTorch's CPU products run faster writing rows of a block's length than rows of h
    values (``TorchOps.empty_hidden``): there ``a2`` and ``delta2`` are laid out by columns,
    and the products write into their blocks in place; elsewhere (the meta device) by rows."""
    m = len(patches)
    problem = Problem(Rows(patches), Spec(), 10, np.float64, device="cpu")
    a2, delta2 = problem.work.a2, problem.work.lanes[0].delta2
    assert a2.shape == (m, 10) and a2.stride() == (1, m)
    assert delta2.shape == (m, 10) and delta2.stride() == (1, m)
    X, theta = problem.X, params.initialize(64, 10, np.random.default_rng(0))
    p = params.Params(*(torch.from_numpy(np.ascontiguousarray(w)) for w in theta))
    block = a2[100:300]
    assert objective.encode(p, X[100:300], "sigmoid", out=block).data_ptr() == block.data_ptr()
    np.testing.assert_allclose(a2[100:300].numpy(), objective.encode(p, X[100:300], "sigmoid"),
                               rtol=1e-15)
    meta = torch.empty(0, device="meta")
    assert objective.Workspace(100, 64, 10, meta).a2.stride() == (10, 1)
    assert objective.Workspace(100, 64, 10, np.empty(0)).a2.flags.c_contiguous


@pytest.mark.parametrize("shape", [(64, 25), (25, 64)])
def test_matmul_tn_is_the_transposed_product_either_way_round(shape, rng):
    """``A^T B``: on the CPU a result of more rows than columns is formed as its transpose and
    copied into ``out``, one of fewer rows straight into it."""
    A, B = rng.normal(size=(300, shape[0])), rng.normal(size=(300, shape[1]))
    out = torch.empty(shape, dtype=torch.float64)
    assert ops(out).matmul_tn(torch.from_numpy(A), torch.from_numpy(B), out) is out
    assert relative(A.T @ B, out.numpy()) < 1e-14
    assert ops(A).matmul_tn(A, B, np.empty(shape)).shape == shape


@pytest.mark.parametrize("reproducible", [False, True])
def test_a_cpu_fit_runs_pytorch_on_one_thread_per_lane_and_restores_its_threads(
        patches, reproducible):
    """Each thread that shares the rows runs PyTorch on one thread, as NumPy's BLAS, else
    the two would oversubscribe the cores; so does a reproducible fit, whose products must not
    be split by PyTorch's threads. The process's thread count is restored afterwards, and the
    worker threads end with the fit (see TorchOps.workers)."""
    seen, before = [], torch.get_num_threads()
    torch.set_num_threads(2)

    def workers():
        return sum(thread.name.startswith("sparseae-torch") for thread in threading.enumerate())

    try:
        def callback(iteration, cost):
            seen.append((torch.get_num_threads(), workers()))

        many = np.concatenate([patches] * 5)  # (5000 rows: 5 blocks; 1000: one)
        for X, n_threads, expected in ((many, 2, (1, 1)), (many, 1, (1, 0)),
                                       (patches, None, (1 if reproducible else 2, 0))):
            seen.clear()
            SparseAutoencoder(10, max_iter=2, device="cpu", n_threads=n_threads,
                              reproducible=reproducible, callback=callback,
                              random_state=0).fit(X)
            assert seen == [expected] * 2
            assert torch.get_num_threads() == 2 and workers() == 0
    finally:
        torch.set_num_threads(before)


def test_outside_a_fit_the_parts_of_the_rows_run_on_the_calling_thread(patches):
    """Without Backend.threads' workers, a problem of several lanes runs them one after the
    other, to the same sums, and starts no thread."""
    X = np.concatenate([patches] * 5)
    theta = params.pack(params.initialize(64, 10, np.random.default_rng(1)))
    alone, shared = (Problem(Rows(X), Spec(), 10, np.float64, device="cpu", threads=n)
                     for n in (1, 2))
    assert shared.threads == 2
    cost, grad = alone.full(theta)
    with shared.backend.threads(1, 2):
        in_threads = shared.full(theta)
    outside = shared.full(theta)
    for other_cost, other_grad in (in_threads, outside):
        assert other_cost == pytest.approx(cost, rel=1e-14)
        assert relative(grad, other_grad) < 1e-13
    assert not any(thread.name.startswith("sparseae-torch") for thread in threading.enumerate())


@pytest.mark.parametrize("device", ["numpy", "cpu"])
def test_reproducible_cpu_fits_are_bitwise_the_same_on_any_number_of_threads(patches, device):
    """The final cost (loss_) included, computed on the fit's threads."""
    X = np.concatenate([patches] * 5)  # 5000 rows: blocks of 512 or 1024 shared by the threads
    fits = [SparseAutoencoder(10, max_iter=20, device=device, n_threads=n, reproducible=True,
                              random_state=0).fit(X) for n in (1, 2, 3)]
    for fit in fits[1:]:
        assert np.array_equal(fit.W1_, fits[0].W1_) and fit.loss_ == fits[0].loss_
        assert np.array_equal(fit.rho_hat_, fits[0].rho_hat_)


def test_trained_float32_model_is_within_half_a_percent_of_numpy(patches):
    kwargs = dict(n_hidden=16, max_iter=400, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = SparseAutoencoder(**kwargs).fit(patches)
        model = SparseAutoencoder(dtype="float32", device="cpu", **kwargs).fit(patches)
    assert isinstance(model.W1_, np.ndarray) and model.W1_.dtype == np.float32
    assert abs(model.loss_ / reference.loss_ - 1) < 0.005
    assert reference.cost(patches) == pytest.approx(model.cost(patches), rel=0.005)


def test_bfloat16_products_train_a_float32_model_close_to_float32(patches):
    """bfloat16 inputs to the products (float32 accumulation): about 3 significant digits in
    each product, the cost and gradient close to float32's, PyTorch's setting restored."""
    theta = params.pack(params.initialize(64, 16, np.random.default_rng(1)))
    cost, grad = Problem(Rows(patches), Spec(), 16, np.float32, device="cpu").full(theta)
    half_problem = Problem(Rows(patches), Spec(), 16, "bfloat16", device="cpu")
    assert half_problem.X.dtype == torch.float32
    half_cost, half_grad = half_problem.full(theta)
    assert abs(half_cost / cost - 1) < 1e-2 and relative(grad, half_grad) < 3e-2
    assert torch.get_float32_matmul_precision() == "highest"
    with Backend("cpu", "bfloat16").precision():
        assert torch.get_float32_matmul_precision() == "medium"
    if _products_round(half_problem):  # the evaluation did round them (Intel, AMX: 7e-4)
        assert relative(grad, half_grad) > 1e-5
    kwargs = dict(n_hidden=16, max_iter=400, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = SparseAutoencoder(dtype="float32", **kwargs).fit(patches)
        half = SparseAutoencoder(dtype="bfloat16", **kwargs).fit(patches)
    assert half.W1_.dtype == np.float32 and half.transform(patches).dtype == np.float32
    assert abs(half.loss_ / single.loss_ - 1) < 0.03  # measured: 1.7% above float32
    assert torch.get_float32_matmul_precision() == "highest"


def _products_round(problem) -> bool:
    """Whether PyTorch rounds a product of this problem's size to bfloat16 at "medium": oneDNN
    does on Intel CPUs with AMX; on an AMD EPYC with AVX512-BF16 (PyTorch 2.13) it does not,
    and "medium" changes nothing there (measured: 3e-7 apart, the order of summation)."""
    X = problem.X[:, :64]
    W = torch.linspace(0.5, 1.5, 64 * 16, dtype=torch.float32).reshape(64, 16)
    exact = X @ W
    with Backend("cpu", "bfloat16").precision():
        medium = X @ W
    return relative(exact.numpy(), medium.numpy()) > 1e-5


def test_bfloat16_needs_a_torch_device():
    with pytest.raises(ValueError, match=r"^dtype='bfloat16' needs a PyTorch device "
                                         r"\(device='cpu' or device='cuda'\): NumPy has no "
                                         "bfloat16 matrix products$"):
        Backend("numpy", "bfloat16")
    with pytest.raises(ValueError, match="bfloat16' needs a PyTorch device"):
        SparseAutoencoder(dtype="bfloat16").fit(np.full((5, 4), 0.5))


@pytest.mark.parametrize("solver,max_iter,rate", [("lbfgs", 15, None), ("gd", 15, 0.02),
                                                  ("sgd", 3, None), ("adam", 3, None)])
def test_every_solver_follows_the_numpy_run(patches, solver, max_iter, rate):
    kwargs = dict(n_hidden=10, solver=solver, max_iter=max_iter, batch_size=100,
                  learning_rate=rate, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numpy_model = SparseAutoencoder(**kwargs).fit(patches)
        torch_model = SparseAutoencoder(device="cpu", **kwargs).fit(patches)
    assert len(torch_model.loss_curve_) == max_iter
    assert relative(numpy_model.loss_curve_, torch_model.loss_curve_) < 1e-9
    assert relative(numpy_model.W1_, torch_model.W1_) < 1e-8


def test_a_running_rho_estimate_of_float32_tensors_stays_float32():
    """The running mean is kept in float64 on the host; the minibatch gets it in its own
    dtype (a float64 tensor in a float32 evaluation would fail in its matrix products)."""
    from sparseae.solvers import RhoEstimate

    estimate = RhoEstimate("running", 0.9)
    estimate(torch.tensor([0.1, 0.3], dtype=torch.float32))
    second = estimate(torch.tensor([0.3, 0.5], dtype=torch.float32))
    assert second.dtype == torch.float32
    np.testing.assert_allclose(second.numpy(), [0.12, 0.32], rtol=1e-7)


def test_running_rho_estimate_on_torch(patches):
    kwargs = dict(n_hidden=10, solver="adam", max_iter=2, rho_estimate="running",
                  random_state=0)
    numpy_model = SparseAutoencoder(**kwargs).fit(patches)
    torch_model = SparseAutoencoder(device="cpu", **kwargs).fit(patches)
    assert relative(numpy_model.loss_curve_, torch_model.loss_curve_) < 1e-9


def test_reproducible_sums_do_not_depend_on_the_chunking(patches):
    theta = params.pack(params.initialize(64, 10, np.random.default_rng(1)))
    results = []
    for device in ("numpy", "cpu"):
        for chunk_rows in (None, 512, 256):  # whole blocks of 256 rows either way
            problem = Problem(Rows(patches), Spec(), 10, np.float64, device=device,
                              reproducible=True)
            problem.work = objective.Workspace(1000, 64, 10, problem.backend.empty((0,)),
                                               reproducible=True)
            problem.work.block = 128
            if chunk_rows:
                problem.X, problem.chunk_rows = None, chunk_rows
            results.append(problem.full(theta))
        assert all(c == results[-3][0] and np.array_equal(g, results[-3][1])
                   for c, g in results[-2:])


def test_reproducible_sums_keep_the_hidden_layer_by_rows(patches):
    """By columns, a block of a2 starts in each column where the rows held put it (5001 in
    memory, 1024 or 2048 in chunks), and MKL's column sums ``ones^T a2`` rounded by that:
    chunked pass-one sums 1e-13 from the in-memory ones, so no longer bitwise equal."""
    X = np.concatenate([patches] * 6)[:5001]
    theta = params.pack(params.initialize(64, 10, np.random.default_rng(1)))
    results = []
    for chunk_rows in (None, 1024, 2048):  # blocks of 1024 rows
        problem = Problem(Rows(X), Spec(), 10, np.float64, device="cpu", reproducible=True)
        if chunk_rows:  # the workspace a budget of that many rows would give
            problem.X, problem.chunk_rows = None, chunk_rows
            problem.work = objective.Workspace(chunk_rows, 64, 10, problem.backend.empty((0,)),
                                               reproducible=True)
        assert problem.work.block == 1024 and problem.work.a2.stride() == (10, 1)
        results.append(problem.full(theta))
    assert all(c == results[0][0] and np.array_equal(g, results[0][1]) for c, g in results[1:])


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^unknown device 'quantum': give numpy, or a PyTorch "
                                         r"device such as cpu, cuda or cuda:1$"):
        Backend("quantum")
    with pytest.raises(ValueError, match=r"^unknown device 'CPU': give numpy, or a PyTorch device "
                                         r"such as cpu, cuda or cuda:1 \(device names are lower "
                                         r"case: 'cpu'\)$"):
        Backend("CPU")
    with pytest.raises(ValueError, match=r"^device='meta' is not supported: give numpy, cpu or "
                                         r"cuda$"):
        Backend("meta")  # a device PyTorch knows on every machine (as it knows mps)
    with pytest.raises(ValueError, match="dtype must be one of"):
        Backend("cpu", "float16")
    with pytest.raises(ValueError, match="device must be a string"):
        SparseAutoencoder(device=3).fit(np.full((5, 4), 0.5))


def test_a_gpu_that_is_not_there_is_a_clear_error(monkeypatch):
    """On a machine that shows one GPU (pretended here), cuda:3 fails in PyTorch's first use of
    it; under torchrun a third process on it has no GPU, and cuda:0 would put every process on
    the same one."""
    import torch

    from sparseae import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"^device='cuda:3' asked for, but PyTorch sees 1 CUDA "
                                         r"GPU\(s\), numbered from 0$"):
        Backend("cuda:3")
    with pytest.raises(ValueError, match=r"^device='cuda:1' asked for, but PyTorch sees 1 CUDA"):
        Backend("cuda:1")
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 2)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 3)
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(ValueError, match="^process 2 of this machine has no GPU of its own: "
                                         "PyTorch sees 1; start at most that many processes "):
        distributed.init(Backend("cuda"))
    monkeypatch.setenv("LOCAL_RANK", "1")  # (the second process: GPUs count from 0)
    with pytest.raises(ValueError, match="^process 1 of this machine has no GPU of its own: "):
        distributed.init(Backend("cuda"))
    with pytest.raises(ValueError, match="^device='cuda:0' puts every process on one GPU: give "
                                         "device='cuda', and each process takes the GPU of its "
                                         "LOCAL_RANK$"):
        distributed.init(Backend("cuda:0"))


def test_distributed_without_torchrun_says_how_to_run_one_process(monkeypatch):
    """distributed=True in a plain Python process: the way to one process is
    distributed=False, not unsetting a WORLD_SIZE that is not set (the command line's advice,
    where WORLD_SIZE above 1 asked for torchrun's processes)."""
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    model = SparseAutoencoder(3, device="cpu", distributed=True, max_iter=1)
    with pytest.raises(ValueError, match=r"^distributed training needs the environment torchrun "
                                         r"sets \(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT "
                                         r"missing\): start it with torchrun --nproc_per_node=N "
                                         r"\.\.\., or give distributed=False to run one "
                                         r"process$"):
        model.fit(np.full((20, 4), 0.5))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"missing\): .*, or unset WORLD_SIZE to run one "
                                         r"process$"):
        model.fit(np.full((20, 4), 0.5))


def test_library_works_without_torch(without_torch):
    result = without_torch(
        "import numpy as np, sparseae\n"
        "X = np.random.default_rng(0).uniform(0.1, 0.9, (50, 6))\n"
        "m = sparseae.SparseAutoencoder(3, max_iter=5).fit(X)\n"
        "print('fitted', m.W1_.shape)\n"
        "try:\n"
        "    sparseae.SparseAutoencoder(3, device='cpu').fit(X)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "fitted (3, 6)" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "device='cpu' (a PyTorch device; without PyTorch: device='numpy') needs PyTorch: "
        "pip install 'sparseae[torch]'")


def test_tensors_are_taken_as_their_values_wherever_they_live():
    """scikit-learn's checks failed inside PyTorch for a tensor that requires grad, or is
    bfloat16 (as a model of dtype='bfloat16' invites)."""
    import torch

    from sparseae import SoftmaxRegression

    X = torch.rand(40, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    model = SparseAutoencoder(3, max_iter=3, random_state=0).fit(X.requires_grad_())
    same = SparseAutoencoder(3, max_iter=3, random_state=0).fit(X.detach().numpy())
    np.testing.assert_array_equal(model.W1_, same.W1_)
    np.testing.assert_array_equal(model.transform(X.detach().bfloat16()),
                                  same.transform(X.detach().bfloat16().float().numpy()))
    y = torch.arange(40) % 2
    assert list(SoftmaxRegression(max_iter=3).fit(X, y).classes_) == [0, 1]


def test_inverse_transforms_and_experiments_take_tensors_as_their_values():
    """inverse_transform (the autoencoder's, PCA's, ZCA's) and the experiments, which take
    their input without scikit-learn's validate_data, failed inside PyTorch for a tensor that
    requires grad ("Can't call numpy() on Tensor that requires grad") or is bfloat16 ("Got
    unsupported ScalarType BFloat16"), where fit and transform took it."""
    from sparseae import experiments
    from sparseae.whitening import PCA, ZCAWhitening

    X = np.random.default_rng(0).uniform(0.1, 0.9, (40, 6))
    y = np.arange(40) % 2
    model = SparseAutoencoder(3, max_iter=3, random_state=0).fit(X)
    pca, zca = PCA(n_components=3).fit(X), ZCAWhitening().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same = experiments.stacked(X, y, hidden_layer_sizes=(2,), max_iter=2,
                                   finetune_max_iter=2)
    for tensor in (torch.from_numpy, lambda a: torch.from_numpy(a).requires_grad_()):
        H = model.transform(X)
        np.testing.assert_array_equal(model.inverse_transform(tensor(H)),
                                      model.inverse_transform(H))
        Z = pca.transform(X)
        np.testing.assert_array_equal(pca.inverse_transform(tensor(Z)), pca.inverse_transform(Z))
        np.testing.assert_array_equal(zca.inverse_transform(tensor(X)), zca.inverse_transform(X))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = experiments.stacked(tensor(X), torch.from_numpy(y), hidden_layer_sizes=(2,),
                                      max_iter=2, finetune_max_iter=2)
        np.testing.assert_array_equal(run["model"].network_.layers_[0].W,
                                      same["model"].network_.layers_[0].W)
    half = torch.from_numpy(H).bfloat16()
    np.testing.assert_array_equal(model.inverse_transform(half),
                                  model.inverse_transform(half.float().numpy()))
    np.testing.assert_array_equal(pca.inverse_transform(torch.from_numpy(Z).bfloat16()),
                                  pca.inverse_transform(torch.from_numpy(Z).bfloat16().float()
                                                        .numpy()))


def test_read_only_data_is_shared_without_pytorch_s_warning(tmp_path):
    """``np.load(mmap_mode="r")`` data on a PyTorch device showed PyTorch's warning that
    writing to a tensor of a non-writable array is undefined behaviour, advising a copy: the
    fit only reads the data, shares it and says nothing. In a new process, since PyTorch warns
    once a process, whatever the filters."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((50, 4)))
    code = ("import sys, warnings\n"
            "import numpy as np\n"
            "from sparseae import SparseAutoencoder\n"
            "warnings.filterwarnings('error', 'The given NumPy array is not writable')\n"
            "X = np.load(sys.argv[1], mmap_mode='r')\n"
            "SparseAutoencoder(3, max_iter=2, device='cpu', random_state=0).fit(X)\n"
            "print(np.array_equal(X, np.load(sys.argv[1])))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy")],
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr
