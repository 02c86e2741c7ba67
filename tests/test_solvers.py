"""The solvers' mechanics on problems small enough to follow by hand: each update rule, each
stopping test, the L-BFGS memory and fallback, the minibatch loop's weighting and schedule."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from sparseae import solvers
from sparseae.solvers import Adam, RhoEstimate, Settings
from sparseae.training import EarlyStopping


def quadratic(center, offset=0.0, scales=None):
    """``full`` of ``offset + 1/2 sum scales (x - center)^2``."""
    center = np.asarray(center, dtype=np.float64)
    scales = np.ones_like(center) if scales is None else np.asarray(scales, dtype=np.float64)

    def full(x):
        d = x - center
        return offset + 0.5 * float(np.sum(scales * d * d)), scales * d

    return SimpleNamespace(full=full, n_samples=1)


def test_one_adam_step_has_both_bias_corrections():
    """After one step m_hat = g and v_hat = g^2, so each entry moves by lr in -sign(g)."""
    theta, grad = np.zeros(3), np.array([1.0, -2.0, 0.5])
    adam = Adam(Settings())
    adam.step(theta, grad, 0.01, adam.init(theta))
    np.testing.assert_allclose(theta, -0.01 * np.sign(grad), rtol=1e-6)


def test_two_adam_steps_decay_each_moment_by_its_own_beta_and_correct_by_step_count():
    """The second step, by the equations: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, each
    divided by 1 - beta^t with t = 2 (one step alone cannot tell b1 from b2 or t = 1 from 2)."""
    g1, g2 = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    b1, b2, eps, lr = 0.8, 0.99, 1e-8, 0.01
    theta = np.zeros(2)
    adam = Adam(Settings(beta_1=b1, beta_2=b2, epsilon=eps))
    state = adam.init(theta)
    adam.step(theta, g1, lr, state)
    adam.step(theta, g2, lr, state)
    m = (b1 * (1 - b1) * g1 + (1 - b1) * g2) / (1 - b1**2)
    v = (b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2) / (1 - b2**2)
    first = -lr * g1 / (np.abs(g1) + eps)
    np.testing.assert_allclose(theta, first - lr * m / (np.sqrt(v) + eps), rtol=1e-12)
    assert state["t"] == 2


def test_heavy_ball_momentum_carries_the_last_step():
    """v = mu v - lr g; theta += v: the second step is mu times the first plus its own."""
    theta = np.zeros(2)
    rule = solvers.Momentum(Settings(momentum=0.5))
    state = rule.init(theta)
    rule.step(theta, np.array([1.0, -2.0]), 0.1, state)
    np.testing.assert_allclose(theta, [-0.1, 0.2], rtol=1e-15)
    rule.step(theta, np.array([3.0, 1.0]), 0.1, state)
    np.testing.assert_allclose(state["velocity"], [-0.35, 0.0], atol=1e-15)
    np.testing.assert_allclose(theta, [-0.45, 0.2], rtol=1e-15)


def test_gd_steps_with_its_own_default_learning_rate_and_records_the_cost_before_each():
    """Without a learning rate, gd takes 0.1 (not sgd's 0.03); loss_curve[k] is the cost at the
    start of step k + 1."""
    problem = quadratic([1.0, 2.0])
    result = solvers.gd(problem, np.zeros(2), Settings(max_iter=1, momentum=0.0))
    np.testing.assert_allclose(result.theta, [0.1, 0.2], rtol=1e-15)
    assert result.loss_curve == [2.5]


def test_adam_adds_epsilon_outside_the_square_root():
    theta, grad = np.zeros(1), np.array([1e-8])
    adam = Adam(Settings(epsilon=1e-8))
    adam.step(theta, grad, 0.01, adam.init(theta))
    np.testing.assert_allclose(theta, [-0.005], rtol=1e-6)  # lr g / (|g| + eps)


def test_the_running_rho_estimate_weighs_the_past_by_its_momentum():
    running = RhoEstimate("running", 0.9)
    running(np.array([1.0]))
    np.testing.assert_allclose(running(np.array([0.0])), [0.9], rtol=1e-15)
    batch = np.array([0.3])
    assert RhoEstimate("batch", 0.9)(batch) is batch


def test_lbfgs_is_not_stopped_by_a_large_negative_gradient():
    result = solvers.lbfgs(quadratic([3.0, 3.0]), np.zeros(2), Settings(max_iter=50))
    assert result.n_iter > 0 and result.converged
    np.testing.assert_allclose(result.theta, 3.0, atol=1e-5)


def test_lbfgs_records_the_cost_of_each_new_iterate():
    """loss_curve[k] is the cost at the parameters after iteration k + 1, those the report
    saw; the last is the cost at the result's parameters."""
    problem, seen = quadratic(np.ones(4), scales=[1.0, 2.0, 5.0, 9.0]), []
    hooks = solvers.Hooks(report=lambda k, cost, theta, snapshot: seen.append(
        problem.full(theta)[0]))
    result = solvers.lbfgs(problem, np.zeros(4), Settings(max_iter=3, gtol=0.0, ftol=0.0),
                           hooks=hooks)
    assert result.n_iter == 3 and result.loss_curve == seen
    assert result.loss_curve[-1] == problem.full(result.theta)[0]


def test_lbfgs_steps_only_where_the_cost_falls_enough():
    """f(x) = -x (1 - x)^2 from 0: step 1 (to x = 1) meets the curvature condition but leaves
    the cost where it was (0), not below it by c1 = 1e-4 times the slope; a shorter step, one
    that meets the sufficient-decrease condition, is taken instead."""
    def full(x):
        return float(-x[0] * (1 - x[0]) ** 2), -(1 - x) * (1 - 3 * x)

    problem = SimpleNamespace(full=full, n_samples=1)
    result = solvers.lbfgs(problem, np.zeros(1), Settings(max_iter=1, gtol=0.0, ftol=0.0))
    step = result.theta[0]
    assert 0 < step < 1 and result.loss_curve == [full(result.theta)[0]]
    assert result.loss_curve[0] <= 1e-4 * -1.0 * step


def test_lbfgs_keeps_lbfgs_memory_pairs():
    scales = np.linspace(1.0, 100.0, 50)
    settings = Settings(max_iter=8, lbfgs_memory=3, gtol=0.0, ftol=0.0)
    result = solvers.lbfgs(quadratic(np.ones(50), scales=scales), np.zeros(50), settings)
    assert result.n_iter == 8
    assert len(result.state["s"]) == len(result.state["y"]) == 3


def test_lbfgs_stops_when_the_relative_decrease_is_below_ftol():
    """A cost of 1e9 + 1/2 ||x - 1||^2 from 0 falls by 1 in its first step: 1e-9 relative, less
    than ftol (2.2e-9)."""
    result = solvers.lbfgs(quadratic(np.ones(2), offset=1e9), np.zeros(2),
                           Settings(max_iter=50, gtol=0.0))
    assert result.converged and "ftol" in result.message and result.n_iter == 1


def test_lbfgs_measures_the_decrease_of_a_cost_below_one_against_one():
    """As SciPy's L-BFGS-B, (f - f_new) / max(|f|, |f_new|, 1): a cost of 1e-3 + 1e-9 that
    falls by 1e-9 in its first (exact) step has met ftol, though it fell by 1e-6 of itself."""
    d = np.sqrt(1e-9)  # 1/2 ||0 - (d, d)||^2 = 1e-9
    result = solvers.lbfgs(quadratic([d, d], offset=1e-3), np.zeros(2),
                           Settings(max_iter=50, gtol=0.0))
    assert result.converged and "ftol" in result.message and result.n_iter == 1


def test_lbfgs_that_converges_as_it_is_interrupted_has_converged_and_resumes_as_converged():
    """The first step meets ftol (as above) while Ctrl-C is pending: the run has ended, and its
    last state, resumed, ends at once with the same result."""
    problem, settings = quadratic(np.ones(2), offset=1e9), Settings(max_iter=50, gtol=0.0)
    result = solvers.lbfgs(problem, np.zeros(2), settings, hooks=solvers.Hooks(
        interrupted=lambda: True))
    assert (result.converged, result.interrupted, result.n_iter) == (True, False, 1)
    assert "ftol" in result.message
    again = solvers.lbfgs(problem, None, settings, state=result.state)
    assert (again.converged, again.message, again.n_iter) == (True, result.message, 1)
    assert again.theta.tobytes() == result.theta.tobytes()


def fail_the_second_line_search(monkeypatch) -> list:
    """Makes the second call of ``_wolfe`` find no step; returns the list of the directions and
    gradients of its calls."""
    real, calls = solvers._wolfe, []

    def failing_once(fun, theta, direction, grad, cost):
        calls.append((direction.copy(), grad.copy()))
        return None if len(calls) == 2 else real(fun, theta, direction, grad, cost)

    monkeypatch.setattr(solvers, "_wolfe", failing_once)
    return calls


def test_lbfgs_forgets_its_curvature_when_the_line_search_fails(monkeypatch):
    """The second iteration's line search fails on the L-BFGS direction: the fallback step
    starts the memory again, so one pair, the fallback's own, is left."""
    calls = fail_the_second_line_search(monkeypatch)
    scales = np.linspace(1.0, 10.0, 5)
    result = solvers.lbfgs(quadratic(np.ones(5), scales=scales), np.zeros(5),
                           Settings(max_iter=2, gtol=0.0, ftol=0.0))
    assert len(calls) == 3 and result.n_iter == 2
    assert len(result.state["s"]) == 1


@pytest.mark.parametrize("center", [100.0, 0.1])
def test_the_fallback_step_is_at_most_unit_length(monkeypatch, center):
    """Like the first step, the fallback after a failed line search goes along -grad scaled to
    length 1 where the gradient is longer (about 400 from 100), and is -grad itself where it is
    shorter (about 0.09 from 0.1)."""
    calls = fail_the_second_line_search(monkeypatch)
    solvers.lbfgs(quadratic(center * np.ones(5), scales=np.linspace(1.0, 10.0, 5)), np.zeros(5),
                  Settings(max_iter=2, gtol=0.0, ftol=0.0))
    direction, grad = calls[2]  # the fallback's search
    norm = np.linalg.norm(grad)
    assert norm > 1 if center == 100.0 else norm < 1
    np.testing.assert_allclose(direction, -grad / max(norm, 1.0), rtol=1e-15)


def test_lbfgs_takes_scipys_steps_to_the_last_bit(monkeypatch):
    """Step 1 is tested before SciPy's line search is called: the iterates must be those of
    calling SciPy's search in every iteration, and SciPy is called only when step 1 fails."""
    import scipy.optimize

    from sparseae import objective, params
    from sparseae.data import Rows
    from sparseae.training import Problem

    rng = np.random.default_rng(0)
    X = rng.random((300, 16))
    problem = Problem(Rows(X), objective.Spec(), 5, "float64")
    theta0 = params.pack(params.initialize(16, 5, np.random.default_rng(1)))
    settings = Settings(max_iter=60, gtol=0.0, ftol=0.0)

    def scipy_every_time(fun, theta, direction, grad, cost):
        step, _, _, new_cost, _, _ = scipy.optimize.line_search(
            fun.cost, fun.grad, theta, direction, grad, cost, None, c1=1e-4, c2=0.9,
            maxiter=20)
        if step is None:
            return None
        x = theta + step * direction
        return x, new_cost, fun.grad(x)

    real_search, searches = scipy.optimize.line_search, []
    monkeypatch.setattr(scipy.optimize, "line_search",
                        lambda *a, **k: searches.append(1) or real_search(*a, **k))
    ours = solvers.lbfgs(problem, theta0, settings)
    assert 0 < len(searches) < 20  # SciPy searched where step 1 failed, and only there
    monkeypatch.setattr(solvers, "_wolfe", scipy_every_time)
    reference = solvers.lbfgs(problem, theta0, settings)
    assert ours.n_iter == reference.n_iter == 60
    np.testing.assert_array_equal(ours.theta, reference.theta)
    assert ours.loss_curve == reference.loss_curve


class Recorded:
    """A minibatch problem whose batch cost is the mean of ``r`` over the batch and whose
    gradient is all ones; ``batches`` holds the rows of each batch it was given."""

    def __init__(self, r):
        self.r, self.n_samples = np.asarray(r, dtype=np.float64), len(r)
        self.batches = []

    def batch(self, theta, which, rho):
        self.batches.append(np.array(which))
        return float(self.r[which].mean()), np.ones_like(theta)


def test_an_epochs_cost_weighs_a_short_last_batch_by_its_rows():
    r = np.random.default_rng(0).uniform(size=1000)  # batches of 300, 300, 300 and 100
    settings = Settings(max_iter=2, batch_size=300, shuffle=False, learning_rate=0.0,
                        momentum=0.0)
    result = solvers.sgd(Recorded(r), np.zeros(2), settings)
    # (each epoch's own: the second's sum starts again from 0)
    assert result.loss_curve == pytest.approx([r.mean(), r.mean()], rel=1e-12)


def test_each_epoch_shuffles_the_rows_anew():
    """One batch per epoch: each holds every row once, in a new order each epoch."""
    problem = Recorded(np.zeros(50))
    solvers.sgd(problem, np.zeros(1), Settings(max_iter=3, batch_size=50, shuffle=True))
    first, second, third = problem.batches
    assert all(sorted(rows) == list(range(50)) for rows in problem.batches)
    assert not np.array_equal(first, second) and not np.array_equal(second, third)


def test_the_learning_rate_follows_its_schedule_within_an_epoch():
    """One epoch of four batches, lr 1 on a cosine schedule, gradient 1: each step takes the
    rate at its fraction of the epoch."""
    settings = Settings(max_iter=1, batch_size=1, shuffle=False, learning_rate=1.0,
                        momentum=0.0, schedule="cosine")
    result = solvers.sgd(Recorded(np.zeros(4)), np.zeros(1), settings)
    expected = -sum(0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4))
    np.testing.assert_allclose(result.theta, [expected], rtol=1e-12)


def test_early_stopping_counts_improvements_smaller_than_tol_as_none_but_keeps_them():
    costs = iter([1.0, 0.9999, 0.9997, 0.9998])
    stopper = EarlyStopping(SimpleNamespace(cost=lambda theta: next(costs)), patience=3,
                            tol=1e-3)
    stops = [stopper(np.array([float(k)])) for k in range(4)]
    assert stops == [False, False, False, True]
    # as scikit-learn's MLP: tol decides when to stop, the lowest held-out cost what is kept
    assert stopper.best_theta.tolist() == [2.0] and stopper.best_cost == 0.9997


def test_early_stopping_resets_its_patience_on_an_improvement_larger_than_tol():
    costs = iter([1.0, 1.5, 1.2, 0.5, 0.6, 0.7, 0.8])
    stopper = EarlyStopping(SimpleNamespace(cost=lambda theta: next(costs)), patience=3,
                            tol=1e-3)
    stops = [stopper(np.array([float(k)])) for k in range(7)]
    assert stops == [False, False, False, False, False, False, True]
    assert stopper.best_theta.tolist() == [3.0] and stopper.best_cost == 0.5


def test_early_stopping_keeps_the_first_of_equal_held_out_costs():
    """As the fit's reported best iteration (the first lowest cost): a later iterate that only
    equals the best does not replace it."""
    costs = iter([1.0, 0.5, 0.5, 0.5])
    stopper = EarlyStopping(SimpleNamespace(cost=lambda theta: next(costs)), patience=2, tol=0.0)
    assert [stopper(np.array([float(k)])) for k in range(4)] == [False, False, False, True]
    assert stopper.best_theta.tolist() == [1.0] and stopper.best_cost == 0.5


def test_lbfgs_steps_where_the_gradients_norm_overflows_numpys_dot():
    """A gradient of 1e300 entries: NumPy's norm, sqrt(g.g), is infinite, and a first step
    divided by it was 0, which ended the run at its start as converged."""
    x0 = np.ones(4)
    problem = quadratic(np.zeros(4), scales=np.full(4, 1e300))
    with np.errstate(over="ignore"):  # (the curvature pairs' y.y overflows: no pair is kept)
        result = solvers.lbfgs(problem, x0, Settings(max_iter=20))
    assert problem.full(result.theta)[0] < 1e-6 * problem.full(x0)[0]
    assert np.abs(result.theta).max() < 1e-3


def test_lbfgs_does_not_start_from_a_cost_that_is_not_finite():
    """Once NumPy's norm no longer overflowed, an infinite first cost (data of 1e200) ended as
    a line search that found no step, a warning; the fit's error must say why."""
    problem = SimpleNamespace(full=lambda x: (math.inf, np.ones_like(x)), n_samples=1)
    result = solvers.lbfgs(problem, np.zeros(3), Settings(max_iter=5))
    assert (result.message, result.n_iter, result.converged) == (solvers.NOT_FINITE, 0, False)
