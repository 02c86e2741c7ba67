"""PCA, PCA whitening and ZCA whitening, as in UFLDL's "PCA and whitening" chapter.

With ``Sigma = 1/m sum_i (x_i - mu)(x_i - mu)^T = U diag(lambda) U^T`` (eigenvalues descending):

    PCA            x_rot   = U_k^T (x - mu)                           k components kept
    PCA whitening  x_white = diag(1 / sqrt(lambda_k + eps)) U_k^T (x - mu)
    ZCA whitening  x_zca   = U diag(1 / sqrt(lambda + eps)) U^T (x - mu)   all components

``k`` is the smallest number of components that retains ``retain_variance`` of the variance
(99% by default) unless ``n_components`` is given; ``eps`` (0.1 by default) regularises the
small eigenvalues, which are mostly noise, so whitening does not blow them up.

The covariance is accumulated with ``partial_fit`` one chunk at a time, so these fit on data
larger than memory; ``fit`` on an array is one such chunk. They are scikit-learn transformers and
can stand in a ``Pipeline`` before a ``SparseAutoencoder``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
)
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .data.rows import check_squares, finite, on_host, validated
from .guard import unchanged_on_failure


class _Eigenbasis(TransformerMixin, BaseEstimator):
    """The streamed covariance and its eigendecomposition, shared by the three transforms.
    A fit that raises leaves the transform as it was (``unchanged_on_failure``): never a new
    mean beside an old whitening matrix."""

    _sums_squares = True  # (values beyond 1e150 are refused: rows.check_squares)

    @unchanged_on_failure
    def partial_fit(self, X, y=None):
        self._check_params()
        self._accumulate(X)
        self._decompose()
        return self

    def fit(self, X, y=None):
        return self.fit_chunks([X])

    @unchanged_on_failure
    def fit_chunks(self, chunks):
        """Fit on the row blocks ``chunks`` yields (data larger than memory): their sums one at
        a time, then one decomposition. ``partial_fit`` on each would decompose after every
        chunk, which costs more than the chunk (784 features: 87 ms, against 24 ms for the
        sums of a 16 MiB chunk)."""
        self._check_params()  # (before reading the data)
        for name in ("n_samples_seen_", "shift_", "_sum", "_outer"):
            self.__dict__.pop(name, None)
        for X in chunks:
            self._accumulate(X)
        if not hasattr(self, "n_samples_seen_"):
            raise ValueError("no rows to fit on: the chunks were empty")
        self._decompose()
        return self

    def _accumulate(self, X):
        first = not hasattr(self, "n_samples_seen_")
        if not first and not hasattr(self, "_outer"):
            raise ValueError(f"this {type(self).__name__} was loaded from a file and can only "
                             "transform; fit a new one to go on fitting")
        X = validated(self, X, dtype=np.float64, reset=first)
        check_squares(X.min(initial=0.0), X.max(initial=0.0), self)
        if first:
            self.shift_ = X.mean(axis=0)  # accumulating around a shift keeps the sums accurate
            self._sum = np.zeros(X.shape[1])
            self._outer = np.zeros((X.shape[1], X.shape[1]))
            self.n_samples_seen_ = 0
        D = X - self.shift_
        self._sum += D.sum(axis=0)
        self._outer += D.T @ D
        self.n_samples_seen_ += X.shape[0]

    def _check_params(self):
        """Clear errors for parameters out of range, before any data is read."""
        eps = getattr(self, "epsilon", 0.0)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 <= eps < np.inf:
            raise ValueError(f"epsilon must be >= 0 and finite, got {eps!r}")
        n_components = getattr(self, "n_components", None)
        if n_components is not None and (not isinstance(n_components, numbers.Integral)
                                         or isinstance(n_components, bool) or n_components < 1):
            raise ValueError(f"n_components must be a whole number of at least 1, got "
                             f"{n_components!r}")
        retain = getattr(self, "retain_variance", 1.0)
        if isinstance(retain, bool) or not isinstance(retain, numbers.Real) or not 0 < retain <= 1:
            raise ValueError(f"retain_variance must be in (0, 1], got {retain!r}")

    def _decompose(self):
        """The eigendecomposition of the covariance and the transform's own fitted arrays
        (``_fitted``), all set at once when none of them failed."""
        m = self.n_samples_seen_
        mean_shift = self._sum / m
        covariance = self._outer / m - np.outer(mean_shift, mean_shift)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1]
        variance = np.maximum(eigenvalues[order], 0.0)
        total = variance.sum()
        fitted = {"mean_": self.shift_ + mean_shift, "covariance_": covariance,
                  "explained_variance_": variance,
                  "eigenvectors_": eigenvectors[:, order],  # columns: U
                  "explained_variance_ratio_": variance / (total if total > 0 else 1.0)}
        fitted.update(self._fitted(fitted))
        self.__dict__.update(fitted)

    def _n_kept(self, fitted: dict) -> int:
        n_components, n = getattr(self, "n_components", None), len(fitted["explained_variance_"])
        if n_components is not None:
            if n_components > n:
                raise ValueError(f"n_components must be in [1, {n}], got {n_components}")
            return int(n_components)
        cumulative = np.cumsum(fitted["explained_variance_ratio_"])
        return int(min(np.searchsorted(cumulative, self.retain_variance - 1e-12) + 1, n))

    def _inverse_scales(self, variances):
        """``1 / sqrt(variances + epsilon)``, or a clear error where that divides by zero:
        where it is below the eigendecomposition's rounding, ``n_features * eps`` of the largest
        (``numpy.linalg.matrix_rank``'s tolerance). A direction of no variance comes out of
        ``eigh`` as a few ``eps`` of the largest, not as 0: with a tolerance of one ``eps`` it
        was whitened in about a tenth of the data sets with a feature that repeats another,
        multiplying that direction of new data by about 1e7."""
        variances = variances + self.epsilon
        tolerance = self.n_features_in_ * np.finfo(float).eps
        if variances.min() <= tolerance * max(variances.max(), 1e-300):
            raise ValueError(
                "the data has a direction of no variance (fewer samples than features, or "
                "features that repeat one another); whitening it divides by zero: use "
                "epsilon > 0")
        return 1.0 / np.sqrt(variances)

    def _input(self, X):
        """``X`` checked as the input of ``inverse_transform``: as many columns as ``transform``
        gives, the rows of its matrix (``_matrix``)."""
        check_is_fitted(self)
        width = self._matrix().shape[0]
        X = finite(check_array(on_host(X), dtype=np.float64, ensure_all_finite=False))
        if X.shape[1] != width:
            raise ValueError(f"X has {X.shape[1]} columns; {type(self).__name__}."
                             f"inverse_transform takes {width}")
        return X

    def _centered(self, X):
        check_is_fitted(self)
        return validated(self, X, dtype=np.float64, reset=False) - self.mean_

    def transform(self, X):
        """``T (x - mean_)`` for each row ``x``, ``T`` the transform's matrix (``_matrix``)."""
        return self._centered(X) @ self._matrix().T

    def input_filters(self, W):
        """The rows of ``W``, weights on this transform's output, as weights on its input: a
        unit that computes ``W[j] . transform(x)`` computes ``(W T)[j] . (x - mean_)``, with
        ``T`` the transform's matrix. UFLDL shows the filters of whitened data this way
        (``W * ZCAWhite``)."""
        check_is_fitted(self)
        T = self._matrix()
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2 or W.shape[1] != T.shape[0]:
            raise ValueError(f"W has shape {W.shape}; {type(self).__name__}.input_filters takes "
                             f"(n_units, {T.shape[0]}), weights on its {T.shape[0]} outputs")
        return W @ T


class PCA(ClassNamePrefixFeaturesOutMixin, _Eigenbasis):
    """Rotate into the principal axes and keep the components retaining ``retain_variance``."""

    def __init__(self, retain_variance=0.99, n_components=None):
        self.retain_variance = retain_variance
        self.n_components = n_components

    def _fitted(self, fitted):
        k = self._n_kept(fitted)
        return {"n_components_": k, "components_": fitted["eigenvectors_"][:, :k].T}

    @property
    def _n_features_out(self):
        return self.n_components_

    def _matrix(self):
        return self.components_

    def inverse_transform(self, X):
        return self._input(X) @ self.components_ + self.mean_


class PCAWhitening(ClassNamePrefixFeaturesOutMixin, _Eigenbasis):
    """PCA, then each kept component scaled to (nearly) unit variance."""

    def __init__(self, retain_variance=0.99, epsilon=0.1, n_components=None):
        self.retain_variance = retain_variance
        self.epsilon = epsilon
        self.n_components = n_components

    def _fitted(self, fitted):
        k = self._n_kept(fitted)
        scale = self._inverse_scales(fitted["explained_variance_"][:k])
        return {"n_components_": k,
                "components_": fitted["eigenvectors_"][:, :k].T * scale[:, None]}

    @property
    def _n_features_out(self):
        return self.n_components_

    def _matrix(self):
        return self.components_

    def inverse_transform(self, X):
        """Back to the input's axes: ``x ~ U_k diag(sqrt(lambda_k + eps)) x_white + mu``,
        without the dropped components (as ``PCA.inverse_transform``). The rows of
        ``components_`` are ``u_j / sqrt(lambda_j + eps)``, orthogonal, so this is
        ``x_white components_`` with each row divided by its squared norm: the fitted eps, not
        the ``epsilon`` of a later ``set_params``."""
        X = self._input(X)
        squared = np.einsum("ij,ij->i", self.components_, self.components_)
        return X @ (self.components_ / squared[:, None]) + self.mean_


class ZCAWhitening(OneToOneFeatureMixin, _Eigenbasis):
    """PCA whitening with every component, rotated back to the input's axes: the whitened data
    stays closest to the original (for images, it still looks like the image)."""

    def __init__(self, epsilon=0.1):
        self.epsilon = epsilon

    def _fitted(self, fitted):
        U = fitted["eigenvectors_"]
        return {"whitening_": (U * self._inverse_scales(fitted["explained_variance_"])) @ U.T}

    def _matrix(self):
        return self.whitening_.T  # symmetric, up to rounding; transform(x) is (x - mu) whitening_

    def inverse_transform(self, X):
        """``x ~ U diag(sqrt(lambda + eps)) U^T x_zca + mu``, with ``1 / sqrt(lambda_j + eps)``
        read off ``whitening_`` as ``u_j^T whitening_ u_j``: the fitted eps, not the
        ``epsilon`` of a later ``set_params``."""
        X = self._input(X)
        U = self.eigenvectors_
        scales = np.einsum("ij,ik,kj->j", U, self.whitening_, U)
        return X @ ((U / scales) @ U.T) + self.mean_


WHITENINGS = {"pca": PCA, "pca-white": PCAWhitening, "zca": ZCAWhitening}


def make_whitening(name: str, *, retain_variance: float = 0.99, epsilon: float = 0.1):
    """A new, unfitted transform: ``pca``, ``pca-white`` or ``zca``."""
    if name == "pca":
        return PCA(retain_variance)
    if name == "pca-white":
        return PCAWhitening(retain_variance, epsilon)
    if name == "zca":
        return ZCAWhitening(epsilon)
    raise ValueError(f"unknown whitening {name!r}; choose one of {list(WHITENINGS)}")
