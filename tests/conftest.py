import signal
import subprocess
import sys

import numpy as np
import pytest

# A suite started in the background of a non-interactive shell (`pytest &`, a runner's script)
# inherits SIGINT ignored, and sparseae leaves an ignored Ctrl-C ignored, as it should; the tests
# of Ctrl-C send it to this process, so here it must be Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def patches():
    """1000 normalised 8x8 patches of the built-in images (the tutorial's data, smaller)."""
    from sparseae.data import image_patches

    return image_patches("natural", 1000, 8, random_state=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


NO_TORCH = (
    "import importlib.abc, sys\n"
    "class NoTorch(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.split('.')[0] == 'torch':\n"
    "            raise ImportError('No module named torch')\n"
    "sys.meta_path.insert(0, NoTorch())\n"
)


@pytest.fixture
def without_torch():
    """Runs Python code in a new process in which ``import torch`` fails, as where PyTorch is
    not installed; returns the ``CompletedProcess``."""
    def run(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True,
                              text=True, timeout=300)
    return run
