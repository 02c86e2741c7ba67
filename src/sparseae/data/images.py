"""Natural images and the tutorial's patches.

The UFLDL exercise samples 10000 random 8x8 patches from ten 512x512 natural images that
Olshausen and Field had whitened (amplitude spectrum flattened, highest frequencies rolled off),
and normalises them: subtract each patch's mean, clip at +/-3 standard deviations of all patch
values, rescale to [0.1, 0.9] so that a sigmoid decoder can reproduce them.

Images here are 2-D float arrays (grayscale), each of its own size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..io import not_found
from .rows import finite

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# --- pure functions on arrays ---


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601) of an ``(H, W, 3)`` or ``(H, W, 4)`` image; a 2-D image is returned as
    float."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3] @ np.array([0.299, 0.587, 0.114])
    raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}")


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor`` x ``factor`` blocks (the ragged edge is dropped)."""
    H, W = (s // factor * factor for s in image.shape)
    return image[:H, :W].reshape(H // factor, factor, W // factor, factor).mean(axis=(1, 3))


def whiten_olshausen_field(image: np.ndarray, cutoff: float = 0.8) -> np.ndarray:
    """Whiten an image the way Olshausen and Field prepared the tutorial's images.

    In the frequency domain multiply by ``R(f) = f exp(-(f / f0)^4)``: the ramp ``f`` flattens the
    ``1/f`` amplitude spectrum of natural scenes, the exponential rolls off the highest frequencies
    where noise and aliasing live. ``f0 = cutoff * 0.5`` cycles/pixel: ``cutoff`` is a fraction
    of the Nyquist frequency, 0.8 by default as Olshausen and Field's 200 cycles per 512-pixel
    picture. The image is mirrored before the FFT so its borders do not wrap into false edges, and
    the result has unit variance (a constant image, which has no variance, comes out 0).
    """
    image = np.asarray(image, dtype=np.float64)
    H, W = image.shape
    centered = image - image.mean()
    if image.max(initial=-np.inf) == image.min(initial=np.inf):
        # a constant image is 0 exactly: its computed mean can be a rounding off its value,
        # and the FFT's rounding of that remainder was scaled up to unit variance
        centered[...] = 0.0
    tiled = np.pad(centered, ((0, H), (0, W)), mode="symmetric")
    fy = np.fft.fftfreq(2 * H)[:, None]
    fx = np.fft.rfftfreq(2 * W)[None, :]
    f = np.hypot(fx, fy)
    f0 = cutoff * 0.5
    filtered = np.fft.irfft2(np.fft.rfft2(tiled) * (f * np.exp(-((f / f0) ** 4))), s=tiled.shape)
    out = filtered[:H, :W]
    std = out.std()
    return out / std if std > 0 else out


def check_images(images) -> None:
    """A clear error unless ``images`` is a non-empty list of 2-D (grayscale) arrays."""
    if isinstance(images, np.ndarray):
        raise ValueError(f"images must be a list of 2-D arrays, got one array of shape "
                         f"{images.shape} (one image: pass [image])")
    if not len(images):
        raise ValueError("no images to sample patches from")
    for k, image in enumerate(images):
        if np.ndim(image) != 2:
            raise ValueError(f"image {k} has shape {np.shape(image)}; expected a 2-D grayscale "
                             "image (for a color one: sparseae.data.images.to_grayscale(image))")


def sample_patches(
    images: list[np.ndarray], n_patches: int, patch_size: int, rng: np.random.Generator,
    names: list[str] | None = None,
) -> np.ndarray:
    """``n_patches`` random ``patch_size x patch_size`` patches, one per row (row-major pixels).

    Each patch picks an image uniformly, then a position uniformly inside it. ``names`` (the
    images' file names, say) label them in errors; by default they are "image 0", "image 1"...
    """
    check_images(images)
    names = names or [f"image {k}" for k in range(len(images))]
    small = [f"{name} ({image.shape[0]}x{image.shape[1]})"
             for name, image in zip(names, images) if min(image.shape) < patch_size]
    if small:
        raise ValueError(
            f"{len(small)} of the {len(images)} images {'is' if len(small) == 1 else 'are'} "
            f"smaller than the {patch_size}x{patch_size} patch: {', '.join(small[:5])}"
            + (f" and {len(small) - 5} more" if len(small) > 5 else ""))
    which = rng.integers(len(images), size=n_patches)
    patches = np.empty((n_patches, patch_size * patch_size))
    for k, image in enumerate(images):
        rows = np.flatnonzero(which == k)
        windows = sliding_window_view(image, (patch_size, patch_size))
        r = rng.integers(windows.shape[0], size=rows.size)
        c = rng.integers(windows.shape[1], size=rows.size)
        patches[rows] = windows[r, c].reshape(rows.size, patch_size * patch_size)
    return patches


def centered_patches(patches: np.ndarray) -> np.ndarray:
    """Each patch minus its mean, exactly 0 for a constant patch: its computed mean can be one
    rounding off its value (0.1 over 64 pixels is), and data of constant patches alone then
    had a limit of about 1e-17 that scaled that rounding to +-1/3 (every pixel 0.63 or 0.37
    instead of mid-gray)."""
    centered = patches - patches.mean(axis=1, keepdims=True)
    centered[np.all(patches == patches[:, :1], axis=1)] = 0.0
    return centered


def normalize_patches(patches: np.ndarray, limit: float | None = None) -> np.ndarray:
    """The tutorial's normalisation: remove each patch's mean, clip at +/-3 standard deviations
    of all values (or at ``limit``), rescale from [-1, 1] to [0.1, 0.9]. The centred values
    have mean zero (each row sums to zero), so their standard deviation is their root mean
    square, computed as ``PatchNormalizer`` does. Constant patches become 0.5."""
    centered = centered_patches(patches)
    if limit is None:
        limit = 3.0 * np.sqrt(np.vdot(centered, centered) / centered.size)
    elif not 0 <= limit < np.inf:  # (a negative one made every value 0.9, NaN every one NaN)
        raise ValueError(f"limit must be >= 0 and finite, got {limit!r}")
    if limit == 0:
        return np.full_like(centered, 0.5)
    return (np.clip(centered, -limit, limit) / limit + 1.0) * 0.4 + 0.1


# --- sources of images ---


def builtin_images() -> list[np.ndarray]:
    """scikit-learn's two sample photographs (427 x 640 JPEGs), grayscale in [0, 1], at half
    resolution: averaging 2 x 2 pixels removes the JPEG block and demosaicing noise that sits at
    the finest scale and that whitening would otherwise amplify into the patches."""
    from sklearn.datasets import load_sample_images

    return [downsample(to_grayscale(image) / 255.0, 2) for image in load_sample_images().images]


def read_image(path: Path) -> np.ndarray:
    """A grayscale float image from an image file: 8-bit and colour images in [0, 1] (colour
    through Pillow's luminance), 16-bit ones too (/ 65535: converting them to 8 bits would
    clip every level above 255), floating-point ones (TIFF) as they are stored."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode == "F":  # (NaN here would become NaN everywhere after whitening)
                return finite(np.asarray(im, dtype=np.float64), f"image {path}")
            if im.mode.startswith("I"):  # I;16, I;16B, ..., or I (Pillow's 16-bit PNGs)
                pixels = np.asarray(im, dtype=np.float64)
                if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
                    raise ValueError(f"cannot read image {path}: its 32-bit integer pixels go "
                                     "beyond 16 bits (0 to 65535)")
                return pixels / 65535.0
            return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from None


def load_mat(path) -> dict[str, np.ndarray]:
    """The numeric arrays of a MATLAB file, by name."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        contents = loadmat(path)
    except NotImplementedError:
        raise ValueError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which SciPy cannot read; save it with "
            "save(..., '-v7') in MATLAB"
        ) from None
    except (MatReadError, ValueError, OSError, TypeError, EOFError, IndexError) as err:
        # (IndexError: SciPy's reader on some short files that are not MATLAB's)
        raise ValueError(f"cannot read MATLAB file {path}: {err or type(err).__name__}") \
            from None
    return {
        k: v for k, v in contents.items()
        if not k.startswith("__") and isinstance(v, np.ndarray) and v.dtype.kind in "fiub"
    }


MATLAB_NUMBERS = {"double", "single", "logical", *(f"{u}int{b}" for u in ("", "u")
                                                   for b in (8, 16, 32, 64))}


def mat_shapes(path) -> dict[str, tuple[int, ...]]:
    """The shapes of a MATLAB file's numeric arrays, by name, from its list of variables
    (``scipy.io.whosmat``), without reading their values. Complex arrays are among them, which
    ``load_mat`` leaves out (the list does not tell them apart). A ``ValueError`` where the
    list cannot be read."""
    from scipy.io import whosmat
    from scipy.io.matlab import MatReadError

    try:
        variables = whosmat(path)
    except (MatReadError, NotImplementedError, ValueError, OSError, TypeError, EOFError,
            IndexError) as err:  # (as load_mat's)
        raise ValueError(f"cannot list the variables of {path}: {err}") from None
    return {name: tuple(shape) for name, shape, kind in variables if kind in MATLAB_NUMBERS}


def unread_mat_variables(path) -> str:
    """What the variables of a MATLAB file that ``load_mat`` leaves out are, in words: "z
    (complex), s (a sparse matrix)"."""
    from scipy.io import loadmat

    def kind(value) -> str:
        if not isinstance(value, np.ndarray):
            return "a sparse matrix" if hasattr(value, "tocsr") else type(value).__name__
        return {"c": "complex", "U": "text", "S": "text", "O": "a cell array",
                "V": "a struct"}.get(value.dtype.kind, str(value.dtype))

    return ", ".join(f"{k} ({kind(v)})" for k, v in loadmat(path).items()
                     if not k.startswith("__") and not (isinstance(v, np.ndarray)
                                                        and v.dtype.kind in "fiub"))


def mat_images(path, stack: np.ndarray) -> list[np.ndarray]:
    """The images of an ``H x W x K`` stack (the tutorial's ``IMAGES.mat`` layout)."""
    if stack.ndim != 3:
        raise ValueError(f"{path}: expected an H x W x K image stack, got shape {stack.shape}")
    stack = np.asarray(stack, dtype=np.float64)
    if not np.all(np.isfinite(stack)):
        raise ValueError(f"{path}: the images contain NaN or infinity")
    return [stack[:, :, k] for k in range(stack.shape[2])]


def stack_images(images: list[np.ndarray], names: list[str]) -> np.ndarray:
    """Whole images as samples: one flattened image per row; all must have the same size."""
    first = images[0].shape
    for image, name in zip(images, names):
        if image.shape != first:
            raise ValueError(
                f"images differ in size: {names[0]} is {first[0]}x{first[1]}, {name} is "
                f"{image.shape[0]}x{image.shape[1]}; whole images as samples need one size"
            )
    return np.stack([image.ravel() for image in images])


def image_files(path: Path) -> list[Path]:
    """The image files of a folder (sorted), or the file itself. Hidden files are not images:
    macOS leaves a ``._name.png`` of metadata beside each file it copies to other disks."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        folders = sorted(p.name for p in path.iterdir() if p.is_dir())
        hint = (f"; the images must be in the folder itself, not in its subfolders "
                f"({', '.join(folders[:3])}{', ...' if len(folders) > 3 else ''})"
                if folders else "")
        raise ValueError(f"folder {path} has no image files ({', '.join(IMAGE_SUFFIXES)})"
                         + hint)
    return files


def read_images(path) -> list[np.ndarray]:
    """Images from an image file or a folder of image files."""
    return read_named_images(path)[0]


def read_named_images(path) -> tuple[list[np.ndarray], list[str]]:
    """Images from an image file or a folder of image files, and their file names."""
    path = Path(path)
    if not path.exists():
        raise not_found(path, f"no such file or folder: {path}")
    if not path.is_dir() and path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path} is not an image file ({', '.join(IMAGE_SUFFIXES)})")
    files = image_files(path)
    return [read_image(p) for p in files], [p.name for p in files]
