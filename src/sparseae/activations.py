"""Activation functions and their derivatives, written from the outputs.

Each activation maps pre-activations ``z`` to outputs ``a`` in place and gives ``f'(z)`` from ``a``
alone, so the backward pass never needs ``z`` again. ``forward`` overwrites ``z`` with ``a``;
``mul_derivative(delta, a)`` multiplies ``delta`` by ``f'(z)`` in place and may use ``a`` as
scratch space (it is overwritten). In place, each step is one pass over the array and nothing is
allocated: on the thin shapes of these networks the element-wise work costs more than the matrix
products.

    sigmoid   a = 1 / (1 + exp(-z))   f'(z) = a (1 - a)
    tanh      a = tanh(z)              f'(z) = 1 - a^2
    relu      a = max(z, 0)            f'(z) = [a > 0]
    linear    a = z                    f'(z) = 1

``softmax`` (rows of exponentials normalised to sum 1, after subtracting each row's maximum so
that ``exp`` cannot overflow) is the classifier's output; paired with the cross-entropy its delta
is ``a - Y`` and needs no derivative.

A bounded activation also says where a unit is inhibited (``low``) and fully on (``high``). The
sparsity penalties act on the *activity* ``u = (a - low) / (high - low)``, which lies in [0, 1]:
``u = a`` for sigmoid units and ``u = (a + 1) / 2`` for tanh units, which count as inhibited at -1.

A new activation is one more class here and one more entry in ``ACTIVATIONS``. The same code
runs on NumPy arrays and torch tensors: it uses in-place operators, the functions both libraries
spell alike (``ops(z).xp.tanh``) and the named kernels of ``backend.py`` for the rest (ReLU shows
the plain way). Sigmoid and tanh, on the hot path of every evaluation, go through named kernels
so that PyTorch can use its fused one-pass versions.
"""

from __future__ import annotations

import numpy as np

from .backend import ops


class Sigmoid:
    name = "sigmoid"
    low, high = 0.0, 1.0

    @staticmethod
    def forward(z):
        return ops(z).sigmoid_(z)

    @staticmethod
    def mul_derivative(delta, a):
        return ops(a).mul_sigmoid_derivative_(delta, a)  # delta * a (1 - a)


class Tanh:
    name = "tanh"
    low, high = -1.0, 1.0

    @staticmethod
    def forward(z):
        return ops(z).xp.tanh(z, out=z)

    @staticmethod
    def mul_derivative(delta, a):
        return ops(a).mul_tanh_derivative_(delta, a)  # delta * (1 - a^2)


class ReLU:
    name = "relu"
    low, high = None, None  # unbounded: no sparsity target applies

    @staticmethod
    def forward(z: np.ndarray) -> np.ndarray:
        return ops(z).relu_(z)

    @staticmethod
    def mul_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        delta *= a > 0
        return delta


class Linear:
    name = "linear"
    low, high = None, None

    @staticmethod
    def forward(z: np.ndarray) -> np.ndarray:
        return z

    @staticmethod
    def mul_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        return delta


ACTIVATIONS = {cls.name: cls for cls in (Sigmoid, Tanh, ReLU, Linear)}
HIDDEN_ACTIVATIONS = tuple(name for name, cls in ACTIVATIONS.items() if cls.low is not None)
DECODERS = ("sigmoid", "linear")


def get(name: str):
    """The activation called ``name``; a clear error for an unknown one."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Overwrite the rows of ``z`` with their log-softmax, ``z - max - log sum exp(z - max)``:
    exact where the softmax itself underflows to 0."""
    z -= z.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def softmax(z: np.ndarray) -> np.ndarray:
    """Overwrite the rows of ``z`` with their softmax: ``exp(z - max) / sum exp(z - max)``."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
