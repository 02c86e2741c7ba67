"""sparseae: sparse autoencoders as in the UFLDL tutorial, with exact, checked gradients."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .classifier import NetworkClassifier, SoftmaxRegression, StackedAutoencoderClassifier
    from .estimator import SparseAutoencoder
    from .io import ModelFileError, load, load_preprocessing, save, save_preprocessing

# the public names and their modules, imported on first use: scikit-learn and SciPy take over a
# second to import, which ``sparseae --help`` and ``--version`` need not wait for
_EXPORTS = {
    "SparseAutoencoder": "estimator",
    "SoftmaxRegression": "classifier",
    "NetworkClassifier": "classifier",
    "StackedAutoencoderClassifier": "classifier",
    "load": "io",
    "save": "io",
    "ModelFileError": "io",
    "load_preprocessing": "io",
    "save_preprocessing": "io",
}
__all__ = ["SparseAutoencoder", "SoftmaxRegression", "NetworkClassifier",
           "StackedAutoencoderClassifier", "load", "save", "ModelFileError", "load_preprocessing",
           "save_preprocessing"]  # the keys of _EXPORTS
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
