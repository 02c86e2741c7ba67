"""L-BFGS on a memory-mapped .npy several times larger than the memory budget.

Writes a float32 file of natural-image patches (64 features), trains the tutorial's 64-25-64
autoencoder on it for a few L-BFGS iterations with ``memory_budget`` set, in a child process whose
peak resident set size (VmHWM) is reported against the budget, and compares the time per
iteration with an in-memory run on a sample that fits, scaled per row.

    python benchmarks/out_of_core.py                 # 2 GB file, 500 MB budget
    python benchmarks/out_of_core.py --quick         # 400 MB file, 250 MB budget
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_patches(path: Path, n_bytes: int) -> int:
    """A float32 .npy of normalised natural-image patches, written in blocks; returns rows."""
    from sparseae.data import image_patches

    rows = n_bytes // (64 * 4)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 64))
    block = 500_000
    for i, start in enumerate(range(0, rows, block)):
        stop = min(start + block, rows)
        out[start:stop] = image_patches("natural", stop - start, 8, random_state=i)
    out.flush()
    del out
    return rows


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM: unlike ru_maxrss it starts afresh
    at exec, so the parent's memory does not leak into the child's figure)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(path: str, budget: str, iterations: int, sample_rows: int | None,
          copies: bool = False) -> dict:
    """Runs in a fresh process: train, then report time and peak RSS. ``copies``: read every
    chunk as a copy, as before the evaluation read the mapping in place."""
    import warnings

    from sparseae import SparseAutoencoder
    from sparseae.data import NpyFile, Rows

    if copies:
        chunks = Rows.chunks
        Rows.chunks = lambda self, rows, dtype=np.float64, views=False: chunks(self, rows, dtype)

    warnings.simplefilter("ignore")
    baseline = peak_rss()
    if sample_rows is None:
        data, budget_arg = NpyFile(path), budget
    else:
        data, budget_arg = np.array(np.load(path, mmap_mode="r")[:sample_rows]), None
    model = SparseAutoencoder(25, max_iter=iterations, dtype="float32", memory_budget=budget_arg,
                              random_state=0)
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    return {
        "rows": int(data.shape[0]) if sample_rows is not None else data.n_samples,
        "seconds": seconds,
        "iterations": model.n_iter_,
        "cost": model.loss_,
        "peak_rss": peak_rss(),
        "rss_after_imports": baseline,
    }


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    from sparseae.training import parse_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--file-size", default=None, help="size of the data file")
    parser.add_argument("--budget", default=None, help="memory budget")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the data file")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, budget, iterations, sample, copies = args.child
        print(json.dumps(child(path, budget, int(iterations),
                               None if sample == "none" else int(sample), copies == "copies")))
        return {}

    # the budget counts what the process holds, about 150 MB after the imports
    file_size = parse_bytes(args.file_size or ("400MB" if args.quick else "2GB"))
    budget = args.budget or ("250MB" if args.quick else "500MB")
    iterations = args.iterations or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "patches.npy"
        t = time.perf_counter()
        rows = write_patches(path, file_size)
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB ({rows} rows x 64, float32) in "
              f"{time.perf_counter() - t:.0f} s")
        streamed = run_child(path, budget, iterations, "none", "views")
        copied = run_child(path, budget, iterations, "none", "copies")
        sample_rows = max(1000, rows // 8)
        in_memory = run_child(path, budget, iterations, sample_rows, "views")

    per_row = {k: r["seconds"] / r["iterations"] / r["rows"] for k, r in
               (("streamed", streamed), ("in_memory", in_memory))}
    result = {
        "file_bytes": rows * 64 * 4,
        "budget_bytes": parse_bytes(budget),
        "streamed": streamed,
        "in_memory": in_memory,
        "streamed_over_in_memory_per_row": per_row["streamed"] / per_row["in_memory"],
        "streamed_copies": copied,
        "views_over_copies": streamed["seconds"] / streamed["iterations"]
        / (copied["seconds"] / copied["iterations"]),
    }
    budget_bytes = parse_bytes(budget)
    print(f"streamed:  {streamed['rows']} rows, {streamed['iterations']} L-BFGS iterations, "
          f"{streamed['seconds'] / streamed['iterations']:.2f} s/iteration, peak RSS "
          f"{streamed['peak_rss'] / 1e6:.0f} MB (budget {budget_bytes / 1e6:.0f} MB, "
          f"file {result['file_bytes'] / budget_bytes:.1f}x the budget; "
          f"{streamed['rss_after_imports'] / 1e6:.0f} MB after imports)")
    print(f"streamed, each chunk copied out of the mapping: "
          f"{copied['seconds'] / copied['iterations']:.2f} s/iteration, peak RSS "
          f"{copied['peak_rss'] / 1e6:.0f} MB; read in place / copied: "
          f"{result['views_over_copies']:.2f}")
    print(f"in memory: {in_memory['rows']} rows, "
          f"{in_memory['seconds'] / in_memory['iterations']:.2f} s/iteration, peak RSS "
          f"{in_memory['peak_rss'] / 1e6:.0f} MB")
    print(f"time per iteration per row, streamed / in memory: "
          f"{result['streamed_over_in_memory_per_row']:.2f}")
    print(f"peak RSS under budget: {streamed['peak_rss'] < budget_bytes}")
    return result


if __name__ == "__main__":
    main()
