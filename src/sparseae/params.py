"""The parameters W1, b1, W2, b2: initialisation and the flat vector the optimizers see.

Shapes, with rows as samples (``X`` is ``(m, n_features)``)::

    W1 (n_hidden, n_features)   b1 (n_hidden,)
    W2 (n_features, n_hidden)   b2 (n_features,)

The flat vector ``theta`` holds ``W1, W2, b1, b2`` in that order, as the UFLDL exercise does.
``unpack`` returns views into ``theta``: it copies nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .backend import Backend, ops

INITS = ("ufldl", "glorot_uniform", "glorot_normal")


class Params(NamedTuple):
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    @property
    def n_hidden(self) -> int:
        return self.W1.shape[0]

    @property
    def n_features(self) -> int:
        return self.W1.shape[1]

    def astype(self, dtype) -> Params:
        return Params(*(p.astype(dtype, copy=False) for p in self))


def size(n_features: int, n_hidden: int) -> int:
    """Length of ``theta`` for a ``n_features -> n_hidden -> n_features`` autoencoder."""
    return 2 * n_hidden * n_features + n_hidden + n_features


def pack(params: Params, out: np.ndarray | None = None) -> np.ndarray:
    """Flatten ``params`` into ``theta`` (into ``out`` when given)."""
    W1 = params.W1
    if out is None:
        out = ops(W1).empty(size(params.n_features, params.n_hidden), W1)
    unpacked = unpack(out, params.n_features, params.n_hidden)
    for dst, src in zip(unpacked, params):
        dst[...] = src
    return out


def unpack(theta: np.ndarray, n_features: int, n_hidden: int) -> Params:
    """Views of ``theta`` as ``Params``; writing to them writes to ``theta``."""
    hn = n_hidden * n_features
    if theta.shape != (size(n_features, n_hidden),):
        raise ValueError(
            f"theta has shape {theta.shape}, expected ({size(n_features, n_hidden)},) "
            f"for {n_features} features and {n_hidden} hidden units"
        )
    W1 = theta[:hn].reshape(n_hidden, n_features)
    W2 = theta[hn : 2 * hn].reshape(n_features, n_hidden)
    b1 = theta[2 * hn : 2 * hn + n_hidden]
    b2 = theta[2 * hn + n_hidden :]
    return Params(W1, b1, W2, b2)


def initialize(
    n_features: int, n_hidden: int, rng: np.random.Generator, method: str = "ufldl"
) -> Params:
    """Random weights, zero biases.

    ``ufldl``: uniform on [-r, r] with ``r = sqrt(6 / (n_hidden + n_features + 1))`` (the tutorial);
    ``glorot_uniform``: uniform with ``r = sqrt(6 / (fan_in + fan_out))``;
    ``glorot_normal``: normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``.
    Both layers have ``fan_in + fan_out = n_features + n_hidden``.
    """
    fan = n_features + n_hidden
    if method == "ufldl":
        r = np.sqrt(6.0 / (fan + 1))
        W1 = rng.uniform(-r, r, size=(n_hidden, n_features))
        W2 = rng.uniform(-r, r, size=(n_features, n_hidden))
    elif method == "glorot_uniform":
        r = np.sqrt(6.0 / fan)
        W1 = rng.uniform(-r, r, size=(n_hidden, n_features))
        W2 = rng.uniform(-r, r, size=(n_features, n_hidden))
    elif method == "glorot_normal":
        std = np.sqrt(2.0 / fan)
        W1 = rng.normal(0.0, std, size=(n_hidden, n_features))
        W2 = rng.normal(0.0, std, size=(n_features, n_hidden))
    else:
        raise ValueError(f"unknown init {method!r}; choose one of {list(INITS)}")
    return Params(W1, np.zeros(n_hidden), W2, np.zeros(n_features))


def flat(
    evaluate: Callable[[Params], tuple[float, Params]], n_features: int, n_hidden: int,
    backend: Backend,
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (cost, grad)`` around ``evaluate(params) -> (cost, grads)``: ``theta`` and the
    gradient are float64 NumPy vectors (what the optimizers use); the parameters go to
    ``backend``'s device and dtype, where the arithmetic runs."""

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        cost, grad = evaluate(unpack(backend.to_device(theta), n_features, n_hidden))
        return cost, backend.to_host(pack(grad))

    return fun
