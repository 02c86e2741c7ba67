r"""A feedforward network's cost and gradient, by hand: the supervised half of the tutorial.

Layers ``l = 1..L``, rows are samples, ``W_l`` is ``(n_l, n_{l-1})``::

    a_0 = X
    z_l = a_{l-1} W_l^T + b_l        a_l = f(z_l)   hidden layers: sigmoid, tanh or relu
                                     a_L = g(z_L)   output: softmax, sigmoid or linear

Cost, with weight decay on the weights and never on the biases::

    softmax:          J = -1/m sum_i log a_L[i, y_i]           + lambda/2 sum_l ||W_l||^2
                      (log a_L from the log-softmax: exact where a_L underflows to 0)
    sigmoid, linear:  J = 1/m sum_i 1/2 ||a_L[i] - y_i||^2     + lambda/2 sum_l ||W_l||^2

Backward pass::

    delta_L = a_L - Y                  (softmax with cross-entropy; Y one-hot)
    delta_L = (a_L - Y) * g'(z_L)      (squared error)
    delta_l = (delta_{l+1} W_{l+1}) * f'(z_l)
    dJ/dW_l = 1/m delta_l^T a_{l-1} + lambda W_l        dJ/db_l = 1/m sum_i delta_l[i]

The activations are those of the autoencoder (``sparseae.activations``); softmax regression is the
network without hidden layers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import activations

OUTPUTS = ("softmax", "sigmoid", "linear")
HIDDEN = ("sigmoid", "tanh", "relu")


class Layer(NamedTuple):
    W: np.ndarray  # (n_out, n_in)
    b: np.ndarray  # (n_out,)


def n_params(sizes) -> int:
    return sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


def unpack(theta: np.ndarray, sizes) -> list[Layer]:
    """Views of ``theta`` as layers ``W_1, b_1, W_2, b_2, ...``."""
    if theta.shape != (n_params(sizes),):
        raise ValueError(f"theta has shape {theta.shape}, expected ({n_params(sizes)},) "
                         f"for layer sizes {list(sizes)}")
    layers, at = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = theta[at : at + n_out * n_in].reshape(n_out, n_in)
        at += n_out * n_in
        layers.append(Layer(W, theta[at : at + n_out]))
        at += n_out
    return layers


def pack(layers, out: np.ndarray | None = None) -> np.ndarray:
    sizes = [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers]
    if out is None:
        out = np.empty(n_params(sizes), dtype=np.float64)
    for dst, src in zip(unpack(out, sizes), layers):
        dst.W[...] = src.W
        dst.b[...] = src.b
    return out


def initialize(sizes, rng: np.random.Generator) -> list[Layer]:
    """Uniform on [-r, r], ``r = sqrt(6 / (n_in + n_out + 1))`` per layer (as the tutorial's
    autoencoders), biases zero."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        r = np.sqrt(6.0 / (n_in + n_out + 1))
        layers.append(Layer(rng.uniform(-r, r, size=(n_out, n_in)), np.zeros(n_out)))
    return layers


def forward(layers, X: np.ndarray, hidden: str, output: str,
            log_proba: bool = False) -> list[np.ndarray]:
    """``[a_0 = X, a_1, ..., a_L]`` (with ``log_proba``, a softmax output's ``log a_L``)."""
    f = activations.get(hidden)
    outs = [X]
    for k, (W, b) in enumerate(layers):
        z = outs[-1] @ W.T
        z += b
        if k < len(layers) - 1:
            outs.append(f.forward(z))
        elif output == "softmax":
            outs.append(activations.log_softmax(z) if log_proba else activations.softmax(z))
        else:
            outs.append(activations.get(output).forward(z))
    return outs


def _check_targets(Y: np.ndarray, m: int, n_out: int, output: str):
    """A clear error for targets that would broadcast or index silently into a wrong cost: a
    1-D ``Y`` of squared error against ``(m, 1)`` outputs, a label outside the classes."""
    if output == "softmax":
        if Y.shape != (m,) or Y.dtype.kind not in "iu":
            raise ValueError(f"softmax targets are {m} integer labels, got an array of shape "
                             f"{Y.shape} and dtype {Y.dtype}")
        if m and (Y.min() < 0 or Y.max() >= n_out):
            raise ValueError(f"softmax labels must be in [0, {n_out}), got {Y.min()} to "
                             f"{Y.max()}")
    elif Y.shape != (m, n_out):
        raise ValueError(f"{output} targets must have shape ({m}, {n_out}), got {Y.shape}")


def cost_and_grad(layers, X: np.ndarray, Y: np.ndarray, hidden: str, output: str,
                  weight_decay: float) -> tuple[float, list[Layer]]:
    """``J`` and its gradient. ``Y`` is an integer label per row for ``softmax`` and an
    ``(m, n_out)`` target array otherwise."""
    m = X.shape[0]
    if m == 0:
        raise ValueError("the data has no rows")
    _check_targets(Y, m, layers[-1].W.shape[0], output)
    a = forward(layers, X, hidden, output, log_proba=output == "softmax")
    out = a[-1]
    if output == "softmax":  # out is log a_L: the cost stays exact where a_L underflows
        rows = np.arange(m)
        data_cost = -float(np.sum(out[rows, Y])) / m
        delta = np.exp(out)
        delta[rows, Y] -= 1.0
    else:
        delta = out - Y
        data_cost = 0.5 * float(np.vdot(delta, delta)) / m
        activations.get(output).mul_derivative(delta, out)
    delta /= m

    f = activations.get(hidden)
    grads: list[Layer] = [None] * len(layers)  # type: ignore[list-item]
    for k in range(len(layers) - 1, -1, -1):
        W = layers[k].W
        grads[k] = Layer(delta.T @ a[k] + weight_decay * W, delta.sum(axis=0))
        if k > 0:
            delta = delta @ W
            f.mul_derivative(delta, a[k])
    decay = 0.5 * weight_decay * sum(float(np.vdot(L.W, L.W)) for L in layers)
    return data_cost + decay, grads
