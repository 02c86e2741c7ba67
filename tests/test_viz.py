import warnings

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



@pytest.mark.parametrize("n_hidden, n_rows, n_cols", [(25, 5, 5), (196, 14, 14), (10, 3, 4),
                                                       (7, 3, 3)])
def test_filters_png_puts_each_unit_s_pixel_where_it_is(tmp_path, n_hidden, n_rows, n_cols):
    """Unit j's input is bright at (row 1, column 5) for even j, at (5, 1) (the transpose) and
    (0, 0) for odd j, dark at (6, 2) at half the strength, at scales 1 to n_hidden: in
    filters.png tile j, in row-major order, shows it so, each at its own full contrast (the odd
    ones have a larger norm for their peak), the rest mid-gray; black borders and spare tiles."""
    W1 = np.zeros((n_hidden, 8, 8))
    W1[0::2, 1, 5] = W1[1::2, 5, 1] = W1[1::2, 0, 0] = 1.0
    W1[:, 6, 2] = -0.5
    W1 *= np.arange(1, n_hidden + 1)[:, None, None]
    viz.save_filters(tmp_path / "filters.png", W1.reshape(n_hidden, 64), scale=2)
    with Image.open(tmp_path / "filters.png") as im:
        assert im.size == ((1 + 9 * n_cols) * 2, (1 + 9 * n_rows) * 2)
        pixels = np.asarray(im)[::2, ::2]
    expected = np.zeros((1 + 9 * n_rows, 1 + 9 * n_cols), dtype=np.uint8)
    for j in range(n_hidden):
        tile = np.full((8, 8), 128)
        tile[(1, 5) if j % 2 == 0 else (5, 1)] = 255
        tile[0, 0] = 255 if j % 2 else 128
        tile[6, 2] = 64
        top, left = 1 + 9 * (j // n_cols), 1 + 9 * (j % n_cols)
        expected[top : top + 8, left : left + 8] = tile
    np.testing.assert_array_equal(pixels, expected)


def test_reconstructions_png_pairs_each_input_with_its_reconstruction(tmp_path):
    """Input i (of the first n) in the top row's tile i, its reconstruction below it, in their
    orientation: input i is bright at (1, 5) and (0, i), its reconstruction at (5, 1) and (7, i);
    gray levels are the values' (in [0, 1]: 0 black, 1 white)."""
    X, X_hat = np.full((3, 8, 8), 0.2), np.full((3, 8, 8), 0.6)
    for i in range(3):
        X[i, 1, 5] = X[i, 0, i] = X_hat[i, 5, 1] = X_hat[i, 7, i] = 1.0
    viz.save_reconstructions(tmp_path / "rec.png", X.reshape(3, 64), X_hat.reshape(3, 64), n=2,
                             scale=3)
    with Image.open(tmp_path / "rec.png") as im:
        assert im.size == ((1 + 2 * 9) * 3, (1 + 2 * 9) * 3)
        pixels = np.asarray(im)[::3, ::3]
    expected = np.zeros((19, 19), dtype=np.uint8)
    for i in range(2):
        expected[1:9, 1 + 9 * i : 9 + 9 * i] = np.round(X[i] * 255)
        expected[10:18, 1 + 9 * i : 9 + 9 * i] = np.round(X_hat[i] * 255)
    np.testing.assert_array_equal(pixels, expected)

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


def test_images_that_are_not_square_are_drawn_in_their_shape(tmp_path, rng):
    """A 4 x 16 image whose left half is bright stays so, not folded into 8 x 8."""
    image = np.zeros((4, 16))
    image[:, :8] = 1.0
    grid = viz.filter_grid(image.reshape(1, 64), shape=(4, 16))
    assert grid.shape == (1 + 4 + 1, 1 + 16 + 1)
    np.testing.assert_array_equal(grid[1:5, 1:17], image)  # (its own range: 1)
    X = np.tile(image.ravel() * 0.8 + 0.1, (3, 1))
    viz.save_reconstructions(tmp_path / "rec.png", X, X, scale=1, shape=(4, 16))
    with Image.open(tmp_path / "rec.png") as im:
        assert im.size == (1 + 3 * 17, 1 + 2 * 5)
        pixels = np.asarray(im)
    assert pixels[1:5, 1:9].min() > pixels[1:5, 9:17].max()
    with pytest.raises(ValueError, match="^filters of 64 inputs are not images of 6x8 pixels$"):
        viz.filter_grid(rng.normal(size=(2, 64)), shape=(6, 8))



def test_pixels_in_0_1_come_back_from_a_whitening_as_they_were_drawn(tmp_path):
    """Whitened and back, pixels in [0, 1] are off by a rounding (-3e-15 on the digits, ZCA):
    they were drawn symmetrically around 0, 0 as mid-gray and 1 as white, where the same rows
    unwhitened have 0 black. Data beyond half a gray level of [0, 1] is still drawn so."""
    X = np.array([[0.0, 1.0, 0.5, 0.0], [1.0, 0.0, 0.0, 0.2]])
    for off, expected in [(0.0, [0, 255, 128, 0]), (-3e-15, [0, 255, 128, 0]),
                          (-0.5 / 255, [0, 255, 128, 0]), (-0.01, [126, 255, 191, 128])]:
        shown = X + np.array([[off, -off, 0, 0], [0, 0, 0, 0]])
        viz.save_reconstructions(tmp_path / "rec.png", shown, X, scale=1)
        with Image.open(tmp_path / "rec.png") as im:
            pixels = np.asarray(im)
        np.testing.assert_array_equal(pixels[1:3, 1:3].ravel(), expected, err_msg=str(off))

def test_reconstructions_beyond_0_1_are_scaled_by_the_largest_input_shown(tmp_path):
    """Symmetrically around 0, by the largest absolute value of the n inputs drawn (0.5), not
    of rows left out (10): the input's -0.5 and 0.5 are black and white."""
    X = np.array([[-0.5, 0.5, 0.0, 0.25], [10.0, -10.0, 0.0, 0.0]])
    viz.save_reconstructions(tmp_path / "rec.png", X, X / 2, n=1, scale=1)
    with Image.open(tmp_path / "rec.png") as im:
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels[1:3, 1:3], [[0, 255], [128, 191]])
    np.testing.assert_array_equal(pixels[4:6, 1:3], [[64, 191], [128, 159]])


@pytest.mark.parametrize("call, message", [
    (lambda: viz.filter_grid(np.array([[1.0, np.nan, 0.0, 1.0]])),
     "^W1 holds NaN or infinity: there is no picture of it$"),
    (lambda: viz.filter_grid(np.zeros((0, 4))), r"^W1 must be a 2-D array of at least one row, "
                                                r"got shape \(0, 4\)$"),
    (lambda: viz.filter_grid(np.zeros(4)), r"got shape \(4,\)$"),
    (lambda: viz.save_reconstructions("r.png", np.zeros((3, 4)), np.zeros((3, 9))),
     r"^X has shape \(3, 4\) and X_hat \(3, 9\): a reconstruction is as large as its input$"),
    (lambda: viz.save_reconstructions("r.png", [[0.5] * 4], [[0.5] * 4], n=0),
     "^n must be at least 1, got 0$"),
    (lambda: viz.save_gray("g.png", np.zeros((2, 2)), scale=0),
     "^scale must be a whole number of at least 1, got 0$"),
    (lambda: viz.tile_grid(np.zeros((0, 2, 2))), "^there are no tiles to arrange$"),
])
def test_what_cannot_be_drawn_is_named(tmp_path, monkeypatch, call, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        call()
    assert not list(tmp_path.iterdir())


def test_the_loss_curve_counts_its_unit_and_shows_the_held_out_cost(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kwargs: drawn.append(fig.axes[0]))
    viz.save_loss_curve(tmp_path / "loss.png", [3.0, 1.0, 0.5], unit="epoch",
                        validation=[3.5, 1.5, 0.9])
    ax = drawn[0]
    assert ax.get_xlabel() == "epoch"
    for line in ax.get_lines():  # the cost after the first epoch is at epoch 1
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    assert [line.get_label() for line in ax.get_lines()] == ["training", "held out"]
    assert all(tick == int(tick) for tick in ax.get_xticks())


def test_costs_near_float64_s_largest_are_drawn_as_their_logarithms(tmp_path, monkeypatch):
    """matplotlib's log axis failed on them (OverflowError from its ticks, a penalty weight of
    1e300 trains to such costs) and warned of overflows from inside matplotlib."""
    from matplotlib.figure import Figure

    drawn, savefig = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kwargs: drawn.append(
        fig.axes[0]) or savefig(fig, path, **kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        viz.save_loss_curve(tmp_path / "loss.png", [1e308, 1e307, 1e306],
                            validation=[1.7e308, 1e300, np.inf])
        viz.save_loss_curve(tmp_path / "small.png", [3.0, 1.0, 0.0])
    huge, small = drawn
    assert (huge.get_yscale(), huge.get_ylabel()) == ("linear", "log10 of the cost J")
    np.testing.assert_allclose(huge.get_lines()[0].get_ydata(), [308, 307, 306])
    assert (small.get_yscale(), small.get_ylabel()) == ("log", "cost J")
    assert Image.open(tmp_path / "loss.png").size == (600, 400)



def test_orientation_selectivity_of_ideal_8x8_filters(rng):
    """The figures of its docstring, which said an oriented edge or Gabor scores near 1: the
    zero-padded tile's border is an edge too, and an ideal 8 x 8 edge scores 0.59."""
    from sparseae.analysis import orientation_selectivity

    y, x = np.mgrid[0:8, 0:8] - 3.5
    edge = np.where(x < 0, 1.0, -1.0)
    grating = np.cos(np.pi * np.arange(8) / 2) * np.ones((8, 1))
    gabor = np.exp(-(x**2 + y**2) / 8) * np.sin(2 * np.pi * x / 6)
    W1 = np.stack([grating, gabor, edge, edge.T]).reshape(4, 64)
    np.testing.assert_allclose(orientation_selectivity(W1), [0.842, 0.756, 0.593, 0.593],
                               atol=5e-4)
    assert orientation_selectivity(rng.normal(size=(2000, 64))).mean() == pytest.approx(
        0.13, abs=0.005)

def test_orientation_of_filters_larger_than_the_padding():
    """A grating in the last rows of a 40 x 40 filter: fft2 padded to 32 would crop it away."""
    from sparseae.analysis import orientation_selectivity

    tile = np.zeros((40, 40))
    tile[34:, :] = np.cos(np.arange(40) * 2 * np.pi / 8)
    assert orientation_selectivity(tile.reshape(1, -1))[0] > 0.5


def test_orientation_selectivity_ignores_the_mean_of_a_filter(rng):
    """It is measured on the zero-mean filter: a constant, zero-padded, is a box whose power
    near DC lies along both axes, and would dilute the score."""
    from sparseae.analysis import orientation_selectivity

    W1 = rng.normal(size=(5, 64))
    np.testing.assert_allclose(orientation_selectivity(W1 + 3.0), orientation_selectivity(W1),
                               rtol=1e-9)


@pytest.mark.parametrize("W1, message", [
    (np.zeros(64), r"^W1 must have shape \(n_hidden, p \* p\), one filter per row, got \(64,\)$"),
    (np.zeros((3, 0)), r"^W1 must have shape .* got \(3, 0\)$"),
    (np.zeros((3, 10)), r"^filters of 10 inputs are not square images$"),
])
def test_orientation_of_what_is_not_filters_is_refused(W1, message):
    from sparseae.analysis import orientation_selectivity

    with pytest.raises(ValueError, match=message):
        orientation_selectivity(W1)


def test_an_interrupted_picture_leaves_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    from PIL import Image

    def half_written(self, f, **kwargs):
        f.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", half_written)
    monkeypatch.setattr(Figure, "savefig", half_written)
    for save in (lambda: viz.save_filters(tmp_path / "filters.png", np.eye(4, 16)),
                 lambda: viz.save_loss_curve(tmp_path / "loss.png", [2.0, 1.0])):
        with pytest.raises(KeyboardInterrupt):
            save()
    assert list(tmp_path.iterdir()) == []


def test_pictures_are_written_in_the_format_their_name_says(tmp_path):
    filters = np.eye(4, 16)
    for name, magic in [("f.png", b"\x89PNG"), ("f.JPG", b"\xff\xd8"), ("f", b"\x89PNG")]:
        viz.save_filters(tmp_path / name, filters)
        assert (tmp_path / name).read_bytes().startswith(magic), name
    with pytest.raises(ValueError, match=r"^cannot write \.svg pictures: name the file \.png"):
        viz.save_filters(tmp_path / "f.svg", filters)
    for name, magic in [("loss.pdf", b"%PDF"), ("loss.png", b"\x89PNG"), ("loss", b"\x89PNG")]:
        viz.save_loss_curve(tmp_path / name, [2.0, 1.0])
        assert (tmp_path / name).read_bytes().startswith(magic), name
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "f", "f.JPG", "f.png", "loss", "loss.pdf", "loss.png"]
