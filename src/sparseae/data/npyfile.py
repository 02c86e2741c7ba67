"""Rows of a 2-D ``.npy`` file, memory-mapped and read a chunk at a time.

The file is never read whole: ``rows`` and ``take`` copy the requested rows out of the mapping and
then tell the kernel the process no longer needs those pages (``MADV_DONTNEED``), so the resident
set stays at one chunk however large the file is. The pages remain in the page cache, so a second
pass over a file that fits in RAM is still fast. ``views`` skips the copy where the file already
holds C-ordered rows of the dtype asked for: it yields read-only views of the mapping, one chunk at
a time, each released when the next is asked for.

Another program may truncate the file while it is mapped. Touching a page of the mapping beyond
the file's new end kills the process with SIGBUS: no message, no chance to save anything. So the
file's size is checked (one ``fstat``) before every chunk or run of rows is read, and a file found
shorter than its data is a ``FileChangedError`` naming it. That covers a truncation between
passes and between chunks; one during the copy of a chunk, or while a view is in use, can still
end in SIGBUS: only reading with ``read`` instead of the mapping, a copy of every chunk, closes
that window.

Another program may also rewrite the file in place to the same length (``np.save`` to its path):
the mapping then reads the new values, and a run would mix the rows of two files. The same
``fstat`` compares the file's modification time with the one it had when it was opened, and a
change is a ``FileChangedError`` too. Only a change: a rewrite within the clock tick of a
filesystem whose times are coarse (a second, two on FAT) goes unseen. (Its inode is the one the
open file holds, whatever happens to the path: a file replaced by a rename leaves the mapping on
the old file's data, whole and unchanged.)
"""

from __future__ import annotations

import mmap
import os
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..io import not_found

SPAN_BYTES = 8 * 2**20  # of the file that ``take`` maps at once


class FileChangedError(ValueError):
    """The file became shorter than its data, or was written to, while it was open (truncated or
    rewritten in place by another program)."""


class NpyFile:
    """A 2-D ``.npy`` file of numbers, one sample per row."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise not_found(self.path, f"no such file: {self.path}")
        with open(self.path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise ValueError(f"{self.path} is not a .npy file (no NumPy header)")
        try:
            header = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            if "mmap length is greater than file size" in str(err):
                raise ValueError(f"{self.path} is truncated: the data is shorter than its header "
                                 "says") from None
            raise ValueError(f"{self.path} is not a readable .npy file: {err}") from None
        except (OSError, EOFError) as err:
            raise ValueError(f"{self.path} is not a readable .npy file: {err}") from None
        if not isinstance(header, np.memmap):
            raise ValueError(f"{self.path} is not a .npy file")
        shape, dtype, offset = header.shape, header.dtype, header.offset
        fortran_order = header.flags.f_contiguous and not header.flags.c_contiguous
        del header
        if dtype.hasobject or dtype.kind not in "fiub":
            raise ValueError(f"{self.path} holds {dtype} values, not real numbers")
        if len(shape) != 2:
            raise ValueError(
                f"{self.path} holds an array of shape {shape}; expected 2-D "
                "(n_samples, n_features)"
            )
        if shape[0] == 0 or shape[1] == 0:
            raise ValueError(f"{self.path} holds an empty array of shape {shape}")
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype
        self._fortran = fortran_order
        self._file = open(self.path, "rb")  # (kept open for _check_unchanged's fstat)
        weakref.finalize(self, self._file.close)
        self._modified = os.fstat(self._file.fileno()).st_mtime_ns
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self._array = np.ndarray(
            self.shape, dtype, buffer=self._map, offset=offset,
            order="F" if fortran_order else "C",
        )
        self._offset = offset

    @property
    def n_samples(self) -> int:
        return self.shape[0]

    @property
    def n_features(self) -> int:
        return self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def rows(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        """A copy of rows ``start:stop`` as ``dtype``; their pages are released afterwards."""
        self._check_unchanged()
        out = np.array(self._array[start:stop], dtype=dtype, order="C")
        self._release(start, stop)
        return out

    def holds(self, dtype) -> bool:
        """Whether the file's rows are C-ordered ``dtype``: ``views`` can give them unconverted."""
        return not self._fortran and self.dtype == np.dtype(dtype)

    def views(self, rows_per_chunk: int) -> Iterator[np.ndarray]:
        """Read-only views of consecutive blocks of ``rows_per_chunk`` rows, each released
        (``MADV_DONTNEED``) when the next is asked for."""
        for start in range(0, self.n_samples, rows_per_chunk):
            stop = min(start + rows_per_chunk, self.n_samples)
            self._check_unchanged()
            try:
                yield self._array[start:stop]
            finally:
                self._release(start, stop)

    def take(self, indices: np.ndarray, dtype=np.float64) -> np.ndarray:
        """A copy of the rows at ``indices`` (sorted internally for sequential reads), read in
        runs that span at most ``SPAN_BYTES`` of the file, each released before the next:
        scattered rows (a sample, a held-out subset) would otherwise leave the pages of their
        whole span mapped at once, since the kernel maps the neighbours of every page read."""
        indices = np.asarray(indices)
        order = np.argsort(indices, kind="stable")
        ordered = indices[order]
        out = np.empty((indices.size, self.n_features), dtype=dtype)
        span = (self.n_samples if self._fortran else  # (a column-major row spans the file)
                max(1, SPAN_BYTES // (self.n_features * self.dtype.itemsize)))
        start = 0
        while start < ordered.size:
            stop = int(np.searchsorted(ordered, ordered[start] + span))
            self._check_unchanged()
            out[order[start:stop]] = self._array[ordered[start:stop]]
            self._release(int(ordered[start]), int(ordered[stop - 1]) + 1)
            start = stop
        return out

    def _check_unchanged(self):
        """A ``FileChangedError`` if the file is now shorter than its data (reading the mapping
        beyond its end would be SIGBUS) or was written to since it was opened (see the module's
        docstring)."""
        status = os.fstat(self._file.fileno())
        size, needed = status.st_size, self._offset + self.nbytes
        if size < needed:
            raise FileChangedError(
                f"{self.path} was cut short while it was being read: it now holds {size} bytes, "
                f"and its data needs {needed} (another program truncated or rewrote it)")
        if status.st_mtime_ns != self._modified:
            raise FileChangedError(
                f"{self.path} was written to while it was being read (its modification time "
                "changed): its rows may no longer be those read before (another program "
                "rewrote it)")

    def _release(self, start: int, stop: int):
        if self._fortran:
            first, last = self._offset, self._offset + self.nbytes
        else:
            row = self.n_features * self.dtype.itemsize
            first, last = self._offset + start * row, self._offset + stop * row
        page = mmap.PAGESIZE
        first -= first % page
        if last > first:
            self._map.madvise(mmap.MADV_DONTNEED, first, min(last, len(self._map)) - first)

    def __repr__(self):
        return f"NpyFile({str(self.path)!r}, shape={self.shape}, dtype={self.dtype})"


def opened_npy(X) -> NpyFile | None:
    """The file behind ``X`` when ``X`` is a whole 2-D ``.npy`` as ``np.load(path,
    mmap_mode="r")`` gives it, so that it can be streamed; None for anything else (an array, a
    slice or view of a mapping, a copy-on-write mapping whose changes the file lacks, a raw
    ``np.memmap`` of another layout)."""
    if (not isinstance(X, np.memmap) or not isinstance(X.base, mmap.mmap) or X.mode == "c"
            or X.filename is None):
        return None
    try:
        file = NpyFile(X.filename)
    except (OSError, ValueError):
        return None
    same = (file.shape == X.shape and file.dtype == X.dtype and file._offset == X.offset
            and file._fortran == (X.flags.f_contiguous and not X.flags.c_contiguous))
    return file if same else None

