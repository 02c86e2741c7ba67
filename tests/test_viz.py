import numpy as np
import pytest
from PIL import Image

from sparseae import viz


def test_filter_grid_layout_and_scaling(rng):
    W1 = rng.normal(size=(25, 64)) * rng.uniform(0.01, 100, size=(25, 1))
    grid = viz.filter_grid(W1)
    assert grid.shape == (1 + 5 * 9, 1 + 5 * 9)
    for j in range(25):
        r, c = divmod(j, 5)
        tile = grid[1 + r * 9 : 1 + r * 9 + 8, 1 + c * 9 : 1 + c * 9 + 8]
        assert np.abs(tile).max() == pytest.approx(1.0)  # each tile scaled to its own range
        expected = W1[j] / np.abs(W1[j]).max()  # W1[j]/||W1[j]|| up to a positive scale
        np.testing.assert_allclose(tile.ravel(), expected, rtol=1e-12)
    assert grid[0].max() == -1.0  # black borders


def test_grid_of_a_non_square_count(rng):
    grid = viz.filter_grid(rng.normal(size=(7, 16)))
    assert grid.shape == (1 + 3 * 5, 1 + 3 * 5)  # 3 x 3 tiles, two left black


def test_non_square_filters_are_refused(rng):
    with pytest.raises(ValueError, match="not square"):
        viz.filter_grid(rng.normal(size=(4, 10)))


def test_zero_filter_does_not_divide_by_zero():
    grid = viz.filter_grid(np.zeros((1, 4)))
    assert np.all(np.isfinite(grid))


def test_png_files(tmp_path, rng):
    viz.save_filters(tmp_path / "filters.png", rng.normal(size=(25, 64)), scale=4)
    with Image.open(tmp_path / "filters.png") as im:
        assert im.size == (46 * 4, 46 * 4) and im.mode == "L"
    viz.save_loss_curve(tmp_path / "loss.png", [3.0, 1.0, 0.5, 0.4])
    with Image.open(tmp_path / "loss.png") as im:
        assert im.size == (600, 400)
    X = rng.uniform(size=(30, 16))
    viz.save_reconstructions(tmp_path / "rec.png", X, X, n=10, scale=2)
    with Image.open(tmp_path / "rec.png") as im:
        assert im.size == ((1 + 10 * 5) * 2, (1 + 2 * 5) * 2)
