"""``Rows``: the samples to train on, in memory or in a memory-mapped ``.npy``, read in chunks.

A ``Rows`` is a sequence of samples with an optional fitted transform (scaling, whitening) applied
to each chunk as it is read, and optionally a subset of the underlying rows (a training or
held-out split). Whatever the storage, ``chunks`` yields the same row blocks every time it is
called, which is what the two-pass exact objective needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from sklearn.utils.validation import validate_data

from ..backend import is_tensor
from .npyfile import NpyFile

DEFAULT_CHUNK_BYTES = 16 * 2**20


class Rows:
    """``image_shape`` is ``(height, width)`` when each sample (before the transforms) is an
    image, read row by row: a patch, or a whole image; None for other data."""

    def __init__(self, data, transforms=(), positions: np.ndarray | None = None,
                 image_shape: tuple[int, int] | None = None):
        if not isinstance(data, (np.ndarray, NpyFile)):
            raise TypeError(f"Rows holds a NumPy array or an NpyFile, not {type(data).__name__}")
        if isinstance(data, np.ndarray) and data.ndim != 2:
            raise ValueError(f"expected a 2-D array (n_samples, n_features), got {data.shape}")
        self.data = data
        self.transforms = tuple(transforms)
        self.positions = None if positions is None else np.asarray(positions, dtype=np.intp)
        self.image_shape = None if image_shape is None else tuple(image_shape)
        if self.image_shape is not None and math.prod(self.image_shape) != data.shape[1]:
            raise ValueError(f"samples of {data.shape[1]} features are not images of "
                             f"{self.image_shape[0]}x{self.image_shape[1]} pixels")
        self._n_features = None

    # --- shape ---

    @property
    def n_samples(self) -> int:
        return self.data.shape[0] if self.positions is None else self.positions.size

    @property
    def n_features(self) -> int:
        """Features after the transforms (PCA may reduce them)."""
        if self._n_features is None:
            self._n_features = self.block(0, min(self.n_samples, 1)).shape[1]
        return self._n_features

    @property
    def n_raw_features(self) -> int:
        return self.data.shape[1]

    @property
    def in_memory(self) -> bool:
        return isinstance(self.data, np.ndarray)

    # --- reading ---

    def _read(self, index, dtype) -> np.ndarray:
        """Raw rows at ``index`` (a slice or sorted positions) of the underlying storage."""
        if isinstance(self.data, NpyFile):
            if isinstance(index, slice):
                return self.data.rows(index.start, index.stop, dtype)
            return self.data.take(index, dtype)
        return np.asarray(self.data[index], dtype=dtype)

    def _apply(self, X: np.ndarray, dtype) -> np.ndarray:
        for transform in self.transforms:
            # scikit-learn refuses empty input (a process's empty share of the rows): a row of
            # zeros, dropped after, gives the width the transform makes
            X = (transform.transform(X) if len(X) else
                 transform.transform(np.zeros((1, X.shape[1]), X.dtype))[:0])
        return np.ascontiguousarray(X, dtype=dtype)

    def block(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        """Rows ``start:stop`` of this sequence, transformed."""
        index = slice(start, stop) if self.positions is None else self.positions[start:stop]
        raw_dtype = np.float64 if self.transforms else dtype
        return self._apply(self._read(index, raw_dtype), dtype)

    def take(self, which: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Rows at positions ``which`` of this sequence, in that order, transformed."""
        which = np.asarray(which, dtype=np.intp)
        index = which if self.positions is None else self.positions[which]
        raw_dtype = np.float64 if self.transforms else dtype
        return self._apply(self._read(index, raw_dtype), dtype)

    def in_place(self, dtype) -> bool:
        """Whether ``chunks(..., views=True)`` gives views of a memory-mapped file: it holds all
        these rows in ``dtype``, in C order, and no transform applies."""
        return (isinstance(self.data, NpyFile) and self.data.holds(dtype)
                and not self.transforms and self.positions is None)

    def chunks(self, rows_per_chunk: int, dtype=np.float64,
               views: bool = False) -> Iterator[np.ndarray]:
        """The rows in consecutive blocks of ``rows_per_chunk``. With ``views``, where the rows
        can be read ``in_place``, the blocks are read-only views of the mapping, each valid
        until the next is asked for: no copy on one core before the arithmetic."""
        if views and self.in_place(dtype):
            yield from self.data.views(rows_per_chunk)
            return
        for start in range(0, self.n_samples, rows_per_chunk):
            yield self.block(start, min(start + rows_per_chunk, self.n_samples), dtype)

    def to_array(self, dtype=np.float64) -> np.ndarray:
        """All rows in memory. For an in-memory array without transforms or subset, no copy."""
        return self.block(0, self.n_samples, dtype)

    def default_chunk(self) -> int:
        """Rows per chunk for passes that only need a reasonable block (16 MiB of float64)."""
        return max(1, DEFAULT_CHUNK_BYTES // (8 * max(self.n_raw_features, 1)))

    # --- derived sequences ---

    def subset(self, which: np.ndarray) -> Rows:
        """The rows at positions ``which`` (kept in sorted order for sequential reads)."""
        which = np.sort(np.asarray(which, dtype=np.intp))
        positions = which if self.positions is None else self.positions[which]
        return Rows(self.data, self.transforms, positions, self.image_shape)

    def with_transform(self, transform) -> Rows:
        """The same rows passed through one more fitted transform (as wide as they are)."""
        width = getattr(transform, "n_features_in_", self.n_features)
        if width != self.n_features:
            raise ValueError(f"the samples have {self.n_features} features; the fitted "
                             f"{type(transform).__name__} takes {width}")
        return Rows(self.data, (*self.transforms, transform), self.positions, self.image_shape)

    def fit_transform(self, transform) -> Rows:
        """Fit ``transform`` on these rows in one streamed pass (its ``fit_chunks``, or
        ``partial_fit`` per chunk; ``fit`` when the rows are in memory), then return the rows
        passed through it. A NaN or infinity is reported here, by its row in these rows: a
        transform fitted on it would spread it to every row."""
        if self.in_memory or not hasattr(transform, "partial_fit"):
            X = self.to_array()
            check_range(*value_range(X), transform)
            transform.fit(X)
        elif hasattr(transform, "fit_chunks"):
            transform.fit_chunks(self._finite_chunks(transform))
        else:
            for X in self._finite_chunks(transform):
                transform.partial_fit(X)
        return self.with_transform(transform)

    def _finite_chunks(self, transform) -> Iterator[np.ndarray]:
        start, low, high = 0, np.inf, -np.inf
        for X in self.chunks(self.default_chunk()):
            block_low, block_high = value_range(X, start)
            low, high = min(low, block_low), max(high, block_high)  # (of all rows so far)
            check_range(low, high, transform)
            start += X.shape[0]
            yield X

    def check_finite(self, rows_per_chunk: int | None = None, first_row: int = 0,
                     dtype=np.float64) -> tuple[float, float]:
        """Raise a clear error if any value is NaN or infinite; return the smallest and the
        largest value (one streamed pass). ``first_row`` is the position of these rows' first
        in the data, for the error. The rows are read in ``dtype``, the one they will be
        trained in: a value beyond float32's range is infinity there."""
        step = rows_per_chunk or self.default_chunk()
        low, high = np.inf, -np.inf
        for start in range(0, self.n_samples, step):
            block_low, block_high = value_range(self.block(start, min(start + step,
                                                                      self.n_samples), dtype),
                                                first_row + start)
            low, high = min(low, block_low), max(high, block_high)
        return low, high

    def __repr__(self):
        return (f"Rows({self.data!r}, n_samples={self.n_samples}, "
                f"transforms={[type(t).__name__ for t in self.transforms]})")


class NonFiniteError(ValueError):
    """NaN (``kind`` 0) or infinity (1; 2 when float32's range made it) in ``name``, first at
    ``row``, ``column``."""

    KINDS = ("NaN", "infinity", "infinity")

    def __init__(self, kind: int, row: int, column: int, name: str = "the data"):
        beyond = ("; if the data was converted to float32, a value beyond its range, "
                  f"{np.finfo(np.float32).max:.3g}, became infinity" if kind == 2 else "")
        super().__init__(f"{name} contains {self.KINDS[kind]} (first at row {row}, column "
                         f"{column}){beyond}")
        self.kind, self.row, self.column = kind, row, column


def value_range(X: np.ndarray, first_row: int = 0, name: str = "the data") -> tuple[float, float]:
    """The smallest and the largest value of the rows ``X``, or a clear error naming the first
    NaN or infinity (``first_row`` is the position of ``X``'s first row in the data; rows and
    columns count from 0, as NumPy indexes them).

    Two passes and nothing allocated when all is well: NaN or infinity anywhere makes the
    minimum or the maximum NaN or infinite. Only then are the rows searched, a few at a time."""
    if not X.size:
        return np.inf, -np.inf
    low, high = float(X.min()), float(X.max())
    if np.isfinite(low) and np.isfinite(high):
        return low, high
    step = max(1, 2**20 // max(X.shape[1], 1))
    for start in range(0, X.shape[0], step):
        bad = ~np.isfinite(X[start:start + step])
        if bad.any():
            row, col = np.argwhere(bad)[0]
            kind = 0 if np.isnan(X[start + row, col]) else 2 if X.dtype == np.float32 else 1
            raise NonFiniteError(kind, int(first_row + start + row), int(col), name)
    raise AssertionError("unreachable: a non-finite extreme comes from a non-finite value")


# beyond this, squares overflow float64 (1.8e308) in the sums that scalings and whitenings fit
LARGEST_SQUARED = 1e150


def check_squares(low: float, high: float, transform):
    """A clear error where the values ``low`` to ``high`` are too large for the sums of squares
    that ``transform`` is fitted with (scikit-learn's ``StandardScaler``, or one marked
    ``_sums_squares``): they would overflow into infinity and NaN, reported otherwise as NaN
    in the data, or as eigenvalues that did not converge."""
    from sklearn.preprocessing import StandardScaler

    squares = isinstance(transform, StandardScaler) or getattr(transform, "_sums_squares", False)
    largest = max(-low, high)
    if largest > LARGEST_SQUARED and squares:
        raise ValueError(f"the data holds values up to {largest:.3g} in magnitude, too large "
                         f"for the {type(transform).__name__} fitted on it: their squares "
                         "overflow float64; rescale the data (divide it by a power of ten, say)")


def check_span(low: float, high: float, transform):
    """A clear error where the values ``low`` to ``high`` span more than float64 holds
    (``high - low`` overflows: values beyond about 9e307 of both signs) and ``transform``
    divides by that span (scikit-learn's ``MinMaxScaler``, or one marked ``_spans``): it would
    turn every value into NaN or zero. For ``MinMaxScaler``, which spans each feature, the
    span of all values is the one checked: an extreme of each sign, even in two features, is
    refused."""
    from sklearn.preprocessing import MinMaxScaler

    spans = isinstance(transform, MinMaxScaler) or getattr(transform, "_spans", False)
    if spans and math.isinf(float(high) - float(low)):
        raise ValueError(f"the data holds values from {low:.3g} to {high:.3g}, too far apart "
                         f"for the {type(transform).__name__} fitted on it: their difference "
                         "overflows float64; rescale the data (divide it by a power of ten, "
                         "say)")


def check_range(low: float, high: float, transform):
    """``check_squares`` and ``check_span``: whether ``transform`` can be fitted on values
    from ``low`` to ``high``."""
    check_squares(low, high, transform)
    check_span(low, high, transform)


def finite(X: np.ndarray, name: str = "the data") -> np.ndarray:
    """``X``, after ``value_range``'s error if it holds NaN or infinity."""
    value_range(X, name=name)
    return X


def on_host(X):
    """A PyTorch tensor as a NumPy array (detached, on the CPU, bfloat16 widened to float32),
    anything else as it is: scikit-learn's checks call ``numpy()``, which fails inside PyTorch
    for a tensor that requires grad, lives on a GPU or is bfloat16."""
    if not is_tensor(X):
        return X
    import torch  # (loaded: X is one of its tensors)

    X = X.detach().cpu()
    return (X.float() if X.dtype == torch.bfloat16 else X).numpy()


def check_no_times(X):
    """A clear error for dates or durations (NumPy's datetime64 and timedelta64, and pandas'
    columns of them), which NumPy would otherwise turn into numbers of its unit in silence,
    or refuse from deep inside."""
    dtypes = getattr(X, "dtypes", None)  # (a DataFrame's, by column)
    columns = list(dtypes.items()) if hasattr(dtypes, "items") else [(None, getattr(X, "dtype",
                                                                                 None))]
    for column, dtype in columns:
        if getattr(dtype, "kind", None) in ("M", "m"):
            where = f" (column {column!r})" if column is not None else ""
            raise TypeError(f"X holds dates or durations{where}, of dtype {dtype}; give numbers "
                            "(seconds since a date, say)")


def validated(estimator, X, y="no_validation", **kwargs):
    """scikit-learn's ``validate_data`` (shapes, dtype, feature names), but with ``value_range``'s
    error for NaN or infinity in ``X``: it says where the first one is, where scikit-learn's
    says neither that nor a fix that applies here (it suggests other estimators). A PyTorch
    tensor is taken as its values (``on_host``)."""
    X = on_host(X)
    check_no_times(X)
    if isinstance(y, str) and y == "no_validation":  # scikit-learn's marker for "no y"
        return finite(validate_data(estimator, X, ensure_all_finite=False, **kwargs))
    X, y = validate_data(estimator, X, on_host(y), ensure_all_finite=False, **kwargs)
    return finite(X), y
