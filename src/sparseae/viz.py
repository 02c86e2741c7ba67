"""Pictures of what was learned: filter grids, training curves, reconstructions.

``filter_grid`` and ``tile_grid`` are pure (arrays in, arrays out); the ``save_*`` functions write
PNG files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def is_square(n_features: int) -> bool:
    return math.isqrt(n_features) ** 2 == n_features


def tile_grid(tiles: np.ndarray, border: int = 1, n_cols: int | None = None) -> np.ndarray:
    """Arrange ``(k, p, p)`` tiles with values in [-1, 1] into one image, as UFLDL's
    display_network does: a near-square grid on a black (-1) background."""
    k, p, q = tiles.shape
    n_cols = n_cols or math.ceil(math.sqrt(k))
    n_rows = math.ceil(k / n_cols)
    grid = np.full((border + n_rows * (p + border), border + n_cols * (q + border)), -1.0)
    for j, tile in enumerate(tiles):
        r, c = divmod(j, n_cols)
        top, left = border + r * (p + border), border + c * (q + border)
        grid[top : top + p, left : left + q] = tile
    return grid


def filter_grid(W1: np.ndarray, border: int = 1) -> np.ndarray:
    """The maximally activating input of each hidden unit, ``W1[j] / ||W1[j]||``, as a grid.

    Each tile is scaled to its own range (divided by its largest absolute value), so the pattern of
    every unit shows whatever its norm. Needs square inputs (``n_features`` = p * p).
    """
    W1 = np.asarray(W1, dtype=np.float64)
    h, n = W1.shape
    if not is_square(n):
        raise ValueError(f"filters of {n} inputs are not square images")
    p = math.isqrt(n)
    norms = np.linalg.norm(W1, axis=1, keepdims=True)
    tiles = W1 / np.where(norms > 0, norms, 1.0)
    peak = np.abs(tiles).max(axis=1, keepdims=True)
    tiles = tiles / np.where(peak > 0, peak, 1.0)
    return tile_grid(tiles.reshape(h, p, p), border)


def to_uint8(image: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Map [low, high] to gray levels 0..255."""
    scaled = (np.clip(image, low, high) - low) / (high - low)
    return np.round(scaled * 255).astype(np.uint8)


def save_gray(path, image: np.ndarray, scale: int = 8, low: float = -1.0, high: float = 1.0):
    """Write a 2-D array as a grayscale PNG, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    pixels = np.kron(to_uint8(image, low, high), np.ones((scale, scale), dtype=np.uint8))
    Image.fromarray(pixels, mode="L").save(path)
    return Path(path)


def save_filters(path, W1: np.ndarray, scale: int = 8):
    """``filters.png``: the grid of ``filter_grid(W1)``."""
    return save_gray(path, filter_grid(W1), scale)


def save_reconstructions(path, X: np.ndarray, X_hat: np.ndarray, n: int = 20, scale: int = 8):
    """Inputs (top row) above their reconstructions (bottom row), for square inputs. Data in
    [0, 1] is shown as is; other data symmetrically around 0, scaled by its largest value."""
    k = min(n, X.shape[0])
    p = math.isqrt(X.shape[1])
    if not is_square(X.shape[1]):
        raise ValueError(f"inputs of {X.shape[1]} features are not square images")
    tiles = np.concatenate([X[:k], X_hat[:k]]).reshape(2 * k, p, p)
    if X[:k].min() >= 0 and X[:k].max() <= 1:
        tiles = tiles * 2.0 - 1.0
    else:
        tiles = tiles / max(np.abs(X[:k]).max(), 1e-12)
    return save_gray(path, tile_grid(tiles, n_cols=k), scale)


def save_loss_curve(path, loss_curve, title: str = "training cost"):
    """``loss.png``: the cost after each iteration, on a log scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(loss_curve) + 1), loss_curve)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost J")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
