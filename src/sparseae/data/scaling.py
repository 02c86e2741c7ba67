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

from .images import normalize_patches


class UnitScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale all values to [0, 1] with one global minimum and maximum."""

    def partial_fit(self, X, y=None):
        low, high = float(np.min(X)), float(np.max(X))
        self.data_min_ = min(low, getattr(self, "data_min_", low))
        self.data_max_ = max(high, getattr(self, "data_max_", high))
        return self

    def fit(self, X, y=None):
        for name in ("data_min_", "data_max_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(X)

    def transform(self, X):
        span = self.data_max_ - self.data_min_
        return (np.asarray(X) - self.data_min_) / (span if span > 0 else 1.0)


class PatchNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """UFLDL's patch normalisation: remove each row's mean, clip at +/-3 standard deviations of
    all centred values (learned in ``fit``), rescale to [0.1, 0.9]."""

    def partial_fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        centered = X - X.mean(axis=1, keepdims=True)
        self.sum_squares_ = getattr(self, "sum_squares_", 0.0) + float(np.vdot(centered, centered))
        self.count_ = getattr(self, "count_", 0) + centered.size
        # each centred row sums to zero, so the mean of all centred values is zero
        self.limit_ = 3.0 * np.sqrt(self.sum_squares_ / self.count_)
        return self

    def fit(self, X, y=None):
        for name in ("sum_squares_", "count_", "limit_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(X)

    def transform(self, X):
        return normalize_patches(np.asarray(X, dtype=np.float64), self.limit_)


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
