"""The PyTorch backend (hand-written backward) against PyTorch autograd on the same device, and
data-parallel training on 1 and 2 processes, all in this one run.

- the exercise (10000 x 64 -> 25, 400 L-BFGS iterations) and MNIST-sized (10000 x 784 -> 196),
  float32 and float64, on the CPU and, when PyTorch sees one, on a CUDA GPU;
- one evaluation for m in {1e3, 1e4, 1e5} x n_hidden in {25, 100, 400} with the FLOP rate
  (10 m n h per evaluation) against the device's measured matrix-multiply peak;
- bfloat16 matrix products (``dtype="bfloat16"``) against float32: time per evaluation, and
  100 L-BFGS iterations on MNIST-sized data;
- on a GPU, the large workload: 1,000,000 x 784 -> 1024, float32 and bfloat16 products,
  against autograd on the GPU and sparseae's NumPy path on the CPU cores;
- torchrun with 1 and 2 processes (gloo, CPU): time per iteration, and the largest relative
  difference of the loss curve from the one-process run.

    python benchmarks/torch_backend.py            # everything (about 6 minutes on 2 cores)
    python benchmarks/torch_backend.py --quick    # smaller sizes, fewer iterations
    python benchmarks/torch_backend.py --device cuda   # the GPU's part alone
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import mnist_sized, our_problem, run_torch, synchronize  # noqa: E402


def run_backend(X, theta0, n_hidden, iterations, dtype, device):
    """sparseae's L-BFGS on the torch backend: data on ``device``, the float64 vector on the
    host, the threads as ``fit`` sets them (on the CPU: blocks of rows shared by threads that
    each run PyTorch on one thread; NumPy and SciPy on one thread). Timed from the data
    already on the device, as the autograd run is."""
    from sparseae import solvers

    problem, threads, _, settings = our_problem(X, n_hidden, dtype, iterations, device)
    evaluations, full = [0], problem.full

    def counted(theta):
        evaluations[0] += 1
        return full(theta)

    problem.full = counted
    synchronize(device)
    with threads:
        start = time.perf_counter()
        result = solvers.lbfgs(problem, theta0, settings)
        synchronize(device)
        seconds = time.perf_counter() - start
    return seconds, result.loss_curve[-1], evaluations[0]


def matmul_peak(device, dtype, size=4096) -> float:
    """GFLOP/s of a large square matrix product with PyTorch on ``device``."""
    import torch

    a = torch.rand(size, size, dtype=getattr(torch, dtype), device=device)
    a @ a
    synchronize(device)
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    synchronize(device)
    return 5 * 2 * size**3 / (time.perf_counter() - start) / 1e9


def evaluation_seconds(m, n, h, dtype, device, repeats) -> float:
    """Seconds of one evaluation of the torch backend on ``device``, as ``fit`` sets it up."""
    from sparseae import params

    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(m, n))
    problem, threads, _, _ = our_problem(X, h, dtype, device=device)
    theta = params.pack(params.initialize(n, h, np.random.default_rng(0)))
    with threads:
        problem.full(theta)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            problem.full(theta)
        synchronize(device)
        return (time.perf_counter() - start) / repeats


def workload(name, X, n_hidden, iterations, dtypes, device):
    from sparseae import params

    m, n = X.shape
    theta0 = params.pack(params.initialize(n, n_hidden, np.random.default_rng(0)))
    print(f"\n{name} on {device}: {m} x {n} -> {n_hidden}, {iterations} L-BFGS iterations")
    print(f"  {'run':<44} {'seconds':>8} {'final cost':>11} {'evaluations':>12} "
          f"{'ms/eval':>8}")
    ratios = {}
    for dtype in dtypes:
        ours = run_backend(X, theta0, n_hidden, iterations, dtype, device)
        *theirs, done = run_torch(X, theta0, n_hidden, iterations, dtype, device)
        for label, (seconds, cost, nfev) in ((f"sparseae torch backend, {dtype}", ours),
                                             (f"PyTorch autograd + LBFGS, {dtype}", theirs)):
            print(f"  {label:<44} {seconds:8.2f} {cost:11.5f} {nfev:12d} "
                  f"{1e3 * seconds / nfev:8.2f}")
        ratios[dtype] = ours[0] / theirs[0]
        print(f"  {dtype}: torch backend / autograd = {ratios[dtype]:.2f} "
              f"(per evaluation {ours[0] / ours[2] / (theirs[0] / theirs[2]):.2f})")
        if done < iterations:
            print(f"  (autograd's L-BFGS stopped after {done} of {iterations} iterations, where "
                  "it found no descent (rounding): read the ratio per evaluation)")
    return ratios


def scaling(device, quick):
    sizes = [1000, 10000] if quick else [1000, 10000, 100000]
    hidden = [25, 100] if quick else [25, 100, 400]
    print(f"\nscaling on {device}: one evaluation, 64 inputs (FLOPs = 10 m n h)")
    for dtype in ("float32", "float64"):
        peak = matmul_peak(device, dtype, 2000 if device == "cpu" else 8192)
        print(f"  matrix-multiply peak, {dtype}: {peak:.1f} GFLOP/s")
        print(f"  {'m':>7} {'h':>4} {'ms/eval':>9} {'GFLOP/s':>8} {'of peak':>8}")
        for m in sizes:
            for h in hidden:
                seconds = evaluation_seconds(m, 64, h, dtype, device,
                                             max(3, int(2e7 / (m * h))))
                gflops = 10 * m * 64 * h / seconds / 1e9
                print(f"  {m:>7} {h:>4} {1e3 * seconds:9.2f} {gflops:8.1f} {gflops / peak:8.1%}")


def bfloat16(device, X, iterations):
    """The torch backend in float32 and with bfloat16 matrix products (``dtype="bfloat16"``):
    one evaluation at two sizes, and ``iterations`` L-BFGS iterations on ``X``."""
    print(f"\nbfloat16 matrix products on {device} (float32 arrays and element-wise work)")
    size = 4096 if device == "cpu" else 8192
    print(f"  {size} x {size} product: float32 {matmul_peak(device, 'float32', size):.0f} "
          f"GFLOP/s, bfloat16 {matmul_peak(device, 'bfloat16', size):.0f} GFLOP/s")
    print(f"  {'m':>6} {'n':>4} {'h':>5} {'float32 ms/eval':>16} {'bfloat16 ms/eval':>17} "
          f"{'ratio':>6}")
    for m, n, h in ((10000, 784, 196), (10000, 784, 1024)):
        single, half = (evaluation_seconds(m, n, h, dtype, device, 5)
                        for dtype in ("float32", "bfloat16"))
        print(f"  {m:>6} {n:>4} {h:>5} {1e3 * single:16.1f} {1e3 * half:17.1f} "
              f"{half / single:6.2f}")
    from sparseae import params

    m, n = X.shape
    theta0 = params.pack(params.initialize(n, 196, np.random.default_rng(0)))
    runs = {dtype: run_backend(X, theta0, 196, iterations, dtype, device)
            for dtype in ("float32", "bfloat16")}
    for dtype, (seconds, cost, nfev) in runs.items():
        print(f"  MNIST-sized, {iterations} L-BFGS iterations, {dtype:<8}: {seconds:6.2f} s, "
              f"{nfev} evaluations, final cost {cost:.5f}")
    (single, single_cost, _), (half, half_cost, _) = runs.values()
    print(f"  bfloat16 / float32: time {half / single:.2f}, "
          f"final cost {half_cost / single_cost - 1:+.2%}")


def large(device, iterations, m=1_000_000, numpy_rows=100_000):
    """``m`` x 784 -> 1024 in float32 (1,000,000 rows: 3 GB of data) on ``device``: sparseae's
    torch backend (float32 and bfloat16 products) and PyTorch autograd on the same device, time
    per L-BFGS iteration and FLOP rate; and the NumPy path on this machine's CPU cores, one
    evaluation of the first ``numpy_rows`` rows scaled to ``m`` (time grows linearly in the
    rows), for the device's advantage."""
    from sparseae import params

    n, h = 784, 1024
    X = np.random.default_rng(0).random((m, n), dtype=np.float32)
    X *= np.random.default_rng(1).random((m, n), dtype=np.float32) < 0.19  # MNIST-like
    print(f"\nlarge on {device}: {m:,} x {n} -> {h}, float32, {iterations} L-BFGS iterations")
    peak = matmul_peak(device, "float32", 2000 if device == "cpu" else 8192)
    print(f"  matrix-multiply peak, float32: {peak:.0f} GFLOP/s")
    theta0 = params.pack(params.initialize(n, h, np.random.default_rng(0)))
    runs = {f"sparseae torch backend, {dtype}": run_backend(X, theta0, h, iterations, dtype,
                                                            device)
            for dtype in ("float32", "bfloat16")}
    runs["PyTorch autograd + LBFGS, float32"] = run_torch(X, theta0, h, iterations, "float32",
                                                          device, exact=False)[:3]
    for label, (seconds, cost, nfev) in runs.items():
        rate = 10 * m * n * h * nfev / seconds / 1e9
        print(f"  {label:<36} {seconds:8.2f} s, {1e3 * seconds / nfev:8.1f} ms/eval, "
              f"{rate:6.0f} GFLOP/s ({rate / peak:.0%} of the float32 peak), "
              f"last cost {cost:.5f}")
    ours, _, ours_n = runs["sparseae torch backend, float32"]
    theirs, _, theirs_n = runs["PyTorch autograd + LBFGS, float32"]
    print(f"  torch backend / autograd, float32: {ours / theirs:.2f} "
          f"(per evaluation {ours / ours_n / (theirs / theirs_n):.2f})")
    rows = min(numpy_rows, m)
    cpu_seconds, cores = evaluation_seconds_numpy(X[:rows], h)
    cpu_seconds *= m / rows
    print(f"  NumPy path on {cores} CPU cores, float32: {1e3 * cpu_seconds:.0f} ms/eval "
          f"(measured on {rows:,} rows); torch backend on {device} / NumPy path per "
          f"evaluation: {ours / ours_n / cpu_seconds:.3f}")


def evaluation_seconds_numpy(X, n_hidden) -> tuple[float, int]:
    """Seconds of one evaluation of sparseae's NumPy path on ``X``, as ``fit`` sets it up, and
    the cores it used."""
    from sparseae import params

    problem, threads, cores, _ = our_problem(X, n_hidden, X.dtype.name)
    theta = params.pack(params.initialize(X.shape[1], n_hidden, np.random.default_rng(0)))
    with threads:
        problem.full(theta)
        start = time.perf_counter()
        problem.full(theta)
        return time.perf_counter() - start, max(cores, problem.threads)


def distributed(iterations):
    """torchrun with 1 and 2 CPU processes (gloo), plain and reproducible sums."""
    print(f"\ntorch.distributed on the CPU (gloo), the exercise in float64, {iterations} L-BFGS "
          "iterations, one thread per process:")
    print(f"  {'sums':<13} {'processes':>9} {'s / iteration':>14} "
          f"{'max rel. difference of the loss curve from 1 process':>54}")
    with tempfile.TemporaryDirectory() as tmp:
        for reproducible in (False, True):
            curves = {}
            for nproc in (1, 2):
                out = Path(tmp) / f"{nproc}.npz"
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={nproc}", __file__, "--worker", str(out),
                           str(iterations), str(int(reproducible))]
                subprocess.run(command, check=True, capture_output=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
                curves[nproc] = np.load(out)
            for nproc in (1, 2):
                curve = curves[nproc]["curve"]
                diff = np.max(np.abs(curve - curves[1]["curve"]) / np.abs(curves[1]["curve"]))
                print(f"  {'reproducible' if reproducible else 'plain':<13} {nproc:>9} "
                      f"{float(curves[nproc]['seconds']) / len(curve):14.4f} {diff:54.1e}")


def worker(out, iterations, reproducible):
    """One process of ``distributed``: fit the exercise, rank 0 saves curve and time."""
    import warnings

    from sparseae import SparseAutoencoder
    from sparseae.data import image_patches

    warnings.simplefilter("ignore")
    X = image_patches("natural", 10000, 8, random_state=0)
    model = SparseAutoencoder(25, max_iter=iterations, device="cpu", distributed=True,
                              reproducible=reproducible, random_state=0)
    start = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - start
    if int(os.environ["RANK"]) == 0:
        np.savez(out, curve=np.array(model.loss_curve_), seconds=seconds)


def main(argv=None):
    import torch

    from sparseae.data import image_patches

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer iterations")
    parser.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                        help="where to run (all: the CPU, and a CUDA GPU if PyTorch sees one; "
                        "torch.distributed runs with the CPU)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), args.worker[2] == "1")
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {gpu}")
    if args.device == "cuda" and gpu == "none":
        parser.error("--device cuda: PyTorch sees no CUDA GPU")
    iterations = 50 if args.quick else 400
    patches = image_patches("natural", 10000, 8, random_state=0)
    mnist = mnist_sized(2000 if args.quick else 10000)
    devices = (["cpu"] if args.device != "cuda" else []) + (
        ["cuda"] if args.device != "cpu" and gpu != "none" else [])
    results = {}
    for device in devices:
        results[device, "exercise"] = workload("the exercise", patches, 25, iterations,
                                               ("float32", "float64"), device)
        results[device, "mnist"] = workload("MNIST-sized", mnist, 196,
                                            20 if args.quick else 400, ("float32",), device)
        scaling(device, args.quick)
        bfloat16(device, mnist, 20 if args.quick else 100)
    if "cuda" in devices:
        large("cuda", 5 if args.quick else 50, m=100_000 if args.quick else 1_000_000)
    elif args.quick:  # the same code on the CPU, small, so that a smoke run exercises it
        large("cpu", 3, m=4000, numpy_rows=2000)
    if "cpu" in devices:
        distributed(20 if args.quick else 100)
    return results


if __name__ == "__main__":
    main()
