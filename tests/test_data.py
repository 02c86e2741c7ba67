import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from sparseae.data import (
    downsample,
    image_patches,
    load,
    normalize_patches,
    patches_from_images,
    read_images,
    sample_patches,
    whiten_olshausen_field,
)
from sparseae.data.images import builtin_images, to_grayscale


def test_normalisation_follows_the_tutorial(rng):
    raw = rng.normal(size=(500, 64)) * rng.uniform(0.1, 3, size=(500, 1)) + 5.0
    out = normalize_patches(raw)
    assert out.min() >= 0.1 and out.max() <= 0.9
    centered = raw - raw.mean(axis=1, keepdims=True)
    limit = 3 * centered.std()
    expected = (np.clip(centered, -limit, limit) / limit + 1) * 0.4 + 0.1
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    # each patch's mean was removed: unclipped patches are centred on 0.5
    unclipped = np.all(np.abs(centered) < limit, axis=1)
    np.testing.assert_allclose(out[unclipped].mean(axis=1), 0.5, atol=1e-12)


def test_constant_patches_become_mid_gray():
    np.testing.assert_array_equal(normalize_patches(np.ones((3, 4))), 0.5)


@pytest.mark.parametrize("value, width", [(0.1, 64), (0.7, 64), (12.7, 49), (0.7, 3)])
def test_constant_patches_whose_mean_rounds_become_mid_gray(value, width):
    """The mean of ``width`` copies of ``value`` is one rounding off it: the centred values
    were +-1e-17, their limit 3e-17, and every pixel came out 0.63 or 0.37."""
    from sparseae.data.scaling import PatchNormalizer

    X = np.full((4, width), value)
    np.testing.assert_array_equal(normalize_patches(X), 0.5)
    normalizer = PatchNormalizer().fit(X)
    assert normalizer.limit_ == 0.0
    np.testing.assert_array_equal(normalizer.transform(X), 0.5)


@pytest.mark.parametrize("limit", [-1.0, np.nan, np.inf])
def test_a_clipping_limit_out_of_range_is_refused(limit):
    """np.clip at (1, -1) made every value 0.9; NaN made every value NaN."""
    with pytest.raises(ValueError, match="limit must be >= 0 and finite"):
        normalize_patches(np.arange(8.0).reshape(2, 4), limit)


def test_patches_are_windows_of_the_images(rng):
    image = np.arange(20 * 30, dtype=float).reshape(20, 30)
    patches = sample_patches([image], 200, 5, rng)
    assert patches.shape == (200, 25)
    for patch in patches[:20]:
        tile = patch.reshape(5, 5)
        r, c = divmod(int(tile[0, 0]), 30)
        np.testing.assert_array_equal(tile, image[r : r + 5, c : c + 5])
    starts = patches[:, 0]
    assert len(np.unique(starts)) > 100  # positions are spread over the image


def test_every_window_can_be_sampled(rng):
    """A 6x6 image has 2x2 windows of 5x5 pixels; their top-left pixels are 0, 1, 6 and 7."""
    image = np.arange(36.0).reshape(6, 6)
    patches = sample_patches([image], 400, 5, rng)
    assert set(patches[:, 0]) == {0.0, 1.0, 6.0, 7.0}


def test_an_image_as_large_as_the_patch_is_its_one_patch(rng):
    image = np.arange(25.0).reshape(5, 5)
    np.testing.assert_array_equal(sample_patches([image], 3, 5, rng), [image.ravel()] * 3)


def test_scalers_fitted_again_forget_their_first_fit(rng):
    """``fit`` starts afresh, as scikit-learn's do; only ``partial_fit`` accumulates."""
    from sparseae.data.scaling import PatchNormalizer, UnitScaler

    A, B = rng.normal(size=(50, 16)) * 10.0, rng.normal(size=(30, 16))
    refitted, fresh = PatchNormalizer().fit(A).fit(B), PatchNormalizer().fit(B)
    assert (refitted.count_, refitted.limit_) == (fresh.count_, fresh.limit_) == (480, fresh.limit_)
    unit = UnitScaler().fit(A).fit(B)
    assert (unit.data_min_, unit.data_max_) == (B.min(), B.max())
    np.testing.assert_array_equal(unit.transform(B), UnitScaler().fit(B).transform(B))


def test_the_unit_scaling_of_constant_data_is_zero_not_nan():
    from sparseae.data.scaling import UnitScaler

    np.testing.assert_array_equal(UnitScaler().fit_transform(np.full((3, 2), 7.0)), 0.0)


def test_scalers_fitted_chunk_by_chunk_equal_one_fit(rng):
    from sparseae.data.scaling import PatchNormalizer, UnitScaler

    X = rng.normal(size=(300, 16)) * rng.uniform(0.5, 2.0, size=(300, 1))
    X[150, 3] = -9.0  # the minimum in the second chunk, the maximum in the third
    X[250, 5] = 9.0
    chunks = np.array_split(X, 3)
    patch, unit = PatchNormalizer(), UnitScaler()
    for chunk in chunks:
        patch.partial_fit(chunk)
        unit.partial_fit(chunk)
    centered = X - X.mean(axis=1, keepdims=True)
    assert patch.limit_ == pytest.approx(3.0 * centered.std(), rel=1e-12)
    assert patch.limit_ == pytest.approx(PatchNormalizer().fit(X).limit_, rel=1e-12)
    assert (unit.data_min_, unit.data_max_) == (-9.0, 9.0)


def test_the_patch_normalizer_transforms_with_the_limit_it_learned(rng):
    """New patches are clipped at the training patches' limit, not at one of their own: a few
    rows transformed are those rows of the whole set normalised at once."""
    from sparseae.data.scaling import PatchNormalizer

    X = rng.normal(size=(300, 16)) * rng.uniform(0.5, 2.0, size=(300, 1))
    np.testing.assert_allclose(PatchNormalizer().fit(X).transform(X[:5]),
                               normalize_patches(X)[:5], rtol=1e-14)


def test_patches_come_from_every_image(rng):
    images = [np.zeros((10, 10)), np.ones((12, 9))]
    patches = sample_patches(images, 400, 4, rng)
    share = patches[:, 0].mean()
    assert 0.4 < share < 0.6


def test_fewer_patches_than_images_leave_some_images_unsampled(rng):
    """The built-in images are ten: three patches come from at most three of them."""
    images = [np.full((9, 9), float(k)) for k in range(10)]
    patches = sample_patches(images, 3, 8, rng)
    assert patches.shape == (3, 64)
    assert all(np.all(patch == images[int(patch[0])][:8, :8].ravel()) for patch in patches)
    assert image_patches("natural", 3, 8, random_state=0).shape == (3, 64)


def test_sampling_is_reproducible():
    a = image_patches("natural", 50, 8, random_state=5)
    b = image_patches("natural", 50, 8, random_state=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50, 64)


def frequencies(n):
    """The frequency in cycles per pixel of each entry of an n x n ``fft2``."""
    return np.hypot(np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :])


def band_power(img, lo, hi):
    """The mean power of the square image ``img`` at frequencies in [lo, hi)."""
    f = frequencies(img.shape[0])
    power = np.abs(np.fft.fft2(img)) ** 2
    return power[(f >= lo) & (f < hi)].mean()


def test_whitening_flattens_a_natural_spectrum(rng):
    """1/f noise (the amplitude spectrum of natural scenes) comes out with a flat spectrum at
    mid frequencies, before the roll-off."""
    n = 128
    f = frequencies(n)
    f[0, 0] = 1.0
    pink = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, n))) / f))
    white = whiten_olshausen_field(pink)
    assert white.shape == pink.shape and white.std() == pytest.approx(1.0)

    ratio_before = band_power(pink, 0.05, 0.1) / band_power(pink, 0.2, 0.25)
    ratio_after = band_power(white, 0.05, 0.1) / band_power(white, 0.2, 0.25)
    assert ratio_before > 10
    assert 0.5 < ratio_after < 2.5


@pytest.mark.parametrize("value, shape", [(71.46185366547527, (58, 18)), (0.1, (33, 47)),
                                          (19.412977289079357, (56, 40))])
def test_whitening_a_constant_image_gives_zeros(value, shape):
    """Its mean is a rounding off its value (1.4e-14 for the first): the filter's rounding of
    that remainder, about 1e-30, was scaled to unit variance, a texture of pure noise."""
    np.testing.assert_array_equal(whiten_olshausen_field(np.full(shape, value)), 0.0)


def test_whitening_rolls_off_above_0_4_cycles_per_pixel(rng):
    """White noise comes out with the power of the gain R(f) = f exp(-(f / f0)^4), f0 = 0.8 x
    Nyquist = 0.4 cycles per pixel: between 0.45 and 0.5 about 0.11 of that between 0.2 and
    0.25 (3.5 with f0 = 0.8). The mirrored borders add a little power at high frequencies."""
    white = whiten_olshausen_field(rng.normal(size=(128, 128)))
    f = frequencies(128)
    gain = (f * np.exp(-((f / 0.4) ** 4))) ** 2
    expected = gain[(f >= 0.45) & (f < 0.5)].mean() / gain[(f >= 0.2) & (f < 0.25)].mean()
    ratio = band_power(white, 0.45, 0.5) / band_power(white, 0.2, 0.25)
    assert ratio == pytest.approx(expected, rel=0.3)


def test_whitening_mirrors_the_borders_instead_of_wrapping_them():
    """A step from 0 to 1 in the middle of the image is its one edge: tiled by wrapping (the
    FFT's own periodic borders), its right border met its left one, a second edge, and the
    whitened border columns came out as strong as the step (2.1 against 2.1, not 0.21)."""
    image = np.zeros((32, 32))
    image[:, 16:] = 1.0
    strength = np.abs(whiten_olshausen_field(image)).max(axis=0)
    assert set(np.argsort(strength)[-2:]) == {15, 16}
    assert strength[[0, -1]].max() < 0.1 * strength.max()


def test_prewhitened_patches_are_cut_from_the_whitened_images(rng):
    image = rng.normal(size=(40, 40)).cumsum(0).cumsum(1)  # a smooth, 1/f-like image
    got = patches_from_images([image], 50, 8, prewhiten=True, normalize=False, random_state=0)
    expected = sample_patches([whiten_olshausen_field(image)], 50, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(got, expected)


def test_downsample_averages_blocks():
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(downsample(image, 2), [[2.5, 4.5], [10.5, 12.5]])
    assert downsample(np.zeros((5, 7)), 2).shape == (2, 3)


def test_grayscale():
    rgb = np.zeros((3, 1, 3))
    rgb[[0, 1, 2], 0, [0, 1, 2]] = 1.0  # red, green, blue pixels
    np.testing.assert_allclose(to_grayscale(rgb)[:, 0], [0.299, 0.587, 0.114])
    rgba = np.concatenate([rgb, np.full((3, 1, 1), 0.5)], axis=2)  # alpha is dropped
    np.testing.assert_array_equal(to_grayscale(rgba), to_grayscale(rgb))
    with pytest.raises(ValueError, match="expected an image"):
        to_grayscale(np.zeros((2, 2, 5)))


def test_builtin_images_are_grayscale_photographs():
    images = builtin_images()
    assert len(images) == 2
    assert all(im.ndim == 2 and im.shape == (213, 320) for im in images)
    assert all(0 <= im.min() and im.max() <= 1 for im in images)


def test_read_mat_stack(tmp_path, rng):
    stack = rng.normal(size=(16, 20, 3))
    savemat(tmp_path / "IMAGES.mat", {"IMAGES": stack})
    X = image_patches(str(tmp_path / "IMAGES.mat"), 30, 8, random_state=0)
    assert X.shape == (30, 64) and X.min() >= 0.1 and X.max() <= 0.9


@pytest.mark.parametrize("name", ["IMAGES.mat", "IMAGES.MAT"])
def test_mat_stacks_are_not_prewhitened_unless_asked(tmp_path, rng, name):
    """The tutorial's IMAGES.mat is whitened already: by default its patches are cut as they
    are; photographs (and a stack, when asked) are whitened first. The suffix is told in any
    case, as the file is read."""
    stack = rng.normal(size=(16, 20, 2)).cumsum(0)
    savemat(tmp_path / name, {"IMAGES": stack}, appendmat=False)
    images = [stack[:, :, 0], stack[:, :, 1]]
    source = str(tmp_path / name)
    np.testing.assert_allclose(image_patches(source, 30, 8, random_state=0),
                               patches_from_images(images, 30, 8, prewhiten=False), rtol=1e-12)
    np.testing.assert_allclose(image_patches(source, 30, 8, prewhiten=True, random_state=0),
                               patches_from_images(images, 30, 8, prewhiten=True), rtol=1e-12)


def test_32_bit_integer_images_beyond_16_bits_are_refused(tmp_path):
    from sparseae.data.images import read_image

    for name, pixels in (("above.tif", [[0, 70000]]), ("below.tif", [[-5, 7]])):
        Image.fromarray(np.array(pixels, dtype=np.int32), "I").save(tmp_path / name)
        with pytest.raises(ValueError, match=rf"^cannot read image {tmp_path / name}: its 32-bit "
                                             r"integer pixels go beyond 16 bits \(0 to 65535\)$"):
            read_image(tmp_path / name)
    Image.fromarray(np.array([[0, 65535]], dtype=np.int32), "I").save(tmp_path / "edge.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "edge.tif"), [[0.0, 1.0]])


def test_read_mat_with_several_arrays(tmp_path, rng):
    savemat(tmp_path / "two.mat", {"a": rng.normal(size=(9, 9, 2)), "b": rng.normal(size=(9, 9))})
    with pytest.raises(ValueError, match=r"name the one to use \(key=, or --key"):
        load(tmp_path / "two.mat")
    assert load(tmp_path / "two.mat", key="a", n_patches=7).to_array().shape == (7, 64)
    assert load(tmp_path / "two.mat", key="b").to_array().shape == (9, 9)
    with pytest.raises(ValueError, match="no numeric array 'c'"):
        load(tmp_path / "two.mat", key="c")


def test_read_image_files_and_folders(tmp_path, rng):
    pixels = (rng.uniform(size=(24, 32)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(tmp_path / "b.jpg", quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 macOS metadata, not an image")
    (image,) = read_images(tmp_path / "a.png")
    np.testing.assert_allclose(image, pixels / 255.0)
    images = read_images(tmp_path)
    assert len(images) == 2 and images[1].shape == (24, 32)
    X = image_patches(str(tmp_path), 40, 8, random_state=0)
    assert X.shape == (40, 64)
