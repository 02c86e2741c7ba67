"""sparseae: sparse autoencoders as in the UFLDL tutorial, with exact, checked gradients."""

from .estimator import SparseAutoencoder
from .io import ModelFileError, load, save

__all__ = ["SparseAutoencoder", "load", "save", "ModelFileError"]
__version__ = "0.1.0"
