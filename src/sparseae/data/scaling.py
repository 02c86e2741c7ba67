"""Feature scaling that can be fitted in one streamed pass (``partial_fit``) and applied chunk
by chunk, so it works on data larger than memory.

- ``unit``: the whole array to [0, 1] (one minimum and maximum for all features: pixels stay
  comparable);
- ``minmax``: each feature to [0, 1] (scikit-learn's ``MinMaxScaler``);
- ``standardize``: each feature to mean 0, variance 1 (scikit-learn's ``StandardScaler``);
- ``patch``: the tutorial's patch normalisation (``PatchNormalizer``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ..guard import unchanged_on_failure
from .images import centered_patches, normalize_patches
from .rows import check_span, validated, value_range


class _Streamed(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The input checks of a scaler fitted by ``partial_fit`` on chunks (shape, width, NaN and
    infinity, with ``value_range``'s error), each chunk then taken in by ``_add``. A fit that
    raises leaves the scaler as it was (``unchanged_on_failure``): not with the width of data
    it refused, nor without an earlier fit."""

    _fitted: tuple[str, ...] = ()
    _dtypes = (np.float64, np.float32)

    @unchanged_on_failure
    def fit(self, X, y=None):
        for name in (*self._fitted, "n_features_in_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(X)

    @unchanged_on_failure
    def partial_fit(self, X, y=None):
        self._add(validated(self, X, dtype=self._dtypes,
                            reset=not hasattr(self, "n_features_in_")))
        return self

    def _transforming(self, X):
        check_is_fitted(self)
        return validated(self, X, dtype=self._dtypes, reset=False)


class UnitScaler(_Streamed):
    """Scale all values to [0, 1] with one global minimum and maximum."""

    _fitted = ("data_min_", "data_max_")
    _spans = True  # (values spanning more than float64 holds are refused: rows.check_span)

    def _add(self, X):
        low, high = value_range(X)
        low = min(low, getattr(self, "data_min_", low))
        high = max(high, getattr(self, "data_max_", high))
        check_span(low, high, self)
        self.data_min_, self.data_max_ = low, high
        return self

    def transform(self, X):
        X = self._transforming(X)
        span = self.data_max_ - self.data_min_
        return (X - self.data_min_) / (span if span > 0 else 1.0)


class PatchNormalizer(_Streamed):
    """UFLDL's patch normalisation: remove each row's mean, clip at +/-3 standard deviations of
    all centred values (learned in ``fit``), rescale to [0.1, 0.9]."""

    _fitted = ("sum_squares_", "count_", "limit_")
    _dtypes = np.float64
    _sums_squares = True  # (values beyond 1e150 are refused: rows.check_squares)

    def _add(self, X):
        centered = centered_patches(X)
        self.sum_squares_ = getattr(self, "sum_squares_", 0.0) + float(np.vdot(centered, centered))
        self.count_ = getattr(self, "count_", 0) + centered.size
        # each centred row sums to zero, so the mean of all centred values is zero
        self.limit_ = 3.0 * np.sqrt(self.sum_squares_ / self.count_)
        return self

    def transform(self, X):
        return normalize_patches(self._transforming(X), self.limit_)


SCALERS = {
    "none": None,
    "unit": UnitScaler,
    "minmax": MinMaxScaler,
    "standardize": StandardScaler,
    "patch": PatchNormalizer,
}


def make_scaler(name: str):
    """A new, unfitted scaler called ``name`` (None for ``"none"``)."""
    if name not in SCALERS:
        raise ValueError(f"unknown scaling {name!r}; choose one of {list(SCALERS)}")
    cls = SCALERS[name]
    return None if cls is None else cls()
