"""The benchmark's competitors compute sparseae's objective: a speed ratio means something only
if both sides minimise the same cost."""

import sys
from pathlib import Path

import numpy as np
import pytest

from sparseae import objective, params

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import speed  # noqa: E402

N_FEATURES, N_HIDDEN = 16, 5


@pytest.fixture
def problem(rng):
    X = rng.uniform(0.1, 0.9, size=(40, N_FEATURES))
    theta = params.pack(params.initialize(N_FEATURES, N_HIDDEN, rng))
    theta += rng.normal(0.0, 0.1, theta.shape)  # off the starting point's symmetries
    return X, theta


def test_plain_implementation_is_sparseaes_objective(problem):
    X, theta = problem
    spec = objective.Spec(speed.RHO, speed.BETA, speed.LAMBDA)
    ours = objective.flat_cost_and_grad(X, spec, N_HIDDEN)(theta)
    plain = speed.plain_cost_and_grad(theta, X, N_HIDDEN)
    assert plain[0] == pytest.approx(ours[0], rel=1e-12)
    np.testing.assert_allclose(plain[1], ours[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_autograd_competitor_is_the_plain_objective(problem, dtype):
    pytest.importorskip("torch")
    X, theta = problem
    weights, closure = speed.torch_closure(X, theta, N_HIDDEN, dtype)
    cost = closure()
    # the sparsity penalty in float64 in both dtypes: in float32 its rounding stopped
    # torch.optim.LBFGS on the exercise's plateau after 22 iterations
    assert str(cost.dtype) == "torch.float64"
    assert all(str(w.grad.dtype) == f"torch.{dtype}" for w in weights)
    grad = np.concatenate([w.grad.double().numpy().ravel() for w in weights])
    plain = speed.plain_cost_and_grad(theta, X, N_HIDDEN)
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert float(cost.detach()) == pytest.approx(plain[0], rel=tol)
    np.testing.assert_allclose(grad, plain[1], rtol=tol * 100, atol=tol * 1e-2)
