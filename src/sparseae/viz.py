"""Pictures of what was learned: filter grids, training curves, reconstructions.

``filter_grid`` and ``tile_grid`` are pure (arrays in, arrays out); the ``save_*`` functions write
PNG files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .io import atomic_write


def is_square(n_features: int) -> bool:
    return math.isqrt(n_features) ** 2 == n_features


def _tile_shape(n_features: int, shape, what: str) -> tuple[int, int]:
    """The ``(height, width)`` of ``n_features`` pixels: ``shape``, or a square."""
    if shape is None:
        if not is_square(n_features):
            raise ValueError(f"{what} of {n_features} inputs are not square images; give their "
                             "shape")
        return math.isqrt(n_features), math.isqrt(n_features)
    if math.prod(shape) != n_features:
        raise ValueError(f"{what} of {n_features} inputs are not images of "
                         f"{shape[0]}x{shape[1]} pixels")
    return tuple(shape)


def _matrix(values, name: str) -> np.ndarray:
    """``values`` as a 2-D float array of at least one finite row, or a clear error."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"{name} must be a 2-D array of at least one row, got shape "
                         f"{values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds NaN or infinity: there is no picture of it")
    return values


def tile_grid(tiles: np.ndarray, border: int = 1, n_cols: int | None = None) -> np.ndarray:
    """Arrange ``(k, p, q)`` tiles with values in [-1, 1] into one image, as UFLDL's
    display_network does: a near-square grid on a black (-1) background."""
    k, p, q = tiles.shape
    if k == 0:
        raise ValueError("there are no tiles to arrange")
    n_cols = n_cols or math.ceil(math.sqrt(k))
    n_rows = math.ceil(k / n_cols)
    grid = np.full((border + n_rows * (p + border), border + n_cols * (q + border)), -1.0)
    for j, tile in enumerate(tiles):
        r, c = divmod(j, n_cols)
        top, left = border + r * (p + border), border + c * (q + border)
        grid[top : top + p, left : left + q] = tile
    return grid


def filter_grid(W1: np.ndarray, border: int = 1, shape=None) -> np.ndarray:
    """The maximally activating input of each hidden unit, ``W1[j] / ||W1[j]||``, as a grid.

    Each tile is scaled to its own range (divided by its largest absolute value), so the pattern of
    every unit shows whatever its norm. The inputs are images of ``shape`` ``(height, width)``,
    square by default.
    """
    W1 = _matrix(W1, "W1")
    h, n = W1.shape
    p, q = _tile_shape(n, shape, "filters")
    norms = np.linalg.norm(W1, axis=1, keepdims=True)
    tiles = W1 / np.where(norms > 0, norms, 1.0)
    peak = np.abs(tiles).max(axis=1, keepdims=True)
    tiles = tiles / np.where(peak > 0, peak, 1.0)
    return tile_grid(tiles.reshape(h, p, q), border)


def to_uint8(image: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Map [low, high] to gray levels 0..255."""
    scaled = (np.clip(image, low, high) - low) / (high - low)
    return np.round(scaled * 255).astype(np.uint8)


def save_gray(path, image: np.ndarray, scale: int = 8, low: float = -1.0, high: float = 1.0):
    """Write a 2-D array as a grayscale PNG, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a whole number of at least 1, got {scale!r}")
    pixels = np.kron(to_uint8(image, low, high), np.ones((scale, scale), dtype=np.uint8))
    suffix = Path(path).suffix.lower()
    kind = Image.registered_extensions().get(suffix, None if suffix else "PNG")
    if kind is None:
        raise ValueError(f"cannot write {suffix} pictures: name the file .png, .jpg or .tif, "
                         "say")
    atomic_write(path, lambda f: Image.fromarray(pixels, mode="L").save(f, format=kind))
    return Path(path)


def save_filters(path, W1: np.ndarray, scale: int = 8, shape=None):
    """``filters.png``: the grid of ``filter_grid(W1, shape=shape)``."""
    return save_gray(path, filter_grid(W1, shape=shape), scale)


HALF_GRAY = 0.5 / 255  # (of [0, 1]: what rounding to 256 gray levels leaves out anyway)


def save_reconstructions(path, X: np.ndarray, X_hat: np.ndarray, n: int = 20, scale: int = 8,
                         shape=None):
    """The first ``n`` inputs (top row) above their reconstructions (bottom row), images of
    ``shape`` (square by default). Data in [0, 1] is shown as is (0 black, 1 white), and so is
    data within half a gray level of it (pixels in [0, 1] whitened and back, say); other data
    symmetrically around 0, scaled by its largest value."""
    X, X_hat = _matrix(X, "X"), _matrix(X_hat, "X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(f"X has shape {X.shape} and X_hat {X_hat.shape}: a reconstruction is "
                         "as large as its input")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n!r}")
    k = min(n, X.shape[0])
    p, q = _tile_shape(X.shape[1], shape, "inputs")
    tiles = np.concatenate([X[:k], X_hat[:k]]).reshape(2 * k, p, q)
    if X[:k].min() >= -HALF_GRAY and X[:k].max() <= 1 + HALF_GRAY:
        tiles = tiles * 2.0 - 1.0
    else:
        tiles = tiles / max(np.abs(X[:k]).max(), 1e-12)
    return save_gray(path, tile_grid(tiles, n_cols=k), scale)


LOG_AXIS_LIMIT = 1e300  # (measured: matplotlib 3.11's log axis fails from about 1e306)


def save_loss_curve(path, loss_curve, title: str = "training cost", unit: str = "iteration",
                    validation=None):
    """``loss.png``: the cost after each iteration (or epoch: ``unit``), on a log scale, with
    the held-out cost of early stopping (``validation``) beside it. Costs near float64's
    largest (a penalty weight of 1e300, say) are drawn as their base-10 logarithms on a linear
    axis: matplotlib's log axis overflows on them, its ticks beyond float64's range."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    curves = {"training": np.asarray(loss_curve, dtype=float)}
    if validation is not None:
        curves["held out"] = np.asarray(validation, dtype=float)
    huge = any(np.nanmax(np.abs(c), initial=0.0) > LOG_AXIS_LIMIT for c in curves.values())
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for label, curve in curves.items():
            ax.plot(np.arange(1, len(curve) + 1), np.log10(curve) if huge else curve,
                    label=label)
        if validation is not None:
            ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if not huge:
            ax.set_yscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel("log10 of the cost J" if huge else "cost J")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        atomic_write(path, lambda f: fig.savefig(f, format=Path(path).suffix[1:].lower() or
                                                 "png"))
    return Path(path)
