"""sparseae: sparse autoencoders as in the UFLDL tutorial, with exact, checked gradients."""

from .classifier import NetworkClassifier, SoftmaxRegression, StackedAutoencoderClassifier
from .estimator import SparseAutoencoder
from .io import ModelFileError, load, load_preprocessing, save, save_preprocessing

__all__ = ["SparseAutoencoder", "SoftmaxRegression", "NetworkClassifier",
           "StackedAutoencoderClassifier", "load", "save", "ModelFileError", "load_preprocessing",
           "save_preprocessing"]
__version__ = "0.1.0"
