"""The linter is part of the test suite, so the README's one test command enforces it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the [test] extra")
def test_ruff_finds_nothing():
    result = subprocess.run(["ruff", "check", "src", "tests", "benchmarks", "examples"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_imports_on_its_own():
    """Each module imported first, into a package that has nothing else loaded yet: an import
    cycle shows only in some orders, which the tests' own imports may never take (sparseae.fitting
    imported first once stopped at the scalers' import of it)."""
    code = """
import importlib, pkgutil, sys
import sparseae
names = [m.name for m in pkgutil.walk_packages(sparseae.__path__, "sparseae.")
         if m.name != "sparseae.__main__"]  # it runs the command line
for name in names:
    for loaded in [key for key in sys.modules if key.split(".")[0] == "sparseae"]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        print(f"{name}: {error!r}")
print(len(names), "modules")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(" modules\n") and int(result.stdout.split()[-2]) >= 20
    assert result.stdout.count("\n") == 1, result.stdout
