"""Which solver reaches the lowest exact cost for the same wall time, on the tutorial's patches.

Every solver trains the 64-25-64 autoencoder (rho 0.01, lambda 1e-4, beta 3) on the built-in
10000 patches from the same initial weights until a wall-clock deadline, then the exact
full-batch objective is evaluated at its parameters.

    python benchmarks/solvers.py                 # 10 s each
    python benchmarks/solvers.py --quick         # 1 s each
"""

from __future__ import annotations

import argparse
import time
import warnings

CONFIGS = {
    "lbfgs": {"solver": "lbfgs"},
    "gd (lr 0.1, momentum 0.9)": {"solver": "gd"},
    "sgd (batch 256, lr 0.03, momentum 0.9)": {"solver": "sgd"},
    "adam (batch 256, lr 0.01)": {"solver": "adam"},
    "adam (batch 256, running rho_hat)": {"solver": "adam", "rho_estimate": "running"},
    "adam (batch 1000, lr 0.01)": {"solver": "adam", "batch_size": 1000},
}


def _deadline(at: float):
    return lambda: time.perf_counter() > at


def main(argv=None) -> dict:
    from sparseae import SparseAutoencoder
    from sparseae.data import image_patches

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 second per solver")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 10.0)

    X = image_patches("natural", 10000, 8, random_state=0)
    results = {}
    for name, config in CONFIGS.items():
        model = SparseAutoencoder(25, max_iter=100_000, random_state=0, **config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X, should_stop=_deadline(start + seconds))
            elapsed = time.perf_counter() - start
        results[name] = {"cost": model.cost(X), "iterations": model.n_iter_,
                         "seconds": elapsed, "rho_hat": float(model.rho_hat_.mean())}
    best = min(r["cost"] for r in results.values())
    print(f"exact cost after {seconds:g} s of training (10000 patches, 64-25-64):")
    print(f"{'solver':<42} {'cost':>8} {'/ best':>7} {'iterations':>11} {'mean rho_hat':>13}")
    for name, r in results.items():
        print(f"{name:<42} {r['cost']:8.4f} {r['cost'] / best:7.3f} {r['iterations']:>11} "
              f"{r['rho_hat']:13.4f}")
    return results


if __name__ == "__main__":
    main()
