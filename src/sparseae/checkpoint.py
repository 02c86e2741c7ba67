"""Checkpoints: a training run's whole state in one file, written atomically, and Ctrl-C (or
SIGTERM) that stops a run cleanly instead of killing it.

A checkpoint is a ``.npz`` of plain arrays plus a JSON header (as model files are: no pickle). The
state is a nested dict of arrays, numbers, strings and lists: arrays are stored under their path
(``solver/rule/m``), everything else in the header.
"""

from __future__ import annotations

import numbers
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .io import read_archive, write_archive

FORMAT = "sparseae.checkpoint"
VERSION = 1


def save_checkpoint(path, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically (a crash leaves the previous checkpoint intact)."""
    arrays: dict[str, np.ndarray] = {}

    def split(obj, key):
        if isinstance(obj, np.ndarray):
            arrays[key] = obj
            return {"__array__": key}
        if isinstance(obj, dict):
            return {str(k): split(v, f"{key}/{k}") for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [split(v, f"{key}/{i}") for i, v in enumerate(obj)]
        if isinstance(obj, np.generic):
            return obj.item()
        return obj

    header = {"format": FORMAT, "version": VERSION, "state": split(state, "state")}
    return write_archive(path, header, arrays)


def load_checkpoint(path) -> dict:
    """The state saved by ``save_checkpoint``; a clear error for anything else."""
    header, arrays = read_archive(path, {FORMAT: VERSION}, "sparseae checkpoint")

    def join(obj):
        if isinstance(obj, dict):
            if set(obj) == {"__array__"}:
                if obj["__array__"] not in arrays:
                    raise ValueError(f"{path} is a damaged checkpoint: {obj['__array__']} missing")
                return arrays[obj["__array__"]]
            return {k: join(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [join(v) for v in obj]
        return obj

    return join(header["state"])


class Checkpointer:
    """Saves the run's state to ``path`` every ``every`` iterations and when asked."""

    def __init__(self, path, every: int = 25):
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"checkpoint interval must be an integer of at least 1, got "
                             f"{every!r}")
        self.path = Path(path)
        self.every = every
        self.saves = 0

    def maybe_save(self, iteration: int, state) -> bool:
        """Save if ``iteration`` is a multiple of ``every``; ``state`` may be a callable."""
        if iteration % self.every:
            return False
        self.save(state() if callable(state) else state)
        return True

    def save(self, state: dict) -> Path:
        path = save_checkpoint(self.path, state)
        self.saves += 1  # (one that failed, on a full disk say, saved nothing)
        return path


@contextmanager
def stop_signals(handler):
    """``handler`` for SIGINT (Ctrl-C) and SIGTERM (kill, timeout, docker stop, a batch
    scheduler's notice) while active, the previous handlers after. One that the parent process
    set to be ignored (a shell's background job ignores SIGINT) stays ignored, and one set
    outside Python (which could not be put back) stays set. Signals reach only the main thread,
    the one ``signal.signal`` allows: in another this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(s) not in (signal.SIG_IGN, None)}
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)


class GracefulInterrupt:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM only sets a flag, which the solvers
    poll after every step; a second one of either interrupts at once, as a second Ctrl-C does.
    (Outside the main thread no signal sets it: see ``stop_signals``.)"""

    def __init__(self):
        self.requested = False
        self._signals = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        self._signals = stop_signals(self._handle)
        self._signals.__enter__()
        return self

    def __exit__(self, *exc):
        self._signals.__exit__(None, None, None)  # (the previous handlers back; exc goes on)
        return False
