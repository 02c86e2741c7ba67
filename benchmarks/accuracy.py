"""The numerical figures the README cites, measured: the error of NumPy's sigmoid, the gradient
check at nearly silent units and on a 784-196 problem, where the torch backend's float64 cost
parts from NumPy's, and --reproducible with adam on 1 and 2 processes.

Each part prints the figure beside the README's. Accuracy, not speed: the machine's load changes
nothing but the 784-196 check's time.

- NumPy's sigmoid ``(1 + tanh(z/2)) / 2`` against ``1 / (1 + exp(-z))`` in ``np.longdouble``
  (x86's 80-bit format: 11 more bits), its largest error over z in [-40, 40], with scipy's
  expit beside it;
- the gradient check of ``sparseae gradcheck``'s small problem (sigmoid, kl, sigmoid; 16-6-16,
  10 rows, seed 0) with the default sparsity target 0.01, its first hidden unit's bias moved so
  that the unit's mean activation is 4e-7, then 3e-9;
- a tanh unit below float64's resolution near -1: one SGD epoch (batch 100, seed 0) on 2000 of
  the built-in patches, 64-10-64; the cost and gradient there on NumPy with 1 and 2 threads and
  on PyTorch (CPU);
- a sigmoid unit of tiny mean activity: ten gd steps at the default learning rate, which
  overshoot (1000 patches, 64-10-64, seed 0); NumPy's mean activity against scipy's expit, and
  the costs on NumPy and on PyTorch;
- adam for 3 epochs (20000 patches, 64-10-64, batch 100, seed 0) with ``reproducible=True`` under
  torchrun on 1 and on 2 CPU processes (gloo, one thread each): the weights' difference, on
  NumPy and on PyTorch (more rows than two reproducible blocks, 512 and 1024 rows here, so that
  both processes get some; with fewer than one, the first process gets none and the runs are
  trivially the same);
- ``check_variants(784, 196, coordinates=200)``, what ``sparseae gradcheck --n-features 784
  --n-hidden 196 --coordinates 200`` runs: the largest relative difference and its time.

    python benchmarks/accuracy.py            # everything (2 to 3 minutes on 2 cores)
    python benchmarks/accuracy.py --quick    # the 784-196 check on 20 coordinates per variant
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(a)))


def sigmoid_error(points):
    """README: NumPy's sigmoid has 'an absolute error of about 6e-17' ('exact to 1e-16
    absolute, not relative')."""
    from scipy.special import expit

    from sparseae.backend import NumpyOps

    z = np.linspace(-40.0, 40.0, points)
    exact = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    errors = {"NumPy's": np.abs(NumpyOps.sigmoid_(z.copy()) - exact),
              "scipy's expit": np.abs(expit(z) - exact)}
    low, tiny = exact < 0.5, exact < 1e-3
    print(f"The sigmoid against 1 / (1 + exp(-z)) in long double, {points} z in [-40, 40] "
          "(README: NumPy's (1 + tanh(z/2)) / 2 has an absolute error of about 6e-17, 1e-16):")
    print(f"  {'':<14} {'absolute, a < 1/2':>18} {'absolute, a >= 1/2':>19} "
          f"{'relative, a < 1e-3':>19}")
    for name, error in errors.items():
        print(f"  {name:<14} {float(error[low].max()):18.1e} {float(error[~low].max()):19.1e} "
              f"{float((error / exact)[tiny].max()):19.1e}")


def silent_gradcheck():
    """README: central differences at a nearly silent unit come near 1e-9, then miss it
    (7.4e-10 at a mean activation of 4e-7, 1.0e-7 at 3e-9)."""
    from scipy.optimize import brentq
    from scipy.special import expit

    from sparseae import gradcheck, objective, params

    rng = np.random.default_rng(0)  # the problem of check_variants(), drawn in its order
    X = rng.uniform(0.1, 0.9, size=(10, 16))
    W1, _, W2, _ = params.initialize(16, 6, rng)
    b1, b2 = rng.normal(0, 0.1, 6), rng.normal(0, 0.1, 16)
    fun = objective.flat_cost_and_grad(X, objective.Spec(), 6)
    z = X @ W1[0]
    print("\nThe gradient check at a nearly silent unit: gradcheck's small problem (sigmoid, "
          "kl, sigmoid), rho 0.01, hidden unit 0's bias moved (README: 7.4e-10 at 4e-7, 1.0e-7 "
          "at 3e-9):")
    print(f"  {'mean activation':>15} {'order 4':>9} {'order 2':>9}")
    for target in (4e-7, 3e-9):
        b1[0] = brentq(lambda b, t=target: np.log(expit(z + b).mean() / t), -60.0, 10.0)
        theta = params.pack(params.Params(W1, b1, W2, b2))
        rel = [gradcheck.check_gradient(fun, theta, order=order) for order in (4, 2)]
        print(f"  {target:15.0e} {rel[0]:9.1e} {rel[1]:9.1e}")


def tanh_near_minus_one():
    """README: at a tanh unit whose mean activity falls below float64's resolution near -1
    (after SGD) the torch backend's gradient parts from NumPy's (2e-3; the costs 4e-5), and
    NumPy on one and two threads agree to 1e-16."""
    from sparseae import SparseAutoencoder, params
    from sparseae.data import Rows, image_patches
    from sparseae.fitting import blas_threads
    from sparseae.objective import Spec
    from sparseae.training import Problem

    X = image_patches("natural", 2000, 8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SparseAutoencoder(10, activation="tanh", solver="sgd", max_iter=1,
                                  batch_size=100, random_state=0).fit(X)
    theta = params.pack(params.Params(model.W1_, model.b1_, model.W2_, model.b2_))
    activity = ((np.tanh(X @ model.W1_.T + model.b1_) + 1) / 2).mean(0)
    with blas_threads(1):
        runs = {name: Problem(Rows(X), Spec(activation="tanh"), 10, np.float64, **kwargs).full(
            theta) for name, kwargs in (("NumPy, 1 thread", {}), ("NumPy, 2 threads",
                                                                 {"threads": 2}))}
    runs["PyTorch (CPU)"] = Problem(Rows(X), Spec(activation="tanh"), 10, np.float64,
                                    device="cpu").full(theta)
    cost, grad = runs["NumPy, 1 thread"]
    print("\nA tanh unit near -1: one SGD epoch, 2000 patches, 64-10-64; the smallest mean "
          f"activity (a2 + 1) / 2 in NumPy is {activity.min():.1e}, the next "
          f"{np.sort(activity)[1]:.1e} (README: PyTorch's gradient 2e-3 off, "
          "its cost 4e-5, NumPy's threads 1e-16):")
    print(f"  {'against NumPy, 1 thread':<26} {'cost, relative':>15} {'gradient, relative':>19}")
    for name in ("NumPy, 2 threads", "PyTorch (CPU)"):
        print(f"  {name:<26} {abs(runs[name][0] - cost) / cost:15.1e} "
              f"{relative(grad, runs[name][1]):19.1e}")


def tiny_sigmoid_activity():
    """README: a mean activity of 1e-11 after ten overshooting gd steps, 6e-7 off in NumPy,
    exact on PyTorch, the costs 5e-9 apart."""
    import torch
    from scipy.special import expit

    from sparseae import SparseAutoencoder, params
    from sparseae.backend import NumpyOps
    from sparseae.data import Rows, image_patches
    from sparseae.objective import Spec
    from sparseae.training import Problem

    X = image_patches("natural", 1000, 8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SparseAutoencoder(10, solver="gd", max_iter=10, random_state=0).fit(X)
    theta = params.pack(params.Params(model.W1_, model.b1_, model.W2_, model.b2_))
    z = X @ model.W1_.T + model.b1_
    exact = expit(z).mean(0)
    j = exact.argmin()
    numpy_rho = NumpyOps.sigmoid_(z.copy()).mean(0)[j]
    torch_rho = torch.sigmoid(torch.from_numpy(z)).mean(0)[j].item()
    costs = [Problem(Rows(X), Spec(), 10, np.float64, **kwargs).full(theta)[0]
             for kwargs in ({}, {"device": "cpu"})]
    print("\nA sigmoid unit of tiny mean activity: ten gd steps at the default learning rate, "
          "1000 patches, 64-10-64 (README: 1e-11, 6e-7 off in NumPy, exact on PyTorch, the "
          "costs 5e-9 apart):")
    print(f"  smallest mean activation {exact[j]:.1e} (scipy's expit); relative error of NumPy's "
          f"{abs(numpy_rho - exact[j]) / exact[j]:.1e}, of PyTorch's "
          f"{abs(torch_rho - exact[j]) / exact[j]:.1e}")
    print(f"  costs: NumPy {costs[0]:.10f}, PyTorch {costs[1]:.10f}, "
          f"{abs(costs[0] - costs[1]):.1e} apart ({abs(costs[0] - costs[1]) / costs[1]:.1e} "
          "relative)")


def adam_processes():
    """README: --reproducible with adam, the weights of 1 and 2 processes 3e-16 apart after 3
    epochs."""
    print("\nadam, reproducible=True, 3 epochs, 20000 patches, 64-10-64, batch 100, under "
          "torchrun on 1 and 2 CPU processes (README: 3e-16 apart):")
    print(f"  {'device':<7} {'largest |W1 difference|':>24} {'relative (norm)':>16} "
          f"{'largest |W2 difference|':>24}")
    with tempfile.TemporaryDirectory() as tmp:
        for device in ("numpy", "cpu"):
            weights = {}
            for nproc in (1, 2):
                out = Path(tmp) / f"{device}-{nproc}.npz"
                subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                f"--nproc_per_node={nproc}", __file__, "--worker", str(out),
                                device], check=True, capture_output=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
                weights[nproc] = np.load(out)
            one, two = weights[1], weights[2]
            print(f"  {device:<7} {np.abs(one['W1'] - two['W1']).max():24.1e} "
                  f"{relative(one['W1'], two['W1']):16.1e} "
                  f"{np.abs(one['W2'] - two['W2']).max():24.1e}")


def worker(out, device):
    """One process of ``adam_processes``: rank 0 saves the weights."""
    from sparseae import SparseAutoencoder
    from sparseae.data import image_patches

    warnings.simplefilter("ignore")
    X = image_patches("natural", 20000, 8, random_state=0)
    model = SparseAutoencoder(10, solver="adam", max_iter=3, batch_size=100, device=device,
                              distributed=True, reproducible=True, random_state=0).fit(X)
    if int(os.environ["RANK"]) == 0:
        np.savez(out, W1=model.W1_, W2=model.W2_)


def large_gradcheck(coordinates):
    """README: gradcheck on 784-196 with 200 coordinates gives 'a few 1e-10' in 'about 30 s'."""
    from sparseae.gradcheck import check_variants

    start = time.perf_counter()
    rows = check_variants(784, 196, coordinates=coordinates)
    seconds = time.perf_counter() - start
    print(f"\ngradcheck on 784-196, {coordinates} coordinates per variant, order 4 (README: a few "
          f"1e-10, about 30 s):")
    for row in rows:
        print(f"  {row['activation']:<8} {row['sparsity']:<4} {row['decoder']:<8} "
              f"{row['relative_difference']:.1e}")
    print(f"  largest {max(row['relative_difference'] for row in rows):.1e}, {seconds:.0f} s "
          "(check_variants alone, without the command's start-up)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer points and coordinates, for a smoke run")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    sigmoid_error(200_001 if args.quick else 2_000_001)
    silent_gradcheck()
    if importlib.util.find_spec("torch") is None:
        print("\n(no PyTorch: pip install '.[bench]' for the torch backend's and the processes' "
              "figures)")
    else:
        tanh_near_minus_one()
        tiny_sigmoid_activity()
        adam_processes()
    large_gradcheck(20 if args.quick else 200)


if __name__ == "__main__":
    main()
