"""Run every benchmark: ``python benchmarks/run.py [--quick]``.

Each benchmark runs its competitors in the same process run and prints ratios; the figures
measured on the development machine, with the commands, are in docs/benchmarks.md. PyTorch is a
competitor here, never a requirement of the library: pip install '.[bench]'.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import out_of_core  # noqa: E402
import solvers  # noqa: E402
import speed  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    args = parser.parse_args(argv)
    import numpy
    import scipy

    import sparseae

    print(f"sparseae {sparseae.__version__}, Python {platform.python_version()}, NumPy "
          f"{numpy.__version__}, SciPy {scipy.__version__}, {platform.machine()}")
    quick = ["--quick"] if args.quick else []
    print("\n== training speed against PyTorch, plain NumPy and the matrix-multiply floor ==")
    speed.main(quick)
    print("\n== solvers at equal wall time ==")
    solvers.main(quick)
    print("\n== L-BFGS on a memory-mapped file larger than the memory budget ==")
    out_of_core.main(quick + (["--file-size", "400MB", "--budget", "250MB"] if args.quick
                              else []))


if __name__ == "__main__":
    main()
