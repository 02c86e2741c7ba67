"""Optimizers. Each drives a flat ``fun(theta) -> (cost, grad)`` and knows nothing of the model.

A solver reports progress only through ``callback(iteration, cost)``; it never prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
Callback = Callable[[int, float], None]


@dataclass
class Result:
    theta: np.ndarray
    cost: float
    n_iter: int
    converged: bool
    message: str
    loss_curve: list[float] = field(default_factory=list)


def lbfgs(
    fun: Objective,
    theta0: np.ndarray,
    max_iter: int = 400,
    callback: Callback | None = None,
) -> Result:
    """Limited-memory BFGS (SciPy's L-BFGS-B without bounds), full batch.

    ``loss_curve`` holds the cost after each iteration. ``converged`` is False when the iteration
    or evaluation limit stopped it.
    """
    curve: list[float] = []

    def record(intermediate_result):
        curve.append(float(intermediate_result.fun))
        if callback is not None:
            callback(len(curve), curve[-1])

    result = minimize(
        fun,
        np.asarray(theta0, dtype=np.float64),
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options={"maxiter": max_iter, "maxfun": max(15000, 2 * max_iter)},
    )
    return Result(
        theta=result.x,
        cost=float(result.fun),
        n_iter=int(result.nit),
        converged=bool(result.success),
        message=str(result.message),
        loss_curve=curve,
    )


SOLVERS = {"lbfgs": lbfgs}
