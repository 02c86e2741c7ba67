"""The ``sparseae`` command: parses arguments, calls the library, writes a run folder."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

from . import __version__

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .activations import DECODERS, HIDDEN_ACTIVATIONS
    from .data import BUILTIN
    from .estimator import DTYPES
    from .objective import PENALTIES
    from .params import INITS
    from .solvers import SOLVERS

    parser = argparse.ArgumentParser(
        prog="sparseae",
        description="Learn sparse features with the UFLDL sparse autoencoder.",
        epilog="Run 'sparseae COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"sparseae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    train = commands.add_parser(
        "train", formatter_class=fmt,
        help="train an autoencoder and write a run folder",
        description="Train a sparse autoencoder on image patches. With no options this is the "
        "UFLDL exercise: 10000 8x8 patches of whitened natural images, 64-25-64, rho 0.01, "
        "lambda 1e-4, beta 3, 400 L-BFGS iterations. Writes model.npz, filters.png, loss.png, "
        "reconstructions.png and metrics.json into the run folder.",
    )
    data = train.add_argument_group("data")
    data.add_argument("--data", default="natural", metavar="SOURCE",
                      help=f"built-in images ({', '.join(BUILTIN)}) or a path: a .mat file "
                      "with an H x W x K image stack, an image file, or a folder of images")
    data.add_argument("--variable", default=None,
                      help="name of the image stack inside a .mat file holding several arrays")
    data.add_argument("--patches", type=_positive_int, default=10000,
                      help="number of random patches to sample")
    data.add_argument("--patch-size", type=_positive_int, default=8, help="patch side in pixels")
    data.add_argument("--prewhiten", action=argparse.BooleanOptionalAction, default=None,
                      help="whiten the images as Olshausen and Field did before sampling "
                      "(default: on for photographs, off for .mat stacks, which the tutorial's "
                      "IMAGES.mat already are)")

    model = train.add_argument_group("model")
    model.add_argument("--n-hidden", type=_positive_int, default=25, help="hidden units")
    model.add_argument("--sparsity-target", type=float, default=0.01, metavar="RHO",
                       help="desired mean activity rho of each hidden unit, in (0, 1)")
    model.add_argument("--sparsity-weight", type=float, default=3.0, metavar="BETA",
                       help="weight beta of the sparsity penalty")
    model.add_argument("--weight-decay", type=float, default=1e-4, metavar="LAMBDA",
                       help="weight decay lambda (biases are not decayed)")
    model.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                       help="hidden units (tanh units count as inhibited at -1)")
    model.add_argument("--sparsity", choices=tuple(PENALTIES), default="kl",
                       help="sparsity penalty: KL divergence or L1 of the activities")
    model.add_argument("--decoder", choices=DECODERS, default="sigmoid", help="output units")
    model.add_argument("--init", choices=INITS, default="ufldl", help="weight initialisation")

    fit = train.add_argument_group("training")
    fit.add_argument("--solver", choices=tuple(SOLVERS), default="lbfgs", help="optimizer")
    fit.add_argument("--max-iter", type=_positive_int, default=400, help="solver iterations")
    fit.add_argument("--dtype", choices=DTYPES, default="float64", help="arithmetic precision")
    fit.add_argument("--threads", type=_positive_int, default=None,
                     help="BLAS threads (default: 1 for small problems, all cores for large)")
    fit.add_argument("--seed", type=int, default=0,
                     help="seed of the patch sampling and the initial weights")

    out = train.add_argument_group("output")
    out.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="run folder (default: runs/<date>-<time>)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")

    check = commands.add_parser(
        "gradcheck", formatter_class=fmt,
        help="check every gradient against central differences",
        description="Compare the hand-written gradient with central differences for every "
        "activation x sparsity penalty x decoder on a small random problem in float64, one row "
        "each. Exits with status 1 if any relative difference reaches the tolerance.",
    )
    check.add_argument("--n-features", type=_positive_int, default=16)
    check.add_argument("--n-hidden", type=_positive_int, default=6)
    check.add_argument("--samples", type=_positive_int, default=10)
    check.add_argument("--eps", type=float, default=1e-4, help="finite-difference step")
    check.add_argument("--tolerance", type=float, default=1e-9,
                       help="largest relative difference that passes")
    check.add_argument("--seed", type=int, default=0)
    return parser


def train(args) -> int:
    import numpy as np

    from . import data, viz
    from .estimator import SparseAutoencoder

    X = data.image_patches(
        args.data, args.patches, args.patch_size,
        prewhiten=args.prewhiten, variable=args.variable, random_state=args.seed,
    )
    model = SparseAutoencoder(
        args.n_hidden,
        sparsity_target=args.sparsity_target,
        sparsity_weight=args.sparsity_weight,
        weight_decay=args.weight_decay,
        activation=args.activation,
        sparsity=args.sparsity,
        decoder=args.decoder,
        solver=args.solver,
        max_iter=args.max_iter,
        init=args.init,
        dtype=args.dtype,
        n_threads=args.threads,
        random_state=args.seed,
        verbose=not args.quiet,
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    seconds = time.perf_counter() - start
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)

    run = args.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run.mkdir(parents=True, exist_ok=True)
    model.save(run / "model.npz")
    viz.save_loss_curve(run / "loss.png", model.loss_curve_)
    if viz.is_square(X.shape[1]):
        viz.save_filters(run / "filters.png", model.W1_)
        viz.save_reconstructions(run / "reconstructions.png", X, model.reconstruct(X[:20]))
    metrics = {
        "final_cost": model.loss_,
        "mean_hidden_activation": float(np.mean(model.rho_hat_)),
        "sparsity_target": args.sparsity_target,
        "iterations": model.n_iter_,
        "seconds": round(seconds, 3),
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_hidden": args.n_hidden,
        "data": str(args.data),
        "settings": {k: v for k, v in vars(args).items() if k not in ("command", "func", "out")},
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    print(
        f"trained {X.shape[1]}-{args.n_hidden}-{X.shape[1]} on {X.shape[0]} samples: "
        f"cost {model.loss_:.6g}, mean activation {metrics['mean_hidden_activation']:.4g}, "
        f"{model.n_iter_} iterations in {seconds:.1f} s"
    )
    print(f"run folder: {run}")
    return 0


def gradcheck(args) -> int:
    from .gradcheck import check_variants

    rows = check_variants(args.n_features, args.n_hidden, args.samples, args.seed, args.eps)
    print(f"{'activation':<10} {'sparsity':<8} {'decoder':<8} {'relative difference':>20}")
    failed = 0
    for row in rows:
        ok = row["relative_difference"] < args.tolerance
        failed += not ok
        print(f"{row['activation']:<10} {row['sparsity']:<8} {row['decoder']:<8} "
              f"{row['relative_difference']:>20.3e}  {'ok' if ok else 'FAIL'}")
    print(f"{len(rows) - failed} passed, {failed} failed (tolerance {args.tolerance:g}, "
          f"eps {args.eps:g}, float64)")
    return 1 if failed else 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    command = {"train": train, "gradcheck": gradcheck}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print("sparseae: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as err:
        print(f"sparseae: error: {err}", file=sys.stderr)
        return EXIT_USAGE
