"""Fits that test_distributed.py runs, once alone and once under torchrun: rank 0 writes their
loss curves to the .npz named on the command line."""

import os
import sys
import warnings

import numpy as np

from sparseae import SparseAutoencoder
from sparseae.data import Rows, image_patches

FITS = {  # name: settings
    "lbfgs_numpy": dict(solver="lbfgs", max_iter=60, reproducible=True),
    "lbfgs_torch": dict(solver="lbfgs", max_iter=60, reproducible=True, device="cpu"),
    "lbfgs_plain": dict(solver="lbfgs", max_iter=10),
    "adam_torch": dict(solver="adam", max_iter=2, batch_size=100, device="cpu"),
}


def main(out, distributed):
    warnings.simplefilter("ignore")
    X = image_patches("natural", 1000, random_state=0)
    curves = {}
    for name, settings in FITS.items():
        model = SparseAutoencoder(10, distributed=distributed, random_state=0, **settings)
        curves[name] = np.array(model.fit(X).loss_curve_)
        curves[name + "_W1"] = model.W1_
    if int(os.environ.get("RANK", "0")) == 0:
        np.savez(out, **curves)


def unseeded_and_mismatched(out):
    """Each process writes the weights of a fit without a seed, the error of a fit on data
    that differ from rank to rank, and where a fit stopped that rank 1 alone asked to stop, to
    ``out``-RANK.npz."""
    warnings.simplefilter("ignore")
    rank = int(os.environ["RANK"])
    X = image_patches("natural", 200, random_state=0)
    W1 = SparseAutoencoder(5, max_iter=3, distributed=True).fit(X).W1_
    errors = []
    for bad in (X[rank:], with_nan(X, 130), with_nan(X, 199)):
        try:
            SparseAutoencoder(5, max_iter=3, distributed=True).fit(bad)
            errors.append("")
        except ValueError as err:
            errors.append(str(err))
    outside = X.copy()
    outside[150:] *= 3  # beyond the sigmoid decoder's reach, in rank 1's part only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SparseAutoencoder(5, max_iter=3, distributed=True).fit(Rows(outside))
    polls = []

    def stop():  # rank 1's third poll (a Ctrl-C there)
        polls.append(rank)
        return polls.count(1) == 3

    stopped = SparseAutoencoder(5, max_iter=20, distributed=True, random_state=0).fit(
        X, should_stop=stop)
    np.savez(f"{out}-{rank}.npz", W1=W1, errors=errors,
             warnings=[str(w.message) for w in caught],
             stopped=[stopped.n_iter_, stopped.interrupted_])


def with_nan(X, row):
    """``X`` with a NaN at ``row``, column 2, as ``Rows``: checked in each process's part, as
    a file is (an array is checked whole before it is shared out)."""
    X = X.copy()
    X[row, 2] = np.nan
    return Rows(X)


def one_process_fails(out):
    """Rank 0 fails in the middle of a fit (its callback raises at iteration 3) and exits as a
    process does after an error; rank 1 writes the error its next exchange got to
    ``out``-1.txt, as its type's name and message on two lines."""
    warnings.simplefilter("ignore")
    rank = int(os.environ["RANK"])
    X = image_patches("natural", 200, random_state=0)

    def fail(iteration, cost):
        if rank == 0 and iteration == 3:
            raise OSError("rank 0's own error")

    try:
        SparseAutoencoder(5, max_iter=50, distributed=True, random_state=0,
                          callback=fail).fit(X)
    except Exception as err:  # (rank 0 exits with status 0: torchrun leaves rank 1 running)
        if rank == 1:
            with open(f"{out}-1.txt", "w") as f:
                f.write(f"{type(err).__name__}\n{err}")


if __name__ == "__main__":
    if sys.argv[2] == "checks":
        unseeded_and_mismatched(sys.argv[1])
    elif sys.argv[2] == "fails":
        one_process_fails(sys.argv[1])
    else:
        main(sys.argv[1], sys.argv[2] == "distributed")
