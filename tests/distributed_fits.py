"""Fits that test_distributed.py runs, once alone and once under torchrun: rank 0 writes their
loss curves to the .npz named on the command line."""

import os
import sys
import warnings

import numpy as np

from sparseae import SparseAutoencoder
from sparseae.data import image_patches

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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "distributed")
