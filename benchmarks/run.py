"""Run every benchmark: ``python benchmarks/run.py [--quick]``.

Each benchmark runs its competitors in the same process run and prints ratios. A full run also
writes everything it printed, with the machine, the versions and the command, into
docs/benchmarks.md between the markers below (the rest of that file, the reading of the
figures, is written by hand). PyTorch is a competitor and the optional backend here, never a
requirement of the library: pip install '.[bench]'.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import io
import os
import platform
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402
import out_of_core  # noqa: E402
import solvers  # noqa: E402
import speed  # noqa: E402

DOC = HERE.parent / "docs" / "benchmarks.md"
BEGIN = "<!-- begin: written by benchmarks/run.py -->"
END = "<!-- end: written by benchmarks/run.py -->"


class Tee(io.TextIOBase):
    """Print to the terminal and keep a copy."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text):
        self.stream.write(text)
        self.stream.flush()
        return self.copy.write(text)


def processor() -> str:
    """The CPU's model and the vector units that decide the figures (an Intel CPU with AMX
    rounds bfloat16 products; an AMD EPYC with AVX-512 gave other ratios), as Linux names them."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    units = [name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f"), ("AMX", "amx_tile"))
             if flags and flag in flags.group(1).split()]
    name = model.group(1).strip() if model else platform.machine()
    return f"{name} ({', '.join(units)})" if units else name


def blas() -> str:
    """NumPy's BLAS and the kernels it runs. OpenBLAS picks them for the CPU unless the
    environment's OPENBLAS_CORETYPE names others (one sandbox set Haswell on a Zen 5 CPU, whose
    own pick, SkylakeX, multiplies the exercise's float32 products in two thirds of the time)."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]:
            text = f"{pool['internal_api']} {pool['version']}"
            if pool.get("architecture"):
                text += f", its {pool['architecture']} kernels"
            if pool["internal_api"] == "openblas" and os.environ.get("OPENBLAS_CORETYPE"):
                text += f" as OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} asks"
            return text
    return "its BLAS not found"


def machine() -> str:
    import numpy
    import scipy
    import sklearn

    import sparseae

    try:
        import torch

        torch_version = f"PyTorch {torch.__version__}"
    except ImportError:
        torch_version = "no PyTorch"
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return (f"{processor()}, {os.cpu_count()} cores, {memory:.0f} GiB; Python "
            f"{platform.python_version()}, sparseae {sparseae.__version__}, NumPy "
            f"{numpy.__version__} ({blas()}), SciPy {scipy.__version__}, scikit-learn "
            f"{sklearn.__version__}, {torch_version}")


def write_doc(output: str, command: str):
    """Replace the generated section of docs/benchmarks.md (or add it at the end)."""
    section = (f"{BEGIN}\n## The latest full run, as printed\n\n"
               f"{datetime.date.today()}, `{command}`, on {machine()}.\n\n"
               f"```text\n{output.strip()}\n```\n{END}")
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                        help="write the output into docs/benchmarks.md (default: for a full "
                        "run, not for --quick)")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    tee = Tee(sys.stdout)
    with redirect_stdout(tee):
        print(machine())
        print("\n== training speed against PyTorch, plain NumPy and the matrix-multiply floor ==")
        speed.main(quick)
        print("\n== solvers at equal wall time ==")
        solvers.main(quick)
        print("\n== L-BFGS on a memory-mapped file larger than the memory budget ==")
        out_of_core.main(quick)
        if importlib.util.find_spec("torch") is None:
            print("\n(no PyTorch: pip install '.[bench]' for the backend benchmark)")
        else:
            import torch_backend

            print("\n== the PyTorch backend and torch.distributed ==")
            torch_backend.main(quick)
        print("\n== the numerical figures the README cites ==")
        accuracy.main(quick)
    if args.write if args.write is not None else not args.quick:
        write_doc(tee.copy.getvalue(), "python benchmarks/run.py" + " --quick" * args.quick)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
