"""Where the arithmetic runs: NumPy, or PyTorch on a CPU or a GPU.

The objective (``objective.py``, ``activations.py``) is written once. Most of what it does is
spelt the same on NumPy arrays and torch tensors: ``@``, in-place operators (``+=``, ``*=``),
slicing, ``.T``, ``.sum(0)``, ``matmul(..., out=)``, ``tanh(..., out=)``, ``clip``, ``log``. The few
operations that are spelt differently are the named kernels below, one class per library; a
function of the objective asks its arrays for theirs with ``ops(x)``. A new backend is one more
class here; a new activation or penalty is written once, with these kernels.

``Backend`` is the other half: where a ``Problem`` keeps its data and evaluations (``numpy`` or a
torch device such as ``cpu`` or ``cuda:0``) and in which dtype. The solvers keep their parameter
vector on the host in float64; ``to_device`` and ``to_host`` move it, and the data never leaves
the device.

PyTorch is optional (``pip install 'sparseae[torch]'``): it is imported only when a torch backend
is asked for.
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from functools import lru_cache

import numpy as np

# "bfloat16" (PyTorch only): float32 arrays and element-wise work, matrix products on bfloat16
# inputs with float32 accumulation, where the hardware has them (CUDA since Ampere; CPUs with
# AVX512-BF16 or AMX, through oneDNN).
DTYPES = ("float64", "float32", "bfloat16")


def storage_dtype(dtype) -> np.dtype:
    """The NumPy dtype that arrays of ``dtype`` are kept in (bfloat16: float32)."""
    return np.dtype("float32" if str(dtype) == "bfloat16" else dtype)


class NumpyOps:
    """The kernels on NumPy arrays."""

    name = "numpy"
    xp = np  # the functions spelt alike: matmul, tanh, exp, clip, log, sum, finfo, zeros_like

    @staticmethod
    def block_rows(like, n_features: int, n_hidden: int) -> int:
        """Rows per block of an evaluation (``objective.block_rows``): as many as make 4 MiB
        of working arrays (``x``, ``a3`` and ``delta3`` of ``n_features`` values per row,
        ``a2`` and ``delta2`` of ``n_hidden``). NumPy runs each element-wise step on one
        core, in one pass over memory: the passes go in cache-sized blocks of rows so that
        they hit the cache, and threads share out the rows. Each block also costs some 30
        calls from Python, which on thin arrays weigh as much as the passes: measured on the
        AMD EPYC (1 MiB of L2 cache per core, 32 MiB of L3), an evaluation of the exercise
        (64 -> 25) took 0.82 of its time at 4 MiB per block in float32 (2.36 -> 1.92 ms) and
        0.93 in float64 against blocks of 256 KiB of inputs (1 MiB of working arrays in
        float32), while 10000 x 64 -> 400 took 1.04 and 1.24 of its time at 4 and 8 times
        more rows than 4 MiB make."""
        return 2**22 // ((3 * n_features + 2 * n_hidden) * like.itemsize)

    # Threads that a block's worth of rows pays for (``objective.Workspace.parts``): below
    # half a block each, handing rows over costs more than a second core gives (on the
    # exercise, float32: 2000 rows in 0.62 ms on one thread, 0.81 ms on two; 4000 rows in
    # 1.25 and 1.09 ms; float64: 2000 rows in 1.35 and 1.22 ms).
    parts_per_block = 2

    @staticmethod
    def workers(n: int) -> ThreadPoolExecutor:
        """The threads that take the other parts of an evaluation's rows: one pool per size,
        shared by all workspaces, whose threads live as long as the process (per process: a
        forked child has none of its parent's threads)."""
        return _numpy_workers(n, os.getpid())

    @staticmethod
    def empty(shape, like):
        return np.empty(shape, like.dtype)

    @staticmethod
    def ones(shape, like):
        return np.ones(shape, like.dtype)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, like.dtype)

    @staticmethod
    def empty_hidden(shape, like):
        """A buffer for values of the hidden layer, ``(rows, h)``, laid out as this library's
        products on it run fastest (NumPy's: by rows; its BLAS showed no preference)."""
        return np.empty(shape, like.dtype)

    @staticmethod
    def one_minus_(a):
        """``a = 1 - a`` in place."""
        return np.subtract(1.0, a, out=a)

    @staticmethod
    def sigmoid_(z):
        """``z = 1 / (1 + exp(-z))`` in place, as ``(1 + tanh(z/2)) / 2``: it cannot overflow,
        and NumPy's vectorised tanh is several times faster than ``scipy.special.expit``. Its
        error is absolute (1e-16 in float64), not relative, for activations near 0."""
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
        return z

    @staticmethod
    def mul_sigmoid_derivative_(delta, a):
        """``delta *= a (1 - a)``, using ``a`` as scratch space."""
        delta *= a
        NumpyOps.one_minus_(a)
        delta *= a
        return delta

    @staticmethod
    def mul_tanh_derivative_(delta, a):
        """``delta *= 1 - a^2``, using ``a`` as scratch space."""
        a *= a
        NumpyOps.one_minus_(a)
        delta *= a
        return delta

    @staticmethod
    def relu_(z):
        return np.maximum(z, 0.0, out=z)

    @staticmethod
    def sumsq(x):
        """``sum x^2`` over all entries (a 0-d array: on a GPU it stays there)."""
        return np.vdot(x, x)

    @staticmethod
    def matmul_add(A, B, c, out=None):
        """``A B + c``, ``c`` a row added to every row (into ``out`` when given)."""
        out = np.matmul(A, B, out=out)
        out += c
        return out

    @staticmethod
    def column_sums(A, ones, out):
        """``out = ones^T A``: the column sums of ``A`` as one matrix-vector product."""
        return np.matmul(ones, A, out=out)

    @staticmethod
    def matmul_tn(A, B, out):
        """``out = A^T B`` (BLAS's "TN" product: sums over the rows of a block)."""
        return np.matmul(A.T, B, out=out)

    @staticmethod
    def cast(x, like):
        """``x`` in ``like``'s dtype (no copy when it already is)."""
        return x.astype(like.dtype, copy=False)

    @staticmethod
    def float64(x):
        """``x`` in float64 (no copy when it already is)."""
        return x.astype(np.float64, copy=False)

    @staticmethod
    def same_place(x, y) -> bool:
        """Whether ``y`` is an array of the same library, dtype and device as ``x``."""
        return isinstance(y, np.ndarray) and x.dtype == y.dtype

    @staticmethod
    def to_numpy(x) -> np.ndarray:
        return np.asarray(x)

    @staticmethod
    def asarray(x: np.ndarray, like):
        """The host array ``x`` as an array like ``like`` (library, device, dtype)."""
        return np.asarray(x, dtype=like.dtype)


class TorchOps:
    """The kernels on torch tensors (any device)."""

    name = "torch"

    def __init__(self):
        import torch

        self.xp = torch

    @staticmethod
    def block_rows(like, n_features: int, n_hidden: int) -> int | None:
        """Rows per block of an evaluation, None for whole arrays. On a GPU each step is one
        kernel over the whole array. On the CPU, as with NumPy, blocks that stay in the
        cache, shared by threads that each run PyTorch on one thread (``Backend.threads``),
        beat whole arrays spread over PyTorch's threads: on the exercise, 2 cores, an
        evaluation took 0.7 and 0.5 of autograd's time in float64 and float32 unblocked, 0.5
        and 0.4 in blocks of 512 KiB of inputs (1024 and 2048 rows of 64 features), which
        beat half and twice that."""
        if like.device.type != "cpu":
            return None
        return 2**19 // (n_features * like.element_size())

    parts_per_block = 1  # (a thread's PyTorch calls cost more)

    @staticmethod
    def workers(n: int) -> ThreadPoolExecutor | None:
        """The threads that take the other parts of an evaluation's rows: those of the
        innermost ``Backend.threads``, which end with it; outside one, none (the parts run one
        after the other on the calling thread). A thread that has run PyTorch's matrix products
        keeps OpenMP state, and while it lives, libgomp, managing more threads than there are
        cores, has the process's OpenMP threads sleep between parallel regions: measured on
        2 cores, PyTorch's operations on small arrays took 4 times as long afterwards
        (a 1000 x 64 sigmoid on 2 threads, 10 us -> 50 us) until the thread ended."""
        return _torch_workers.get()

    def empty(self, shape, like):
        return self.xp.empty(shape, dtype=like.dtype, device=like.device)

    def ones(self, shape, like):
        return self.xp.ones(shape, dtype=like.dtype, device=like.device)

    def zeros(self, shape, like):
        return self.xp.zeros(shape, dtype=like.dtype, device=like.device)

    def empty_hidden(self, shape, like):
        # On the CPU laid out by columns. PyTorch's products there (MKL) are slow where each
        # row of the result holds only h values (z2 = X W1^T, delta3 W2): by columns they write
        # rows of a block's length instead. Measured on the AMD EPYC, one thread, a 1024-row
        # block of the exercise: 59 -> 42 us for each of the two in float32, 113 -> 81 us in
        # float64 (only a2 W2^T, 97 -> 157 us in float64, loses); a whole evaluation with
        # matmul_tn below 12 to 14% faster in both dtypes. A GPU keeps rows, and so does a
        # reproducible a2 (objective.Workspace).
        if like.device.type != "cpu":
            return self.empty(shape, like)
        return self.xp.empty(shape[::-1], dtype=like.dtype, device=like.device).T

    # PyTorch's own fused kernels: one pass each, where the NumPy spelling takes three or four
    # (measured on 10000 x 64 float32: 0.18 ms against 0.71 ms for the derivative).
    @staticmethod
    def sigmoid_(z):
        return z.sigmoid_()

    def mul_sigmoid_derivative_(self, delta, a):
        return self.xp.ops.aten.sigmoid_backward.grad_input(delta, a, grad_input=delta)

    def mul_tanh_derivative_(self, delta, a):
        return self.xp.ops.aten.tanh_backward.grad_input(delta, a, grad_input=delta)

    @staticmethod
    def relu_(z):
        return z.clamp_min_(0.0)

    @staticmethod
    def sumsq(x):
        x = x.reshape(-1)
        return x @ x

    def matmul_add(self, A, B, c, out=None):
        # one call where NumPy's spelling takes two: PyTorch's calls cost more, and on the CPU
        # an evaluation makes three of these per block (exercise: 5.6 -> 5.3 ms in float64)
        return self.xp.addmm(c, A, B, out=out)

    def column_sums(self, A, ones, out):
        return self.xp.mv(A.T, ones, out=out)

    def matmul_tn(self, A, B, out):
        # the same on the CPU: a result of more rows than columns (delta3^T a2, 64 x 25) is
        # formed as its transpose, B^T A, and copied (float32 64 -> 44 us, float64 134 -> 101)
        if out.shape[0] > out.shape[1] and out.device.type == "cpu":
            return out.copy_(self.xp.mm(B.T, A).T)
        return self.xp.mm(A.T, B, out=out)

    @staticmethod
    def cast(x, like):
        return x.to(like.dtype)

    def float64(self, x):
        return x.to(self.xp.float64)

    def same_place(self, x, y) -> bool:
        return isinstance(y, self.xp.Tensor) and x.dtype == y.dtype and x.device == y.device

    @staticmethod
    def to_numpy(x) -> np.ndarray:
        return x.detach().cpu().numpy()

    def asarray(self, x: np.ndarray, like):
        return self.xp.from_numpy(np.ascontiguousarray(x)).to(like.device, like.dtype)


NUMPY = NumpyOps()
_torch_ops: TorchOps | None = None


def is_tensor(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def ops(x) -> NumpyOps | TorchOps:
    """The kernels for ``x``'s library."""
    global _torch_ops
    if is_tensor(x):
        if _torch_ops is None:
            _torch_ops = TorchOps()
        return _torch_ops
    return NUMPY


def import_torch(what: str = "the PyTorch backend", instead: str | None = None):
    """``torch``, or a clear error saying that ``what`` needs it, how to install it, and what
    else to do (``instead``), if anything."""
    try:
        import torch
    except ImportError:
        other = f", or {instead}" if instead else ""
        raise ImportError(f"{what} needs PyTorch: pip install 'sparseae[torch]'{other}") from None
    return torch


class Backend:
    """Where a problem's data and arithmetic live: ``device`` is ``"numpy"`` or a torch device
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...); ``dtype`` is float64, float32, or bfloat16
    (torch only: float32 with bfloat16 matrix products, see ``DTYPES``). ``self.dtype`` is the
    dtype arrays are kept in."""

    def __init__(self, device: str | None = "numpy", dtype="float64"):
        try:
            self.dtype = storage_dtype(dtype)
        except TypeError:
            self.dtype = None
        if self.dtype is None or self.dtype.name not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
        self.bfloat16 = str(dtype) == "bfloat16"
        self.device = "numpy" if device is None else str(device)
        if self.device == "numpy":
            if self.bfloat16:
                raise ValueError("dtype='bfloat16' needs a PyTorch device (device='cpu' or "
                                 "device='cuda'): NumPy has no bfloat16 matrix products")
            self.torch = None
            return
        torch = self.torch = import_torch(
            f"device={self.device!r} (a PyTorch device; without PyTorch: device='numpy')")
        try:
            self._device = torch.device(self.device)
        except RuntimeError:
            hint = (f" (device names are lower case: {self.device.lower()!r})"
                    if self.device != self.device.lower() else "")
            raise ValueError(f"unknown device {device!r}: give numpy, or a PyTorch device such "
                             f"as cpu, cuda or cuda:1{hint}") from None
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} asked for, but PyTorch sees no CUDA GPU")
        if self._device.type == "cuda" and (self._device.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} asked for, but PyTorch sees "
                             f"{torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
        if self._device.type not in ("cpu", "cuda"):  # (mps, xpu, ...: kernels untested here)
            raise ValueError(f"device={device!r} is not supported: give numpy, cpu or cuda")
        self._dtype = getattr(torch, self.dtype.name)

    @property
    def is_numpy(self) -> bool:
        return self.torch is None

    @property
    def is_gpu(self) -> bool:
        return not self.is_numpy and self._device.type != "cpu"

    def to_device(self, x):
        """A host array (any float dtype) as an array of this backend in its dtype. A read-only
        one (``np.load(path, mmap_mode="r")``) is shared as it is, without PyTorch's warning
        that writing to it is undefined: the data is only read."""
        if self.is_numpy:
            return np.asarray(x).astype(self.dtype, copy=False)
        x = np.ascontiguousarray(x)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The given NumPy array is not writable",
                                    UserWarning)
            tensor = self.torch.from_numpy(x)
        return tensor.to(device=self._device, dtype=self._dtype)

    def to_host(self, x, dtype=np.float64) -> np.ndarray:
        """An array of this backend as a NumPy array of ``dtype``."""
        return ops(x).to_numpy(x).astype(dtype, copy=False)

    def empty(self, shape):
        if self.is_numpy:
            return np.empty(shape, self.dtype)
        return self.torch.empty(shape, dtype=self._dtype, device=self._device)

    def threads(self, n: int | None, lanes: int = 1):
        """A context in which PyTorch's CPU arithmetic runs on ``n`` threads (None: as it is),
        with ``lanes - 1`` worker threads for the parts of the rows (``TorchOps.workers``) that
        end with it; PyTorch's threads restored on exit. None on NumPy (``fitting.blas_threads``)
        or a GPU. PyTorch keeps its count per thread and gives a thread the process's count
        of the moment it first computes, ``n`` for these workers (1 wherever there are several
        lanes: ``SparseAutoencoder._torch_threads``)."""
        if self.is_numpy or self.is_gpu:
            return nullcontext()
        return _torch_threads(self.torch, n, lanes - 1)

    def precision(self):
        """A context in which this backend's evaluations run: for bfloat16, PyTorch's float32
        matrix products may use bfloat16 inputs (``torch.set_float32_matmul_precision``,
        restored on exit). On the CPU (oneDNN) that is what "medium" gives; CUDA takes it as
        TF32, its only reduced float32 precision."""
        return _matmul_precision(self.torch, "medium") if self.bfloat16 else nullcontext()

    def index(self, positions: np.ndarray):
        """Row positions in the form this backend indexes with."""
        if self.is_numpy:
            return positions
        return self.torch.from_numpy(np.asarray(positions, dtype=np.int64)).to(self._device)

    def __repr__(self):
        dtype = "bfloat16" if self.bfloat16 else self.dtype.name
        return f"Backend(device={self.device!r}, dtype={dtype!r})"


@lru_cache
def _numpy_workers(n: int, pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n, "sparseae")


_torch_workers: ContextVar[ThreadPoolExecutor | None] = ContextVar("sparseae_torch_workers",
                                                                   default=None)


@contextmanager
def _torch_threads(torch, n: int | None, workers: int):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    pool = ThreadPoolExecutor(workers, "sparseae-torch") if workers > 0 else None
    token = _torch_workers.set(pool)
    try:
        yield
    finally:
        _torch_workers.reset(token)
        if pool is not None:
            pool.shutdown()  # (its threads end: see TorchOps.workers)
        torch.set_num_threads(before)


@contextmanager
def _matmul_precision(torch, precision: str):
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)
