r"""The sparse autoencoder's cost and its gradient, by hand.

Rows are samples: ``X`` is ``(m, n)``, ``W1`` is ``(h, n)``, ``W2`` is ``(n, h)``.

Forward pass::

    z2 = X W1^T + b1          a2 = f(z2)                      (m, h)
    z3 = a2 W2^T + b2         a3 = g(z3)                      (m, n)
    u  = (a2 - low) / (high - low)    activity in [0, 1]: u = a2 for sigmoid, (a2 + 1)/2 for tanh
    rho_hat = 1/m sum_i u_i           mean activity of each hidden unit over *all* m samples

Cost::

    J = 1/m sum_i 1/2 ||a3_i - x_i||^2                      reconstruction
      + lambda/2 (||W1||^2 + ||W2||^2)                       weight decay (biases are not decayed)
      + beta sum_j P(rho_hat_j)                              sparsity

    P = KL(rho || rho_hat) = rho log(rho/rho_hat) + (1-rho) log((1-rho)/(1-rho_hat))     ("kl")
    P = rho_hat, so beta sum_j rho_hat_j = beta/m sum_i ||u_i||_1                         ("l1")

Backward pass::

    delta3 = (a3 - x) * g'(z3)                                                          (m, n)
    delta2 = (delta3 W2 + beta P'(rho_hat) du/da2) * f'(z2)                              (m, h)
             with P'(rho_hat) = -rho/rho_hat + (1-rho)/(1-rho_hat) for "kl", 1 for "l1"
    dJ/dW2 = 1/m delta3^T a2 + lambda W2        dJ/db2 = 1/m sum_i delta3_i
    dJ/dW1 = 1/m delta2^T X  + lambda W1        dJ/db1 = 1/m sum_i delta2_i

``rho_hat`` couples all samples, so the objective is two reductions over the data:

    pass one   ``activity_sum``        S = sum_i u_i                     -> rho_hat = S / m
    pass two   ``reconstruction_sums`` sum_i 1/2 ||a3_i - x_i||^2 and the gradient sums above,
                                       given beta P'(rho_hat) du/da2 from pass one

Each is a plain sum over samples, so it can run chunk by chunk (data larger than memory) or shard by
shard (many processes), and ``finish`` turns the totals into ``J`` and its gradient.
``cost_and_grad`` does both passes on an in-memory ``X`` with one forward pass;
``chunked_cost_and_grad`` streams the chunks twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import activations
from .params import Params, flat


@dataclass(frozen=True)
class Spec:
    """The settings of the objective: everything but the parameters and the data."""

    sparsity_target: float = 0.01  # rho
    sparsity_weight: float = 3.0  # beta
    weight_decay: float = 1e-4  # lambda
    activation: str = "sigmoid"  # f
    sparsity: str = "kl"  # P
    decoder: str = "sigmoid"  # g


# --- the sparsity penalties: beta sum_j P(rho_hat_j) and its derivative beta P'(rho_hat) ---


def kl_penalty(rho_hat: np.ndarray, rho: float, beta: float) -> tuple[float, np.ndarray]:
    """``beta sum_j KL(rho || rho_hat_j)`` and ``beta (-rho/rho_hat + (1-rho)/(1-rho_hat))``.

    ``rho_hat`` is kept inside [eps, 1 - eps] so that a saturated unit gives a large, finite cost
    rather than inf or NaN.
    """
    eps = np.finfo(rho_hat.dtype).eps
    r = np.clip(rho_hat, eps, 1.0 - eps)
    value = beta * np.sum(rho * np.log(rho / r) + (1.0 - rho) * np.log((1.0 - rho) / (1.0 - r)))
    return float(value), beta * (-rho / r + (1.0 - rho) / (1.0 - r))


def l1_penalty(rho_hat: np.ndarray, rho: float, beta: float) -> tuple[float, np.ndarray]:
    """``beta/m sum_i ||u_i||_1 = beta sum_j rho_hat_j`` (activities are >= 0) and ``beta``."""
    return float(beta * np.sum(rho_hat)), np.full_like(rho_hat, beta)


PENALTIES: dict[str, Callable[[np.ndarray, float, float], tuple[float, np.ndarray]]] = {
    "kl": kl_penalty,
    "l1": l1_penalty,
}


# --- working memory ---


class Workspace:
    """Buffers that evaluations reuse instead of allocating: ``a2`` for up to ``rows`` rows, and
    ``a3``/``delta3`` and ``delta2`` for one block of pass two.

    Pass two runs over blocks of ``block`` rows (about 256 KiB of inputs, at least 512 rows so
    that the matrix products stay efficient), so that its element-wise steps work on data that
    stays in the CPU's cache; on these thin shapes those steps cost more than the products.
    """

    def __init__(self, rows: int, n_features: int, n_hidden: int, dtype, block: int | None = None):
        dtype = np.dtype(dtype)
        self.block = block or min(rows, max(512, 2**18 // (n_features * dtype.itemsize)))
        self.rows = rows
        self.a2 = np.empty((rows, n_hidden), dtype)
        self.a3 = np.empty((self.block, n_features), dtype)
        self.delta3 = np.empty((self.block, n_features), dtype)
        self.delta2 = np.empty((self.block, n_hidden), dtype)
        self.ones = np.ones(max(rows, self.block), dtype)

    def fits(self, rows: int, n_features: int, n_hidden: int, dtype) -> bool:
        return (rows <= self.rows and self.a3.shape[1] == n_features
                and self.a2.shape[1] == n_hidden and self.a2.dtype == dtype)


def _workspace(work, X, n_hidden) -> Workspace:
    if work is not None and work.fits(X.shape[0], X.shape[1], n_hidden, X.dtype):
        return work
    return Workspace(X.shape[0], X.shape[1], n_hidden, X.dtype)


# --- forward pass ---


def encode(params: Params, X: np.ndarray, activation: str, out=None) -> np.ndarray:
    """``a2 = f(X W1^T + b1)`` (into ``out`` when given)."""
    z2 = np.matmul(X, params.W1.T, out=out)
    z2 += params.b1
    return activations.get(activation).forward(z2)


def decode(params: Params, a2: np.ndarray, decoder: str, out=None) -> np.ndarray:
    """``a3 = g(a2 W2^T + b2)`` (into ``out`` when given)."""
    z3 = np.matmul(a2, params.W2.T, out=out)
    z3 += params.b2
    return activations.get(decoder).forward(z3)


# --- the two reductions ---


def activity_sum(a2: np.ndarray, activation: str, ones=None) -> np.ndarray:
    """Pass one: ``S = sum_i u_i``, shape ``(h,)``; ``rho_hat = S_total / m``."""
    f = activations.get(activation)
    column_sums = a2.sum(axis=0) if ones is None else ones[: a2.shape[0]] @ a2
    return (column_sums - a2.shape[0] * f.low) / (f.high - f.low)


def sparsity_terms(rho_hat: np.ndarray, spec: Spec) -> tuple[float, np.ndarray]:
    """Between the passes: ``beta sum_j P(rho_hat_j)`` and its term in delta2,
    ``beta P'(rho_hat) du/da2``."""
    value, dP = PENALTIES[spec.sparsity](rho_hat, spec.sparsity_target, spec.sparsity_weight)
    f = activations.get(spec.activation)
    return value, (dP / (f.high - f.low)).astype(rho_hat.dtype, copy=False)


def reconstruction_sums(
    params: Params, X: np.ndarray, a2: np.ndarray, sparsity_delta: np.ndarray, spec: Spec,
    work: Workspace | None = None,
) -> tuple[float, Params]:
    """Pass two: ``sum_i 1/2 ||a3_i - x_i||^2`` and the unscaled gradient sums
    ``(delta2^T X, sum delta2, delta3^T a2, sum delta3)`` for the rows of ``X``.

    ``a2`` is ``encode(params, X)`` and is overwritten; ``sparsity_delta`` is
    ``beta P'(rho_hat) du/da2`` from the whole data set. The rows go in blocks through ``work``'s
    buffers; the sums do not depend on the blocking beyond rounding.
    """
    work = _workspace(work, X, params.n_hidden)
    g, f = activations.get(spec.decoder), activations.get(spec.activation)
    gW1, gb1 = np.zeros_like(params.W1), np.zeros_like(params.b1)
    gW2, gb2 = np.zeros_like(params.W2), np.zeros_like(params.b2)
    half_sse = 0.0
    for start in range(0, X.shape[0], work.block):
        stop = min(start + work.block, X.shape[0])
        x, a2_block, ones = X[start:stop], a2[start:stop], work.ones[: stop - start]
        a3 = decode(params, a2_block, spec.decoder, out=work.a3[: stop - start])
        delta3 = np.subtract(a3, x, out=work.delta3[: stop - start])       # a3 - x
        half_sse += 0.5 * float(np.vdot(delta3, delta3))
        g.mul_derivative(delta3, a3)                                        # * g'(z3)
        gW2 += delta3.T @ a2_block
        gb2 += ones @ delta3
        delta2 = np.matmul(delta3, params.W2, out=work.delta2[: stop - start])
        delta2 += sparsity_delta                                            # + beta P' du/da2
        f.mul_derivative(delta2, a2_block)                                  # * f'(z2)
        gW1 += delta2.T @ x
        gb1 += ones @ delta2
    return half_sse, Params(gW1, gb1, gW2, gb2)


def finish(
    params: Params, m: int, half_sse: float, grad_sums: Params, penalty: float, spec: Spec
) -> tuple[float, Params]:
    """Totals to ``J`` and ``dJ/d(W1, b1, W2, b2)``: divide by m, add weight decay and sparsity."""
    lam = spec.weight_decay
    W1, _, W2, _ = params
    decay = 0.5 * lam * (float(np.vdot(W1, W1)) + float(np.vdot(W2, W2)))
    cost = half_sse / m + decay + penalty
    gW1, gb1, gW2, gb2 = (g / m for g in grad_sums)
    gW1 += lam * W1
    gW2 += lam * W2
    return cost, Params(gW1, gb1, gW2, gb2)


# --- whole evaluations ---


def cost_and_grad(
    params: Params,
    X: np.ndarray,
    spec: Spec,
    rho_estimate: Callable[[np.ndarray], np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[float, Params]:
    """``J`` and its gradient on an in-memory ``X``, with a single forward pass.

    ``rho_estimate`` maps the mean activity of these rows to the ``rho_hat`` that is penalised;
    by default it is that mean itself (exact when ``X`` is the whole data set). Minibatch solvers
    pass a running average here. ``work`` holds reusable buffers (see ``Workspace``).
    """
    m = X.shape[0]
    work = _workspace(work, X, params.n_hidden)
    a2 = encode(params, X, spec.activation, out=work.a2[:m])
    rho_hat = activity_sum(a2, spec.activation, work.ones) / m
    if rho_estimate is not None:
        rho_hat = rho_estimate(rho_hat)
    penalty, sparsity_delta = sparsity_terms(rho_hat, spec)
    half_sse, grad_sums = reconstruction_sums(params, X, a2, sparsity_delta, spec, work)
    return finish(params, m, half_sse, grad_sums, penalty, spec)


def chunked_cost_and_grad(
    params: Params, chunks: Callable[[], Iterable[np.ndarray]], spec: Spec,
    work: Workspace | None = None,
) -> tuple[float, Params]:
    """``J`` and its gradient over data given as chunks of rows, in two streamed passes.

    ``chunks()`` must yield the same row blocks each time it is called. Pass one accumulates
    ``sum_i u_i`` and nothing else; pass two recomputes each chunk's forward pass and accumulates
    the reconstruction error and the gradient sums. The result equals ``cost_and_grad`` on the
    stacked rows up to rounding.
    """
    m = 0
    S = np.zeros(params.n_hidden, dtype=params.W1.dtype)
    for X in chunks():
        m += X.shape[0]
        work = _workspace(work, X, params.n_hidden)
        a2 = encode(params, X, spec.activation, out=work.a2[: X.shape[0]])
        S += activity_sum(a2, spec.activation, work.ones)
    if m == 0:
        raise ValueError("the data has no rows")
    penalty, sparsity_delta = sparsity_terms(S / m, spec)

    half_sse = 0.0
    total = Params(*(np.zeros_like(p) for p in params))
    for X in chunks():
        work = _workspace(work, X, params.n_hidden)
        a2 = encode(params, X, spec.activation, out=work.a2[: X.shape[0]])
        part, grads = reconstruction_sums(params, X, a2, sparsity_delta, spec, work)
        half_sse += part
        for acc, g in zip(total, grads):
            acc += g
    return finish(params, m, half_sse, total, penalty, spec)


# --- the flat view the optimizers see ---


def flat_cost_and_grad(
    X: np.ndarray, spec: Spec, n_hidden: int
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (J, dJ/dtheta)`` on an in-memory ``X``, the arithmetic in ``X.dtype``."""
    return flat(lambda p: cost_and_grad(p, X, spec), X.shape[1], n_hidden, X.dtype)
