"""Training data: the tutorial's natural-image patches, from built-in or the user's images."""

from __future__ import annotations

import numpy as np

from .images import (
    builtin_images,
    downsample,
    normalize_patches,
    read_images,
    sample_patches,
    whiten_olshausen_field,
)

BUILTIN = {"natural": builtin_images}


def image_patches(
    source: str = "natural",
    n_patches: int = 10000,
    patch_size: int = 8,
    *,
    prewhiten: bool | None = None,
    variable: str | None = None,
    random_state: int | None = 0,
) -> np.ndarray:
    """The tutorial's training set: ``n_patches`` normalised ``patch_size``-square patches.

    ``source`` is a built-in name (``"natural"``: scikit-learn's sample photographs) or a path to
    a ``.mat`` image stack, an image file or a folder of images. ``prewhiten`` applies Olshausen and
    Field's whitening first; by default it is on for photographs (built-in or image files) and off
    for ``.mat`` stacks, which in the tutorial (``IMAGES.mat``) are already whitened.
    """
    if n_patches < 1 or patch_size < 1:
        raise ValueError(
            f"n_patches and patch_size must be positive, got {n_patches} and {patch_size}"
        )
    if source in BUILTIN:
        images = BUILTIN[source]()
        is_mat = False
    else:
        images = read_images(source, variable)
        is_mat = str(source).lower().endswith(".mat")
    if prewhiten if prewhiten is not None else not is_mat:
        images = [whiten_olshausen_field(image) for image in images]
    rng = np.random.default_rng(random_state)
    return normalize_patches(sample_patches(images, n_patches, patch_size, rng))


__all__ = ["image_patches", "BUILTIN", "read_images", "sample_patches", "normalize_patches",
           "whiten_olshausen_field", "downsample"]
