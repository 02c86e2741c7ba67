import numpy as np
import pytest


@pytest.fixture(scope="session")
def patches():
    """1000 normalised 8x8 patches of the built-in images (the tutorial's data, smaller)."""
    from sparseae.data import image_patches

    return image_patches("natural", 1000, 8, random_state=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
