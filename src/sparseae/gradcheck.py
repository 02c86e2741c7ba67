"""Numerical gradient checking: central differences and the relative difference.

    num_k = (J(theta + eps e_k) - J(theta - eps e_k)) / (2 eps)                  order 2
    num_k = (8 (J(+eps) - J(-eps)) - (J(+2 eps) - J(-2 eps))) / (12 eps)         order 4
    rel   = ||num - ana|| / ||num + ana||

With eps = 1e-4 the order-2 difference is off by its truncation error, eps^2/6 times the third
derivative: a correct float64 gradient gives ``rel`` from 1e-11 to about 1e-9, the upper end for
tanh units (whose third derivative at 0 is 16 times the sigmoid's). The order-4 stencil with the
same eps leaves only rounding, about 1e-11. A wrong gradient is off by far more with either.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _cost(value) -> float:
    return float(value[0] if isinstance(value, tuple) else value)


def numerical_gradient(
    fun: Callable[[np.ndarray], object], theta: np.ndarray, eps: float = 1e-4, order: int = 2,
    which: np.ndarray | None = None, progress: Callable[[], None] | None = None,
) -> np.ndarray:
    """Central-difference gradient of ``fun`` at ``theta`` (``order`` 2 or 4): every entry, or
    the entries at the indices ``which`` only (in that order), calling ``progress()`` after each.

    ``fun`` returns the cost, or ``(cost, grad)`` as the objectives here do.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    theta = np.array(theta, dtype=np.float64)
    which = np.arange(theta.size) if which is None else np.asarray(which, dtype=np.intp)
    grad = np.empty(which.size)

    def at(k, step):
        old = theta[k]
        theta[k] = old + step
        value = _cost(fun(theta))
        theta[k] = old
        return value

    for i, k in enumerate(which):
        near = at(k, eps) - at(k, -eps)
        if order == 2:
            grad[i] = near / (2.0 * eps)
        else:
            grad[i] = (8.0 * near - (at(k, 2 * eps) - at(k, -2 * eps))) / (12.0 * eps)
        if progress is not None:
            progress()
    return grad


def relative_difference(numerical: np.ndarray, analytical: np.ndarray) -> float:
    """``||num - ana|| / ||num + ana||``: 0 when both are zero, inf when they cancel."""
    numerator = np.linalg.norm(numerical - analytical)
    denominator = np.linalg.norm(numerical + analytical)
    if denominator == 0.0:
        return 0.0 if numerator == 0.0 else float("inf")
    return float(numerator / denominator)


def check_gradient(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, eps: float = 1e-4,
    order: int = 2, which: np.ndarray | None = None, progress: Callable[[], None] | None = None,
) -> float:
    """Relative difference between ``fun``'s gradient and central differences at ``theta``, over
    every entry or over the entries ``which``."""
    _, analytical = fun(np.array(theta, dtype=np.float64))
    analytical = np.asarray(analytical)
    if which is not None:
        analytical = analytical[which]
    return relative_difference(numerical_gradient(fun, theta, eps, order, which, progress),
                               analytical)


def variants() -> list[tuple[str, str, str]]:
    """Every ``(activation, sparsity, decoder)`` of the autoencoder."""
    import itertools

    from .activations import DECODERS, HIDDEN_ACTIVATIONS
    from .objective import PENALTIES

    return list(itertools.product(HIDDEN_ACTIVATIONS, PENALTIES, DECODERS))


def check_variants(
    n_features: int = 16,
    n_hidden: int = 6,
    n_samples: int = 10,
    seed: int = 0,
    eps: float = 1e-4,
    coordinates: int | None = None,
    progress: Callable[[], None] | None = None,
    *,
    order: int = 4,
) -> list[dict]:
    """Check the autoencoder's gradient for every activation x penalty x decoder on a small random
    problem (data in [0.1, 0.9], the tutorial's initialisation, random biases), in float64, with
    the central difference of ``order`` (4 by default: order 2's truncation error reaches 1e-9
    for tanh units on small problems, a correct gradient's relative difference): over every
    parameter, or over ``coordinates`` of them drawn at random (without replacement) for each
    variant, for sizes whose every parameter would take too long. ``progress()`` is called
    after each parameter checked. Evaluations below 1e9 FLOPs (about 10 m n h) run on one BLAS
    thread, as a fit's do: more only fight over the cores.

    Returns one row per variant: ``activation, sparsity, decoder, relative_difference``.
    """
    from . import objective, params
    from .fitting import blas_threads, blas_threads_for

    rows = []
    with blas_threads(blas_threads_for(10.0 * n_samples * n_features * n_hidden)):
        for activation, sparsity, decoder in variants():
            rng = np.random.default_rng(seed)
            X = rng.uniform(0.1, 0.9, size=(n_samples, n_features))
            W1, _, W2, _ = params.initialize(n_features, n_hidden, rng)
            start = params.Params(
                W1, rng.normal(0, 0.1, n_hidden), W2, rng.normal(0, 0.1, n_features)
            )
            spec = objective.Spec(
                sparsity_target=0.1, sparsity_weight=3.0, weight_decay=1e-4,
                activation=activation, sparsity=sparsity, decoder=decoder,
            )
            fun = objective.flat_cost_and_grad(X, spec, n_hidden)
            theta = params.pack(start)
            which = (None if coordinates is None or coordinates >= theta.size else
                     np.sort(rng.choice(theta.size, coordinates, replace=False)))
            rows.append({
                "activation": activation, "sparsity": sparsity, "decoder": decoder,
                "relative_difference": check_gradient(fun, theta, eps, order, which=which,
                                                      progress=progress),
            })
    return rows
